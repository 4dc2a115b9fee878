/*
 * Draws the tcpstate subtree and expert infos of one frame from its stored
 * record. Used on every pass alike: on the first pass the record is what was
 * known at that moment; later it holds the hindsight view (see store.c).
 */
#include "tcpstate_plugin.h"

#include <epan/column-utils.h>
#include <epan/expert.h>
#include <epan/proto.h>

static int proto_tcpstate = -1;
static int hf_summary = -1;
static int hf_sender = -1;
static int hf_state[2] = {-1, -1};
static int hf_prev_state[2] = {-1, -1};
static int hf_endpoint[2] = {-1, -1};
static int hf_time_in_prev[2] = {-1, -1};
static int hf_phase = -1;
static int hf_handshake_step = -1;
static int hf_teardown_step = -1;
static int hf_transition = -1;
static int hf_explanation = -1;
static int hf_assumed = -1;
static int hf_expected_ack = -1;
static int hf_ack_ok = -1;
static int hf_corrects = -1;
static int hf_corrected_by = -1;
static int hf_delivery = -1;
static int hf_time_wait_end = -1;
static int hf_retransmission = -1;
static int hf_keepalive = -1;

static header_field_info *hfi_tcpstate; /* the protocol's own field */
static gint ett_tcpstate = -1;
static gint ett_side = -1;

/* Which of this file's fields a filter, custom column or tap asked for. */
static ts_refs render_refs;


void ts_render_register(int proto)
{
    proto_tcpstate = proto;
    static hf_register_info hf[] = {
        {&hf_summary, {"Summary", "tcpstate.summary", FT_STRING, BASE_NONE, NULL, 0x0,
                       "Phase, step and both states in one line (for a custom column)", HFILL}},
        {&hf_sender, {"Sender", "tcpstate.sender", FT_STRING, BASE_NONE, NULL, 0x0,
                      "Which end sent this segment: client or server", HFILL}},
        {&hf_state[TS_CLIENT], {"Client state", "tcpstate.client.state", FT_STRING, BASE_NONE, NULL, 0x0,
                                "RFC 9293 state of the client after this segment", HFILL}},
        {&hf_prev_state[TS_CLIENT], {"Client state before", "tcpstate.client.prev_state", FT_STRING,
                                     BASE_NONE, NULL, 0x0, "RFC 9293 state of the client before this segment", HFILL}},
        {&hf_endpoint[TS_CLIENT], {"Client endpoint", "tcpstate.client.endpoint", FT_STRING, BASE_NONE,
                                   NULL, 0x0, "Address and port of the client (the side that opened)", HFILL}},
        {&hf_time_in_prev[TS_CLIENT], {"Client time in previous state", "tcpstate.client.time_in_prev_state",
                                       FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
                                       "How long the client stayed in the state it just left", HFILL}},
        {&hf_state[TS_SERVER], {"Server state", "tcpstate.server.state", FT_STRING, BASE_NONE, NULL, 0x0,
                                "RFC 9293 state of the server after this segment", HFILL}},
        {&hf_prev_state[TS_SERVER], {"Server state before", "tcpstate.server.prev_state", FT_STRING,
                                     BASE_NONE, NULL, 0x0, "RFC 9293 state of the server before this segment", HFILL}},
        {&hf_endpoint[TS_SERVER], {"Server endpoint", "tcpstate.server.endpoint", FT_STRING, BASE_NONE,
                                   NULL, 0x0, "Address and port of the server", HFILL}},
        {&hf_time_in_prev[TS_SERVER], {"Server time in previous state", "tcpstate.server.time_in_prev_state",
                                       FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
                                       "How long the server stayed in the state it just left", HFILL}},
        {&hf_phase, {"Phase", "tcpstate.phase", FT_STRING, BASE_NONE, NULL, 0x0,
                     "Handshake, Data, Teardown, Reset or Closed", HFILL}},
        {&hf_handshake_step, {"Handshake step", "tcpstate.handshake_step", FT_UINT8, BASE_DEC, NULL, 0x0,
                              "1 SYN, 2 SYN-ACK, 3 ACK (simultaneous open: 1 SYN, 2 SYN, 3 and 4 SYN-ACK)", HFILL}},
        {&hf_teardown_step, {"Teardown step", "tcpstate.teardown_step", FT_UINT8, BASE_DEC, NULL, 0x0,
                             "1 FIN, 2 ACK, 3 FIN, 4 ACK", HFILL}},
        {&hf_transition, {"Transition", "tcpstate.transition", FT_STRING, BASE_NONE, NULL, 0x0,
                          "Present when this segment changes the state of either side", HFILL}},
        {&hf_explanation, {"Explanation", "tcpstate.explanation", FT_STRING, BASE_NONE, NULL, 0x0,
                           "What this step of the connection is for", HFILL}},
        {&hf_assumed, {"Assumed", "tcpstate.assumed", FT_STRING, BASE_NONE, NULL, 0x0,
                       "Present when the annotation rests on a guess, and why", HFILL}},
        {&hf_expected_ack, {"Expected acknowledgment", "tcpstate.handshake.expected_ack", FT_UINT32, BASE_DEC,
                            NULL, 0x0, "The peer's ISN + 1 (raw)", HFILL}},
        {&hf_ack_ok, {"Acknowledges the peer's SYN", "tcpstate.handshake.ack_ok", FT_BOOLEAN, BASE_NONE, NULL,
                      0x0, "The ack is the peer's ISN + 1 (or covers data sent on the SYN)", HFILL}},
        {&hf_corrects, {"Corrects frame", "tcpstate.corrects", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
                        "This segment shows that an earlier frame's annotation was wrong", HFILL}},
        {&hf_corrected_by, {"Corrected by frame", "tcpstate.corrected_by", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
                            "A later segment showed this one did not arrive when captured", HFILL}},
        {&hf_delivery, {"Delivery", "tcpstate.delivery", FT_STRING, BASE_NONE, NULL, 0x0,
                        "Hindsight: lost, late (crossed the peer's segment) or no listener", HFILL}},
        {&hf_time_wait_end, {"TIME-WAIT ends", "tcpstate.time_wait_end", FT_ABSOLUTE_TIME, ABSOLUTE_TIME_LOCAL,
                             NULL, 0x0, "When the side entering TIME-WAIT here leaves it (TIME-WAIT preference)",
                             HFILL}},
        {&hf_retransmission, {"Control retransmitted", "tcpstate.retransmission", FT_BOOLEAN, BASE_NONE, NULL,
                              0x0, "This SYN or FIN was sent before", HFILL}},
        {&hf_keepalive, {"Keep-alive or window probe", "tcpstate.keepalive", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
                         "One byte below what was sent: changes no state", HFILL}},
    };
    static gint *ett[] = {&ett_tcpstate, &ett_side};
    proto_register_field_array(proto, hf, array_length(hf));
    ts_refs_init(&render_refs, hf, array_length(hf));
    hfi_tcpstate = proto_registrar_get_nth(proto);
    proto_register_subtree_array(ett, array_length(ett));
    ts_anomalies_register(proto);
}

/* ---- who asks for which field ------------------------------------------------
 *
 * Wireshark sets header_field_info.ref_type before each frame (filters, custom
 * columns, postdissectors' wanted fields) and resets it after, so the mask is
 * read anew on every frame from the pointers kept at registration: a dozen
 * loads instead of a library call per field, and whole groups of fields
 * (a side, the connection summary) are skipped with one test. */
void ts_refs_init(ts_refs *r, const hf_register_info *hf, size_t n)
{
    r->first = n > 0 ? *hf[0].p_id : -1;
    r->n = 0;
    for (size_t i = 0; i < n; i++)
        if (n > 32 || *hf[i].p_id != r->first + (int)i)
            return; /* not consecutive (never in Wireshark): r->n == 0, every field counts as asked for */
    for (size_t i = 0; i < n; i++)
        r->hfi[i] = proto_registrar_get_nth(*hf[i].p_id);
    r->n = (unsigned)n;
}

guint32 ts_refs_wanted(const ts_refs *r, proto_tree *tree)
{
    /* proto_field_is_referenced() for fields that are not protocols: every
     * field of a visible tree, else those with a reference. */
    if (tree == NULL)
        return 0;
    if (r->n == 0 || PTREE_DATA(tree)->visible)
        return ~(guint32)0;
    guint32 m = 0;
    for (unsigned i = 0; i < r->n; i++)
        if (r->hfi[i]->ref_type != HF_REF_TYPE_NONE)
            m |= (guint32)1 << i;
    return m;
}

/* ---- words ------------------------------------------------------------------ */

static const char *spelled(uint8_t state)
{
    return ts_state_spelled((ts_state)state, (ts_spelling)ts_pref_spelling);
}

static const char *const handshake_names[] = {"", "SYN", "SYN-ACK", "ACK", "SYN-ACK"};
static const char *const simultaneous_names[] = {"", "SYN", "SYN", "SYN-ACK", "SYN-ACK"};
static const char *const teardown_names[] = {"", "FIN", "ACK", "FIN", "ACK"};

static const char *explain(uint8_t phase, uint8_t step, uint32_t notes)
{
    if (notes & TS_NOTE_REFUSED)
        return "Nobody listens on this port: the SYN is answered with a reset and the connection is refused.";
    switch (phase) {
    case TS_PHASE_HANDSHAKE:
        if (notes & TS_NOTE_SIMULTANEOUS_OPEN || step == 4)
            return "Simultaneous open (RFC 9293 figure 7): both ends sent a SYN; each SYN-ACK acknowledges the other's "
                   "SYN, so four segments open the connection.";
        switch (step) {
        case 1:
            return "Step 1 of 3: the client asks to open a connection and announces its initial sequence number (ISN).";
        case 2:
            return "Step 2 of 3: the server acknowledges the client's SYN (ack = client ISN + 1) and sends its own SYN "
                   "in the same segment.";
        case 3:
            return "Step 3 of 3: the client acknowledges the server's SYN (ack = server ISN + 1). Only now does the "
                   "server know the client is live: with two steps an old duplicate SYN would open a connection "
                   "nobody wants (RFC 9293 3.5).";
        default:
            return NULL;
        }
    case TS_PHASE_TEARDOWN:
        switch (step) {
        case 1:
            return "Step 1 of 4: this side has nothing more to send and closes its direction with a FIN; it waits in "
                   "FIN-WAIT-1 for the acknowledgment.";
        case 2:
            return "Step 2 of 4: the FIN is acknowledged. The closer is now FIN-WAIT-2; the other side is CLOSE-WAIT "
                   "and may still send data until its application closes too.";
        case 3:
            if (notes & TS_NOTE_MERGED_FIN_ACK)
                return "Steps 2 and 3 in one segment: this FIN also acknowledges the first FIN; its sender waits in "
                       "LAST-ACK for the final acknowledgment.";
            return "Step 3 of 4: the other side closes too (FIN) and waits in LAST-ACK for the final acknowledgment.";
        case 4:
            return "Step 4 of 4: the final ACK. The side that closed first stays in TIME-WAIT for 2*MSL: if this ACK "
                   "is lost, the FIN comes again and can still be answered, and old segments die out before the "
                   "ports are used again.";
        default:
            return NULL;
        }
    case TS_PHASE_RESET:
        return "A reset aborts the connection: its sender is CLOSED at once, without TIME-WAIT; so is the receiver, "
               "if the reset's sequence number is acceptable.";
    case TS_PHASE_CLOSED:
        return "Both ends had already closed: this segment belongs to no open connection.";
    default:
        return NULL;
    }
}

static const char *delivery_text(uint8_t delivery)
{
    switch (delivery) {
    case TS_LOST:
        return "lost";
    case TS_DELIVERED_LATE:
        return "late";
    case TS_NO_LISTENER:
        return "no listener";
    case TS_RESET_BY_DATA:
        return "reset its receiver";
    case TS_OUT_OF_ORDER:
        return "out of order";
    default:
        return NULL;
    }
}

/* ---- the tree ------------------------------------------------------------------ */

/* Labels are only worth formatting when someone will read them: in a
 * visible tree (GUI details, tshark -V; -T fields on 4.0 only). Otherwise Wireshark fakes
 * every item nobody filters on, and the plugin must not build text for it. */
gboolean ts_labels_shown(proto_tree *tree)
{
    return tree != NULL && PTREE_DATA(tree)->visible;
}

/* The per-frame items go through these: a field nobody sees or filters on
 * (not in `want`, from ts_refs_wanted) is not added at all (not even as a
 * faked item: a call per field per frame adds up). Items that carry an expert
 * info are added the usual way: the expert info needs an item to hang on. */
proto_item *ts_add_string(proto_tree *tree, const ts_refs *r, guint32 want, int hf, tvbuff_t *tvb,
                          const char *value)
{
    if (!ts_refs_has(r, want, hf))
        return NULL;
    proto_item *item = proto_tree_add_string(tree, hf, tvb, 0, 0, value);
    proto_item_set_generated(item);
    return item;
}

proto_item *ts_add_uint(proto_tree *tree, const ts_refs *r, guint32 want, int hf, tvbuff_t *tvb,
                        uint32_t value)
{
    if (!ts_refs_has(r, want, hf))
        return NULL;
    proto_item *item = proto_tree_add_uint(tree, hf, tvb, 0, 0, value);
    proto_item_set_generated(item);
    return item;
}

/* "Handshake step: 2 of 3 (SYN-ACK)" */
static void set_step_label(proto_item *item, int hf, uint8_t step, unsigned steps, const char *segment,
                           const char *more)
{
    char label[ITEM_LABEL_LENGTH];
    ts_text t = ts_text_on(label, sizeof label);
    ts_text_put(&t, proto_registrar_get_name(hf));
    ts_text_put(&t, ": ");
    ts_text_uint(&t, step);
    ts_text_put(&t, " of ");
    ts_text_uint(&t, steps);
    ts_text_put(&t, " (");
    ts_text_put(&t, segment);
    ts_text_put(&t, ")");
    ts_text_put(&t, more);
    ts_item_set_label(item, label);
}

static void ns_to_nstime(int64_t ns, nstime_t *t)
{
    t->secs = (time_t)(ns / 1000000000);
    t->nsecs = (int)(ns % 1000000000);
}

/* "Too short to catch with netstat", as one rule: `netstat -c` lists the
 * sockets once a second (netstat(8)), so a state held for d < 1 s appears in
 * one of its listings with probability d / 1 s. The seed article caught
 * FIN-WAIT-2 (0.96 s on its loopback) but never SYN-RECEIVED (32 us). */
#define TS_NETSTAT_INTERVAL_NS INT64_C(1000000000)

static void add_side(proto_tree *tree, guint32 want, tvbuff_t *tvb, uint32_t conn_id, int role,
                     uint8_t packed, const ts_frame_extra *extra)
{
    const ts_refs *r = &render_refs;
    if (!ts_refs_has(r, want, hf_state[role]) && !ts_refs_has(r, want, hf_prev_state[role]) &&
        !ts_refs_has(r, want, hf_endpoint[role]) && !ts_refs_has(r, want, hf_time_in_prev[role]))
        return; /* nothing of this side is asked for */
    uint8_t prev = ts_rec_prev(packed), next = ts_rec_next(packed);
    /* The endpoint is for the side's label and its own field only: fetched
     * only for them, as a stored connection may have to be decoded (store.c).
     * Printing the states alone (-T fields on 4.2+) does not fetch it. */
    const char *endpoint = "?";
    if (ts_labels_shown(tree) || ts_refs_has(r, want, hf_endpoint[role])) {
        const ts_conn_entry *conn = ts_store_conn(conn_id);
        if (conn != NULL && conn->endpoint_text[role] != NULL)
            endpoint = conn->endpoint_text[role];
    }
    proto_item *item = ts_add_string(tree, r, want, hf_state[role], tvb, ts_state_name((ts_state)next));
    if (item != NULL && ts_labels_shown(tree)) {
        /* "Client 192.0.2.1:80: SYN-SENT -> ESTABLISHED" or "...: ESTABLISHED (unchanged)" */
        char label[ITEM_LABEL_LENGTH];
        ts_text t = ts_text_on(label, sizeof label);
        ts_text_put(&t, role == TS_CLIENT ? "Client " : "Server ");
        ts_text_put(&t, endpoint);
        ts_text_put(&t, ": ");
        if (prev != next) {
            ts_text_put(&t, spelled(prev));
            ts_text_put(&t, " -> ");
            ts_text_put(&t, spelled(next));
        } else {
            ts_text_put(&t, spelled(next));
            ts_text_put(&t, " (unchanged)");
        }
        ts_item_set_label(item, label);
    }
    /* Details under the side's line when there is one, beside it otherwise. */
    proto_tree *side = item != NULL ? proto_item_add_subtree(item, ett_side) : tree;
    ts_add_string(side, r, want, hf_prev_state[role], tvb, ts_state_name((ts_state)prev));
    ts_add_string(side, r, want, hf_endpoint[role], tvb, endpoint);
    if (extra != NULL && extra->held_ns[role] > 0 && ts_refs_has(r, want, hf_time_in_prev[role])) {
        nstime_t held;
        ns_to_nstime(extra->held_ns[role], &held);
        item = proto_tree_add_time(side, hf_time_in_prev[role], tvb, 0, 0, &held);
        proto_item_set_generated(item);
        if (ts_labels_shown(tree) && extra->held_ns[role] < TS_NETSTAT_INTERVAL_NS)
            proto_item_append_text(item, " in %s (shorter than the 1 s between two `netstat -c` listings: one "
                                   "shows it with a %.4g%% chance)", spelled(prev),
                                   100.0 * (double)extra->held_ns[role] / (double)TS_NETSTAT_INTERVAL_NS);
        else if (ts_labels_shown(tree))
            proto_item_append_text(item, " in %s", spelled(prev));
    }
}

static void add_corrections(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ts_frame_extra *extra,
                            uint32_t anomalies)
{
    proto_item *item;
    if (extra->corrects != 0) {
        const char *who = extra->corrected_role == TS_CLIENT ? "client" : "server";
        /* One item per frame whose annotation this segment rewrote. */
        guint n = extra->rewritten ? extra->rewritten->len : 0;
        for (guint i = 0; i < n; i++) {
            guint32 f = g_array_index(extra->rewritten, guint32, i);
            if (f != extra->corrects)
                proto_item_set_generated(proto_tree_add_uint(tree, hf_corrects, tvb, 0, 0, f));
        }
        item = proto_tree_add_uint(tree, hf_corrects, tvb, 0, 0, extra->corrects);
        proto_item_set_generated(item);
        switch (extra->correction_kind) {
        case TS_NO_LISTENER:
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CORRECTS],
                                   "Corrects frame %u: no socket listened there; the %s was %s all along",
                                   extra->corrects, who, spelled(extra->corrected_state));
            break;
        case TS_RESET_BY_DATA:
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CORRECTS],
                                   "Corrects frame %u: its data reached a %s whose application had closed, "
                                   "which was reset (%s) and answers with this RST",
                                   extra->corrects, who, spelled(extra->corrected_state));
            break;
        case TS_LOST:
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CORRECTS],
                                   "Corrects frame %u: it never reached the %s, which was still %s",
                                   extra->corrects, who, spelled(extra->corrected_state));
            break;
        case TS_OUT_OF_ORDER:
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CORRECTS],
                                   "Corrects frame %u: it reached the %s beyond a hole (data before it was "
                                   "missing) and waits for it; the %s was still %s",
                                   extra->corrects, who, who, spelled(extra->corrected_state));
            break;
        case TS_DELIVERED:
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CORRECTS],
                                   "Corrects frame %u: the %s had taken it where it was captured (no hole "
                                   "before it after all); it was %s",
                                   extra->corrects, who, spelled(extra->corrected_state));
            break;
        default:
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CORRECTS],
                                   "Corrects frame %u: the %s had not received it when this segment left; "
                                   "it was still %s",
                                   extra->corrects, who, spelled(extra->corrected_state));
            break;
        }
    }
    if (extra->corrected_by != 0) {
        item = proto_tree_add_uint(tree, hf_corrected_by, tvb, 0, 0, extra->corrected_by);
        proto_item_set_generated(item);
        const char *delivery = delivery_text(extra->delivery);
        if (delivery != NULL) {
            item = proto_tree_add_string(tree, hf_delivery, tvb, 0, 0, delivery);
            proto_item_set_generated(item);
        }
        if (anomalies & TS_ANOMALY_BIT(TS_ANOMALY_INFERRED_LOST))
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_INFERRED_LOST],
                                   "Segment inferred lost: it never reached its receiver (frame %u shows it)",
                                   extra->corrected_by);
        else if (anomalies & TS_ANOMALY_BIT(TS_ANOMALY_CROSSED))
            expert_add_info_format(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_CROSSED],
                                   "Crossed: the receiver sent frame %u before this segment reached it",
                                   extra->corrected_by);
    }
}

static void add_notes(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, proto_item *top, uint32_t notes,
                      uint32_t anomalies)
{
    proto_item *item;
    if (notes & TS_NOTE_RETRANSMISSION) {
        item = proto_tree_add_boolean(tree, hf_retransmission, tvb, 0, 0, TRUE);
        proto_item_set_generated(item);
    }
    if (notes & TS_NOTE_KEEPALIVE) {
        item = proto_tree_add_boolean(tree, hf_keepalive, tvb, 0, 0, TRUE);
        proto_item_set_generated(item);
    }
    /* The core's notes that are expert infos of their own, one row each. */
    for (unsigned k = 0; k < TS_ANOMALY_COUNT; k++)
        if ((anomalies & TS_ANOMALY_BIT(k)) != 0 && ts_anomaly_is_note((ts_anomaly)k))
            expert_add_info(pinfo, top, &ts_anomaly_ei[k]);
}

void ts_render(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, uint32_t frame, const ts_frame_record *rec)
{
    const ts_frame_extra *extra = (rec->flags & TS_REC_HAS_EXTRA) ? ts_store_extra(frame) : NULL;
    uint32_t anomalies = ts_anomalies(rec, extra);
    if (rec->conn == 0) {
        proto_item *top = proto_tree_add_item(tree, proto_tcpstate, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(top);
        if (anomalies & TS_ANOMALY_BIT(TS_ANOMALY_QUOTED)) {
            proto_item_append_text(top, ": TCP header quoted in an ICMP error, not a segment");
            expert_add_info(pinfo, top, &ts_anomaly_ei[TS_ANOMALY_QUOTED]);
        } else if (anomalies & TS_ANOMALY_BIT(TS_ANOMALY_INCOMPLETE)) {
            proto_item_append_text(top, ": TCP segment incomplete (header cut, or IP fragments missing), "
                                   "not annotated");
            expert_add_info(pinfo, top, &ts_anomaly_ei[TS_ANOMALY_INCOMPLETE]);
        } else if (anomalies & TS_ANOMALY_BIT(TS_ANOMALY_UNPARSED)) {
            proto_item_append_text(top, ": TCP header not found where Wireshark's addresses and ports say "
                                   "(set the tcpstate \"headers\" preference to fields), not annotated");
            expert_add_info(pinfo, top, &ts_anomaly_ei[TS_ANOMALY_UNPARSED]);
        }
        return;
    }

    uint32_t notes = extra ? extra->notes : 0;
    uint8_t sender = ts_rec_sender(rec), phase = ts_rec_phase(rec), step = ts_rec_step(rec);
    uint8_t packed[2] = {rec->client, rec->server};
    uint8_t next_client = ts_rec_next(rec->client), next_server = ts_rec_next(rec->server);
    gboolean simultaneous = (notes & TS_NOTE_SIMULTANEOUS_OPEN) != 0 || step == 4;

    const gboolean labels = ts_labels_shown(tree);
    /* `-e tcpstate` prints the protocol item's label: from 4.2 tshark asks for
     * it in an invisible tree (ws_compat.h, TS_HF_PRINTED). */
    const gboolean top_label = labels || TS_HF_PRINTED(hfi_tcpstate);
    const ts_refs *r = &render_refs;
    const guint32 want = ts_refs_wanted(r, tree);
    proto_item *top = proto_tree_add_item(tree, proto_tcpstate, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(top);
    proto_tree *st = proto_item_add_subtree(top, ett_tcpstate);
    proto_item *item;

    if (top_label || ts_refs_has(r, want, hf_summary)) {
        /* "<phase>[ <step>/<steps> <segment>]: client <state>, server <state>" */
        char summary[160];
        ts_text t = ts_text_on(summary, sizeof summary);
        ts_text_put(&t, ts_phase_name((ts_phase)phase));
        if (phase == TS_PHASE_HANDSHAKE && step >= 1 && step <= 4) {
            ts_text_put(&t, " ");
            ts_text_uint(&t, step);
            ts_text_put(&t, simultaneous ? "/4 " : "/3 ");
            ts_text_put(&t, (simultaneous ? simultaneous_names : handshake_names)[step]);
        } else if (phase == TS_PHASE_TEARDOWN && step >= 1 && step <= 4) {
            ts_text_put(&t, " ");
            ts_text_uint(&t, step);
            ts_text_put(&t, "/4 ");
            ts_text_put(&t, teardown_names[step]);
            if (notes & TS_NOTE_MERGED_FIN_ACK)
                ts_text_put(&t, "+ACK (2+3)");
        }
        ts_text_put(&t, ": client ");
        ts_text_put(&t, spelled(next_client));
        ts_text_put(&t, ", server ");
        ts_text_put(&t, spelled(next_server));
        if (top_label) {
            char label[ITEM_LABEL_LENGTH];
            ts_text l = ts_text_on(label, sizeof label);
            ts_text_put(&l, proto_get_protocol_name(proto_tcpstate));
            ts_text_put(&l, ": ");
            ts_text_put(&l, summary);
            ts_item_set_label(top, label);
        }
        ts_add_string(st, r, want, hf_summary, tvb, summary);
    }
    ts_add_string(st, r, want, hf_sender, tvb, ts_role_name((ts_role)sender));
    for (int role = 0; role < 2; role++)
        add_side(st, want, tvb, rec->conn, role, packed[role], extra);

    ts_add_string(st, r, want, hf_phase, tvb, ts_phase_name((ts_phase)phase));
    if (phase == TS_PHASE_HANDSHAKE && step != 0) {
        item = ts_add_uint(st, r, want, hf_handshake_step, tvb, step);
        if (item != NULL && labels)
            set_step_label(item, hf_handshake_step, step, simultaneous ? 4u : 3u,
                           (simultaneous ? simultaneous_names : handshake_names)[step], "");
    }
    if (phase == TS_PHASE_TEARDOWN && step != 0) {
        item = ts_add_uint(st, r, want, hf_teardown_step, tvb, step);
        if (item != NULL && labels)
            set_step_label(item, hf_teardown_step, step, 4u, teardown_names[step],
                           (notes & TS_NOTE_MERGED_FIN_ACK)
                               ? ", also acknowledges the first FIN: steps 2 and 3 merged" : "");
    }

    uint8_t prev_client = ts_rec_prev(rec->client), prev_server = ts_rec_prev(rec->server);
    if ((prev_client != next_client || prev_server != next_server) &&
        ts_refs_has(r, want, hf_transition)) {
        /* "client <prev> -> <state>; server <prev> -> <state>", either half alone */
        char transition[96];
        ts_text t = ts_text_on(transition, sizeof transition);
        if (prev_client != next_client) {
            ts_text_put(&t, "client ");
            ts_text_put(&t, ts_state_name((ts_state)prev_client));
            ts_text_put(&t, " -> ");
            ts_text_put(&t, ts_state_name((ts_state)next_client));
        }
        if (prev_server != next_server) {
            ts_text_put(&t, prev_client != next_client ? "; server " : "server ");
            ts_text_put(&t, ts_state_name((ts_state)prev_server));
            ts_text_put(&t, " -> ");
            ts_text_put(&t, ts_state_name((ts_state)next_server));
        }
        ts_add_string(st, r, want, hf_transition, tvb, transition);
    }

    if (extra != NULL && extra->expected_ack != 0) {
        item = proto_tree_add_uint(st, hf_expected_ack, tvb, 0, 0, extra->expected_ack);
        if (labels)
            proto_item_append_text(item, " (the %s's ISN + 1)", sender == TS_CLIENT ? "server" : "client");
        proto_item_set_generated(item);
        item = proto_tree_add_boolean(st, hf_ack_ok, tvb, 0, 0, (notes & TS_NOTE_HANDSHAKE_ACK_OK) != 0);
        proto_item_set_generated(item);
    }
    if (extra != NULL && extra->time_wait_end_ns != 0) {
        nstime_t end;
        ns_to_nstime(extra->time_wait_end_ns, &end);
        item = proto_tree_add_time(st, hf_time_wait_end, tvb, 0, 0, &end);
        if (labels)
            proto_item_append_text(item, " (TIME-WAIT lasts %d s: 2*MSL)", ts_pref_time_wait_s);
        proto_item_set_generated(item);
    }

    if (ts_refs_has(r, want, hf_explanation)) {
        const char *why = explain(phase, step, notes);
        if (why != NULL)
            ts_add_string(st, r, want, hf_explanation, tvb, why);
    }

    if (anomalies & TS_ANOMALY_BIT(TS_ANOMALY_ASSUMED)) {
        const char *reason = (rec->flags & TS_REC_ROLES_GUESSED)
                                 ? "capture began mid-connection: roles guessed from the ports, states assumed"
                                 : "rests on segments that are not in the capture";
        item = proto_tree_add_string(st, hf_assumed, tvb, 0, 0, reason);
        proto_item_set_generated(item);
        expert_add_info(pinfo, item, &ts_anomaly_ei[TS_ANOMALY_ASSUMED]);
    }
    if (extra != NULL) {
        add_notes(st, tvb, pinfo, top, notes, anomalies);
        add_corrections(st, tvb, pinfo, extra, anomalies);
    }
    ts_conn_render(st, tvb, frame, rec); /* conn.c: tcpstate.conn.* */
}

/* The Info column's "[client FIN-WAIT-1, server CLOSE-WAIT]" (preference
 * tcpstate.info_column). Statistics > Flow Graph and `tshark -z flow,any,...`
 * label each arrow with the Info column, so this puts both states on every
 * arrow. It goes first in Info, the way TCP's own "[TCP Retransmission]" does:
 * the GUI's Flow Graph cuts each arrow's label to the arrow's width (about 40
 * characters on Wireshark 4.0 and 4.4 at any window size, docs/gui-flow.png), so
 * states appended after the flags and numbers were never on the arrow. It is
 * drawn from the stored record on every pass, like the tree, so the GUI and
 * tshark -2 show the hindsight states. */
void ts_render_info_column(packet_info *pinfo, const ts_frame_record *rec)
{
    if (rec->conn == 0 || pinfo->cinfo == NULL)
        return;
    col_prepend_fstr(pinfo->cinfo, COL_INFO, "[client %s, server %s] ", spelled(ts_rec_next(rec->client)),
                     spelled(ts_rec_next(rec->server)));
}
