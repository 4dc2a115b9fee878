/*
 * Reads one frame's TCP segment into a ts_extracted: the part both ways of
 * finding the headers share (the TCP header itself, the timestamp), and the
 * choice between them (the "headers" preference).
 *
 * extract_bytes.c finds the IP and TCP headers in the frame's bytes, guided
 * by the protocols Wireshark dissected (pinfo->layers), and asks Wireshark
 * only for tcp.stream, through the TCP conversation: it makes Wireshark build
 * no tree item at all. extract_fields.c asks Wireshark for a few TCP/IP fields
 * (wanted fields: real tree items on every frame, a protocol tree even where
 * none would be built) and handles any encapsulation Wireshark does.
 */
#include "tcpstate_plugin.h"

#include <string.h>

#include <wsutil/pint.h>

gint ts_pref_headers = TS_HEADERS_FROM_BYTES;

/* The options tcpstate reads (RFC 9293 3.1: they end at the data offset or
 * at End of Option List; No-Operation is one byte; every other option has a
 * length byte). Only captured option bytes are read.
 *   Window Scale (kind 3, length 3, RFC 7323 2.2), on a SYN: the shift + 1;
 *   Timestamps (kind 8, length 10, RFC 7323 3.2): TSval and TSecr;
 *   SACK (kind 5, length 2 + 8n, RFC 2018 3): the first block, which is the
 *   D-SACK block when there is one (RFC 2883 4);
 *   SACK-Permitted (kind 4, length 2, RFC 2018 2), on a SYN. */
static void read_options(tvbuff_t *tvb, int offset, int header_len, ts_segment *seg)
{
    int at = offset + 20, end = offset + header_len;
    int captured_end = offset + tvb_captured_length_remaining(tvb, offset);
    if (end > captured_end)
        end = captured_end;
    while (at < end) {
        uint8_t kind = tvb_get_uint8(tvb, at);
        if (kind == 0)
            break;
        if (kind == 1) {
            at++;
            continue;
        }
        if (at + 1 >= end)
            break;
        uint8_t len = tvb_get_uint8(tvb, at + 1);
        if (len < 2 || at + len > end)
            break;
        if (kind == 3 && len == 3 && (seg->flags & TS_TH_SYN)) {
            seg->wscale_opt = (uint8_t)(tvb_get_uint8(tvb, at + 2) + 1u);
        } else if (kind == 8 && len == 10) {
            seg->opts |= TS_OPT_TIMESTAMPS;
            seg->tsval = tvb_get_ntohl(tvb, at + 2);
            seg->tsecr = tvb_get_ntohl(tvb, at + 6);
        } else if (kind == 4 && len == 2 && (seg->flags & TS_TH_SYN)) {
            seg->opts |= TS_OPT_SACK_PERMITTED;
        } else if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
            seg->opts |= TS_OPT_SACK;
            seg->sack_left = tvb_get_ntohl(tvb, at + 2);
            seg->sack_right = tvb_get_ntohl(tvb, at + 6);
        }
        at += len;
    }
}

gboolean ts_extract_tcp_header(tvbuff_t *tvb, int at, packet_info *pinfo, ts_extracted *out)
{
    /* The fixed header must be captured, and its data offset say at least
     * its 20 bytes (RFC 9293 3.1; Wireshark: "Bogus TCP header length"). */
    if (!tvb_bytes_exist(tvb, at, 20))
        return FALSE;
    int header_len = (tvb_get_uint8(tvb, at + 12) >> 4) * 4;
    if (header_len < 20)
        return FALSE;

    /* secs * 1e9 leaves int64 past year 2262, which pcapng can say: saturate. */
    const int64_t max_secs = INT64_MAX / 1000000000 - 1;
    int64_t secs = (int64_t)pinfo->abs_ts.secs;
    secs = secs > max_secs ? max_secs : secs < -max_secs ? -max_secs : secs;
    out->seg.time_ns = secs * 1000000000 + pinfo->abs_ts.nsecs;
    /* RFC 9293 3.1: ports, sequence number, acknowledgment number, data
     * offset and flags (12 bits with the reserved ones), window. */
    const guint8 *h = tvb_get_ptr(tvb, at, 20); /* one bounds check for the fixed header */
    out->seg.src_port = pntohu16(h);
    out->seg.dst_port = pntohu16(h + 2);
    out->seg.seq = pntohu32(h + 4);
    out->seg.ack = pntohu32(h + 8);
    out->seg.flags = (uint16_t)(pntohu16(h + 12) & 0x0fff);
    out->seg.window = pntohu16(h + 14);
    if (header_len > 20)
        read_options(tvb, at, header_len, &out->seg);
    out->seg.id = pinfo->num;
    out->seg.delivery = TS_DELIVERED;
    out->header_len = (uint8_t)header_len;
    return TRUE;
}

void ts_extract_init(void)
{
    ts_extract_bytes_init();
}

GArray *ts_extract_wanted_fields(void)
{
    return ts_pref_headers == TS_HEADERS_FROM_FIELDS ? ts_extract_fields_wanted() : NULL;
}

gboolean ts_extract(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, ts_extracted *out)
{
    memset(out, 0, sizeof *out);
    if (ts_pref_headers == TS_HEADERS_FROM_FIELDS)
        return ts_extract_from_fields(pinfo, tree, out);
    return ts_extract_from_bytes(tvb, pinfo, out);
}
