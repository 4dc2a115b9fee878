/*
 * tcpstate connection summary: what a whole connection did, in Zeek's terms
 * (conn.log conn_state and history) and in tcpstate's (who closed first, the
 * frames that opened and closed it, handshake RTT, TIME-WAIT end).
 *
 * Fed with every segment of one connection, in capture order, with the same
 * ts_segment the core stepped and the ts_annotation it produced. Plain C99, no
 * Wireshark or GLib types, no allocation. A zeroed ts_summary is a valid empty
 * one (ts_summary_init() only zeroes it).
 *
 * Zeek's rules are followed as Zeek implements them (scripts/base/protocols/
 * conn/main.zeek: conn_state(); src/packet_analysis/protocol/tcp/
 * TCPSessionAdapter.cc: the endpoint state machine and update_history()); see
 * docs/conn-summary.md for every rule and where it comes from.
 */
#ifndef TCPSTATE_CONN_SUMMARY_H
#define TCPSTATE_CONN_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "tcpstate/tcpstate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zeek's conn_state codes. 0 is "no segment yet". Append only. */
typedef enum ts_conn_code {
    TS_CONN_NONE = 0,
    TS_CONN_S0,
    TS_CONN_S1,
    TS_CONN_SF,
    TS_CONN_REJ,
    TS_CONN_S2,
    TS_CONN_S3,
    TS_CONN_RSTO,
    TS_CONN_RSTR,
    TS_CONN_RSTOS0,
    TS_CONN_RSTRH,
    TS_CONN_SH,
    TS_CONN_SHR,
    TS_CONN_OTH,
    TS_CONN_CODE_COUNT
} ts_conn_code;

/* Zeek's TCP endpoint states (TCP_ENDPOINT_*), which conn_state reads. */
typedef enum ts_zeek_state {
    TS_ZK_INACTIVE = 0,
    TS_ZK_SYN_SENT,
    TS_ZK_SYN_ACK_SENT,
    TS_ZK_PARTIAL,
    TS_ZK_ESTABLISHED,
    TS_ZK_CLOSED,
    TS_ZK_RESET
} ts_zeek_state;

/* Who closed first. */
typedef enum ts_closer {
    TS_CLOSER_NONE = 0,
    TS_CLOSER_CLIENT,
    TS_CLOSER_SERVER,
    TS_CLOSER_BOTH /* the FINs crossed: a simultaneous close */
} ts_closer;

/* One endpoint as Zeek's TCP analyzer tracks it. Sequence numbers are raw. */
typedef struct ts_zeek_endpoint {
    uint8_t  state;       /* ts_zeek_state */
    uint8_t  prev_state;
    uint8_t  above_valid; /* a block of data seen above a hole */
    uint8_t  did_close;   /* ConnectionClosed() ran for it */
    uint32_t start_seq;   /* ISN (or first seq - 1 for a partial connection) */
    uint32_t last_seq;    /* highest sequence number sent + 1 */
    uint32_t ack_seq;     /* highest acknowledgment the peer sent for it */
    uint32_t fin_seq;     /* relative: just past its FIN */
    uint32_t fin_cnt, rst_cnt;
    uint32_t hist_last_syn, hist_last_fin, hist_last_rst; /* relative */
    uint32_t rxmt_cnt, rxmt_thresh;
    uint32_t win0_cnt, win0_thresh;
    uint32_t gap_cnt, gap_thresh;
    uint32_t reassem;     /* relative: contiguous data seen up to here */
    uint32_t above_start, above_end;
} ts_zeek_endpoint;

#define TS_HISTORY_MAX 64

typedef struct ts_summary {
    /* ---- Zeek's view (endpoints by capture endpoint: 0 = A, 1 = B) ---- */
    ts_zeek_endpoint zk[2];
    uint32_t hist_seen;      /* Zeek's per-connection history bits */
    uint8_t  started;
    uint8_t  orig_endpoint;  /* which endpoint Zeek calls the originator */
    uint8_t  is_partial;
    uint8_t  first_seen;     /* bit 1 orig, bit 2 resp (Zeek's first_packet_seen) */
    uint8_t  history_len;
    uint8_t  history_truncated;
    char     history[TS_HISTORY_MAX + 1];
    uint8_t  zeek_long_timeout; /* the handshake left its states: tcp_inactivity_timeout */
    uint32_t zeek_index;     /* Zeek connections before the current one in this summary */
    int64_t  zeek_last_ns;   /* Zeek's Conn()->LastTime() */
    int64_t  zeek_delete_ns; /* close complete: removed at last time + tcp_close_delay (0: no) */
    int64_t  zeek_attempt_ns; /* AttemptTimer (0: none pending) */

    /* ---- tcpstate's view (by ts_role) ---- */
    uint8_t  orig_role;      /* ts_role of Zeek's originator */
    uint8_t  closed_first;   /* ts_closer */
    uint8_t  final_state[2]; /* ts_state by role after the last segment */
    uint8_t  established;    /* both sides reached ESTABLISHED (or later) */
    uint8_t  closed;         /* both sides were closed (CLOSED or TIME-WAIT) */
    uint32_t incarnation;    /* connections seen on these ports before this one */
    uint32_t segments;
    uint32_t open_frame;     /* seg.id of its first segment */
    uint32_t established_frame; /* seg.id that completed the opening */
    uint32_t close_frame;    /* seg.id after which both sides were closed */
    uint32_t last_frame;
    int64_t  first_ns;
    int64_t  syn_ns;         /* first SYN (without ACK), 0 if none */
    int64_t  handshake_rtt_ns; /* first SYN to the segment completing the handshake; -1 unknown */
    int64_t  time_wait_end_ns[2]; /* by role: when a side in TIME-WAIT leaves it, 0 if not in it */
} ts_summary;

/* Start an empty summary (equivalent to zeroing it). */
void ts_summary_init(ts_summary *s);

/* Feed one segment with the annotation ts_conn_step() gave it. A segment
 * the core marks TS_NOTE_NEW_CONNECTION starts the summary over (incarnation
 * and zeek_index count up). A segment that Zeek would put in a new connection
 * although the core does not (TCPSessionAdapter::IsReuse: a SYN that is not
 * the originator's ISN, as in a simultaneous open; or the old one was removed
 * by Zeek's timers: tcp_close_delay 5 s after both closed, tcp_attempt_delay
 * 5 s for an unanswered SYN, inactivity 1 min / 5 min) starts the Zeek part
 * over (history, conn_state, originator) and counts zeek_index up, keeping
 * tcpstate's facts. When the segment starts a new connection either way and
 * `finished` is not NULL, *finished gets the summary as it was before it (the
 * connection that ended) and the call returns true: a caller that shows each
 * segment the summary of its own connection keeps those. */
bool ts_summary_update(ts_summary *s, const ts_segment *seg, const ts_annotation *a, ts_summary *finished);

/* Zeek's timer constants (init-bare.zeek defaults), in ns. */
#define TS_ZEEK_CLOSE_DELAY_NS (5LL * 1000000000)
#define TS_ZEEK_ATTEMPT_DELAY_NS (5LL * 1000000000)
#define TS_ZEEK_INACTIVITY_NS (300LL * 1000000000)      /* tcp_inactivity_timeout */
#define TS_ZEEK_INACTIVITY_OPEN_NS (60LL * 1000000000)  /* udp_inactivity_timeout, before the handshake */

/* Zeek's conn_state as of the last segment fed. */
ts_conn_code ts_summary_conn_state(const ts_summary *s);

/* Zeek's history string ("" before any segment). */
const char *ts_summary_history(const ts_summary *s);

/* A side's TIME-WAIT end as of the last segment (0 if that side is not in
 * TIME-WAIT), and the later of the two. */
int64_t ts_summary_time_wait_end(const ts_summary *s);

/* Zeek's endpoint state of the originator (role 0) or responder (1). */
ts_zeek_state ts_summary_zeek_state(const ts_summary *s, int responder);

/* Names. */
const char *ts_conn_code_name(ts_conn_code code);    /* "SF" */
const char *ts_conn_code_meaning(ts_conn_code code); /* Zeek's documented text */
const char *ts_closer_name(ts_closer closer);        /* "client", "server", "both" */
const char *ts_zeek_state_name(ts_zeek_state state); /* "ESTABLISHED" ... */

#ifdef __cplusplus
}
#endif

#endif /* TCPSTATE_CONN_SUMMARY_H */
