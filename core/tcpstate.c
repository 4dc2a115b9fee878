/*
 * The TCP state machine of tcpstate: two RFC 9293 endpoint machines per
 * connection, driven by captured segments.
 *
 * Each segment is first a SEND event for its sender (send_effects), then a
 * RECEIVE event for the other endpoint (receive_effects, one case per state as
 * in RFC 9293 section 3.10.7): send_receive.c. Before that, the segment is
 * read as evidence about earlier receives that the receiver's own behaviour
 * has not confirmed yet (check_evidence): a capture sees a segment leave, not
 * arrive: evidence.c. Here: a connection's set-up and incarnations, one step,
 * the phase and steps of a segment, and the queries.
 */
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h"

#include <string.h>

/* ---- set-up ---------------------------------------------------------------- */

void ts_conn_init(ts_conn *conn, const ts_config *config)
{
    memset(conn, 0, sizeof *conn);
    conn->config = *config;
    conn->ep[0].state = TS_CLOSED;
    conn->ep[1].state = TS_CLOSED;
}

void ts_conn_inherit(ts_conn *conn, int endpoint, ts_state state, int64_t time_wait_end_ns)
{
    if (endpoint < 0 || endpoint > 1 || (unsigned)state >= TS_STATE_COUNT)
        return;
    conn->ep[endpoint].state = (uint8_t)state;
    conn->ep[endpoint].time_wait_end_ns = time_wait_end_ns;
}

/* Which port is the server's when the capture missed the SYN: a well-known
 * port (< 1024) beats a registered one, and anything beats an ephemeral one
 * (>= 32768, the Linux and IANA ranges start there or above); else the lower. */
static bool src_port_looks_like_server(uint16_t src, uint16_t dst)
{
    if ((src < 1024) != (dst < 1024))
        return src < 1024;
    if ((src >= 32768) != (dst >= 32768))
        return src < 32768;
    return src < dst;
}

static void reset_incarnation(ts_conn *conn)
{
    memset(conn->pending, 0, sizeof conn->pending);
    memset(conn->pending_detail, 0, sizeof conn->pending_detail);
    memset(conn->resend_check, 0, sizeof conn->resend_check);
    conn->simultaneous_open = 0;
    conn->first_fin_by = 0;
    conn->first_syn_by = 0;
    conn->synack_count = 0;
    conn->sack_permitted = 0;
    conn->mid_stream = 0;
    conn->listener_assumed_since = 0;
    for (int e = 0; e < 2; e++) {
        /* A side still in TIME-WAIT keeps what it knows of the old sequence
         * space: a new SYN must come above it (RFC 1122 4.2.2.13). */
        ts_endpoint old = conn->ep[e];
        memset(&conn->ep[e], 0, sizeof conn->ep[e]);
        conn->ep[e].state = old.state;
        conn->ep[e].time_wait_end_ns = old.time_wait_end_ns;
        if (old.state == TS_TIME_WAIT) {
            conn->ep[e].rcv_known = old.rcv_known;
            conn->ep[e].rcv_nxt = old.rcv_nxt;
        }
    }
}

/*
 * The first segment of a connection (or of a new one on the same ports) fixes
 * the roles and the states before it.
 *   SYN          : its sender is the client (CLOSED, or TIME-WAIT if an earlier
 *                  connection left it there); the server is LISTEN (or TIME-WAIT).
 *   SYN-ACK      : the capture missed the SYN; the sender is the server, already
 *                  SYN-RECEIVED, the client SYN-SENT.
 *   anything else: the capture began mid-connection; roles come from the ports
 *                  and both ends are taken as ESTABLISHED.
 */
static void start_incarnation(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out)
{
    int r = 1 - s;
    bool reopening = conn->started;

    reset_incarnation(conn);
    conn->started = 1;
    conn->incarnation++;
    if (reopening)
        out->notes |= TS_NOTE_NEW_CONNECTION;

    if (has(seg, TS_TH_SYN) && !has(seg, TS_TH_ACK)) {
        conn->client_is_b = (uint8_t)(s == 1);
        if (conn->ep[s].state != TS_TIME_WAIT)
            conn->ep[s].state = TS_CLOSED;
        if (conn->ep[r].state != TS_TIME_WAIT) {
            conn->ep[r].state = TS_LISTEN;
            conn->listener_assumed_since = seg->id;
        }
        return;
    }
    if (has(seg, TS_TH_SYN) && has(seg, TS_TH_ACK)) {
        conn->client_is_b = (uint8_t)(r == 1);
        conn->ep[s].state = TS_SYN_RECEIVED;
        conn->ep[s].passive = 1;
        conn->ep[s].rcv_known = 1;
        conn->ep[s].rcv_nxt = seg->ack;
        conn->ep[r].state = TS_SYN_SENT;
        conn->ep[r].isn_known = 1;
        conn->ep[r].isn = seg->ack - 1u;
        conn->ep[r].snd_nxt = seg->ack;
        conn->first_syn_by = (uint8_t)(1 + r);
        out->notes |= TS_NOTE_STATES_ASSUMED;
        return;
    }
    conn->mid_stream = 1;
    conn->client_is_b = (uint8_t)src_port_looks_like_server(seg->src_port, seg->dst_port);
    if (s == 1)
        conn->client_is_b = (uint8_t)!conn->client_is_b;
    conn->ep[s].state = TS_ESTABLISHED;
    conn->ep[r].state = TS_ESTABLISHED;
    conn->ep[s].snd_nxt = seg->seq;
    conn->ep[r].rcv_known = 1;
    conn->ep[r].rcv_nxt = seg->seq;
    if (has(seg, TS_TH_ACK)) {
        conn->ep[s].rcv_known = 1;
        conn->ep[s].rcv_nxt = seg->ack;
        conn->ep[r].snd_nxt = seg->ack;
    }
}

/* A SYN from a side whose connection is over starts a new connection on the
 * same ports (RFC 9293 3.6: a closed or TIME-WAIT socket may be reused). A SYN
 * with the ISN already used is a retransmission, not a new connection. */
static bool starts_new_incarnation(const ts_conn *conn, int s, const ts_segment *seg)
{
    const ts_endpoint *ep = &conn->ep[s];
    if (!conn->started)
        return true;
    if (!has(seg, TS_TH_SYN) || has(seg, TS_TH_ACK) || has(seg, TS_TH_RST))
        return false;
    if (ep->state != TS_CLOSED && ep->state != TS_TIME_WAIT)
        return false;
    return !(ep->isn_known && seg->seq == ep->isn);
}

/* TIME-WAIT ends 2*MSL after it began (RFC 9293 3.10.7.4, TIME-WAIT: "restart
 * the 2 MSL timeout"); Linux uses a fixed 60 s. A side whose wait ran out
 * before this segment is CLOSED when the segment comes. */
static void expire_time_wait(ts_conn *conn, int64_t now, ts_annotation *out)
{
    for (int e = 0; e < 2; e++) {
        ts_endpoint *ep = &conn->ep[e];
        if (ep->state == TS_TIME_WAIT && ep->time_wait_end_ns != 0 && now >= ep->time_wait_end_ns) {
            ep->state = TS_CLOSED;
            out->notes |= TS_NOTE_TIME_WAIT_ENDED;
        }
    }
}

void enter_time_wait(ts_conn *conn, ts_endpoint *ep, int64_t now, ts_annotation *out)
{
    ep->state = TS_TIME_WAIT;
    ep->time_wait_end_ns = ts_time_add(now, conn->config.time_wait_ns);
    out->time_wait_end_ns = ep->time_wait_end_ns;
}

/* ---- phase and steps ------------------------------------------------------ */

static void classify(ts_conn *conn, int s, const ts_segment *seg, bool acked_first_syn,
                     uint8_t acked_fin_of, bool both_closed_before, ts_annotation *out)
{
    int r = 1 - s;

    if (both_closed_before && !has(seg, TS_TH_SYN)) {
        out->phase = TS_PHASE_CLOSED;
        out->notes |= TS_NOTE_AFTER_CLOSE;
        return;
    }
    if (has(seg, TS_TH_RST)) {
        out->phase = TS_PHASE_RESET;
        return;
    }
    if (has(seg, TS_TH_SYN)) {
        out->phase = TS_PHASE_HANDSHAKE;
        if (!has(seg, TS_TH_ACK)) {
            /* The second bare SYN is step 2 of a simultaneous open. */
            out->handshake_step = conn->first_syn_by == 1 + r ? 2 : 1;
        } else if (conn->simultaneous_open) {
            out->handshake_step = (uint8_t)(conn->synack_count <= 1 ? 3 : 4);
        } else {
            out->handshake_step = 2;
        }
        return;
    }
    if (has(seg, TS_TH_FIN)) {
        out->phase = TS_PHASE_TEARDOWN;
        out->teardown_step = conn->first_fin_by == 1 + s ? 1 : 3;
        if (out->teardown_step == 3 && acked_fin_of == 1 + r)
            out->notes |= TS_NOTE_MERGED_FIN_ACK;
        return;
    }
    if (acked_fin_of != 0) {
        out->phase = TS_PHASE_TEARDOWN;
        out->teardown_step = conn->first_fin_by == acked_fin_of ? 2 : 4;
        return;
    }
    if (acked_first_syn && !conn->simultaneous_open) {
        out->phase = TS_PHASE_HANDSHAKE;
        out->handshake_step = 3;
        return;
    }
    out->phase = TS_PHASE_DATA;
}

/* ---- one step -------------------------------------------------------------- */

/* Keep a receive that changed its receiver's state (or, deferred, will), so
 * that later evidence can take it back (check_evidence). Every field is
 * written: no memset, which compilers turn into a slow `rep stos` here. */
void start_pending(ts_pending *p, ts_pending_detail *detail, const ts_segment *seg, uint8_t kind,
                   const ts_endpoint *rx_before)
{
    p->active = 1;
    p->kind = kind;
    p->state_before = rx_before->state;
    p->deferred = 0;
    p->held = 0;
    p->has_after = 0;
    p->crossed = 0;
    p->hole_at = 0;
    p->held_since = 0;
    p->id = seg->id;
    p->applied_id = seg->id;
    p->ctl_end = kind == PENDING_CONTROL ? control_end(seg) : 0;
    /* A bare ACK: the receiver's control it acknowledged, its FIN if it
     * had one, else its SYN. */
    p->acked_ctl = kind == PENDING_ACK ? (rx_before->fin_sent ? rx_before->fin_seq + 1u : rx_before->isn + 1u) : 0;
    detail->rx_before = *rx_before;
    detail->seg = *seg;
}

static void snapshot_prev(const ts_conn *conn, ts_annotation *out)
{
    for (int e = 0; e < 2; e++)
        out->prev[role_of(conn, e)] = conn->ep[e].state;
}

void ts_conn_step(ts_conn *conn, const ts_segment *seg, ts_annotation *out, ts_correction *corr)
{
    int s = seg->from_b ? 1 : 0;
    int r = 1 - s;

    memset(out, 0, sizeof *out);
    if (corr != NULL)
        memset(corr, 0, sizeof(ts_correction) * TS_MAX_CORRECTIONS);

    expire_time_wait(conn, seg->time_ns, out);
    if (starts_new_incarnation(conn, s, seg))
        start_incarnation(conn, s, seg, out);
    conn->segments++;
    if (has(seg, TS_TH_SYN) && (seg->opts & TS_OPT_SACK_PERMITTED))
        conn->sack_permitted |= (uint8_t)(1u << s);

    check_evidence(conn, s, seg, out, corr);
    /* Whatever the assumed listener sends settles whether it listened, and so
     * does the client acknowledging something of it (a one-direction capture). */
    if (role_of(conn, s) == TS_SERVER || (has(seg, TS_TH_ACK) && !has(seg, TS_TH_RST)))
        conn->listener_assumed_since = 0;

    snapshot_prev(conn, out);
    bool both_closed_before = conn->segments > 1 && is_closed_state(conn->ep[s].state) &&
                              is_closed_state(conn->ep[r].state) &&
                              !(conn->ep[s].state == TS_LISTEN);
    uint8_t reopen_from = conn->ep[r].state;
    uint8_t s_was = conn->ep[s].state;

    send_effects(conn, s, seg, out);

    /* What this segment acknowledges for the first time (for the steps). */
    ts_endpoint *sender = &conn->ep[s];
    bool acked_first_syn = false;
    uint8_t acked_fin_of = 0;
    if (has(seg, TS_TH_ACK) && !has(seg, TS_TH_RST) && sender->ack_due != ACK_DUE_NONE &&
        sender->rcv_known && seq_ge(seg->ack, sender->rcv_nxt)) {
        if (sender->ack_due == ACK_DUE_SYN)
            acked_first_syn = true;
        else
            acked_fin_of = (uint8_t)(1 + r);
        sender->ack_due = ACK_DUE_NONE;
    }
    if (has(seg, TS_TH_SYN) && has(seg, TS_TH_ACK) && !has(seg, TS_TH_RST))
        conn->synack_count++;
    if (s_was == TS_TIME_WAIT && conn->ep[s].state == TS_SYN_SENT)
        out->notes |= TS_NOTE_REOPEN_TIME_WAIT;

    /* A receive the peer was shown to have missed arrives after its next segment. */
    ts_pending *late = &conn->pending[r];
    if (late->active && late->deferred) {
        ts_endpoint before = conn->ep[s];
        /* It arrives after this segment left, so whatever it starts on a
         * clock starts then, not at its own earlier capture time: a TIME-WAIT
         * it causes (3.10.7.4, eighth step, FIN-WAIT-2: "start the time-wait
         * timer") runs 2*MSL from this segment on. This segment's time is the
         * earliest the arrival can be; a capture taken at the receiver sees
         * the arrival right after it. */
        ts_segment arrival = conn->pending_detail[r].seg;
        if (seg->time_ns > arrival.time_ns)
            arrival.time_ns = seg->time_ns;
        receive_effects(conn, s, &arrival, out);
        late->deferred = 0;
        late->applied_id = seg->id;
        conn->pending_detail[r].rx_before = before;
        late->state_before = before.state;
        if (late->state_before != conn->ep[s].state && has(&conn->pending_detail[r].seg, TS_TH_FIN) &&
            conn->ep[s].state == TS_CLOSING)
            out->notes |= TS_NOTE_SIMULTANEOUS_CLOSE;
    }

    /* The receive, unless hindsight says it did not happen here. */
    ts_endpoint rx_before = conn->ep[r];
    switch (seg->delivery) {
    case TS_LOST:
        out->notes |= TS_NOTE_NOT_RECEIVED;
        break;
    case TS_NO_LISTENER:
        /* No socket on that port: the receiver was CLOSED all along. */
        if (conn->ep[r].state == TS_LISTEN) {
            conn->ep[r].state = TS_CLOSED;
            out->prev[role_of(conn, r)] = TS_CLOSED;
        }
        break;
    case TS_DELIVERED_LATE:
        out->notes |= TS_NOTE_DELIVERED_LATE;
        break;
    default:
        receive_effects(conn, r, seg, out);
        break;
    }
    bool filled = seg->delivery == TS_DELIVERED && fill_hole(conn, s, seg, &rx_before, out);
    if (rx_before.state == TS_FIN_WAIT_1 && has(seg, TS_TH_FIN) && conn->ep[r].state == TS_CLOSING)
        out->notes |= TS_NOTE_SIMULTANEOUS_CLOSE;
    if (reopen_from == TS_TIME_WAIT && conn->ep[r].state == TS_SYN_RECEIVED)
        out->notes |= TS_NOTE_REOPEN_TIME_WAIT;

    /* Keep what the receive changed, so later evidence can take it back. */
    ts_pending *p = &conn->pending[s];
    bool carries_control = has(seg, TS_TH_SYN) || has(seg, TS_TH_FIN);
    bool peer_ever_seen = (conn->seen_from & (1u << r)) != 0 || has(seg, TS_TH_SYN);
    if (filled) {
        /* the held FIN took effect here: it stays correctable as before */
    } else if (has(seg, TS_TH_RST) && peer_ever_seen && seg->delivery == TS_DELIVERED &&
               rx_before.state != conn->ep[r].state) {
        start_pending(p, &conn->pending_detail[s], seg, PENDING_RESET, &rx_before);
    } else if (has(seg, TS_TH_RST) || !peer_ever_seen) {
        p->active = 0; /* nothing later could take it back */
    } else if (seg->delivery == TS_DELIVERED && fin_beyond_hole(&conn->ep[r], seg)) {
        if (!(p->active && p->held && p->ctl_end == control_end(seg))) {
            start_pending(p, &conn->pending_detail[s], seg, PENDING_CONTROL, &rx_before);
            hold(p, conn->ep[r].rcv_nxt, seg->id);
        }
    } else if (seg->delivery == TS_DELIVERED_LATE && carries_control) {
        static const ts_endpoint not_yet_received = {0};
        start_pending(p, &conn->pending_detail[s], seg, PENDING_CONTROL, &not_yet_received);
        p->deferred = 1;
        conn->pending_detail[s].seg.delivery = TS_DELIVERED;
    } else if (seg->delivery == TS_DELIVERED && rx_before.state != conn->ep[r].state) {
        /* A segment that changes its receiver on top of this sender's own
         * control still in question: kept beside it, so that taking the
         * control back replays this one (replay_after), or, for a control
         * held as crossed, so that finding it arrived after all knows where
         * the next stretch begins (fill_hole). */
        if (p->active && p->kind == PENDING_CONTROL && (!p->held || (p->crossed && !carries_control)) &&
            !p->deferred && !p->has_after && (!carries_control || same_syn_again(&conn->pending_detail[s].seg, seg))) {
            p->has_after = 1;
            conn->pending_detail[s].after = *seg;
            conn->pending_detail[s].after_from = rx_before.state;
        } else {
            start_pending(p, &conn->pending_detail[s], seg, carries_control ? PENDING_CONTROL : PENDING_ACK,
                          &rx_before);
        }
    }
    conn->seen_from |= (uint8_t)(1u << s);
    conn->last = *seg;
    conn->last.from_b = (uint8_t)s;

    /* Handshake check: the SYN-ACK and the third segment must acknowledge the
     * peer's ISN + 1 (RFC 9293 3.5). */
    if (has(seg, TS_TH_ACK) && (has(seg, TS_TH_SYN) || acked_first_syn) &&
        conn->ep[r].isn_known) {
        /* ISN + 1, or more when the SYN carried data that was accepted (TFO). */
        out->expected_ack = conn->ep[r].isn + 1u;
        if (ack_acceptable(&conn->ep[r], seg->ack))
            out->notes |= TS_NOTE_HANDSHAKE_ACK_OK;
    }
    if (conn->mid_stream)
        out->notes |= TS_NOTE_ROLES_GUESSED | TS_NOTE_STATES_ASSUMED;
    if (!(conn->seen_from & (1u << r)) && conn->segments > 1 && !has(seg, TS_TH_SYN))
        out->notes |= TS_NOTE_STATES_ASSUMED; /* one direction only so far */

    out->sender = (uint8_t)role_of(conn, s);
    for (int e = 0; e < 2; e++)
        out->next[role_of(conn, e)] = conn->ep[e].state;
    classify(conn, s, seg, acked_first_syn, acked_fin_of, both_closed_before, out);
}

/* ---- queries ----------------------------------------------------------------- */

/* Data that reaches a side in FIN-WAIT-1/2 may turn out, with the next
 * segment, to have reset it (evidence 5): the last segment stays correctable. */
static bool last_may_reset_receiver(const ts_conn *conn)
{
    const ts_segment *last = &conn->last;
    uint8_t receiver = conn->ep[last->from_b ? 0 : 1].state;
    return conn->segments > 0 && last->payload_len > 0 &&
           (receiver == TS_FIN_WAIT_1 || receiver == TS_FIN_WAIT_2);
}

uint32_t ts_conn_correctable_since(const ts_conn *conn)
{
    uint32_t since = UINT32_MAX;
    for (int e = 0; e < 2; e++) {
        if (conn->pending[e].active && conn->pending[e].id < since)
            since = conn->pending[e].id;
        if (conn->resend_check[e].active && conn->resend_check[e].since_id < since)
            since = conn->resend_check[e].since_id;
    }
    if (last_may_reset_receiver(conn) && conn->last.id < since)
        since = conn->last.id;
    if (conn->listener_assumed_since != 0 && conn->listener_assumed_since < since)
        since = conn->listener_assumed_since; /* until the server's first segment */
    return since;
}

/* From when an end is CLOSED by the passing of time alone: now (CLOSED), or at
 * the end of its TIME-WAIT (RFC 9293 3.10.7.4: the 2*MSL timer). False: not by
 * time (open, or a TIME-WAIT whose end is unknown). */
static bool closed_from(const ts_endpoint *ep, int64_t *from_ns)
{
    if (ep->state == TS_CLOSED) {
        *from_ns = INT64_MIN;
        return true;
    }
    if (ep->state == TS_TIME_WAIT && ep->time_wait_end_ns != 0) {
        *from_ns = ep->time_wait_end_ns;
        return true;
    }
    return false;
}

ts_state ts_conn_endpoint_state(const ts_conn *conn, int endpoint, int64_t time_ns,
                                int64_t *time_wait_end_ns)
{
    const ts_endpoint *ep = &conn->ep[endpoint ? 1 : 0];
    if (time_wait_end_ns != NULL)
        *time_wait_end_ns = ep->time_wait_end_ns;
    int64_t from;
    if (ep->state == TS_TIME_WAIT && closed_from(ep, &from) && time_ns >= from)
        return TS_CLOSED;
    return (ts_state)ep->state;
}

ts_role ts_conn_role_of(const ts_conn *conn, int endpoint)
{
    return role_of(conn, endpoint);
}

bool ts_conn_forgettable_from(const ts_conn *conn, int64_t *from_ns)
{
    int64_t from = INT64_MIN;
    for (int e = 0; e < 2; e++) {
        int64_t closed;
        if (!closed_from(&conn->ep[e], &closed))
            return false;
        if (closed > from)
            from = closed;
        /* A RST that closed its receiver may yet meet the receiver's proof of
         * life (it never arrived) until the sender's retransmission timer,
         * at most RFC 6298's cap, has run out. */
        const ts_pending *p = &conn->pending[e];
        if (p->active && p->kind == PENDING_RESET) {
            int64_t until = ts_time_add(conn->pending_detail[e].seg.time_ns, RTO_MAX_NS);
            if (until > from)
                from = until;
        }
    }
    *from_ns = from;
    return true;
}

bool ts_conn_forgettable(const ts_conn *conn, int64_t now_ns)
{
    int64_t from;
    return ts_conn_forgettable_from(conn, &from) && now_ns >= from;
}

bool ts_conn_finished(const ts_conn *conn)
{
    return conn->started && is_closed_state(conn->ep[0].state) &&
           is_closed_state(conn->ep[1].state) && conn->ep[0].state != TS_LISTEN &&
           conn->ep[1].state != TS_LISTEN;
}

size_t ts_conn_size(void)
{
    return sizeof(ts_conn);
}

uint32_t ts_conn_incarnation(const ts_conn *conn)
{
    return conn->incarnation;
}

/* RFC 9293 3.4.1: each new connection takes a new initial sequence number from
 * a clock, so a SYN carrying the number this end opened with is that opening
 * sent again, not a new connection. */
bool ts_conn_repeats_open(const ts_conn *conn, int endpoint, const ts_segment *seg)
{
    const ts_endpoint *ep = &conn->ep[endpoint & 1];
    return (seg->flags & (TS_TH_SYN | TS_TH_ACK | TS_TH_RST)) == TS_TH_SYN && conn->first_syn_by == 1 + (endpoint & 1) &&
           ep->isn_known && ep->isn == seg->seq;
}

void ts_conn_compact(ts_conn *conn)
{
    /* A ts_pending and its detail are read only while it is active, and
     * rewritten when one starts (start_pending; the detail's `after` is read
     * only once has_after says it was written): an inactive one is a
     * leftover. robustness.cold_agree compares connections kept plain with
     * connections compacted and compressed between every segment. */
    for (int e = 0; e < 2; e++)
        if (!conn->pending[e].active) {
            memset(&conn->pending[e], 0, sizeof conn->pending[e]);
            memset(&conn->pending_detail[e], 0, sizeof conn->pending_detail[e]);
        }
}
