/*
 * bench/synth.h: deterministic synthetic TCP traffic for the benchmarks.
 *
 * Shared by gen_pcap.c (writes a pcap) and micro.c (feeds the core directly), so
 * both measure the same traffic. A busy server (one address per family, ports
 * 443 and 8080) talks to many clients. `concurrency` connections are active at
 * once; each step picks one of them at random and emits its next segment, so
 * connections interleave as they do on a real server. A connection that ends is
 * replaced by a new one while the packet budget allows.
 *
 * Every connection is scripted in full when it starts: handshake, request and
 * response rounds, one ending. Sequence and acknowledgment numbers are derived
 * from what each side really sent, so the traffic is consistent TCP. Endings:
 * normal close by the client or by the server (four segments), three-segment
 * close (FIN, FIN+ACK, ACK), RST abort by either side, refused SYN (RST+ACK),
 * half-close (client FIN, server keeps sending), and a small share that never
 * closes. Some data segments are retransmitted, some pairs arrive out of order
 * (followed by a duplicate ACK), some SYNs are retransmitted. ISNs are random;
 * some are chosen just below 2^32 so the connection wraps.
 *
 * Header-only, C99; everything is static.
 */
#ifndef TCPSTATE_BENCH_SYNTH_H
#define TCPSTATE_BENCH_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SYN_FIN 0x01u
#define SYN_SYN 0x02u
#define SYN_RST 0x04u
#define SYN_PSH 0x08u
#define SYN_ACK 0x10u

enum syn_ending {
    END_CLIENT_CLOSE = 0, /* client FIN, server ACK, server FIN, client ACK */
    END_SERVER_CLOSE,     /* the same, server first */
    END_THREE_WAY,        /* FIN, FIN+ACK, ACK (either side first) */
    END_RST_ABORT,        /* RST (+ACK) from either side in the middle of things */
    END_REFUSED,          /* SYN answered by RST+ACK */
    END_HALF_CLOSE,       /* client FIN after its request, server keeps sending */
    END_NEVER,            /* stays established (long-lived) */
    END_TRUNCATED,        /* cut by the end of the capture (packet budget) */
    END_COUNT
};

static const char *const syn_ending_names[END_COUNT] = {
    "client-close", "server-close", "three-way-close", "rst-abort",
    "refused", "half-close", "never-closes", "cut-by-capture-end"
};

/* Payload kinds. */
enum { PAY_NONE = 0, PAY_TLS, PAY_HTTP_REQ, PAY_HTTP_RESP, PAY_RAW };

typedef struct syn_pkt {
    uint32_t seq, ack;
    uint16_t len;       /* payload bytes */
    uint16_t win;
    uint16_t aux;       /* PAY_HTTP_RESP: Content-Length of the whole body */
    uint8_t  flags;
    uint8_t  from_server;
    uint8_t  pay;       /* PAY_* */
    uint8_t  mss_opt;   /* carries an MSS option (SYN, SYN-ACK) */
} syn_pkt;

#define SYN_MAXP 128

typedef struct syn_conn {
    uint64_t id;          /* sequential, from 0 */
    uint32_t client;      /* client index (address) */
    uint32_t ip_id[2];    /* IPv4 id counters [client, server] */
    uint32_t flow;        /* IPv6 flow label */
    uint16_t cport, sport;
    uint8_t  v6;
    uint8_t  ending;
    uint16_t npkts, next;
    syn_pkt  p[SYN_MAXP];
} syn_conn;

/* xoshiro256** */
typedef struct syn_rng { uint64_t s[4]; } syn_rng;

static inline uint64_t syn_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t syn_next64(syn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = syn_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = syn_rotl(s[3], 45);
    return result;
}

static inline void syn_seed(syn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64 */
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
}

/* Uniform in [0, n). */
static inline uint32_t syn_below(syn_rng *r, uint32_t n)
{
    return (uint32_t)(((syn_next64(r) >> 32) * (uint64_t)n) >> 32);
}

/* True with probability permille/1000. */
static inline int syn_chance(syn_rng *r, uint32_t permille) { return syn_below(r, 1000) < permille; }

typedef struct syn_params {
    uint64_t packets;      /* total packet budget */
    uint32_t concurrency;  /* connections active at once */
    uint64_t seed;
    uint32_t clients;      /* distinct client addresses */
    uint32_t v6_permille;  /* share of IPv6 connections */
    uint32_t mean_gap_ns;  /* mean time between packets */
} syn_params;

typedef struct syn_gen {
    syn_params par;
    syn_rng rng;
    syn_conn *slots;       /* concurrency */
    uint32_t nactive;      /* slots [0, nactive) are active */
    uint16_t *port_next;   /* per client, ephemeral port allocator */
    uint64_t emitted;
    uint64_t pending;      /* scripted packets not yet emitted, over active slots */
    uint64_t next_id;
    int64_t  time_ns;
    uint64_t ending_count[END_COUNT];
    uint64_t retrans, ooo, wraps;
} syn_gen;

/* ---- script building ---- */

typedef struct syn_build {
    syn_conn *c;
    syn_rng *r;
    uint32_t nxt[2];  /* next sequence number to send, [0] client, [1] server */
    uint16_t win[2];
    int tls;
} syn_build;

static inline syn_pkt *syn_add(syn_build *b, int from_server, uint8_t flags, uint16_t len, uint8_t pay)
{
    syn_conn *c = b->c;
    syn_pkt *p = &c->p[c->npkts++];
    p->seq = b->nxt[from_server];
    p->ack = (flags & SYN_ACK) ? b->nxt[!from_server] : 0;
    p->len = len;
    /* windows wander a little, as receive buffers fill and drain */
    if (syn_chance(b->r, 200))
        b->win[from_server] = (uint16_t)(b->win[from_server] - 2048 + syn_below(b->r, 4097));
    if (b->win[from_server] < 4096) b->win[from_server] = 4096;
    p->win = (flags & SYN_RST) && !(flags & SYN_ACK) ? 0 : b->win[from_server];
    p->aux = 0;
    p->flags = flags;
    p->from_server = (uint8_t)from_server;
    p->pay = pay;
    p->mss_opt = (flags & SYN_SYN) ? 1 : 0;
    b->nxt[from_server] += len + ((flags & (SYN_SYN | SYN_FIN)) ? 1 : 0);
    return p;
}

/* Duplicate the last packet (a retransmission: same seq, same payload). */
static inline void syn_dup_last(syn_build *b)
{
    syn_conn *c = b->c;
    c->p[c->npkts] = c->p[c->npkts - 1];
    c->npkts++;
}

static inline uint16_t syn_data_len(syn_build *b, int from_server)
{
    if (b->tls)
        return (uint16_t)(24 + syn_below(b->r, 177)); /* 24..200: whole TLS records */
    return (uint16_t)(from_server ? 70 + syn_below(b->r, 131) : 60 + syn_below(b->r, 141));
}

/* One request from the client and a response of 1-3 segments. */
static inline void syn_round(syn_gen *g, syn_build *b, int ack_at_end)
{
    syn_rng *r = b->r;
    uint16_t len = syn_data_len(b, 0);
    syn_add(b, 0, SYN_PSH | SYN_ACK, len, b->tls ? PAY_TLS : PAY_HTTP_REQ);
    if (syn_chance(r, 15)) { syn_dup_last(b); g->retrans++; }

    int n = 1 + (int)syn_below(r, 3);
    if (b->tls && n >= 2 && syn_chance(r, 60)) {
        /* two segments cross in the network: the second is captured first,
         * the client sends a duplicate ACK, then the first arrives. */
        syn_pkt *first = syn_add(b, 1, SYN_ACK, syn_data_len(b, 1), PAY_TLS);
        syn_pkt saved = *first;
        b->c->npkts--;
        uint32_t hole = saved.seq;
        syn_pkt *second = syn_add(b, 1, SYN_PSH | SYN_ACK, syn_data_len(b, 1), PAY_TLS);
        (void)second;
        /* client dup ACK: acknowledges only up to the hole */
        syn_pkt *dup = syn_add(b, 0, SYN_ACK, 0, PAY_NONE);
        dup->ack = hole;
        b->c->p[b->c->npkts++] = saved;
        g->ooo++;
        n -= 2;
    }
    uint32_t body_total = 0;
    uint16_t lens[3];
    for (int i = 0; i < n; i++) { lens[i] = syn_data_len(b, 1); body_total += lens[i]; }
    for (int i = 0; i < n; i++) {
        uint8_t pay = b->tls ? PAY_TLS : (i == 0 ? PAY_HTTP_RESP : PAY_RAW);
        syn_pkt *p = syn_add(b, 1, (i == n - 1) ? (SYN_PSH | SYN_ACK) : SYN_ACK, lens[i], pay);
        if (pay == PAY_HTTP_RESP) p->aux = (uint16_t)body_total; /* fixed up by the writer */
        if (syn_chance(r, 15)) { syn_dup_last(b); g->retrans++; }
    }
    if (ack_at_end)
        syn_add(b, 0, SYN_ACK, 0, PAY_NONE);
}

static inline void syn_script(syn_gen *g, syn_conn *c)
{
    syn_rng *r = &g->rng;
    syn_build b;
    b.c = c;
    b.r = r;
    c->npkts = 0;
    c->next = 0;
    c->v6 = syn_below(r, 1000) < g->par.v6_permille;
    c->client = syn_below(r, g->par.clients);
    b.tls = syn_below(r, 4) != 0; /* 3/4 on 443, 1/4 on 8080 */
    c->sport = b.tls ? 443 : 8080;
    uint16_t *pn = &g->port_next[c->client];
    c->cport = *pn;
    *pn = (uint16_t)(*pn >= 60999 ? 32768 : *pn + 1);
    c->ip_id[0] = syn_below(r, 65536);
    c->ip_id[1] = syn_below(r, 65536);
    c->flow = syn_below(r, 1u << 20);

    for (int s = 0; s < 2; s++) {
        uint32_t isn = (uint32_t)syn_next64(r);
        if (syn_chance(r, 20)) { isn = 0xFFFFFFFFu - syn_below(r, 3000); g->wraps++; }
        b.nxt[s] = isn;
        b.win[s] = (uint16_t)(s ? 65160 : 64240);
    }

    uint32_t e = syn_below(r, 1000);
    int ending = e < 280 ? END_CLIENT_CLOSE : e < 500 ? END_SERVER_CLOSE : e < 680 ? END_THREE_WAY
               : e < 770 ? END_RST_ABORT : e < 830 ? END_REFUSED : e < 970 ? END_HALF_CLOSE : END_NEVER;
    c->ending = (uint8_t)ending;

    /* handshake */
    syn_add(&b, 0, SYN_SYN, 0, PAY_NONE);
    if (syn_chance(r, 10)) { syn_dup_last(&b); g->retrans++; }
    if (ending == END_REFUSED) {
        syn_pkt *p = syn_add(&b, 1, SYN_RST | SYN_ACK, 0, PAY_NONE);
        p->seq = 0;
        p->win = 0;
        return;
    }
    syn_add(&b, 1, SYN_SYN | SYN_ACK, 0, PAY_NONE);
    syn_add(&b, 0, SYN_ACK, 0, PAY_NONE);

    int rounds = (int)syn_below(r, 6); /* 0..5 full rounds before the ending */
    if (ending == END_NEVER) rounds = 1 + (int)syn_below(r, 4);
    for (int i = 0; i < rounds && c->npkts < SYN_MAXP - 40; i++)
        syn_round(g, &b, 1);

    int who = (int)syn_below(r, 2);
    switch (ending) {
    case END_CLIENT_CLOSE:
    case END_SERVER_CLOSE: {
        int f = ending == END_SERVER_CLOSE;
        syn_add(&b, f, SYN_FIN | SYN_ACK, 0, PAY_NONE);
        if (syn_chance(r, 10)) { syn_dup_last(&b); g->retrans++; }
        syn_add(&b, !f, SYN_ACK, 0, PAY_NONE);
        syn_add(&b, !f, SYN_FIN | SYN_ACK, 0, PAY_NONE);
        syn_add(&b, f, SYN_ACK, 0, PAY_NONE);
        break;
    }
    case END_THREE_WAY:
        syn_add(&b, who, SYN_FIN | SYN_ACK, 0, PAY_NONE);
        syn_add(&b, !who, SYN_FIN | SYN_ACK, 0, PAY_NONE);
        syn_add(&b, who, SYN_ACK, 0, PAY_NONE);
        break;
    case END_RST_ABORT:
        /* a request left unanswered, then one side gives up */
        if (syn_chance(r, 500)) syn_add(&b, 0, SYN_PSH | SYN_ACK, syn_data_len(&b, 0), b.tls ? PAY_TLS : PAY_HTTP_REQ);
        syn_add(&b, who, syn_chance(r, 700) ? (SYN_RST | SYN_ACK) : SYN_RST, 0, PAY_NONE);
        break;
    case END_HALF_CLOSE: {
        syn_add(&b, 0, SYN_PSH | SYN_ACK, syn_data_len(&b, 0), b.tls ? PAY_TLS : PAY_HTTP_REQ);
        syn_add(&b, 0, SYN_FIN | SYN_ACK, 0, PAY_NONE);
        syn_add(&b, 1, SYN_ACK, 0, PAY_NONE); /* acks request and FIN */
        int n = 1 + (int)syn_below(r, 4);
        uint32_t body_total = 0;
        uint16_t lens[4];
        for (int i = 0; i < n; i++) { lens[i] = syn_data_len(&b, 1); body_total += lens[i]; }
        for (int i = 0; i < n; i++) {
            uint8_t pay = b.tls ? PAY_TLS : (i == 0 ? PAY_HTTP_RESP : PAY_RAW);
            syn_pkt *p = syn_add(&b, 1, SYN_PSH | SYN_ACK, lens[i], pay);
            if (pay == PAY_HTTP_RESP) p->aux = (uint16_t)body_total;
            syn_add(&b, 0, SYN_ACK, 0, PAY_NONE); /* client in FIN-WAIT-2 keeps acking */
        }
        syn_add(&b, 1, SYN_FIN | SYN_ACK, 0, PAY_NONE);
        syn_add(&b, 0, SYN_ACK, 0, PAY_NONE);
        break;
    }
    case END_NEVER:
    default:
        break;
    }
}

/* ---- scheduling ---- */

static inline int syn_init(syn_gen *g, const syn_params *par)
{
    memset(g, 0, sizeof *g);
    g->par = *par;
    if (g->par.concurrency == 0) g->par.concurrency = 1;
    if (g->par.clients == 0) g->par.clients = 1;
    syn_seed(&g->rng, par->seed);
    g->slots = (syn_conn *)calloc(g->par.concurrency, sizeof(syn_conn));
    g->port_next = (uint16_t *)malloc(sizeof(uint16_t) * g->par.clients);
    if (!g->slots || !g->port_next) return -1;
    for (uint32_t i = 0; i < g->par.clients; i++)
        g->port_next[i] = (uint16_t)(32768 + syn_below(&g->rng, 28232));
    g->time_ns = 1700000000LL * 1000000000LL;
    return 0;
}

static inline void syn_free(syn_gen *g)
{
    free(g->slots);
    free(g->port_next);
}

/* Start a new connection in slot i if the budget allows; returns 0 if not. */
static inline int syn_spawn(syn_gen *g, uint32_t i)
{
    uint64_t left = g->par.packets - g->emitted - g->pending;
    if (left == 0) return 0;
    syn_conn *c = &g->slots[i];
    syn_script(g, c);
    c->id = g->next_id++;
    if (c->npkts > left) {       /* the capture ends before this connection does */
        c->npkts = (uint16_t)left;
        c->ending = END_TRUNCATED;
    }
    g->ending_count[c->ending]++;
    g->pending += c->npkts;
    return 1;
}

/* Next packet: returns its connection and packet, or NULL when the budget is spent. */
static inline const syn_pkt *syn_next(syn_gen *g, const syn_conn **conn_out)
{
    if (g->emitted == 0 && g->nactive == 0) {
        while (g->nactive < g->par.concurrency && syn_spawn(g, g->nactive))
            g->nactive++;
    }
    if (g->nactive == 0) return NULL;
    uint32_t i = syn_below(&g->rng, g->nactive);
    syn_conn *c = &g->slots[i];
    const syn_pkt *p = &c->p[c->next++];
    g->emitted++;
    g->pending--;
    g->time_ns += 1 + syn_below(&g->rng, 2 * g->par.mean_gap_ns);
    *conn_out = c;
    if (c->next == c->npkts) {
        /* The connection is done. The caller still reads *p, so copy it out
         * of the slot before the slot is reused. */
        static syn_pkt last; /* one generator per process in the benchmarks */
        static syn_conn last_conn;
        last = *p;
        memcpy(&last_conn, c, offsetof(syn_conn, p));
        *conn_out = &last_conn;
        p = &last;
        if (!syn_spawn(g, i)) {
            g->slots[i] = g->slots[g->nactive - 1];
            g->nactive--;
        }
    }
    return p;
}

#endif
