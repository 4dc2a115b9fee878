/* The encoding of cold connections: see lz.h. */
#include "lz.h"

#include <string.h>

#define LZ_MIN 4                  /* shortest copy */
#define LZ_MAX (0x3f + LZ_MIN)    /* longest copy */
#define ZEROS_MAX 65              /* longest run of zeros */
#define LITERALS_MAX 128          /* longest run of literals */
#define DISTANCE_MAX 0xffff

static uint32_t lz_hash(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> (32 - TS_LZ_HASH_BITS);
}

void ts_lz_dict_set(ts_lz_dict *d, const uint8_t *bytes, size_t len)
{
    d->bytes = len > 0 ? bytes : NULL;
    d->len = len > 0 ? len : 0;
    memset(d->seen, 0xff, sizeof d->seen);
    /* Positions whose LZ_MIN bytes all lie in the dictionary: the same for
     * every input. */
    for (size_t k = 0; k + LZ_MIN <= d->len; k++)
        d->seen[lz_hash(d->bytes + k)] = (int32_t)k;
}

/* Whether the LZ_MIN bytes at a and b are equal: one load each, not a call. */
static int same_min(const uint8_t *a, const uint8_t *b)
{
    uint32_t x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return x == y;
}

/* How many bytes from a equal those from b, given that the first LZ_MIN do,
 * up to max: eight at a time where the machine is little endian (the lowest
 * differing byte is then the lowest set bit of the difference). */
static size_t match_length(const uint8_t *a, const uint8_t *b, size_t max)
{
    size_t len = LZ_MIN;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (len + 8 <= max) {
        uint64_t x, y;
        memcpy(&x, a + len, sizeof x);
        memcpy(&y, b + len, sizeof y);
        if (x != y)
            return len + (size_t)__builtin_ctzll(x ^ y) / 8;
        len += 8;
    }
#endif
    while (len < max && a[len] == b[len])
        len++;
    return len;
}

/* Flushes the `lit` literals that end at in[i]. */
static size_t put_literals(uint8_t *out, size_t o, const uint8_t *in, size_t i, size_t lit)
{
    while (lit > 0) {
        size_t k = lit > LITERALS_MAX ? LITERALS_MAX : lit;
        out[o++] = (uint8_t)(k - 1);
        memcpy(out + o, in + i - lit, k);
        o += k;
        lit -= k;
    }
    return o;
}

size_t ts_lz_encode(const ts_lz_dict *d, const uint8_t *input, size_t n_input, uint8_t *out, uint8_t *work)
{
    /* One buffer, the dictionary then the input, so copies may reach back
     * into the dictionary. */
    const size_t start = d->len, n = d->len + n_input;
    if (d->len > 0)
        memcpy(work, d->bytes, d->len);
    memcpy(work + start, input, n_input);
    const uint8_t *in = work;
    int32_t seen[1u << TS_LZ_HASH_BITS];
    memcpy(seen, d->seen, sizeof seen);
    /* The dictionary's last positions, whose hash reads into the input. */
    for (size_t k = start >= LZ_MIN ? start - LZ_MIN + 1 : 0; k < start && k + LZ_MIN <= n; k++)
        seen[lz_hash(in + k)] = (int32_t)k;

    size_t i = start, o = 0, lit = 0; /* lit: literals pending from i - lit */
    while (i < n) {
        size_t z = 0;
        while (i + z < n && in[i + z] == 0 && z < ZEROS_MAX)
            z++;
        if (z >= 2) {
            o = put_literals(out, o, in, i, lit);
            lit = 0;
            out[o++] = (uint8_t)(0x80 + z - 2);
            i += z;
            continue;
        }
        if (i + LZ_MIN <= n) {
            uint32_t h = lz_hash(in + i);
            int32_t cand = seen[h];
            seen[h] = (int32_t)i;
            if (cand >= 0 && i - (size_t)cand <= DISTANCE_MAX && same_min(in + cand, in + i)) {
                size_t len = match_length(in + cand, in + i, n - i < LZ_MAX ? n - i : LZ_MAX);
                o = put_literals(out, o, in, i, lit);
                lit = 0;
                size_t dist = i - (size_t)cand;
                out[o++] = (uint8_t)(0xc0 + len - LZ_MIN);
                out[o++] = (uint8_t)dist;
                out[o++] = (uint8_t)(dist >> 8);
                for (size_t k = 1; k < len && i + k + LZ_MIN <= n; k++)
                    seen[lz_hash(in + i + k)] = (int32_t)(i + k);
                i += len;
                continue;
            }
        }
        i++;
        lit++;
    }
    return put_literals(out, o, in, i, lit);
}

void ts_lz_decode(const ts_lz_dict *d, const uint8_t *in, uint8_t *out, size_t n_out, uint8_t *work)
{
    const size_t n = d->len + n_out;
    if (d->len > 0)
        memcpy(work, d->bytes, d->len);
    size_t o = d->len;
    while (o < n) {
        uint8_t c = *in++;
        if (c < 0x80) {
            size_t len = (size_t)c + 1;
            memcpy(work + o, in, len <= n - o ? len : n - o);
            in += len;
            o += len;
        } else if (c < 0xc0) {
            size_t len = (size_t)c - 0x80 + 2;
            memset(work + o, 0, len <= n - o ? len : n - o);
            o += len;
        } else {
            size_t len = (size_t)c - 0xc0 + LZ_MIN;
            size_t dist = (size_t)in[0] | (size_t)in[1] << 8;
            in += 2;
            for (size_t k = 0; k < len && o < n; k++, o++)
                work[o] = work[o - dist];
        }
    }
    memcpy(out, work + d->len, n_out);
}
