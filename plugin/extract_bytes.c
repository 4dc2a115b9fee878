/*
 * Finds one frame's TCP segment in the frame's own bytes (the "headers"
 * preference's default), so that Wireshark builds no tree item for the
 * plugin: a wanted field is a real item on every frame, and makes a protocol
 * tree where none would be built (a plain `tshark -r`, the first pass of -2).
 *
 * The headers are not guessed: pinfo->layers lists the protocols Wireshark
 * dissected, in order ("frame:eth:ethertype:vlan:ethertype:ip:tcp"), and each
 * one's length is read from its own bytes up to the first TCP header. A layer
 * this walk does not know (Geneve, MPLS, PPP, ...) or an IP fragment (the TCP
 * header may be in a reassembled buffer) hands the frame to
 * extract_search.c, which finds the headers Wireshark dissected by their
 * addresses and ports; only if that fails too is the frame "not parsed" (the
 * tree says why). A TCP header after an ICMP/ICMPv6 layer is a copy quoted
 * in an error.
 *
 * tcp.stream is not in the bytes: it is the index Wireshark's TCP dissector
 * keeps in its conversation data (struct tcp_analysis), found here by the
 * 4-tuple for this frame (a reused 4-tuple has a new conversation from the
 * frame that reused it).
 */
#include "tcpstate_plugin.h"

#include <string.h>

#include <epan/conversation.h>
#include <epan/dissectors/packet-tcp.h>
#include <wiretap/wtap.h>

static int proto_frame = -1, proto_eth = -1, proto_ethertype = -1, proto_vlan = -1, proto_qinq = -1, proto_sll = -1;
static int proto_null = -1, proto_raw = -1, proto_ip = -1, proto_ipv6 = -1, proto_tcp = -1;
static int proto_udp = -1, proto_vxlan = -1;
static int proto_icmp = -1, proto_icmpv6 = -1;
static int proto_ipv6_hopopts = -1, proto_ipv6_routing = -1, proto_ipv6_dstopts = -1;

void ts_extract_bytes_init(void)
{
    proto_frame = proto_get_id_by_filter_name("frame");
    proto_eth = proto_get_id_by_filter_name("eth");
    proto_ethertype = proto_get_id_by_filter_name("ethertype");
    proto_vlan = proto_get_id_by_filter_name("vlan");
    proto_qinq = proto_get_id_by_filter_name("ieee8021ad");
    proto_sll = proto_get_id_by_filter_name("sll");
    proto_null = proto_get_id_by_filter_name("null");
    proto_raw = proto_get_id_by_filter_name("raw");
    proto_ip = proto_get_id_by_filter_name("ip");
    proto_ipv6 = proto_get_id_by_filter_name("ipv6");
    proto_tcp = proto_get_id_by_filter_name("tcp");
    proto_udp = proto_get_id_by_filter_name("udp");
    proto_vxlan = proto_get_id_by_filter_name("vxlan");
    proto_icmp = proto_get_id_by_filter_name("icmp");
    proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
    proto_ipv6_hopopts = proto_get_id_by_filter_name("ipv6.hopopts");
    proto_ipv6_routing = proto_get_id_by_filter_name("ipv6.routing");
    proto_ipv6_dstopts = proto_get_id_by_filter_name("ipv6.dstopts");
}

/* The IP header that carries the TCP one: where it is, and where its payload
 * ends (reported, not captured: the segment length does not depend on the
 * snap length). */
typedef struct ip_header {
    int offset;
    int version; /* 0: none yet */
    int payload_end;
} ip_header;

enum walk { WALK_TCP, WALK_NO_TCP, WALK_QUOTED, WALK_UNPARSED, WALK_CUT };

/* The reported end of an IP payload of `len` bytes from `start`: Wireshark
 * trims its buffer to the IP length but never grows it past the frame; a
 * length of 0 is TCP segmentation offload (the frame says how long). */
static int payload_end(tvbuff_t *tvb, int start, int len)
{
    int frame_end = (int)tvb_reported_length(tvb);
    if (len == 0 || start + len > frame_end)
        return frame_end;
    return start + len;
}

/* IPv4 (RFC 791): IHL in 32-bit words, total length, fragment fields. */
static enum walk read_ipv4(tvbuff_t *tvb, int *offset, ip_header *ip)
{
    if (!tvb_bytes_exist(tvb, *offset, 20))
        return WALK_CUT;
    uint8_t first = tvb_get_uint8(tvb, *offset);
    int header_len = (first & 0x0f) * 4;
    if ((first >> 4) != 4 || header_len < 20)
        return WALK_UNPARSED;
    /* A fragment (more fragments, or an offset): Wireshark dissects TCP in
     * the reassembled datagram, not in this frame's bytes. */
    if ((tvb_get_ntohs(tvb, *offset + 6) & 0x3fff) != 0)
        return WALK_UNPARSED;
    ip->offset = *offset;
    ip->version = 4;
    ip->payload_end = payload_end(tvb, *offset, tvb_get_ntohs(tvb, *offset + 2));
    *offset += header_len;
    return WALK_TCP;
}

/* IPv6 (RFC 8200): 40 bytes; payload length counts the extension headers. */
static enum walk read_ipv6(tvbuff_t *tvb, int *offset, ip_header *ip)
{
    if (!tvb_bytes_exist(tvb, *offset, 40))
        return WALK_CUT;
    if ((tvb_get_uint8(tvb, *offset) >> 4) != 6)
        return WALK_UNPARSED;
    ip->offset = *offset;
    ip->version = 6;
    ip->payload_end = payload_end(tvb, *offset + 40, tvb_get_ntohs(tvb, *offset + 4));
    *offset += 40;
    return WALK_TCP;
}

/* Hop-by-Hop, Routing, Destination Options (RFC 8200 4.3-4.6): a length in
 * 8-octet units, not counting the first 8. */
static enum walk skip_ipv6_extension(tvbuff_t *tvb, int *offset)
{
    if (!tvb_bytes_exist(tvb, *offset, 2))
        return WALK_CUT;
    *offset += (tvb_get_uint8(tvb, *offset + 1) + 1) * 8;
    return WALK_TCP;
}

/* Linux cooked capture: 16 bytes, 20 in version 2. */
static int sll_length(packet_info *pinfo)
{
    return pinfo->rec != NULL && pinfo->rec->rec_header.packet_header.pkt_encap == WTAP_ENCAP_SLL2 ? 20 : 16;
}

/* Walks the dissected layers to the first TCP header. Once a layer cannot
 * be read (unknown, cut) or an ICMP error begins, the walk only looks on for
 * a TCP layer: a frame with none (DNS over some tunnel) is not a segment and
 * gets nothing. An ICMP error before the TCP layer makes it a quoted copy
 * whatever came before it (pinfo then mixes the error's addresses with the
 * quoted ports: nothing to search for). The IP helpers answer WALK_TCP for
 * "read, go on". */
static enum walk walk_layers(tvbuff_t *tvb, packet_info *pinfo, int *tcp_offset, ip_header *ip)
{
    int offset = 0;
    enum walk stopped = WALK_TCP; /* or why the bytes stopped being read */
    for (wmem_list_frame_t *it = wmem_list_head(pinfo->layers); it != NULL; it = wmem_list_frame_next(it)) {
        int proto = GPOINTER_TO_INT(wmem_list_frame_data(it));
        if (proto == proto_tcp) {
            if (stopped != WALK_TCP)
                return stopped;
            if (ip->version == 0)
                return WALK_UNPARSED;
            *tcp_offset = offset;
            return WALK_TCP;
        }
        if (proto == proto_icmp || proto == proto_icmpv6) {
            stopped = WALK_QUOTED; /* a TCP header after it is a copy quoted in the error */
            continue;
        }
        if (stopped != WALK_TCP || proto == proto_frame || proto == proto_ethertype || proto == proto_raw)
            continue; /* no bytes of their own, or no longer reading */
        if (proto == proto_eth)
            offset += 14; /* destination, source, EtherType (802.3 with LLC is another layer: unparsed) */
        else if (proto == proto_vlan || proto == proto_qinq)
            offset += 4; /* 802.1Q tag, or 802.1ad's outer one (QinQ): TCI and the next EtherType */
        else if (proto == proto_sll)
            offset += sll_length(pinfo);
        else if (proto == proto_null)
            offset += 4; /* BSD loopback: the address family */
        else if (proto == proto_udp || proto == proto_vxlan)
            offset += 8; /* a VXLAN tunnel: UDP, then VXLAN, then Ethernet */
        else if (proto == proto_ip)
            stopped = read_ipv4(tvb, &offset, ip);
        else if (proto == proto_ipv6)
            stopped = read_ipv6(tvb, &offset, ip);
        else if (proto == proto_ipv6_hopopts || proto == proto_ipv6_routing || proto == proto_ipv6_dstopts)
            stopped = skip_ipv6_extension(tvb, &offset);
        else
            stopped = WALK_UNPARSED;
    }
    return WALK_NO_TCP;
}

/* tcp.stream of this frame's connection: Wireshark's TCP conversation for
 * the 4-tuple as of this frame. */
static gboolean stream_from_conversation(packet_info *pinfo, const ts_extracted *x, uint32_t *stream)
{
    address src, dst;
    set_address(&src, x->addr_len == 16 ? AT_IPv6 : AT_IPv4, x->addr_len, x->src_addr);
    set_address(&dst, x->addr_len == 16 ? AT_IPv6 : AT_IPv4, x->addr_len, x->dst_addr);
    conversation_t *conv = find_conversation(pinfo->num, &src, &dst, CONVERSATION_TCP, x->seg.src_port,
                                             x->seg.dst_port, 0);
    const struct tcp_analysis *tcpd =
        conv != NULL ? (const struct tcp_analysis *)conversation_get_proto_data(conv, proto_tcp) : NULL;
    if (tcpd == NULL)
        return FALSE;
    *stream = tcpd->stream;
    return TRUE;
}

/* The conversation lookup costs about 3.5 k instructions a frame (callgrind),
 * more than the rest of the plugin's first pass. Wireshark's TCP dissector
 * gives a 4-tuple a new conversation only on a SYN (a new ISN: port reuse),
 * so between SYNs a 4-tuple keeps its stream: a direct-mapped cache by
 * 4-tuple (either direction) answers the other segments; a SYN always asks
 * Wireshark and refreshes it. Cleared for every file. */
#define STREAM_CACHE_SIZE 4096u
typedef struct stream_cache_entry {
    uint8_t  key[2 * (16 + 2) + 1]; /* address length, then the lower endpoint, then the higher */
    uint32_t stream;
    uint32_t file;                  /* file_generation when written; other values are empty */
} stream_cache_entry;
static stream_cache_entry *stream_cache;
static uint32_t file_generation;

void ts_extract_bytes_new_file(void)
{
    if (stream_cache == NULL)
        stream_cache = g_new0(stream_cache_entry, STREAM_CACHE_SIZE);
    file_generation++;
}

void ts_extract_bytes_shutdown(void)
{
    g_free(stream_cache);
    stream_cache = NULL;
}

static void endpoint_bytes(uint8_t *out, const uint8_t *addr, uint8_t len, uint16_t port)
{
    memcpy(out, addr, len);
    out[len] = (uint8_t)(port >> 8);
    out[len + 1] = (uint8_t)port;
}

static gboolean stream_of(packet_info *pinfo, const ts_extracted *x, uint32_t *stream)
{
    uint8_t a[18], b[18], key[sizeof stream_cache[0].key];
    size_t n = (size_t)x->addr_len + 2;
    endpoint_bytes(a, x->src_addr, x->addr_len, x->seg.src_port);
    endpoint_bytes(b, x->dst_addr, x->addr_len, x->seg.dst_port);
    gboolean a_first = memcmp(a, b, n) <= 0;
    memset(key, 0, sizeof key);
    key[0] = x->addr_len;
    memcpy(key + 1, a_first ? a : b, n);
    memcpy(key + 1 + n, a_first ? b : a, n);
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < 1 + 2 * n; i++)
        hash = (hash ^ key[i]) * 16777619u;
    stream_cache_entry *entry = stream_cache != NULL ? &stream_cache[hash % STREAM_CACHE_SIZE] : NULL;
    if (entry != NULL && !(x->seg.flags & TS_TH_SYN) && entry->file == file_generation &&
        memcmp(entry->key, key, sizeof key) == 0) {
        *stream = entry->stream;
        return TRUE;
    }
    if (!stream_from_conversation(pinfo, x, stream))
        return FALSE;
    if (entry != NULL) {
        memcpy(entry->key, key, sizeof key);
        entry->stream = *stream;
        entry->file = file_generation;
    }
    return TRUE;
}

/* The segment from the TCP header at `tcp_offset` of `tvb` (addresses
 * already in out): tcp.len is the IP payload after the TCP header (RFC 9293
 * 3.1); a data offset past the IP payload leaves Wireshark no segment either. */
static gboolean finish(tvbuff_t *tvb, packet_info *pinfo, int tcp_offset, int payload_end, ts_extracted *out)
{
    if (!ts_extract_tcp_header(tvb, tcp_offset, pinfo, out)) {
        out->incomplete = TRUE;
        return TRUE;
    }
    int payload = payload_end - tcp_offset - out->header_len;
    if (payload < 0 || !stream_of(pinfo, out, &out->stream)) {
        out->incomplete = TRUE;
        return TRUE;
    }
    out->seg.payload_len = (uint32_t)payload;
    return TRUE;
}

/* A layer the walk does not read: the search (extract_search.c). */
static gboolean by_search(packet_info *pinfo, ts_extracted *out)
{
    tvbuff_t *tvb = NULL;
    int tcp_offset = 0, end = 0;
    switch (ts_extract_search(pinfo, out, &tvb, &tcp_offset, &end)) {
    case TS_SEARCH_FOUND:
        return finish(tvb, pinfo, tcp_offset, end, out);
    case TS_SEARCH_CUT:
    case TS_SEARCH_FRAGMENT:
        out->incomplete = TRUE;
        return TRUE;
    case TS_SEARCH_NOT_FOUND:
    case TS_SEARCH_NO_IP:
        break;
    }
    out->unparsed = TRUE;
    return TRUE;
}

gboolean ts_extract_from_bytes(tvbuff_t *tvb, packet_info *pinfo, ts_extracted *out)
{
    int tcp_offset = 0;
    ip_header ip = {0, 0, 0};
    switch (walk_layers(tvb, pinfo, &tcp_offset, &ip)) {
    case WALK_NO_TCP:
        return FALSE;
    case WALK_QUOTED:
        out->quoted_only = TRUE;
        return TRUE;
    case WALK_UNPARSED:
        return by_search(pinfo, out);
    case WALK_CUT: /* an IP header over the TCP one is not all captured */
        out->incomplete = TRUE;
        return TRUE;
    case WALK_TCP:
        break;
    }
    /* Addresses: source and destination are adjacent, at 12 in IPv4
     * (RFC 791), at 8 in IPv6 (RFC 8200). */
    out->addr_len = ip.version == 6 ? 16 : 4;
    int at = ip.offset + (ip.version == 6 ? 8 : 12);
    if (!tvb_bytes_exist(tvb, at, 2 * out->addr_len)) {
        out->incomplete = TRUE;
        return TRUE;
    }
    tvb_memcpy(tvb, out->src_addr, at, out->addr_len);
    tvb_memcpy(tvb, out->dst_addr, at + out->addr_len, out->addr_len);
    return finish(tvb, pinfo, tcp_offset, ip.payload_end, out);
}
