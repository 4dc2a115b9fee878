/*
 * Connection summary fields (tcpstate.conn.*) on every segment of a
 * connection, drawn from the ts_summary kept in its ts_conn_entry.
 *
 * store.c feeds the summary on the first pass (ts_summary_update right after
 * the core step). On the first pass a segment therefore shows the connection
 * "so far" (as of that segment); on every later dissection (tshark -2, GUI
 * clicks) the summary is complete and every segment shows the final values.
 */
#include "tcpstate_plugin.h"

#include <epan/proto.h>
#include <epan/tap.h>

static int hf_conn = -1;
static int hf_conn_state = -1;
static int hf_conn_history = -1;
static int hf_conn_originator = -1;
static int hf_conn_closed_first = -1;
static int hf_conn_open_frame = -1;
static int hf_conn_established_frame = -1;
static int hf_conn_close_frame = -1;
static int hf_conn_handshake_rtt = -1;
static int hf_conn_time_wait_end = -1;
static int hf_conn_final_client = -1;
static int hf_conn_final_server = -1;
static int hf_conn_stream = -1;
static gint ett_conn = -1;
static ts_refs conn_refs; /* see render.c */

void ts_conn_register(int proto)
{
    static hf_register_info hf[] = {
        {&hf_conn, {"Connection", "tcpstate.conn", FT_NONE, BASE_NONE, NULL, 0x0,
                    "What the whole connection did (final in two-pass dissection, so far in one pass)", HFILL}},
        {&hf_conn_state, {"Zeek conn_state", "tcpstate.conn.state", FT_STRING, BASE_NONE, NULL, 0x0,
                          "Outcome as Zeek's conn.log conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH",
                          HFILL}},
        {&hf_conn_history, {"Zeek history", "tcpstate.conn.history", FT_STRING, BASE_NONE, NULL, 0x0,
                            "Zeek's conn.log history letters (upper case: originator; lower case: responder)",
                            HFILL}},
        {&hf_conn_originator, {"Zeek originator", "tcpstate.conn.originator", FT_STRING, BASE_NONE, NULL, 0x0,
                               "Which end Zeek calls the originator: client or server", HFILL}},
        {&hf_conn_closed_first, {"Closed first", "tcpstate.conn.closed_first", FT_STRING, BASE_NONE, NULL, 0x0,
                                 "Who sent the first FIN or RST: client, server, or both (the FINs crossed)",
                                 HFILL}},
        {&hf_conn_open_frame, {"Opened in frame", "tcpstate.conn.open_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
                               "The connection's first segment (its SYN when captured)", HFILL}},
        {&hf_conn_established_frame, {"Established in frame", "tcpstate.conn.established_frame", FT_FRAMENUM,
                                      BASE_NONE, NULL, 0x0,
                                      "The segment after which both ends were ESTABLISHED (or later)", HFILL}},
        {&hf_conn_close_frame, {"Closed in frame", "tcpstate.conn.close_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
                                "The segment after which both ends were closed (CLOSED or TIME-WAIT)", HFILL}},
        {&hf_conn_handshake_rtt, {"Handshake RTT", "tcpstate.conn.handshake_rtt", FT_RELATIVE_TIME, BASE_NONE,
                                  NULL, 0x0, "From the first SYN to the segment that completed the handshake",
                                  HFILL}},
        {&hf_conn_time_wait_end, {"TIME-WAIT ends", "tcpstate.conn.time_wait_end", FT_ABSOLUTE_TIME,
                                  ABSOLUTE_TIME_UTC, NULL, 0x0,
                                  "When the side left in TIME-WAIT at the end of the connection leaves it", HFILL}},
        {&hf_conn_final_client, {"Client final state", "tcpstate.conn.client_state", FT_STRING, BASE_NONE, NULL,
                                 0x0, "RFC 9293 state of the client after the connection's last segment", HFILL}},
        {&hf_conn_final_server, {"Server final state", "tcpstate.conn.server_state", FT_STRING, BASE_NONE, NULL,
                                 0x0, "RFC 9293 state of the server after the connection's last segment", HFILL}},
        {&hf_conn_stream, {"Connection's tcp.stream", "tcpstate.conn.stream", FT_UINT32, BASE_DEC, NULL, 0x0,
                           "Only where it is not this segment's own: Wireshark 4.4+ starts a new tcp.stream on "
                           "a SYN after a RST, also on the connection's opening SYN sent again (same ISN), "
                           "which tcpstate keeps in its connection", HFILL}},
    };
    static gint *ett[] = {&ett_conn};
    proto_register_field_array(proto, hf, array_length(hf));
    ts_refs_init(&conn_refs, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    ts_stats_register_tap();
}

static void ns_to_nstime(int64_t ns, nstime_t *t)
{
    t->secs = (time_t)(ns / 1000000000);
    t->nsecs = (int)(ns % 1000000000);
}

void ts_conn_render(proto_tree *tree, tvbuff_t *tvb, uint32_t frame, const ts_frame_record *rec)
{
    /* Outside a visible tree, a connection summary nobody asked for would be
     * only faked items: skip it whole. */
    const ts_refs *r = &conn_refs;
    const guint32 want = ts_refs_wanted(r, tree);
    if (want == 0)
        return;
    const ts_conn_entry *conn = ts_store_conn(rec->conn);
    if (conn == NULL || !conn->summary.started)
        return;
    const ts_summary *s = ts_store_summary(conn, frame);
    ts_conn_code code = ts_summary_conn_state(s);
    const gboolean labels = ts_labels_shown(tree); /* see render.c */
    proto_item *item;

    proto_item *top = proto_tree_add_item(tree, hf_conn, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(top);
    char label[ITEM_LABEL_LENGTH];
    if (labels) {
        /* "Connection: SF, closed first by client, history ShADadFf" (text.c: no printf per frame) */
        ts_text t = ts_text_on(label, sizeof label);
        ts_text_put(&t, proto_registrar_get_name(hf_conn));
        ts_text_put(&t, ": ");
        ts_text_put(&t, ts_conn_code_name(code));
        if (s->closed_first) {
            ts_text_put(&t, ", closed first by ");
            ts_text_put(&t, ts_closer_name((ts_closer)s->closed_first));
        }
        ts_text_put(&t, ", history ");
        ts_text_put(&t, ts_summary_history(s));
        if (s->history_truncated)
            ts_text_put(&t, "...");
        ts_item_set_label(top, label);
    }
    proto_tree *ct = proto_item_add_subtree(top, ett_conn);
    if (rec->flags & TS_REC_OTHER_STREAM) {
        item = ts_add_uint(ct, r, want, hf_conn_stream, tvb, rec->conn - 1);
        if (item != NULL && labels)
            proto_item_append_text(item, " (this segment's tcp.stream began at the connection's opening SYN "
                                         "sent again)");
    }

    item = ts_add_string(ct, r, want, hf_conn_state, tvb, ts_conn_code_name(code));
    if (item != NULL && labels) {
        /* "Zeek conn_state: SF (<meaning>)" */
        ts_text t = ts_text_on(label, sizeof label);
        ts_text_put(&t, proto_registrar_get_name(hf_conn_state));
        ts_text_put(&t, ": ");
        ts_text_put(&t, ts_conn_code_name(code));
        ts_text_put(&t, " (");
        ts_text_put(&t, ts_conn_code_meaning(code));
        ts_text_put(&t, ")");
        ts_item_set_label(item, label);
    }
    ts_add_string(ct, r, want, hf_conn_history, tvb, ts_summary_history(s));
    ts_add_string(ct, r, want, hf_conn_originator, tvb, ts_role_name((ts_role)s->orig_role));
    if (s->closed_first != TS_CLOSER_NONE)
        ts_add_string(ct, r, want, hf_conn_closed_first, tvb, ts_closer_name((ts_closer)s->closed_first));
    ts_add_uint(ct, r, want, hf_conn_open_frame, tvb, s->open_frame);
    if (s->established_frame != 0)
        ts_add_uint(ct, r, want, hf_conn_established_frame, tvb, s->established_frame);
    if (s->close_frame != 0)
        ts_add_uint(ct, r, want, hf_conn_close_frame, tvb, s->close_frame);
    if (s->handshake_rtt_ns >= 0 && ts_refs_has(r, want, hf_conn_handshake_rtt)) {
        nstime_t rtt;
        ns_to_nstime(s->handshake_rtt_ns, &rtt);
        item = proto_tree_add_time(ct, hf_conn_handshake_rtt, tvb, 0, 0, &rtt);
        proto_item_set_generated(item);
    }
    ts_add_string(ct, r, want, hf_conn_final_client, tvb, ts_state_name((ts_state)s->final_state[TS_CLIENT]));
    ts_add_string(ct, r, want, hf_conn_final_server, tvb, ts_state_name((ts_state)s->final_state[TS_SERVER]));
    int64_t tw_end = ts_summary_time_wait_end(s);
    if (tw_end != 0 && ts_refs_has(r, want, hf_conn_time_wait_end)) {
        nstime_t end;
        ns_to_nstime(tw_end, &end);
        item = proto_tree_add_time(ct, hf_conn_time_wait_end, tvb, 0, 0, &end);
        if (labels)
            proto_item_append_text(item, " (%s in TIME-WAIT)",
                                   s->time_wait_end_ns[TS_CLIENT] && s->time_wait_end_ns[TS_SERVER] ? "both sides"
                                   : s->time_wait_end_ns[TS_CLIENT]                                ? "client"
                                                                                                  : "server");
        proto_item_set_generated(item);
    }
}
