/*
 * Connection summary: Zeek's conn_state and history, computed the way Zeek's
 * TCP analyzer computes them, plus tcpstate's own per-connection facts.
 *
 * The Zeek part (zeek_session.c) re-implements, per segment and in order,
 * what Zeek's TCPSessionAdapter::Process() does; here are when a Zeek
 * connection begins and ends, tcpstate's own facts, and conn_state(), the
 * function of the same name in scripts/base/protocols/conn/main.zeek. What is
 * left out or approximated is listed in docs/conn-summary.md.
 */
#include "tcpstate/conn_summary.h"
#include "tcpstate_internal.h"

#include <string.h>

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
