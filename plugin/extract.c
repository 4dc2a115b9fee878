/*
 * Reads one frame's TCP header fields into a ts_segment.
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

enum {
    F_STREAM, F_FLAGS, F_SEQ, F_ACK, F_LEN, F_SRCPORT, F_DSTPORT, F_WINDOW, F_WINDOW_RAW,
    F_IP_SRC, F_IP_DST, F_IP6_SRC, F_IP6_DST, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    [F_STREAM] = "tcp.stream",       [F_FLAGS] = "tcp.flags",
    [F_SEQ] = "tcp.seq_raw",         [F_ACK] = "tcp.ack_raw",
    [F_LEN] = "tcp.len",             [F_SRCPORT] = "tcp.srcport",
    [F_DSTPORT] = "tcp.dstport",     [F_WINDOW] = "tcp.window_size",
    [F_WINDOW_RAW] = "tcp.window_size_value",
    [F_IP_SRC] = "ip.src",           [F_IP_DST] = "ip.dst",
    [F_IP6_SRC] = "ipv6.src",        [F_IP6_DST] = "ipv6.dst",
};

static int hf[F_COUNT];
static int proto_icmp = -1;
static int proto_icmpv6 = -1;

void ts_extract_register_fields(GArray *wanted)
{
    for (int f = 0; f < F_COUNT; f++) {
        hf[f] = proto_registrar_get_id_byname(field_names[f]);
        if (hf[f] > 0)
            g_array_append_val(wanted, hf[f]); /* never -1 in the wanted array */
    }
    proto_icmp = proto_get_id_by_filter_name("icmp");
    proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
}

/* Is layer `layer` (1-based in pinfo->layers) inside an ICMP error? */
static gboolean below_icmp(packet_info *pinfo, int layer)
{
    int position = 1;
    for (wmem_list_frame_t *it = wmem_list_head(pinfo->layers); it && position < layer;
         it = wmem_list_frame_next(it), position++) {
        int proto = GPOINTER_TO_INT(wmem_list_frame_data(it));
        if (proto == proto_icmp || proto == proto_icmpv6)
            return TRUE;
    }
    return FALSE;
}

/* The instance of field f at exactly `layer`, or with below set, the nearest
 * instance under it (the IP header that carries the TCP header). */
static field_info *instance(proto_tree *tree, int f, int layer, gboolean below)
{
    if (hf[f] <= 0)
        return NULL;
    GPtrArray *all = proto_get_finfo_ptr_array(tree, hf[f]);
    field_info *best = NULL;
    if (all == NULL)
        return NULL;
    for (guint i = 0; i < all->len; i++) {
        field_info *fi = (field_info *)g_ptr_array_index(all, i);
        if (!below && fi->total_layer_num == layer)
            return fi;
        if (below && fi->total_layer_num < layer &&
            (best == NULL || fi->total_layer_num > best->total_layer_num))
            best = fi;
    }
    return best;
}

static gboolean get_uint(proto_tree *tree, int f, int layer, guint32 *value)
{
    field_info *fi = instance(tree, f, layer, FALSE);
    if (fi == NULL)
        return FALSE;
    *value = fvalue_get_uinteger(TS_FVALUE(fi));
    return TRUE;
}

/* Address bytes straight from the packet, whatever the field type's API. */
static gboolean get_addr(proto_tree *tree, int f, int layer, uint8_t *dst, guint len)
{
    field_info *fi = instance(tree, f, layer, TRUE);
    if (fi == NULL || fi->ds_tvb == NULL || (guint)fi->length != len)
        return FALSE;
    if (tvb_captured_length_remaining(fi->ds_tvb, fi->start) < (gint)len)
        return FALSE;
    tvb_memcpy(fi->ds_tvb, dst, fi->start, len);
    return TRUE;
}

gboolean ts_extract(packet_info *pinfo, proto_tree *tree, ts_extracted *out)
{
    memset(out, 0, sizeof *out);
    if (tree == NULL || hf[F_STREAM] <= 0)
        return FALSE;
    GPtrArray *streams = proto_get_finfo_ptr_array(tree, hf[F_STREAM]);
    if (streams == NULL || streams->len == 0) {
        /* No tcp.stream, yet a TCP header: too short for Wireshark to track it
         * (the 8 bytes an ICMP error must quote, RFC 792; or a cut header). */
        GPtrArray *ports = hf[F_SRCPORT] > 0 ? proto_get_finfo_ptr_array(tree, hf[F_SRCPORT]) : NULL;
        if (ports == NULL || ports->len == 0)
            return FALSE;
        for (guint i = 0; i < ports->len; i++)
            if (!below_icmp(pinfo, ((field_info *)g_ptr_array_index(ports, i))->total_layer_num)) {
                out->incomplete = TRUE;
                return TRUE;
            }
        out->quoted_only = TRUE;
        return TRUE;
    }

    int layer = 0;
    for (guint i = 0; i < streams->len; i++) {
        field_info *fi = (field_info *)g_ptr_array_index(streams, i);
        if (!below_icmp(pinfo, fi->total_layer_num)) {
            layer = fi->total_layer_num;
            out->stream = fvalue_get_uinteger(TS_FVALUE(fi));
            break;
        }
    }
    if (layer == 0) {
        out->quoted_only = TRUE;
        return TRUE;
    }

    guint32 flags = 0, seq = 0, ack = 0, len = 0, sport = 0, dport = 0, window = 0;
    if (!get_uint(tree, F_FLAGS, layer, &flags) || !get_uint(tree, F_SEQ, layer, &seq) ||
        !get_uint(tree, F_ACK, layer, &ack) || !get_uint(tree, F_LEN, layer, &len) ||
        !get_uint(tree, F_SRCPORT, layer, &sport) || !get_uint(tree, F_DSTPORT, layer, &dport)) {
        out->incomplete = TRUE;
        return TRUE;
    }
    if (!get_uint(tree, F_WINDOW, layer, &window))
        get_uint(tree, F_WINDOW_RAW, layer, &window);

    if (get_addr(tree, F_IP_SRC, layer, out->src_addr, 4) &&
        get_addr(tree, F_IP_DST, layer, out->dst_addr, 4))
        out->addr_len = 4;
    /* The IP header nearest the TCP header wins: an IPv6 tunnel over IPv4
     * carries TCP in IPv6. */
    field_info *v4 = instance(tree, F_IP_SRC, layer, TRUE);
    field_info *v6 = instance(tree, F_IP6_SRC, layer, TRUE);
    if (v6 != NULL && (v4 == NULL || v6->total_layer_num > v4->total_layer_num) &&
        get_addr(tree, F_IP6_SRC, layer, out->src_addr, 16) &&
        get_addr(tree, F_IP6_DST, layer, out->dst_addr, 16))
        out->addr_len = 16;

    /* secs * 1e9 leaves int64 past year 2262, which pcapng can say: saturate. */
    const int64_t max_secs = INT64_MAX / 1000000000 - 1;
    int64_t secs = (int64_t)pinfo->abs_ts.secs;
    secs = secs > max_secs ? max_secs : secs < -max_secs ? -max_secs : secs;
    out->seg.time_ns = secs * 1000000000 + pinfo->abs_ts.nsecs;
    out->seg.seq = seq;
    out->seg.ack = ack;
    out->seg.payload_len = len;
    out->seg.window = window;
    out->seg.flags = (uint16_t)(flags & 0x0fff);
    out->seg.src_port = (uint16_t)sport;
    out->seg.dst_port = (uint16_t)dport;
    out->seg.id = pinfo->num;
    out->seg.delivery = TS_DELIVERED;
    return TRUE;
}
