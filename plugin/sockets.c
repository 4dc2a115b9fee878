/*
 * The socket table: what `netstat -a -n` (or `ss -tan`) would list on each
 * host at one moment of the capture.
 *
 *   tshark: -z tcpstate,sockets[,FILTER]   (sockets_tshark.c, netstat's layout)
 *   GUI:    Statistics > TCP Sockets (netstat)  (sockets_gui.c, a stat_tap_table:
 *           the statistics dialog with its display-filter box)
 *
 * Here: the model both read, and how each tool writes a socket.
 *
 * The moment is "right after the last frame FILTER passes" (no filter: the end
 * of the capture). Both listen on the "frame" tap with FILTER, so their packet
 * callback runs for exactly the frames FILTER passes, in order; each call folds
 * every stored per-frame record up to that frame (store.c) into a model of the
 * sockets, whatever FILTER says of those frames: a filter chooses the moment,
 * not the connections.
 *
 * Which record a frame has depends on the pass, as everywhere in tcpstate:
 * in one pass the callback for frame M runs while M is dissected, so the model
 * holds what was known at M; in a later pass (tshark -2, every GUI dialog) the
 * records carry hindsight (corrections by later segments), and a listener the
 * capture proves only later is listed from the capture's start (see
 * listener_listed()).
 *
 * What the model lists, per connection (tcp.stream) and side:
 *   - the state after the connection's last segment up to the moment, left out
 *     when CLOSED (netstat has no CLOSED sockets: RFC 9293 3.3.2, "CLOSED is
 *     fictional because it represents the state when there is no TCB") or when
 *     a side went back to LISTEN (its TCB is gone, the listener remains);
 *   - a side in TIME-WAIT until its 2*MSL ends (RFC 9293 3.10.7.4; the length
 *     is the tcpstate.time_wait preference, the end the one the core stored on
 *     the segment that started or restarted it), judged at the time of the
 *     moment's frame;
 *   - one socket per 4-tuple: a newer connection on the same addresses and
 *     ports (a SYN that reopened a TIME-WAIT, RFC 9293 3.10.7.4 / RFC 1122
 *     4.2.2.13, or a new incarnation after a close) replaces the older one's
 *     sockets.
 * And per server address and port, a listening socket when the capture proves
 * one: a SYN answered with a SYN-ACK (the server's side left LISTEN, RFC 9293
 * 3.10.7.2), or a side that went back to LISTEN after a RST; a SYN refused with
 * a RST proves there was none then (RFC 9293 3.10.7.1). A capture never shows
 * a listener close, so one proven stays listed.
 */
#include "sockets.h"

#include <string.h>

/* ---- the model ----------------------------------------------------------------- */
static void endpoint_free(sk_endpoint *e)
{
    g_free(e->addr);
    g_free(e->port);
}

static void conn_free(gpointer p)
{
    sk_conn *c = (sk_conn *)p;
    endpoint_free(&c->ep[0]);
    endpoint_free(&c->ep[1]);
    g_free(c);
}

static void listener_free(gpointer p)
{
    sk_listener *l = (sk_listener *)p;
    endpoint_free(&l->ep);
    g_free(l);
}

/* store.c writes "192.0.2.1:80", "[2001:db8::1]:80", or "port 80" when the IP
 * layer was not found. */
static void endpoint_parse(sk_endpoint *e, const char *text)
{
    const char *colon = text != NULL ? strrchr(text, ':') : NULL;
    if (text == NULL || colon == NULL || colon == text) {
        e->addr = g_strdup("?");
        e->port = g_strdup(text != NULL && strncmp(text, "port ", 5) == 0 ? text + 5 : "?");
        e->v6 = FALSE;
        return;
    }
    e->port = g_strdup(colon + 1);
    if (text[0] == '[' && colon > text + 1 && colon[-1] == ']') {
        e->addr = g_strndup(text + 1, (gsize)(colon - text - 2));
        e->v6 = TRUE;
    } else {
        e->addr = g_strndup(text, (gsize)(colon - text));
        e->v6 = strchr(e->addr, ':') != NULL;
    }
}

sk_view *view_new(const char *filter)
{
    sk_view *v = g_new0(sk_view, 1);
    v->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, conn_free);
    v->tuples = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    v->listeners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, listener_free);
    v->conn_order = g_ptr_array_new();
    v->listener_order = g_ptr_array_new();
    v->filter = g_strdup(filter);
    g_queue_init(&v->tw_queue);
    return v;
}

/* Forgets what was folded in (a new tap run), keeps the filter and the GUI table. */
void view_clear(sk_view *v)
{
    g_ptr_array_set_size(v->conn_order, 0);
    g_ptr_array_set_size(v->listener_order, 0);
    g_hash_table_remove_all(v->tuples);
    g_hash_table_remove_all(v->conns);
    g_hash_table_remove_all(v->listeners);
    g_queue_clear_full(&v->tw_queue, g_free);
    v->cursor = 0;
    v->have_moment = FALSE;
    v->moment = 0;
    v->moment_ns = 0;
    nstime_set_zero(&v->moment_rel);
    v->hindsight = FALSE;
    v->looked_ahead = FALSE;
}

static sk_listener *listener_for(sk_view *v, const sk_endpoint *server)
{
    char *key = g_strdup_printf("%s %s", server->addr, server->port);
    sk_listener *l = (sk_listener *)g_hash_table_lookup(v->listeners, key);
    if (l != NULL) {
        g_free(key);
        return l;
    }
    l = g_new0(sk_listener, 1);
    l->ep.addr = g_strdup(server->addr);
    l->ep.port = g_strdup(server->port);
    l->ep.v6 = server->v6;
    l->evidence = -1;
    l->first = -1;
    l->row = -1;
    g_hash_table_insert(v->listeners, key, l);
    g_ptr_array_add(v->listener_order, l);
    return l;
}

static char *tuple_key(const sk_conn *c)
{
    char *a = g_strdup_printf("%s %s", c->ep[0].addr, c->ep[0].port);
    char *b = g_strdup_printf("%s %s", c->ep[1].addr, c->ep[1].port);
    char *key = strcmp(a, b) <= 0 ? g_strdup_printf("%s %s", a, b) : g_strdup_printf("%s %s", b, a);
    g_free(a);
    g_free(b);
    return key;
}


/* A connection of the model, made at its first folded segment. NULL when the
 * store knows no endpoints for it (nothing to list). */
static sk_conn *conn_for(sk_view *v, uint32_t conn_id)
{
    sk_conn *c = (sk_conn *)g_hash_table_lookup(v->conns, GUINT_TO_POINTER(conn_id));
    if (c != NULL)
        return c;
    const ts_conn_entry *entry = ts_store_conn(conn_id);
    if (entry == NULL || entry->endpoint_text[TS_CLIENT] == NULL || entry->endpoint_text[TS_SERVER] == NULL)
        return NULL;
    c = g_new0(sk_conn, 1);
    endpoint_parse(&c->ep[TS_CLIENT], entry->endpoint_text[TS_CLIENT]);
    endpoint_parse(&c->ep[TS_SERVER], entry->endpoint_text[TS_SERVER]);
    c->state[0] = c->state[1] = TS_CLOSED;
    c->row[0] = c->row[1] = -1;
    g_hash_table_insert(v->conns, GUINT_TO_POINTER(conn_id), c);
    g_ptr_array_add(v->conn_order, c);
    /* One socket per 4-tuple on a host: the newer connection is the one there. */
    char *key = tuple_key(c);
    sk_conn *older = (sk_conn *)g_hash_table_lookup(v->tuples, key);
    if (older != NULL) {
        older->replaced = TRUE;
        rows_sync_conn(v, older);
    }
    g_hash_table_replace(v->tuples, key, c);
    return c;
}

/* What a segment proves about a listener on its server's address and port:
 * 1 listening, 0 not listening, -1 nothing. */
static int listener_evidence(const ts_frame_record *rec, uint32_t notes)
{
    uint8_t prev = ts_rec_prev(rec->server), next = ts_rec_next(rec->server);
    if (notes & TS_NOTE_REFUSED)
        return 0; /* RFC 9293 3.10.7.1: a SYN to a port nobody listens on gets a RST */
    if (prev == TS_LISTEN || next == TS_LISTEN)
        return 1; /* RFC 9293 3.10.7.2: a SYN taken in LISTEN (or lost on its way there, hindsight
                   * says); or a RST that sent a passively opened side back to LISTEN (3.10.7.4) */
    return -1;
}

static void fold_frame(sk_view *v, uint32_t frame)
{
    const ts_frame_record *rec = ts_store_record(frame);
    if (rec == NULL || rec->conn == 0)
        return;
    sk_conn *c = conn_for(v, rec->conn);
    if (c == NULL)
        return;
    const ts_frame_extra *extra = (rec->flags & TS_REC_HAS_EXTRA) ? ts_store_extra(frame) : NULL;
    uint32_t notes = extra != NULL ? extra->notes : 0;
    const uint8_t packed[2] = {rec->client, rec->server};
    const uint8_t before[2] = {c->state[0], c->state[1]};
    gboolean tw_pending = FALSE;
    for (int role = 0; role < 2; role++) {
        uint8_t prev = ts_rec_prev(packed[role]), next = ts_rec_next(packed[role]);
        c->state[role] = next < TS_STATE_COUNT ? next : TS_CLOSED;
        if (next != TS_TIME_WAIT)
            c->tw_end[role] = 0;
        else if (prev != TS_TIME_WAIT || (notes & TS_NOTE_TIME_WAIT_RESTART) || c->tw_end[role] == 0) {
            /* RFC 9293 3.10.7.4: entering TIME-WAIT (or a FIN in it) starts the 2*MSL timer. */
            c->tw_end[role] = extra != NULL ? extra->time_wait_end_ns : 0;
            tw_pending |= c->tw_end[role] != 0;
        }
    }
    for (int role = 0; role < 2 && tw_pending && v->table != NULL; role++) {
        if (c->state[role] == TS_TIME_WAIT && c->tw_end[role] != 0) {
            sk_tw *tw = g_new(sk_tw, 1);
            tw->conn = c;
            tw->end = c->tw_end[role];
            g_queue_push_tail(&v->tw_queue, tw);
        }
    }
    int ev = listener_evidence(rec, notes);
    if (ev >= 0) {
        sk_listener *l = listener_for(v, &c->ep[TS_SERVER]);
        l->evidence = ev;
        rows_sync_listener(v, l);
    }
    /* Most segments (data, ACKs) change no state: the GUI's rows stay as they are. */
    if (c->state[0] != before[0] || c->state[1] != before[1] || tw_pending || (c->row[0] < 0 && c->row[1] < 0))
        rows_sync_conn(v, c);
}

/* In a later pass with hindsight, the whole capture is stored: a listener the
 * capture proves at its first evidence was there before it too (the SYN found
 * it listening), back to the capture's start or a refusal. Single pass: only
 * what the segments so far proved. */
void look_ahead(sk_view *v)
{
    v->looked_ahead = TRUE;
    if (!v->hindsight)
        return;
    uint32_t limit = ts_store_frame_limit();
    for (uint32_t f = 1; f < limit; f++) {
        const ts_frame_record *rec = ts_store_record(f);
        if (rec == NULL || rec->conn == 0)
            continue;
        const ts_frame_extra *extra = (rec->flags & TS_REC_HAS_EXTRA) ? ts_store_extra(f) : NULL;
        int ev = listener_evidence(rec, extra != NULL ? extra->notes : 0);
        if (ev < 0)
            continue;
        const ts_conn_entry *entry = ts_store_conn(rec->conn);
        if (entry == NULL || entry->endpoint_text[TS_SERVER] == NULL)
            continue;
        sk_endpoint server;
        endpoint_parse(&server, entry->endpoint_text[TS_SERVER]);
        sk_listener *l = listener_for(v, &server);
        endpoint_free(&server);
        if (l->first < 0) {
            l->first = ev;
            rows_sync_listener(v, l);
        }
    }
}

gboolean side_listed(const sk_view *v, const sk_conn *c, int role)
{
    uint8_t s = c->state[role];
    if (c->replaced || s == TS_CLOSED || s == TS_LISTEN)
        return FALSE;
    if (s == TS_TIME_WAIT && c->tw_end[role] != 0 && v->have_moment && v->moment_ns >= c->tw_end[role])
        return FALSE; /* 2*MSL has passed at the moment: the TCB is deleted (RFC 9293 3.10.7.4) */
    return TRUE;
}

gboolean listener_listed(const sk_listener *l)
{
    if (l->evidence >= 0)
        return l->evidence == 1;
    return l->first == 1;
}

/* The moment moves to frame `frame` (FILTER passed it): fold in every frame up to it. */
void view_advance(sk_view *v, packet_info *pinfo)
{
    if (!v->looked_ahead) {
        v->hindsight = PINFO_FD_VISITED(pinfo) && ts_pref_hindsight;
        look_ahead(v);
    }
    uint32_t frame = pinfo->num;
    for (uint32_t f = v->cursor + 1; f <= frame; f++)
        fold_frame(v, f);
    if (frame > v->cursor)
        v->cursor = frame;
    v->have_moment = TRUE;
    v->moment = frame;
    v->moment_rel = pinfo->rel_ts;
    v->moment_ns = (int64_t)pinfo->abs_ts.secs * 1000000000 + pinfo->abs_ts.nsecs;
    /* TIME-WAIT sides whose end the moment has reached leave the GUI's rows
     * (the tshark table asks side_listed() when it prints). Ends are queued
     * in the order they were set, which is time order unless a capture's
     * clock goes backwards; then a row may leave late, never wrongly. */
    while (!g_queue_is_empty(&v->tw_queue)) {
        const sk_tw *head = (const sk_tw *)g_queue_peek_head(&v->tw_queue);
        if (v->moment_ns < head->end)
            break;
        sk_tw *due = (sk_tw *)g_queue_pop_head(&v->tw_queue);
        rows_sync_conn(v, due->conn);
        g_free(due);
    }
}

/* ---- how each tool writes a socket ------------------------------------------- */
static char *address_text(const sk_endpoint *e, ts_spelling style)
{
    switch (style) {
    case TS_SPELL_BSD_NETSTAT: /* macOS: 127.0.0.1.8888, ::1.8888 */
        return g_strdup_printf("%s.%s", e->addr, e->port);
    case TS_SPELL_LINUX_NETSTAT: /* net-tools: 127.0.0.1:8888, ::1:8888 */
        return g_strdup_printf("%s:%s", e->addr, e->port);
    default: /* ss, Windows, tcpstate's own: [::1]:8888 */
        return e->v6 ? g_strdup_printf("[%s]:%s", e->addr, e->port) : g_strdup_printf("%s:%s", e->addr, e->port);
    }
}

/* A listener's foreign address: any peer. */
static char *wildcard_text(gboolean v6, ts_spelling style)
{
    switch (style) {
    case TS_SPELL_BSD_NETSTAT:
        return g_strdup("*.*");
    case TS_SPELL_LINUX_NETSTAT:
        return g_strdup(v6 ? ":::*" : "0.0.0.0:*");
    case TS_SPELL_LINUX_SS:
        return g_strdup(v6 ? "[::]:*" : "0.0.0.0:*");
    case TS_SPELL_WINDOWS_NETSTAT:
        return g_strdup(v6 ? "[::]:0" : "0.0.0.0:0");
    default:
        return g_strdup("*:*");
    }
}

static char *proto_text(gboolean v6, ts_spelling style)
{
    switch (style) {
    case TS_SPELL_BSD_NETSTAT:
        return g_strdup(v6 ? "tcp6" : "tcp4");
    case TS_SPELL_LINUX_NETSTAT:
        return g_strdup(v6 ? "tcp6" : "tcp");
    case TS_SPELL_WINDOWS_NETSTAT:
        return g_strdup("TCP");
    default:
        return g_strdup("tcp");
    }
}

void row_of_conn(sk_row *r, const sk_conn *c, int role, ts_spelling style)
{
    r->host = c->ep[role].addr;
    r->proto = proto_text(c->ep[role].v6, style);
    r->local = address_text(&c->ep[role], style);
    r->foreign = address_text(&c->ep[1 - role], style);
    r->state = ts_state_spelled((ts_state)c->state[role], style);
}

void row_of_listener(sk_row *r, const sk_listener *l, ts_spelling style)
{
    r->host = l->ep.addr;
    r->proto = proto_text(l->ep.v6, style);
    r->local = address_text(&l->ep, style);
    r->foreign = wildcard_text(l->ep.v6, style);
    r->state = ts_state_spelled(TS_LISTEN, style);
}

void row_clear(sk_row *r)
{
    g_free(r->proto);
    g_free(r->local);
    g_free(r->foreign);
}

void ts_sockets_register(void)
{
    sk_register_tshark();
    sk_register_gui();
}
