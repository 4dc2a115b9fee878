/*
 * Evidence about earlier receives (RFC 9293 3.10.7: segments are taken in
 * sequence): a capture sees a segment leave, not arrive, so every receive that
 * may change a state is provisional until the receiver's own segments show
 * what it got: its acknowledgment number is its RCV.NXT, its SYN-ACK or bare
 * ACK, its RST, its FIN, or its silence until the sender retransmits. Here a
 * segment is read as that evidence (check_evidence), receives are confirmed,
 * taken back (a correction of earlier frames) or replayed. A FIN beyond a hole
 * in the receiver's sequence space waits for the hole to fill: holes.c.
 */
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h"

#include <string.h>

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

/* A SYN-ACK that carries the SYN of an earlier bare SYN from the same side
 * (simultaneous open, RFC 9293 figure 7): the same SYN sent again. */
bool same_syn_again(const ts_segment *bare_syn, const ts_segment *seg)
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
    /* A D-SACK says that some earlier copy arrived, not which: about a
     * crossed control sent again since the copy that filled its hole, only
     * the echo names the transmission. */
    if (check->crossed != CROSSED_SENT_AGAIN && reports_duplicate(answer, check->ctl_seq))
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

void check_evidence(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
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
    if (conn->resend_check[s].crossed == CROSSED && resends_own_control(&conn->ep[s], seg))
        conn->resend_check[s].crossed = CROSSED_SENT_AGAIN;
    if (own->active && own->kind == PENDING_CONTROL && !own->held &&
        resends_control(seg, own->ctl_end, has(&own_detail->seg, TS_TH_SYN)) &&
        has(seg, TS_TH_ACK) == has(&own_detail->seg, TS_TH_ACK)) {
        uint8_t really = conn->ep[r].state; /* a deferred one was never applied */
        if (!own->deferred) {
            restore_receive_side(&conn->ep[r], &own_detail->rx_before);
            really = own->state_before;
            /* A new connection's SYN lost on its way to a side in TIME-WAIT:
             * the TIME-WAIT is the old connection's, and the SYN is for the
             * port's listener (a TIME-WAIT socket hands it on, RFC 6191 2;
             * Linux TCP_TW_SYN): LISTEN for this one (RFC 9293 3.10.7.2). */
            if (really == TS_TIME_WAIT && has(&own_detail->seg, TS_TH_SYN) && !has(&own_detail->seg, TS_TH_ACK))
                really = conn->ep[r].state = TS_LISTEN;
            /* The answer will say whether the receiver had it. Sent again
             * and again, the first transmission stays the one in question:
             * answers lost each time explain every resend at once. */
            ts_resend_check *check = &conn->resend_check[s];
            /* A question about a crossed control gives way: this resend
             * shows that the one taken as arrived had not either. */
            if (!check->active || check->ctl_seq != own->ctl_end - 1u || check->crossed) {
                check->active = 1;
                check->crossed = 0;
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
            uint8_t shown = conn->ep[s].state;
            restore_receive_side(&conn->ep[s], &peer_detail->rx_before);
            report(corr, out, role_of(conn, s), peer->state_before, TS_LOST, peer->id,
                   peer->applied_id, false);
            hold(peer, has(seg, TS_TH_ACK) ? seg->ack : peer_detail->seg.seq, peer->applied_id);
            peer->crossed = (uint8_t)(shown + 1u);
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
