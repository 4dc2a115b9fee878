/*
 * tcpstate core: the RFC 9293 TCP connection state machine, seen from a capture.
 *
 * A capture is taken at one point between two hosts. Every captured segment is a
 * *send* event for the endpoint that sent it and a *receive* event for the other
 * one (the Snort 3 "one tracker per side" model). The core keeps one endpoint
 * machine per side and answers, for each segment, which phase of the connection
 * it belongs to and the state of the client and of the server before and after it.
 *
 * Plain C99, no Wireshark or GLib types, no allocation: the caller owns a
 * ts_conn per connection and feeds it segments in capture order.
 */
#ifndef TCPSTATE_TCPSTATE_H
#define TCPSTATE_TCPSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The eleven states of RFC 9293 section 3.3.2. The order is part of the
 * interface (field values, stored records): append only. */
typedef enum ts_state {
    TS_CLOSED = 0,
    TS_LISTEN,
    TS_SYN_SENT,
    TS_SYN_RECEIVED,
    TS_ESTABLISHED,
    TS_FIN_WAIT_1,
    TS_FIN_WAIT_2,
    TS_CLOSE_WAIT,
    TS_CLOSING,
    TS_LAST_ACK,
    TS_TIME_WAIT,
    TS_STATE_COUNT
} ts_state;

/* What a segment does for its connection. 0 is "not annotated". */
typedef enum ts_phase {
    TS_PHASE_NONE = 0,
    TS_PHASE_HANDSHAKE,
    TS_PHASE_DATA,
    TS_PHASE_TEARDOWN,
    TS_PHASE_RESET,
    TS_PHASE_CLOSED, /* both ends were already closed when it was sent */
    TS_PHASE_COUNT
} ts_phase;

typedef enum ts_role { TS_CLIENT = 0, TS_SERVER = 1 } ts_role;

/* How states are spelled for people. Filter values stay the RFC names. */
typedef enum ts_spelling {
    TS_SPELL_RFC9293 = 0, /* SYN-RECEIVED, TIME-WAIT */
    TS_SPELL_LINUX_SS,    /* SYN-RECV, TIME-WAIT, UNCONN */
    TS_SPELL_LINUX_NETSTAT, /* SYN_RECV, TIME_WAIT, FIN_WAIT1 */
    TS_SPELL_BSD_NETSTAT, /* SYN_RCVD, TIME_WAIT, FIN_WAIT_1 (macOS, as in the seed) */
    TS_SPELL_WINDOWS_NETSTAT, /* SYN_RECEIVED, TIME_WAIT, FIN_WAIT_1 */
    TS_SPELL_COUNT
} ts_spelling;

/* TCP header flag bits as they are on the wire (RFC 9293 section 3.1). */
#define TS_TH_FIN 0x001u
#define TS_TH_SYN 0x002u
#define TS_TH_RST 0x004u
#define TS_TH_PSH 0x008u
#define TS_TH_ACK 0x010u
#define TS_TH_URG 0x020u

/* What hindsight knows about a segment's arrival at its receiver. A single pass
 * feeds every segment as TS_DELIVERED; a second pass feeds back what the first
 * pass learned (see ts_correction). */
typedef enum ts_delivery {
    TS_DELIVERED = 0,      /* reached the receiver when it was captured */
    TS_LOST,               /* never reached the receiver */
    TS_DELIVERED_LATE,     /* crossed the receiver's next segment: it arrived
                              after the receiver had sent that segment */
    TS_NO_LISTENER,        /* reached a port with no socket (answered by RST) */
    TS_RESET_BY_DATA,      /* new data reached a side whose application had closed:
                              it was reset on arrival (RFC 1122 4.2.2.13) */
    TS_OUT_OF_ORDER        /* arrived beyond a hole in its receiver's sequence space:
                              taken only when the hole filled (RFC 9293 3.10.7.4) */
} ts_delivery;

/* One captured TCP segment. */
typedef struct ts_segment {
    int64_t  time_ns;     /* capture timestamp */
    uint32_t seq;         /* raw (absolute) sequence number */
    uint32_t ack;         /* raw acknowledgment number (meaningful with ACK) */
    uint32_t payload_len; /* TCP payload bytes */
    uint32_t window;      /* the header's Window field, unscaled: the core scales it
                             once both SYNs carried a Window Scale option (RFC 7323) */
    uint32_t id;          /* caller's id for this segment, echoed in corrections */
    uint16_t flags;       /* TS_TH_* */
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t  from_b;      /* 0: sent by endpoint A (sender of the connection's
                             first captured segment), 1: sent by endpoint B */
    uint8_t  delivery;    /* ts_delivery */
    uint8_t  wscale_opt;  /* on a SYN: the Window Scale option's shift + 1; 0: none */
    uint8_t  opts;        /* TS_OPT_*: which of the options below the segment carried */
    uint32_t tsval;       /* Timestamps option (RFC 7323 3.2), with TS_OPT_TIMESTAMPS */
    uint32_t tsecr;
    uint32_t sack_left;   /* first SACK block (RFC 2018 3), raw, with TS_OPT_SACK: below */
    uint32_t sack_right;  /* SEG.ACK it is a D-SACK, a duplicate received (RFC 2883 4) */
} ts_segment;

/* Options a segment carried (ts_segment.opts). */
#define TS_OPT_TIMESTAMPS 0x01u
#define TS_OPT_SACK       0x02u
#define TS_OPT_SACK_PERMITTED 0x04u /* on a SYN (RFC 2018 2): its sender reports duplicates by D-SACK */

/* Notes: facts about one segment, one bit each. */
enum {
    TS_NOTE_ROLES_GUESSED      = 1u << 0,  /* capture began mid-connection */
    TS_NOTE_STATES_ASSUMED     = 1u << 1,  /* states rest on segments not captured */
    TS_NOTE_SIMULTANEOUS_OPEN  = 1u << 2,
    TS_NOTE_SIMULTANEOUS_CLOSE = 1u << 3,
    TS_NOTE_REFUSED            = 1u << 4,  /* RST answering a SYN: no listener */
    TS_NOTE_CORRECTS           = 1u << 5,  /* evidence here corrects an earlier segment */
    TS_NOTE_NOT_RECEIVED       = 1u << 6,  /* hindsight: never reached its receiver */
    TS_NOTE_DELIVERED_LATE     = 1u << 7,  /* hindsight: crossed the peer's next segment */
    TS_NOTE_DATA_AFTER_FIN     = 1u << 8,
    TS_NOTE_RST_IGNORED        = 1u << 9,  /* RST not acceptable: no effect */
    TS_NOTE_SYNACK_BAD_ACK     = 1u << 10, /* SYN-ACK whose ack is not our ISN+1 */
    TS_NOTE_REOPEN_TIME_WAIT   = 1u << 11, /* SYN found a side in TIME-WAIT */
    TS_NOTE_AFTER_CLOSE        = 1u << 12, /* both ends were closed already */
    TS_NOTE_RETRANSMISSION     = 1u << 13, /* SYN or FIN sent again */
    TS_NOTE_KEEPALIVE          = 1u << 14,
    TS_NOTE_MERGED_FIN_ACK     = 1u << 15, /* teardown steps 2 and 3 in one segment */
    TS_NOTE_TIME_WAIT_RESTART  = 1u << 16, /* a FIN restarted the 2MSL wait */
    TS_NOTE_DATA_ON_SYN        = 1u << 17, /* TCP Fast Open style */
    TS_NOTE_NEW_CONNECTION     = 1u << 18, /* SYN on the same ports after a close */
    TS_NOTE_TIME_WAIT_ENDED    = 1u << 19, /* a side left TIME-WAIT before this segment */
    TS_NOTE_HANDSHAKE_ACK_OK   = 1u << 20, /* ack = peer ISN + 1 (checked) */
    TS_NOTE_RST_CHALLENGE      = 1u << 21, /* RST in window but not exact: challenge ACK (RFC 5961) */
    TS_NOTE_UNEXPECTED         = 1u << 22, /* segment makes no sense in the sender's state */
};

/* One segment's annotation: the core's whole answer. */
typedef struct ts_annotation {
    uint8_t  prev[2];        /* ts_state by ts_role, before the segment */
    uint8_t  next[2];        /* ts_state by ts_role, after it */
    uint8_t  sender;         /* ts_role of the sender */
    uint8_t  phase;          /* ts_phase */
    uint8_t  handshake_step; /* 1-3 (1-4 in a simultaneous open), 0 if none */
    uint8_t  teardown_step;  /* 1-4 as in the seed (FIN, ACK, FIN, ACK), 0 if none */
    uint32_t notes;          /* TS_NOTE_* */
    uint32_t expected_ack;   /* handshake segments with ACK: the peer's ISN + 1 */
    int64_t  time_wait_end_ns; /* when a side entered (or restarted) TIME-WAIT: its end */
} ts_annotation;

/* A correction: single-pass evidence that an earlier segment did not do what
 * the annotation said. From segment since_id on (its state after; also its
 * state before when prev_too), until this segment, side `role` was `state`. */
typedef struct ts_correction {
    bool     valid;
    bool     prev_too;   /* since_id's state before was wrong as well */
    uint8_t  role;       /* ts_role whose state was wrong */
    uint8_t  state;      /* ts_state it really was */
    uint8_t  delivery;   /* what really happened to segment_id (ts_delivery) */
    uint32_t segment_id; /* the segment whose arrival was misjudged */
    uint32_t since_id;   /* the first segment whose annotation was wrong */
} ts_correction;

/* At most two corrections per side per segment, in order of since_id: the
 * state since the misjudged segment, and, when the receive of a later segment
 * is replayed on the corrected state, the state since that one. Applied in
 * order, each rewrites from its since_id on. */
#define TS_MAX_CORRECTIONS 4

typedef struct ts_config {
    int64_t time_wait_ns; /* how long TIME-WAIT lasts (Linux 60 s, RFC 9293 2*MSL = 240 s) */
} ts_config;

/* One connection's state machine, opaque: the caller owns ts_conn_size()
 * bytes per connection (aligned as malloc aligns) and gives them to
 * ts_conn_init(); the core never allocates. core/tcpstate_internal.h has the
 * layout, for the core's own files and tests. */
typedef struct ts_conn ts_conn;

/* Bytes a ts_conn takes. */
size_t ts_conn_size(void);

/* Start a connection. */
void ts_conn_init(ts_conn *conn, const ts_config *config);

/* Start a connection whose endpoint A (the sender of its first segment) or B
 * was last seen in `state` by an earlier connection on the same ports (for a
 * side in TIME-WAIT, until time_wait_end_ns). Call right after ts_conn_init. */
void ts_conn_inherit(ts_conn *conn, int endpoint, ts_state state, int64_t time_wait_end_ns);

/* Feed one segment. Writes its annotation; if the segment is evidence that
 * earlier ones were misjudged, fills corrections (an array of
 * TS_MAX_CORRECTIONS, or NULL): unused entries have valid == false. */
void ts_conn_step(ts_conn *conn, const ts_segment *seg, ts_annotation *out,
                  ts_correction *corrections);

/* The oldest segment id a later ts_conn_step may still correct, or UINT32_MAX
 * if none: callers keep what they need to patch back to this id, no further. */
uint32_t ts_conn_correctable_since(const ts_conn *conn);

/* Final state of an endpoint (0 = A, 1 = B) as of time_ns, for ts_conn_inherit. */
ts_state ts_conn_endpoint_state(const ts_conn *conn, int endpoint, int64_t time_ns,
                                int64_t *time_wait_end_ns);

/* Whether nothing later in the capture can change what the connection
 * shows, as of time now_ns: both ends CLOSED (TIME-WAIT over), and no RST
 * that closed one of them is still waiting for its receiver to show it
 * alive (its retransmission timer, at most RFC 6298's cap). A caller may
 * then forget the connection. */
bool ts_conn_forgettable(const ts_conn *conn, int64_t now_ns);

/* When ts_conn_forgettable() becomes true if no further segment comes: false
 * when it never would (an end is not closed), else true with *from_ns set. */
bool ts_conn_forgettable_from(const ts_conn *conn, int64_t *from_ns);

/* Connections so far on these ports: counts up when a segment starts a new
 * incarnation (a SYN after a close, a TIME-WAIT reopened). */
uint32_t ts_conn_incarnation(const ts_conn *conn);

/* Whether `seg`, a SYN sent by `endpoint` (0 = A, 1 = B), is that end's
 * opening SYN of this connection sent again (the same initial sequence
 * number): it belongs here, even where a caller's own tracker would start a
 * new connection on it (Wireshark 4.4+ does, after a RST). */
bool ts_conn_repeats_open(const ts_conn *conn, int endpoint, const ts_segment *seg);

/* Clears what no later step reads (the leftovers of finished pending
 * receives), so that a caller that keeps connections compressed between
 * their segments compresses less. Changes nothing a step sees. */
void ts_conn_compact(ts_conn *conn);

/* Role of an endpoint, and whether both ends are closed. */
ts_role ts_conn_role_of(const ts_conn *conn, int endpoint);
bool ts_conn_finished(const ts_conn *conn);

/* Names. ts_state_name() is the RFC 9293 spelling used by filters. */
const char *ts_state_name(ts_state state);
const char *ts_state_spelled(ts_state state, ts_spelling spelling);
const char *ts_phase_name(ts_phase phase);
const char *ts_role_name(ts_role role);

#ifdef __cplusplus
}
#endif

#endif /* TCPSTATE_TCPSTATE_H */
