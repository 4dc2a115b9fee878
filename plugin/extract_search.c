/*
 * Finds the TCP segment Wireshark dissected when the byte reader's walk
 * (extract_bytes.c) does not know the encapsulation: Geneve, GTP-U, MPLS,
 * PPP, PPPoE, IP over InfiniBand, a capture vendor's header, an IP fragment,
 * data Wireshark decrypted (WireGuard) or reassembled. Only such frames come
 * here, so the frames the walk reads cost nothing more.
 *
 * Nothing is guessed: Wireshark has already told us which segment it
 * dissected last. pinfo->src/dst are the addresses of the innermost IP header
 * and pinfo->srcport/destport the ports of the innermost TCP header (the
 * walk has ruled out a header quoted in an ICMP error, which would mix them),
 * and pinfo->data_src lists every buffer the frame's dissection used: the
 * frame's bytes, then decrypted or reassembled data. The segment is
 *   (a) an IPv4 or IPv6 header with those addresses whose protocol is TCP
 *       (after Hop-by-Hop, Routing and Destination Options headers in IPv6),
 *       followed in the same buffer by a TCP header with those ports; or
 *   (b) a TCP header with those ports at the start of a buffer Wireshark
 *       added, when the frame holds a fragment of an IP datagram with those
 *       addresses and protocol TCP: the datagram Wireshark reassembled, whose
 *       IP header stays in the frame.
 * A TCP header right after an IP fragment's header is the first fragment of
 * a datagram Wireshark did not reassemble: its segment length is unknown, and
 * the frame is marked incomplete, as a cut header is.
 * The innermost header is wanted, so each buffer is searched from its end;
 * the frame's bytes come first (they are small, and hold the segment unless
 * it was decrypted or reassembled), then the buffers added, last one first.
 * robustness.headers_agree and tests/corpus compare the result with
 * Wireshark's own fields on every frame.
 */
#include "tcpstate_plugin.h"

#include <string.h>

/* Where the search found the segment: its buffer, the TCP header's offset
 * and the reported end of the IP payload that holds it. */
typedef struct found {
    tvbuff_t *tvb;
    int tcp_offset;
    int payload_end;
    gboolean in_fragment; /* right after the header of an IP fragment */
} found;

enum { IPPROTO_TCP_ = 6, IPV6_HOPOPTS = 0, IPV6_ROUTING = 43, IPV6_FRAGMENT = 44, IPV6_DSTOPTS = 60 };

/* pinfo's innermost addresses as bytes: 4 (IPv4) or 16 (IPv6), 0 otherwise. */
static int wanted_addresses(const packet_info *pinfo, const uint8_t **src, const uint8_t **dst)
{
    if (pinfo->src.type != pinfo->dst.type || pinfo->src.len != pinfo->dst.len)
        return 0;
    if (!((pinfo->src.type == AT_IPv4 && pinfo->src.len == 4) || (pinfo->src.type == AT_IPv6 && pinfo->src.len == 16)))
        return 0;
    *src = (const uint8_t *)pinfo->src.data;
    *dst = (const uint8_t *)pinfo->dst.data;
    return pinfo->src.len;
}

/* Is there a TCP header with the wanted ports at `at`: fully captured with a
 * data offset of at least 20 bytes (RFC 9293 3.1), or only its ports (the
 * capture cut it: the segment cannot be annotated, and the frame says so)? */
enum header { HEADER_NONE, HEADER_CUT, HEADER_FULL };
static enum header tcp_header_at(tvbuff_t *tvb, int at, const packet_info *pinfo)
{
    if (at < 0 || !tvb_bytes_exist(tvb, at, 4))
        return HEADER_NONE;
    const guint8 *h = tvb_get_ptr(tvb, at, 4);
    if (pntohu16(h) != pinfo->srcport || pntohu16(h + 2) != pinfo->destport)
        return HEADER_NONE;
    if (!tvb_bytes_exist(tvb, at, 20))
        return HEADER_CUT;
    return (tvb_get_uint8(tvb, at + 12) >> 4) >= 5 ? HEADER_FULL : HEADER_NONE;
}

/* The reported end of an IP payload of `len` bytes from `start` (as
 * extract_bytes.c: never past the buffer; 0 is segmentation offload). */
static int payload_end(tvbuff_t *tvb, int start, int len)
{
    int end = (int)tvb_reported_length(tvb);
    return len == 0 || start + len > end ? end : start + len;
}

/* IPv4 header at `ip` (RFC 791) with the wanted addresses and protocol TCP:
 * where its payload starts (0: not one), whether it is a fragment. */
static int ipv4_payload(tvbuff_t *tvb, int ip, int *end, gboolean *fragment)
{
    if (!tvb_bytes_exist(tvb, ip, 20))
        return 0;
    const guint8 *h = tvb_get_ptr(tvb, ip, 20);
    int header_len = (h[0] & 0x0f) * 4;
    if ((h[0] >> 4) != 4 || header_len < 20 || h[9] != IPPROTO_TCP_)
        return 0;
    *fragment = (pntohu16(h + 6) & 0x3fff) != 0; /* more fragments, or an offset */
    *end = payload_end(tvb, ip, pntohu16(h + 2));
    return ip + header_len;
}

/* IPv6 header at `ip` (RFC 8200) with the wanted addresses: where the TCP
 * header starts after the extension headers tcpstate steps over (0: no TCP
 * there), whether a Fragment header came first. */
static int ipv6_payload(tvbuff_t *tvb, int ip, int *end, gboolean *fragment)
{
    if (!tvb_bytes_exist(tvb, ip, 40) || (tvb_get_uint8(tvb, ip) >> 4) != 6)
        return 0;
    *end = payload_end(tvb, ip + 40, tvb_get_ntohs(tvb, ip + 4));
    int next = tvb_get_uint8(tvb, ip + 6), at = ip + 40;
    for (int hops = 0; hops < 8; hops++) { /* a bounded chain: a loop of options is not a header */
        if (next == IPPROTO_TCP_)
            return at;
        if (next == IPV6_FRAGMENT) {
            *fragment = TRUE; /* the TCP header is in the reassembled datagram, or in the first fragment */
            if (!tvb_bytes_exist(tvb, at, 8))
                return 0;
            next = tvb_get_uint8(tvb, at);
            at += 8;
            continue;
        }
        if (next != IPV6_HOPOPTS && next != IPV6_ROUTING && next != IPV6_DSTOPTS)
            return 0;
        if (!tvb_bytes_exist(tvb, at, 2))
            return 0;
        next = tvb_get_uint8(tvb, at);
        at += (tvb_get_uint8(tvb, at + 1) + 1) * 8;
    }
    return 0;
}

/* What the search saw besides the segment: an IP header with the wanted
 * addresses that is a fragment; a TCP header with the wanted ports cut by
 * the capture. */
typedef struct seen {
    gboolean fragment, cut;
} seen;

/* (a) in one buffer, from its end: an IP header with the wanted addresses,
 * protocol TCP, and the TCP header right after it. */
static gboolean search_buffer(tvbuff_t *tvb, const packet_info *pinfo, const uint8_t *src, const uint8_t *dst,
                              int addr_len, found *f, seen *saw)
{
    int length = (int)tvb_captured_length(tvb);
    int src_at = addr_len == 4 ? 12 : 8; /* where the source address is in the header */
    if (length < src_at + 2 * addr_len)
        return FALSE;
    const guint8 *bytes = tvb_get_ptr(tvb, 0, length);
    for (int ip = length - src_at - 2 * addr_len; ip >= 0; ip--) {
        if (bytes[ip + src_at] != src[0] || memcmp(bytes + ip + src_at, src, addr_len) != 0 ||
            memcmp(bytes + ip + src_at + addr_len, dst, addr_len) != 0)
            continue;
        int end = 0;
        gboolean frag = FALSE;
        int tcp = addr_len == 4 ? ipv4_payload(tvb, ip, &end, &frag) : ipv6_payload(tvb, ip, &end, &frag);
        if (tcp == 0)
            continue;
        saw->fragment = saw->fragment || frag;
        enum header header = tcp_header_at(tvb, tcp, pinfo);
        saw->cut = saw->cut || header == HEADER_CUT;
        if (header == HEADER_FULL) {
            f->tvb = tvb;
            f->tcp_offset = tcp;
            f->payload_end = end;
            f->in_fragment = frag;
            return TRUE;
        }
    }
    return FALSE;
}

ts_search ts_extract_search(packet_info *pinfo, ts_extracted *out, tvbuff_t **tvb, int *tcp_offset,
                            int *payload_end_out)
{
    const uint8_t *src = NULL, *dst = NULL;
    int addr_len = pinfo->ptype == PT_TCP ? wanted_addresses(pinfo, &src, &dst) : 0;
    if (addr_len == 0)
        return TS_SEARCH_NO_IP; /* the innermost TCP is not over IPv4 or IPv6 as pinfo says */
    /* The buffers, last added first (a GSList only runs forwards). */
    tvbuff_t *buffers[16];
    int n = 0;
    for (GSList *it = pinfo->data_src; it != NULL && n < (int)G_N_ELEMENTS(buffers); it = it->next) {
        tvbuff_t *t = get_data_source_tvb((const struct data_source *)it->data);
        if (t != NULL)
            buffers[n++] = t;
    }
    found f = {NULL, 0, 0, FALSE};
    seen saw = {FALSE, FALSE};
    /* The frame's own bytes first (where the segment is unless Wireshark decrypted or
     * reassembled it, and never large), then the buffers added, the last one first (a
     * reassembled application message can be large: it is searched only if needed). */
    for (int k = 0; k < n && f.tvb == NULL; k++)
        search_buffer(buffers[k == 0 ? 0 : n - k], pinfo, src, dst, addr_len, &f, &saw);
    /* (b) a reassembled datagram: the TCP header at the start of an added buffer. */
    for (int i = n - 1; i >= 1 && f.tvb == NULL && saw.fragment; i--) {
        enum header header = tcp_header_at(buffers[i], 0, pinfo);
        saw.cut = saw.cut || header == HEADER_CUT;
        if (header == HEADER_FULL) {
            f.tvb = buffers[i];
            f.tcp_offset = 0;
            f.payload_end = (int)tvb_reported_length(buffers[i]);
        }
    }
    if (f.tvb == NULL)
        return saw.cut ? TS_SEARCH_CUT : TS_SEARCH_NOT_FOUND;
    /* The first fragment of a datagram Wireshark did not reassemble: it
     * dissects the TCP header, but the segment's length is in fragments it
     * does not have (it gives no tcp.len, and no sequence analysis). */
    if (f.in_fragment)
        return TS_SEARCH_FRAGMENT;
    out->addr_len = (uint8_t)addr_len;
    memcpy(out->src_addr, src, addr_len);
    memcpy(out->dst_addr, dst, addr_len);
    *tvb = f.tvb;
    *tcp_offset = f.tcp_offset;
    *payload_end_out = f.payload_end;
    return TS_SEARCH_FOUND;
}
