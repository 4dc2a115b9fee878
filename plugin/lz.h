/*
 * The encoding of cold connections (store.c): a small LZ77 over a fixed
 * dictionary. Plain C, no Wireshark or GLib types: tests/unit/test_lz.c tests
 * it alone.
 *
 * Encoded bytes: a control byte c, then
 *   c < 0x80:  c + 1 literal bytes follow;
 *   c < 0xc0:  c - 0x80 + 2 zero bytes (2 to 65);
 *   otherwise: c - 0xc0 + 4 bytes (4 to 67) copied from `distance` bytes back
 *              in the output, the distance in the next two bytes (little
 *              endian); the output is preceded by the dictionary, so a copy
 *              may reach into it.
 * A connection's bytes repeat themselves (a pending receive holds a copy of an
 * endpoint and of a segment, sequence numbers recur across the endpoints) and
 * repeat the dictionary's (the first connection encoded: constant fields,
 * thresholds, states). Distances are relative, so bytes encoded before the
 * dictionary was set decode the same after.
 */
#ifndef TCPSTATE_LZ_H
#define TCPSTATE_LZ_H

#include <stddef.h>
#include <stdint.h>

#define TS_LZ_HASH_BITS 10
/* The most ts_lz_encode() writes for n input bytes (all literals). */
#define TS_LZ_MAX_OUT(n) ((n) + (n) / 128 + 2)

typedef struct ts_lz_dict {
    const uint8_t *bytes; /* kept by the caller; NULL when len is 0 */
    size_t         len;
    int32_t        seen[1u << TS_LZ_HASH_BITS]; /* last dictionary position by hash, -1: none */
} ts_lz_dict;

/* Sets (or, with len 0, clears) the dictionary: hashed once, for every encoding. */
void ts_lz_dict_set(ts_lz_dict *d, const uint8_t *bytes, size_t len);
/* Encodes in[0, n) into out (at most TS_LZ_MAX_OUT(n) bytes) and returns its
 * length; work: scratch of d->len + n bytes. */
size_t ts_lz_encode(const ts_lz_dict *d, const uint8_t *in, size_t n, uint8_t *out, uint8_t *work);
/* Decodes n bytes into out; work: scratch of d->len + n bytes. */
void ts_lz_decode(const ts_lz_dict *d, const uint8_t *in, uint8_t *out, size_t n, uint8_t *work);

#endif /* TCPSTATE_LZ_H */
