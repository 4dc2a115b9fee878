/*
 * Unit tests of the core state machine, one per behaviour it promises.
 * Each test plays a connection segment by segment, as a capture shows it,
 * and checks the annotation of the segments that matter.
 */
#include <glib.h>
#include <string.h>

#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h" /* the fixture holds a ts_conn by value */

enum { C = 0, S = 1 }; /* from_b: the client sends first, so it is endpoint A */
#define SYN TS_TH_SYN
#define ACK TS_TH_ACK
#define FIN TS_TH_FIN
#define RST TS_TH_RST
#define PSH TS_TH_PSH

#define CISN 1000u
#define SISN 5000u
#define MS 1000000LL

typedef struct fixture {
    ts_conn conn;
    ts_annotation a;
    ts_correction fix[TS_MAX_CORRECTIONS];
    uint32_t id;
    int64_t now;
    uint8_t syn_wscale_opt; /* Window Scale option (shift + 1) on the SYNs sent; 0: none */
    bool syn_sack_permitted; /* SACK-Permitted option on the SYNs sent */
} fixture;

static void start(fixture *f)
{
    ts_config config = {.time_wait_ns = 60000 * MS};
    memset(f, 0, sizeof *f);
    ts_conn_init(&f->conn, &config);
    f->now = 1700000000LL * 1000 * MS;
}

/* The next segment of the fixture's connection, `gap` after the previous one. */
static ts_segment next_seg(fixture *f, int64_t gap, int from, unsigned flags, uint32_t seq, uint32_t ack,
                           uint32_t len)
{
    ts_segment s = {0};
    f->now += gap;
    s.time_ns = f->now;
    s.seq = seq;
    s.ack = ack;
    s.payload_len = len;
    s.window = 65535;
    s.id = ++f->id;
    s.flags = (uint16_t)flags;
    s.src_port = from == C ? 51000 : 8888;
    s.dst_port = from == C ? 8888 : 51000;
    s.from_b = (uint8_t)from;
    if (flags & SYN)
        s.wscale_opt = f->syn_wscale_opt;
    if ((flags & SYN) && f->syn_sack_permitted)
        s.opts |= TS_OPT_SACK_PERMITTED;
    return s;
}

/* One segment, 1 ms after the previous one unless `gap` says otherwise. */
static void seg_at(fixture *f, int64_t gap, int from, unsigned flags, uint32_t seq, uint32_t ack,
                   uint32_t len, uint8_t delivery)
{
    ts_segment s = next_seg(f, gap, from, flags, seq, ack, len);
    s.delivery = delivery;
    ts_conn_step(&f->conn, &s, &f->a, f->fix);
}

static void seg(fixture *f, int from, unsigned flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    seg_at(f, MS, from, flags, seq, ack, len, TS_DELIVERED);
}

#define assert_states(f, client, server)                                                           \
    do {                                                                                           \
        g_assert_cmpstr(ts_state_name((ts_state)(f)->a.next[TS_CLIENT]), ==, client);              \
        g_assert_cmpstr(ts_state_name((ts_state)(f)->a.next[TS_SERVER]), ==, server);              \
    } while (0)

#define assert_prev(f, client, server)                                                             \
    do {                                                                                           \
        g_assert_cmpstr(ts_state_name((ts_state)(f)->a.prev[TS_CLIENT]), ==, client);              \
        g_assert_cmpstr(ts_state_name((ts_state)(f)->a.prev[TS_SERVER]), ==, server);              \
    } while (0)

#define assert_phase(f, ph, step)                                                               \
    do {                                                                                           \
        g_assert_cmpstr(ts_phase_name((ts_phase)(f)->a.phase), ==, ph);                         \
        g_assert_cmpuint((f)->a.handshake_step + (f)->a.teardown_step, ==, step);                  \
    } while (0)

#define assert_note(f, note) g_assert_true(((f)->a.notes & (note)) != 0)
#define assert_no_note(f, note) g_assert_true(((f)->a.notes & (note)) == 0)

/* The seed's handshake: SYN, SYN-ACK, ACK. */
static void handshake(fixture *f)
{
    seg(f, C, SYN, CISN, 0, 0);
    seg(f, S, SYN | ACK, SISN, CISN + 1, 0);
    seg(f, C, ACK, CISN + 1, SISN + 1, 0);
}

/* ---- handshake ---------------------------------------------------------------- */

static void test_three_way_handshake_moves_each_side_at_its_step(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    assert_prev(&f, "CLOSED", "LISTEN");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_phase(&f, "Handshake", 1);
    g_assert_cmpuint(f.a.sender, ==, TS_CLIENT);

    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    assert_phase(&f, "Handshake", 2);
    g_assert_cmpuint(f.a.sender, ==, TS_SERVER);
    g_assert_cmpuint(f.a.expected_ack, ==, CISN + 1);
    assert_note(&f, TS_NOTE_HANDSHAKE_ACK_OK);

    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    assert_phase(&f, "Handshake", 3);
    g_assert_cmpuint(f.a.expected_ack, ==, SISN + 1);
    assert_note(&f, TS_NOTE_HANDSHAKE_ACK_OK);

    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 7);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    assert_phase(&f, "Data", 0);
}

static void test_simultaneous_open_goes_syn_sent_to_syn_received(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    assert_phase(&f, "Handshake", 1);
    /* The other end's own SYN crosses ours: it was no listener. */
    seg(&f, S, SYN, SISN, 0, 0);
    assert_phase(&f, "Handshake", 2);
    assert_prev(&f, "SYN-SENT", "CLOSED");
    assert_states(&f, "SYN-RECEIVED", "SYN-RECEIVED");
    assert_note(&f, TS_NOTE_SIMULTANEOUS_OPEN);
    assert_note(&f, TS_NOTE_CORRECTS);
    g_assert_cmpuint(f.fix[0].since_id, ==, 1);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSED");

    seg(&f, C, SYN | ACK, CISN, SISN + 1, 0);
    assert_phase(&f, "Handshake", 3);
    assert_states(&f, "SYN-RECEIVED", "ESTABLISHED");
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_phase(&f, "Handshake", 4);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

static void test_data_on_syn_is_accepted_like_tcp_fast_open(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 20);
    assert_note(&f, TS_NOTE_DATA_ON_SYN);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    /* The server acknowledges the SYN and its data: ack = ISN + 1 + 20. */
    seg(&f, S, SYN | ACK, SISN, CISN + 21, 0);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    assert_note(&f, TS_NOTE_HANDSHAKE_ACK_OK);
    assert_no_note(&f, TS_NOTE_SYNACK_BAD_ACK);
    /* A TFO server may answer before the third segment. */
    seg(&f, S, ACK | PSH, SISN + 1, CISN + 21, 30);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN + 21, SISN + 31, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    assert_phase(&f, "Handshake", 3);
}

static void test_synack_with_wrong_ack_is_an_old_duplicate_and_moves_nothing(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    /* RFC 9293 figure 8: the SYN-ACK answers an old SYN (ack 91). */
    seg(&f, S, SYN | ACK, SISN, 91, 0);
    assert_note(&f, TS_NOTE_SYNACK_BAD_ACK);
    assert_no_note(&f, TS_NOTE_HANDSHAKE_ACK_OK);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    /* The client resets it (<SEQ=SEG.ACK><CTL=RST>) and keeps waiting. */
    seg(&f, C, RST, 91, 0, 0);
    assert_phase(&f, "Reset", 0);
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "SYN-SENT");
}

/* RFC 9293 figure 8 in full, as the kernel capture old-duplicate-syn-ack shows
 * it from the client's side: the client's SYN does not reach the server; an
 * old duplicate SYN (not captured) does, and the server answers it. The
 * SYN-ACK answers another SYN, so ours had not arrived: the server went
 * LISTEN -> SYN-RECEIVED for the old one. The client's RST (<SEQ=SEG.ACK>)
 * sends the server back to LISTEN and leaves the client SYN-SENT; the
 * retransmitted SYN then opens the connection. */
static void test_old_duplicate_syn_figure_8_from_the_client_side(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    seg(&f, S, SYN | ACK, SISN, 91, 0);
    assert_note(&f, TS_NOTE_SYNACK_BAD_ACK);
    assert_no_note(&f, TS_NOTE_UNEXPECTED);
    assert_prev(&f, "SYN-SENT", "LISTEN");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 1);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "LISTEN");
    seg(&f, C, RST, 91, 0, 0);
    assert_states(&f, "SYN-SENT", "LISTEN");
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    seg(&f, S, SYN | ACK, SISN + 7000, CISN + 1, 0);
    assert_note(&f, TS_NOTE_HANDSHAKE_ACK_OK);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN + 1, SISN + 7001, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    assert_phase(&f, "Handshake", 3);
    /* The second pass, told that the first SYN was lost, shows the same. */
    start(&f);
    seg_at(&f, MS, C, SYN, CISN, 0, 0, TS_LOST);
    assert_states(&f, "SYN-SENT", "LISTEN");
    seg(&f, S, SYN | ACK, SISN, 91, 0);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    seg(&f, C, RST, 91, 0, 0);
    assert_states(&f, "SYN-SENT", "LISTEN");
}

/* RFC 9293 3.10.7.3, SYN-SENT, first check the ACK bit: an unacceptable ACK
 * (here a bare ACK, not a SYN-ACK) is answered by <SEQ=SEG.ACK><CTL=RST> and
 * dropped. The RST we send does not close us: the client stays SYN-SENT and
 * the real SYN-ACK still completes the handshake (fuzz corpus
 * hand-syn-sent-bad-ack-then-rst.bin, frame 3). */
static void test_syn_sent_resetting_an_unacceptable_ack_stays_syn_sent(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, ACK, SISN, 77, 0);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    seg(&f, C, RST, 77, 0, 0);
    assert_phase(&f, "Reset", 0);
    assert_prev(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    /* A RST with any other number is an abort (3.10.5): CLOSED. */
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, ACK, SISN, 77, 0);
    seg(&f, C, RST, 78, 0, 0);
    assert_states(&f, "CLOSED", "SYN-RECEIVED");
}

static void test_retransmitted_syn_and_fin_move_their_receiver_once(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    /* The SYN-ACK was lost on its way: the client sends its SYN again. The
     * server got the first one: it stays SYN-RECEIVED, no second transition. */
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);
    assert_note(&f, TS_NOTE_RETRANSMISSION);
    assert_prev(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_phase(&f, "Handshake", 1);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");

    /* The server's ACK of the FIN is lost: the FIN comes again, the server
     * stays CLOSE-WAIT, and the client was FIN-WAIT-1 all along. */
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0); /* id 7 */
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    seg_at(&f, 200 * MS, C, FIN | ACK, CISN + 1, SISN + 1, 0, TS_DELIVERED);
    assert_note(&f, TS_NOTE_RETRANSMISSION);
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].since_id, ==, 7);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    assert_prev(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 1);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 2);
}

/* ---- teardown ------------------------------------------------------------------ */

static void test_four_step_close_ends_client_time_wait_server_closed(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 1);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 2);
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    assert_phase(&f, "Teardown", 3);
    g_assert_cmpint(f.a.time_wait_end_ns, ==, f.now + 60000 * MS);
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "CLOSED");
    assert_phase(&f, "Teardown", 4);
    g_assert_true(ts_conn_finished(&f.conn));
}

/* A closed connection may be forgotten once nothing later can change it: the
 * store frees it then, and queues it by this time. */
static void test_forgettable_from_time_wait_end_or_a_resets_retransmission_cap(void)
{
    fixture f;
    int64_t from = 0;
    start(&f);
    handshake(&f);
    g_assert_false(ts_conn_forgettable_from(&f.conn, &from)); /* both open: never */
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "CLOSED");
    int64_t time_wait_end = 0;
    ts_conn_endpoint_state(&f.conn, C, f.now, &time_wait_end);
    g_assert_true(ts_conn_forgettable_from(&f.conn, &from));
    g_assert_cmpint(from, ==, time_wait_end);
    g_assert_false(ts_conn_forgettable(&f.conn, from - 1));
    g_assert_true(ts_conn_forgettable(&f.conn, from));

    /* A RST closes both at once, but its receiver may yet show itself alive
     * until the sender's retransmission timer could have run out (120 s). */
    fixture r;
    start(&r);
    handshake(&r);
    seg(&r, C, RST, CISN + 1, 0, 0);
    assert_states(&r, "CLOSED", "CLOSED");
    int64_t rst_at = r.now;
    g_assert_true(ts_conn_forgettable_from(&r.conn, &from));
    g_assert_cmpint(from, ==, rst_at + 120000 * MS);
    g_assert_false(ts_conn_forgettable(&r.conn, from - 1));
    g_assert_true(ts_conn_forgettable(&r.conn, from));
}

static void test_fin_that_acks_our_fin_goes_fin_wait_1_to_time_wait(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    /* Linux processes this as ACK then FIN: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT. */
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    assert_prev(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    assert_phase(&f, "Teardown", 3);
    assert_note(&f, TS_NOTE_MERGED_FIN_ACK);
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "CLOSED");
    assert_phase(&f, "Teardown", 4);
}

static void test_simultaneous_close_goes_through_closing(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    /* The server's FIN does not acknowledge the client's: the FINs crossed. */
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 1, 0);
    assert_note(&f, TS_NOTE_SIMULTANEOUS_CLOSE);
    assert_note(&f, TS_NOTE_CORRECTS);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_DELIVERED_LATE);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "ESTABLISHED");
    assert_prev(&f, "FIN-WAIT-1", "ESTABLISHED");
    assert_states(&f, "CLOSING", "CLOSING");
    assert_phase(&f, "Teardown", 3);
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_states(&f, "CLOSING", "TIME-WAIT");
    seg(&f, S, ACK, SISN + 2, CISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "TIME-WAIT");
}

static void test_half_close_lets_data_flow_the_other_way(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    seg(&f, S, ACK | PSH, SISN + 1, CISN + 2, 100);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    assert_phase(&f, "Data", 0);
    assert_no_note(&f, TS_NOTE_DATA_AFTER_FIN);
    seg(&f, C, ACK, CISN + 2, SISN + 101, 0);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    assert_phase(&f, "Data", 0);
    seg(&f, S, FIN | ACK, SISN + 101, CISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
}

static void test_fin_carrying_data_closes_after_the_data(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK | PSH, CISN + 1, SISN + 1, 10);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    seg(&f, S, ACK, SISN + 1, CISN + 12, 0);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 2);
}

static void test_data_after_fin_is_flagged(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    seg(&f, C, ACK | PSH, CISN + 2, SISN + 1, 5);
    assert_note(&f, TS_NOTE_DATA_AFTER_FIN);
}

static void test_fin_retransmitted_to_time_wait_restarts_2msl(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    int64_t first_end = f.a.time_wait_end_ns;
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    /* The server resends its FIN: the client's ACK did not arrive. */
    seg_at(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED);
    assert_note(&f, TS_NOTE_RETRANSMISSION);
    assert_note(&f, TS_NOTE_TIME_WAIT_RESTART);
    assert_phase(&f, "Teardown", 3);
    g_assert_cmpint(f.a.time_wait_end_ns, >, first_end);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "CLOSED");
    assert_phase(&f, "Teardown", 4);
}

/* A FIN that crossed its receiver's next segment (delivered late) arrives
 * after that segment left: a TIME-WAIT it causes starts then, not at the FIN's
 * own, earlier capture time (fuzz FUZZ_CORE_STRICT_TIME: a TIME-WAIT never
 * starts before the segment that reports it). */
static void test_time_wait_from_a_late_fin_starts_when_it_is_applied(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    /* The server's FIN+ACK acknowledges the client's FIN, but hindsight says it
     * reached the client only after the client's next segment. */
    seg_at(&f, MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED_LATE);
    assert_states(&f, "FIN-WAIT-1", "LAST-ACK");
    seg_at(&f, 200 * MS, C, ACK, CISN + 2, SISN + 1, 0, TS_DELIVERED);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    g_assert_cmpint(f.a.time_wait_end_ns, ==, f.now + 60000 * MS);
    g_assert_cmpint(ts_conn_endpoint_state(&f.conn, C, f.now, NULL), ==, TS_TIME_WAIT);
    g_assert_cmpint(ts_conn_endpoint_state(&f.conn, C, f.now + 60000 * MS - 1, NULL), ==, TS_TIME_WAIT);
}

/* ---- no transition --------------------------------------------------------------- */

static void test_keepalive_and_window_probe_change_no_state(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 10);
    seg(&f, S, ACK, SISN + 1, CISN + 11, 0);
    /* Keep-alive: one below SND.NXT, no data. */
    seg_at(&f, 7200000 * MS, C, ACK, CISN + 10, SISN + 1, 0, TS_DELIVERED);
    assert_note(&f, TS_NOTE_KEEPALIVE);
    assert_prev(&f, "ESTABLISHED", "ESTABLISHED");
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    assert_phase(&f, "Data", 0);
    seg(&f, S, ACK, SISN + 1, CISN + 11, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    /* Zero-window probe as Linux sends it, with one byte. */
    seg(&f, C, ACK, CISN + 10, SISN + 1, 1);
    assert_note(&f, TS_NOTE_KEEPALIVE);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

/* The handshake's ACK was lost; the client's first keep-alive probe (no
 * data, SEG.SEQ = RCV.NXT - 1) reaches the server before its SYN-ACK is
 * answered again. A segment that occupies no sequence space below RCV.NXT is
 * not acceptable (RFC 9293 3.10.7.4, first check): answered by an ACK and
 * dropped, its ACK field unread. The server stays SYN-RECEIVED. */
static void test_keepalive_probe_is_not_acceptable_and_completes_no_handshake(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    seg_at(&f, MS, C, ACK, CISN + 1, SISN + 1, 0, TS_LOST);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN, SISN + 1, 0); /* keep-alive probe */
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

/* ---- resets ----------------------------------------------------------------------- */

static void test_rst_answering_syn_means_no_listener(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, RST | ACK, 0, CISN + 1, 0);
    assert_note(&f, TS_NOTE_REFUSED);
    assert_phase(&f, "Reset", 0);
    assert_prev(&f, "SYN-SENT", "CLOSED");
    assert_states(&f, "CLOSED", "CLOSED");
    /* The correction: the server was CLOSED (no listener) since the SYN. */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_NO_LISTENER);
    g_assert_cmpuint(f.fix[0].since_id, ==, 1);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSED");
}

/* The first SYN was lost, the second too; the RST that answers the third
 * shows that no socket listened on the port at all: the server was CLOSED
 * since the first SYN, not LISTEN until the RST (RFC 9293 3.10.7.1: a
 * segment to a CLOSED port is answered by a reset). */
static void test_rst_answering_a_resent_syn_shows_no_listener_since_the_first_syn(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);
    seg_at(&f, 2000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);
    seg(&f, S, RST | ACK, 0, CISN + 1, 0);
    assert_note(&f, TS_NOTE_REFUSED);
    assert_states(&f, "CLOSED", "CLOSED");
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_NO_LISTENER);
    g_assert_cmpuint(f.fix[0].since_id, ==, 1);
    g_assert_true(f.fix[0].prev_too);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSED");
}

static void test_rst_in_syn_sent_is_ignored_unless_it_acks_our_syn(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, RST | ACK, 0, CISN + 77, 0);
    assert_note(&f, TS_NOTE_RST_IGNORED);
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "SYN-SENT");
}

static void test_rst_outside_window_is_ignored_and_inexact_earns_challenge(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    /* Neither RST carries a number the client's own connection could send
     * (an ABORT sends SND.NXT, 3.10.5): not the client's reset, it stays
     * ESTABLISHED, like the server that ignores it (kernel capture
     * rst-out-of-window: the socket whose address it bears never sent it). */
    seg(&f, C, RST, CISN + 1 + 1000000, 0, 0);
    assert_note(&f, TS_NOTE_RST_IGNORED);
    assert_phase(&f, "Reset", 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 5);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    start(&f);
    handshake(&f);
    seg(&f, C, RST, CISN + 100, 0, 0);
    assert_note(&f, TS_NOTE_RST_CHALLENGE);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    /* A real abort at SND.NXT that the server cannot accept yet (the data
     * before it was lost): the client is CLOSED, the server challenges it. */
    start(&f);
    handshake(&f);
    seg_at(&f, MS, C, ACK | PSH, CISN + 1, SISN + 1, 10, TS_LOST);
    seg(&f, C, RST, CISN + 11, 0, 0);
    assert_note(&f, TS_NOTE_RST_CHALLENGE);
    assert_states(&f, "CLOSED", "ESTABLISHED");
    start(&f);
    handshake(&f);
    seg(&f, C, RST, CISN + 1, 0, 0);
    assert_no_note(&f, TS_NOTE_RST_IGNORED | TS_NOTE_RST_CHALLENGE);
    assert_states(&f, "CLOSED", "CLOSED");
    assert_phase(&f, "Reset", 0);
}

/* RFC 7323 2.3: once both SYNs carried Window Scale 7, the server's 65535
 * means 65535 << 7 = 8 MiB, and a RST 1 MB past RCV.NXT is in its window (a
 * challenge, RFC 5961); with the option on one SYN only, the window stays
 * 65535 bytes and the same RST is out of window: ignored. The SYN-ACK's own
 * window is never scaled (2.2): the server's next segment sets it. */
static void test_window_scale_applies_only_when_both_syns_carry_it(void)
{
    fixture f;
    for (int both = 0; both < 2; both++) {
        start(&f);
        f.syn_wscale_opt = 7 + 1;
        seg(&f, C, SYN, CISN, 0, 0);
        f.syn_wscale_opt = both ? 7 + 1 : 0;
        seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
        seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
        seg(&f, S, ACK, SISN + 1, CISN + 1, 0);
        seg(&f, C, RST, CISN + 1 + 1000000, 0, 0);
        assert_states(&f, "ESTABLISHED", "ESTABLISHED");
        if (both) {
            assert_note(&f, TS_NOTE_RST_CHALLENGE);
            assert_no_note(&f, TS_NOTE_RST_IGNORED);
        } else {
            assert_note(&f, TS_NOTE_RST_IGNORED);
        }
    }
}

static void test_rst_in_syn_received_from_listen_returns_to_listen(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    seg(&f, C, RST, CISN + 1, 0, 0);
    assert_states(&f, "CLOSED", "LISTEN");
}

/* ---- sequence space ---------------------------------------------------------------- */

static void test_sequence_numbers_wrap_past_2_32(void)
{
    fixture f;
    uint32_t c = 0xFFFFFFF0u, s = 0xFFFFFFFEu;
    start(&f);
    seg(&f, C, SYN, c, 0, 0);
    seg(&f, S, SYN | ACK, s, c + 1, 0);
    seg(&f, C, ACK | PSH, c + 1, s + 1, 100); /* client data wraps */
    seg(&f, S, ACK | PSH, s + 1, c + 101, 50); /* server data wraps */
    seg(&f, C, FIN | ACK, c + 101, s + 51, 0);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    seg(&f, S, FIN | ACK, s + 51, c + 102, 0);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    seg(&f, C, ACK, c + 102, s + 52, 0);
    assert_states(&f, "TIME-WAIT", "CLOSED");
    g_assert_true(c + 102 < c); /* the numbers really wrapped */
}

/* ---- reuse, mid-stream, one direction -------------------------------------------- */

static void close_client_first(fixture *f)
{
    seg(f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    seg(f, C, ACK, CISN + 2, SISN + 2, 0);
}

static void test_new_syn_on_same_ports_after_close_is_a_new_connection(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    close_client_first(&f);
    /* The server closed second: it is CLOSED; the client reopens from TIME-WAIT. */
    seg(&f, C, SYN, CISN + 100000, 0, 0);
    assert_note(&f, TS_NOTE_NEW_CONNECTION);
    assert_note(&f, TS_NOTE_REOPEN_TIME_WAIT);
    assert_prev(&f, "TIME-WAIT", "LISTEN");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_phase(&f, "Handshake", 1);
    g_assert_cmpuint(f.conn.incarnation, ==, 2);
}

static void test_syn_reaching_a_side_in_time_wait_reopens_it(void)
{
    fixture f;
    ts_config config = {.time_wait_ns = 60000 * MS};
    start(&f);
    /* An earlier connection left the server (endpoint B) in TIME-WAIT. */
    ts_conn_inherit(&f.conn, 1, TS_TIME_WAIT, f.now + 30000 * MS);
    seg(&f, C, SYN, CISN, 0, 0);
    assert_prev(&f, "CLOSED", "TIME-WAIT");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_note(&f, TS_NOTE_REOPEN_TIME_WAIT);
    /* The same, after the TIME-WAIT has run out: the server is not there any more. */
    ts_conn_init(&f.conn, &config);
    ts_conn_inherit(&f.conn, 1, TS_TIME_WAIT, f.now - 1);
    seg(&f, C, SYN, CISN, 0, 0);
    assert_prev(&f, "CLOSED", "LISTEN");
    assert_no_note(&f, TS_NOTE_REOPEN_TIME_WAIT);
}

/* A SYN to a side in TIME-WAIT that turns out lost (the client sends it
 * again): the TIME-WAIT was the old connection's. The SYN of a new connection
 * is for the port's listener (a TIME-WAIT socket hands it on and is gone,
 * RFC 6191 2, Linux TCP_TW_SYN), so for this connection the server was
 * LISTEN until the SYN sent again reached it (RFC 9293 3.10.7.2), as the
 * kernel shows it (sample-pcaps/loss/syn-to-time-wait-server.in10). */
static void test_lost_syn_to_a_side_in_time_wait_leaves_its_listener(void)
{
    fixture f;
    start(&f);
    ts_conn_inherit(&f.conn, 1, TS_TIME_WAIT, f.now + 30000 * MS);
    seg(&f, C, SYN, CISN, 0, 0);                              /* id 1: lost */
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED); /* id 2 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 1);
    g_assert_cmpuint(f.fix[0].since_id, ==, 1);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "LISTEN");
    assert_prev(&f, "SYN-SENT", "LISTEN");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    /* Lost a second time: still the listener's. */
    seg_at(&f, 2000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED); /* id 3 */
    g_assert_cmpuint(f.fix[0].segment_id, ==, 2);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "LISTEN");
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
}

static void test_time_wait_ends_after_its_configured_length(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    close_client_first(&f);
    /* It began with the server's FIN, one segment (1 ms) before the last. */
    int64_t end = 0;
    ts_conn_endpoint_state(&f.conn, 0, f.now, &end);
    g_assert_cmpint(end, ==, f.now - MS + 60000 * MS);
    g_assert_cmpint(ts_conn_endpoint_state(&f.conn, 0, end - 1, NULL), ==, TS_TIME_WAIT);
    g_assert_cmpint(ts_conn_endpoint_state(&f.conn, 0, end, NULL), ==, TS_CLOSED);
    /* A stray segment 61 s later finds both ends closed. */
    seg_at(&f, 61000 * MS, S, ACK, SISN + 2, CISN + 2, 0, TS_DELIVERED);
    assert_note(&f, TS_NOTE_TIME_WAIT_ENDED);
    assert_prev(&f, "CLOSED", "CLOSED");
    assert_phase(&f, "Closed", 0);
    assert_note(&f, TS_NOTE_AFTER_CLOSE);
}

static void test_capture_starting_mid_connection_guesses_roles_from_ports(void)
{
    fixture f;
    ts_segment s = {0};
    start(&f);
    /* First captured segment: data from port 443 to an ephemeral port. */
    s.time_ns = f.now;
    s.seq = 9000;
    s.ack = 7000;
    s.payload_len = 100;
    s.flags = ACK | PSH;
    s.src_port = 443;
    s.dst_port = 50123;
    s.id = 1;
    ts_conn_step(&f.conn, &s, &f.a, NULL);
    g_assert_cmpuint(f.a.sender, ==, TS_SERVER);
    assert_note(&f, TS_NOTE_ROLES_GUESSED);
    assert_note(&f, TS_NOTE_STATES_ASSUMED);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    /* The client closes: the states move from the assumption. */
    s.from_b = 1;
    s.seq = 7000;
    s.ack = 9100;
    s.payload_len = 0;
    s.flags = FIN | ACK;
    s.src_port = 50123;
    s.dst_port = 443;
    s.id = 2;
    ts_conn_step(&f.conn, &s, &f.a, NULL);
    g_assert_cmpuint(f.a.sender, ==, TS_CLIENT);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_note(&f, TS_NOTE_ROLES_GUESSED);
}

static void test_capture_of_one_direction_infers_the_missing_handshake_reply(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    /* The SYN-ACK is not in the capture; the client's ACK proves it came. */
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_prev(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    assert_note(&f, TS_NOTE_STATES_ASSUMED);
    assert_phase(&f, "Handshake", 3);
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 50);
    assert_note(&f, TS_NOTE_STATES_ASSUMED);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    g_assert_cmpuint(ts_conn_correctable_since(&f.conn), ==, UINT32_MAX);
}

/* The same at the other end (kernel capture one-direction): the client's FIN,
 * then an ACK whose ack moves exactly one past everything it acknowledged
 * before, with no data from the server ever seen: it acknowledges the
 * server's FIN (teardown step 4). The client is TIME-WAIT, the server, whose
 * FIN it was, CLOSED by this ACK. */
static void test_capture_of_one_direction_infers_the_missing_fin(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 7);
    seg(&f, C, ACK, CISN + 8, SISN + 5, 0); /* acks 4 bytes of server data */
    seg(&f, C, FIN | ACK, CISN + 8, SISN + 5, 0);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 1);
    seg_at(&f, 300 * MS, C, ACK, CISN + 9, SISN + 6, 0, TS_DELIVERED);
    assert_prev(&f, "FIN-WAIT-1", "CLOSE-WAIT"); /* as captured, like the handshake's */
    assert_states(&f, "TIME-WAIT", "CLOSED");
    assert_phase(&f, "Teardown", 4);
    assert_note(&f, TS_NOTE_STATES_ASSUMED);
    g_assert_cmpint(f.a.time_wait_end_ns, ==, f.now + 60000 * MS);
    /* More than one number is data (or data and a FIN): no inference. */
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, C, ACK, CISN + 2, SISN + 11, 0);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
}

/* ---- hindsight: segments that never arrived ------------------------------------------ */

static void test_lost_syn_is_corrected_by_its_retransmission(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED"); /* best knowledge so far */
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);
    assert_note(&f, TS_NOTE_RETRANSMISSION);
    assert_note(&f, TS_NOTE_CORRECTS);
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].since_id, ==, 1);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "LISTEN");
    assert_prev(&f, "SYN-SENT", "LISTEN");
    assert_states(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_phase(&f, "Handshake", 1);
}

static void test_lost_synack_is_corrected_when_the_client_sends_its_syn_again(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[0].since_id, ==, 2);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "SYN-SENT");
    g_assert_cmpstr(ts_state_name((ts_state)f.a.prev[TS_CLIENT]), ==, "SYN-SENT");
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_note(&f, TS_NOTE_RETRANSMISSION);
    /* The first SYN-ACK never arrived: this one makes the client ESTABLISHED. */
    assert_prev(&f, "SYN-SENT", "SYN-RECEIVED");
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

static void test_lost_fin_is_corrected_by_its_retransmission(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg_at(&f, 200 * MS, C, FIN | ACK, CISN + 1, SISN + 1, 0, TS_DELIVERED);
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "ESTABLISHED");
    assert_prev(&f, "FIN-WAIT-1", "ESTABLISHED");
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    assert_phase(&f, "Teardown", 1);
}

static void test_lost_final_ack_leaves_server_in_last_ack_until_time_wait_answers(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0); /* id 7: lost */
    assert_states(&f, "TIME-WAIT", "CLOSED");
    seg_at(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED);
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].since_id, ==, 7);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "LAST-ACK");
    assert_prev(&f, "TIME-WAIT", "LAST-ACK");
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_prev(&f, "TIME-WAIT", "LAST-ACK");
    assert_states(&f, "TIME-WAIT", "CLOSED");
}

/* The client's SYN-ACK was lost and it sent its SYN again; the server's
 * first retransmitted SYN-ACK then made the client ESTABLISHED and its ACK
 * (id 5) left, but the server answers the SYN it got again with a SYN-ACK
 * (id 6): that answer says nothing of the ACK behind it. Only the server's
 * own retransmission, 2 s later, shows that neither ACK arrived (RFC 9293
 * 3.10.7.4: in SYN-RECEIVED an acceptable ACK moves it to ESTABLISHED, and an
 * ESTABLISHED side does not send its SYN again). */
static void test_synack_answering_a_resent_syn_neither_confirms_nor_denies_the_ack_behind_it(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);                       /* 2: lost */
    seg_at(&f, 1000 * MS, S, SYN | ACK, SISN, CISN + 1, 0, TS_DELIVERED); /* 3 */
    seg(&f, C, SYN, CISN, 0, 0);                                    /* 4: resent SYN, crossed */
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);                         /* 5: lost */
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);                       /* 6: answers 4 */
    g_assert_false(f.fix[0].valid);
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);                         /* 7: lost */
    seg_at(&f, 2000 * MS, S, SYN | ACK, SISN, CISN + 1, 0, TS_DELIVERED); /* 8: the server's timer */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpuint(f.fix[0].since_id, ==, 5);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "SYN-RECEIVED");
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
    seg(&f, C, ACK, CISN + 1, SISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

/* Every SYN-ACK but the last was lost, and the client sent its SYN again
 * each time: the SYN-ACK that answers the second SYN was lost too (the client
 * sends its SYN a third time, acknowledging nothing). The correction says the
 * client was SYN-SENT, as it was before that SYN-ACK (RFC 9293 3.10.7.3). */
static void test_synack_lost_again_after_the_resent_syn_leaves_the_client_syn_sent(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);                             /* 2: lost */
    seg_at(&f, 1000 * MS, S, SYN | ACK, SISN, CISN + 1, 0, TS_DELIVERED); /* 3: lost */
    seg(&f, C, SYN, CISN, 0, 0);                                          /* 4 */
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);                             /* 5: lost */
    seg_at(&f, 1000 * MS, C, SYN, CISN, 0, 0, TS_DELIVERED);              /* 6 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "SYN-SENT");
    g_assert_cmpuint(f.fix[0].since_id, ==, 5);
    assert_prev(&f, "SYN-SENT", "SYN-RECEIVED");
    seg(&f, S, SYN | ACK, SISN, CISN + 1, 0);
    assert_states(&f, "ESTABLISHED", "SYN-RECEIVED");
}

/* Both sides close; the client's FIN (4) is lost, not crossing the
 * server's (5): the client's ACK of the server's FIN (6) reaches a server
 * still in FIN-WAIT-1 (FIN-WAIT-2, not TIME-WAIT), and only the client's
 * FIN sent again (7) shows it. Taking 4 back replays 6 on the state without
 * it: one correction per stretch (RFC 9293 3.10.7.4, fifth step, FIN-WAIT-1:
 * "if our FIN is now acknowledged, then enter FIN-WAIT-2"). */
static void test_lost_fin_taken_back_replays_the_ack_that_followed_it(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);                              /* 4: lost */
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 1, 0);                              /* 5 */
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);                                    /* 6 */
    seg_at(&f, 200 * MS, C, FIN | ACK, CISN + 1, SISN + 2, 0, TS_DELIVERED);   /* 7 */
    g_assert_true(f.fix[0].valid);
    g_assert_true(f.fix[1].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 4);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpuint(f.fix[0].since_id, ==, 5);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "FIN-WAIT-1");
    g_assert_cmpuint(f.fix[1].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[1].since_id, ==, 6);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[1].state), ==, "FIN-WAIT-2");
    assert_prev(&f, "CLOSING", "FIN-WAIT-2");
    assert_states(&f, "CLOSING", "TIME-WAIT");
}

/* Simultaneous close: the client's ACK of the server's FIN (6) is lost. The
 * server's own ACK of the client's FIN (7), sent as the two crossed, reads the
 * same whether 6 arrived or not: it confirms nothing. The server's FIN sent
 * again (8) shows 6 never arrived: the server was CLOSING, not TIME-WAIT
 * (RFC 9293 3.10.7.4, CLOSING: only the ACK of our FIN leads to TIME-WAIT). */
static void test_bare_ack_from_the_receiver_does_not_confirm_the_ack_of_its_fin(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);                              /* 4 */
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 1, 0);                              /* 5: crossed 4 */
    assert_states(&f, "CLOSING", "CLOSING");
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);                                    /* 6: lost */
    seg(&f, S, ACK, SISN + 2, CISN + 2, 0);                                    /* 7 */
    assert_states(&f, "TIME-WAIT", "TIME-WAIT");
    seg_at(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED);   /* 8 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 6);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpuint(f.fix[0].since_id, ==, 6);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSING");
    assert_prev(&f, "TIME-WAIT", "CLOSING");
}

/* ---- hindsight: a FIN is taken only in sequence (RFC 9293 3.10.7.4) ------------------ */

/* The data before the FIN never reached the wire (the capture shows the gap):
 * the FIN arrives beyond a hole and waits; the retransmitted data fills the
 * hole and the FIN is taken with it (eighth step: "if the FIN bit is set ...
 * and the segment is in sequence"). */
static void test_fin_beyond_a_hole_in_the_capture_waits_for_the_data_before_it(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    /* data [CISN+1, CISN+11) lost before the capture point */
    seg(&f, C, FIN | ACK, CISN + 11, SISN + 1, 0);
    assert_states(&f, "FIN-WAIT-1", "ESTABLISHED");
    seg(&f, S, ACK, SISN + 1, CISN + 1, 0); /* duplicate ACK: the hole */
    assert_states(&f, "FIN-WAIT-1", "ESTABLISHED");
    seg_at(&f, 200 * MS, C, ACK | PSH, CISN + 1, SISN + 1, 10, TS_DELIVERED);
    assert_prev(&f, "FIN-WAIT-1", "ESTABLISHED");
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    seg(&f, S, ACK, SISN + 1, CISN + 12, 0);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
    g_assert_false(f.fix[0].valid);
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 12, 0);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
}

/* The data before the FIN was captured but lost after the capture point: the
 * receiver's duplicate ACK (its RCV.NXT, below the data) shows the FIN came
 * out of order. It is taken back, and taken when the retransmission from the
 * hole's first byte arrives. */
static void test_fin_after_lost_data_is_taken_back_by_the_receivers_duplicate_ack(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 10); /* id 4: lost after the capture */
    seg(&f, C, FIN | ACK, CISN + 11, SISN + 1, 0); /* id 5 */
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT"); /* best knowledge so far */
    seg(&f, S, ACK, SISN + 1, CISN + 1, 0);        /* id 6: duplicate ACK */
    assert_note(&f, TS_NOTE_CORRECTS);
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 5);
    g_assert_cmpuint(f.fix[0].since_id, ==, 5);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_OUT_OF_ORDER);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "ESTABLISHED");
    assert_states(&f, "FIN-WAIT-1", "ESTABLISHED");
    seg_at(&f, 200 * MS, C, ACK | PSH, CISN + 1, SISN + 1, 10, TS_DELIVERED);
    assert_prev(&f, "FIN-WAIT-1", "ESTABLISHED");
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    seg(&f, S, ACK, SISN + 1, CISN + 12, 0);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
}

/* An ACK below the FIN that is not a duplicate (it acknowledges new data) may
 * have crossed the FIN: nothing is taken back. */
static void test_an_ack_that_crossed_the_fin_takes_nothing_back(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 10);
    seg(&f, C, FIN | ACK, CISN + 11, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 11, 0);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    seg(&f, S, ACK, SISN + 1, CISN + 12, 0);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
}

/* A duplicate ACK that crossed the FIN (a window update, say) holds it back
 * for a moment; the receiver's next ACK covers the FIN with no retransmission
 * between: no hole was there, and the FIN is put back where it was captured. */
static void test_fin_held_by_a_crossing_duplicate_ack_is_put_back_by_the_covering_ack(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, ACK | PSH, CISN + 1, SISN + 1, 10);
    seg(&f, C, FIN | ACK, CISN + 11, SISN + 1, 0); /* id 5 */
    seg(&f, S, ACK, SISN + 1, CISN + 1, 0);        /* id 6: taken back */
    assert_states(&f, "FIN-WAIT-1", "ESTABLISHED");
    seg(&f, S, ACK, SISN + 1, CISN + 12, 0);       /* id 7 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].since_id, ==, 5);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSE-WAIT");
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
}

/* ---- hindsight: a retransmission's answer says whether the original arrived ---------- */

/* One segment with options: Timestamps (tsval, tsecr; 0 0: none) and a first
 * SACK block (left, right; 0 0: none). */
static void seg_opts(fixture *f, int64_t gap, int from, unsigned flags, uint32_t seq, uint32_t ack,
                     uint32_t tsval, uint32_t tsecr, uint32_t sack_left, uint32_t sack_right)
{
    ts_segment s = next_seg(f, gap, from, flags, seq, ack, 0);
    if (tsval != 0 || tsecr != 0) {
        s.opts |= TS_OPT_TIMESTAMPS;
        s.tsval = tsval;
        s.tsecr = tsecr;
    }
    if (sack_left != sack_right) {
        s.opts |= TS_OPT_SACK;
        s.sack_left = sack_left;
        s.sack_right = sack_right;
    }
    ts_conn_step(&f->conn, &s, &f->a, f->fix);
}

/* The server's ACK of the client's FIN was lost after the server sent it:
 * the client sends its FIN again, and the server's answer carries a D-SACK
 * block for it (RFC 2883 4.1: a duplicate segment). The server had the first
 * FIN after all: CLOSE-WAIT since it, as its answer shows. */
static void test_retransmitted_fin_answered_with_a_dsack_was_a_duplicate(void)
{
    fixture f;
    start(&f);
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 500, 100, 0, 0);
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 101, 500, 0, 0);
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 110, 500, 0, 0);           /* id 4 */
    assert_states(&f, "FIN-WAIT-1", "CLOSE-WAIT");
    seg_opts(&f, 200 * MS, C, FIN | ACK, CISN + 1, SISN + 1, 310, 500, 0, 0);     /* id 5 */
    g_assert_true(f.fix[0].valid); /* best knowledge: the first was lost */
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    seg_opts(&f, MS, S, ACK, SISN + 1, CISN + 2, 720, 310, CISN + 1, CISN + 2); /* id 6 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 4);
    g_assert_cmpuint(f.fix[0].since_id, ==, 4);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_DELIVERED);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSE-WAIT");
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
}

/* Simultaneous close. The server's FIN sent again (6) reached the client,
 * whose ACK of it was lost on its way out; the client's own FIN sent again
 * (7) had crossed 6 (it does not acknowledge it), so 6 is held. The server's
 * ACK of the client's FIN (8) moves the client on, and the server's FIN sent
 * a third time (9) reads as the one that arrived. The client's answer echoes
 * 6's timestamp, not 9's (RFC 7323 4.3: a duplicate does not update
 * TS.Recent): 6 had arrived where it was captured (RFC 9293 3.10.7.4, eighth
 * step: CLOSING), and 8 took the client from there (fifth step: TIME-WAIT). */
static void test_held_fin_whose_resend_is_answered_with_its_timestamp_arrived(void)
{
    fixture f;
    start(&f);
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 500, 100, 0, 0);
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 101, 500, 0, 0);
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 110, 500, 0, 0);       /* 4: lost */
    seg_opts(&f, MS, S, FIN | ACK, SISN + 1, CISN + 1, 510, 101, 0, 0);       /* 5: lost */
    seg_opts(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 1, 710, 101, 0, 0); /* 6 */
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 320, 500, 0, 0);       /* 7: crossed 6 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "FIN-WAIT-1");
    seg_opts(&f, MS, S, ACK, SISN + 2, CISN + 2, 720, 320, 0, 0);             /* 8 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "FIN-WAIT-2");
    seg_opts(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 940, 320, 0, 0); /* 9 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "TIME-WAIT");
    seg_opts(&f, MS, C, ACK, CISN + 2, SISN + 2, 540, 710, 0, 0);             /* 10: echoes 6 */
    g_assert_true(f.fix[0].valid);
    g_assert_true(f.fix[1].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 6);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_DELIVERED);
    g_assert_cmpuint(f.fix[0].since_id, ==, 6);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSING");
    g_assert_cmpuint(f.fix[1].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[1].since_id, ==, 8);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[1].state), ==, "TIME-WAIT");
    assert_states(&f, "TIME-WAIT", "TIME-WAIT");
}

/* The same, but the client's answer echoes 9's timestamp: 6 was lost, 9 is
 * the FIN that arrived, and nothing is corrected. */
static void test_held_fin_whose_resend_is_answered_with_the_resends_timestamp_was_lost(void)
{
    fixture f;
    start(&f);
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 500, 100, 0, 0);
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 101, 500, 0, 0);
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 110, 500, 0, 0);
    seg_opts(&f, MS, S, FIN | ACK, SISN + 1, CISN + 1, 510, 101, 0, 0);
    seg_opts(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 1, 710, 101, 0, 0);
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 320, 500, 0, 0);
    seg_opts(&f, MS, S, ACK, SISN + 2, CISN + 2, 720, 320, 0, 0);
    seg_opts(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 940, 320, 0, 0);
    seg_opts(&f, MS, C, ACK, CISN + 2, SISN + 2, 540, 940, 0, 0);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "TIME-WAIT", "TIME-WAIT");
}

/* Simultaneous open. The server's SYN sent again (3) reached the client,
 * whose SYN-ACK answering it was lost on its way out; the client's bare SYN
 * sent again (4) had crossed 3 (no ACK), so 3 is held, and the server's
 * SYN-ACK (5, the same SYN) reads as the SYN that arrived. The client's ACK
 * of it reports a duplicate of that SYN (D-SACK, RFC 2883 4.1), and 5 was
 * the first copy after 3: 3 had arrived where it was captured (RFC 9293
 * 3.10.7.3, figure 7: SYN-RECEIVED), and 5 took the client from there to
 * ESTABLISHED (3.10.7.4, fifth step). */
static void test_held_syn_whose_resend_is_answered_with_a_dsack_arrived(void)
{
    fixture f;
    start(&f);
    f.syn_sack_permitted = true;
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);                      /* 1: lost */
    seg_opts(&f, MS, S, SYN, SISN, 0, 500, 0, 0, 0);                      /* 2: lost */
    seg_opts(&f, 1000 * MS, S, SYN, SISN, 0, 1500, 0, 0, 0);              /* 3 */
    seg_opts(&f, MS, C, SYN, CISN, 0, 1100, 0, 0, 0);                     /* 4: crossed 3 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "SYN-SENT");
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 1500, 1100, 0, 0);     /* 5 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_CLIENT]), ==, "ESTABLISHED");
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 1101, 1500, SISN, SISN + 1); /* 6: D-SACK */
    g_assert_true(f.fix[0].valid);
    g_assert_true(f.fix[1].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 3);
    g_assert_cmpuint(f.fix[0].since_id, ==, 3);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "SYN-RECEIVED");
    g_assert_cmpuint(f.fix[1].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[1].since_id, ==, 5);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[1].state), ==, "ESTABLISHED");
}

/* The same open seen from the other side: the client's SYN (1) is held as
 * crossed by the server's SYN sent again (3), the client's bare SYN sent
 * again (4) fills it, and the client sends the same SYN once more in its
 * SYN-ACK (5). The server's D-SACK now may report 5 as a copy of 4: it does
 * not say that 1 arrived, and the echo (4's) says it did not. */
static void test_held_syn_sent_again_after_its_filling_copy_ignores_the_dsack(void)
{
    fixture f;
    start(&f);
    f.syn_sack_permitted = true;
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);                      /* 1: lost */
    seg_opts(&f, MS, S, SYN, SISN, 0, 500, 0, 0, 0);                      /* 2: lost */
    seg_opts(&f, 1000 * MS, S, SYN, SISN, 0, 1500, 0, 0, 0);              /* 3 */
    seg_opts(&f, MS, C, SYN, CISN, 0, 1100, 0, 0, 0);                     /* 4 */
    seg_opts(&f, MS, C, SYN | ACK, CISN, SISN + 1, 1100, 1500, 0, 0);     /* 5 */
    seg_opts(&f, MS, S, ACK, SISN + 1, CISN + 1, 1501, 1100, CISN, CISN + 1); /* 6: D-SACK */
    for (int i = 0; i < TS_MAX_CORRECTIONS; i++)
        g_assert_false(f.fix[i].valid && f.fix[i].role == TS_SERVER && f.fix[i].segment_id == 1);
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

/* The same with the SYN-ACK: the client's ACK was lost; its answer to the
 * SYN-ACK sent again echoes the first one's timestamp (RFC 7323 4.3: a
 * duplicate does not update TS.Recent), so the first SYN-ACK had arrived. */
static void test_retransmitted_synack_answered_with_the_first_ones_timestamp_was_a_duplicate(void)
{
    fixture f;
    start(&f);
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 500, 100, 0, 0);    /* id 2 */
    seg_opts(&f, 1000 * MS, S, SYN | ACK, SISN, CISN + 1, 1500, 100, 0, 0); /* id 3 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 1101, 500, 0, 0);     /* id 4 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 2);
    g_assert_cmpuint(f.fix[0].since_id, ==, 2);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "ESTABLISHED");
    assert_states(&f, "ESTABLISHED", "ESTABLISHED");
}

/* Simultaneous close. The client's FIN sent again (7) arrived and the
 * client's ACK of the server's FIN (8) took the server to TIME-WAIT; the
 * server's ACK of 7 was lost on its way out, so the client sends its FIN a
 * third time (9), which first reads as 7 lost (FIN-WAIT-1 since 7, FIN-WAIT-2
 * since 8). The server's answer echoes 7's timestamp (RFC 7323 4.3: the
 * duplicate did not update TS.Recent): 7 had arrived, and the frames go back
 * to what they first showed, stretch by stretch. */
static void test_duplicate_shown_by_the_answer_restores_both_stretches(void)
{
    fixture f;
    start(&f);
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 500, 100, 0, 0);
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 101, 500, 0, 0);
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 110, 500, 0, 0);       /* 4: lost */
    seg_opts(&f, MS, S, FIN | ACK, SISN + 1, CISN + 1, 510, 100, 0, 0);       /* 5 */
    seg_opts(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 1, 710, 100, 0, 0); /* 6 */
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 320, 500, 0, 0);       /* 7 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_SERVER]), ==, "CLOSING");
    seg_opts(&f, MS, C, ACK, CISN + 2, SISN + 2, 320, 710, 0, 0);             /* 8 */
    g_assert_cmpstr(ts_state_name((ts_state)f.a.next[TS_SERVER]), ==, "TIME-WAIT");
    seg_opts(&f, 200 * MS, C, FIN | ACK, CISN + 1, SISN + 2, 530, 710, 0, 0); /* 9 */
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "FIN-WAIT-1");
    g_assert_cmpuint(f.fix[0].since_id, ==, 7);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[1].state), ==, "FIN-WAIT-2");
    g_assert_cmpuint(f.fix[1].since_id, ==, 8);
    seg_opts(&f, MS, S, ACK, SISN + 2, CISN + 2, 920, 320, 0, 0);             /* 10 */
    g_assert_true(f.fix[0].valid);
    g_assert_true(f.fix[1].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_DELIVERED);
    g_assert_cmpuint(f.fix[0].since_id, ==, 7);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "CLOSING");
    g_assert_cmpuint(f.fix[1].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[1].since_id, ==, 8);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[1].state), ==, "TIME-WAIT");
    assert_states(&f, "TIME-WAIT", "TIME-WAIT");
}

/* Simultaneous open, both sides offering SACK. The client's bare SYN sent
 * again (4) and then its SYN-ACK (5) carry the same SYN. The server's bare
 * ACK of it reports no duplicate: only the SYN-ACK arrived, the bare SYN was
 * lost (RFC 2883 4.1: a second copy would have been reported). The server was
 * SYN-SENT until the SYN-ACK made it ESTABLISHED (RFC 9293 3.10.7.3). With
 * the D-SACK, both arrived and nothing is corrected. */
static void test_answer_without_dsack_shows_the_bare_syn_before_the_synack_lost(void)
{
    for (int with_dsack = 0; with_dsack < 2; with_dsack++) {
        fixture f;
        start(&f);
        f.syn_sack_permitted = true;
        seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);                    /* 1: lost */
        seg_opts(&f, MS, S, SYN, SISN, 0, 500, 0, 0, 0);                    /* 2 */
        seg_opts(&f, MS, S, SYN, SISN, 0, 1500, 0, 0, 0);                   /* 3 */
        seg_opts(&f, MS, C, SYN, CISN, 0, 1100, 0, 0, 0);                   /* 4: lost unless D-SACK */
        seg_opts(&f, MS, C, SYN | ACK, CISN, SISN + 1, 1100, 1500, 0, 0);   /* 5 */
        seg_opts(&f, MS, S, ACK, SISN + 1, CISN + 1, 1600, 1100, with_dsack ? CISN : 0,
                    with_dsack ? CISN + 1 : 0);                            /* 6 */
        bool corrected_4 = false;
        for (int i = 0; i < TS_MAX_CORRECTIONS; i++) {
            if (!f.fix[i].valid || f.fix[i].segment_id != 4)
                continue;
            corrected_4 = true;
            g_assert_cmpuint(f.fix[i].role, ==, TS_SERVER);
            g_assert_cmpuint(f.fix[i].delivery, ==, TS_LOST);
            if (f.fix[i].since_id == 4)
                g_assert_cmpstr(ts_state_name((ts_state)f.fix[i].state), ==, "SYN-SENT");
            else
                g_assert_cmpstr(ts_state_name((ts_state)f.fix[i].state), ==, "ESTABLISHED");
        }
        g_assert_true(corrected_4 == !with_dsack);
        assert_states(&f, "ESTABLISHED", "ESTABLISHED");
    }
}

/* Without that evidence (the answer echoes the retransmission's timestamp,
 * no D-SACK) the first one stays lost. */
static void test_retransmitted_fin_answered_plainly_stays_lost(void)
{
    fixture f;
    start(&f);
    seg_opts(&f, MS, C, SYN, CISN, 0, 100, 0, 0, 0);
    seg_opts(&f, MS, S, SYN | ACK, SISN, CISN + 1, 500, 100, 0, 0);
    seg_opts(&f, MS, C, ACK, CISN + 1, SISN + 1, 101, 500, 0, 0);
    seg_opts(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 110, 500, 0, 0);
    seg_opts(&f, 200 * MS, C, FIN | ACK, CISN + 1, SISN + 1, 310, 500, 0, 0);
    g_assert_true(f.fix[0].valid);
    seg_opts(&f, MS, S, ACK, SISN + 1, CISN + 2, 720, 310, 0, 0);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "FIN-WAIT-2", "CLOSE-WAIT");
}

/* The server's FIN+ACK and its first retransmission are lost; the client
 * sends its FIN again without acknowledging the server's: it had not
 * received it. Held, not taken as crossed: the server's ACK of the client's
 * FIN then moves the client to FIN-WAIT-2, and the server's FIN sent once
 * more is the one that arrives. */
static void test_fin_the_receivers_own_retransmission_does_not_acknowledge_is_held(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);                             /* id 4 */
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);                             /* id 5: lost */
    seg_at(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED); /* id 6: lost */
    seg_at(&f, 10000, C, FIN | ACK, CISN + 1, SISN + 1, 0, TS_DELIVERED);    /* id 7 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_CLIENT);
    g_assert_cmpuint(f.fix[0].since_id, ==, 6);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "FIN-WAIT-1");
    assert_states(&f, "FIN-WAIT-1", "LAST-ACK");
    seg(&f, S, ACK, SISN + 2, CISN + 2, 0);                                   /* id 8 */
    assert_states(&f, "FIN-WAIT-2", "LAST-ACK");
    seg_at(&f, 300 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED); /* id 9 */
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    seg(&f, C, ACK, CISN + 2, SISN + 2, 0);
    assert_states(&f, "TIME-WAIT", "CLOSED");
}

/* ---- hindsight: a RST that never arrived --------------------------------------------- */

/* The client's RST is lost: the server sends its data again on its own timer
 * (RFC 6298: its retransmission timer outlasts the round trip the RST would
 * have taken), so it was never reset; the client, whose socket is gone
 * (3.10.5: no TIME-WAIT after a RST), answers the retransmission with a RST. */
static void test_lost_rst_is_corrected_when_its_receiver_sends_again(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, S, ACK | PSH, SISN + 1, CISN + 1, 4);               /* id 4 */
    seg(&f, C, RST | ACK, CISN + 1, SISN + 5, 0);               /* id 5: lost */
    assert_states(&f, "CLOSED", "CLOSED");                      /* best knowledge */
    seg_at(&f, 200 * MS, S, ACK | PSH, SISN + 1, CISN + 1, 4, TS_DELIVERED); /* id 6 */
    g_assert_true(f.fix[0].valid);
    g_assert_cmpuint(f.fix[0].role, ==, TS_SERVER);
    g_assert_cmpuint(f.fix[0].segment_id, ==, 5);
    g_assert_cmpuint(f.fix[0].since_id, ==, 5);
    g_assert_cmpuint(f.fix[0].delivery, ==, TS_LOST);
    g_assert_cmpstr(ts_state_name((ts_state)f.fix[0].state), ==, "ESTABLISHED");
    assert_states(&f, "CLOSED", "ESTABLISHED");
    g_assert_false(ts_conn_finished(&f.conn));
    seg(&f, C, RST, CISN + 1, 0, 0);
    assert_states(&f, "CLOSED", "CLOSED");
}

/* A SYN with the client's opening sequence number is that SYN sent again
 * (RFC 9293 3.4.1: a new connection takes a new ISN), also after a RST that
 * refused it; a SYN with another number, a SYN-ACK, or the other end's SYN
 * is not. The plugin keeps such a SYN in its connection where Wireshark 4.4+
 * starts a new tcp.stream. */
static void test_syn_with_the_opening_isn_repeats_the_open(void)
{
    fixture f;
    start(&f);
    seg(&f, C, SYN, CISN, 0, 0);
    seg(&f, S, RST | ACK, 0, CISN + 1, 0);
    ts_segment again = next_seg(&f, 1000 * MS, C, SYN, CISN, 0, 0);
    g_assert_true(ts_conn_repeats_open(&f.conn, C, &again));
    ts_segment other_isn = next_seg(&f, MS, C, SYN, CISN + 70000, 0, 0);
    g_assert_false(ts_conn_repeats_open(&f.conn, C, &other_isn));
    ts_segment with_ack = next_seg(&f, MS, C, SYN | ACK, CISN, SISN + 1, 0);
    g_assert_false(ts_conn_repeats_open(&f.conn, C, &with_ack));
    ts_segment from_server = next_seg(&f, MS, S, SYN, CISN, 0, 0);
    g_assert_false(ts_conn_repeats_open(&f.conn, S, &from_server));
}

/* New data from the RST's receiver may have crossed the RST: nothing is taken back. */
static void test_new_data_crossing_a_rst_takes_nothing_back(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, RST | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK | PSH, SISN + 1, CISN + 1, 4);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "CLOSED", "CLOSED");
}

/* The second pass feeds what the first learnt: the same capture, no corrections. */
static void test_delivery_flags_from_hindsight_give_the_corrected_view_directly(void)
{
    fixture f;
    start(&f);
    handshake(&f);
    seg(&f, C, FIN | ACK, CISN + 1, SISN + 1, 0);
    seg(&f, S, ACK, SISN + 1, CISN + 2, 0);
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 2, 0);
    seg_at(&f, MS, C, ACK, CISN + 2, SISN + 2, 0, TS_LOST);
    assert_note(&f, TS_NOTE_NOT_RECEIVED);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");
    seg_at(&f, 200 * MS, S, FIN | ACK, SISN + 1, CISN + 2, 0, TS_DELIVERED);
    g_assert_false(f.fix[0].valid);
    assert_states(&f, "TIME-WAIT", "LAST-ACK");

    start(&f);
    seg_at(&f, MS, C, SYN, CISN, 0, 0, TS_NO_LISTENER);
    assert_prev(&f, "CLOSED", "CLOSED");
    assert_states(&f, "SYN-SENT", "CLOSED");
    seg(&f, S, RST | ACK, 0, CISN + 1, 0);
    g_assert_false(f.fix[0].valid);
    assert_note(&f, TS_NOTE_REFUSED);
    assert_states(&f, "CLOSED", "CLOSED");

    start(&f);
    handshake(&f);
    seg_at(&f, MS, C, FIN | ACK, CISN + 1, SISN + 1, 0, TS_DELIVERED_LATE);
    assert_states(&f, "FIN-WAIT-1", "ESTABLISHED");
    seg(&f, S, FIN | ACK, SISN + 1, CISN + 1, 0);
    g_assert_false(f.fix[0].valid);
    assert_prev(&f, "FIN-WAIT-1", "ESTABLISHED");
    assert_states(&f, "CLOSING", "CLOSING");
}

/* ---- names ------------------------------------------------------------------------- */

static void test_states_are_spelled_as_each_tool_prints_them(void)
{
    g_assert_cmpstr(ts_state_spelled(TS_SYN_RECEIVED, TS_SPELL_RFC9293), ==, "SYN-RECEIVED");
    g_assert_cmpstr(ts_state_spelled(TS_SYN_RECEIVED, TS_SPELL_LINUX_SS), ==, "SYN-RECV");
    g_assert_cmpstr(ts_state_spelled(TS_FIN_WAIT_2, TS_SPELL_LINUX_NETSTAT), ==, "FIN_WAIT2");
    g_assert_cmpstr(ts_state_spelled(TS_SYN_RECEIVED, TS_SPELL_BSD_NETSTAT), ==, "SYN_RCVD");
    g_assert_cmpstr(ts_state_spelled(TS_LISTEN, TS_SPELL_WINDOWS_NETSTAT), ==, "LISTENING");
    g_assert_cmpstr(ts_state_spelled(TS_STATE_COUNT, TS_SPELL_RFC9293), ==, "?");
    for (int s = 0; s < TS_STATE_COUNT; s++)
        for (int k = 0; k < TS_SPELL_COUNT; k++)
            g_assert_nonnull(ts_state_spelled((ts_state)s, (ts_spelling)k));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/core/handshake/three-way-moves-each-side-at-its-step",
                    test_three_way_handshake_moves_each_side_at_its_step);
    g_test_add_func("/core/handshake/simultaneous-open-syn-sent-to-syn-received",
                    test_simultaneous_open_goes_syn_sent_to_syn_received);
    g_test_add_func("/core/handshake/data-on-syn-tcp-fast-open", test_data_on_syn_is_accepted_like_tcp_fast_open);
    g_test_add_func("/core/handshake/synack-wrong-ack-old-duplicate",
                    test_synack_with_wrong_ack_is_an_old_duplicate_and_moves_nothing);
    g_test_add_func("/core/handshake/old-duplicate-syn-figure-8",
                    test_old_duplicate_syn_figure_8_from_the_client_side);
    g_test_add_func("/core/handshake/syn-sent-resets-unacceptable-ack-and-waits",
                    test_syn_sent_resetting_an_unacceptable_ack_stays_syn_sent);
    g_test_add_func("/core/retransmission/syn-and-fin-move-receiver-once",
                    test_retransmitted_syn_and_fin_move_their_receiver_once);
    g_test_add_func("/core/teardown/four-step-close", test_four_step_close_ends_client_time_wait_server_closed);
    g_test_add_func("/core/teardown/fin-acking-our-fin-fin-wait-1-to-time-wait",
                    test_fin_that_acks_our_fin_goes_fin_wait_1_to_time_wait);
    g_test_add_func("/core/teardown/simultaneous-close-through-closing",
                    test_simultaneous_close_goes_through_closing);
    g_test_add_func("/core/teardown/half-close-data-flows-other-way", test_half_close_lets_data_flow_the_other_way);
    g_test_add_func("/core/teardown/fin-carrying-data", test_fin_carrying_data_closes_after_the_data);
    g_test_add_func("/core/teardown/data-after-fin-flagged", test_data_after_fin_is_flagged);
    g_test_add_func("/core/teardown/fin-retransmitted-to-time-wait-restarts-2msl",
                    test_fin_retransmitted_to_time_wait_restarts_2msl);
    g_test_add_func("/core/teardown/late-fin-time-wait-starts-when-applied",
                    test_time_wait_from_a_late_fin_starts_when_it_is_applied);
    g_test_add_func("/core/data/keepalive-probe-not-acceptable-completes-no-handshake",
                    test_keepalive_probe_is_not_acceptable_and_completes_no_handshake);
    g_test_add_func("/core/data/keepalive-and-window-probe-no-transition",
                    test_keepalive_and_window_probe_change_no_state);
    g_test_add_func("/core/reset/rst-answering-syn-no-listener", test_rst_answering_syn_means_no_listener);
    g_test_add_func("/core/reset/syn-sent-needs-ack-of-our-syn",
                    test_rst_in_syn_sent_is_ignored_unless_it_acks_our_syn);
    g_test_add_func("/core/reset/window-and-exact-sequence",
                    test_rst_outside_window_is_ignored_and_inexact_earns_challenge);
    g_test_add_func("/core/reset/window-scale-needs-both-syns",
                    test_window_scale_applies_only_when_both_syns_carry_it);
    g_test_add_func("/core/reset/syn-received-from-listen-returns-to-listen",
                    test_rst_in_syn_received_from_listen_returns_to_listen);
    g_test_add_func("/core/sequence/wraps-past-2-32", test_sequence_numbers_wrap_past_2_32);
    g_test_add_func("/core/reuse/new-syn-after-close-new-connection",
                    test_new_syn_on_same_ports_after_close_is_a_new_connection);
    g_test_add_func("/core/reuse/syn-reopens-time-wait", test_syn_reaching_a_side_in_time_wait_reopens_it);
    g_test_add_func("/core/hindsight/held-fin-resend-answered-with-its-timestamp-arrived",
                    test_held_fin_whose_resend_is_answered_with_its_timestamp_arrived);
    g_test_add_func("/core/hindsight/held-fin-resend-answered-with-the-resends-timestamp-was-lost",
                    test_held_fin_whose_resend_is_answered_with_the_resends_timestamp_was_lost);
    g_test_add_func("/core/hindsight/held-syn-resend-answered-with-a-dsack-arrived",
                    test_held_syn_whose_resend_is_answered_with_a_dsack_arrived);
    g_test_add_func("/core/hindsight/held-syn-sent-again-after-its-filling-copy-ignores-the-dsack",
                    test_held_syn_sent_again_after_its_filling_copy_ignores_the_dsack);
    g_test_add_func("/core/reuse/lost-syn-to-time-wait-leaves-its-listener",
                    test_lost_syn_to_a_side_in_time_wait_leaves_its_listener);
    g_test_add_func("/core/time-wait/ends-after-configured-length",
                    test_time_wait_ends_after_its_configured_length);
    g_test_add_func("/core/partial/mid-connection-roles-from-ports",
                    test_capture_starting_mid_connection_guesses_roles_from_ports);
    g_test_add_func("/core/partial/one-direction-infers-handshake-reply",
                    test_capture_of_one_direction_infers_the_missing_handshake_reply);
    g_test_add_func("/core/partial/one-direction-infers-peer-fin",
                    test_capture_of_one_direction_infers_the_missing_fin);
    g_test_add_func("/core/hindsight/lost-syn", test_lost_syn_is_corrected_by_its_retransmission);
    g_test_add_func("/core/hindsight/lost-synack", test_lost_synack_is_corrected_when_the_client_sends_its_syn_again);
    g_test_add_func("/core/hindsight/lost-fin", test_lost_fin_is_corrected_by_its_retransmission);
    g_test_add_func("/core/hindsight/lost-final-ack",
                    test_lost_final_ack_leaves_server_in_last_ack_until_time_wait_answers);
    g_test_add_func("/core/hindsight/rst-answering-resent-syn-shows-no-listener-since-first-syn",
                    test_rst_answering_a_resent_syn_shows_no_listener_since_the_first_syn);
    g_test_add_func("/core/hindsight/synack-answering-resent-syn-says-nothing-of-the-ack-behind-it",
                    test_synack_answering_a_resent_syn_neither_confirms_nor_denies_the_ack_behind_it);
    g_test_add_func("/core/hindsight/synack-lost-again-after-resent-syn-leaves-client-syn-sent",
                    test_synack_lost_again_after_the_resent_syn_leaves_the_client_syn_sent);
    g_test_add_func("/core/hindsight/lost-fin-taken-back-replays-the-ack-that-followed",
                    test_lost_fin_taken_back_replays_the_ack_that_followed_it);
    g_test_add_func("/core/hindsight/bare-ack-from-receiver-does-not-confirm-ack-of-its-fin",
                    test_bare_ack_from_the_receiver_does_not_confirm_the_ack_of_its_fin);
    g_test_add_func("/core/hindsight/fin-beyond-a-hole-in-the-capture-waits",
                    test_fin_beyond_a_hole_in_the_capture_waits_for_the_data_before_it);
    g_test_add_func("/core/hindsight/fin-after-lost-data-taken-back-by-duplicate-ack",
                    test_fin_after_lost_data_is_taken_back_by_the_receivers_duplicate_ack);
    g_test_add_func("/core/hindsight/ack-crossing-the-fin-takes-nothing-back",
                    test_an_ack_that_crossed_the_fin_takes_nothing_back);
    g_test_add_func("/core/hindsight/fin-held-by-crossing-duplicate-ack-put-back",
                    test_fin_held_by_a_crossing_duplicate_ack_is_put_back_by_the_covering_ack);
    g_test_add_func("/core/hindsight/retransmitted-fin-answered-with-dsack-was-duplicate",
                    test_retransmitted_fin_answered_with_a_dsack_was_a_duplicate);
    g_test_add_func("/core/hindsight/retransmitted-synack-answered-with-first-timestamp-was-duplicate",
                    test_retransmitted_synack_answered_with_the_first_ones_timestamp_was_a_duplicate);
    g_test_add_func("/core/hindsight/duplicate-shown-by-answer-restores-both-stretches",
                    test_duplicate_shown_by_the_answer_restores_both_stretches);
    g_test_add_func("/core/hindsight/answer-without-dsack-shows-bare-syn-before-synack-lost",
                    test_answer_without_dsack_shows_the_bare_syn_before_the_synack_lost);
    g_test_add_func("/core/hindsight/retransmitted-fin-answered-plainly-stays-lost",
                    test_retransmitted_fin_answered_plainly_stays_lost);
    g_test_add_func("/core/hindsight/lost-rst-corrected-when-receiver-sends-again",
                    test_lost_rst_is_corrected_when_its_receiver_sends_again);
    g_test_add_func("/core/hindsight/new-data-crossing-rst-takes-nothing-back",
                    test_new_data_crossing_a_rst_takes_nothing_back);
    g_test_add_func("/core/hindsight/fin-not-acknowledged-by-receivers-own-retransmission-is-held",
                    test_fin_the_receivers_own_retransmission_does_not_acknowledge_is_held);
    g_test_add_func("/core/hindsight/delivery-flags-give-corrected-view",
                    test_delivery_flags_from_hindsight_give_the_corrected_view_directly);
    g_test_add_func("/core/teardown/forgettable-from-time-wait-end-or-reset-retransmission-cap",
                    test_forgettable_from_time_wait_end_or_a_resets_retransmission_cap);
    g_test_add_func("/core/open/syn-with-the-opening-isn-repeats-the-open",
                    test_syn_with_the_opening_isn_repeats_the_open);
    g_test_add_func("/core/names/spellings", test_states_are_spelled_as_each_tool_prints_them);
    return g_test_run();
}
