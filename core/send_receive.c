/*
 * What a segment does: first a SEND event for its sender (send_effects), then
 * a RECEIVE event for the other endpoint (receive_effects, one case per state
 * as in RFC 9293 section 3.10.7).
 */
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h"

#include <string.h>

/* ---- the teardown, cell by cell ------------------------------------------ */

/* What the three events of a close do to an endpoint, by its state: it sends
 * its FIN (the user's CLOSE, RFC 9293 3.10.4), the peer acknowledges that FIN
 * (3.10.7.4 fifth step), the peer's FIN arrives in sequence (eighth step).
 * STAY: the event does not move that state. The seed's four steps are the
 * diagonal: ESTABLISHED -FIN-> FIN-WAIT-1 -ACK-> FIN-WAIT-2 -FIN-> TIME-WAIT
 * on one side, ESTABLISHED -FIN-> CLOSE-WAIT -FIN-> LAST-ACK -ACK-> CLOSED on
 * the other. */
enum { FIN_SENT, FIN_ACKED, FIN_RECEIVED, TEARDOWN_EVENTS };
#define STAY TS_STATE_COUNT

static const uint8_t teardown[TS_STATE_COUNT][TEARDOWN_EVENTS] = {
    /*                   our FIN sent    our FIN acked   the peer's FIN */
    /* No connection, or not yet synchronized: a FIN here is unexpected
     * (3.10.4: CLOSE in SYN-SENT deletes the TCB, sends nothing) and a
     * received one is dropped before the eighth step (3.10.7.1-3). */
    [TS_CLOSED]       = {STAY,           STAY,           STAY},
    [TS_LISTEN]       = {STAY,           STAY,           STAY},
    [TS_SYN_SENT]     = {STAY,           STAY,           STAY},
    /* 3.10.4: CLOSE in SYN-RECEIVED or ESTABLISHED sends a FIN and enters
     * FIN-WAIT-1. 3.10.7.4 eighth step: a FIN there enters CLOSE-WAIT. */
    [TS_SYN_RECEIVED] = {TS_FIN_WAIT_1,  STAY,           TS_CLOSE_WAIT},
    [TS_ESTABLISHED]  = {TS_FIN_WAIT_1,  STAY,           TS_CLOSE_WAIT},
    /* Fifth step: "if our FIN is now acknowledged, enter FIN-WAIT-2";
     * eighth step: a FIN before that enters CLOSING (simultaneous close). */
    [TS_FIN_WAIT_1]   = {STAY,           TS_FIN_WAIT_2,  TS_CLOSING},
    /* Eighth step: a FIN in FIN-WAIT-2 enters TIME-WAIT (its timer starts). */
    [TS_FIN_WAIT_2]   = {STAY,           STAY,           TS_TIME_WAIT},
    /* 3.10.4: CLOSE in CLOSE-WAIT sends a FIN and enters LAST-ACK. */
    [TS_CLOSE_WAIT]   = {TS_LAST_ACK,    STAY,           STAY},
    /* Fifth step: the ACK of our FIN in CLOSING enters TIME-WAIT... */
    [TS_CLOSING]      = {STAY,           TS_TIME_WAIT,   STAY},
    /* ... and in LAST-ACK deletes the TCB: CLOSED. */
    [TS_LAST_ACK]     = {STAY,           TS_CLOSED,      STAY},
    /* A FIN again in TIME-WAIT restarts the timer (take_fin), no new state. */
    [TS_TIME_WAIT]    = {STAY,           STAY,           STAY},
};

/* Moves `ep` by its teardown cell for `event`; false when the cell is STAY. */
static bool teardown_step(ts_conn *conn, ts_endpoint *ep, int event, int64_t now, ts_annotation *out)
{
    uint8_t next = teardown[ep->state][event];
    if (next == STAY)
        return false;
    if (next == TS_TIME_WAIT)
        enter_time_wait(conn, ep, now, out);
    else
        ep->state = next;
    return true;
}

/* ---- the send event ------------------------------------------------------ */

static bool rst_resets(const ts_endpoint *ep, const ts_segment *seg, ts_annotation *out);

bool is_synchronized(uint8_t state)
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
void send_effects(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out)
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
            if (!teardown_step(conn, ep, FIN_SENT, seg->time_ns, out))
                out->notes |= TS_NOTE_UNEXPECTED;
            if (conn->first_fin_by == 0)
                conn->first_fin_by = (uint8_t)(1 + s);
        }
    } else if (!has(seg, TS_TH_SYN) && is_keepalive(ep, seg)) {
        out->notes |= TS_NOTE_KEEPALIVE;
    }

    advance_snd_nxt(ep, end);
}

/* ---- the receive event: one case per state (RFC 9293 3.10.7) -------------- */

bool ack_acceptable(const ts_endpoint *ep, uint32_t ack)
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
    teardown_step(conn, ep, FIN_RECEIVED, now, out);
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

void receive_effects(ts_conn *conn, int r, const ts_segment *seg, ts_annotation *out)
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

    /* Fifth step, the ACK: in SYN-RECEIVED it must acknowledge our SYN
     * (else it would be answered by a RST); after our FIN, the teardown's
     * cells. In LAST-ACK that deletes the connection: nothing more is read. */
    if (ep->state == TS_SYN_RECEIVED) {
        if (!ack_acceptable(ep, seg->ack)) {
            out->notes |= TS_NOTE_UNEXPECTED;
            return;
        }
        ep->state = TS_ESTABLISHED;
    } else if (acks_our_fin(ep, seg) && teardown_step(conn, ep, FIN_ACKED, now, out) && ep->state == TS_CLOSED) {
        return;
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
