/*
 * Unit tests of the connection summary: one test per Zeek conn_state code,
 * the history letters (including the logarithmic ones), and tcpstate's own
 * summary facts. Each scenario runs the real core (ts_conn_step) and feeds
 * the summary what the plugin feeds it.
 *
 * Expected values follow Zeek's rules (scripts/base/protocols/conn/main.zeek,
 * TCPSessionAdapter.cc); see docs/conn-summary.md.
 */
#include <glib.h>
#include <string.h>

#include "tcpstate/conn_summary.h"
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h" /* the scenario holds a ts_conn by value */

enum { A = 0, B = 1 };
#define F_ TS_TH_FIN
#define S_ TS_TH_SYN
#define R_ TS_TH_RST
#define P_ TS_TH_PSH
#define A_ TS_TH_ACK

typedef struct {
    ts_conn conn;
    ts_summary sum;
    uint32_t frame;
    uint16_t port[2];
    ts_annotation last;
} scenario;

static void start(scenario *sc, uint16_t port_a, uint16_t port_b)
{
    ts_config config = {.time_wait_ns = 60LL * 1000000000};
    memset(sc, 0, sizeof *sc);
    ts_conn_init(&sc->conn, &config);
    ts_summary_init(&sc->sum);
    sc->port[A] = port_a;
    sc->port[B] = port_b;
}

/* One segment from endpoint `from` at time t_ms. */
static void seg_w(scenario *sc, int from, unsigned flags, uint32_t seq, uint32_t ack, uint32_t len,
                  int64_t t_ms, uint32_t window)
{
    ts_segment seg = {0};
    seg.time_ns = 1700000000LL * 1000000000 + t_ms * 1000000;
    seg.seq = seq;
    seg.ack = ack;
    seg.payload_len = len;
    seg.window = window;
    seg.id = ++sc->frame;
    seg.flags = (uint16_t)flags;
    seg.src_port = sc->port[from];
    seg.dst_port = sc->port[1 - from];
    seg.from_b = (uint8_t)from;
    ts_conn_step(&sc->conn, &seg, &sc->last, NULL);
    ts_summary_update(&sc->sum, &seg, &sc->last, NULL);
}

static void seg(scenario *sc, int from, unsigned flags, uint32_t seq, uint32_t ack, uint32_t len, int64_t t_ms)
{
    seg_w(sc, from, flags, seq, ack, len, t_ms, 65535);
}

static const char *code(const scenario *sc) { return ts_conn_code_name(ts_summary_conn_state(&sc->sum)); }

/* Client 1000, server 5000: the seed walkthrough's ten segments. */
static void handshake(scenario *sc)
{
    seg(sc, A, S_, 1000, 0, 0, 0);
    seg(sc, B, S_ | A_, 5000, 1001, 0, 1);
    seg(sc, A, A_, 1001, 5001, 0, 2);
}

/* ---- one test per conn_state code ---------------------------------------------- */

static void test_s0(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    g_assert_cmpstr(code(&sc), ==, "S0");
    seg(&sc, A, S_, 1000, 0, 0, 1000); /* retransmitted SYN: same seq, no new letter */
    g_assert_cmpstr(code(&sc), ==, "S0");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "S");
    g_assert_cmpint(sc.sum.closed_first, ==, TS_CLOSER_NONE);
    g_assert_cmpint(sc.sum.handshake_rtt_ns, ==, -1);
}

static void test_s1(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 3);
    g_assert_cmpstr(code(&sc), ==, "S1");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShAD");
    g_assert_cmpint(sc.sum.open_frame, ==, 1);
    g_assert_cmpint(sc.sum.established_frame, ==, 3);
    g_assert_cmpint(sc.sum.handshake_rtt_ns, ==, 2000000);
    g_assert_cmpint(sc.sum.close_frame, ==, 0);
}

static void test_sf(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 3);
    seg(&sc, B, A_ | P_, 5001, 1011, 20, 4);
    seg(&sc, A, A_, 1011, 5021, 0, 5);
    seg(&sc, A, F_ | A_, 1011, 5021, 0, 6);
    seg(&sc, B, A_, 5021, 1012, 0, 7);
    seg(&sc, B, F_ | A_, 5021, 1012, 0, 8);
    seg(&sc, A, A_, 1012, 5022, 0, 9);
    g_assert_cmpstr(code(&sc), ==, "SF");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADdFaf");
    g_assert_cmpint(sc.sum.closed_first, ==, TS_CLOSER_CLIENT);
    g_assert_cmpint(sc.sum.close_frame, ==, 10);
    g_assert_cmpint(sc.sum.final_state[TS_CLIENT], ==, TS_TIME_WAIT);
    g_assert_cmpint(sc.sum.final_state[TS_SERVER], ==, TS_CLOSED);
    /* The client entered TIME-WAIT on the server's FIN (frame 9, t = 8 ms). */
    g_assert_cmpint(sc.sum.time_wait_end_ns[TS_CLIENT], ==, 1700000000LL * 1000000000 + 8000000 + 60LL * 1000000000);
    g_assert_cmpint(sc.sum.time_wait_end_ns[TS_SERVER], ==, 0);
    g_assert_cmpint(ts_summary_time_wait_end(&sc.sum), ==, sc.sum.time_wait_end_ns[TS_CLIENT]);
}

static void test_rej(void)
{
    scenario sc;
    start(&sc, 40000, 81);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    seg(&sc, B, R_ | A_, 0, 1001, 0, 1);
    g_assert_cmpstr(code(&sc), ==, "REJ");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "Sr");
    g_assert_cmpint(sc.sum.closed_first, ==, TS_CLOSER_SERVER);
}

static void test_s2(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, F_ | A_, 1001, 5001, 0, 3);
    g_assert_cmpstr(code(&sc), ==, "S2");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShAF");
}

static void test_s3(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, B, F_ | A_, 5001, 1001, 0, 3);
    g_assert_cmpstr(code(&sc), ==, "S3");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShAf");
    g_assert_cmpint(sc.sum.closed_first, ==, TS_CLOSER_SERVER);
}

static void test_rsto(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 3);
    seg(&sc, A, R_ | A_, 1011, 5001, 0, 4);
    g_assert_cmpstr(code(&sc), ==, "RSTO");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADR");
    g_assert_cmpint(sc.sum.close_frame, ==, 5);
}

static void test_rstr(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 3);
    seg(&sc, B, R_ | A_, 5001, 1011, 0, 4);
    g_assert_cmpstr(code(&sc), ==, "RSTR");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADr");
    g_assert_cmpint(sc.sum.closed_first, ==, TS_CLOSER_SERVER);
}

static void test_rstos0(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    seg(&sc, A, R_, 1001, 0, 0, 1);
    g_assert_cmpstr(code(&sc), ==, "RSTOS0");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "SR");
}

/* The capture starts with a SYN-ACK from a likely server port: Zeek flips the
 * connection ('^') so that the SYN-ACK's receiver is the originator. */
static void test_rstrh(void)
{
    scenario sc;
    start(&sc, 80, 40000);
    seg(&sc, A, S_ | A_, 5000, 1001, 0, 0);
    seg(&sc, A, R_, 5001, 0, 0, 1);
    g_assert_cmpstr(code(&sc), ==, "RSTRH");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "^hr");
    g_assert_cmpint(sc.sum.orig_role, ==, TS_CLIENT);
}

static void test_sh(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    seg(&sc, A, F_, 1001, 0, 0, 1);
    g_assert_cmpstr(code(&sc), ==, "SH");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "SF");
}

static void test_shr(void)
{
    scenario sc;
    start(&sc, 80, 40000);
    seg(&sc, A, S_ | A_, 5000, 1001, 0, 0);
    seg(&sc, A, F_ | A_, 5001, 1001, 0, 1);
    g_assert_cmpstr(code(&sc), ==, "SHR");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "^hf");
}

static void test_oth(void)
{
    scenario sc;
    start(&sc, 40000, 8080);
    /* Mid-stream: data from the client, the server's ack, more data. */
    seg(&sc, A, A_ | P_, 7000, 9000, 100, 0);
    seg(&sc, B, A_, 9000, 7100, 0, 1);
    seg(&sc, A, A_ | P_, 7100, 9000, 100, 2);
    g_assert_cmpstr(code(&sc), ==, "OTH");
    /* 8080 is a likely server port and 40000 is not: no flip. */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "Da");
    g_assert_cmpint(sc.sum.handshake_rtt_ns, ==, -1);
}

/* Zeek calls a mid-stream connection that then closes normally SF. */
static void test_partial_then_fins_is_sf(void)
{
    scenario sc;
    start(&sc, 40000, 8080);
    seg(&sc, A, A_ | P_, 7000, 9000, 100, 0);
    seg(&sc, B, A_, 9000, 7100, 0, 1);
    seg(&sc, A, F_ | A_, 7100, 9000, 0, 2);
    seg(&sc, B, F_ | A_, 9000, 7101, 0, 3);
    seg(&sc, A, A_, 7101, 9001, 0, 4);
    g_assert_cmpstr(code(&sc), ==, "SF");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "DaFfA"); /* the last ACK is the originator's first pure ACK */
}

/* A RST from both ends with no data: REJ (os RESET and both sizes 0). */
static void test_rej_both_reset(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, R_ | A_, 1001, 5001, 0, 3);
    seg(&sc, B, R_ | A_, 5001, 1001, 0, 4);
    g_assert_cmpstr(code(&sc), ==, "REJ");
}

/* ---- history letters -------------------------------------------------------------- */

static void test_history_retransmissions_logarithmic(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 3);
    for (int i = 0; i < 9; i++)
        seg(&sc, A, A_ | P_, 1001, 5001, 10, 4 + i); /* retransmissions 1..9 */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADT");
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 20); /* the 10th */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADTT");
    for (int i = 0; i < 89; i++)
        seg(&sc, A, A_ | P_, 1001, 5001, 10, 30 + i); /* up to 99 */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADTT");
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 200); /* the 100th */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADTTT");
}

static void test_history_zero_window(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg_w(&sc, B, A_, 5001, 1001, 0, 3, 0);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShAaw");
    seg_w(&sc, B, A_, 5001, 1001, 0, 4, 0);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShAaw");
}

static void test_history_multi_flag(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    seg(&sc, A, S_ | F_, 1000, 0, 0, 0);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "Q");
    seg(&sc, A, F_ | R_, 1001, 0, 0, 1);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "QI");
}

/* Each F with a new sequence number is recorded again; the same FIN resent is not. */
static void test_history_fin_repeats_with_new_seq(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, F_ | A_, 1001, 5001, 0, 3);
    seg(&sc, A, F_ | A_, 1001, 5001, 0, 4);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShAF");
}

/* The server acks client data the capture never saw: a content gap ('G'). */
static void test_history_gap(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, A_ | P_, 1001, 5001, 10, 3);
    seg(&sc, B, A_, 5001, 1031, 0, 4); /* 20 bytes never captured */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShADaG");
}

/* ---- tcpstate facts ---------------------------------------------------------------- */

static void test_simultaneous_close_is_both(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, F_ | A_, 1001, 5001, 0, 3);
    seg(&sc, B, F_ | A_, 5001, 1001, 0, 4); /* sent before the client's FIN arrived */
    seg(&sc, A, A_, 1002, 5002, 0, 5);
    seg(&sc, B, A_, 5002, 1002, 0, 6);
    g_assert_cmpint(sc.sum.closed_first, ==, TS_CLOSER_BOTH);
    g_assert_cmpstr(ts_closer_name((ts_closer)sc.sum.closed_first), ==, "both");
    g_assert_cmpstr(code(&sc), ==, "SF");
}

static void test_new_connection_restarts(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    seg(&sc, B, R_ | A_, 0, 1001, 0, 1);
    g_assert_cmpstr(code(&sc), ==, "REJ");
    seg(&sc, A, S_, 90000, 0, 0, 2000); /* a new SYN on the same ports */
    g_assert_true(sc.last.notes & TS_NOTE_NEW_CONNECTION);
    g_assert_cmpstr(code(&sc), ==, "S0");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "S");
    g_assert_cmpint(sc.sum.open_frame, ==, 3);
    g_assert_cmpint(sc.sum.incarnation, ==, 1);
}

/* ---- Zeek's connection boundaries inside one tcp.stream ---------------------- */

/* IsReuse (TCPSessionAdapter.cc): a SYN whose sequence number is not the
 * originator's ISN starts a new Zeek connection, even while the first is
 * still opening. A simultaneous open is three conn.log entries in Zeek: the
 * first SYN (S0), the peer's SYN (S0), and the retransmitted first SYN, which
 * the handshake then completes (SF). tests/batch/zeek_rules.py gives the same
 * for sample-pcaps/simultaneous-open.pcap. */
static void test_zeek_simultaneous_open_splits(void)
{
    scenario sc;
    start(&sc, 40014, 9014);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    g_assert_cmpuint(sc.sum.zeek_index, ==, 0);
    seg(&sc, B, S_, 5000, 0, 0, 1); /* the peer's SYN crosses */
    g_assert_cmpuint(sc.sum.zeek_index, ==, 1);
    g_assert_cmpstr(code(&sc), ==, "S0");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "S");
    g_assert_cmpint(sc.sum.orig_role, ==, TS_SERVER);
    seg(&sc, B, S_, 5000, 0, 0, 1000); /* its retransmission: same ISN, same Zeek connection */
    g_assert_cmpuint(sc.sum.zeek_index, ==, 1);
    seg(&sc, A, S_, 1000, 0, 0, 1001); /* the client's retransmission: not B's ISN */
    g_assert_cmpuint(sc.sum.zeek_index, ==, 2);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "S");
    seg(&sc, A, S_ | A_, 1000, 5001, 0, 1002);
    seg(&sc, B, S_ | A_, 5000, 1001, 0, 1003);
    seg(&sc, B, A_, 5001, 1001, 0, 1004);
    seg(&sc, A, A_, 1001, 5001, 0, 1005);
    seg(&sc, A, P_ | A_, 1001, 5001, 1, 1500);
    seg(&sc, B, A_, 5001, 1002, 0, 1501);
    seg(&sc, A, F_ | A_, 1002, 5001, 0, 1600);
    seg(&sc, B, F_ | A_, 5001, 1003, 0, 1601);
    seg(&sc, A, A_, 1003, 5002, 0, 1602);
    g_assert_cmpuint(sc.sum.zeek_index, ==, 2);
    g_assert_cmpstr(code(&sc), ==, "SF");
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "ShaADFf");
    /* tcpstate's own facts follow tcpstate's connection, which began at frame 1 */
    g_assert_cmpint(sc.sum.open_frame, ==, 1);
    g_assert_cmpint(sc.sum.incarnation, ==, 0);
}

/* ConnectionClosed + tcp_close_delay (5 s): once both ends closed, Zeek deletes
 * the connection 5 s after its last time; a RST that comes later is a new
 * connection whose first packet is the responder's RST (flipped: port 80 is a
 * likely server port): RSTRH, history ^r. */
static void test_zeek_close_delay(void)
{
    scenario sc;
    start(&sc, 40000, 80);
    handshake(&sc);
    seg(&sc, A, F_ | A_, 1001, 5001, 0, 10);
    seg(&sc, B, F_ | A_, 5001, 1002, 0, 11);
    seg(&sc, A, A_, 1002, 5002, 0, 12);
    g_assert_cmpstr(code(&sc), ==, "SF");
    seg(&sc, B, R_, 5002, 0, 0, 4000); /* within 5 s: the same connection, still SF */
    g_assert_cmpuint(sc.sum.zeek_index, ==, 0);
    g_assert_cmpstr(code(&sc), ==, "SF");
    seg(&sc, B, R_, 5002, 0, 0, 5011); /* 5 s after the last time (11 ms: the FIN) */
    g_assert_cmpuint(sc.sum.zeek_index, ==, 1);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "^r");
    g_assert_cmpstr(code(&sc), ==, "RSTRH");
}

/* AttemptTimer (tcp_attempt_delay, 5 s): a SYN still unanswered 5 s later is
 * logged (S0) and removed; the next retransmission starts a new connection. */
static void test_zeek_attempt_timer(void)
{
    scenario sc;
    start(&sc, 40000, 9000);
    seg(&sc, A, S_, 1000, 0, 0, 0);
    seg(&sc, A, S_, 1000, 0, 0, 1000);
    seg(&sc, A, S_, 1000, 0, 0, 3000);
    g_assert_cmpuint(sc.sum.zeek_index, ==, 0);
    seg(&sc, A, S_, 1000, 0, 0, 7000);
    g_assert_cmpuint(sc.sum.zeek_index, ==, 1);
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "S");
    g_assert_cmpstr(code(&sc), ==, "S0");
}

/* likely_server_ports includes HTTP's 631 (scripts/base/protocols/http/main.zeek). */
static void test_zeek_port_631_flips(void)
{
    scenario sc;
    start(&sc, 631, 40000);
    seg(&sc, A, A_, 5000, 1000, 10, 0); /* midstream, from port 631 */
    g_assert_cmpstr(ts_summary_history(&sc.sum), ==, "^d");
}

static void test_names(void)
{
    g_assert_cmpstr(ts_conn_code_name(TS_CONN_RSTOS0), ==, "RSTOS0");
    g_assert_cmpstr(ts_conn_code_meaning(TS_CONN_S0), ==, "Connection attempt seen, no reply");
    g_assert_cmpstr(ts_conn_code_name((ts_conn_code)99), ==, "?");
    g_assert_cmpstr(ts_zeek_state_name(TS_ZK_SYN_ACK_SENT), ==, "SYN_ACK_SENT");
    ts_summary empty;
    ts_summary_init(&empty);
    g_assert_cmpint(ts_summary_conn_state(&empty), ==, TS_CONN_NONE);
    g_assert_cmpstr(ts_summary_history(&empty), ==, "");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conn_state/S0", test_s0);
    g_test_add_func("/conn_state/S1", test_s1);
    g_test_add_func("/conn_state/SF", test_sf);
    g_test_add_func("/conn_state/REJ", test_rej);
    g_test_add_func("/conn_state/S2", test_s2);
    g_test_add_func("/conn_state/S3", test_s3);
    g_test_add_func("/conn_state/RSTO", test_rsto);
    g_test_add_func("/conn_state/RSTR", test_rstr);
    g_test_add_func("/conn_state/RSTOS0", test_rstos0);
    g_test_add_func("/conn_state/RSTRH", test_rstrh);
    g_test_add_func("/conn_state/SH", test_sh);
    g_test_add_func("/conn_state/SHR", test_shr);
    g_test_add_func("/conn_state/OTH", test_oth);
    g_test_add_func("/conn_state/partial-then-FINs-is-SF", test_partial_then_fins_is_sf);
    g_test_add_func("/conn_state/REJ-both-reset", test_rej_both_reset);
    g_test_add_func("/history/retransmissions-logarithmic", test_history_retransmissions_logarithmic);
    g_test_add_func("/history/zero-window", test_history_zero_window);
    g_test_add_func("/history/multi-flag", test_history_multi_flag);
    g_test_add_func("/history/fin-same-seq", test_history_fin_repeats_with_new_seq);
    g_test_add_func("/history/gap", test_history_gap);
    g_test_add_func("/summary/simultaneous-close", test_simultaneous_close_is_both);
    g_test_add_func("/summary/new-connection", test_new_connection_restarts);
    g_test_add_func("/summary/names", test_names);
    g_test_add_func("/zeek-session/simultaneous-open-splits", test_zeek_simultaneous_open_splits);
    g_test_add_func("/zeek-session/close-delay", test_zeek_close_delay);
    g_test_add_func("/zeek-session/attempt-timer", test_zeek_attempt_timer);
    g_test_add_func("/zeek-session/port-631", test_zeek_port_631_flips);
    return g_test_run();
}
