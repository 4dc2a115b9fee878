/*
 * Zeek's TCP analyzer for the connection summary (conn_summary.c): what
 * TCPSessionAdapter::Process() does with each segment (Zeek 6/7,
 * src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc): init_endpoint,
 * update_history, the zero-window check of update_window, the peer's ack
 * tracking, update_last_seq (the 't' retransmission letter),
 * UpdateStateMachine (Zeek's seven endpoint states), then the peer's
 * AckReceived (the 'g' content-gap letter). What is left out or approximated
 * is listed in docs/conn-summary.md.
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



void add_history(ts_summary *s, char code)
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
void zeek_process(ts_summary *s, const ts_segment *seg)
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
uint8_t choose_originator(const ts_segment *seg)
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
