/*
 * Per-file storage: one 8-byte record per frame, a sparse table of rare
 * details, and one entry per TCP connection (tcp.stream).
 *
 * The first pass runs the core once per segment and writes the record. When
 * a later segment proves an earlier annotation wrong (ts_correction), the
 * records since then are rewritten in place: every later dissection (GUI
 * click, tshark -2) shows the corrected, hindsight view, while the first pass
 * showed the best knowledge of its moment. Nothing here survives the file:
 * ts_store_cleanup() frees it all.
 */
#include "tcpstate_plugin.h"

#include <string.h>

#include <epan/address.h>
#include <epan/to_str.h>

#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)

static GPtrArray  *record_chunks; /* of ts_frame_record[CHUNK_SIZE] */
static GHashTable *extras;        /* frame -> ts_frame_extra */
static GArray     *conns;         /* ts_conn_entry, indexed by tcp.stream */
static GHashTable *last_on_ports; /* 4-tuple key -> stream + 1 of its latest connection */
static GArray     *closing;       /* streams whose ends are both closed, in order */
static guint       closing_head;

static void free_extra(gpointer data)
{
    ts_frame_extra *extra = (ts_frame_extra *)data;
    if (extra->rewritten != NULL)
        g_array_free(extra->rewritten, TRUE);
    g_free(extra);
}

void ts_store_init(void)
{
    record_chunks = g_ptr_array_new_with_free_func(g_free);
    extras = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_extra);
    conns = g_array_new(FALSE, TRUE, sizeof(ts_conn_entry));
    last_on_ports = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                          (GDestroyNotify)g_bytes_unref, NULL);
    closing = g_array_new(FALSE, FALSE, sizeof(guint32));
    closing_head = 0;
}

static void release_core(ts_conn_entry *entry)
{
    g_free(entry->core);
    entry->core = NULL;
    if (entry->patchable != NULL)
        g_array_free(entry->patchable, TRUE);
    entry->patchable = NULL;
}

void ts_store_cleanup(void)
{
    if (conns != NULL) {
        for (guint i = 0; i < conns->len; i++) {
            ts_conn_entry *entry = &g_array_index(conns, ts_conn_entry, i);
            release_core(entry);
            if (entry->earlier_summaries != NULL)
                g_array_free(entry->earlier_summaries, TRUE);
            if (entry->zeek_starts != NULL)
                g_array_free(entry->zeek_starts, TRUE);
            g_free(entry->endpoint_text[0]);
            g_free(entry->endpoint_text[1]);
        }
        g_array_free(conns, TRUE);
    }
    if (record_chunks != NULL)
        g_ptr_array_free(record_chunks, TRUE);
    if (extras != NULL)
        g_hash_table_destroy(extras);
    if (last_on_ports != NULL)
        g_hash_table_destroy(last_on_ports);
    if (closing != NULL)
        g_array_free(closing, TRUE);
    conns = NULL;
    record_chunks = NULL;
    extras = NULL;
    last_on_ports = NULL;
    closing = NULL;
}

/* ---- records ---------------------------------------------------------------- */

static ts_frame_record *record_slot(uint32_t frame, gboolean create)
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

static ts_frame_extra *extra_for(uint32_t frame)
{
    ts_frame_extra *extra = (ts_frame_extra *)g_hash_table_lookup(extras, GUINT_TO_POINTER(frame));
    if (extra == NULL) {
        extra = g_new0(ts_frame_extra, 1);
        g_hash_table_insert(extras, GUINT_TO_POINTER(frame), extra);
        ts_frame_record *rec = record_slot(frame, TRUE);
        rec->flags |= TS_REC_HAS_EXTRA;
    }
    return extra;
}

const ts_frame_extra *ts_store_extra(uint32_t frame)
{
    if (extras == NULL)
        return NULL;
    return (const ts_frame_extra *)g_hash_table_lookup(extras, GUINT_TO_POINTER(frame));
}

const ts_conn_entry *ts_store_conn(uint32_t conn)
{
    if (conns == NULL || conn == 0 || conn > conns->len)
        return NULL;
    return &g_array_index(conns, ts_conn_entry, conn - 1);
}

const ts_summary *ts_store_summary(const ts_conn_entry *conn, uint32_t frame)
{
    /* index = how many later connections began at or before `frame` (the
     * starts are in frame order; binary search: a SYN flood on one 4-tuple
     * can make thousands). */
    guint index = 0, end = conn->zeek_starts != NULL ? conn->zeek_starts->len : 0;
    while (index < end) {
        guint mid = index + (end - index) / 2;
        if (g_array_index(conn->zeek_starts, guint32, mid) <= frame)
            index = mid + 1;
        else
            end = mid;
    }
    if (conn->earlier_summaries == NULL || index >= conn->earlier_summaries->len)
        return &conn->summary;
    return &g_array_index(conn->earlier_summaries, ts_summary, index);
}

/* Before a segment that Zeek puts in a new connection of this stream: keep
 * the summary of the one that ends (its index is the old zeek_index). */
static void keep_finished_summary(ts_conn_entry *entry, const ts_summary *before, uint32_t frame)
{
    if (entry->earlier_summaries == NULL) {
        entry->earlier_summaries = g_array_new(FALSE, FALSE, sizeof(ts_summary));
        entry->zeek_starts = g_array_new(FALSE, FALSE, sizeof(guint32));
    }
    g_array_append_val(entry->earlier_summaries, *before);
    g_array_append_val(entry->zeek_starts, frame);
}

/* ---- connections ----------------------------------------------------------------- */

static char *endpoint_text(const uint8_t *addr, uint8_t len, uint16_t port)
{
    address a;
    if (len == 0)
        return g_strdup_printf("port %u", port);
    set_address(&a, len == 4 ? AT_IPv4 : AT_IPv6, len, addr);
    char *host = address_to_str(NULL, &a);
    char *text = len == 4 ? g_strdup_printf("%s:%u", host, port)
                          : g_strdup_printf("[%s]:%u", host, port);
    wmem_free(NULL, host);
    return text;
}

/* Both ends of a connection, in a canonical order, as a hash key. */
static GBytes *ports_key(const ts_extracted *x)
{
    uint8_t key[1 + 2 * (16 + 2)];
    const uint8_t *lo = x->src_addr, *hi = x->dst_addr;
    uint16_t lo_port = x->seg.src_port, hi_port = x->seg.dst_port;
    int order = memcmp(x->src_addr, x->dst_addr, x->addr_len);
    if (order > 0 || (order == 0 && lo_port > hi_port)) {
        lo = x->dst_addr;
        hi = x->src_addr;
        lo_port = x->seg.dst_port;
        hi_port = x->seg.src_port;
    }
    size_t n = 0;
    key[n++] = x->addr_len;
    memcpy(key + n, lo, x->addr_len);
    n += x->addr_len;
    memcpy(key + n, &lo_port, 2);
    n += 2;
    memcpy(key + n, hi, x->addr_len);
    n += x->addr_len;
    memcpy(key + n, &hi_port, 2);
    n += 2;
    return g_bytes_new(key, n);
}

static gboolean sent_by_a(const ts_conn_entry *entry, const ts_extracted *x)
{
    return x->seg.src_port == entry->port_a &&
           memcmp(x->src_addr, entry->addr_a, entry->addr_len) == 0;
}

/* A new connection on ports an earlier one used starts from where that one
 * left each end: a side still in TIME-WAIT meets the new SYN there. */
static void inherit_from_previous(ts_conn_entry *entry, const ts_extracted *x, uint32_t stream)
{
    GBytes *key = ports_key(x);
    gpointer found = g_hash_table_lookup(last_on_ports, key);
    g_hash_table_replace(last_on_ports, key, GUINT_TO_POINTER(stream + 1));
    if (found == NULL || GPOINTER_TO_UINT(found) == stream + 1)
        return;
    const ts_conn_entry *old = &g_array_index(conns, ts_conn_entry, GPOINTER_TO_UINT(found) - 1);
    if (old->core == NULL)
        return; /* released: both ends were CLOSED long enough */
    int old_a_is_new_a = sent_by_a(old, x) ? 1 : 0;
    for (int e = 0; e < 2; e++) {
        int old_e = old_a_is_new_a ? e : 1 - e;
        int64_t tw_end = 0;
        ts_state state = ts_conn_endpoint_state(old->core, old_e, x->seg.time_ns, &tw_end);
        if (state == TS_TIME_WAIT)
            ts_conn_inherit(entry->core, e, state, tw_end);
    }
}

/* A fresh state machine, with the TIME-WAIT length the preference says. */
static ts_conn *new_core(void)
{
    ts_config config = {.time_wait_ns = (int64_t)ts_pref_time_wait_s * 1000000000};
    ts_conn *core = g_new(ts_conn, 1);
    ts_conn_init(core, &config);
    return core;
}

static ts_conn_entry *entry_for(const ts_extracted *x)
{
    if (x->stream >= conns->len)
        g_array_set_size(conns, x->stream + 1);
    ts_conn_entry *entry = &g_array_index(conns, ts_conn_entry, x->stream);
    if (entry->core == NULL && entry->incarnations == 0) {
        entry->core = new_core();
        memcpy(entry->addr_a, x->src_addr, sizeof entry->addr_a);
        entry->addr_len = x->addr_len;
        entry->port_a = x->seg.src_port;
        if (x->addr_len != 0)
            inherit_from_previous(entry, x, x->stream);
    }
    return entry;
}

/* ---- corrections ---------------------------------------------------------------- */

/* Rewrite what the frames since corr->since_id said of the corrected side:
 * its state after each of them (and before them, but for since_id itself
 * unless prev_too: a side that was right before a segment stays right). */
static void apply_correction(ts_conn_entry *entry, const ts_correction *corr, uint32_t frame)
{
    ts_frame_extra *here = extra_for(frame);
    here->corrects = corr->segment_id;
    here->corrected_role = corr->role;
    here->corrected_state = corr->state;
    here->correction_kind = corr->delivery;

    ts_frame_extra *there = extra_for(corr->segment_id);
    there->corrected_by = frame;
    if (corr->delivery == TS_LOST || there->delivery == 0)
        there->delivery = corr->delivery;

    if (entry->patchable == NULL)
        return;
    if (here->rewritten == NULL)
        here->rewritten = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint i = 0; i < entry->patchable->len; i++) {
        guint32 f = g_array_index(entry->patchable, guint32, i);
        if (f < corr->since_id || f >= frame)
            continue;
        gboolean listed = FALSE;
        for (guint j = 0; j < here->rewritten->len; j++)
            listed |= g_array_index(here->rewritten, guint32, j) == f;
        if (!listed)
            g_array_append_val(here->rewritten, f);
        if (!ts_pref_hindsight)
            continue;
        ts_frame_record *rec = record_slot(f, TRUE);
        uint8_t *side = corr->role == TS_CLIENT ? &rec->client : &rec->server;
        uint8_t prev = (f == corr->since_id && !corr->prev_too) ? ts_rec_prev(*side) : corr->state;
        *side = (uint8_t)(prev << 4 | corr->state);
    }
}

/* Keep the frames a later correction may rewrite: those since the oldest
 * receive the core can still take back. */
static void track_patchable(ts_conn_entry *entry, uint32_t frame)
{
    uint32_t since = ts_conn_correctable_since(entry->core);
    if (since == UINT32_MAX) {
        if (entry->patchable != NULL)
            g_array_set_size(entry->patchable, 0);
        return;
    }
    if (entry->patchable == NULL)
        entry->patchable = g_array_new(FALSE, FALSE, sizeof(guint32));
    guint keep_from = 0;
    while (keep_from < entry->patchable->len &&
           g_array_index(entry->patchable, guint32, keep_from) < since)
        keep_from++;
    if (keep_from > 0)
        g_array_remove_range(entry->patchable, 0, keep_from);
    if (frame >= since)
        g_array_append_val(entry->patchable, frame);
}

/* Free the state machines of connections whose ends have both been CLOSED
 * (TIME-WAIT over) by `now`: memory stays bounded on long captures. */
static void release_finished(int64_t now)
{
    while (closing_head < closing->len) {
        guint32 stream = g_array_index(closing, guint32, closing_head);
        ts_conn_entry *entry = &g_array_index(conns, ts_conn_entry, stream);
        if (entry->core != NULL) {
            if (!ts_conn_finished(entry->core))
                ; /* reopened since: it is queued again when it finishes */
            else if (ts_conn_endpoint_state(entry->core, 0, now, NULL) != TS_CLOSED ||
                     ts_conn_endpoint_state(entry->core, 1, now, NULL) != TS_CLOSED)
                break; /* the queue is in closing order: the rest are younger */
            else
                release_core(entry);
        }
        closing_head++;
    }
    if (closing_head > 4096 && closing_head * 2 > closing->len) {
        g_array_remove_range(closing, 0, closing_head);
        closing_head = 0;
    }
}

/* ---- the first pass ------------------------------------------------------------ */

static uint8_t pack_shape(const ts_annotation *a)
{
    uint8_t step = a->handshake_step ? a->handshake_step : a->teardown_step;
    return (uint8_t)((a->sender & 1u) | (a->phase & 7u) << 1 | (step & 7u) << 4);
}

/* Notes worth a line of their own; the two "assumed" ones live in the record. */
#define TS_NOTES_IN_RECORD (TS_NOTE_ROLES_GUESSED | TS_NOTE_STATES_ASSUMED)

ts_frame_record *ts_store_segment(uint32_t frame, const ts_extracted *x)
{
    ts_conn_entry *entry = entry_for(x);
    if (entry->core == NULL)
        entry->core = new_core(); /* released, and now a segment again: a new life */
    ts_segment seg = x->seg;
    seg.from_b = sent_by_a(entry, x) ? 0 : 1;

    ts_annotation a;
    ts_correction corr[TS_MAX_CORRECTIONS];
    gboolean was_finished = ts_conn_finished(entry->core);
    ts_conn_step(entry->core, &seg, &a, corr);
    ts_summary finished;
    if (ts_summary_update(&entry->summary, &seg, &a, &finished)) /* conn.c */
        keep_finished_summary(entry, &finished, frame);
    if (entry->core->incarnation != entry->incarnations) {
        /* Roles are fixed per connection: name each end by its role. */
        ts_role sender = ts_conn_role_of(entry->core, seg.from_b);
        entry->incarnations = entry->core->incarnation;
        g_free(entry->endpoint_text[sender]);
        g_free(entry->endpoint_text[1 - sender]);
        entry->endpoint_text[sender] = endpoint_text(x->src_addr, x->addr_len, seg.src_port);
        entry->endpoint_text[1 - sender] = endpoint_text(x->dst_addr, x->addr_len, seg.dst_port);
        entry->entered_ns[0] = entry->entered_ns[1] = 0;
    }

    ts_frame_record *rec = record_slot(frame, TRUE);
    rec->conn = x->stream + 1;
    rec->client = (uint8_t)(a.prev[TS_CLIENT] << 4 | a.next[TS_CLIENT]);
    rec->server = (uint8_t)(a.prev[TS_SERVER] << 4 | a.next[TS_SERVER]);
    rec->shape = pack_shape(&a);
    if (a.notes & TS_NOTE_ROLES_GUESSED)
        rec->flags |= TS_REC_ROLES_GUESSED;
    if (a.notes & TS_NOTE_STATES_ASSUMED)
        rec->flags |= TS_REC_STATES_ASSUMED;

    /* How long each side stayed in the state it just left: the seed's
     * "too short to catch with netstat". */
    int64_t held[2] = {0, 0};
    for (int role = 0; role < 2; role++) {
        if (a.prev[role] == a.next[role])
            continue;
        if (entry->entered_ns[role] != 0)
            if (__builtin_sub_overflow(seg.time_ns, entry->entered_ns[role], &held[role]))
                held[role] = 0; /* times from both ends of int64: unknown */
        entry->entered_ns[role] = seg.time_ns;
    }

    if ((a.notes & ~TS_NOTES_IN_RECORD) != 0 || a.expected_ack != 0 || a.time_wait_end_ns != 0 ||
        held[0] != 0 || held[1] != 0) {
        ts_frame_extra *extra = extra_for(frame);
        extra->notes = a.notes;
        extra->expected_ack = a.expected_ack;
        extra->time_wait_end_ns = a.time_wait_end_ns;
        extra->held_ns[0] = held[0];
        extra->held_ns[1] = held[1];
    }
    for (int i = 0; i < TS_MAX_CORRECTIONS; i++)
        if (corr[i].valid)
            apply_correction(entry, &corr[i], frame);
    track_patchable(entry, frame);

    if (!was_finished && ts_conn_finished(entry->core)) {
        guint32 stream = x->stream;
        g_array_append_val(closing, stream);
    }
    release_finished(seg.time_ns);
    return rec;
}
