/*
 * Where the connections live between their segments: see conn_slots.h.
 *
 * Memory (bench/RESULTS.md "Memory the plugin adds"): what is kept for the
 * whole file is kept small. A connection's state machine and summary
 * (conn_hot, ~1 KB) are plain only for the last hot_max connections that had
 * a segment (the preference tcpstate.hot_connections, 2048 unless changed);
 * the others are the same bytes compressed with liblz4 (which libwireshark
 * already links) against a dictionary: the first DICT_CONNS connections
 * compressed with their cores, fixed for the file, so that constant fields,
 * states, thresholds and the like cost a reference each (about 250 bytes a
 * connection with a core on the 10^7-packet bench capture: 277 with the first
 * connection alone as the dictionary, 261 with 2, 247 with 16, 246 with 64;
 * measured on the first 2*10^5 compressions, bench/RESULTS.md). A segment
 * of a cold connection decompresses it first, so the core sees the ts_conn it
 * left (but for leftovers of inactive pending receives, which it never reads)
 * and behaves as if nothing had happened.
 */
#include "conn_slots.h"
#include "fnv_hash.h"

#include <lz4.h>
#include <string.h>

/* The compressed part of a conn_hot: from `summary` up to `core` (or to the
 * end of `core` when the slot has one); the patch list is kept beside it.
 * The core's size is the core's to say (ts_conn_size). */
#define HOT_COMPRESSED_FROM offsetof(conn_hot, summary)
#define HOT_SUMMARY_BYTES   (offsetof(conn_hot, core) - HOT_COMPRESSED_FROM)
static size_t hot_size;       /* sizeof(conn_hot) + ts_conn_size() */
static size_t hot_core_bytes; /* compressed bytes of a slot with a core */

static uint8_t *hot_bytes(conn_hot *hot)
{
    return (uint8_t *)hot + HOT_COMPRESSED_FROM;
}

/* A cold slot's data: the patchable frames, then the compressed bytes. */
typedef struct conn_blob {
    uint32_t n_patchable;
    uint32_t compressed;       /* bytes after the frames */
    uint8_t  data[];           /* uint32_t[n_patchable], then the compressed bytes */
} conn_blob;

/* The dictionary, and the LZ4 stream state that has hashed it: copied into a
 * working state for each compression (what lz4.h suggests where
 * LZ4_attach_dictionary is not exported, as in Debian 12's liblz4 1.9.4).
 * It is gathered from the first DICT_CONNS connections made cold with a core
 * (compressed without one) and hashed once it is whole. */
#define DICT_CONNS 16
static uint8_t     *dict_bytes;  /* DICT_CONNS * hot_core_bytes */
static size_t       dict_len;    /* gathered so far */
static gboolean     dict_ready;  /* dict_stream has hashed dict_bytes */
static LZ4_stream_t dict_stream, work_stream;
static conn_hot    *copy;        /* make_cold()'s compacted copy */
static char        *scratch;     /* make_cold()'s output */
static int          scratch_size;

/* tcpstate.hot_connections is taken between 1 and this (a ring of 4 MiB,
 * and over a GiB of plain connections once full): a mistyped huge value must
 * not make the ring's allocation abort Wireshark. */
#define HOT_MAX_CAP (1u << 20)

static GArray     *conns;         /* conn_slot, indexed by tcp.stream */
static GArray     *addrs;         /* slot_addr, by conn_slots_addr_id() */
static GHashTable *addr_ids;      /* id + 1 (keys read from addrs) */
static GHashTable *rares;         /* stream -> conn_rare */
static guint32    *hot_ring;      /* streams made hot, oldest first (hot_max) */
static guint       hot_max, hot_ring_head, hot_ring_len;
static conn_hot   *peeked;        /* peek_core(): the last cold core decompressed */
static const void *peeked_blob;   /* the blob `peeked` holds, or NULL */

static void free_rare(gpointer data)
{
    conn_rare *rare = (conn_rare *)data;
    if (rare->earlier_summaries != NULL)
        g_array_free(rare->earlier_summaries, TRUE);
    if (rare->zeek_starts != NULL)
        g_array_free(rare->zeek_starts, TRUE);
    g_free(rare->text[0]);
    g_free(rare->text[1]);
    g_free(rare);
}

static const slot_addr *addr_at(gconstpointer key)
{
    return &g_array_index(addrs, slot_addr, GPOINTER_TO_UINT(key) - 1);
}

static guint addr_hash(gconstpointer key)
{
    const slot_addr *a = addr_at(key);
    return ts_fnv_hash(a->len, a->bytes, a->len);
}

static gboolean addr_equal(gconstpointer x, gconstpointer y)
{
    const slot_addr *a = addr_at(x), *b = addr_at(y);
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

void conn_slots_init(guint hot)
{
    conns = g_array_new(FALSE, TRUE, sizeof(conn_slot));
    addrs = g_array_new(FALSE, TRUE, sizeof(slot_addr));
    addr_ids = g_hash_table_new(addr_hash, addr_equal);
    rares = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_rare);
    hot_max = CLAMP(hot, 1u, HOT_MAX_CAP);
    hot_ring = g_new(guint32, hot_max);
    hot_ring_head = hot_ring_len = 0;
    hot_size = sizeof(conn_hot) + ts_conn_size();
    hot_core_bytes = hot_size - HOT_COMPRESSED_FROM;
    dict_bytes = g_malloc(DICT_CONNS * hot_core_bytes);
    dict_len = 0;
    dict_ready = FALSE;
    copy = g_malloc0(hot_size);
    peeked = g_malloc0(hot_size);
    scratch_size = LZ4_compressBound((int)hot_size);
    scratch = g_malloc((gsize)scratch_size);
    peeked_blob = NULL;
}

static void free_slot_data(conn_slot *slot)
{
    if (slot->data != NULL && (slot->flags & SLOT_HOT))
        patch_clear(&((conn_hot *)slot->data)->patch);
    g_free(slot->data);
    slot->data = NULL;
}

void conn_slots_cleanup(void)
{
    if (conns != NULL) {
        for (guint i = 0; i < conns->len; i++)
            free_slot_data(&g_array_index(conns, conn_slot, i));
        g_array_free(conns, TRUE);
    }
    if (rares != NULL)
        g_hash_table_destroy(rares);
    if (addr_ids != NULL)
        g_hash_table_destroy(addr_ids);
    if (addrs != NULL)
        g_array_free(addrs, TRUE);
    addr_ids = NULL;
    addrs = NULL;
    g_free(hot_ring);
    g_free(dict_bytes);
    g_free(copy);
    g_free(peeked);
    g_free(scratch);
    conns = NULL;
    rares = NULL;
    hot_ring = NULL;
    dict_bytes = NULL;
    copy = peeked = NULL;
    scratch = NULL;
    peeked_blob = NULL;
}

guint32 conn_slots_count(void)
{
    return conns != NULL ? conns->len : 0;
}

void conn_slots_ensure(guint32 stream)
{
    if (stream >= conns->len)
        g_array_set_size(conns, stream + 1);
}

conn_slot *slot_at(guint32 stream)
{
    return &g_array_index(conns, conn_slot, stream);
}

guint32 conn_slots_addr_id(const uint8_t *bytes, uint8_t len)
{
    /* The candidate goes at the end of addrs, and stays there if it is new. */
    slot_addr candidate = {.len = MIN(len, (uint8_t)sizeof candidate.bytes)};
    memcpy(candidate.bytes, bytes, candidate.len);
    g_array_append_val(addrs, candidate);
    gpointer key = GUINT_TO_POINTER(addrs->len);
    gpointer found = g_hash_table_lookup(addr_ids, key);
    if (found != NULL) {
        g_array_set_size(addrs, addrs->len - 1);
        return GPOINTER_TO_UINT(found) - 1;
    }
    g_hash_table_add(addr_ids, key);
    return addrs->len - 1;
}

const slot_addr *conn_slots_addr(guint32 id)
{
    return &g_array_index(addrs, slot_addr, id);
}

/* ---- compressing ------------------------------------------------------------------ */

/* Decompresses the first `bytes` of a cold slot's conn_hot bytes (summary,
 * entered_ns and, with SLOT_HAS_CORE, the core) to `out`: a view needs only
 * the summary, so decoding stops there. Bytes compressed
 * before the dictionary was whole never refer to it, so they decompress the
 * same with it. */
static void decompress_slot(const conn_slot *slot, uint8_t *out, size_t bytes)
{
    const conn_blob *blob = (const conn_blob *)slot->data;
    if (blob == NULL) {
        memset(out, 0, bytes);
        return;
    }
    const char *from = (const char *)blob->data + blob->n_patchable * sizeof(uint32_t);
    int got = LZ4_decompress_safe_partial_usingDict(from, (char *)out, (int)blob->compressed, (int)bytes, (int)bytes,
                                                    (const char *)dict_bytes, (int)dict_len);
    g_assert(got == (int)bytes); /* our own bytes: anything else is memory corruption */
}

/* The last blob decompressed here is kept decompressed: store.c's release of
 * finished connections looks at the oldest closed connection on every
 * segment, and it is usually cold and still in TIME-WAIT. A blob never
 * changes; it is only freed (forget_peeked() first). */
static void forget_peeked(const void *blob)
{
    if (blob == peeked_blob)
        peeked_blob = NULL;
}

const ts_conn *peek_core(guint32 stream)
{
    const conn_slot *slot = slot_at(stream);
    if (!(slot->flags & SLOT_HAS_CORE))
        return NULL;
    if (slot->flags & SLOT_HOT)
        return hot_core((conn_hot *)slot->data);
    if (slot->data == NULL || slot->data != peeked_blob) {
        decompress_slot(slot, hot_bytes(peeked), hot_core_bytes);
        peeked_blob = slot->data;
    }
    return hot_core(peeked);
}

void slot_summary(guint32 stream, ts_summary *out)
{
    const conn_slot *slot = slot_at(stream);
    if (slot->flags & SLOT_HOT)
        memcpy(out, &((const conn_hot *)slot->data)->summary, sizeof *out);
    else
        decompress_slot(slot, (uint8_t *)out, sizeof *out);
}

static void make_cold(conn_slot *slot)
{
    conn_hot *hot = (conn_hot *)slot->data;
    size_t bytes = (slot->flags & SLOT_HAS_CORE) ? hot_core_bytes : HOT_SUMMARY_BYTES;
    const uint8_t *from = hot_bytes(hot);
    if (slot->flags & SLOT_HAS_CORE) {
        /* What the core will not read again is zeroed in a copy, and
         * compresses to almost nothing. */
        memcpy(hot_bytes(copy), hot_bytes(hot), bytes);
        ts_conn_compact(hot_core(copy));
        from = hot_bytes(copy);
    }
    if (!dict_ready && bytes == hot_core_bytes) {
        memcpy(dict_bytes + dict_len, from, bytes);
        dict_len += bytes;
        if (dict_len == DICT_CONNS * hot_core_bytes) {
            LZ4_initStream(&dict_stream, sizeof dict_stream);
            LZ4_loadDict(&dict_stream, (const char *)dict_bytes, (int)dict_len);
            dict_ready = TRUE;
        }
    }
    int n;
    if (dict_ready) {
        memcpy(&work_stream, &dict_stream, sizeof work_stream);
        n = LZ4_compress_fast_continue(&work_stream, (const char *)from, scratch, (int)bytes, scratch_size, 1);
    } else {
        n = LZ4_compress_default((const char *)from, scratch, (int)bytes, scratch_size);
    }
    g_assert(n > 0); /* the scratch is LZ4's bound: it cannot fail */
    uint32_t np = hot->patch.len;
    conn_blob *blob = (conn_blob *)g_malloc(sizeof(conn_blob) + np * sizeof(uint32_t) + (size_t)n);
    blob->n_patchable = np;
    blob->compressed = (uint32_t)n;
    if (np > 0)
        memcpy(blob->data, patch_frames(&hot->patch), np * sizeof(uint32_t));
    memcpy(blob->data + np * sizeof(uint32_t), scratch, (size_t)n);
    patch_clear(&hot->patch);
    g_free(hot);
    slot->data = blob;
    slot->flags &= (uint8_t)~SLOT_HOT;
}

/* A cold slot made hot, outside the hot ring. */
static conn_hot *decompress_to_hot(conn_slot *slot)
{
    conn_hot *hot = g_malloc0(hot_size);
    if (slot->data != NULL) {
        const conn_blob *blob = (const conn_blob *)slot->data;
        decompress_slot(slot, hot_bytes(hot), (slot->flags & SLOT_HAS_CORE) ? hot_core_bytes : HOT_SUMMARY_BYTES);
        const uint32_t *frames = (const uint32_t *)(const void *)blob->data;
        for (uint32_t i = 0; i < blob->n_patchable; i++)
            patch_append(&hot->patch, frames[i]);
        forget_peeked(slot->data);
        g_free(slot->data);
    }
    slot->data = hot;
    slot->flags |= SLOT_HOT;
    return hot;
}

conn_hot *make_hot(guint32 stream)
{
    conn_slot *slot = slot_at(stream);
    if (slot->flags & SLOT_HOT)
        return (conn_hot *)slot->data;
    conn_hot *hot = decompress_to_hot(slot);

    if (hot_ring_len == hot_max) {
        guint32 old = hot_ring[hot_ring_head];
        hot_ring_head = (hot_ring_head + 1) % hot_max;
        hot_ring_len--;
        conn_slot *old_slot = slot_at(old);
        if (old != stream && (old_slot->flags & SLOT_HOT))
            make_cold(old_slot);
    }
    hot_ring[(hot_ring_head + hot_ring_len) % hot_max] = stream;
    hot_ring_len++;
    return hot;
}

void release_core(guint32 stream)
{
    conn_slot *slot = slot_at(stream);
    if (!(slot->flags & SLOT_HAS_CORE))
        return;
    gboolean was_cold = !(slot->flags & SLOT_HOT);
    conn_hot *hot = was_cold ? decompress_to_hot(slot) : (conn_hot *)slot->data;
    patch_clear(&hot->patch);
    memset(hot->core, 0, ts_conn_size());
    slot->flags &= (uint8_t)~SLOT_HAS_CORE;
    if (was_cold)
        make_cold(slot);
}

/* ---- the rare extras ---------------------------------------------------------------- */

conn_rare *slot_rare_for(guint32 stream)
{
    conn_slot *slot = slot_at(stream);
    if (slot->flags & SLOT_RARE)
        return (conn_rare *)g_hash_table_lookup(rares, GUINT_TO_POINTER(stream));
    conn_rare *rare = g_new0(conn_rare, 1);
    g_hash_table_insert(rares, GUINT_TO_POINTER(stream), rare);
    slot->flags |= SLOT_RARE;
    return rare;
}

const conn_rare *slot_rare(guint32 stream)
{
    const conn_slot *slot = slot_at(stream);
    return (slot->flags & SLOT_RARE) ? (const conn_rare *)g_hash_table_lookup(rares, GUINT_TO_POINTER(stream)) : NULL;
}
