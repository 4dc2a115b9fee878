/*
 * Finds one frame's TCP segment through Wireshark's fields (the "headers"
 * preference set to fields): any encapsulation Wireshark dissects.
 *
 * Few fields are asked of Wireshark: every wanted field becomes a real tree
 * item on every frame, which costs. (Not whole protocols: a real "tcp" or
 * "ip" item would make every field under it real too.) tcp.srcport and
 * ip.src / ipv6.src locate the headers in the packet bytes; tcp.stream
 * and tcp.len are what Wireshark computes (stream index, payload length
 * without link-layer padding). The rest of the TCP header is read from its
 * bytes (extract.c), as extract_bytes.c does.
 *
 * A frame can hold several TCP headers: the segment itself, and copies quoted
 * inside ICMP/ICMPv6 errors, which Wireshark dissects as TCP with the same
 * tcp.stream. Each field_info knows the layer it belongs to
 * (total_layer_num, the position of its protocol in pinfo->layers), so the
 * fields are grouped by layer and layers below an ICMP error are skipped.
 * pinfo's ports and addresses are not used: an ICMP error overwrites them.
 */
#include "tcpstate_plugin.h"

#include <string.h>

#include <epan/proto.h>

enum { F_TCP, F_STREAM, F_LEN, F_IP, F_IPV6, F_COUNT };

/* F_TCP, F_IP, F_IPV6: the first field of each header that sits at a fixed
 * offset: the source port at 0 of the TCP header (RFC 9293 3.1), the source
 * address at 12 of the IPv4 header (RFC 791), at 8 of the IPv6 one (RFC 8200). */
static const char *const field_names[F_COUNT] = {
    [F_TCP] = "tcp.srcport", [F_STREAM] = "tcp.stream", [F_LEN] = "tcp.len",
    [F_IP] = "ip.src", [F_IPV6] = "ipv6.src",
};

static int hf[F_COUNT];
static int proto_icmp = -1;
static int proto_icmpv6 = -1;
static int proto_tcp = -1;

GArray *ts_extract_fields_wanted(void)
{
    GArray *wanted = g_array_new(FALSE, FALSE, sizeof(int));
    for (int f = 0; f < F_COUNT; f++) {
        hf[f] = proto_registrar_get_id_byname(field_names[f]);
        if (hf[f] > 0)
            g_array_append_val(wanted, hf[f]); /* never -1 in the wanted array */
    }
    proto_icmp = proto_get_id_by_filter_name("icmp");
    proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
    proto_tcp = proto_get_id_by_filter_name("tcp");
    return wanted;
}

/* Where the first TCP layer and the first ICMP/ICMPv6 error are in
 * pinfo->layers (1-based positions, 0: none), in one walk. A layer after the
 * ICMP one is inside the error: a quoted copy. */
typedef struct layer_positions {
    int tcp, icmp;
} layer_positions;

static layer_positions find_layers(packet_info *pinfo)
{
    layer_positions at = {0, 0};
    int position = 1;
    for (wmem_list_frame_t *it = wmem_list_head(pinfo->layers); it && (at.tcp == 0 || at.icmp == 0);
         it = wmem_list_frame_next(it), position++) {
        int proto = GPOINTER_TO_INT(wmem_list_frame_data(it));
        if (proto == proto_tcp && at.tcp == 0)
            at.tcp = position;
        else if ((proto == proto_icmp || proto == proto_icmpv6) && at.icmp == 0)
            at.icmp = position;
    }
    return at;
}

static gboolean below_icmp(const layer_positions *at, int layer)
{
    return at->icmp != 0 && at->icmp < layer;
}

static GPtrArray *instances(proto_tree *tree, int f)
{
    return hf[f] > 0 ? proto_get_finfo_ptr_array(tree, hf[f]) : NULL;
}

/* The instance of field f at exactly `layer`. */
static field_info *at_layer(proto_tree *tree, int f, int layer)
{
    GPtrArray *all = instances(tree, f);
    for (guint i = 0; all != NULL && i < all->len; i++) {
        field_info *fi = (field_info *)g_ptr_array_index(all, i);
        if (fi->total_layer_num == layer)
            return fi;
    }
    return NULL;
}

/* The nearest instance of field f under `layer`: the IP header that carries
 * the TCP header (an IPv6 tunnel over IPv4 carries TCP in IPv6). */
static field_info *nearest_below(proto_tree *tree, int f, int layer)
{
    GPtrArray *all = instances(tree, f);
    field_info *best = NULL;
    for (guint i = 0; all != NULL && i < all->len; i++) {
        field_info *fi = (field_info *)g_ptr_array_index(all, i);
        if (fi->total_layer_num < layer && (best == NULL || fi->total_layer_num > best->total_layer_num))
            best = fi;
    }
    return best;
}

/* Are `len` bytes from `offset` into the header of fi in the capture? */
static gboolean captured(const field_info *fi, int offset, int len)
{
    return fi->ds_tvb != NULL && tvb_bytes_exist(fi->ds_tvb, fi->start + offset, len);
}

static gboolean get_uint(proto_tree *tree, int f, int layer, guint32 *value)
{
    field_info *fi = at_layer(tree, f, layer);
    if (fi == NULL)
        return FALSE;
    *value = fvalue_get_uinteger(TS_FVALUE(fi));
    return TRUE;
}

/* Source and destination addresses from the IP header under the TCP one. */
static void get_addresses(proto_tree *tree, int layer, ts_extracted *out)
{
    field_info *v4 = nearest_below(tree, F_IP, layer);
    field_info *v6 = nearest_below(tree, F_IPV6, layer);
    if (v6 != NULL && (v4 == NULL || v6->total_layer_num > v4->total_layer_num)) {
        if (v6->length == 16 && captured(v6, 0, 32)) { /* the destination follows the source */
            tvb_memcpy(v6->ds_tvb, out->src_addr, v6->start, 16);
            tvb_memcpy(v6->ds_tvb, out->dst_addr, v6->start + 16, 16);
            out->addr_len = 16;
        }
    } else if (v4 != NULL && v4->length == 4 && captured(v4, 0, 8)) {
        tvb_memcpy(v4->ds_tvb, out->src_addr, v4->start, 4);
        tvb_memcpy(v4->ds_tvb, out->dst_addr, v4->start + 4, 4);
        out->addr_len = 4;
    }
}

gboolean ts_extract_from_fields(packet_info *pinfo, proto_tree *tree, ts_extracted *out)
{
    if (tree == NULL)
        return FALSE;
    GPtrArray *headers = instances(tree, F_TCP);
    if (headers == NULL || headers->len == 0) {
        /* Wireshark's TCP dissector ran but found not even the ports: a
         * header cut by the capture, or quoted in an ICMP error. */
        layer_positions at = find_layers(pinfo);
        if (at.tcp == 0)
            return FALSE; /* no TCP header */
        if (below_icmp(&at, at.tcp))
            out->quoted_only = TRUE;
        else
            out->incomplete = TRUE;
        return TRUE;
    }

    /* The first TCP header that is not quoted in an ICMP error. */
    layer_positions at = find_layers(pinfo);
    field_info *tcp = NULL;
    for (guint i = 0; i < headers->len && tcp == NULL; i++) {
        field_info *fi = (field_info *)g_ptr_array_index(headers, i);
        if (!below_icmp(&at, fi->total_layer_num))
            tcp = fi;
    }
    if (tcp == NULL) {
        out->quoted_only = TRUE;
        return TRUE;
    }
    int layer = tcp->total_layer_num;
    guint32 stream = 0, len = 0;
    /* No tcp.stream, yet a TCP header: too short for Wireshark to track it
     * (a cut header); the same when the fixed header is not all captured or
     * its data offset is bogus (ts_extract_tcp_header). */
    if (!get_uint(tree, F_STREAM, layer, &stream) || !get_uint(tree, F_LEN, layer, &len) ||
        tcp->ds_tvb == NULL || !ts_extract_tcp_header(tcp->ds_tvb, tcp->start, pinfo, out)) {
        out->incomplete = TRUE;
        return TRUE;
    }
    get_addresses(tree, layer, out);
    out->stream = stream;
    out->seg.payload_len = len;
    return TRUE;
}
