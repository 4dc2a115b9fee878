/*
 * libFuzzer target for the tcpstate core (issue #6: never crash Wireshark).
 *
 * The input bytes are decoded into a few connections and a sequence of
 * ts_segment fed to ts_conn_step(); after every step the annotation, the
 * correction and the connection are checked against the invariants below.
 * Any violation aborts (libFuzzer and the replay driver report it as a crash).
 *
 * Input encoding (all integers little endian):
 *   header, 4 bytes:
 *     h0  bits 0-1  connections - 1 (taken mod 3: 1 to 3 connections)
 *         bits 2-3  TIME-WAIT length: 60 s, 240 s, 1 ms, 0
 *     h1  bit 0     inherit on connection 0 before its first segment
 *         bit 1     endpoint to inherit (0 A, 1 B)
 *         bits 2-5  state (raw, so 11-15 test the out-of-range guard)
 *     h2-h3         TIME-WAIT end of the inherited state, in ms
 *   then records of 24 bytes, one segment each:
 *     0  ctl    bits 0-1 connection (mod count), bit 2 from_b, bits 3-4 delivery,
 *               bits 5-7 time mode (see decode_time)
 *     1  flags  FIN SYN RST PSH ACK URG ECE CWR (the low 8 wire bits)
 *     2  modes  bits 0-1 seq mode, 2-3 ack mode, 4-5 length mode, 6-7 window mode
 *     3  misc   bits 0-1 port pattern, bit 2 re-initialise the connection first
 *               (a new tcp.stream on the same ports), bit 3 inherit an arbitrary
 *               state on re-init instead of the plugin's TIME-WAIT carry-over,
 *               bits 4-7 flag bits 0x100-0x800 (AE and reserved)
 *     4  seq32  8 ack32  12 len16  14 win16  16 t32  20 aux32
 *   Sequence and acknowledgment numbers are mostly relative to what the
 *   harness saw each endpoint send (so that zero bytes make a sane sequence);
 *   raw modes give arbitrary 32-bit values, and the replay seeds made from
 *   captures use them.
 *
 * Environment: FUZZ_CORE_CLAMP_TIME=1 keeps timestamps within +-2^59 ns, to
 * fuzz past the known time overflows (fuzz/regress); FUZZ_CORE_STRICT_TIME=1
 * also requires a TIME-WAIT to start no earlier than the segment reporting it;
 * FUZZ_CORE_IGNORE_KNOWN=1 skips the invariants fuzz/regress already shows broken.
 */
#include "fuzz_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h" /* white-box: the invariants read the machine's fields */

/* The connection summary (Zeek conn_state/history), when the core has it:
 * fed every annotated segment, as the plugin does. */
#if defined(__has_include)
#if __has_include("tcpstate/conn_summary.h")
#include "tcpstate/conn_summary.h"
#define FUZZ_HAVE_SUMMARY 1
#endif
#endif

/* ts_conn_step fills an array of corrections (TS_MAX_CORRECTIONS) since the
 * core learnt to report one per side; before, a single one. */
#ifdef TS_MAX_CORRECTIONS
#define NCORR TS_MAX_CORRECTIONS
#define CORR_SEGMENT(c) ((c)->segment_id)
#else
#define NCORR 1
#define CORR_SEGMENT(c) ((c)->since_id)
#endif

/* With ASan, its allocator tells every malloc: count those made inside the core. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_HAVE_MALLOC_HOOKS 1
#endif
#endif
#if !defined(FUZZ_HAVE_MALLOC_HOOKS) && defined(__SANITIZE_ADDRESS__)
#define FUZZ_HAVE_MALLOC_HOOKS 1
#endif
#ifdef FUZZ_HAVE_MALLOC_HOOKS
/* From <sanitizer/allocator_interface.h>, which gcc does not install. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
#endif

#define MAX_CONNS 3
#define HEADER_SIZE 4

int fuzz_core_verbose;

/* ---- allocation watch: the core must not allocate ------------------------ */

static _Thread_local int in_core; /* per thread: libFuzzer's own threads allocate too */
static _Thread_local unsigned long core_allocations;

#ifdef FUZZ_HAVE_MALLOC_HOOKS
static void on_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    (void)size;
    if (in_core)
        core_allocations++;
}
static void on_free(const volatile void *ptr)
{
    (void)ptr;
}
#endif

static void install_hooks(void)
{
    static int done;
    if (done)
        return;
    done = 1;
#ifdef FUZZ_HAVE_MALLOC_HOOKS
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
#endif
}

/* ---- failure ---------------------------------------------------------------- */

static unsigned step_index;
static int strict_time;  /* FUZZ_CORE_STRICT_TIME */
static int ignore_known; /* FUZZ_CORE_IGNORE_KNOWN: skip the checks fuzz/regress already fails */

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_core: invariant violated at segment %u: ", step_index);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

/* ---- RFC 9293 transition tables ------------------------------------------- */

/* Why a transition is allowed for a side, per segment. */
enum {
    T_OK = 1,       /* a direct effect RFC 9293 gives one segment */
    T_ASSUMED = 2,  /* only if a segment not in the capture arrived: needs STATES_ASSUMED */
    T_REUSE = 4,    /* reuse of a TIME-WAIT pair (RFC 6191, RFC 1122 4.2.2.13): needs REOPEN_TIME_WAIT */
    T_LATE = 8,     /* the sender also receives a peer segment shown to have crossed this one:
                       needs an earlier correction (or input) marking it delivered late */
};

#define S(x) TS_##x
/* SEND: what sending one segment does to its sender (RFC 9293 3.10.1-3.10.5
 * user calls, and 3.10.7 answers). Identity is always allowed. A segment is
 * either a RST (alone) or an opening effect followed by a closing one (a
 * SYN-ACK carrying a FIN: LISTEN -> SYN-RECEIVED -> FIN-WAIT-1). */
typedef struct { uint8_t from, to, why; const char *reason; } transition;
static const transition open_table[] = {
    {S(CLOSED), S(SYN_SENT), T_OK, "OPEN active: SYN sent (3.10.1)"},
    {S(LISTEN), S(SYN_SENT), T_OK, "SEND on a LISTEN connection turns it active (3.10.2)"},
    {S(TIME_WAIT), S(SYN_SENT), T_REUSE, "new SYN from a TIME-WAIT pair (RFC 6191)"},
    {S(LISTEN), S(SYN_RECEIVED), T_ASSUMED, "SYN-ACK: a SYN the capture missed arrived (3.10.7.2)"},
    {S(SYN_SENT), S(SYN_RECEIVED), T_ASSUMED, "SYN-ACK from SYN-SENT: peer SYN missed, simultaneous open (fig. 7)"},
    {S(SYN_SENT), S(ESTABLISHED), T_ASSUMED, "ACK from SYN-SENT: a SYN-ACK the capture missed (3.10.7.3)"},
    {S(SYN_RECEIVED), S(ESTABLISHED), T_ASSUMED, "data from SYN-RECEIVED: the peer's ACK was missed"},
};
static const transition fin_table[] = {
    {S(SYN_RECEIVED), S(FIN_WAIT_1), T_OK, "CLOSE in SYN-RECEIVED sends FIN (3.10.4)"},
    {S(ESTABLISHED), S(FIN_WAIT_1), T_OK, "CLOSE in ESTABLISHED sends FIN (3.10.4)"},
    {S(CLOSE_WAIT), S(LAST_ACK), T_OK, "CLOSE in CLOSE-WAIT sends FIN (3.10.4)"},
};
/* RST sent: ABORT (3.10.5) or a reset answering a bad segment; LISTEN stays. */
static const transition rst_table[] = {
    {S(SYN_SENT), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(SYN_RECEIVED), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(ESTABLISHED), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(FIN_WAIT_1), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(FIN_WAIT_2), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(CLOSE_WAIT), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(CLOSING), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(LAST_ACK), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
    {S(TIME_WAIT), S(CLOSED), T_OK, "RST sent: ABORT (3.10.5)"},
};

/* RECV: what receiving one segment does to its receiver (RFC 9293 3.10.7),
 * with the steps one segment goes through (ACK, then FIN) folded in. */
static const transition recv_table[] = {
    {S(LISTEN), S(SYN_RECEIVED), T_OK, "SYN in LISTEN (3.10.7.2)"},
    {S(SYN_SENT), S(ESTABLISHED), T_OK, "acceptable SYN-ACK (3.10.7.3)"},
    {S(SYN_SENT), S(SYN_RECEIVED), T_OK, "SYN without ACK: simultaneous open (3.10.7.3, fig. 7)"},
    {S(SYN_SENT), S(CLOSED), T_OK, "RST with acceptable ACK: refused (3.10.7.3)"},
    {S(SYN_RECEIVED), S(ESTABLISHED), T_OK, "acceptable ACK (3.10.7.4 fifth step)"},
    {S(SYN_RECEIVED), S(CLOSE_WAIT), T_OK, "acceptable ACK then FIN (fifth and eighth steps)"},
    {S(SYN_RECEIVED), S(LISTEN), T_OK, "RST, passive open (3.10.7.4 first step)"},
    {S(SYN_RECEIVED), S(CLOSED), T_OK, "RST, active open (3.10.7.4 first step)"},
    {S(ESTABLISHED), S(CLOSE_WAIT), T_OK, "FIN (eighth step)"},
    {S(ESTABLISHED), S(CLOSED), T_OK, "acceptable RST (first step)"},
    {S(FIN_WAIT_1), S(FIN_WAIT_2), T_OK, "ACK of our FIN (fifth step)"},
    {S(FIN_WAIT_1), S(CLOSING), T_OK, "FIN, ours not acked (eighth step)"},
    {S(FIN_WAIT_1), S(TIME_WAIT), T_OK, "FIN acking our FIN (fifth then eighth step)"},
    {S(FIN_WAIT_1), S(CLOSED), T_OK, "acceptable RST"},
    {S(FIN_WAIT_2), S(TIME_WAIT), T_OK, "FIN (eighth step)"},
    {S(FIN_WAIT_2), S(CLOSED), T_OK, "acceptable RST"},
    {S(CLOSE_WAIT), S(CLOSED), T_OK, "acceptable RST"},
    {S(CLOSING), S(TIME_WAIT), T_OK, "ACK of our FIN"},
    {S(CLOSING), S(CLOSED), T_OK, "acceptable RST"},
    {S(LAST_ACK), S(CLOSED), T_OK, "ACK of our FIN, or RST"},
    {S(TIME_WAIT), S(CLOSED), T_OK, "RST in TIME-WAIT (3.10.7.4 first step; RFC 1337 would ignore it)"},
    {S(TIME_WAIT), S(SYN_RECEIVED), T_REUSE, "new SYN above the old sequence space (RFC 6191)"},
};

/* PEER: what a segment's sending says about its receiver before it arrives
 * (only as an assumption: the proof is a segment the capture missed). */
static const transition peer_table[] = {
    {S(LISTEN), S(SYN_RECEIVED), T_ASSUMED, "ACK from SYN-SENT proves the peer sent a SYN-ACK"},
    {S(SYN_SENT), S(ESTABLISHED), T_ASSUMED, "data from SYN-RECEIVED proves the peer sent the ACK"},
    {S(CLOSE_WAIT), S(LAST_ACK), T_ASSUMED, "an ACK one past all its sender acked proves the peer sent a FIN"},
};

/* MISSED: what the sender received, before this send, from a peer segment the
 * capture missed (only as an assumption; one-direction captures). */
static const transition missed_table[] = {
    {S(FIN_WAIT_1), S(TIME_WAIT), T_ASSUMED, "after our FIN, an ACK one past all we acked: the peer's FIN arrived"},
    {S(FIN_WAIT_2), S(TIME_WAIT), T_ASSUMED, "after our FIN, an ACK one past all we acked: the peer's FIN arrived"},
};
#undef S

#define NS TS_STATE_COUNT
/* A cell is the set of ways a transition can happen: bit k set means it is
 * reachable with requirement set k (k = why >> 1: 1 assumed, 2 reuse, 4 late;
 * k = 0 plain). 0: not reachable at all. Identity is plain. */
typedef uint8_t ways;
static ways open_once[NS][NS], fin_once[NS][NS], rst_once[NS][NS], send_any[NS][NS], recv_once[NS][NS],
    recv_late[NS][NS], peer_once[NS][NS], missed_once[NS][NS];
static ways sender_allowed[NS][NS], receiver_allowed[NS][NS];

static ways way_of(uint8_t why) { return (ways)(1u << ((why >> 1) & 7u)); }

/* a then b: every pair of ways, their requirements add up. */
static void compose(ways out[NS][NS], ways a[NS][NS], ways b[NS][NS])
{
    ways tmp[NS][NS];
    memset(tmp, 0, sizeof tmp);
    for (int x = 0; x < NS; x++)
        for (int y = 0; y < NS; y++)
            for (int z = 0; z < NS; z++)
                for (unsigned ka = 0; ka < 8; ka++)
                    for (unsigned kb = 0; kb < 8; kb++)
                        if ((a[x][y] >> ka & 1u) && (b[y][z] >> kb & 1u))
                            tmp[x][z] |= (ways)(1u << (ka | kb));
    memcpy(out, tmp, sizeof tmp);
}

static void build_tables(void)
{
    static int built;
    if (built)
        return;
    built = 1;
    for (int x = 0; x < NS; x++)
        open_once[x][x] = fin_once[x][x] = rst_once[x][x] = recv_once[x][x] = peer_once[x][x] =
            missed_once[x][x] = 1;
#define FILL(m, t)                                                                                 \
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)                                            \
        m[t[i].from][t[i].to] |= way_of(t[i].why);
    FILL(open_once, open_table)
    FILL(fin_once, fin_table)
    FILL(rst_once, rst_table)
    FILL(recv_once, recv_table)
    FILL(peer_once, peer_table)
    FILL(missed_once, missed_table)
#undef FILL
    /* A segment's send effects: a RST alone, or opening then closing. */
    compose(send_any, open_once, fin_once);
    for (int x = 0; x < NS; x++)
        for (int y = 0; y < NS; y++)
            send_any[x][y] |= rst_once[x][y];
    /* The sender: its send effects, then at most one receive of the peer's
     * earlier segment that crossed it (delivered late, applied now); or, for a
     * segment with no effect of its own (a bare ACK), the receive of a segment
     * the capture missed (assumed). */
    for (int x = 0; x < NS; x++)
        for (int y = 0; y < NS; y++) {
            recv_late[x][y] = 0;
            for (unsigned k = 0; k < 8; k++)
                if (recv_once[x][y] >> k & 1u)
                    recv_late[x][y] |= (ways)(1u << (x == y ? k : (k | (T_LATE >> 1))));
        }
    compose(sender_allowed, send_any, recv_late);
    for (int x = 0; x < NS; x++)
        for (int y = 0; y < NS; y++)
            if (x != y)
                sender_allowed[x][y] |= missed_once[x][y];
    /* The receiver: what the send proves about it, then the receive. */
    compose(receiver_allowed, peer_once, recv_once);
}

static void print_ways(FILE *f, ways w)
{
    const char *sep = "";
    for (unsigned k = 0; k < 8; k++) {
        if (!(w >> k & 1u))
            continue;
        fprintf(f, "%s%s", sep, k == 0 ? "plain" : "");
        if (k & 1u)
            fprintf(f, "%sassumed", k == 1 ? "" : "");
        if (k & 2u)
            fprintf(f, "%sreuse", (k & 1u) ? "+" : "");
        if (k & 4u)
            fprintf(f, "%slate", (k & 3u) ? "+" : "");
        sep = " | ";
    }
}

static void print_base(FILE *f, const char *title, const transition *t, size_t n)
{
    fprintf(f, "## %s\n", title);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%-13s -> %-13s %-8s %s\n", ts_state_name((ts_state)t[i].from), ts_state_name((ts_state)t[i].to),
                t[i].why == T_ASSUMED ? "assumed" : t[i].why == T_REUSE ? "reuse" : "plain", t[i].reason);
}

void fuzz_core_print_tables(FILE *f)
{
    build_tables();
#define BASE(title, t) print_base(f, title, t, sizeof t / sizeof t[0])
    BASE("send, opening (one per segment)", open_table);
    BASE("send, closing (after the opening effect)", fin_table);
    BASE("send, RST (alone)", rst_table);
    BASE("receive (one per segment; late: applied to the sender after its own send)", recv_table);
    BASE("what a send proves about its receiver (before the receive)", peer_table);
    BASE("what a send proves its sender received from a segment the capture missed (before the send)",
         missed_table);
#undef BASE
    const char *kinds[2] = {"sender", "receiver"};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "# %s: from -> to: ways (plain; assumed = needs TS_NOTE_STATES_ASSUMED; reuse = needs "
                   "TS_NOTE_REOPEN_TIME_WAIT; late = a peer segment was flagged as crossed)\n",
                kinds[k]);
        for (int x = 0; x < NS; x++)
            for (int y = 0; y < NS; y++) {
                ways w = k == 0 ? sender_allowed[x][y] : receiver_allowed[x][y];
                if (!w || x == y)
                    continue;
                fprintf(f, "%-13s -> %-13s ", ts_state_name((ts_state)x), ts_state_name((ts_state)y));
                print_ways(f, w);
                fputc('\n', f);
            }
    }
}

/* ---- decoding ------------------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What the harness tracks per connection, to make relative numbers and to
 * check that states do not change between segments without a reason. */
typedef struct harness_conn {
    ts_conn *conn;        /* heap, exact size: ASan catches any write past it */
    int      fed;         /* segments fed since the last init */
    uint32_t last_end[2]; /* by endpoint: seq + space of its last segment */
    uint32_t first_seq[2];
    uint32_t last_ack[2];
    uint8_t  known[2];
    uint8_t  state_after[2]; /* by endpoint, after the last step */
    uint32_t incarnation;
    uint32_t correctable_since; /* after the last step */
    uint32_t ids[64];        /* ring of recent ids, for since_id */
    unsigned nids;
    uint32_t first_id;       /* first id fed since init */
    uint8_t  late_due[2];    /* by endpoint: a receive of it was deferred (crossed) */
#ifdef FUZZ_HAVE_SUMMARY
    ts_summary *summary;     /* heap, exact size */
#endif
} harness_conn;

static int64_t decode_time(int64_t now, unsigned mode, uint32_t t32, uint32_t aux32, int clamp)
{
    int64_t t = now;
    /* Wrapping arithmetic: the harness itself must not overflow. */
    uint64_t u = (uint64_t)now;
    switch (mode) {
    case 0: u += t32; break;                                           /* ns forward */
    case 1: u += (uint64_t)((int64_t)(int32_t)t32 * 1000); break;      /* us, either way */
    case 2: u += (uint64_t)t32 * 1000000u; break;                      /* ms forward: past TIME-WAIT */
    case 3: u -= (uint64_t)(t32 % 1000000) * 1000000u; break;          /* backwards up to 1000 s */
    case 4: break;                                                     /* same instant */
    case 5: u = (uint64_t)t32 * 1000000000u; break;                    /* absolute pcap seconds */
    case 6: u = (uint64_t)aux32 << 32 | t32; break;                    /* any 64-bit value */
    default: u = -(uint64_t)t32 * 1000000000u; break;                  /* before 1970 */
    }
    t = (int64_t)u;
    if (clamp) {
        /* 2^59 ns (18 years) either side: differences of two times, even
         * times 4, stay in range (see regress/ub-crossed-retransmission-overflow). */
        const int64_t lim = (int64_t)1 << 59;
        if (t > lim)
            t = lim;
        if (t < -lim)
            t = -lim;
    }
    return t;
}

static const uint16_t port_patterns[4][2] = {{40000, 80}, {80, 40000}, {5000, 5001}, {1000, 1000}};

static void reinit(harness_conn *h, const ts_config *config, int64_t now, int arbitrary, uint32_t aux32)
{
    ts_state st[2] = {TS_CLOSED, TS_CLOSED};
    int64_t tw[2] = {0, 0};
    int had = h->fed > 0;
    if (had)
        for (int e = 0; e < 2; e++)
            st[e] = ts_conn_endpoint_state(h->conn, e, now, &tw[e]);
    in_core = 1;
    ts_conn_init(h->conn, config);
    in_core = 0;
    if (arbitrary) {
        /* Anything, including states out of range: ts_conn_inherit must ignore those. */
        ts_conn_inherit(h->conn, (int)(aux32 & 3) - 1, (ts_state)((aux32 >> 2) & 15),
                        (int64_t)(aux32 >> 8) * 1000000);
    } else if (had) {
        /* As the plugin does: a side still in TIME-WAIT carries over. */
        for (int e = 0; e < 2; e++)
            if (st[e] == TS_TIME_WAIT)
                ts_conn_inherit(h->conn, e, st[e], tw[e]);
    }
    h->fed = 0;
    h->incarnation = 0;
    h->correctable_since = UINT32_MAX;
    h->nids = 0;
    h->late_due[0] = h->late_due[1] = 0;
#ifdef FUZZ_HAVE_SUMMARY
    ts_summary_init(h->summary);
#endif
    for (int e = 0; e < 2; e++) {
        int64_t dummy;
        h->state_after[e] = (uint8_t)ts_conn_endpoint_state(h->conn, e, INT64_MIN, &dummy);
    }
}

static int id_seen(const harness_conn *h, uint32_t id)
{
    unsigned n = h->nids < 64 ? h->nids : 64;
    for (unsigned i = 0; i < n; i++)
        if (h->ids[i] == id)
            return 1;
    return h->nids > 64 && id >= h->first_id; /* older than the ring: trust the range */
}

/* ---- the invariants after one step ---------------------------------------------- */

#ifdef TS_MAX_CORRECTIONS
#define CORR_DELIVERY_MAX TS_OUT_OF_ORDER
#define CORR_KNOWN_BROKEN TS_RESET_BY_DATA /* fuzz/regress/correction-older-than-correctable-since */
#else
#define CORR_DELIVERY_MAX TS_NO_LISTENER
#define CORR_KNOWN_BROKEN TS_NO_LISTENER
#endif

/* Is there a valid correction of `role` (of that delivery, or any if -1)? */
static int corrected_role(const ts_correction *corr, int role, int delivery)
{
    for (int i = 0; i < NCORR; i++)
        if (corr[i].valid && corr[i].role == role && (delivery < 0 || corr[i].delivery == delivery))
            return 1;
    return 0;
}

static void check_step(harness_conn *h, const ts_segment *seg, const ts_annotation *a,
                       const ts_correction *corr)
{
    int s = seg->from_b ? 1 : 0, r = 1 - s;

    for (int k = 0; k < 2; k++) {
        CHECK(a->prev[k] < TS_STATE_COUNT, "prev[%d] = %u out of range", k, a->prev[k]);
        CHECK(a->next[k] < TS_STATE_COUNT, "next[%d] = %u out of range", k, a->next[k]);
    }
    CHECK(a->phase < TS_PHASE_COUNT, "phase %u out of range", a->phase);
    CHECK(a->phase != TS_PHASE_NONE, "segment left unannotated (phase None)");
    CHECK(a->handshake_step <= 4, "handshake_step %u", a->handshake_step);
    CHECK(a->teardown_step <= 4, "teardown_step %u", a->teardown_step);
    CHECK(!(a->handshake_step && a->teardown_step), "both handshake and teardown step");
    CHECK(a->handshake_step == 0 || a->phase == TS_PHASE_HANDSHAKE, "handshake step outside handshake");
    CHECK(a->teardown_step == 0 || a->phase == TS_PHASE_TEARDOWN, "teardown step outside teardown");
    CHECK(a->phase != TS_PHASE_HANDSHAKE || a->handshake_step != 0, "handshake phase without step");
    CHECK(a->phase != TS_PHASE_TEARDOWN || a->teardown_step != 0, "teardown phase without step");
    CHECK(a->sender <= 1, "sender %u", a->sender);
    /* Every value has a name in every spelling (out-of-range ones too: "?"). */
    for (int k = 0; k < 2; k++)
        for (int sp = 0; sp <= TS_SPELL_COUNT; sp++)
            CHECK(ts_state_spelled((ts_state)a->next[k], (ts_spelling)sp) != NULL &&
                      ts_state_spelled((ts_state)(a->prev[k] + 11u * (seg->flags >> 11)), (ts_spelling)sp) != NULL,
                  "state without a name");
    CHECK(ts_phase_name((ts_phase)(a->phase + (seg->flags >> 10 & 1u) * 6u)) != NULL &&
              ts_role_name((ts_role)a->sender) != NULL, "phase or role without a name");
    CHECK((ts_role)a->sender == ts_conn_role_of(h->conn, s), "sender role %u, endpoint %d has role %d",
          a->sender, s, ts_conn_role_of(h->conn, s));
    CHECK(a->notes >> 23 == 0, "unknown note bits 0x%x", a->notes);
    if (a->time_wait_end_ns != 0) {
        /* end = start + TIME-WAIT length: no signed overflow (UBSan also
         * traps it in the fuzz build; the replay build would wrap silently). */
        int64_t tw = h->conn->config.time_wait_ns;
        int64_t start = (int64_t)((uint64_t)a->time_wait_end_ns - (uint64_t)tw);
        CHECK(tw <= 0 || a->time_wait_end_ns > start, "TIME-WAIT end %lld overflowed (start %lld + %lld)",
              (long long)a->time_wait_end_ns, (long long)start, (long long)tw);
        /* Strict: it starts no earlier than the segment that reports it. A
         * crossed FIN applied late starts it at its own, earlier, time. */
        if (strict_time)
            CHECK(start >= seg->time_ns, "TIME-WAIT reported here starts at %lld, before this segment (%lld)",
                  (long long)start, (long long)seg->time_ns);
    }
    /* The corrections: valid ones first, at most one per side, each about a
     * segment of this connection the caller can still patch. */
    for (int i = 0; i < NCORR; i++) {
        const ts_correction *c = &corr[i];
        if (!c->valid) {
            for (int j = i + 1; j < NCORR; j++)
                CHECK(!corr[j].valid, "correction %d valid after an invalid one", j);
            break;
        }
        CHECK(c->role <= 1, "correction role %u", c->role);
        CHECK(c->state < TS_STATE_COUNT, "correction state %u", c->state);
        /* TS_DELIVERED: a FIN held beyond a hole that was not there after all, put back where it was captured. */
        CHECK(c->delivery <= CORR_DELIVERY_MAX, "correction delivery %u", c->delivery);
        /* A correction starts at the segment it is about; only a finding of
         * no listener reaches further back, to the first SYN that took one
         * as listening (the state it corrects is then CLOSED, before too). */
        CHECK(CORR_SEGMENT(c) <= c->since_id || (c->state == TS_CLOSED && c->prev_too),
              "correction of segment %u since an earlier one %u", CORR_SEGMENT(c), c->since_id);
        CHECK(c->since_id < seg->id, "correction since %u, not before the current segment %u", c->since_id,
              seg->id);
        CHECK(id_seen(h, CORR_SEGMENT(c)), "correction of %u: not a segment of this connection", CORR_SEGMENT(c));
        CHECK(id_seen(h, c->since_id), "correction since %u: not a segment of this connection", c->since_id);
        CHECK((ignore_known && c->delivery == CORR_KNOWN_BROKEN) ||
                  (h->correctable_since != UINT32_MAX && c->since_id >= h->correctable_since),
              "correction since %u but ts_conn_correctable_since said %u before this segment: the caller "
              "no longer keeps what it must patch",
              c->since_id, h->correctable_since);
        CHECK(a->notes & TS_NOTE_CORRECTS, "correction without TS_NOTE_CORRECTS");
        for (int j = 0; j < i; j++)
            CHECK(corr[j].role != c->role || corr[j].since_id < c->since_id,
                  "two corrections of the %s in one segment, not in order (%s since %u, %s since %u)",
                  ts_role_name((ts_role)c->role), ts_state_name((ts_state)corr[j].state), corr[j].since_id,
                  ts_state_name((ts_state)c->state), c->since_id);
        /* The latest correction of a side says what it was just before this
         * segment. (A segment fed as TS_NO_LISTENER makes its receiver CLOSED
         * before it, whatever was corrected.) */
        bool latest_of_side = true;
        for (int j = i + 1; j < NCORR; j++)
            latest_of_side &= !(corr[j].valid && corr[j].role == c->role);
        CHECK(!latest_of_side || a->prev[c->role] == c->state ||
                  (seg->delivery == TS_NO_LISTENER && c->role != a->sender && a->prev[c->role] == TS_CLOSED),
              "corrected %s to %s but prev shows %s",
              ts_role_name((ts_role)c->role), ts_state_name((ts_state)c->state),
              ts_state_name((ts_state)a->prev[c->role]));
    }
    uint32_t since = ts_conn_correctable_since(h->conn);
    CHECK(since == UINT32_MAX || since <= seg->id, "correctable_since %u > current id %u", since, seg->id);
    CHECK(since == UINT32_MAX || id_seen(h, since), "correctable_since %u: not a segment of this connection",
          since);

    /* Endpoint states as the annotation shows them. */
    uint8_t prev_ep[2], next_ep[2];
    ts_role role_s = (ts_role)a->sender;
    prev_ep[s] = a->prev[role_s];
    prev_ep[r] = a->prev[1 - role_s];
    next_ep[s] = a->next[role_s];
    next_ep[r] = a->next[1 - role_s];
    for (int e = 0; e < 2; e++) {
        int64_t dummy;
        ts_state now = ts_conn_endpoint_state(h->conn, e, seg->time_ns, &dummy);
        CHECK((uint8_t)now == next_ep[e] || (next_ep[e] == TS_TIME_WAIT && now == TS_CLOSED),
              "endpoint %d: annotation says %s after, the connection says %s", e,
              ts_state_name((ts_state)next_ep[e]), ts_state_name(now));
    }

    /* Between two segments a side moves only for a reason. */
    int new_incarnation = h->fed == 0 || (a->notes & TS_NOTE_NEW_CONNECTION) ||
                          h->conn->incarnation != h->incarnation;
    if (!new_incarnation) {
        for (int e = 0; e < 2; e++) {
            if (prev_ep[e] == h->state_after[e])
                continue;
            int role = ts_conn_role_of(h->conn, e);
            if (h->state_after[e] == TS_TIME_WAIT && prev_ep[e] == TS_CLOSED &&
                (a->notes & TS_NOTE_TIME_WAIT_ENDED))
                continue;
            if (corrected_role(corr, role, -1))
                continue;
            if ((a->notes & TS_NOTE_CORRECTS) && e == r)
                continue; /* a lost-segment correction of the receiver hidden by a second one */
            if (e == r && seg->delivery == TS_NO_LISTENER && prev_ep[e] == TS_CLOSED &&
                h->state_after[e] == TS_LISTEN)
                continue;
            fail("endpoint %d (%s) went %s -> %s between segments with no reason (notes 0x%x)", e,
                 ts_role_name((ts_role)role), ts_state_name((ts_state)h->state_after[e]),
                 ts_state_name((ts_state)prev_ep[e]), a->notes);
        }
    }

    /* Per segment, each side moves only as RFC 9293 lets one segment move it. */
    for (int e = 0; e < 2; e++) {
        ways w = e == s ? sender_allowed[prev_ep[e]][next_ep[e]] : receiver_allowed[prev_ep[e]][next_ep[e]];
        const char *who = e == s ? "sender" : "receiver";
        unsigned have = 0;
        if (a->notes & (TS_NOTE_STATES_ASSUMED | TS_NOTE_ROLES_GUESSED))
            have |= T_ASSUMED >> 1;
        if (a->notes & TS_NOTE_REOPEN_TIME_WAIT)
            have |= T_REUSE >> 1;
        /* Crossed: flagged by an earlier step, or by this one (the evidence
         * and the late receive then come with the same segment). */
        /* A held FIN its receiver's ACK shows taken before it sent this segment
         * (corrected as delivered where captured) is received by the sender too. */
        if (e == s && (h->late_due[s] || corrected_role(corr, ts_conn_role_of(h->conn, s), TS_DELIVERED_LATE) ||
                       corrected_role(corr, ts_conn_role_of(h->conn, s), TS_DELIVERED)))
            have |= T_LATE >> 1;
        int ok = 0;
        for (unsigned k = 0; k < 8; k++)
            if ((w >> k & 1u) && (k & ~have) == 0)
                ok = 1;
        if (!ok) {
            fprintf(stderr, "fuzz_core: allowed ways for this %s transition: ", who);
            print_ways(stderr, w);
            fprintf(stderr, "%s\n", w ? "" : "none");
            fail("%s (%s) went %s -> %s in one segment (flags 0x%03x, delivery %u, notes 0x%x)", who,
                 ts_role_name((ts_role)ts_conn_role_of(h->conn, e)), ts_state_name((ts_state)prev_ep[e]),
                 ts_state_name((ts_state)next_ep[e]), seg->flags, seg->delivery, a->notes);
        }
    }
    /* Both closed before: phase Closed; only SYNs reopen. */
    if (a->notes & TS_NOTE_AFTER_CLOSE)
        CHECK(a->phase == TS_PHASE_CLOSED, "after-close note with phase %u", a->phase);

    for (int e = 0; e < 2; e++)
        h->state_after[e] = next_ep[e];
    /* A deferred receive is applied after its receiver's next segment. */
    h->late_due[s] = 0;
    for (int e = 0; e < 2; e++)
        if (corrected_role(corr, ts_conn_role_of(h->conn, e), TS_DELIVERED_LATE))
            h->late_due[e] = 1;
    if (seg->delivery == TS_DELIVERED_LATE && (seg->flags & (TS_TH_SYN | TS_TH_FIN)))
        h->late_due[r] = 1;
    h->incarnation = h->conn->incarnation;
    h->correctable_since = since;
}

#ifdef FUZZ_HAVE_SUMMARY
static void check_summary(const ts_summary *sm)
{
    ts_conn_code code = ts_summary_conn_state(sm);
    CHECK((unsigned)code < TS_CONN_CODE_COUNT, "conn_state %d", (int)code);
    CHECK(ts_conn_code_name(code) != NULL && ts_conn_code_meaning(code) != NULL, "conn_state %d unnamed",
          (int)code);
    const char *hist = ts_summary_history(sm);
    CHECK(hist != NULL, "history NULL");
    size_t n = strnlen(hist, TS_HISTORY_MAX + 1);
    CHECK(n <= TS_HISTORY_MAX && n == sm->history_len, "history length %zu, history_len %u", n,
          sm->history_len);
    for (int r = 0; r < 2; r++) {
        ts_zeek_state z = ts_summary_zeek_state(sm, r);
        CHECK((unsigned)z <= TS_ZK_RESET && ts_zeek_state_name(z) != NULL, "zeek state %d", (int)z);
        CHECK(sm->final_state[r] < TS_STATE_COUNT, "final_state %u", sm->final_state[r]);
    }
    CHECK(sm->closed_first <= TS_CLOSER_BOTH && ts_closer_name((ts_closer)sm->closed_first) != NULL,
          "closed_first %u", sm->closed_first);
    CHECK(sm->orig_role <= 1, "orig_role %u", sm->orig_role);
    /* -1 means unknown; capture time going backwards must not make it negative. */
    CHECK(ignore_known || sm->handshake_rtt_ns >= -1, "summary handshake_rtt_ns %lld (negative)",
          (long long)sm->handshake_rtt_ns);
}
#endif

/* ---- one input ------------------------------------------------------------------- */

static const char *const flag_names = "FSRPAUEC";

static void dump_step(unsigned ci, const ts_segment *seg, const ts_annotation *a, const ts_correction *corr)
{
    char fl[9];
    for (int i = 0; i < 8; i++)
        fl[i] = (seg->flags >> i & 1) ? flag_names[i] : '.';
    fl[8] = 0;
    fprintf(stderr,
            "#%-4u c%u %s %s seq=%u ack=%u len=%u win=%u t=%lld dl=%u | %s: client %s->%s server %s->%s "
            "hs=%u td=%u notes=0x%x",
            seg->id, ci, seg->from_b ? "B->A" : "A->B", fl, seg->seq, seg->ack, seg->payload_len, seg->window,
            (long long)seg->time_ns, seg->delivery, ts_phase_name((ts_phase)a->phase),
            ts_state_name((ts_state)a->prev[0]), ts_state_name((ts_state)a->next[0]),
            ts_state_name((ts_state)a->prev[1]), ts_state_name((ts_state)a->next[1]), a->handshake_step,
            a->teardown_step, a->notes);
    for (int i = 0; i < NCORR; i++)
        if (corr[i].valid)
            fprintf(stderr, " | corrects #%u: %s=%s since #%u (delivery %u)", CORR_SEGMENT(&corr[i]),
                    ts_role_name((ts_role)corr[i].role), ts_state_name((ts_state)corr[i].state), corr[i].since_id,
                    corr[i].delivery);
    fputc('\n', stderr);
}

static void run_once(const uint8_t *data, size_t size, ts_annotation *log, size_t log_cap, size_t *logged)
{
    harness_conn hc[MAX_CONNS];
    int clamp = getenv("FUZZ_CORE_CLAMP_TIME") != NULL;
    strict_time = getenv("FUZZ_CORE_STRICT_TIME") != NULL;
    ignore_known = getenv("FUZZ_CORE_IGNORE_KNOWN") != NULL;
    static const int64_t tw_choices[4] = {60000000000LL, 240000000000LL, 1000000LL, 0};
    ts_config config;
    unsigned nconn;

    ts_correction *corr = (ts_correction *)malloc(sizeof(ts_correction) * NCORR);
    if (corr == NULL)
        abort();
    memset(hc, 0, sizeof hc);
    *logged = 0;
    nconn = 1u + (unsigned)(data[0] & 3u) % 3u;
    config.time_wait_ns = tw_choices[(data[0] >> 2) & 3];
    for (unsigned i = 0; i < nconn; i++) {
        hc[i].conn = (ts_conn *)malloc(sizeof(ts_conn));
        if (hc[i].conn == NULL)
            abort();
#ifdef FUZZ_HAVE_SUMMARY
        hc[i].summary = (ts_summary *)malloc(sizeof(ts_summary));
        if (hc[i].summary == NULL)
            abort();
#endif
        reinit(&hc[i], &config, 0, 0, 0);
    }
    if (data[1] & 1) {
        ts_conn_inherit(hc[0].conn, (data[1] >> 1) & 1, (ts_state)((data[1] >> 2) & 15),
                        (int64_t)rd16(data + 2) * 1000000);
        for (int e = 0; e < 2; e++) {
            int64_t dummy;
            hc[0].state_after[e] = (uint8_t)ts_conn_endpoint_state(hc[0].conn, e, INT64_MIN, &dummy);
        }
    }

    int64_t now = 1000000000LL * 1700000000LL;
    uint32_t id = 0;
    data += HEADER_SIZE;
    size -= HEADER_SIZE;
    step_index = 0;
    for (; size >= FUZZ_CORE_RECORD_SIZE; data += FUZZ_CORE_RECORD_SIZE, size -= FUZZ_CORE_RECORD_SIZE) {
        unsigned ctl = data[0], modes = data[2], misc = data[3];
        unsigned ci = (ctl & 3u) % nconn;
        harness_conn *h = &hc[ci];
        uint32_t seq32 = rd32(data + 4), ack32 = rd32(data + 8), t32 = rd32(data + 16), aux32 = rd32(data + 20);
        uint16_t len16 = rd16(data + 12), win16 = rd16(data + 14);
        ts_segment seg;

        now = decode_time(now, (ctl >> 5) & 7u, t32, aux32, clamp);
        if (misc & 4u)
            reinit(h, &config, now, (misc & 8u) != 0, aux32);

        memset(&seg, 0, sizeof seg);
        seg.from_b = (uint8_t)((ctl >> 2) & 1u);
        int s = seg.from_b, r = 1 - s;
        seg.delivery = (uint8_t)((ctl >> 3) & 3u);
        seg.flags = (uint16_t)(data[1] | ((misc >> 4) & 15u) << 8);
        seg.time_ns = now;
        switch (modes & 3u) {
        case 0: seg.seq = h->last_end[s] + seq32; break;
        case 1: seg.seq = h->first_seq[s] + seq32; break;
        case 2: seg.seq = seq32; break;
        default: seg.seq = h->last_end[s] - 1u - (seq32 & 0xffff); break;
        }
        switch ((modes >> 2) & 3u) {
        case 0: seg.ack = h->last_end[r] + ack32; break;
        case 1: seg.ack = ack32; break;
        case 2: seg.ack = h->first_seq[r] + 1u + ack32; break;
        default: seg.ack = h->last_ack[s] - (ack32 & 0xffff); break;
        }
        switch ((modes >> 4) & 3u) {
        case 0: seg.payload_len = 0; break;
        case 1: seg.payload_len = len16; break;
        case 2: seg.payload_len = aux32; break;
        default: seg.payload_len = len16 & 1u; break;
        }
        switch ((modes >> 6) & 3u) {
        case 0: seg.window = win16; break;
        case 1: seg.window = 0; break;
        case 2: seg.window = (uint32_t)win16 << 14; break;
        default: seg.window = aux32; break;
        }
        const uint16_t *pp = port_patterns[misc & 3u];
        seg.src_port = pp[s];
        seg.dst_port = pp[r];
        seg.id = ++id;
        if ((seg.flags & TS_TH_SYN) && !h->known[s]) {
            h->known[s] = 1;
            h->first_seq[s] = seg.seq;
        }
        h->last_end[s] = seg.seq + seg.payload_len + ((seg.flags & TS_TH_SYN) ? 1u : 0u) +
                         ((seg.flags & TS_TH_FIN) ? 1u : 0u);
        if (seg.flags & TS_TH_ACK)
            h->last_ack[s] = seg.ack;
        if (h->fed == 0)
            h->first_id = seg.id;
        h->ids[h->nids % 64] = seg.id;
        h->nids++;

        ts_annotation a;
        /* Poison the outputs: the core must write every field. The
         * corrections are a heap array of exactly NCORR: ASan sees any write past it. */
        memset(&a, 0xA5, sizeof a);
        memset(corr, 0xA5, sizeof(ts_correction) * NCORR);
        unsigned long allocs = core_allocations;
        in_core = 1;
        ts_conn_step(h->conn, &seg, &a, corr);
        in_core = 0;
        CHECK(core_allocations == allocs, "the core allocated memory in ts_conn_step");
        if (fuzz_core_verbose)
            dump_step(ci, &seg, &a, corr);
        check_step(h, &seg, &a, corr);
#ifdef FUZZ_HAVE_SUMMARY
        in_core = 1;
        ts_summary_update(h->summary, &seg, &a, NULL);
        in_core = 0;
        CHECK(core_allocations == allocs, "the core allocated memory in ts_summary_update");
        check_summary(h->summary);
#endif
        h->fed++;
        if (*logged < log_cap)
            log[(*logged)++] = a;
        step_index++;
    }
    for (unsigned i = 0; i < nconn; i++) {
        free(hc[i].conn);
#ifdef FUZZ_HAVE_SUMMARY
        free(hc[i].summary);
#endif
    }
    free(corr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ts_annotation log1[4096], log2[4096];
    size_t n1, n2;
    if (size < HEADER_SIZE)
        return 0;
    install_hooks();
    build_tables();
    run_once(data, size, log1, 4096, &n1);
    /* Determinism: the same input gives the same annotations (catches reads of
     * uninitialised or stale state). */
    int verbose = fuzz_core_verbose;
    fuzz_core_verbose = 0;
    run_once(data, size, log2, 4096, &n2);
    fuzz_core_verbose = verbose;
    CHECK(n1 == n2 && memcmp(log1, log2, n1 * sizeof log1[0]) == 0, "two runs of one input differ");
    return 0;
}
