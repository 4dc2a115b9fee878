/*
 * Per-file storage of what each frame shows: one 8-byte record per frame, in
 * chunks of 2^16, and compact details for the frames that have them.
 *
 * Frame details (ts_frame_extra) written by the first pass go, in frame
 * order, into a byte pool (varints, only the fields that are set, times in
 * microseconds when they are whole ones), found through a bit per frame;
 * corrections, which a later segment adds to an earlier frame, stay in a hash
 * table of full ts_frame_extra. Measured: bench/RESULTS.md "Memory the plugin
 * adds". The connections that write them: store.c.
 */
#include "frames.h"

#include <string.h>

#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)

static GPtrArray *record_chunks; /* of ts_frame_record[CHUNK_SIZE] */

/* First-pass details by frame: a bit per frame in blocks of 64 frames, and
 * the details of the frames whose bit is set, in frame order, in one byte pool
 * (grown by realloc: the untouched tail of a large block costs no memory). */
typedef struct extra_block {
    uint32_t offset;      /* in pool: the details of the block's first frame with a bit set */
    uint32_t bits[2];     /* frames 0-31, 32-63 of the block */
} extra_block;

static extra_block *blocks;
static guint        blocks_len, blocks_cap;
static uint8_t     *pool;
static size_t       pool_len, pool_cap;
static uint32_t     pool_last_frame; /* + 1; 0: none yet */
static size_t       pool_last_offset; /* where pool_last_frame's details begin */
static GHashTable  *extras;          /* frame -> full_extra: corrections, and details out of frame order */

typedef struct full_extra {
    ts_frame_extra e;
    gboolean       base_here;    /* notes .. held_ns are here, not in the pool */
} full_extra;

static void free_full_extra(gpointer data)
{
    full_extra *extra = (full_extra *)data;
    if (extra->e.rewritten != NULL)
        g_array_free(extra->e.rewritten, TRUE);
    g_free(extra);
}

void ts_frames_init(void)
{
    record_chunks = g_ptr_array_new_with_free_func(g_free);
    extras = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_full_extra);
    blocks = NULL;
    blocks_len = blocks_cap = 0;
    pool = NULL;
    pool_len = pool_cap = 0;
    pool_last_frame = 0;
}

void ts_frames_cleanup(void)
{
    if (record_chunks != NULL)
        g_ptr_array_free(record_chunks, TRUE);
    if (extras != NULL)
        g_hash_table_destroy(extras);
    g_free(blocks);
    g_free(pool);
    record_chunks = NULL;
    extras = NULL;
    blocks = NULL;
    blocks_len = blocks_cap = 0;
    pool = NULL;
    pool_len = pool_cap = 0;
}

/* ---- records ---------------------------------------------------------------- */

ts_frame_record *record_slot(uint32_t frame, gboolean create)
{
    guint chunk = frame >> CHUNK_BITS;
    if (record_chunks == NULL)
        return NULL;
    if (chunk >= record_chunks->len) {
        if (!create)
            return NULL;
        while (record_chunks->len <= chunk)
            g_ptr_array_add(record_chunks, NULL);
    }
    ts_frame_record *block = (ts_frame_record *)g_ptr_array_index(record_chunks, chunk);
    if (block == NULL) {
        if (!create)
            return NULL;
        block = g_new0(ts_frame_record, CHUNK_SIZE);
        record_chunks->pdata[chunk] = block;
    }
    return &block[frame & (CHUNK_SIZE - 1)];
}

uint32_t ts_store_frame_limit(void)
{
    return record_chunks != NULL ? (uint32_t)record_chunks->len << CHUNK_BITS : 0;
}

const ts_frame_record *ts_store_record(uint32_t frame)
{
    const ts_frame_record *rec = record_slot(frame, FALSE);
    return (rec != NULL && (rec->conn != 0 || rec->flags != 0)) ? rec : NULL;
}

void ts_store_mark(uint32_t frame, uint8_t flags)
{
    ts_frame_record *rec = record_slot(frame, TRUE);
    if (rec != NULL)
        rec->flags |= flags;
}

/* ---- frame details: pool, index, hash ------------------------------------------ */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static const uint8_t *get_varint(const uint8_t *p, uint64_t *v)
{
    uint64_t r = 0;
    int shift = 0;
    for (;;) {
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *v = r;
    return p;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

enum { X_NOTES = 1, X_ACK = 2, X_TW = 4, X_HELD0 = 8, X_HELD1 = 16, X_MICRO = 32 /* times / 1000 */ };

static gboolean micro(int64_t ns) { return ns % 1000 == 0; }

/* The first-pass details of `frame`, appended in frame order; FALSE when the
 * frame is not after the last one appended (the caller keeps them in the hash). */
static gboolean pool_append(uint32_t frame, const ts_frame_extra *d)
{
    if (pool_last_frame != 0 && frame < pool_last_frame)
        return FALSE;
    uint8_t buf[1 + 5 + 5 + 3 * 10], *p = buf + 1;
    uint8_t head = 0;
    int64_t scale = 1;
    if (micro(d->time_wait_end_ns) && micro(d->held_ns[0]) && micro(d->held_ns[1])) {
        head |= X_MICRO;
        scale = 1000;
    }
    if (d->notes) { head |= X_NOTES; p = put_varint(p, d->notes); }
    if (d->expected_ack) { head |= X_ACK; p = put_varint(p, d->expected_ack); }
    if (d->time_wait_end_ns) { head |= X_TW; p = put_varint(p, zigzag(d->time_wait_end_ns / scale)); }
    if (d->held_ns[0]) { head |= X_HELD0; p = put_varint(p, zigzag(d->held_ns[0] / scale)); }
    if (d->held_ns[1]) { head |= X_HELD1; p = put_varint(p, zigzag(d->held_ns[1] / scale)); }
    buf[0] = head;
    size_t n = (size_t)(p - buf);
    if (pool_len + n > G_MAXUINT32)
        return FALSE;
    guint block = frame >> 6;
    if (block >= blocks_len) {
        if (block >= blocks_cap) {
            blocks_cap = MAX(block + 1, blocks_cap * 2);
            blocks = g_renew(extra_block, blocks, blocks_cap);
        }
        for (guint b = blocks_len; b <= block; b++) {
            blocks[b].offset = (uint32_t)pool_len;
            blocks[b].bits[0] = blocks[b].bits[1] = 0;
        }
        blocks_len = block + 1;
    }
    if (pool_len + n > pool_cap) {
        pool_cap = MAX(pool_len + n, MAX(pool_cap * 2, 65536));
        pool = g_realloc(pool, pool_cap);
    }
    memcpy(pool + pool_len, buf, n);
    pool_last_offset = pool_len;
    pool_len += n;
    blocks[block].bits[(frame >> 5) & 1] |= 1u << (frame & 31);
    pool_last_frame = frame + 1;
    return TRUE;
}

static const uint8_t *skip_varint(const uint8_t *p)
{
    while (*p++ & 0x80)
        ;
    return p;
}

static gboolean pool_lookup(uint32_t frame, ts_frame_extra *out)
{
    guint block = frame >> 6;
    if (block >= blocks_len)
        return FALSE;
    const extra_block *b = &blocks[block];
    guint bit = frame & 63;
    uint64_t bits = (uint64_t)b->bits[1] << 32 | b->bits[0];
    if (!((bits >> bit) & 1))
        return FALSE;
    const uint8_t *p;
    if (pool_last_frame != 0 && frame + 1 == pool_last_frame) {
        /* The frame just stored: the first pass renders each frame right
         * after storing it, so it need not walk the block's earlier details. */
        p = pool + pool_last_offset;
    } else {
        guint before = (guint)__builtin_popcountll(bits & ((UINT64_C(1) << bit) - 1));
        p = pool + b->offset;
        for (guint k = 0; k < before; k++) {
            uint8_t head = *p++;
            for (uint8_t f = X_NOTES; f <= X_HELD1; f = (uint8_t)(f << 1))
                if (head & f)
                    p = skip_varint(p);
        }
    }
    uint8_t head = *p++;
    int64_t scale = (head & X_MICRO) ? 1000 : 1;
    uint64_t v;
    if (head & X_NOTES) { p = get_varint(p, &v); out->notes = (uint32_t)v; }
    if (head & X_ACK) { p = get_varint(p, &v); out->expected_ack = (uint32_t)v; }
    if (head & X_TW) { p = get_varint(p, &v); out->time_wait_end_ns = unzigzag(v) * scale; }
    if (head & X_HELD0) { p = get_varint(p, &v); out->held_ns[0] = unzigzag(v) * scale; }
    if (head & X_HELD1) { p = get_varint(p, &v); out->held_ns[1] = unzigzag(v) * scale; }
    return TRUE;
}

/* The hash entry of `frame`, for corrections (created on demand). */
ts_frame_extra *extra_for(uint32_t frame)
{
    full_extra *extra = (full_extra *)g_hash_table_lookup(extras, GUINT_TO_POINTER(frame));
    if (extra == NULL) {
        extra = g_new0(full_extra, 1);
        g_hash_table_insert(extras, GUINT_TO_POINTER(frame), extra);
        ts_frame_record *rec = record_slot(frame, TRUE);
        rec->flags |= TS_REC_HAS_EXTRA;
    }
    return &extra->e;
}

/* The first-pass details of `frame` (notes .. held_ns). */
void store_details(uint32_t frame, const ts_frame_extra *d)
{
    full_extra *extra = (full_extra *)g_hash_table_lookup(extras, GUINT_TO_POINTER(frame));
    if (extra == NULL && pool_append(frame, d)) {
        record_slot(frame, TRUE)->flags |= TS_REC_HAS_EXTRA;
        return;
    }
    ts_frame_extra *e = extra_for(frame);
    extra = (full_extra *)g_hash_table_lookup(extras, GUINT_TO_POINTER(frame));
    e->notes = d->notes;
    e->expected_ack = d->expected_ack;
    e->time_wait_end_ns = d->time_wait_end_ns;
    e->held_ns[0] = d->held_ns[0];
    e->held_ns[1] = d->held_ns[1];
    extra->base_here = TRUE;
}

const ts_frame_extra *ts_store_extra(uint32_t frame)
{
    static ts_frame_extra views[4];
    static guint next;
    if (extras == NULL)
        return NULL;
    ts_frame_extra *view = &views[next];
    memset(view, 0, sizeof *view);
    const full_extra *full = (const full_extra *)g_hash_table_lookup(extras, GUINT_TO_POINTER(frame));
    gboolean found = FALSE;
    if (full != NULL) {
        *view = full->e;
        found = TRUE;
    }
    if (full == NULL || !full->base_here) {
        ts_frame_extra base = {0};
        if (pool_lookup(frame, &base)) {
            view->notes = base.notes;
            view->expected_ack = base.expected_ack;
            view->time_wait_end_ns = base.time_wait_end_ns;
            view->held_ns[0] = base.held_ns[0];
            view->held_ns[1] = base.held_ns[1];
            found = TRUE;
        }
    }
    if (!found)
        return NULL;
    next = (next + 1) % G_N_ELEMENTS(views);
    return view;
}
