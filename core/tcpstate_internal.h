/*
 * What the core's sources share among themselves and with their tests, not
 * part of the public interface.
 */
#ifndef TCPSTATE_INTERNAL_H
#define TCPSTATE_INTERNAL_H

#include "tcpstate/conn_summary.h"
#include "tcpstate/tcpstate.h"

/* The layout of the state machine, behind the opaque ts_conn of the public
 * header. */

/* One endpoint machine. Sequence numbers are raw; comparisons use serial
 * arithmetic so that wrapping past 2^32 is harmless (RFC 9293 3.4). */
typedef struct ts_endpoint {
    uint8_t  state;
    uint8_t  passive;        /* opened from LISTEN: a RST in SYN-RECEIVED returns it there */
    uint8_t  isn_known;
    uint8_t  fin_sent;
    uint8_t  peer_fin_seen;  /* the peer's FIN has been received */
    uint8_t  ack_due;        /* received a SYN or FIN not yet acknowledged: 1 SYN, 2 FIN */
    uint8_t  rcv_known;
    uint8_t  wscale_opt;     /* our SYN's Window Scale shift + 1; 0: none (RFC 7323 2.2) */
    uint32_t isn;            /* our initial sequence number */
    uint32_t snd_nxt;        /* highest sequence number sent + 1 */
    uint32_t fin_seq;        /* sequence number of our FIN */
    uint32_t rcv_nxt;        /* next in-order sequence number expected from the peer */
    uint32_t highest_ack;    /* highest ack we have sent */
    uint32_t window;         /* last window we advertised, scaled */
    int64_t  time_wait_end_ns;
} ts_endpoint;

/* A receive whose effect on its receiver is not yet confirmed by the receiver's
 * own segments: kept so that later evidence can take it back (one per direction).
 * What most segments read (is one active, does this ACK confirm it) is here;
 * what only taking it back needs is in its ts_pending_detail. */
typedef struct ts_pending {
    uint8_t  active;
    uint8_t  kind;           /* what it carried: see tcpstate.c */
    uint8_t  state_before;   /* receiver's state before it */
    uint8_t  deferred;       /* taken back, to be applied after the receiver's next segment */
    uint8_t  held;           /* a FIN beyond a hole: applied when the hole fills */
    uint8_t  has_after;      /* a later receive from the same sender stands on it (detail.after) */
    uint8_t  crossed;        /* held because the receiver's own control crossed it: the
                                receiver's state as first shown after it, + 1 (0: not) */
    uint32_t id;
    uint32_t applied_id;     /* the segment at which it took effect (id, or later if deferred) */
    uint32_t ctl_end;        /* sequence number that acknowledges it (SYN/FIN + 1) */
    uint32_t acked_ctl;      /* for a bare ACK: the peer control it acknowledged */
    uint32_t hole_at;        /* held: the first number the receiver is missing (its own ACK) */
    uint32_t held_since;     /* held: the first segment shown without it */
} ts_pending;

typedef struct ts_pending_detail {
    ts_endpoint rx_before;   /* receiver before it, to take it back */
    ts_segment  seg;         /* the segment, to apply it late */
    ts_segment  after;       /* the sender's next segment that changed the receiver's
                                state on top of it: replayed if it is taken back */
    uint8_t     after_from;  /* the receiver's state just before `after` */
} ts_pending_detail;

/* A loss concluded from a retransmission (a SYN or FIN sent again before any
 * acknowledgment), until its receiver's answer to the retransmission says
 * whether it had the first one after all (its own ACK was what got lost). */
typedef struct ts_resend_check {
    uint8_t  active;
    uint8_t  timestamps;     /* both transmissions carried Timestamps */
    uint32_t original_id;    /* the segment taken as lost */
    uint32_t since_id;       /* the first annotation that correction rewrote */
    uint32_t ctl_seq;        /* the SYN's or FIN's sequence number */
    uint32_t original_tsval;
    uint32_t resend_tsval;
    uint32_t after_id;       /* a later receive replayed when it was taken back (0: none) */
    uint8_t  after_from;     /* the receiver's state just before after_id, as first shown */
    uint8_t  crossed;        /* about a control held as crossed (fill_hole), not a resend
                                chain: CROSSED, or CROSSED_SENT_AGAIN after the filling copy */
} ts_resend_check;

enum { CROSSED = 1, CROSSED_SENT_AGAIN = 2 };

struct ts_conn {
    /* What every segment reads or writes comes first, together: a capture
     * interleaves many connections, and each segment should cost its
     * connection as few cache lines as can be. What only rare cases read
     * (the details of the pending receives above all) follows. */
    ts_endpoint ep[2];        /* by endpoint: [0] A, [1] B */
    uint8_t     started;
    uint8_t     client_is_b;  /* role of endpoint B */
    uint8_t     mid_stream;   /* roles guessed: capture began mid-connection */
    uint8_t     seen_from;    /* bit per endpoint: segments seen */
    uint8_t     simultaneous_open;
    uint8_t     first_fin_by; /* 0 none, 1 + endpoint that sent the first FIN */
    uint8_t     first_syn_by; /* 0 none, 1 + endpoint that sent the first SYN */
    uint8_t     synack_count; /* SYN-ACKs in this incarnation (steps 3 and 4 of a simultaneous open) */
    uint8_t     sack_permitted; /* bit per endpoint: its SYN offered SACK (RFC 2018 2) */
    uint32_t    segments;
    uint32_t    incarnation;  /* connections so far on these ports */
    uint32_t    listener_assumed_since; /* the segment from which the SYN's receiver was
                                           taken as LISTEN (0: not assumed) */
    ts_pending  pending[2];   /* by sending endpoint */
    ts_segment  last;         /* the previous segment (for a RST that answers it) */
    ts_config   config;
    uint8_t     bad_synack_ack_valid;
    uint32_t    bad_synack_ack; /* ack of the last unacceptable ACK or SYN-ACK in
                                   SYN-SENT (figure 8): our RST answers it */
    ts_pending_detail pending_detail[2]; /* of pending[], read only to take one back or apply it late */
    ts_resend_check resend_check[2];     /* by sending endpoint */
};


/* The window a segment advertises, in bytes. RFC 7323 2.2-2.3: the Window
 * field of a SYN is never scaled; the others are shifted left by the
 * sender's Window Scale option only when both SYNs carried the option,
 * with a shift above 14 taken as 14. A capture that missed the SYNs gives no
 * scale: the window stays as written (as Wireshark shows it then). */
static inline uint32_t ts_scaled_window(const ts_endpoint *sender, const ts_endpoint *receiver,
                                        const ts_segment *seg)
{
    if ((seg->flags & TS_TH_SYN) || sender->wscale_opt == 0 || receiver->wscale_opt == 0)
        return seg->window;
    unsigned shift = sender->wscale_opt - 1u > 14u ? 14u : sender->wscale_opt - 1u;
    uint64_t scaled = (uint64_t)seg->window << shift;
    return scaled > UINT32_MAX ? UINT32_MAX : (uint32_t)scaled;
}

/* Times in nanoseconds, saturating: a capture's timestamps may come from
 * both ends of int64 (pcapng can say so), and a wrapped TIME-WAIT end or
 * Zeek timer would fire at the wrong moment rather than never. */
static inline int64_t ts_time_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t ts_time_sub(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return d;
}

/* ---- sequence space, RFC 9293 section 3.4: compare modulo 2^32 ---------- */

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

static inline bool has(const ts_segment *seg, unsigned flag) { return (seg->flags & flag) != 0; }

/* Sequence space a segment occupies: SYN and FIN count one each (3.4). */
static inline uint32_t seg_space(const ts_segment *seg)
{
    return seg->payload_len + (has(seg, TS_TH_SYN) ? 1u : 0u) + (has(seg, TS_TH_FIN) ? 1u : 0u);
}

/* Sequence number of a segment's FIN: after the SYN and the payload. */
static inline uint32_t fin_position(const ts_segment *seg)
{
    return seg->seq + seg->payload_len + (has(seg, TS_TH_SYN) ? 1u : 0u);
}

/* The acknowledgment number that shows a SYN or FIN arrived: its number + 1
 * (the FIN's when both are set). */
static inline uint32_t control_end(const ts_segment *seg)
{
    return (has(seg, TS_TH_FIN) ? fin_position(seg) : seg->seq) + 1u;
}

/* ---- rules both paths apply to every ACK and every byte of data -------- */

/* The send of an ACK: the highest acknowledgment its sender has sent. */
static inline void note_ack_sent(ts_endpoint *ep, uint32_t ack)
{
    if (seq_gt(ack, ep->highest_ack) || ep->highest_ack == 0)
        ep->highest_ack = ack;
}

/* The send of sequence space up to `end`: SND.NXT moves on, never back
 * (a retransmission resends below it). */
static inline void advance_snd_nxt(ts_endpoint *ep, uint32_t end)
{
    if (ep->snd_nxt == 0 || seq_gt(end, ep->snd_nxt))
        ep->snd_nxt = end;
}

/* One below what was already sent, zero or one byte: a keep-alive or a
 * zero-window probe (RFC 9293 3.8.4, RFC 1122 4.2.3.6); no state moves.
 * (For a segment with neither SYN nor FIN.) */
static inline bool is_keepalive(const ts_endpoint *ep, const ts_segment *seg)
{
    return seg->payload_len <= 1 && ep->snd_nxt != 0 && seg->seq + 1u == ep->snd_nxt;
}

/* New data past our own FIN is a protocol error (RFC 9293 3.10.2: no SEND
 * after CLOSE). Retransmitted data before the FIN is not. (For a segment
 * without FIN: a FIN sent again after data is the FIN's own case.) */
static inline bool sends_data_after_fin(const ts_endpoint *ep, const ts_segment *seg)
{
    return ep->fin_sent && seg->payload_len > 0 && seq_gt(seg->seq + seg->payload_len, ep->fin_seq);
}

/* RFC 9293 3.10.7.4, seventh step, the text: RCV.NXT moves over data that
 * starts at or before it and ends after it (in-order, or overlapping). */
static inline void take_in_order_text(ts_endpoint *ep, const ts_segment *seg)
{
    uint32_t end = seg->seq + seg->payload_len;
    if (seg->payload_len > 0 && ep->rcv_known && seq_le(seg->seq, ep->rcv_nxt) && seq_gt(end, ep->rcv_nxt))
        ep->rcv_nxt = end;
}

static inline ts_role role_of(const ts_conn *conn, int endpoint)
{
    return (endpoint == 1) == (conn->client_is_b != 0) ? TS_CLIENT : TS_SERVER;
}

static inline bool is_closed_state(uint8_t state)
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

/* ---- shared among the core's files, each documented where it is defined ---- */

/* tcpstate.c */
void enter_time_wait(ts_conn *conn, ts_endpoint *ep, int64_t now, ts_annotation *out);
void start_pending(ts_pending *p, ts_pending_detail *detail, const ts_segment *seg, uint8_t kind,
                   const ts_endpoint *rx_before);

/* evidence.c */
bool same_syn_again(const ts_segment *bare_syn, const ts_segment *seg);
void check_evidence(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out,
                    ts_correction *corr);

/* holes.c */
void hold(ts_pending *p, uint32_t hole_at, uint32_t since);
bool fin_beyond_hole(const ts_endpoint *receiver, const ts_segment *seg);
bool fill_hole(ts_conn *conn, int s, const ts_segment *seg, const ts_endpoint *rx_before,
               ts_annotation *out);

/* send_receive.c */
bool is_synchronized(uint8_t state);
void send_effects(ts_conn *conn, int s, const ts_segment *seg, ts_annotation *out);
bool ack_acceptable(const ts_endpoint *ep, uint32_t ack);
void receive_effects(ts_conn *conn, int r, const ts_segment *seg, ts_annotation *out);

/* zeek_session.c (conn_summary.h's types) */
static inline int32_t seq_delta(uint32_t a, uint32_t b) { return (int32_t)(a - b); }
static inline bool is_orig_endpoint(const ts_summary *s, int e) { return e == s->orig_endpoint; }
void add_history(ts_summary *s, char code);
void zeek_process(ts_summary *s, const ts_segment *seg);
uint8_t choose_originator(const ts_segment *seg);

#endif /* TCPSTATE_INTERNAL_H */
