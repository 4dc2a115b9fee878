/*
 * Connection summary: Zeek's conn_state and history, computed the way Zeek's
 * TCP analyzer computes them, plus tcpstate's own per-connection facts.
 *
 * The Zeek part re-implements, per segment and in this order, what
 * TCPSessionAdapter::Process() does (Zeek 6/7, src/packet_analysis/protocol/
 * tcp/TCPSessionAdapter.cc): init_endpoint, update_history, the zero-window
 * check of update_window, the peer's ack tracking, update_last_seq (the 't'
 * retransmission letter), UpdateStateMachine (Zeek's seven endpoint states),
 * then the peer's AckReceived (the 'g' content-gap letter). conn_state() is
 * the function of the same name in scripts/base/protocols/conn/main.zeek.
 * What is left out or approximated is listed in docs/conn-summary.md.
 */
#include "tcpstate/conn_summary.h"
#include "tcpstate_internal.h"

#include <string.h>

/* ---- Zeek's constants ------------------------------------------------------ */

#define ZK_TOO_LARGE_SEQ_DELTA 1048576 /* TOO_LARGE_SEQ_DELTA */

/* TCP_Endpoint::HistoryMasks; a responder's are shifted left by 16. */
enum {
    HIST_SYN_PKT = 0x1,
    HIST_FIN_PKT = 0x2,
    HIST_RST_PKT = 0x4,
    HIST_FIN_RST_PKT = 0x8,
    HIST_DATA_PKT = 0x10,
    HIST_ACK_PKT = 0x20,
    HIST_MULTI_FLAG_PKT = 0x40,
};

enum { FIRST_ORIG = 1, FIRST_RESP = 2 };

/* Zeek's likely_server_ports is filled by the analyzers a default Zeek loads
 * (Analyzer::register_for_ports). This is that set for the analyzers of a
 * stock Zeek 6 (FTP, SSH, Telnet, SMTP, DNS, HTTP, Kerberos, POP3, RPC
 * portmapper, DCE/RPC, NetBIOS, IMAP, BGP-less, LDAP, SSL/TLS, SMB, Modbus,
 * submission, IMAPS, POP3S, SOCKS, MySQL, RDP, SIP, XMPP, PostgreSQL, AMQP-less,
 * Redis, IRC, MQTT, RFB, HTTP alternates, DNP3, Syslog-over-TCP...). Sorted. */
static const uint16_t likely_server_ports[] = {
    21,   22,   23,   25,   53,   80,   81,   88,   110,  111,  135,  139,  143,  389,
    443,  445,  465,  502,  563,  585,  587,  614,  631,  636,  989,  990,  992,  993,  994,
    995,  1080, 1194, 1433, 1883, 3128, 3306, 3389, 5060, 5222, 5223, 5269, 5432, 5900,
    5901, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8443, 8888, 20000,
};

static bool is_likely_server_port(uint16_t port)
{
    for (size_t i = 0; i < sizeof likely_server_ports / sizeof likely_server_ports[0]; i++) {
        if (likely_server_ports[i] == port)
            return true;
        if (likely_server_ports[i] > port)
            return false;
    }
    return false;
}

/* ---- small helpers ----------------------------------------------------------- */

static bool has(const ts_segment *seg, unsigned flag) { return (seg->flags & flag) != 0; }
static int32_t seq_delta(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

static bool is_orig_endpoint(const ts_summary *s, int e) { return e == s->orig_endpoint; }

static void add_history(ts_summary *s, char code)
{
    if (s->history_len >= TS_HISTORY_MAX) {
        s->history_truncated = 1;
        return;
    }
    s->history[s->history_len++] = code;
    s->history[s->history_len] = '\0';
}

static char for_side(const ts_summary *s, int e, char upper)
{
    return is_orig_endpoint(s, e) ? upper : (char)(upper - 'A' + 'a');
}

/* Connection::CheckHistory via TCP_Endpoint::CheckHistory: adds the letter
 * the first time; returns true if it had been seen already. */
static bool check_history(ts_summary *s, int e, uint32_t mask, char code)
{
    if (!is_orig_endpoint(s, e))
        mask <<= 16;
    if ((s->hist_seen & mask) == 0) {
        s->hist_seen |= mask;
        add_history(s, for_side(s, e, code));
        return false;
    }
    return true;
}

/* Connection::ScaledHistoryEntry with scaling base 10: the letter at the 1st,
 * 10th, 100th ... occurrence. */
static void scaled_history(ts_summary *s, int e, char code, uint32_t *counter, uint32_t *threshold)
{
    if (*threshold == 0)
        *threshold = 1; /* zeroed endpoint: Zeek starts every threshold at 1 */
    if (++*counter == *threshold) {
        add_history(s, for_side(s, e, code));
        uint32_t next = *threshold * 10u;
        if (next <= *threshold)
            *counter = 0;
        else
            *threshold = next;
    }
}

static void set_state(ts_zeek_endpoint *ep, ts_zeek_state state)
{
    if (ep->state != state) {
        ep->prev_state = ep->state;
        ep->state = (uint8_t)state;
    }
}

static void init_seqs(ts_zeek_endpoint *ep, uint32_t start, uint32_t last)
{
    ep->start_seq = start;
    ep->ack_seq = start;
    ep->last_seq = last;
}

/* ---- TCPSessionAdapter::Process, step by step ------------------------------ */

static void init_endpoint(ts_zeek_endpoint *ep, const ts_segment *seg, uint32_t last_seq)
{
    bool syn = has(seg, TS_TH_SYN);
    switch (ep->state) {
    case TS_ZK_INACTIVE:
        if (syn)
            init_seqs(ep, seg->seq, last_seq);
        else
            init_seqs(ep, seg->seq - 1u, seg->seq); /* partial: as though a SYN was seen */
        break;
    case TS_ZK_SYN_SENT:
    case TS_ZK_SYN_ACK_SENT:
        if (syn && seg->seq != ep->start_seq)
            init_seqs(ep, seg->seq, last_seq); /* SYN_seq_jump */
        break;
    case TS_ZK_ESTABLISHED:
    case TS_ZK_PARTIAL:
        if (syn)
            init_seqs(ep, seg->seq, last_seq);
        break;
    case TS_ZK_RESET:
        if (syn && ep->prev_state == TS_ZK_INACTIVE)
            init_seqs(ep, seg->seq, last_seq);
        break;
    default:
        break;
    }
}

static void update_history(ts_summary *s, int e, const ts_segment *seg, uint32_t rel_seq)
{
    ts_zeek_endpoint *ep = &s->zk[e];
    bool syn = has(seg, TS_TH_SYN), fin = has(seg, TS_TH_FIN), rst = has(seg, TS_TH_RST);
    int bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0);
    if (bits > 1) {
        if (fin && rst)
            check_history(s, e, HIST_FIN_RST_PKT, 'I');
        else
            check_history(s, e, HIST_MULTI_FLAG_PKT, 'Q');
    } else if (bits == 1) {
        if (syn) {
            char code = has(seg, TS_TH_ACK) ? 'H' : 'S';
            if (check_history(s, e, HIST_SYN_PKT, code) && rel_seq != ep->hist_last_syn)
                add_history(s, for_side(s, e, code));
            ep->hist_last_syn = rel_seq;
        }
        if (fin) {
            /* A FIN's position is after the data it carries. */
            uint32_t at = rel_seq + seg->payload_len;
            if (check_history(s, e, HIST_FIN_PKT, 'F') && at != ep->hist_last_fin)
                add_history(s, for_side(s, e, 'F'));
            ep->hist_last_fin = at;
        }
        if (rst) {
            if (check_history(s, e, HIST_RST_PKT, 'R') && rel_seq != ep->hist_last_rst)
                add_history(s, for_side(s, e, 'R'));
            ep->hist_last_rst = rel_seq;
        }
    } else {
        if (seg->payload_len > 0)
            check_history(s, e, HIST_DATA_PKT, 'D');
        else if (has(seg, TS_TH_ACK))
            check_history(s, e, HIST_ACK_PKT, 'A');
    }
}

/* update_last_seq: returns delta_last; a payload that does not advance the
 * sender's highest sequence number is a retransmission ('t'). */
static int32_t update_last_seq(ts_summary *s, int e, const ts_segment *seg, uint32_t last_seq)
{
    ts_zeek_endpoint *ep = &s->zk[e];
    int32_t delta = seq_delta(last_seq, ep->last_seq);
    bool syn_or_rst = has(seg, TS_TH_SYN) || has(seg, TS_TH_RST);
    if (syn_or_rst && (delta > ZK_TOO_LARGE_SEQ_DELTA || delta < -ZK_TOO_LARGE_SEQ_DELTA))
        ; /* outlandish: not trusted */
    else if (has(seg, TS_TH_FIN) && ep->last_seq == ep->start_seq + 1u)
        ep->last_seq = last_seq;
    else if (ep->state == TS_ZK_RESET)
        ; /* nothing after a RST is trusted */
    else if (delta > 0)
        ep->last_seq = last_seq;
    else if (seg->payload_len > 0)
        scaled_history(s, e, 'T', &ep->rxmt_cnt, &ep->rxmt_thresh);
    return delta;
}

static void flip_roles(ts_summary *s)
{
    s->orig_endpoint = (uint8_t)(1 - s->orig_endpoint);
    s->first_seen = (uint8_t)(((s->first_seen & FIRST_ORIG) ? FIRST_RESP : 0) |
                              ((s->first_seen & FIRST_RESP) ? FIRST_ORIG : 0));
    s->is_partial = 0;
    add_history(s, '^');
}

static bool update_inactive(ts_summary *s, int e, const ts_segment *seg, bool is_orig)
{
    ts_zeek_endpoint *ep = &s->zk[e], *peer = &s->zk[1 - e];
    bool do_close = false;
    if (has(seg, TS_TH_SYN)) {
        if (is_orig) {
            set_state(ep, has(seg, TS_TH_ACK) ? TS_ZK_SYN_ACK_SENT : TS_ZK_SYN_SENT);
            s->zeek_attempt_ns = ts_time_add(seg->time_ns, TS_ZEEK_ATTEMPT_DELAY_NS); /* AttemptTimer */
        } else {
            if (!has(seg, TS_TH_ACK) && peer->state == TS_ZK_SYN_ACK_SENT && seg->seq == ep->start_seq) {
                /* SYN/SYN-ACK reversal: flip the endpoints, establish. */
                flip_roles(s);
                set_state(peer, TS_ZK_ESTABLISHED);
                s->first_seen |= FIRST_ORIG;
            }
            if (peer->state == TS_ZK_SYN_SENT)
                set_state(peer, TS_ZK_ESTABLISHED);
            set_state(ep, TS_ZK_ESTABLISHED);
        }
    }
    if (has(seg, TS_TH_FIN)) {
        set_state(ep, TS_ZK_CLOSED);
        do_close = true;
    }
    if (has(seg, TS_TH_RST)) {
        set_state(ep, TS_ZK_RESET);
        do_close = true;
    }
    if (ep->state == TS_ZK_INACTIVE) {
        const ts_zeek_endpoint *orig = &s->zk[s->orig_endpoint];
        if (!is_orig && seg->payload_len == 0 && orig->state == TS_ZK_SYN_SENT)
            ; /* an ack of the SYN before the SYN-ACK: not a partial connection */
        else if (has(seg, TS_TH_ACK) && peer->state == TS_ZK_ESTABLISHED) {
            set_state(ep, TS_ZK_ESTABLISHED); /* the SYN was missed */
            s->is_partial = 0;
        } else {
            set_state(ep, TS_ZK_PARTIAL);
        }
    }
    return do_close;
}

static bool update_syn_sent(ts_zeek_endpoint *ep, const ts_segment *seg)
{
    bool do_close = false;
    if (has(seg, TS_TH_FIN)) {
        set_state(ep, TS_ZK_CLOSED);
        do_close = true;
    }
    if (has(seg, TS_TH_RST)) {
        set_state(ep, TS_ZK_RESET);
        do_close = true;
    }
    return do_close;
}

static bool update_established(ts_zeek_endpoint *ep, ts_zeek_endpoint *peer, const ts_segment *seg)
{
    bool do_close = false;
    if (has(seg, TS_TH_SYN) && ep->state == TS_ZK_PARTIAL && peer->state == TS_ZK_INACTIVE &&
        !has(seg, TS_TH_ACK))
        set_state(ep, TS_ZK_SYN_SENT); /* SYN_after_partial */
    if (has(seg, TS_TH_FIN) && !has(seg, TS_TH_RST)) {
        set_state(ep, TS_ZK_CLOSED);
        if (peer->state == TS_ZK_RESET && peer->prev_state == TS_ZK_CLOSED)
            set_state(peer, TS_ZK_CLOSED); /* FIN then RST from the peer: a normal close */
        do_close = true;
    }
    if (has(seg, TS_TH_RST)) {
        set_state(ep, TS_ZK_RESET);
        do_close = true;
    }
    return do_close;
}

static bool update_closed(ts_zeek_endpoint *ep, const ts_zeek_endpoint *peer, const ts_segment *seg)
{
    if (has(seg, TS_TH_RST) && peer->state != TS_ZK_CLOSED) {
        set_state(ep, TS_ZK_RESET);
        return !ep->did_close; /* RST after FIN */
    }
    return false;
}

/* UpdateStateMachine; returns do_close. */
static bool update_state_machine(ts_summary *s, int e, const ts_segment *seg, bool is_orig)
{
    ts_zeek_endpoint *ep = &s->zk[e], *peer = &s->zk[1 - e];
    switch (ep->state) {
    case TS_ZK_INACTIVE:
        return update_inactive(s, e, seg, is_orig);
    case TS_ZK_SYN_SENT:
    case TS_ZK_SYN_ACK_SENT:
        return update_syn_sent(ep, seg);
    case TS_ZK_ESTABLISHED:
    case TS_ZK_PARTIAL:
        return update_established(ep, peer, seg);
    case TS_ZK_CLOSED:
        return update_closed(ep, peer, seg);
    default: /* TS_ZK_RESET: only weirds */
        return false;
    }
}

/* ConnectionClosed (deliveries are never deferred here): once the close is
 * complete, Zeek deletes the connection tcp_close_delay after its last time. */
static void connection_closed(ts_summary *s, int e)
{
    ts_zeek_endpoint *ep = &s->zk[e], *peer = &s->zk[1 - e];
    if (ep->did_close)
        return;
    ep->did_close = 1;
    if (ep->state == TS_ZK_RESET || peer->did_close || peer->state == TS_ZK_INACTIVE)
        s->zeek_delete_ns = ts_time_add(s->zeek_last_ns, TS_ZEEK_CLOSE_DELAY_NS);
}

static bool handshake_state(uint8_t st)
{
    return st == TS_ZK_INACTIVE || st == TS_ZK_SYN_SENT || st == TS_ZK_SYN_ACK_SENT;
}

/* ---- content gaps (TCP_Reassembler), simplified to one block above a hole -- */

static bool is_clean(const ts_zeek_endpoint *ep)
{
    return ep->state == TS_ZK_ESTABLISHED ||
           (ep->state == TS_ZK_CLOSED && ep->prev_state == TS_ZK_ESTABLISHED);
}

static uint32_t rel(const ts_zeek_endpoint *ep, uint32_t seq) { return seq - ep->start_seq; }

static void gap(ts_summary *s, int e)
{
    if (is_clean(&s->zk[e]) && is_clean(&s->zk[1 - e]))
        scaled_history(s, e, 'G', &s->zk[e].gap_cnt, &s->zk[e].gap_thresh);
}

/* The peer acknowledged endpoint e's data up to rel_ack. */
static void ack_received(ts_summary *s, int e, uint32_t rel_ack)
{
    ts_zeek_endpoint *ep = &s->zk[e];
    if (ep->reassem == 0)
        ep->reassem = 1; /* data starts after the SYN octet */
    if (ep->fin_cnt > 0 && rel_ack >= ep->fin_seq)
        rel_ack = ep->fin_seq - 1u; /* the FIN octet is no data */
    if ((int32_t)(rel_ack - ep->reassem) <= 0)
        return;
    if (rel_ack <= 2 && s->is_partial)
        return; /* a partial connection's first ack */
    if (ep->above_valid && (int32_t)(ep->above_start - rel_ack) < 0) {
        gap(s, e); /* the hole below the block */
        ep->reassem = ep->above_end;
        ep->above_valid = 0;
    }
    if ((int32_t)(rel_ack - ep->reassem) > 0) {
        gap(s, e);
        ep->reassem = rel_ack;
    }
}

static void data_sent(ts_zeek_endpoint *ep, uint32_t rel_seq, uint32_t len)
{
    uint32_t upper = rel_seq + len;
    if (ep->reassem == 0)
        ep->reassem = 1;
    if ((int32_t)(upper - ep->reassem) <= 0)
        return; /* delivered already */
    if ((int32_t)(rel_seq - ep->reassem) <= 0) {
        ep->reassem = upper;
        if (ep->above_valid && (int32_t)(ep->above_start - ep->reassem) <= 0) {
            if ((int32_t)(ep->above_end - ep->reassem) > 0)
                ep->reassem = ep->above_end;
            ep->above_valid = 0;
        }
        return;
    }
    if (!ep->above_valid) {
        ep->above_valid = 1;
        ep->above_start = rel_seq;
        ep->above_end = upper;
    } else {
        if ((int32_t)(rel_seq - ep->above_start) < 0)
            ep->above_start = rel_seq;
        if ((int32_t)(upper - ep->above_end) > 0)
            ep->above_end = upper;
    }
}

/* One segment, as TCPSessionAdapter::Process sees it. */
static void zeek_process(ts_summary *s, const ts_segment *seg)
{
    int e = seg->from_b ? 1 : 0;
    ts_zeek_endpoint *ep = &s->zk[e], *peer = &s->zk[1 - e];
    bool is_orig = is_orig_endpoint(s, e);

    /* SetPartialStatus */
    if (is_orig) {
        if (!(s->first_seen & FIRST_ORIG))
            s->is_partial = !has(seg, TS_TH_SYN) || has(seg, TS_TH_ACK);
    } else if (!(s->first_seen & FIRST_RESP) && !s->is_partial) {
        s->is_partial = !has(seg, TS_TH_SYN);
    }

    uint32_t seg_len = seg->payload_len + (has(seg, TS_TH_SYN) ? 1u : 0u) + (has(seg, TS_TH_FIN) ? 1u : 0u);
    if (has(seg, TS_TH_RST))
        seg_len -= seg->payload_len;
    uint32_t seq_end = seg->seq + seg_len;

    init_endpoint(ep, seg, seq_end);
    uint32_t rel_seq = rel(ep, seg->seq);
    bool seq_underflow = seq_delta(seg->seq, ep->start_seq) < 0;

    update_history(s, e, seg, rel_seq);

    /* update_window: only its zero-window check matters here ('w'). */
    if (seg->window == 0 && !has(seg, TS_TH_RST) && peer->state != TS_ZK_CLOSED && ep->state != TS_ZK_RESET)
        scaled_history(s, e, 'W', &ep->win0_cnt, &ep->win0_thresh);

    if (!s->zk[0].did_close || !s->zk[1].did_close)
        s->zeek_last_ns = seg->time_ns; /* Conn()->SetLastTime */

    if (has(seg, TS_TH_FIN)) {
        ep->fin_cnt++;
        ep->fin_seq = rel_seq + seg_len;
    }
    if (has(seg, TS_TH_RST))
        ep->rst_cnt++;

    uint32_t rel_ack = 0;
    bool ack_ok = false;
    if (has(seg, TS_TH_ACK)) {
        if (peer->state == TS_ZK_INACTIVE) {
            rel_ack = 1;
            init_seqs(peer, seg->ack - 1u, seg->ack - 1u); /* init_peer */
            ack_ok = true;
        } else if (seq_delta(seg->ack, peer->start_seq) < 0) {
            rel_ack = 0; /* TCP_ack_underflow_or_misorder */
            ack_ok = true;
        } else {
            rel_ack = rel(peer, seg->ack);
            ack_ok = true;
            if (!has(seg, TS_TH_RST)) {
                int32_t d = seq_delta(seg->ack, peer->ack_seq);
                if (!(seg->ack == 0 && d > ZK_TOO_LARGE_SEQ_DELTA) && d > 0)
                    peer->ack_seq = seg->ack;
            }
        }
    }

    update_last_seq(s, e, seg, seq_end);
    bool do_close = update_state_machine(s, e, seg, is_orig);
    /* SetState: leaving the handshake states switches to tcp_inactivity_timeout */
    if (!handshake_state(ep->state) || !handshake_state(peer->state))
        s->zeek_long_timeout = 1;
    /* CheckPIA_FirstPacket, with Process()'s is_orig (taken before any flip) */
    s->first_seen |= (uint8_t)(is_orig ? FIRST_ORIG : FIRST_RESP);

    if (ack_ok)
        ack_received(s, 1 - e, rel_ack);

    if (seg->payload_len > 0 && !has(seg, TS_TH_RST) && !seq_underflow) {
        uint32_t data_seq = has(seg, TS_TH_SYN) ? rel_seq + 1u : rel_seq;
        uint32_t acked = rel(ep, ep->ack_seq);
        uint32_t len = seg->payload_len;
        if ((int32_t)(data_seq - acked) < 0) {
            uint32_t upper = data_seq + len;
            if ((int32_t)(upper - acked) <= 0)
                len = 0;
            else {
                len = upper - acked;
                data_seq = acked;
            }
        }
        if (len > 0)
            data_sent(ep, data_seq, len);
    }
    if (do_close)
        connection_closed(s, e);
}

/* TCPAnalyzer::WantConnection: which end Zeek makes the originator. */
static uint8_t choose_originator(const ts_segment *seg)
{
    int sender = seg->from_b ? 1 : 0;
    bool flip = false;
    if (!has(seg, TS_TH_SYN) || has(seg, TS_TH_ACK)) {
        if (is_likely_server_port(seg->src_port)) {
            if (is_likely_server_port(seg->dst_port))
                flip = !has(seg, TS_TH_SYN) && seg->src_port < seg->dst_port;
            else
                flip = true;
        }
    }
    return (uint8_t)(flip ? 1 - sender : sender);
}

/* ---- tcpstate's facts ---------------------------------------------------------- */

/* ESTABLISHED or any state after it (the closing states). */
static bool at_least_established(uint8_t st) { return st >= TS_ESTABLISHED && st < TS_STATE_COUNT; }
static bool closed_state(uint8_t st) { return st == TS_CLOSED || st == TS_TIME_WAIT; }

static void tcpstate_facts(ts_summary *s, const ts_segment *seg, const ts_annotation *a)
{
    int e = seg->from_b ? 1 : 0;
    s->orig_role = (uint8_t)(is_orig_endpoint(s, e) ? a->sender : 1u - a->sender);

    if (s->syn_ns == 0 && has(seg, TS_TH_SYN) && !has(seg, TS_TH_ACK) && !has(seg, TS_TH_RST))
        s->syn_ns = seg->time_ns != 0 ? seg->time_ns : 1;

    if (!s->established && at_least_established(a->next[TS_CLIENT]) &&
        at_least_established(a->next[TS_SERVER])) {
        s->established = 1;
        s->established_frame = seg->id;
        if (s->syn_ns != 0 && !(a->notes & TS_NOTE_ROLES_GUESSED)) {
            /* The capture clock may step back or span any range: unknown then. */
            int64_t rtt;
            s->handshake_rtt_ns = __builtin_sub_overflow(seg->time_ns, s->syn_ns, &rtt) || rtt < 0 ? -1 : rtt;
        }
    }

    if (s->closed_first == TS_CLOSER_NONE && (has(seg, TS_TH_FIN) || has(seg, TS_TH_RST)) &&
        a->phase != TS_PHASE_CLOSED)
        s->closed_first = (uint8_t)(a->sender == TS_CLIENT ? TS_CLOSER_CLIENT : TS_CLOSER_SERVER);
    if (a->notes & TS_NOTE_SIMULTANEOUS_CLOSE)
        s->closed_first = TS_CLOSER_BOTH;

    bool was_closed = closed_state(a->prev[TS_CLIENT]) && closed_state(a->prev[TS_SERVER]);
    if (!s->closed && !was_closed && closed_state(a->next[TS_CLIENT]) && closed_state(a->next[TS_SERVER])) {
        s->closed = 1;
        s->close_frame = seg->id;
    }

    for (int role = 0; role < 2; role++) {
        s->final_state[role] = a->next[role];
        if (a->next[role] != TS_TIME_WAIT)
            s->time_wait_end_ns[role] = 0;
        else if (a->time_wait_end_ns != 0 &&
                 (a->prev[role] != TS_TIME_WAIT || (a->notes & TS_NOTE_TIME_WAIT_RESTART)))
            s->time_wait_end_ns[role] = a->time_wait_end_ns;
    }
}

/* ---- the interface ------------------------------------------------------------- */

void ts_summary_init(ts_summary *s)
{
    memset(s, 0, sizeof *s);
}

/* IPBasedAnalyzer::AnalyzePacket asks TCPSessionAdapter::IsReuse of every
 * packet of a known connection: only a SYN starts a new one. */
static bool zeek_is_reuse(const ts_summary *s, const ts_segment *seg)
{
    if (!has(seg, TS_TH_SYN))
        return false;
    const ts_zeek_endpoint *orig = &s->zk[s->orig_endpoint], *resp = &s->zk[1 - s->orig_endpoint];
    const ts_zeek_endpoint *conn_orig = orig;
    if (has(seg, TS_TH_ACK)) {
        if (orig->state != TS_ZK_INACTIVE)
            return false; /* not a half connection */
        conn_orig = resp;
    }
    if (!orig->did_close && !resp->did_close) { /* !IsClosed() */
        if (seg->seq == conn_orig->start_seq)
            return false;
        if (!has(seg, TS_TH_ACK) && conn_orig->state == TS_ZK_SYN_ACK_SENT && resp->state == TS_ZK_INACTIVE &&
            seg->seq == resp->start_seq)
            return false; /* SYN and SYN-ACK seen in reverse order */
    }
    return true;
}

/* The timers that remove a Zeek connection, due by this segment's time
 * (Zeek dispatches due timers before it processes a packet). */
static bool zeek_removed(ts_summary *s, int64_t t)
{
    int64_t idle = s->zeek_long_timeout ? TS_ZEEK_INACTIVITY_NS : TS_ZEEK_INACTIVITY_OPEN_NS;
    int64_t quiet;
    /* Capture times may jump anywhere in int64 (hostile files): a gap too
     * large to compute is past any timeout when time went forward. */
    if (__builtin_sub_overflow(t, s->zeek_last_ns, &quiet))
        quiet = t > s->zeek_last_ns ? INT64_MAX : INT64_MIN;
    if (quiet >= idle) /* Session::InactivityTimer */
        return true;
    if (s->zeek_delete_ns != 0 && s->zeek_delete_ns <= t) /* ConnDeleteTimer */
        return true;
    if (s->zeek_attempt_ns != 0 && s->zeek_attempt_ns <= t) { /* AttemptTimer */
        s->zeek_attempt_ns = 0;
        uint8_t os = s->zk[s->orig_endpoint].state, rs = s->zk[1 - s->orig_endpoint].state;
        if ((os == TS_ZK_SYN_SENT || os == TS_ZK_SYN_ACK_SENT) && rs == TS_ZK_INACTIVE)
            return true;
    }
    return false;
}

/* A new Zeek connection (IPBasedAnalyzer::NewConn): Zeek's part starts over. */
static void zeek_begin(ts_summary *s, const ts_segment *seg)
{
    memset(s->zk, 0, sizeof s->zk);
    s->hist_seen = 0;
    s->is_partial = 0;
    s->first_seen = 0;
    s->history_len = 0;
    s->history_truncated = 0;
    s->history[0] = '\0';
    s->zeek_long_timeout = 0;
    s->zeek_delete_ns = 0;
    s->zeek_attempt_ns = 0;
    s->zeek_last_ns = seg->time_ns;
    s->orig_endpoint = choose_originator(seg);
    if (s->orig_endpoint != (seg->from_b ? 1 : 0))
        add_history(s, '^'); /* Connection::FlipRoles at creation */
}

bool ts_summary_update(ts_summary *s, const ts_segment *seg, const ts_annotation *a, ts_summary *finished)
{
    bool restarted = false;
    if (s->started && (a->notes & TS_NOTE_NEW_CONNECTION)) {
        uint32_t incarnation = s->incarnation + 1, zeek_index = s->zeek_index + 1;
        if (finished != NULL)
            *finished = *s;
        restarted = true;
        ts_summary_init(s);
        s->incarnation = incarnation;
        s->zeek_index = zeek_index;
    } else if (s->started && (zeek_removed(s, seg->time_ns) || zeek_is_reuse(s, seg))) {
        if (finished != NULL)
            *finished = *s;
        restarted = true;
        s->zeek_index++;
        zeek_begin(s, seg);
    }
    if (!s->started) {
        s->started = 1;
        zeek_begin(s, seg);
        s->open_frame = seg->id;
        s->first_ns = seg->time_ns;
        s->handshake_rtt_ns = -1;
    }
    s->segments++;
    s->last_frame = seg->id;
    zeek_process(s, seg);
    tcpstate_facts(s, seg, a);
    return restarted;
}

/* Zeek's Size(): payload bytes from sequence numbers. */
static uint64_t zeek_size(const ts_zeek_endpoint *ep, const ts_zeek_endpoint *peer)
{
    uint32_t acked = ep->ack_seq - ep->start_seq;
    bool no_data_acked = acked == 0 || acked == 1;
    if (ep->prev_state == TS_ZK_SYN_SENT && ep->state == TS_ZK_RESET && peer->state == TS_ZK_INACTIVE &&
        !no_data_acked)
        return 0;
    int32_t last = seq_delta(ep->last_seq, ep->start_seq);
    int32_t ack = seq_delta(ep->ack_seq, ep->start_seq);
    int64_t size = last > ack ? last : ack;
    if (size < 0)
        size = 0;
    if (size != 0)
        size--; /* the SYN octet */
    if (ep->fin_cnt > 0 && size != 0)
        size--; /* the FIN octet */
    return (uint64_t)size;
}

/* RSTOS0's history test: history =~ /^\^?S[^HAFGIQ]*R.*$/ (whole string). */
static bool history_syn_then_rst(const char *h)
{
    if (*h == '^')
        h++;
    if (*h++ != 'S')
        return false;
    for (; *h != '\0'; h++) {
        if (strchr("HAFGIQ", *h) != NULL)
            return false;
        if (*h == 'R')
            return true;
    }
    return false;
}

ts_conn_code ts_summary_conn_state(const ts_summary *s)
{
    if (!s->started)
        return TS_CONN_NONE;
    const ts_zeek_endpoint *o = &s->zk[s->orig_endpoint], *r = &s->zk[1 - s->orig_endpoint];
    uint8_t os = o->state, rs = r->state;
    bool o_inactive = os == TS_ZK_INACTIVE || os == TS_ZK_PARTIAL;
    bool r_inactive = rs == TS_ZK_INACTIVE || rs == TS_ZK_PARTIAL;

    if (rs == TS_ZK_RESET) {
        if (os == TS_ZK_SYN_SENT || os == TS_ZK_SYN_ACK_SENT ||
            (os == TS_ZK_RESET && zeek_size(o, r) == 0 && zeek_size(r, o) == 0))
            return TS_CONN_REJ;
        if (o_inactive)
            return TS_CONN_RSTRH;
        return TS_CONN_RSTR;
    }
    if (os == TS_ZK_RESET) {
        if (r_inactive)
            return history_syn_then_rst(s->history) ? TS_CONN_RSTOS0 : TS_CONN_OTH;
        return TS_CONN_RSTO;
    }
    if (rs == TS_ZK_CLOSED && os == TS_ZK_CLOSED)
        return TS_CONN_SF;
    if (os == TS_ZK_CLOSED)
        return r_inactive ? TS_CONN_SH : TS_CONN_S2;
    if (rs == TS_ZK_CLOSED)
        return o_inactive ? TS_CONN_SHR : TS_CONN_S3;
    if (os == TS_ZK_SYN_SENT && rs == TS_ZK_INACTIVE)
        return TS_CONN_S0;
    if (os == TS_ZK_ESTABLISHED && rs == TS_ZK_ESTABLISHED)
        return TS_CONN_S1;
    return TS_CONN_OTH;
}

const char *ts_summary_history(const ts_summary *s)
{
    return s->history;
}

int64_t ts_summary_time_wait_end(const ts_summary *s)
{
    return s->time_wait_end_ns[0] > s->time_wait_end_ns[1] ? s->time_wait_end_ns[0] : s->time_wait_end_ns[1];
}

ts_zeek_state ts_summary_zeek_state(const ts_summary *s, int responder)
{
    int e = responder ? 1 - s->orig_endpoint : s->orig_endpoint;
    return (ts_zeek_state)s->zk[e].state;
}

/* ---- names --------------------------------------------------------------------- */

/* The meanings are Zeek's conn.log documentation (main.zeek), word for word
 * except "we never saw" -> "never saw". */
static const char *const code_names[TS_CONN_CODE_COUNT][2] = {
    [TS_CONN_NONE] = {"", "No segment yet"},
    [TS_CONN_S0] = {"S0", "Connection attempt seen, no reply"},
    [TS_CONN_S1] = {"S1", "Connection established, not terminated"},
    [TS_CONN_SF] = {"SF", "Normal establishment and termination"},
    [TS_CONN_REJ] = {"REJ", "Connection attempt rejected"},
    [TS_CONN_S2] = {"S2", "Connection established and close attempt by originator seen (but no reply from responder)"},
    [TS_CONN_S3] = {"S3", "Connection established and close attempt by responder seen (but no reply from originator)"},
    [TS_CONN_RSTO] = {"RSTO", "Connection established, originator aborted (sent a RST)"},
    [TS_CONN_RSTR] = {"RSTR", "Responder sent a RST"},
    [TS_CONN_RSTOS0] = {"RSTOS0", "Originator sent a SYN followed by a RST, never saw a SYN-ACK from the responder"},
    [TS_CONN_RSTRH] = {"RSTRH", "Responder sent a SYN ACK followed by a RST, never saw a SYN from the (purported) originator"},
    [TS_CONN_SH] = {"SH", "Originator sent a SYN followed by a FIN, never saw a SYN ACK from the responder (hence the connection was \"half\" open)"},
    [TS_CONN_SHR] = {"SHR", "Responder sent a SYN ACK followed by a FIN, never saw a SYN from the originator"},
    [TS_CONN_OTH] = {"OTH", "No SYN seen, just midstream traffic (one example of this is a \"partial connection\" that was not later closed)"},
};

const char *ts_conn_code_name(ts_conn_code code)
{
    return (unsigned)code < TS_CONN_CODE_COUNT ? code_names[code][0] : "?";
}

const char *ts_conn_code_meaning(ts_conn_code code)
{
    return (unsigned)code < TS_CONN_CODE_COUNT ? code_names[code][1] : "?";
}

const char *ts_closer_name(ts_closer closer)
{
    switch (closer) {
    case TS_CLOSER_CLIENT:
        return "client";
    case TS_CLOSER_SERVER:
        return "server";
    case TS_CLOSER_BOTH:
        return "both";
    default:
        return "";
    }
}

const char *ts_zeek_state_name(ts_zeek_state state)
{
    static const char *const names[] = {"INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL",
                                        "ESTABLISHED", "CLOSED", "RESET"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "?";
}
