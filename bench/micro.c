/*
 * tcpstate_micro: throughput of the pure state machine (ts_conn_step), next to a
 * floor loop that only streams the same segment array.
 *
 *   tcpstate_micro [-n SEGMENTS=10000000] [-c CONCURRENT=1000] [-r RUNS=5] [-s SEED=1]
 *
 * The segments come from the same synthetic traffic as the pcap generator
 * (synth.h): many interleaved connections with handshakes, data, retransmissions,
 * out-of-order pairs and every kind of ending. They are built in memory first
 * (one ts_segment per packet plus a connection index); then, best of RUNS:
 *   floor: read every segment and its connection index, fold them into a
 *          dependent hash (what any loop over the array costs at least);
 *   step:  ts_conn_step() on the segment's connection, folding the annotation;
 *   slots: ts_conn_step() on connections kept in slots that are reused once
 *          a connection has had its last segment, as the plugin keeps its
 *          hot connections (plugin/store.c): about CONCURRENT of them, in
 *          cache; each connection is initialised (ts_conn_init) at its first
 *          segment, inside the timed region;
 *   store: the same as step, with each annotation stored to an array (as a
 *          per-frame record would be).
 * step and store keep every connection of the run in one array (232 MB at
 * the defaults), initialised before the run, outside the timed region: each
 * connection's first segment finds its state in memory, not in cache.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcpstate/tcpstate.h"
#include "tcpstate_internal.h" /* the core's own benchmark: sizes and pools of ts_conn */
#include "synth.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: tcpstate_micro [-n SEGMENTS=10000000] [-c CONCURRENT=1000] [-r RUNS=5] [-s SEED=1]\n");
    exit(2);
}

/* What step and slots keep of each annotation: enough that both must agree. */
static inline uint64_t fold(uint64_t acc, const ts_annotation *ann, const ts_correction *corr)
{
    return acc * 31 + ann->phase + ((uint64_t)ann->next[0] << 8) + ((uint64_t)ann->next[1] << 16) + corr->valid;
}

static void init_conns(ts_conn *conns, uint64_t n, const ts_config *cfg)
{
    for (uint64_t i = 0; i < n; i++)
        ts_conn_init(&conns[i], cfg);
}

static void report(const char *name, double best, double worst, uint64_t n, double floor_best)
{
    printf("%-6s best %8.3f ms  worst %8.3f ms  %8.2f Mseg/s  %6.2f ns/seg",
           name, best * 1e3, worst * 1e3, (double)n / best / 1e6, best * 1e9 / (double)n);
    if (floor_best > 0)
        printf("  (%.2f ns/seg above floor)", (best - floor_best) * 1e9 / (double)n);
    printf("\n");
}

int main(int argc, char **argv)
{
    syn_params par = {0};
    par.packets = 10000000;
    par.concurrency = 1000;
    par.seed = 1;
    par.clients = 65536;
    par.v6_permille = 300;
    par.mean_gap_ns = 10000;
    int runs = 5;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1] || a[2] || i + 1 >= argc) usage();
        char *end;
        errno = 0;
        unsigned long long v = strtoull(argv[++i], &end, 0);
        if (errno || *end) usage();
        switch (a[1]) {
        case 'n': par.packets = v; break;
        case 'c': if (!v) usage(); par.concurrency = (uint32_t)v; break;
        case 'r': if (!v) usage(); runs = (int)v; break;
        case 's': par.seed = v; break;
        default: usage();
        }
    }

    printf("sizeof(ts_conn)       = %zu\n", sizeof(ts_conn));
    printf("sizeof(ts_segment)    = %zu\n", sizeof(ts_segment));
    printf("sizeof(ts_annotation) = %zu\n", sizeof(ts_annotation));
    printf("sizeof(ts_correction) = %zu\n", sizeof(ts_correction));
    printf("sizeof(ts_endpoint)   = %zu\n", sizeof(ts_endpoint));
    printf("sizeof(ts_pending)    = %zu\n", sizeof(ts_pending));

    /* Build the segment array. */
    double t0 = now_s();
    syn_gen g;
    if (syn_init(&g, &par) != 0) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t n = par.packets;
    ts_segment *segs = malloc(sizeof(ts_segment) * n);
    uint32_t *cidx = malloc(sizeof(uint32_t) * n);
    ts_annotation *anns = malloc(sizeof(ts_annotation) * n);
    if (!segs || !cidx || !anns) { fprintf(stderr, "out of memory\n"); return 1; }
    const syn_conn *c;
    const syn_pkt *p;
    uint64_t k = 0;
    while ((p = syn_next(&g, &c)) != NULL) {
        ts_segment *s = &segs[k];
        memset(s, 0, sizeof *s);
        s->time_ns = g.time_ns;
        s->seq = p->seq;
        s->ack = p->ack;
        s->payload_len = p->len;
        s->window = p->win;
        s->id = (uint32_t)(c->next - 1);
        s->flags = p->flags;
        s->src_port = p->from_server ? c->sport : c->cport;
        s->dst_port = p->from_server ? c->cport : c->sport;
        s->from_b = p->from_server; /* the client sends every connection's first segment */
        s->delivery = TS_DELIVERED;
        cidx[k] = (uint32_t)c->id;
        k++;
    }
    n = k;
    uint64_t nconn = g.next_id;
    syn_free(&g);
    ts_conn *conns = malloc(sizeof(ts_conn) * nconn);
    if (!conns) { fprintf(stderr, "out of memory\n"); return 1; }
    memset(anns, 0, sizeof(ts_annotation) * n);
    memset(conns, 0, sizeof(ts_conn) * nconn);

    /* Slots: what a caller that frees a connection after its last segment
     * (the plugin's store) keeps. Assigned outside the timed region, like
     * the connection index: finding a connection is the caller's work. */
    uint32_t *slot = malloc(sizeof(uint32_t) * n);
    uint64_t *last_seg = malloc(sizeof(uint64_t) * nconn);
    uint32_t *slot_of = malloc(sizeof(uint32_t) * nconn);
    uint32_t *free_slots = malloc(sizeof(uint32_t) * nconn);
    if (!slot || !last_seg || !slot_of || !free_slots) { fprintf(stderr, "out of memory\n"); return 1; }
    for (uint64_t i = 0; i < n; i++)
        last_seg[cidx[i]] = i;
    uint32_t nslots = 0, nfree = 0;
    for (uint64_t c2 = 0; c2 < nconn; c2++)
        slot_of[c2] = UINT32_MAX;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t ci = cidx[i];
        if (slot_of[ci] == UINT32_MAX) {
            slot_of[ci] = nfree ? free_slots[--nfree] : nslots++;
            slot[i] = slot_of[ci] | 0x80000000u; /* first segment: initialise */
        } else {
            slot[i] = slot_of[ci];
        }
        if (last_seg[ci] == i)
            free_slots[nfree++] = slot_of[ci];
    }
    free(last_seg); free(slot_of); free(free_slots);
    ts_conn *pool = malloc(sizeof(ts_conn) * nslots);
    if (!pool) { fprintf(stderr, "out of memory\n"); return 1; }
    printf("slots %u (%.1f kB)\n", nslots, (double)nslots * sizeof(ts_conn) / 1e3);
    double t1 = now_s();
    printf("segments %" PRIu64 ", connections %" PRIu64 ", concurrency %u, seed %" PRIu64
           " (built in %.2f s)\n", n, nconn, par.concurrency, par.seed, t1 - t0);
    printf("memory: segments %.1f MB, connections %.1f MB (%" PRIu64 " x %zu B)\n",
           (double)(sizeof(ts_segment) + 4) * (double)n / 1e6,
           (double)sizeof(ts_conn) * (double)nconn / 1e6, nconn, sizeof(ts_conn));

    ts_config cfg = { .time_wait_ns = 60LL * 1000000000LL };
    double fb = 1e30, fw = 0, sb = 1e30, sw = 0, ob = 1e30, ow = 0, pb = 1e30, pw = 0;
    uint64_t sink = 0;
    uint64_t phases[TS_PHASE_COUNT + 1] = {0};
    uint64_t corrections = 0;

    for (int r = 0; r < runs; r++) {
        /* floor */
        double a = now_s();
        uint64_t acc = 0;
        for (uint64_t i = 0; i < n; i++) {
            const ts_segment *s = &segs[i];
            acc = (acc ^ s->seq ^ ((uint64_t)cidx[i] << 32)) * 0x9E3779B97F4A7C15ull
                  + s->ack + s->flags + s->payload_len;
        }
        double b = now_s();
        sink += acc;
        if (b - a < fb) fb = b - a;
        if (b - a > fw) fw = b - a;

        /* step */
        init_conns(conns, nconn, &cfg);
        a = now_s();
        acc = 0;
        for (uint64_t i = 0; i < n; i++) {
            ts_annotation ann;
            ts_correction corr;
            corr.valid = false;
            ts_conn_step(&conns[cidx[i]], &segs[i], &ann, &corr);
            acc = fold(acc, &ann, &corr);
        }
        b = now_s();
        sink += acc;
        uint64_t step_acc = acc;
        if (b - a < sb) sb = b - a;
        if (b - a > sw) sw = b - a;

        /* step, slots */
        a = now_s();
        acc = 0;
        for (uint64_t i = 0; i < n; i++) {
            ts_annotation ann;
            ts_correction corr;
            corr.valid = false;
            uint32_t sl = slot[i];
            ts_conn *cn = &pool[sl & 0x7fffffffu];
            if (sl & 0x80000000u)
                ts_conn_init(cn, &cfg);
            ts_conn_step(cn, &segs[i], &ann, &corr);
            acc = fold(acc, &ann, &corr);
        }
        b = now_s();
        sink += acc;
        if (acc != step_acc) { /* the same annotations, or the slots measure something else */
            fprintf(stderr, "slots: annotations differ from step's\n");
            return 1;
        }
        if (b - a < pb) pb = b - a;
        if (b - a > pw) pw = b - a;

        /* step, storing each annotation */
        init_conns(conns, nconn, &cfg);
        a = now_s();
        acc = 0;
        for (uint64_t i = 0; i < n; i++) {
            ts_correction corr;
            corr.valid = false;
            ts_conn_step(&conns[cidx[i]], &segs[i], &anns[i], &corr);
            acc += corr.valid;
        }
        b = now_s();
        sink += acc;
        if (r == 0) corrections = acc;
        if (b - a < ob) ob = b - a;
        if (b - a > ow) ow = b - a;
    }

    for (uint64_t i = 0; i < n; i++)
        phases[anns[i].phase < TS_PHASE_COUNT ? anns[i].phase : TS_PHASE_COUNT]++;

    printf("best of %d runs, one core, %" PRIu64 " segments:\n", runs, n);
    report("floor", fb, fw, n, 0);
    report("step", sb, sw, n, fb);
    report("store", ob, ow, n, fb);
    report("slots", pb, pw, n, fb);
    printf("phases:");
    for (int ph = 0; ph < TS_PHASE_COUNT; ph++)
        printf(" %s=%" PRIu64, ts_phase_name((ts_phase)ph), phases[ph]);
    if (phases[TS_PHASE_COUNT]) printf(" invalid=%" PRIu64, phases[TS_PHASE_COUNT]);
    printf("\ncorrections=%" PRIu64 "\n", corrections);
    printf("(sink %" PRIx64 ")\n", sink);

    /* machine-readable summary line for bench.sh */
    printf("RESULT floor_ns=%.3f step_ns=%.3f store_ns=%.3f slots_ns=%.3f floor_mps=%.2f step_mps=%.2f "
           "store_mps=%.2f slots_mps=%.2f sizeof_conn=%zu sizeof_segment=%zu sizeof_annotation=%zu segments=%" PRIu64
           " connections=%" PRIu64 " slots=%u\n",
           fb * 1e9 / (double)n, sb * 1e9 / (double)n, ob * 1e9 / (double)n, pb * 1e9 / (double)n,
           (double)n / fb / 1e6, (double)n / sb / 1e6, (double)n / ob / 1e6, (double)n / pb / 1e6,
           sizeof(ts_conn), sizeof(ts_segment), sizeof(ts_annotation), n, nconn, nslots);
    free(segs); free(cidx); free(anns); free(conns); free(slot); free(pool);
    return 0;
}
