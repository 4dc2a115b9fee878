/*
 * Per-file storage of the connections: which slot (tcp.stream) a segment
 * belongs to and what the earlier connection on its ports left (a 4-tuple
 * table), the corrections a segment makes to earlier frames, and the release
 * of finished connections. The slots themselves are kept by conn_slots.c
 * (plain for the most recently active connections, compressed otherwise),
 * the frames' records and details by frames.c.
 *
 * The first pass runs the core once per segment and writes the record. When
 * a later segment proves an earlier annotation wrong (ts_correction), the
 * records since then are rewritten in place: every later dissection (GUI
 * click, tshark -2) shows the corrected, hindsight view, while the first pass
 * showed the best knowledge of its moment. Nothing here survives the file:
 * ts_store_cleanup() frees it all. Endpoint text ("addr:port") is formatted
 * when asked for, from the addresses kept in the slot.
 */
#include "tcpstate_plugin.h"

#include <string.h>

#include "conn_slots.h"
#include "fnv_hash.h"
#include "frames.h"

/* Connections whose ends are both closed, waiting until the core may forget
 * them: one queue for those that wait out TIME-WAIT, one for those that wait
 * longer (a RST whose receiver may yet show itself alive: 120 s). Each is in
 * the order the connections finished, which is about the order they become
 * forgettable; in one queue, every TIME-WAIT would wait behind the resets'
 * 120 s (no core was released in a 100-s, 10^7-packet bench capture). */
typedef struct __attribute__((packed)) closing_entry { /* 12 bytes, not 16: 2 MiB less at 10^7 packets */
    gint64  from;   /* ts_conn_forgettable_from() when queued */
    guint32 stream;
} closing_entry;
typedef struct closing_queue {
    GArray *entries; /* closing_entry */
    guint   head;
} closing_queue;
enum { CLOSING_TIME_WAIT, CLOSING_LATE, CLOSING_QUEUES };
static closing_queue closing[CLOSING_QUEUES];
static guint32 generation;    /* counts store changes: views older than it are stale */
static guint32 store_epoch;   /* counts files: a view's endpoint texts are from this one */

/* 4-tuple -> latest stream: open addressing over stream + 1, keys read from the slots. */
static guint32 *ports_table;
static guint    ports_cap, ports_used;

/* Streams (SLOT_ALIAS) whose segments belong to an earlier stream's
 * connection: stream + 1 -> that stream + 1. Rare: see route(). */
static GHashTable *aliases;

void ts_store_init(void)
{
    ts_frames_init();
    conn_slots_init(ts_pref_hot_connections);
    for (int q = 0; q < CLOSING_QUEUES; q++) {
        closing[q].entries = g_array_new(FALSE, FALSE, sizeof(closing_entry));
        closing[q].head = 0;
    }
    ports_cap = 1024;
    ports_used = 0;
    ports_table = g_new0(guint32, ports_cap);
    generation++;
    store_epoch++;
}

void ts_store_cleanup(void)
{
    conn_slots_cleanup();
    ts_frames_cleanup();
    for (int q = 0; q < CLOSING_QUEUES; q++) {
        if (closing[q].entries != NULL)
            g_array_free(closing[q].entries, TRUE);
        closing[q].entries = NULL;
    }
    g_free(ports_table);
    ports_table = NULL;
    ports_cap = ports_used = 0;
    if (aliases != NULL)
        g_hash_table_destroy(aliases);
    aliases = NULL;
    generation++;
}

/* ---- views --------------------------------------------------------------------- */

static void endpoint_text(char *buf, size_t size, const uint8_t *addr, uint8_t len, uint16_t port)
{
    ts_text t = ts_text_on(buf, size);
    ts_text_endpoint(&t, addr, len, port);
}

/* A view of one connection. Its summary is stale once the store changes (any
 * segment may move it); its endpoint texts only when the slot's addresses or
 * roles do, so a connection's frames format them once (text_flags). */
typedef struct conn_view {
    ts_conn_entry entry;
    guint32       stream;
    guint32       generation;
    guint32       epoch;
    guint8        text_flags; /* SLOT_TEXT and SLOT_TEXT_CB the texts were made with; 0: none */
    char          text[2][80];
} conn_view;

const ts_conn_entry *ts_store_conn(uint32_t conn)
{
    static conn_view views[4];
    static guint next;
    if (conn == 0 || conn > conn_slots_count())
        return NULL;
    guint32 stream = conn - 1;
    conn_view *view = NULL;
    for (guint i = 0; i < G_N_ELEMENTS(views) && view == NULL; i++)
        if (views[i].stream == conn && views[i].epoch == store_epoch)
            view = &views[i];
    if (view != NULL && view->generation == generation)
        return &view->entry;
    if (view == NULL) {
        view = &views[next];
        next = (next + 1) % G_N_ELEMENTS(views);
        view->stream = conn;
        view->epoch = store_epoch;
        view->text_flags = 0;
    }
    const conn_slot *slot = slot_at(stream);
    ts_conn_entry *entry = &view->entry;
    slot_summary(stream, &entry->summary);
    entry->incarnations = slot->incarnations;
    const conn_rare *rare = slot_rare(stream);
    entry->earlier_summaries = rare ? rare->earlier_summaries : NULL;
    entry->zeek_starts = rare ? rare->zeek_starts : NULL;
    entry->endpoint_text[0] = entry->endpoint_text[1] = NULL;
    if (slot->flags & SLOT_TEXT) {
        guint8 text_flags = slot->flags & (SLOT_TEXT | SLOT_TEXT_CB);
        int client = (slot->flags & SLOT_TEXT_CB) ? 1 : 0;
        for (int role = 0; role < 2; role++) {
            int ep = role == TS_CLIENT ? client : 1 - client;
            const slot_addr *addr = conn_slots_addr(slot->addr_id[ep]);
            if (view->text_flags != text_flags)
                endpoint_text(view->text[role], sizeof view->text[role], addr->bytes, addr->len, slot->port[ep]);
            entry->endpoint_text[role] = view->text[role];
        }
        view->text_flags = text_flags;
    } else if (rare != NULL) {
        entry->endpoint_text[0] = rare->text[0];
        entry->endpoint_text[1] = rare->text[1];
    }
    view->generation = generation;
    return entry;
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
static void keep_finished_summary(guint32 stream, const ts_summary *before, uint32_t frame)
{
    conn_rare *rare = slot_rare_for(stream);
    if (rare->earlier_summaries == NULL) {
        rare->earlier_summaries = g_array_new(FALSE, FALSE, sizeof(ts_summary));
        rare->zeek_starts = g_array_new(FALSE, FALSE, sizeof(guint32));
    }
    g_array_append_val(rare->earlier_summaries, *before);
    g_array_append_val(rare->zeek_starts, frame);
}

/* ---- connections ----------------------------------------------------------------- */

/* Both ends of a connection (address numbers and ports), in a canonical order. */
typedef struct ports_key {
    guint32  addr_id[2];
    uint16_t port[2];
} ports_key;

static ports_key slot_key(const conn_slot *slot)
{
    int lo = slot->addr_id[0] < slot->addr_id[1] ||
             (slot->addr_id[0] == slot->addr_id[1] && slot->port[0] <= slot->port[1]) ? 0 : 1;
    ports_key key = {{slot->addr_id[lo], slot->addr_id[1 - lo]}, {slot->port[lo], slot->port[1 - lo]}};
    return key;
}

static gboolean key_equal(const ports_key *a, const ports_key *b)
{
    return a->addr_id[0] == b->addr_id[0] && a->addr_id[1] == b->addr_id[1] && a->port[0] == b->port[0] &&
           a->port[1] == b->port[1];
}

G_STATIC_ASSERT(sizeof(ports_key) == 12); /* no padding: hashed as bytes */

static guint key_hash(const ports_key *key)
{
    return ts_fnv_hash(0, key, sizeof *key);
}

/* The table slot for `key`: the one holding it, or the empty one where it goes. */
static guint ports_find(const ports_key *key)
{
    guint mask = ports_cap - 1, i = key_hash(key) & mask;
    while (ports_table[i] != 0) {
        ports_key other = slot_key(slot_at(ports_table[i] - 1));
        if (key_equal(&other, key))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static void ports_grow(void)
{
    guint32 *old = ports_table;
    guint old_cap = ports_cap;
    ports_cap *= 2;
    ports_table = g_new0(guint32, ports_cap);
    for (guint i = 0; i < old_cap; i++) {
        if (old[i] == 0)
            continue;
        ports_key key = slot_key(slot_at(old[i] - 1));
        ports_table[ports_find(&key)] = old[i];
    }
    g_free(old);
}

static gboolean sent_by_a(const conn_slot *slot, const ts_extracted *x)
{
    if (x->seg.src_port != slot->port[0])
        return FALSE;
    const slot_addr *a = conn_slots_addr(slot->addr_id[0]);
    return memcmp(x->src_addr, a->bytes, a->len) == 0;
}

/* A new connection on ports an earlier one used starts from where that one
 * left each end: a side still in TIME-WAIT meets the new SYN there. */
static void inherit_from_previous(conn_hot *hot, const ts_extracted *x, uint32_t stream)
{
    const conn_slot *slot = slot_at(stream);
    ports_key key = slot_key(slot);
    /* Linear probing stays short up to 3/4 full (about 2.5 probes to find a
     * key, 8.5 to miss); at half full the table was 4 MiB more at 10^7
     * packets (603 304 connections: 2^21 entries instead of 2^20). */
    if ((ports_used + 1) * 4 > ports_cap * 3)
        ports_grow();
    guint i = ports_find(&key);
    guint32 found = ports_table[i];
    if (found == 0)
        ports_used++;
    ports_table[i] = stream + 1;
    if (found == 0 || found == stream + 1)
        return;
    const conn_slot *old = slot_at(found - 1);
    const ts_conn *old_core = peek_core(found - 1);
    if (old_core == NULL)
        return; /* released: both ends were CLOSED long enough */
    int old_a_is_new_a = old->addr_id[0] == slot->addr_id[0] && old->port[0] == slot->port[0];
    for (int e = 0; e < 2; e++) {
        int old_e = old_a_is_new_a ? e : 1 - e;
        int64_t tw_end = 0;
        ts_state state = ts_conn_endpoint_state(old_core, old_e, x->seg.time_ns, &tw_end);
        if (state == TS_TIME_WAIT)
            ts_conn_inherit(hot_core(hot), e, state, tw_end);
    }
}

/* A fresh state machine, with the TIME-WAIT length the preference says. */
static void new_core(conn_slot *slot, conn_hot *hot)
{
    ts_config config = {.time_wait_ns = (int64_t)ts_pref_time_wait_s * 1000000000};
    ts_conn_init(hot_core(hot), &config);
    slot->flags |= SLOT_HAS_CORE;
}

static conn_hot *hot_for(const ts_extracted *x)
{
    conn_slots_ensure(x->stream);
    conn_slot *slot = slot_at(x->stream);
    gboolean fresh = !(slot->flags & SLOT_HAS_CORE) && slot->incarnations == 0;
    conn_hot *hot = make_hot(x->stream);
    if (fresh) {
        new_core(slot, hot);
        slot->addr_id[0] = conn_slots_addr_id(x->src_addr, x->addr_len);
        slot->addr_id[1] = conn_slots_addr_id(x->dst_addr, x->addr_len);
        slot->port[0] = x->seg.src_port;
        slot->port[1] = x->seg.dst_port;
        if (x->addr_len != 0)
            inherit_from_previous(hot, x, x->stream);
    }
    return hot;
}

/* The stream whose connection a segment belongs to. Usually its own
 * tcp.stream; but Wireshark 4.4 and later start a new tcp.stream on a SYN
 * that follows a RST on the same ports (its reused-ports rule) even when that
 * SYN is the first one sent again, because the RST never reached its client:
 * the evidence that the client is still SYN-SENT (RFC 9293 3.10.7.3) would
 * then sit in another connection. A new stream whose first segment repeats
 * the opening SYN of the latest connection on its ports (the core decides:
 * same initial sequence number) is made an alias of that connection's
 * stream, as Wireshark 4.0 keeps it. */
static guint32 route(const ts_extracted *x)
{
    conn_slots_ensure(x->stream);
    const conn_slot *slot = slot_at(x->stream);
    if (slot->flags & SLOT_ALIAS)
        return GPOINTER_TO_UINT(g_hash_table_lookup(aliases, GUINT_TO_POINTER(x->stream + 1))) - 1;
    if (slot->data != NULL || slot->incarnations != 0 || x->addr_len == 0 ||
        (x->seg.flags & (TS_TH_SYN | TS_TH_ACK)) != TS_TH_SYN)
        return x->stream;
    conn_slot probe = {.port = {x->seg.src_port, x->seg.dst_port},
                       .addr_id = {conn_slots_addr_id(x->src_addr, x->addr_len),
                                   conn_slots_addr_id(x->dst_addr, x->addr_len)}};
    ports_key key = slot_key(&probe);
    guint32 found = ports_table[ports_find(&key)];
    if (found == 0 || found == x->stream + 1)
        return x->stream;
    const conn_slot *old = slot_at(found - 1);
    const ts_conn *old_core = peek_core(found - 1);
    int sender_is_old_a = old->addr_id[0] == probe.addr_id[0] && old->port[0] == probe.port[0];
    if (old_core == NULL || !ts_conn_repeats_open(old_core, sender_is_old_a ? 0 : 1, &x->seg))
        return x->stream;
    if (aliases == NULL)
        aliases = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_insert(aliases, GUINT_TO_POINTER(x->stream + 1), GUINT_TO_POINTER(found));
    slot_at(x->stream)->flags |= SLOT_ALIAS;
    return found - 1;
}

/* The endpoint texts of a new incarnation: the sender of `x` has role `sender`. */
static void set_texts(guint32 stream, const ts_extracted *x, ts_role sender)
{
    conn_slot *slot = slot_at(stream);
    int from = -1;
    guint32 src = conn_slots_addr_id(x->src_addr, x->addr_len), dst = conn_slots_addr_id(x->dst_addr, x->addr_len);
    for (int ep = 0; ep < 2 && from < 0; ep++)
        if (x->seg.src_port == slot->port[ep] && x->seg.dst_port == slot->port[1 - ep] &&
            src == slot->addr_id[ep] && dst == slot->addr_id[1 - ep])
            from = ep;
    if (slot->flags & SLOT_RARE) {
        conn_rare *rare = slot_rare_for(stream);
        g_free(rare->text[0]);
        g_free(rare->text[1]);
        rare->text[0] = rare->text[1] = NULL;
    }
    if (from >= 0) {
        int client_ep = sender == TS_CLIENT ? from : 1 - from;
        slot->flags = (uint8_t)((slot->flags & ~SLOT_TEXT_CB) | SLOT_TEXT | (client_ep ? SLOT_TEXT_CB : 0));
        return;
    }
    /* not the slot's addresses: keep the texts themselves */
    char text[80];
    conn_rare *rare = slot_rare_for(stream);
    slot->flags &= (uint8_t)~(SLOT_TEXT | SLOT_TEXT_CB);
    endpoint_text(text, sizeof text, x->src_addr, x->addr_len, x->seg.src_port);
    rare->text[sender] = g_strdup(text);
    endpoint_text(text, sizeof text, x->dst_addr, x->addr_len, x->seg.dst_port);
    rare->text[1 - sender] = g_strdup(text);
}

/* ---- corrections ---------------------------------------------------------------- */

/* Rewrite what the frames since corr->since_id said of the corrected side:
 * its state after each of them (and before them, but for since_id itself
 * unless prev_too: a side that was right before a segment stays right). */
static void apply_correction(conn_hot *hot, const ts_correction *corr, uint32_t frame)
{
    ts_frame_extra *here = extra_for(frame);
    here->corrects = corr->segment_id;
    here->corrected_role = corr->role;
    here->corrected_state = corr->state;
    here->correction_kind = corr->delivery;

    ts_frame_extra *there = extra_for(corr->segment_id);
    there->corrected_by = frame;
    /* The latest word on where it arrived: a later correction knows more
     * (a control held as lost and then put back was delivered after all). */
    there->delivery = corr->delivery;

    if (hot->patch.len == 0)
        return;
    if (here->rewritten == NULL)
        here->rewritten = g_array_new(FALSE, FALSE, sizeof(guint32));
    const uint32_t *frames = patch_frames(&hot->patch);
    for (guint i = 0; i < hot->patch.len; i++) {
        guint32 f = frames[i];
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
static void track_patchable(conn_hot *hot, uint32_t frame)
{
    uint32_t since = ts_conn_correctable_since(hot_core(hot));
    if (since == UINT32_MAX) {
        if (hot->patch.len != 0 || hot->patch.cap != 0)
            patch_clear(&hot->patch);
        return;
    }
    patch_drop_before(&hot->patch, since);
    if (frame >= since)
        patch_append(&hot->patch, frame);
}

/* Queue a connection that has just finished (both ends closed). */
static void queue_finished(guint32 stream, const ts_conn *core, int64_t now)
{
    gint64 from;
    if (!ts_conn_forgettable_from(core, &from))
        return; /* never, unless a later segment changes it: queued again when it finishes */
    closing_entry entry = {.from = from, .stream = stream};
    int64_t time_wait_end;
    gboolean late = !__builtin_add_overflow(now, (int64_t)ts_pref_time_wait_s * 1000000000, &time_wait_end) &&
                    entry.from > time_wait_end;
    g_array_append_val(closing[late ? CLOSING_LATE : CLOSING_TIME_WAIT].entries, entry);
}

/* Free the state machines of connections the core may forget by `now`
 * (both ends CLOSED, TIME-WAIT over): memory stays bounded on long captures. */
static void release_finished(int64_t now)
{
    for (int q = 0; q < CLOSING_QUEUES; q++) {
        closing_queue *queue = &closing[q];
        while (queue->head < queue->entries->len) {
            closing_entry entry = g_array_index(queue->entries, closing_entry, queue->head);
            if (now < entry.from)
                break; /* the rest finished later: not yet either */
            queue->head++;
            const ts_conn *core = peek_core(entry.stream);
            if (core == NULL || !ts_conn_finished(core))
                continue; /* released, or reopened since: queued again when it finishes */
            if (ts_conn_forgettable(core, now))
                release_core(entry.stream);
            else
                queue_finished(entry.stream, core, now); /* a later segment moved its end */
        }
        if (queue->head > 4096 && queue->head * 2 > queue->entries->len) {
            g_array_remove_range(queue->entries, 0, queue->head);
            queue->head = 0;
        }
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

ts_frame_record *ts_store_segment(uint32_t frame, const ts_extracted *as_extracted)
{
    generation++;
    ts_extracted routed;
    const ts_extracted *x = as_extracted;
    guint32 stream = route(as_extracted);
    if (stream != as_extracted->stream) {
        routed = *as_extracted;
        routed.stream = stream;
        x = &routed;
    }
    conn_hot *hot = hot_for(x);
    conn_slot *slot = slot_at(x->stream);
    if (!(slot->flags & SLOT_HAS_CORE))
        new_core(slot, hot); /* released, and now a segment again: a new life */
    ts_segment seg = x->seg;
    seg.from_b = sent_by_a(slot, x) ? 0 : 1;

    ts_annotation a;
    ts_correction corr[TS_MAX_CORRECTIONS];
    gboolean was_finished = ts_conn_finished(hot_core(hot));
    ts_conn_step(hot_core(hot), &seg, &a, corr);
    ts_summary finished;
    if (ts_summary_update(&hot->summary, &seg, &a, &finished)) /* conn.c */
        keep_finished_summary(x->stream, &finished, frame);
    if (ts_conn_incarnation(hot_core(hot)) != slot->incarnations) {
        /* Roles are fixed per connection: name each end by its role. */
        ts_role sender = ts_conn_role_of(hot_core(hot), seg.from_b);
        slot->incarnations = ts_conn_incarnation(hot_core(hot));
        set_texts(x->stream, x, sender);
        hot->entered_ns[0] = hot->entered_ns[1] = 0;
    }

    ts_frame_record *rec = record_slot(frame, TRUE);
    rec->conn = x->stream + 1;
    if (x != as_extracted)
        rec->flags |= TS_REC_OTHER_STREAM;
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
        if (hot->entered_ns[role] != 0)
            if (__builtin_sub_overflow(seg.time_ns, hot->entered_ns[role], &held[role]))
                held[role] = 0; /* times from both ends of int64: unknown */
        hot->entered_ns[role] = seg.time_ns;
    }

    if ((a.notes & ~TS_NOTES_IN_RECORD) != 0 || a.expected_ack != 0 || a.time_wait_end_ns != 0 ||
        held[0] != 0 || held[1] != 0) {
        ts_frame_extra d = {0};
        d.notes = a.notes;
        d.expected_ack = a.expected_ack;
        d.time_wait_end_ns = a.time_wait_end_ns;
        d.held_ns[0] = held[0];
        d.held_ns[1] = held[1];
        store_details(frame, &d);
    }
    for (int i = 0; i < TS_MAX_CORRECTIONS; i++)
        if (corr[i].valid)
            apply_correction(hot, &corr[i], frame);
    track_patchable(hot, frame);

    if (!was_finished && ts_conn_finished(hot_core(hot)))
        queue_finished(x->stream, hot_core(hot), seg.time_ns);
    release_finished(seg.time_ns);
    return rec;
}
