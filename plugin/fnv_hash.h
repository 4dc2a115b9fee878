/*
 * FNV-1a over a few bytes, with a final fold of the high bits into the low
 * ones: the hash of the plugin's two tables that key on addresses (the
 * file's address numbers, conn_slots.c; the 4-tuple table, store.c). Both
 * mask the hash to a power of two, which keeps only its low bits; FNV-1a
 * alone mixes the last byte's change into those little.
 */
#ifndef TCPSTATE_FNV_HASH_H
#define TCPSTATE_FNV_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t ts_fnv_hash(uint32_t seed, const void *bytes, size_t len)
{
    const uint8_t *b = (const uint8_t *)bytes;
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 16777619u;
    return h ^ (h >> 15);
}

#endif
