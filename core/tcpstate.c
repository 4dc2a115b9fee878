/*
 * The TCP state machine of tcpstate: two RFC 9293 endpoint machines per
 * connection, driven by captured segments.
 *
 * Each segment is first a SEND event for its sender (send_effects), then a
 * RECEIVE event for the other endpoint (receive_effects, one case per state as
 * in RFC 9293 section 3.10.7). Before that, the segment is read as evidence
 * about earlier receives that the receiver's own behaviour has not confirmed
 * yet (check_evidence): a capture sees a segment leave, not arrive.
 */
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h"

#include <string.h>

/* ---- sequence space, RFC 9293 section 3.4: compare modulo 2^32 ---------- */

static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

static bool has(const ts_segment *seg, unsigned flag) { return (seg->flags & flag) != 0; }

/* Sequence space a segment occupies: SYN and FIN count one each (3.4). */
static uint32_t seg_space(const ts_segment *seg)
{
    return seg->payload_len + (has(seg, TS_TH_SYN) ? 1u : 0u) + (has(seg, TS_TH_FIN) ? 1u : 0u);
}

/* Sequence number of a segment's FIN: after the SYN and the payload. */
static uint32_t fin_position(const ts_segment *seg)
{
    return seg->seq + seg->payload_len + (has(seg, TS_TH_SYN) ? 1u : 0u);
}

/* The acknowledgment number that shows a SYN or FIN arrived: its number + 1
 * (the FIN's when both are set). */
static uint32_t control_end(const ts_segment *seg)
{
    return (has(seg, TS_TH_FIN) ? fin_position(seg) : seg->seq) + 1u;
}

/* ---- rules both paths apply to every ACK and every byte of data -------- */

/* The send of an ACK: the highest acknowledgment its sender has sent. */
static void note_ack_sent(ts_endpoint *ep, uint32_t ack)
{
    if (seq_gt(ack, ep->highest_ack) || ep->highest_ack == 0)
        ep->highest_ack = ack;
}

/* The send of sequence space up to `end`: SND.NXT moves on, never back
 * (a retransmission resends below it). */
static void advance_snd_nxt(ts_endpoint *ep, uint32_t end)
{
    if (ep->snd_nxt == 0 || seq_gt(end, ep->snd_nxt))
        ep->snd_nxt = end;
}

/* One below what was already sent, zero or one byte: a keep-alive or a
 * zero-window probe (RFC 9293 3.8.4, RFC 1122 4.2.3.6); no state moves.
 * (For a segment with neither SYN nor FIN.) */
static bool is_keepalive(const ts_endpoint *ep, const ts_segment *seg)
{
    return seg->payload_len <= 1 && ep->snd_nxt != 0 && seg->seq + 1u == ep->snd_nxt;
}

/* New data past our own FIN is a protocol error (RFC 9293 3.10.2: no SEND
 * after CLOSE). Retransmitted data before the FIN is not. (For a segment
 * without FIN: a FIN sent again after data is the FIN's own case.) */
static bool sends_data_after_fin(const ts_endpoint *ep, const ts_segment *seg)
{
    return ep->fin_sent && seg->payload_len > 0 && seq_gt(seg->seq + seg->payload_len, ep->fin_seq);
}

/* RFC 9293 3.10.7.4, seventh step, the text: RCV.NXT moves over data that
 * starts at or before it and ends after it (in-order, or overlapping). */
static void take_in_order_text(ts_endpoint *ep, const ts_segment *seg)
{
    uint32_t end = seg->seq + seg->payload_len;
    if (seg->payload_len > 0 && ep->rcv_known && seq_le(seg->seq, ep->rcv_nxt) && seq_gt(end, ep->rcv_nxt))
        ep->rcv_nxt = end;
}

static ts_role role_of(const ts_conn *conn, int endpoint)
{
    return (endpoint == 1) == (conn->client_is_b != 0) ? TS_CLIENT : TS_SERVER;
}

static bool is_closed_state(uint8_t state)
{
    return state == TS_CLOSED || state == TS_TIME_WAIT || state == TS_LISTEN;
}

/* What a pending receive carried. */
enum { PENDING_CONTROL = 1, /* a SYN or a FIN: the receiver must ack ctl_end */
       PENDING_ACK = 2,     /* a bare ACK of the receiver's SYN or FIN (acked_ctl) */
       PENDING_RESET = 3 }; /* a RST that reset its receiver */

/* The longest a retransmission timer runs (RFC 6298 2.5 lets it be capped at
 * no less than 60 s; Linux TCP_RTO_MAX is 120 s): a side that a RST did not
 * reach sends again within it. */
#define RTO_MAX_NS (120LL * 1000000000)

/* What an endpoint still owes an acknowledgment for. */
enum { ACK_DUE_NONE = 0, ACK_DUE_SYN = 1, ACK_DUE_FIN = 2 };

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

static void enter_time_wait(ts_conn *conn, ts_endpoint *ep, int64_t now, ts_annotation *out)
{
    ep->state = TS_TIME_WAIT;
    ep->time_wait_end_ns = ts_time_add(now, conn->config.time_wait_ns);
    out->time_wait_end_ns = ep->time_wait_end_ns;
}

/* ---- evidence: did an earlier receive really happen? ----------------------- */

/* Take back a receive: the receiver gets back everything it learnt from the
 * segment; what it has sent since stays. */
static void restore_receive_side(ts_endpoint *ep, const ts_endpoint *before)
{
    ts_endpoint now = *ep;
    *ep = *before;
    ep->isn_known = now.isn_known;
    ep->isn = now.isn;
    ep->snd_nxt = now.snd_nxt;
    ep->fin_sent = now.fin_sent;
    ep->fin_seq = now.fin_seq;
    ep->highest_ack = now.highest_ack;
    ep->window = now.window;
    ep->wscale_opt = now.wscale_opt;
}

static void report(ts_correction *corr, ts_annotation *out, ts_role role, uint8_t state,
                   uint8_t delivery, uint32_t segment_id, uint32_t since_id, bool prev_too)
{
    out->notes |= TS_NOTE_CORRECTS;
    if (corr == NULL)
        return;
    int slot = 0;
    while (slot < TS_MAX_CORRECTIONS && corr[slot].valid)
        slot++;
    if (slot == TS_MAX_CORRECTIONS)
        return; /* cannot happen: at most two per side */
    ts_correction c = {.valid = true, .prev_too = prev_too, .role = (uint8_t)role, .state = state,
                       .delivery = delivery, .segment_id = segment_id, .since_id = since_id};
    /* Two of one side are applied in order, each rewriting from its since_id
     * on: the earlier stretch goes first, whichever rule found it first. */
    int at = slot;
    for (int j = slot - 1; j >= 0; j--)
        if (corr[j].role == c.role && corr[j].since_id > c.since_id)
            at = j;
    for (int j = slot; j > at; j--)
        corr[j] = corr[j - 1];
    corr[at] = c;
}

/* Does seg send again the SYN or FIN that an earlier segment of the same
 * sender carried at `ctl_end - 1`? */
static bool resends_control(const ts_segment *seg, uint32_t ctl_end, bool was_syn)
{
    if (was_syn)
        return has(seg, TS_TH_SYN) && seg->seq + 1u == ctl_end;
    return has(seg, TS_TH_FIN) && fin_position(seg) + 1u == ctl_end;
}

/* Is seg a SYN or FIN its sender has sent before (a retransmission)? */
static bool resends_own_control(const ts_endpoint *ep, const ts_segment *seg)
{
    if (has(seg, TS_TH_SYN) && ep->isn_known && seg->seq == ep->isn)
        return true;
    return has(seg, TS_TH_FIN) && ep->fin_sent && fin_position(seg) == ep->fin_seq;
}

static bool ack_acceptable(const ts_endpoint *ep, uint32_t ack);
static void receive_effects(ts_conn *conn, int r, const ts_segment *seg, ts_annotation *out);

/*
 * A capture shows a segment leave its sender, not reach its receiver. The
 * core first assumes it arrived, keeps what the receiver was before
 * (ts_pending), and lets later segments say otherwise:
 *   1. the sender sends the same SYN or FIN again before any acknowledgment
 *      of it: the first one was lost (RFC 9293 3.8.1, retransmission);
 *   2. the receiver sends a segment whose ack does not cover it (or a SYN
 *      crossing a SYN): it had not arrived yet when that segment left; it
 *      arrives after (the segments crossed, e.g. simultaneous close 3.6);
 *   3. the receiver answers a SYN with a RST: no listener (3.10.7.1, CLOSED);
 *   4. a bare ACK of the receiver's SYN or FIN, followed by the receiver
 *      sending that SYN or FIN again: the ACK was lost (the seed's lost last
 *      ACK: LAST-ACK resends its FIN, TIME-WAIT answers it, RFC 9293 3.6).
 * Each correction names the side, the state it really had, and the first
 * segment whose annotation was wrong; the caller patches what it stored.
 */
static bool carries_syn_fin_or_rst(const ts_segment *seg)
{
    return (seg->flags & (TS_TH_SYN | TS_TH_FIN | TS_TH_RST)) != 0;
}

/* What a segment with no SYN, FIN or RST proves about the receive pending
 * from its peer: none of rules 1-5 below can apply to it (each needs one of
 * those flags), so it only confirms. Anything from the receiver confirms a
 * bare ACK it got (rule 4 needs a resent SYN or FIN); a SYN or FIN arrived
 * once the receiver acknowledges it (RFC 9293 3.4: SEG.ACK covers it). A
 * deferred one stays: it arrives after this segment (the caller applies it). */
static void start_pending(ts_pending *p, ts_pending_detail *detail, const ts_segment *seg, uint8_t kind,
                          const ts_endpoint *rx_before);

/* A SYN-ACK that carries the SYN of an earlier bare SYN from the same side
 * (simultaneous open, RFC 9293 figure 7): the same SYN sent again. */
static bool same_syn_again(const ts_segment *bare_syn, const ts_segment *seg)
{
    return has(bare_syn, TS_TH_SYN) && !has(bare_syn, TS_TH_ACK) && has(seg, TS_TH_SYN) && has(seg, TS_TH_ACK) &&
           !has(seg, TS_TH_FIN) && !has(seg, TS_TH_RST) && seg->seq == bare_syn->seq;
}

/* A control of sender p_s arrived after all: the later receive that stood on
 * it (replay_after) is now the one in question, on its own. It was a bare
 * ACK that moved its receiver (what else it learnt stays): before it, the
 * receiver was as now but in the state it moved from. */
static void settle_control(ts_conn *conn, int p_s)
{
    ts_pending *p = &conn->pending[p_s];
    p->active = 0;
    if (!p->has_after)
        return;
    ts_pending_detail *detail = &conn->pending_detail[p_s];
    ts_endpoint before = conn->ep[1 - p_s];
    before.state = detail->after_from;
    ts_segment after = detail->after;
    start_pending(p, detail, &after, has(&after, TS_TH_SYN) ? PENDING_CONTROL : PENDING_ACK, &before);
}

static void confirm_peer_pending(ts_conn *conn, int p_s, const ts_segment *seg)
{
    ts_pending *peer = &conn->pending[p_s];
    const ts_endpoint *receiver = &conn->ep[1 - p_s];
    if (!peer->active || peer->kind == PENDING_RESET)
        return;
    /* Except a bare ACK of the receiver's own FIN: after its FIN a side has
     * no new data to send, and its data-less segments read the same whether
     * that ACK arrived or not. It stays in question until the FIN is sent
     * again (rule 4) or something replaces it. */
    if (peer->kind == PENDING_ACK && receiver->fin_sent && peer->acked_ctl == receiver->fin_seq + 1u &&
        seg->payload_len == 0)
        return;
    if (peer->kind == PENDING_ACK)
        peer->active = 0;
    else if (!peer->deferred && !peer->held && has(seg, TS_TH_ACK) && seq_ge(seg->ack, peer->ctl_end))
        settle_control(conn, p_s);
}

/* A duplicate ACK: nothing new acknowledged, no data, no control. A receiver
 * sends one when a segment arrives out of order (RFC 9293 3.10.7.4, "send an
 * acknowledgment"; RFC 5681 4.2: at once), so it shows a hole below what it
 * got. (A window update reads the same; see put_back_held.) */
static bool is_duplicate_ack(const ts_endpoint *sender, const ts_segment *seg)
{
    return (seg->flags & (TS_TH_SYN | TS_TH_FIN | TS_TH_RST | TS_TH_ACK)) == TS_TH_ACK &&
           seg->payload_len == 0 && sender->highest_ack != 0 && seg->ack == sender->highest_ack;
}

/* Hold a FIN that its receiver has not taken in sequence: it waits for the
 * hole before it, which starts at `hole_at` (RFC 9293 3.10.7.4, eighth step:
 * a FIN is processed only once everything before it has arrived). */
static void hold(ts_pending *p, uint32_t hole_at, uint32_t since)
{
    p->has_after = 0; /* what stood on it was taken back with it */
    p->held = 1;
    p->hole_at = hole_at;
    p->held_since = since;
}

/* The receiver's own ACK says what it had in sequence when it sent it
 * (SEG.ACK is its RCV.NXT, RFC 9293 3.3.1):
 *   - a duplicate ACK below the start of the peer's FIN segment, after that
 *     FIN was captured: the FIN arrived beyond a hole (data before it was
 *     lost) and was not taken; its receiver is as it was before it;
 *   - an ACK that covers a held FIN: the FIN was taken before this segment
 *     left. If no retransmission filled the hole meanwhile, none was there
 *     (the duplicate ACK had crossed the FIN): the FIN is put back where it
 *     was captured. */
static void read_receivers_ack(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
                               ts_correction *corr)
{
    int r = 1 - s;
    ts_pending *peer = &conn->pending[r];
    ts_pending_detail *detail = &conn->pending_detail[r];
    ts_endpoint *ep = &conn->ep[s];

    if (!peer->active || peer->kind != PENDING_CONTROL || peer->deferred || !has(seg, TS_TH_ACK))
        return;
    if (peer->held) {
        if (seq_lt(seg->ack, peer->ctl_end))
            return;
        ts_segment arrival = detail->seg;
        ts_endpoint before = *ep;
        if (seq_lt(ep->rcv_nxt, arrival.seq))
            ep->rcv_nxt = arrival.seq;
        receive_effects(conn, s, &arrival, out);
        peer->held = 0;
        peer->active = 0;
        if (ep->state != before.state)
            report(corr, out, role_of(conn, s), ep->state, TS_DELIVERED, peer->id, peer->held_since, false);
        return;
    }
    if (!has(&detail->seg, TS_TH_FIN) || has(&detail->seg, TS_TH_SYN) || !is_duplicate_ack(ep, seg) ||
        !seq_lt(seg->ack, detail->seg.seq))
        return;
    restore_receive_side(ep, &detail->rx_before);
    ep->rcv_known = 1;
    ep->rcv_nxt = seg->ack;
    report(corr, out, role_of(conn, s), peer->state_before, TS_OUT_OF_ORDER, peer->id, peer->applied_id, false);
    hold(peer, seg->ack, peer->applied_id);
}

/* Does the segment report a duplicate of the sequence number at `seq`
 * (a D-SACK block, RFC 2883 4: its first block, below SEG.ACK)? */
static bool reports_duplicate(const ts_segment *seg, uint32_t seq)
{
    return (seg->opts & TS_OPT_SACK) && seq_le(seg->sack_left, seq) && seq_gt(seg->sack_right, seq) &&
           seq_le(seg->sack_right, seg->ack);
}

/* Did the answer to a retransmitted SYN or FIN show that its receiver had
 * the first transmission? A D-SACK block for it (RFC 2883 4.1: "a duplicate
 * segment"), or a timestamp echo of the first transmission's (RFC 7323 4.3:
 * a duplicate does not update TS.Recent, so the receiver echoes what it had). */
static bool answer_shows_duplicate(const ts_resend_check *check, const ts_segment *answer)
{
    if (reports_duplicate(answer, check->ctl_seq))
        return true;
    return check->timestamps && (answer->opts & TS_OPT_TIMESTAMPS) &&
           check->original_tsval != check->resend_tsval && answer->tsecr == check->original_tsval;
}

/* The receiver's first answer that acknowledges a retransmitted SYN or FIN
 * settles the loss concluded from it: when the answer shows a duplicate, the
 * first transmission had arrived and only the receiver's ACK was lost; the
 * receiver was as it is now since that first one. */
static void read_resend_answer(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
                               ts_correction *corr)
{
    ts_resend_check *check = &conn->resend_check[1 - s];
    if (!check->active || !has(seg, TS_TH_ACK) || has(seg, TS_TH_RST) || !seq_gt(seg->ack, check->ctl_seq))
        return;
    check->active = 0;
    if (!answer_shows_duplicate(check, seg))
        return;
    if (check->after_id != 0) {
        /* As first shown: the control's state until the later receive, then
         * what that one made of it. */
        report(corr, out, role_of(conn, s), check->after_from, TS_DELIVERED, check->original_id,
               check->since_id, false);
        report(corr, out, role_of(conn, s), conn->ep[s].state, TS_DELIVERED, check->original_id,
               check->after_id, false);
        return;
    }
    report(corr, out, role_of(conn, s), conn->ep[s].state, TS_DELIVERED, check->original_id, check->since_id,
           false);
}

/* A side sends again what it had sent before (data, a SYN or a FIN below its
 * SND.NXT): its retransmission timer ran out, so it was alive all along. */
static bool resends_below_snd_nxt(const ts_endpoint *ep, const ts_segment *seg)
{
    return !has(seg, TS_TH_RST) && seg_space(seg) > 0 && ep->snd_nxt != 0 && seq_lt(seg->seq, ep->snd_nxt);
}

/* A RST that reset its receiver, until the receiver shows otherwise: a
 * retransmission from it proves the RST never took effect (lost, or not
 * acceptable where it arrived), since the retransmission timer outlasts the
 * round trip the RST answered (RFC 6298 2.4). New data or an ACK may have
 * crossed the RST and proves nothing. */
static void read_reset_evidence(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
                                ts_correction *corr)
{
    ts_pending *peer = &conn->pending[1 - s];
    if (!peer->active || peer->kind != PENDING_RESET || !resends_below_snd_nxt(&conn->ep[s], seg))
        return;
    restore_receive_side(&conn->ep[s], &conn->pending_detail[1 - s].rx_before);
    report(corr, out, role_of(conn, s), peer->state_before, TS_LOST, peer->id, peer->applied_id, false);
    peer->active = 0;
}

/* A side shown to have had no listener (it refused the SYN, or sent its own)
 * was CLOSED from the first segment that took it as LISTEN on: earlier SYNs
 * of this connection, lost on the way, found the port closed too
 * (RFC 9293 3.10.7.1). */
static uint32_t no_listener_since(const ts_conn *conn, uint32_t otherwise)
{
    return conn->listener_assumed_since != 0 ? conn->listener_assumed_since : otherwise;
}

/* A control from sender s was taken back and its receiver restored: the
 * sender's later segment that had changed the receiver on top of it arrived
 * all the same (nothing took it back), so it is received again on the
 * restored state, and the frames from it on are corrected to what it does
 * there. */
static void replay_after(ts_conn *conn, int s, const ts_pending *taken_back, uint32_t segment_id,
                         ts_correction *corr, ts_annotation *out)
{
    if (!taken_back->has_after || conn->pending_detail[s].after.id <= taken_back->applied_id)
        return;
    ts_annotation scratch;
    memset(&scratch, 0, sizeof scratch);
    const ts_segment *after = &conn->pending_detail[s].after;
    receive_effects(conn, 1 - s, after, &scratch);
    report(corr, out, role_of(conn, 1 - s), conn->ep[1 - s].state, TS_LOST, segment_id, after->id, false);
}

/* The same SYN went twice, bare and then in the sender's SYN-ACK (a
 * simultaneous open, RFC 9293 figure 7). Had both arrived, the second was a
 * duplicate, and a receiver that offered SACK reports it with a D-SACK in
 * the ACK that answers it (RFC 2883 4.1). A bare ACK that acknowledges the
 * SYN without one is the answer to the SYN-ACK alone: the bare SYN never
 * arrived, and the SYN-ACK is received on the state before it. */
static void read_missing_dsack(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
                               ts_correction *corr)
{
    int r = 1 - s;
    ts_pending *peer = &conn->pending[r];
    const ts_pending_detail *detail = &conn->pending_detail[r];
    if (!peer->active || peer->kind != PENDING_CONTROL || peer->deferred || peer->held || !peer->has_after)
        return;
    const ts_segment *syn = &detail->seg, *synack = &detail->after;
    if (!has(syn, TS_TH_SYN) || has(syn, TS_TH_ACK) || !has(synack, TS_TH_SYN) || !has(synack, TS_TH_ACK) ||
        synack->seq != syn->seq)
        return;
    if (conn->sack_permitted != 3 || !has(seg, TS_TH_ACK) || !seq_ge(seg->ack, peer->ctl_end) ||
        reports_duplicate(seg, syn->seq))
        return;
    restore_receive_side(&conn->ep[s], &detail->rx_before);
    report(corr, out, role_of(conn, s), peer->state_before, TS_LOST, syn->id, peer->applied_id, false);
    replay_after(conn, r, peer, syn->id, corr, out);
    peer->active = 0;
}

static void check_evidence(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
                           ts_correction *corr)
{
    int r = 1 - s;
    ts_pending *own = &conn->pending[s];
    ts_pending *peer = &conn->pending[r];
    const ts_pending_detail *own_detail = &conn->pending_detail[s];
    const ts_pending_detail *peer_detail = &conn->pending_detail[r];
    const ts_segment *last = &conn->last;

    read_resend_answer(conn, s, seg, out, corr);
    read_reset_evidence(conn, s, seg, out, corr);
    if (!carries_syn_fin_or_rst(seg)) {
        read_receivers_ack(conn, s, seg, out, corr);
        read_missing_dsack(conn, s, seg, out, corr);
        confirm_peer_pending(conn, r, seg);
        return;
    }

    /* 5: a RST straight after new data from the peer, from a side that has
     * sent its FIN (FIN-WAIT-1/2): its application had closed, the data reset
     * it on arrival and the RST is the answer (RFC 1122 4.2.2.13; Linux resets
     * in tcp_rcv_state_process or from the FIN-WAIT-2 timewait socket). The
     * side was CLOSED from that data segment on. */
    if (has(seg, TS_TH_RST) && conn->segments > 1 && last->from_b == r && last->payload_len > 0 &&
        has(last, TS_TH_ACK) && seg->seq == last->ack &&
        (conn->ep[s].state == TS_FIN_WAIT_1 || conn->ep[s].state == TS_FIN_WAIT_2)) {
        conn->ep[s].state = TS_CLOSED;
        report(corr, out, role_of(conn, s), TS_CLOSED, TS_RESET_BY_DATA, last->id, last->id, false);
    }

    /* 1: our own SYN or FIN again, still unacknowledged: it never arrived. */
    /* (A SYN-ACK after our bare SYN is the next step of a simultaneous open,
     * not the same SYN again: a resend keeps its ACK flag.) */
    if (own->active && own->kind == PENDING_CONTROL && !own->held &&
        resends_control(seg, own->ctl_end, has(&own_detail->seg, TS_TH_SYN)) &&
        has(seg, TS_TH_ACK) == has(&own_detail->seg, TS_TH_ACK)) {
        uint8_t really = conn->ep[r].state; /* a deferred one was never applied */
        if (!own->deferred) {
            restore_receive_side(&conn->ep[r], &own_detail->rx_before);
            really = own->state_before;
            /* The answer will say whether the receiver had it. Sent again
             * and again, the first transmission stays the one in question:
             * answers lost each time explain every resend at once. */
            ts_resend_check *check = &conn->resend_check[s];
            if (!check->active || check->ctl_seq != own->ctl_end - 1u) {
                check->active = 1;
                check->timestamps = (own_detail->seg.opts & TS_OPT_TIMESTAMPS) != 0;
                check->original_id = own->id;
                check->since_id = own->applied_id;
                check->ctl_seq = own->ctl_end - 1u;
                check->original_tsval = own_detail->seg.tsval;
                check->after_id = own->has_after ? own_detail->after.id : 0;
                check->after_from = own_detail->after_from;
            }
            check->timestamps &= (seg->opts & TS_OPT_TIMESTAMPS) != 0;
            check->resend_tsval = seg->tsval;
        }
        report(corr, out, role_of(conn, r), really, TS_LOST, own->id, own->applied_id, false);
        if (!own->deferred)
            replay_after(conn, s, own, own->id, corr, out);
        own->active = 0;
    }

    if (!peer->active)
        return;
    if (peer->kind == PENDING_CONTROL) {
        bool peer_syn = has(&peer_detail->seg, TS_TH_SYN);
        if (peer->deferred)
            return; /* already known to arrive after this side's next segment */
        if (peer->held) {
            read_receivers_ack(conn, s, seg, out, corr);
            return;
        }
        /* 3: a RST answering the SYN, from a side that never sent a SYN-ACK. */
        if (peer_syn && !has(&peer_detail->seg, TS_TH_ACK) && has(seg, TS_TH_RST) &&
            conn->ep[s].passive && !conn->ep[s].isn_known) {
            restore_receive_side(&conn->ep[s], &peer_detail->rx_before);
            conn->ep[s].state = TS_CLOSED;
            conn->ep[s].passive = 0;
            report(corr, out, role_of(conn, s), TS_CLOSED, TS_NO_LISTENER, peer->id,
                   no_listener_since(conn, peer->applied_id), true);
            peer->active = 0;
            return;
        }
        /* A SYN-ACK whose ack the SYN's sender cannot accept answers another
         * SYN: an old duplicate the capture does not show (RFC 9293 figure 8,
         * line 3-4; 3.10.7.3). The server was LISTEN when that one came, so
         * this SYN had not reached it: it was lost or is still on its way, and
         * its retransmission (figure 8, line 6) is what will arrive. */
        if (peer_syn && !has(&peer_detail->seg, TS_TH_ACK) && has(seg, TS_TH_SYN) && has(seg, TS_TH_ACK) &&
            !has(seg, TS_TH_RST) && !ack_acceptable(&conn->ep[r], seg->ack)) {
            restore_receive_side(&conn->ep[s], &peer_detail->rx_before);
            report(corr, out, role_of(conn, s), peer->state_before, TS_LOST, peer->id, peer->applied_id,
                   false);
            peer->active = 0;
            return;
        }
        if (has(seg, TS_TH_ACK) && seq_ge(seg->ack, peer->ctl_end)) {
            settle_control(conn, r); /* acknowledged: it arrived */
            return;
        }
        /* This side sends its own SYN or FIN again without acknowledging the
         * peer's: it had not taken it when this left (its ACK is its RCV.NXT).
         * Lost, or crossing this one: the peer's next segments tell. Held
         * meanwhile: the peer's retransmission is the one that arrives, or
         * this side's ACK covering it with none between puts it back. */
        if (resends_own_control(&conn->ep[s], seg)) {
            restore_receive_side(&conn->ep[s], &peer_detail->rx_before);
            report(corr, out, role_of(conn, s), peer->state_before, TS_LOST, peer->id,
                   peer->applied_id, false);
            hold(peer, has(seg, TS_TH_ACK) ? seg->ack : peer_detail->seg.seq, peer->applied_id);
            conn->ep[s].rcv_nxt = peer->hole_at;
            return;
        }
        /* 2: this side sends a new SYN or FIN that does not acknowledge the
         * peer's: it had not received it yet. Its state after the peer's
         * segment is the state it sends from; the peer's segment arrives after
         * (the simultaneous open and close of RFC 9293 figures 7 and 13). A
         * mere ACK or data crossing it changes no state: the peer's segment
         * keeps its place, each change belongs to the segment that caused it. */
        if ((has(seg, TS_TH_SYN) || has(seg, TS_TH_FIN)) && !has(seg, TS_TH_RST)) {
            uint8_t really = peer->state_before;
            bool was_no_listener = false;
            restore_receive_side(&conn->ep[s], &peer_detail->rx_before);
            if (peer_syn && has(seg, TS_TH_SYN) && !has(seg, TS_TH_ACK) && really == TS_LISTEN) {
                /* A side that sends its own SYN was no listener: simultaneous open. */
                really = TS_CLOSED;
                was_no_listener = true;
                conn->ep[s].state = TS_CLOSED;
                conn->ep[s].passive = 0;
            }
            report(corr, out, role_of(conn, s), really, TS_DELIVERED_LATE, peer->id,
                   was_no_listener ? no_listener_since(conn, peer->applied_id) : peer->applied_id,
                   was_no_listener);
            peer->deferred = 1;
            peer->has_after = 0; /* what stood on it was taken back with it */
        }
        return;
    }
    /* PENDING_ACK. 4: the receiver sends again what the ACK acknowledged, on
     * its own timer: not as the answer it owes to a SYN or FIN it got again. */
    if (resends_control(seg, peer->acked_ctl, has(seg, TS_TH_SYN)) && !has(seg, TS_TH_RST) &&
        (has(seg, TS_TH_SYN) || has(seg, TS_TH_FIN))) {
        /* The answer it owes to a SYN or FIN it got again was sent when that
         * one arrived, before the ACK that followed it: it says nothing of
         * the ACK, which stays in question. */
        if (conn->ep[s].ack_due != ACK_DUE_NONE)
            return;
        restore_receive_side(&conn->ep[s], &peer_detail->rx_before);
        report(corr, out, role_of(conn, s), peer->state_before, TS_LOST, peer->id, peer->applied_id,
               false);
    }
    peer->active = 0; /* anything else from the receiver confirms it */
}

/* ---- the send event ------------------------------------------------------ */

static bool rst_resets(const ts_endpoint *ep, const ts_segment *seg, ts_annotation *out);

static bool is_synchronized(uint8_t state)
{
    return state >= TS_ESTABLISHED && state <= TS_LAST_ACK;
}

/* Is a RST, that its receiver will not accept, foreign to its sender's own
 * connection? A connection that aborts sends <SEQ=SND.NXT><CTL=RST> (RFC 9293
 * 3.10.5); Linux may send less (up to the peer's window) and a RST answering
 * a segment carries that segment's ACK, never below SND.UNA. So a RST whose
 * number lies outside [SND.UNA, SND.NXT] of a synchronized sender was not
 * sent by that sender's connection (a blind or stale reset, what RFC 5961
 * guards against; the kernel capture rst-out-of-window: the socket whose
 * address it bears never sent it). When its receiver ignores it as well
 * (3.10.7.4 first step: out of window, or a challenge ACK), nothing happened
 * on either side. */
static bool rst_foreign_to_sender(const ts_conn *conn, int s, const ts_segment *seg)
{
    const ts_endpoint *ep = &conn->ep[s];
    const ts_endpoint *peer = &conn->ep[1 - s];
    ts_annotation scratch = {0};

    if (!is_synchronized(ep->state) || (!ep->isn_known && ep->snd_nxt == 0))
        return false;
    if (!is_synchronized(peer->state) || rst_resets(peer, seg, &scratch))
        return false;
    if (seq_gt(seg->seq, ep->snd_nxt))
        return true;
    return peer->highest_ack != 0 && seq_lt(seg->seq, peer->highest_ack);
}

/* What a segment does to its sender. A sender's state moves only by what it
 * sends: a SYN opens (CLOSED -> SYN-SENT), a FIN closes (ESTABLISHED ->
 * FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK), a RST aborts (-> CLOSED), RFC 9293 3.10.4. */
static void send_effects(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out)
{
    ts_endpoint *ep = &conn->ep[s];
    ts_endpoint *peer = &conn->ep[1 - s];
    uint32_t end = seg->seq + seg_space(seg);

    uint32_t acked_before = ep->rcv_nxt;
    bool acked_before_known = ep->rcv_known != 0;

    /* A SYN announces its sender's Window Scale (RFC 7323 2.2); every window
     * after it is read with both SYNs' options. */
    if (has(seg, TS_TH_SYN))
        ep->wscale_opt = seg->wscale_opt;
    ep->window = ts_scaled_window(ep, peer, seg);

    if (has(seg, TS_TH_RST)) {
        /* A RST that answers an unacceptable ACK or SYN-ACK in SYN-SENT
         * (<SEQ=SEG.ACK>, 3.10.7.3, figure 8) leaves the sender waiting; any
         * other RST aborts:
         * the sender is CLOSED, with no TIME-WAIT (3.10.5). A closed port's RST
         * changes nothing. */
        if (ep->state == TS_SYN_SENT && !has(seg, TS_TH_ACK) && ep->rcv_known == 0 &&
            conn->bad_synack_ack_valid && seg->seq == conn->bad_synack_ack)
            return;
        if (rst_foreign_to_sender(conn, s, seg))
            return;
        if (ep->state != TS_LISTEN)
            ep->state = TS_CLOSED;
        return;
    }

    if (has(seg, TS_TH_ACK)) {
        /* Our ack covers bytes the capture never showed from the peer: we got them. */
        if (peer->snd_nxt == 0 && !peer->isn_known && !(conn->seen_from & (1u << (1 - s))))
            peer->snd_nxt = seg->ack;
        if (ep->rcv_known && seq_gt(seg->ack, ep->rcv_nxt))
            ep->rcv_nxt = seg->ack;
        if (!ep->rcv_known) {
            ep->rcv_known = 1;
            ep->rcv_nxt = seg->ack;
        }
        note_ack_sent(ep, seg->ack);
    }

    if (has(seg, TS_TH_SYN)) {
        if (seg->payload_len > 0)
            out->notes |= TS_NOTE_DATA_ON_SYN;
        if (ep->isn_known && seg->seq == ep->isn)
            out->notes |= TS_NOTE_RETRANSMISSION;
        if (!has(seg, TS_TH_ACK)) {
            /* Active open: CLOSED (or a reused TIME-WAIT) -> SYN-SENT. */
            if (ep->state == TS_CLOSED || ep->state == TS_TIME_WAIT || ep->state == TS_LISTEN)
                ep->state = TS_SYN_SENT;
        } else if (ep->state == TS_LISTEN || ep->state == TS_SYN_SENT) {
            /* A SYN-ACK proves its sender got a SYN the capture did not show. */
            ep->passive = ep->state == TS_LISTEN;
            ep->state = TS_SYN_RECEIVED;
            out->notes |= TS_NOTE_STATES_ASSUMED;
        }
        ep->isn_known = 1;
        ep->isn = seg->seq;
        if (!has(seg, TS_TH_ACK) && conn->first_syn_by == 0)
            conn->first_syn_by = (uint8_t)(1 + s);
    } else if (ep->state == TS_SYN_SENT && has(seg, TS_TH_ACK) &&
               !(conn->seen_from & (1u << (1 - s)))) {
        /* An ACK from SYN-SENT acknowledges a SYN-ACK that is not in the capture
         * (one direction only): the sender is ESTABLISHED, the peer SYN-RECEIVED. */
        ep->state = TS_ESTABLISHED;
        ep->ack_due = ACK_DUE_SYN;
        peer->isn_known = 1;
        peer->isn = seg->ack - 1u;
        if (peer->state == TS_LISTEN) {
            peer->state = TS_SYN_RECEIVED;
            peer->passive = 1;
        }
        out->notes |= TS_NOTE_STATES_ASSUMED;
    } else if ((ep->state == TS_FIN_WAIT_1 || ep->state == TS_FIN_WAIT_2) && has(seg, TS_TH_ACK) &&
               !has(seg, TS_TH_FIN) && seg->payload_len == 0 && !(conn->seen_from & (1u << (1 - s))) &&
               acked_before_known && seg->ack == acked_before + 1u && !ep->peer_fin_seen &&
               peer->state == TS_CLOSE_WAIT) {
        /* The same at the other end, one direction only: after our FIN, an
         * ACK that moves exactly one number past all we acknowledged before
         * acknowledges the peer's FIN, which is not in the capture (3.10.7.4
         * eighth step; one byte of data would read the same, and is the less
         * likely answer to our FIN). The peer's FIN acknowledged ours, as a
         * FIN sent after ours arrived does: we are TIME-WAIT (from FIN-WAIT-1
         * through FIN-WAIT-2, the three-segment close), the peer LAST-ACK, and
         * this ACK, received, closes it. */
        peer->fin_sent = 1;
        peer->fin_seq = acked_before;
        peer->snd_nxt = seg->ack;
        peer->state = TS_LAST_ACK;
        ep->peer_fin_seen = 1;
        ep->ack_due = ACK_DUE_FIN;
        enter_time_wait(conn, ep, seg->time_ns, out);
        out->notes |= TS_NOTE_STATES_ASSUMED;
    } else if (ep->state == TS_SYN_RECEIVED && !(conn->seen_from & (1u << (1 - s))) &&
               seg->payload_len > 0) {
        /* Data from SYN-RECEIVED while the peer is never seen: its ACK is missing. */
        ep->state = TS_ESTABLISHED;
        if (peer->state == TS_SYN_SENT)
            peer->state = TS_ESTABLISHED;
        out->notes |= TS_NOTE_STATES_ASSUMED;
    }

    if (!has(seg, TS_TH_FIN) && sends_data_after_fin(ep, seg))
        out->notes |= TS_NOTE_DATA_AFTER_FIN;

    if (has(seg, TS_TH_FIN)) {
        uint32_t fin_seq = fin_position(seg);
        if (ep->fin_sent && fin_seq == ep->fin_seq) {
            out->notes |= TS_NOTE_RETRANSMISSION;
        } else {
            if (ep->fin_sent && seq_gt(fin_seq, ep->fin_seq))
                out->notes |= TS_NOTE_DATA_AFTER_FIN;
            ep->fin_sent = 1;
            ep->fin_seq = fin_seq;
            /* CLOSE from ESTABLISHED or SYN-RECEIVED -> FIN-WAIT-1; from
             * CLOSE-WAIT -> LAST-ACK (RFC 9293 3.10.4). */
            switch (ep->state) {
            case TS_SYN_RECEIVED:
            case TS_ESTABLISHED:
                ep->state = TS_FIN_WAIT_1;
                break;
            case TS_CLOSE_WAIT:
                ep->state = TS_LAST_ACK;
                break;
            default:
                out->notes |= TS_NOTE_UNEXPECTED;
                break;
            }
            if (conn->first_fin_by == 0)
                conn->first_fin_by = (uint8_t)(1 + s);
        }
    } else if (!has(seg, TS_TH_SYN) && is_keepalive(ep, seg)) {
        out->notes |= TS_NOTE_KEEPALIVE;
    }

    advance_snd_nxt(ep, end);
}

/* ---- the receive event: one case per state (RFC 9293 3.10.7) -------------- */

static bool ack_acceptable(const ts_endpoint *ep, uint32_t ack)
{
    /* SND.UNA < SEG.ACK =< SND.NXT, with SND.UNA = ISN before anything is acked. */
    if (!ep->isn_known)
        return true;
    return seq_gt(ack, ep->isn) && seq_le(ack, ep->snd_nxt);
}

static bool acks_our_fin(const ts_endpoint *ep, const ts_segment *seg)
{
    return ep->fin_sent && has(seg, TS_TH_ACK) && seq_ge(seg->ack, ep->fin_seq + 1u);
}

/* A FIN reaches us in order: RFC 9293 3.10.7.4, eighth step. */
static void take_fin(ts_conn *conn, ts_endpoint *ep, uint32_t fin_seq, int64_t now,
                     ts_annotation *out)
{
    if (ep->peer_fin_seen) {
        /* The same FIN again: our ACK was lost. TIME-WAIT restarts its 2MSL. */
        ep->ack_due = ACK_DUE_FIN;
        if (ep->state == TS_TIME_WAIT) {
            enter_time_wait(conn, ep, now, out);
            out->notes |= TS_NOTE_TIME_WAIT_RESTART;
        }
        return;
    }
    ep->peer_fin_seen = 1;
    ep->ack_due = ACK_DUE_FIN;
    ep->rcv_known = 1;
    ep->rcv_nxt = fin_seq + 1u;
    switch (ep->state) {
    case TS_SYN_RECEIVED:
    case TS_ESTABLISHED:
        ep->state = TS_CLOSE_WAIT;
        break;
    case TS_FIN_WAIT_1:
        /* Our FIN not acknowledged yet (else we would be FIN-WAIT-2 by now). */
        ep->state = TS_CLOSING;
        break;
    case TS_FIN_WAIT_2:
        enter_time_wait(conn, ep, now, out);
        break;
    default:
        break; /* CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: remain */
    }
}

/* RST in a synchronized state (RFC 9293 3.10.7.4 first step, with the RFC 5961
 * mitigation it recommends and Linux applies): it resets only if its sequence
 * number is exactly RCV.NXT; in the window but not exact, it earns a challenge
 * ACK; outside, it is dropped. Linux also accepts RCV.NXT-1 once the peer's FIN
 * is in (tcp_reset_check), since the FIN took that number. */
static bool rst_resets(const ts_endpoint *ep, const ts_segment *seg, ts_annotation *out)
{
    if (!ep->rcv_known || seg->seq == ep->rcv_nxt)
        return true;
    if (seg->seq + 1u == ep->rcv_nxt &&
        (ep->state == TS_CLOSE_WAIT || ep->state == TS_LAST_ACK || ep->state == TS_CLOSING))
        return true;
    uint32_t window = ep->window ? ep->window : 1u;
    if (seq_ge(seg->seq, ep->rcv_nxt) && seq_lt(seg->seq, ep->rcv_nxt + window))
        out->notes |= TS_NOTE_RST_CHALLENGE;
    else
        out->notes |= TS_NOTE_RST_IGNORED;
    return false;
}

static void receive_effects(ts_conn *conn, int r, const ts_segment *seg, ts_annotation *out)
{
    ts_endpoint *ep = &conn->ep[r];
    int64_t now = seg->time_ns;

    switch (ep->state) {
    case TS_CLOSED:
        /* 3.10.7.1: no connection; anything but a RST is answered with a RST. */
        return;

    case TS_LISTEN:
        /* 3.10.7.2: RST ignored, ACK answered by RST, SYN opens SYN-RECEIVED. */
        if (has(seg, TS_TH_RST) || has(seg, TS_TH_ACK) || !has(seg, TS_TH_SYN))
            return;
        ep->state = TS_SYN_RECEIVED;
        ep->passive = 1;
        ep->rcv_known = 1;
        ep->rcv_nxt = seg->seq + 1u;
        ep->ack_due = ACK_DUE_SYN;
        return;

    case TS_TIME_WAIT:
        /* A new SYN above what the old connection used may reopen it (RFC 1122
         * 4.2.2.13, RFC 6191; Linux TCP_TW_SYN). */
        if (has(seg, TS_TH_SYN) && !has(seg, TS_TH_ACK) && !has(seg, TS_TH_RST) &&
            (!ep->rcv_known || seq_gt(seg->seq, ep->rcv_nxt))) {
            ep->state = TS_SYN_RECEIVED;
            ep->passive = 1;
            ep->peer_fin_seen = 0;
            ep->fin_sent = 0;
            ep->isn_known = 0;
            ep->rcv_known = 1;
            ep->rcv_nxt = seg->seq + 1u;
            ep->ack_due = ACK_DUE_SYN;
            out->notes |= TS_NOTE_REOPEN_TIME_WAIT;
            return;
        }
        break;

    case TS_SYN_SENT:
        /* 3.10.7.3. First the ACK: it must acknowledge our SYN. */
        if (has(seg, TS_TH_ACK) && !ack_acceptable(ep, seg->ack)) {
            if (has(seg, TS_TH_RST)) {
                out->notes |= TS_NOTE_RST_IGNORED;
                return;
            }
            /* "send a reset <SEQ=SEG.ACK><CTL=RST>, discard the segment and
             * return": we stay SYN-SENT, and so does the RST we send. A SYN-ACK
             * is an old duplicate SYN answered (figure 8); a bare ACK gets the
             * same treatment. */
            if (has(seg, TS_TH_SYN))
                out->notes |= TS_NOTE_SYNACK_BAD_ACK;
            conn->bad_synack_ack = seg->ack;
            conn->bad_synack_ack_valid = 1;
            return;
        }
        if (has(seg, TS_TH_RST)) {
            /* Acceptable only with an ACK of our SYN: "connection refused". */
            if (has(seg, TS_TH_ACK)) {
                ep->state = TS_CLOSED;
                out->notes |= TS_NOTE_REFUSED;
            } else {
                out->notes |= TS_NOTE_RST_IGNORED;
            }
            return;
        }
        if (!has(seg, TS_TH_SYN))
            return;
        ep->rcv_known = 1;
        ep->rcv_nxt = seg->seq + 1u;
        ep->ack_due = ACK_DUE_SYN;
        if (has(seg, TS_TH_ACK)) {
            ep->state = TS_ESTABLISHED;
        } else {
            /* Both sent a SYN: simultaneous open (figure 7). */
            ep->state = TS_SYN_RECEIVED;
            ep->passive = 0;
            conn->simultaneous_open = 1;
            out->notes |= TS_NOTE_SIMULTANEOUS_OPEN;
        }
        return;

    default:
        break;
    }

    /* SYN-RECEIVED and the synchronized states: 3.10.7.4. */
    if (has(seg, TS_TH_RST)) {
        if (!rst_resets(ep, seg, out))
            return;
        /* A passive open goes back to LISTEN; anything else is reset. */
        ep->state = (ep->state == TS_SYN_RECEIVED && ep->passive) ? TS_LISTEN : TS_CLOSED;
        return;
    }
    /* First check, the sequence number: a segment that occupies no sequence
     * space is acceptable only at RCV.NXT or above. One below (a keep-alive
     * probe at RCV.NXT - 1, an old ACK) is answered by an ACK and dropped,
     * its ACK field unread: it changes no state. */
    if (ep->rcv_known && seg_space(seg) == 0 && seq_lt(seg->seq, ep->rcv_nxt))
        return;
    if (has(seg, TS_TH_SYN)) {
        bool same_syn = ep->rcv_known && seg->seq + 1u == ep->rcv_nxt;
        if (!same_syn && !(ep->state == TS_SYN_RECEIVED && !ep->passive)) {
            out->notes |= TS_NOTE_UNEXPECTED; /* challenge ACK (RFC 5961 4) */
            return;
        }
        /* The peer's SYN again: we owe it an ACK (or our SYN-ACK again). */
        if (ep->ack_due == ACK_DUE_NONE)
            ep->ack_due = ACK_DUE_SYN;
    }
    if (!has(seg, TS_TH_ACK))
        return; /* fifth step: without ACK, drop */

    /* Fifth step, the ACK. */
    switch (ep->state) {
    case TS_SYN_RECEIVED:
        if (!ack_acceptable(ep, seg->ack)) {
            out->notes |= TS_NOTE_UNEXPECTED; /* would be answered by RST */
            return;
        }
        ep->state = TS_ESTABLISHED;
        break;
    case TS_FIN_WAIT_1:
        if (acks_our_fin(ep, seg))
            ep->state = TS_FIN_WAIT_2;
        break;
    case TS_CLOSING:
        if (acks_our_fin(ep, seg))
            enter_time_wait(conn, ep, now, out);
        break;
    case TS_LAST_ACK:
        if (acks_our_fin(ep, seg)) {
            ep->state = TS_CLOSED;
            return;
        }
        break;
    default:
        break;
    }

    /* Seventh step, the text. */
    take_in_order_text(ep, seg);

    /* Eighth step, the FIN: only once everything before it has arrived. */
    if (has(seg, TS_TH_FIN)) {
        uint32_t fin_seq = fin_position(seg);
        if (!ep->rcv_known || seq_ge(ep->rcv_nxt, fin_seq))
            take_fin(conn, ep, fin_seq, now, out);
    }
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

/* ---- holes in the receiver's sequence space ------------------------------- */

/* A FIN its receiver could not take: data before it is missing (the
 * capture shows a gap, RFC 9293 3.10.7.4 eighth step). */
static bool fin_beyond_hole(const ts_endpoint *receiver, const ts_segment *seg)
{
    return has(seg, TS_TH_FIN) && !receiver->peer_fin_seen && receiver->rcv_known &&
           seq_lt(receiver->rcv_nxt, fin_position(seg)) && is_synchronized(receiver->state);
}

/* A segment from the sender of a held FIN that covers the first missing
 * number fills the hole, as far as the capture can tell (the receiver's
 * next duplicate ACK says otherwise if it did not): everything up to the
 * FIN is in, and the FIN is taken now (seventh and eighth steps). The held
 * receive stays correctable, now applied at this segment. */
static bool fill_hole(ts_conn *conn, int s, const ts_segment *seg, const ts_endpoint *rx_before,
                      ts_annotation *out)
{
    int r = 1 - s;
    ts_pending *p = &conn->pending[s];
    ts_endpoint *receiver = &conn->ep[r];
    if (!p->active || !p->held || !seq_le(seg->seq, p->hole_at) ||
        !seq_gt(seg->seq + seg_space(seg), p->hole_at))
        return false;
    /* The held control sent again took effect with this segment's own
     * receive: what it changed is measured from before this segment. */
    bool resends_held = (has(seg, TS_TH_SYN) || has(seg, TS_TH_FIN)) && control_end(seg) == p->ctl_end;
    ts_endpoint before = resends_held ? *rx_before : *receiver;
    ts_segment arrival = conn->pending_detail[s].seg;
    arrival.time_ns = seg->time_ns;
    if (seq_lt(receiver->rcv_nxt, arrival.seq))
        receiver->rcv_nxt = arrival.seq;
    /* A segment carrying the held one's SYN again was received as that SYN
     * just now: receiving the held one on top would take its SYN twice. */
    bool same_syn = has(&arrival, TS_TH_SYN) && has(seg, TS_TH_SYN) && seg->seq == arrival.seq;
    if (!same_syn)
        receive_effects(conn, r, &arrival, out);
    p->held = 0;
    p->applied_id = seg->id;
    p->state_before = before.state;
    conn->pending_detail[s].rx_before = before;
    if (resends_held)
        conn->pending_detail[s].seg = *seg; /* this transmission is the one that arrived */
    return true;
}

/* ---- one step -------------------------------------------------------------- */

/* Keep a receive that changed its receiver's state (or, deferred, will), so
 * that later evidence can take it back (check_evidence). Every field is
 * written: no memset, which compilers turn into a slow `rep stos` here. */
static void start_pending(ts_pending *p, ts_pending_detail *detail, const ts_segment *seg, uint8_t kind,
                          const ts_endpoint *rx_before)
{
    p->active = 1;
    p->kind = kind;
    p->state_before = rx_before->state;
    p->deferred = 0;
    p->held = 0;
    p->has_after = 0;
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

/* States from which a segment with no SYN, FIN or RST moves no state of
 * its sender (RFC 9293 3.10.4: only a SYN, a FIN or a RST does; the
 * exceptions in send_effects() need a peer never seen), and in which its
 * receiver stays whatever its ACK says (3.10.7.4, fifth step: only
 * SYN-RECEIVED, FIN-WAIT-1, CLOSING and LAST-ACK wait for an ACK). */
#define SYNCHRONIZED_SENDERS ((1u << TS_ESTABLISHED) | (1u << TS_FIN_WAIT_1) | (1u << TS_FIN_WAIT_2) | \
                              (1u << TS_CLOSE_WAIT))
#define ACK_INDIFFERENT_RECEIVERS ((1u << TS_ESTABLISHED) | (1u << TS_FIN_WAIT_2) | (1u << TS_CLOSE_WAIT))

/* The common case in one place: data or a bare ACK between two ends that
 * have both been seen, both synchronized, where neither can change state:
 * ESTABLISHED both, or one side half-closed (its FIN sent and acknowledged,
 * the other side still sending), with no SYN or FIN owed an ACK. The sender's
 * ACK and window are noted, in-order text moves the receiver's RCV.NXT
 * (seventh step). As evidence it can only confirm the receive pending from
 * the peer (confirm_peer_pending); the sender's own pending receive is
 * untouched (it waits for the peer's segments), and since no state moves
 * this receive starts none. A deferred receive from the peer would arrive
 * after this segment: that is the general path's. This is exactly what
 * ts_conn_step_general() does with such a segment, minus its bookkeeping
 * (the other evidence rules, the classification); tests/unit/test_fast_path.c
 * runs both on the same traffic and requires identical annotations and
 * connection states. Returns false, touching nothing, for any other segment. */
bool ts_conn_step_established(ts_conn *conn, const ts_segment *seg, ts_annotation *out, ts_correction *corr)
{
    int s = seg->from_b ? 1 : 0;
    ts_endpoint *ep = &conn->ep[s], *peer = &conn->ep[1 - s];
    ts_pending *peer_pending = &conn->pending[1 - s];
    if ((seg->flags & (TS_TH_SYN | TS_TH_FIN | TS_TH_RST | TS_TH_ACK)) != TS_TH_ACK ||
        seg->delivery != TS_DELIVERED || !((1u << ep->state) & SYNCHRONIZED_SENDERS) ||
        !((1u << peer->state) & ACK_INDIFFERENT_RECEIVERS) ||
        (peer_pending->active && (peer_pending->deferred || peer_pending->held)) ||
        (conn->pending[s].active && conn->pending[s].held) || conn->resend_check[1 - s].active ||
        conn->seen_from != 3 ||
        ep->ack_due != ACK_DUE_NONE || !ep->rcv_known || !peer->rcv_known)
        return false;

    memset(out, 0, sizeof *out);
    if (corr != NULL)
        for (int i = 0; i < TS_MAX_CORRECTIONS; i++)
            corr[i].valid = false;
    conn->segments++;
    confirm_peer_pending(conn, 1 - s, seg);

    /* The send: our ACK and window (send_effects). */
    ep->window = ts_scaled_window(ep, peer, seg);
    if (seq_gt(seg->ack, ep->rcv_nxt))
        ep->rcv_nxt = seg->ack;
    note_ack_sent(ep, seg->ack);
    if (sends_data_after_fin(ep, seg))
        out->notes |= TS_NOTE_DATA_AFTER_FIN;
    if (is_keepalive(ep, seg))
        out->notes |= TS_NOTE_KEEPALIVE;
    advance_snd_nxt(ep, seg->seq + seg->payload_len);

    /* The receive: in-order text (receive_effects, seventh step). */
    take_in_order_text(peer, seg);

    conn->last = *seg;
    conn->last.from_b = (uint8_t)s;
    if (conn->mid_stream)
        out->notes |= TS_NOTE_ROLES_GUESSED | TS_NOTE_STATES_ASSUMED;
    ts_role sender = role_of(conn, s);
    out->sender = (uint8_t)sender;
    out->prev[sender] = out->next[sender] = ep->state;
    out->prev[1 - sender] = out->next[1 - sender] = peer->state;
    out->phase = TS_PHASE_DATA;
    return true;
}

void ts_conn_step(ts_conn *conn, const ts_segment *seg, ts_annotation *out, ts_correction *corr)
{
    if (!ts_conn_step_established(conn, seg, out, corr))
        ts_conn_step_general(conn, seg, out, corr);
}

void ts_conn_step_general(ts_conn *conn, const ts_segment *seg, ts_annotation *out, ts_correction *corr)
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
         * control back replays this one (replay_after). */
        if (p->active && p->kind == PENDING_CONTROL && !p->held && !p->deferred && !p->has_after &&
            (!carries_control || same_syn_again(&conn->pending_detail[s].seg, seg))) {
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

ts_state ts_conn_endpoint_state(const ts_conn *conn, int endpoint, int64_t time_ns,
                                int64_t *time_wait_end_ns)
{
    const ts_endpoint *ep = &conn->ep[endpoint ? 1 : 0];
    if (time_wait_end_ns != NULL)
        *time_wait_end_ns = ep->time_wait_end_ns;
    if (ep->state == TS_TIME_WAIT && ep->time_wait_end_ns != 0 && time_ns >= ep->time_wait_end_ns)
        return TS_CLOSED;
    return (ts_state)ep->state;
}

ts_role ts_conn_role_of(const ts_conn *conn, int endpoint)
{
    return role_of(conn, endpoint);
}

bool ts_conn_forgettable(const ts_conn *conn, int64_t now_ns)
{
    for (int e = 0; e < 2; e++) {
        const ts_pending *p = &conn->pending[e];
        if (p->active && p->kind == PENDING_RESET &&
            now_ns < ts_time_add(conn->pending_detail[e].seg.time_ns, RTO_MAX_NS))
            return false;
        if (ts_conn_endpoint_state(conn, e, now_ns, NULL) != TS_CLOSED)
            return false;
    }
    return true;
}

bool ts_conn_finished(const ts_conn *conn)
{
    return conn->started && is_closed_state(conn->ep[0].state) &&
           is_closed_state(conn->ep[1].state) && conn->ep[0].state != TS_LISTEN &&
           conn->ep[1].state != TS_LISTEN;
}
