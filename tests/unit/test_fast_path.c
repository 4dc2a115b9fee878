/*
 * The core's fast path for data and ACKs that move no state
 * (ts_conn_step_established: ESTABLISHED or half-closed, also with a receive
 * pending confirmation in either direction) must do exactly what the general
 * state machine does with the same segment: on every segment both run on
 * copies of the same connection, and the annotations, corrections and whole
 * connection states must be identical.
 * Traffic: the benchmark generator (bench/synth.h: handshakes, data, every
 * ending, retransmissions, reordering, sequence wrap) and random walks that
 * mix in stray flags, old and future sequence numbers and acks.
 */
#include <glib.h>
#include <string.h>

#include "synth.h"
#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h"

typedef struct {
    guint64 segments;
    guint64 fast;
    guint64 fast_own_pending;  /* on the fast path with the sender's own receive pending */
    guint64 fast_peer_pending; /* ... with the peer's receive pending (which it may confirm) */
    guint64 fast_half_closed;  /* ... with one side's FIN sent (FIN-WAIT-1/2, CLOSE-WAIT) */
} tally;

static void corrections_equal(const ts_correction *a, const ts_correction *b)
{
    for (int i = 0; i < TS_MAX_CORRECTIONS; i++) {
        g_assert_cmpint(a[i].valid, ==, b[i].valid);
        if (a[i].valid)
            g_assert_cmpmem(&a[i], sizeof a[i], &b[i], sizeof b[i]);
    }
}

/* One segment through both paths; `conn` moves on with the general result. */
static void step_both(ts_conn *conn, const ts_segment *seg, tally *t)
{
    ts_conn before = *conn, fast = *conn;
    ts_annotation fast_out, general_out;
    ts_correction fast_corr[TS_MAX_CORRECTIONS], general_corr[TS_MAX_CORRECTIONS];
    memset(fast_corr, 0xa5, sizeof fast_corr);
    bool handled = ts_conn_step_established(&fast, seg, &fast_out, fast_corr);
    ts_conn_step_general(conn, seg, &general_out, general_corr);
    t->segments++;
    if (!handled) {
        g_assert_cmpmem(&fast, sizeof fast, &before, sizeof before); /* declined: touched nothing */
        return;
    }
    t->fast++;
    int s = seg->from_b ? 1 : 0;
    t->fast_own_pending += before.pending[s].active;
    t->fast_peer_pending += before.pending[1 - s].active;
    t->fast_half_closed += before.ep[0].state != TS_ESTABLISHED || before.ep[1].state != TS_ESTABLISHED;
    g_assert_cmpmem(&fast_out, sizeof fast_out, &general_out, sizeof general_out);
    corrections_equal(fast_corr, general_corr);
    g_assert_cmpmem(&fast, sizeof fast, conn, sizeof *conn);
}

static void test_generator_traffic(void)
{
    tally t = {0, 0, 0, 0, 0};
    for (guint64 seed = 1; seed <= 4; seed++) {
        syn_params par = {.packets = 200000, .concurrency = seed * 50, .seed = seed, .clients = 4096,
                          .v6_permille = 300, .mean_gap_ns = 10000};
        syn_gen g;
        g_assert_cmpint(syn_init(&g, &par), ==, 0);
        GHashTable *conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
        ts_config cfg = {.time_wait_ns = G_GINT64_CONSTANT(60000000000)};
        const syn_conn *c;
        const syn_pkt *p;
        while ((p = syn_next(&g, &c)) != NULL) {
            ts_conn *conn = g_hash_table_lookup(conns, &c->id);
            if (conn == NULL) {
                conn = g_new(ts_conn, 1);
                ts_conn_init(conn, &cfg);
                g_hash_table_insert(conns, g_memdup2(&c->id, sizeof c->id), conn);
            }
            ts_segment seg = {0};
            seg.time_ns = (int64_t)g.time_ns;
            seg.seq = p->seq;
            seg.ack = p->ack;
            seg.payload_len = p->len;
            seg.window = p->win;
            seg.id = (uint32_t)t.segments + 1;
            seg.flags = p->flags;
            seg.src_port = p->from_server ? c->sport : c->cport;
            seg.dst_port = p->from_server ? c->cport : c->sport;
            seg.from_b = p->from_server;
            seg.delivery = TS_DELIVERED;
            step_both(conn, &seg, &t);
        }
        g_hash_table_destroy(conns);
        syn_free(&g);
    }
    g_test_message("generator: %" G_GUINT64_FORMAT " segments, %" G_GUINT64_FORMAT " on the fast path"
                   " (%" G_GUINT64_FORMAT " with the sender's receive pending, %" G_GUINT64_FORMAT
                   " with the peer's, %" G_GUINT64_FORMAT " half-closed)", t.segments, t.fast,
                   t.fast_own_pending, t.fast_peer_pending, t.fast_half_closed);
    /* The comparison means something only if the fast path ran a lot, with
     * and without receives pending confirmation (the first segments after
     * the handshake: the third ACK moved the server). */
    g_assert_cmpuint(t.fast * 2, >, t.segments);
    g_assert_cmpuint(t.fast_own_pending * 40, >, t.segments);
    g_assert_cmpuint(t.fast_peer_pending * 40, >, t.segments);
    g_assert_cmpuint(t.fast_half_closed * 100, >, t.segments);
}

/* Random walks from an open connection: mostly in-window data and ACKs (the
 * fast path's ground), with old and future numbers, keep-alives, stray SYN,
 * FIN and RST flags and second-pass deliveries that must send the segment
 * (or the next one) down the general path. */
static void test_random_walks(void)
{
    tally t = {0, 0, 0, 0, 0};
    GRand *rng = g_rand_new_with_seed(20261123);
    ts_config cfg = {.time_wait_ns = G_GINT64_CONSTANT(60000000000)};
    for (int walk = 0; walk < 2000; walk++) {
        ts_conn conn;
        ts_conn_init(&conn, &cfg);
        uint32_t isn[2] = {g_rand_int(rng), g_rand_int(rng)};
        uint32_t nxt[2] = {isn[0] + 1u, isn[1] + 1u};
        int64_t now = 1000000000;
        uint32_t id = 0;
        ts_segment hs[3] = {
            {.seq = isn[0], .ack = 0, .flags = TS_TH_SYN, .from_b = 0},
            {.seq = isn[1], .ack = nxt[0], .flags = TS_TH_SYN | TS_TH_ACK, .from_b = 1},
            {.seq = nxt[0], .ack = nxt[1], .flags = TS_TH_ACK, .from_b = 0},
        };
        for (int i = 0; i < 3; i++) {
            hs[i].time_ns = now += 1000;
            hs[i].id = ++id;
            hs[i].window = 65535;
            hs[i].src_port = hs[i].from_b ? 80 : 40000;
            hs[i].dst_port = hs[i].from_b ? 40000 : 80;
            hs[i].delivery = TS_DELIVERED;
            step_both(&conn, &hs[i], &t);
        }
        for (int i = 0; i < 200; i++) {
            int from = (int)g_rand_int_range(rng, 0, 2);
            ts_segment seg = {0};
            uint32_t len = g_rand_int_range(rng, 0, 4) == 0 ? 0 : (uint32_t)g_rand_int_range(rng, 1, 1500);
            int32_t jitter = g_rand_int_range(rng, 0, 8) == 0 ? g_rand_int_range(rng, -70000, 70000) : 0;
            seg.seq = nxt[from] + (uint32_t)jitter;
            seg.ack = nxt[1 - from] + (uint32_t)(g_rand_int_range(rng, 0, 10) == 0 ? g_rand_int_range(rng, -5, 5) : 0);
            seg.flags = TS_TH_ACK | (g_rand_boolean(rng) ? TS_TH_PSH : 0);
            switch (g_rand_int_range(rng, 0, 400)) { /* mostly neither: keep the walk open */
            case 0: seg.flags |= TS_TH_FIN; break;
            case 1: seg.flags |= TS_TH_RST; break;
            case 2: seg.flags |= TS_TH_SYN; break;
            case 3: seg.flags &= (uint16_t)~TS_TH_ACK; break;
            case 4: case 5: case 6: case 7: seg.seq = nxt[from] - 1u; len = g_rand_int_range(rng, 0, 2); break; /* keep-alive */
            default: break;
            }
            seg.payload_len = len;
            seg.window = g_rand_int_range(rng, 0, 10) == 0 ? 0 : 65535;
            seg.time_ns = now += g_rand_int_range(rng, 1, 200000000);
            seg.id = ++id;
            seg.from_b = (uint8_t)from;
            seg.src_port = from ? 80 : 40000;
            seg.dst_port = from ? 40000 : 80;
            /* Now and then what a second pass says: lost, or crossing the
             * peer's next segment (a SYN or FIN so delivered waits for it,
             * deferred, which the fast path must leave to the general one). */
            switch (g_rand_int_range(rng, 0, 30)) {
            case 0: seg.delivery = TS_LOST; break;
            case 1: seg.delivery = TS_DELIVERED_LATE; break;
            default: seg.delivery = TS_DELIVERED; break;
            }
            step_both(&conn, &seg, &t);
            if (jitter == 0 && !(seg.flags & TS_TH_RST))
                nxt[from] = seg.seq + len + ((seg.flags & (TS_TH_SYN | TS_TH_FIN)) ? 1u : 0u);
        }
    }
    g_rand_free(rng);
    g_test_message("random walks: %" G_GUINT64_FORMAT " segments, %" G_GUINT64_FORMAT " on the fast path"
                   " (%" G_GUINT64_FORMAT " with the sender's receive pending, %" G_GUINT64_FORMAT
                   " with the peer's, %" G_GUINT64_FORMAT " half-closed)", t.segments, t.fast,
                   t.fast_own_pending, t.fast_peer_pending, t.fast_half_closed);
    g_assert_cmpuint(t.fast * 4, >, t.segments);
    g_assert_cmpuint(t.fast_half_closed, >, 0); /* after stray FINs: data after FIN */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fast-path/same-as-general/generator-traffic", test_generator_traffic);
    g_test_add_func("/fast-path/same-as-general/random-walks", test_random_walks);
    return g_test_run();
}
