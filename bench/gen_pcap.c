/*
 * tcpstate_gen_pcap: write a large synthetic capture of a busy TCP server.
 *
 *   tcpstate_gen_pcap -n PACKETS [-c CONCURRENT] [-s SEED] [-C CLIENTS]
 *                     [-6 V6_PERMILLE] [-g MEAN_GAP_NS] [-m META_FILE] -o OUT.pcap
 *
 * Classic pcap (nanosecond timestamps), Ethernet, IPv4 and IPv6, TCP with correct
 * lengths and correct IPv4 and TCP checksums. Payloads are small (at most 200
 * bytes): whole TLS application-data records on port 443, small HTTP/1.1
 * requests and responses on port 8080. The traffic itself is described in
 * synth.h. Output is a pure function of the parameters.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synth.h"

static const uint8_t mac_router[6] = {0x00, 0x1b, 0x21, 0xaa, 0x00, 0x01};
static const uint8_t mac_server[6] = {0x00, 0x1b, 0x21, 0xbb, 0x00, 0x02};

static uint8_t pool[65536 + 256];

static inline void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2) acc += (uint32_t)p[i] << 8 | p[i + 1];
    if (i < n) acc += (uint32_t)p[i] << 8;
    return acc;
}

static inline uint16_t fold(uint32_t acc)
{
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

static void client_addr(const syn_conn *c, uint8_t *a)
{
    uint32_t k = c->client;
    if (!c->v6) {
        /* 10.0.0.0/8, never .0 or .255 in the last byte */
        uint32_t host = (k / 254) * 256 + (k % 254) + 1;
        a[0] = 10; a[1] = (uint8_t)(host >> 16); a[2] = (uint8_t)(host >> 8); a[3] = (uint8_t)host;
    } else {
        static const uint8_t pfx[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x64, 0x00, 0x00};
        memcpy(a, pfx, 8);
        uint32_t h = k * 2654435761u;
        put32(a + 8, 0x02000000u | (h >> 8));
        put32(a + 12, k + 1);
    }
}

static const uint8_t server_v4[4] = {192, 0, 2, 10};
static const uint8_t server_v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

static size_t write_payload(uint8_t *d, const syn_pkt *p)
{
    size_t L = p->len;
    const uint8_t *src = pool + ((p->seq * 2654435761u) >> 16);
    switch (p->pay) {
    case PAY_TLS:
        d[0] = 0x17; d[1] = 0x03; d[2] = 0x03;
        put16(d + 3, (uint32_t)(L - 5));
        memcpy(d + 5, src, L - 5);
        break;
    case PAY_HTTP_REQ: {
        int n = snprintf((char *)d, L + 1, "GET /i/%08x HTTP/1.1\r\nHost: svc\r\nX-P: ", p->seq);
        size_t k = (size_t)n;
        while (k < L - 4) d[k++] = 'a';
        memcpy(d + L - 4, "\r\n\r\n", 4);
        break;
    }
    case PAY_HTTP_RESP: {
        /* the header, then body; the body runs on in the following segments */
        unsigned cl = 0;
        for (unsigned digits = 1; digits <= 5; digits++) {
            unsigned h = 37 + digits;
            cl = p->aux - h;
            unsigned d2 = cl >= 10000 ? 5 : cl >= 1000 ? 4 : cl >= 100 ? 3 : cl >= 10 ? 2 : 1;
            if (d2 == digits) break;
        }
        char hdr[64];
        int n = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", cl);
        memcpy(d, hdr, (size_t)n);
        memcpy(d + n, src, L - (size_t)n);
        break;
    }
    case PAY_RAW:
        memcpy(d, src, L);
        break;
    default:
        break;
    }
    return L;
}

/* Build one frame into buf; returns its length. */
static size_t build_frame(uint8_t *buf, const syn_conn *c, const syn_pkt *p)
{
    int from_server = p->from_server;
    uint8_t caddr[16];
    client_addr(c, caddr);
    const uint8_t *src = from_server ? (c->v6 ? server_v6 : server_v4) : caddr;
    const uint8_t *dst = from_server ? caddr : (c->v6 ? server_v6 : server_v4);
    size_t alen = c->v6 ? 16 : 4;

    memcpy(buf, from_server ? mac_router : mac_server, 6);
    memcpy(buf + 6, from_server ? mac_server : mac_router, 6);
    put16(buf + 12, c->v6 ? 0x86dd : 0x0800);
    uint8_t *ip = buf + 14;
    size_t iphl = c->v6 ? 40 : 20;
    uint8_t *tcp = ip + iphl;
    size_t thl = p->mss_opt ? 24 : 20;
    uint8_t *pay = tcp + thl;
    size_t plen = write_payload(pay, p);
    size_t tcplen = thl + plen;

    /* TCP */
    put16(tcp, from_server ? c->sport : c->cport);
    put16(tcp + 2, from_server ? c->cport : c->sport);
    put32(tcp + 4, p->seq);
    put32(tcp + 8, p->ack);
    put16(tcp + 12, (uint32_t)(thl / 4) << 12 | p->flags);
    put16(tcp + 14, p->win);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    if (p->mss_opt) {
        tcp[20] = 2; tcp[21] = 4;
        put16(tcp + 22, c->v6 ? 1440 : 1460);
    }
    uint32_t acc = sum16(src, alen, 0);
    acc = sum16(dst, alen, acc);
    acc += 6 + (uint32_t)tcplen;
    acc = sum16(tcp, tcplen, acc);
    uint16_t ck = fold(acc);
    put16(tcp + 16, ck);

    if (c->v6) {
        put32(ip, 0x60000000u | c->flow);
        put16(ip + 4, (uint32_t)tcplen);
        ip[6] = 6;
        ip[7] = from_server ? 64 : 57;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
    } else {
        ip[0] = 0x45; ip[1] = 0;
        put16(ip + 2, (uint32_t)(20 + tcplen));
        /* ids: per direction counters, stable for a given packet */
        put16(ip + 4, (c->ip_id[from_server] + p->seq) & 0xffff);
        put16(ip + 6, 0x4000);
        ip[8] = from_server ? 64 : 57;
        ip[9] = 6;
        put16(ip + 10, 0);
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        put16(ip + 10, fold(sum16(ip, 20, 0)));
    }
    return 14 + iphl + tcplen;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: tcpstate_gen_pcap -n PACKETS -o OUT.pcap [-c CONCURRENT=1000] [-s SEED=1]\n"
            "                         [-C CLIENTS=65536] [-6 V6_PERMILLE=300] [-g MEAN_GAP_NS=10000]\n"
            "                         [-m META_FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    syn_params par = {0};
    par.packets = 100000;
    par.concurrency = 1000;
    par.seed = 1;
    par.clients = 65536;
    par.v6_permille = 300;
    par.mean_gap_ns = 10000;
    const char *out = NULL, *meta = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1] || a[2] || i + 1 >= argc) usage();
        const char *v = argv[++i];
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 0);
        int numeric = !errno && *end == '\0';
        switch (a[1]) {
        case 'n': if (!numeric) usage(); par.packets = n; break;
        case 'c': if (!numeric || n == 0) usage(); par.concurrency = (uint32_t)n; break;
        case 's': if (!numeric) usage(); par.seed = n; break;
        case 'C': if (!numeric || n == 0 || n > 4000000) usage(); par.clients = (uint32_t)n; break;
        case '6': if (!numeric || n > 1000) usage(); par.v6_permille = (uint32_t)n; break;
        case 'g': if (!numeric || n == 0) usage(); par.mean_gap_ns = (uint32_t)n; break;
        case 'o': out = v; break;
        case 'm': meta = v; break;
        default: usage();
        }
    }
    if (!out) usage();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    syn_rng prng;
    syn_seed(&prng, par.seed ^ 0x5eed5eed5eedull);
    for (size_t i = 0; i < sizeof pool; i += 8) {
        uint64_t x = syn_next64(&prng);
        memcpy(pool + i, &x, 8);
    }

    syn_gen g;
    if (syn_init(&g, &par) != 0) { fprintf(stderr, "out of memory\n"); return 1; }

    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "wb");
    if (!f) { fprintf(stderr, "%s: %s\n", out, strerror(errno)); return 1; }
    size_t bufsz = 8u << 20;
    uint8_t *obuf = malloc(bufsz);
    size_t used = 0;

    /* pcap global header, nanosecond resolution, LINKTYPE_ETHERNET */
    uint8_t gh[24];
    le32(gh, 0xa1b23c4d);
    gh[4] = 2; gh[5] = 0; gh[6] = 4; gh[7] = 0;
    le32(gh + 8, 0); le32(gh + 12, 0);
    le32(gh + 16, 262144);
    le32(gh + 20, 1);
    memcpy(obuf, gh, 24);
    used = 24;

    uint64_t bytes = 24, v6pkts = 0;
    const syn_conn *c;
    const syn_pkt *p;
    while ((p = syn_next(&g, &c)) != NULL) {
        if (used + 512 > bufsz) {
            if (fwrite(obuf, 1, used, f) != used) { perror("write"); return 1; }
            used = 0;
        }
        uint8_t *rec = obuf + used;
        size_t len = build_frame(rec + 16, c, p);
        le32(rec, (uint32_t)(g.time_ns / 1000000000LL));
        le32(rec + 4, (uint32_t)(g.time_ns % 1000000000LL));
        le32(rec + 8, (uint32_t)len);
        le32(rec + 12, (uint32_t)len);
        used += 16 + len;
        bytes += 16 + len;
        v6pkts += c->v6;
    }
    if (used && fwrite(obuf, 1, used, f) != used) { perror("write"); return 1; }
    if (f != stdout && fclose(f) != 0) { perror("close"); return 1; }
    free(obuf);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    FILE *m = meta ? fopen(meta, "w") : NULL;
    FILE *outs[2] = {stderr, m};
    for (int k = 0; k < 2; k++) {
        FILE *o = outs[k];
        if (!o) continue;
        fprintf(o, "packets=%" PRIu64 "\n", g.emitted);
        fprintf(o, "connections=%" PRIu64 "\n", g.next_id);
        fprintf(o, "concurrency=%u\nseed=%" PRIu64 "\nclients=%u\n", par.concurrency, par.seed, par.clients);
        fprintf(o, "ipv6_packets=%" PRIu64 "\n", v6pkts);
        fprintf(o, "file_bytes=%" PRIu64 "\n", bytes);
        for (int e = 0; e < END_COUNT; e++)
            fprintf(o, "ending.%s=%" PRIu64 "\n", syn_ending_names[e], g.ending_count[e]);
        fprintf(o, "retransmissions=%" PRIu64 "\nout_of_order=%" PRIu64 "\nisn_near_wrap=%" PRIu64 "\n",
                g.retrans, g.ooo, g.wraps);
        fprintf(o, "generate_seconds=%.3f\n", secs);
    }
    if (m) fclose(m);
    syn_free(&g);
    return 0;
}
