/*
 * Holes in a receiver's sequence space (RFC 9293 3.10.7.4, seventh and eighth
 * steps: segments are taken in sequence, and a FIN only once everything before
 * it has arrived). A FIN captured beyond a hole is held, not received; the
 * segment from its sender that covers the first missing number fills the hole
 * and the FIN is taken then. A control held because it crossed its receiver's
 * own, and sent again, asks the receiver's answer which copy arrived.
 * Evidence that takes a held receive back is evidence.c's.
 */
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h"

/* Hold a FIN that its receiver has not taken in sequence: it waits for the
 * hole before it, which starts at `hole_at` (RFC 9293 3.10.7.4, eighth step:
 * a FIN is processed only once everything before it has arrived). */
void hold(ts_pending *p, uint32_t hole_at, uint32_t since)
{
    p->has_after = 0; /* what stood on it was taken back with it */
    p->crossed = 0;
    p->held = 1;
    p->hole_at = hole_at;
    p->held_since = since;
}

/* A FIN its receiver could not take: data before it is missing (the
 * capture shows a gap, RFC 9293 3.10.7.4 eighth step). */
bool fin_beyond_hole(const ts_endpoint *receiver, const ts_segment *seg)
{
    return has(seg, TS_TH_FIN) && !receiver->peer_fin_seen && receiver->rcv_known &&
           seq_lt(receiver->rcv_nxt, fin_position(seg)) && is_synchronized(receiver->state);
}

/* A control held because it crossed its receiver's own (its receiver had
 * not taken it when that left) is sent again and taken now. The receiver's
 * answer says which transmission it had first (answer_shows_duplicate: a
 * timestamp echo or D-SACK of the held one, RFC 7323 4.3, RFC 2883 4.1): if
 * the held one, it arrived where it was captured after all, and the answer
 * puts back the states as first shown, stretch by stretch (read_resend_answer). */
static void ask_which_arrived(ts_conn *conn, int s, const ts_segment *seg, bool seg_moved_receiver)
{
    const ts_pending *p = &conn->pending[s];
    const ts_pending_detail *detail = &conn->pending_detail[s];
    ts_resend_check *check = &conn->resend_check[s];
    check->active = 1;
    check->timestamps = (detail->seg.opts & seg->opts & TS_OPT_TIMESTAMPS) != 0;
    check->original_id = p->id;
    check->since_id = p->held_since;
    check->ctl_seq = p->ctl_end - 1u;
    check->original_tsval = detail->seg.tsval;
    check->resend_tsval = seg->tsval;
    /* The next stretch begins with the later segment that moved the
     * receiver, else with this one if it did (on top of the held one too). */
    check->after_id = p->has_after ? detail->after.id : seg_moved_receiver ? seg->id : 0;
    check->after_from = (uint8_t)(p->crossed - 1u);
    check->crossed = CROSSED;
}

/* A segment from the sender of a held FIN that covers the first missing
 * number fills the hole, as far as the capture can tell (the receiver's
 * next duplicate ACK says otherwise if it did not): everything up to the
 * FIN is in, and the FIN is taken now (seventh and eighth steps). The held
 * receive stays correctable, now applied at this segment. */
bool fill_hole(ts_conn *conn, int s, const ts_segment *seg, const ts_endpoint *rx_before,
               ts_annotation *out)
{
    int r = 1 - s;
    ts_pending *p = &conn->pending[s];
    ts_endpoint *receiver = &conn->ep[r];
    if (!p->active || !p->held || !seq_le(seg->seq, p->hole_at) ||
        !seq_gt(seg->seq + seg_space(seg), p->hole_at))
        return false;
    /* A FIN held for a receiver that was CLOSED, LISTEN or SYN-SENT before
     * this segment: those states take no FIN (RFC 9293 3.10.7.1-3), so the
     * receiver has left the connection the FIN was held in (a RST, a new open
     * since) and that FIN can no longer arrive. (A held SYN may: a crossed
     * one, taken in SYN-SENT or LISTEN.) */
    const ts_segment *held = &conn->pending_detail[s].seg;
    if (has(held, TS_TH_FIN) && !has(held, TS_TH_SYN) &&
        (rx_before->state == TS_CLOSED || rx_before->state == TS_LISTEN || rx_before->state == TS_SYN_SENT)) {
        p->active = 0;
        p->held = 0;
        return false;
    }
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
    if (resends_held && p->crossed)
        ask_which_arrived(conn, s, seg, receiver->state != before.state);
    p->held = 0;
    p->has_after = 0;
    p->crossed = 0;
    p->applied_id = seg->id;
    p->state_before = before.state;
    conn->pending_detail[s].rx_before = before;
    if (resends_held)
        conn->pending_detail[s].seg = *seg; /* this transmission is the one that arrived */
    return true;
}
