/*
 * The socket table: what `netstat -a -n` (or `ss -tan`) would list on each
 * host at one moment of the capture.
 *
 *   tshark: -z tcpstate,sockets[,FILTER]   (sockets_cli_*, netstat's layout)
 *   GUI:    Statistics > TCP Sockets (netstat)  (a stat_tap_table: the
 *           statistics dialog with its display-filter box)
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
#include "tcpstate_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <epan/stat_tap_ui.h>
#include <epan/tap.h>

/* ---- the model ----------------------------------------------------------------- */

typedef struct sk_endpoint {
    char    *addr; /* text, without brackets */
    char    *port; /* text */
    gboolean v6;
} sk_endpoint;

typedef struct sk_conn {
    sk_endpoint ep[2];       /* by role */
    uint8_t     state[2];    /* by role, after the last folded segment */
    int64_t     tw_end[2];   /* by role: when TIME-WAIT ends (0: unknown) */
    gboolean    replaced;    /* a newer connection took its 4-tuple */
    int         row[2];      /* GUI table row, -1 when not shown */
} sk_conn;

typedef struct sk_listener {
    sk_endpoint ep;
    int         evidence; /* latest up to the moment: 1 listening, 0 refused, -1 none */
    int         first;    /* hindsight: the capture's first evidence, -1 none */
    int         row;
} sk_listener;

typedef struct sk_view {
    uint32_t    cursor;     /* frames 1..cursor are folded in */
    gboolean    have_moment;
    uint32_t    moment;     /* the last frame FILTER passed */
    nstime_t    moment_rel; /* its time since the first frame */
    int64_t     moment_ns;  /* its absolute time */
    gboolean    hindsight;  /* a later pass with the hindsight preference on */
    gboolean    looked_ahead;
    GHashTable *conns;      /* conn id -> sk_conn* */
    GHashTable *tuples;     /* "addr port addr port" (sorted) -> sk_conn* (newest) */
    GHashTable *listeners;  /* "addr port" -> sk_listener* */
    GPtrArray  *conn_order; /* sk_conn*, in the order they appeared */
    GPtrArray  *listener_order;
    char       *filter;
    stat_tap_table *table;  /* GUI only: the rows kept in step with the model */
    GPtrArray  *row_owner;  /* GUI only: row -> int* (an sk_conn's or sk_listener's row slot) */
    GPtrArray  *spare_rows; /* GUI only: row arrays no longer shown, reused in place */
    GQueue      tw_queue;   /* GUI only: sk_tw, TIME-WAIT ends still ahead of the moment */
} sk_view;

typedef struct sk_tw {
    sk_conn *conn;
    int64_t  end;
} sk_tw;

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

static sk_view *view_new(const char *filter)
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
static void view_clear(sk_view *v)
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

static void rows_sync_conn(sk_view *v, sk_conn *c);
static void rows_sync_listener(sk_view *v, sk_listener *l);

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
static void look_ahead(sk_view *v)
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

static gboolean side_listed(const sk_view *v, const sk_conn *c, int role)
{
    uint8_t s = c->state[role];
    if (c->replaced || s == TS_CLOSED || s == TS_LISTEN)
        return FALSE;
    if (s == TS_TIME_WAIT && c->tw_end[role] != 0 && v->have_moment && v->moment_ns >= c->tw_end[role])
        return FALSE; /* 2*MSL has passed at the moment: the TCB is deleted (RFC 9293 3.10.7.4) */
    return TRUE;
}

static gboolean listener_listed(const sk_listener *l)
{
    if (l->evidence >= 0)
        return l->evidence == 1;
    return l->first == 1;
}

/* The moment moves to frame `frame` (FILTER passed it): fold in every frame up to it. */
static void view_advance(sk_view *v, packet_info *pinfo)
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

typedef struct sk_row {
    const char *host;
    char       *proto, *local, *foreign;
    const char *state;
} sk_row;

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

static void row_of_conn(sk_row *r, const sk_conn *c, int role, ts_spelling style)
{
    r->host = c->ep[role].addr;
    r->proto = proto_text(c->ep[role].v6, style);
    r->local = address_text(&c->ep[role], style);
    r->foreign = address_text(&c->ep[1 - role], style);
    r->state = ts_state_spelled((ts_state)c->state[role], style);
}

static void row_of_listener(sk_row *r, const sk_listener *l, ts_spelling style)
{
    r->host = l->ep.addr;
    r->proto = proto_text(l->ep.v6, style);
    r->local = address_text(&l->ep, style);
    r->foreign = wildcard_text(l->ep.v6, style);
    r->state = ts_state_spelled(TS_LISTEN, style);
}

static void row_clear(sk_row *r)
{
    g_free(r->proto);
    g_free(r->local);
    g_free(r->foreign);
}

/* ---- tshark: -z tcpstate,sockets[,FILTER] ------------------------------------- */

static GPtrArray *cli_views; /* sk_view*, in the order of the -z options */

static int compare_host(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The rows of one host, as that host's tool would print them (no Recv-Q/Send-Q:
 * a capture does not show what the applications have not read or the kernel
 * has not sent). */
static void print_host(const sk_view *v, const char *host, ts_spelling style)
{
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(sk_row));
    for (guint i = 0; i < v->listener_order->len; i++) {
        const sk_listener *l = (const sk_listener *)g_ptr_array_index(v->listener_order, i);
        if (listener_listed(l) && strcmp(l->ep.addr, host) == 0) {
            sk_row r;
            row_of_listener(&r, l, style);
            g_array_append_val(rows, r);
        }
    }
    for (guint i = 0; i < v->conn_order->len; i++) {
        const sk_conn *c = (const sk_conn *)g_ptr_array_index(v->conn_order, i);
        for (int role = 0; role < 2; role++) {
            if (side_listed(v, c, role) && strcmp(c->ep[role].addr, host) == 0) {
                sk_row r;
                row_of_conn(&r, c, role, style);
                g_array_append_val(rows, r);
            }
        }
    }
    int wl = 22, wf = 22;
    for (guint i = 0; i < rows->len; i++) {
        const sk_row *r = &g_array_index(rows, sk_row, i);
        wl = MAX(wl, (int)strlen(r->local));
        wf = MAX(wf, (int)strlen(r->foreign));
    }
    printf("Host %s\n", host);
    switch (style) {
    case TS_SPELL_BSD_NETSTAT:
        printf("Active Internet connections (including servers)\n");
        printf("%-5s %-*s %-*s %s\n", "Proto", wl, "Local Address", wf, "Foreign Address", "(state)");
        break;
    case TS_SPELL_LINUX_NETSTAT:
        printf("Active Internet connections (servers and established)\n");
        printf("%-5s %-*s %-*s %s\n", "Proto", wl, "Local Address", wf, "Foreign Address", "State");
        break;
    case TS_SPELL_LINUX_SS:
        printf("%-5s %-10s %-*s %s\n", "Netid", "State", wl, "Local Address:Port", "Peer Address:Port");
        break;
    case TS_SPELL_WINDOWS_NETSTAT:
        printf("\nActive Connections\n\n");
        printf("  %-6s %-*s %-*s %s\n", "Proto", wl, "Local Address", wf, "Foreign Address", "State");
        break;
    default:
        printf("%-5s %-*s %-*s %s\n", "Proto", wl, "Local Address", wf, "Foreign Address", "State");
        break;
    }
    for (guint i = 0; i < rows->len; i++) {
        sk_row *r = &g_array_index(rows, sk_row, i);
        if (style == TS_SPELL_LINUX_SS)
            printf("%-5s %-10s %-*s %s\n", r->proto, r->state, wl, r->local, r->foreign);
        else if (style == TS_SPELL_WINDOWS_NETSTAT)
            printf("  %-6s %-*s %-*s %s\n", r->proto, wl, r->local, wf, r->foreign, r->state);
        else
            printf("%-5s %-*s %-*s %s\n", r->proto, wl, r->local, wf, r->foreign, r->state);
        row_clear(r);
    }
    g_array_free(rows, TRUE);
}

static void print_view(sk_view *v)
{
    if (!v->looked_ahead) { /* no frame passed the filter */
        v->hindsight = ts_later_pass && ts_pref_hindsight;
        look_ahead(v);
    }
    ts_spelling style = (ts_spelling)ts_pref_spelling;
    printf("\n===================================================================\n");
    if (v->have_moment)
        printf("TCP sockets after frame %u (%ld.%09d s)", v->moment, (long)v->moment_rel.secs, v->moment_rel.nsecs);
    else
        printf("TCP sockets before the first frame (no frame passes the filter)");
    printf(", filter: %s, %s\n", v->filter != NULL && v->filter[0] != '\0' ? v->filter : "none",
           v->hindsight ? "two passes (hindsight)" : "one pass (what was known then)");
    /* Hosts: every local address with a listed socket, in address-text order. */
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *hosts = g_ptr_array_new();
    for (guint i = 0; i < v->listener_order->len; i++) {
        const sk_listener *l = (const sk_listener *)g_ptr_array_index(v->listener_order, i);
        if (listener_listed(l) && g_hash_table_add(seen, l->ep.addr))
            g_ptr_array_add(hosts, l->ep.addr);
    }
    for (guint i = 0; i < v->conn_order->len; i++) {
        const sk_conn *c = (const sk_conn *)g_ptr_array_index(v->conn_order, i);
        for (int role = 0; role < 2; role++)
            if (side_listed(v, c, role) && g_hash_table_add(seen, c->ep[role].addr))
                g_ptr_array_add(hosts, c->ep[role].addr);
    }
    g_ptr_array_sort(hosts, compare_host);
    if (hosts->len == 0)
        printf("(no TCP sockets)\n");
    for (guint i = 0; i < hosts->len; i++) {
        if (i > 0)
            printf("\n");
        print_host(v, (const char *)g_ptr_array_index(hosts, i), style);
    }
    printf("===================================================================\n");
    g_ptr_array_free(hosts, TRUE);
    g_hash_table_destroy(seen);
}

static tap_packet_status cli_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_,
                                    const void *data _U_, tap_flags_t flags _U_)
{
    view_advance((sk_view *)tapdata, pinfo);
    return TAP_PACKET_REDRAW;
}

static void cli_reset(void *tapdata)
{
    view_clear((sk_view *)tapdata);
}

/* tshark draws its listeners newest first; print every table once, in the
 * order of the -z options, at the first draw. */
static void cli_draw(void *tapdata _U_)
{
    static gboolean printed;
    if (printed || cli_views == NULL)
        return;
    printed = TRUE;
    for (guint i = 0; i < cli_views->len; i++)
        print_view((sk_view *)g_ptr_array_index(cli_views, i));
}

static ts_stat_init_result cli_init(const char *opt_arg, void *userdata _U_)
{
    const char *prefix = "tcpstate,sockets";
    const char *filter = NULL;
    size_t n = strlen(prefix);
    if (strncmp(opt_arg, prefix, n) != 0 || (opt_arg[n] != '\0' && opt_arg[n] != ',')) {
        fprintf(stderr, "tshark: invalid \"-z %s\": use -z tcpstate,sockets[,FILTER]\n", opt_arg);
        TS_STAT_INIT_FAILED();
    }
    if (opt_arg[n] == ',')
        filter = opt_arg + n + 1;
    sk_view *v = view_new(filter);
    GString *err = register_tap_listener("frame", v, filter, TL_REQUIRES_NOTHING, cli_reset, cli_packet, cli_draw,
                                         NULL);
    if (err != NULL) {
        fprintf(stderr, "tshark: Couldn't register tcpstate,sockets tap: %s\n", err->str);
        g_string_free(err, TRUE);
        TS_STAT_INIT_FAILED();
    }
    if (cli_views == NULL)
        cli_views = g_ptr_array_new();
    g_ptr_array_add(cli_views, v);
    TS_STAT_INIT_DONE();
}

/* ---- GUI: Statistics > TCP Sockets (netstat) ----------------------------------------- */

/* The GUI's simple statistics dialog shows stat_tap_table rows; it keeps a
 * pointer to each row's fields and only ever adds rows (it assumes a table
 * never shrinks). So the rows follow the model in place: a socket that leaves
 * gives its row to the last row's socket and the table is one row shorter;
 * the row it leaves stays allocated (spare_rows) for the next socket, at the
 * same index. A row can only stay on screen blank when a draw came between
 * (a long capture, redrawn while it is read). */

static sk_view *gui_view;

static stat_tap_table_item gui_fields[] = {
    {TABLE_ITEM_STRING, TAP_ALIGN_LEFT, "Host", "%s"},
    {TABLE_ITEM_STRING, TAP_ALIGN_LEFT, "Proto", "%s"},
    {TABLE_ITEM_STRING, TAP_ALIGN_LEFT, "Local Address", "%s"},
    {TABLE_ITEM_STRING, TAP_ALIGN_LEFT, "Foreign Address", "%s"},
    {TABLE_ITEM_STRING, TAP_ALIGN_LEFT, "State", "%s"},
};
#define GUI_NFIELDS ((guint)G_N_ELEMENTS(gui_fields))

static void row_fields_free(stat_tap_table_item_type *fields)
{
    for (guint i = 0; i < GUI_NFIELDS; i++) {
        g_free((char *)fields[i].value.string_value);
        fields[i].value.string_value = NULL;
    }
}

static void row_fields_set(stat_tap_table_item_type *fields, const sk_row *r)
{
    row_fields_free(fields);
    const char *text[GUI_NFIELDS] = {r->host, r->proto, r->local, r->foreign, r->state};
    for (guint i = 0; i < GUI_NFIELDS; i++) {
        fields[i].type = TABLE_ITEM_STRING;
        fields[i].value.string_value = g_strdup(text[i]);
    }
}

/* Shows (r != NULL) or hides the socket whose row slot is *slot. */
static void row_show(sk_view *v, int *slot, const sk_row *r)
{
    stat_tap_table *t = v->table;
    if (t == NULL)
        return;
    if (r != NULL) {
        if (*slot < 0) {
            guint i = t->num_elements;
            stat_tap_table_item_type *fields =
                v->spare_rows->len > 0 ? (stat_tap_table_item_type *)g_ptr_array_remove_index(v->spare_rows,
                                                                                                v->spare_rows->len - 1)
                                       : g_new0(stat_tap_table_item_type, GUI_NFIELDS);
            t->elements = (stat_tap_table_item_type **)g_realloc(t->elements, sizeof *t->elements * (i + 1));
            t->elements[i] = fields;
            t->num_elements = i + 1;
            g_ptr_array_set_size(v->row_owner, t->num_elements);
            *slot = (int)i;
        }
        row_fields_set(t->elements[*slot], r);
        v->row_owner->pdata[*slot] = slot;
        return;
    }
    if (*slot < 0)
        return;
    guint hole = (guint)*slot, last = t->num_elements - 1;
    *slot = -1;
    if (hole != last) {
        /* The last row's socket moves into the hole. */
        stat_tap_table_item_type tmp[GUI_NFIELDS];
        memcpy(tmp, t->elements[hole], sizeof tmp);
        memcpy(t->elements[hole], t->elements[last], sizeof tmp);
        memcpy(t->elements[last], tmp, sizeof tmp);
        int *moved = (int *)v->row_owner->pdata[last];
        *moved = (int)hole;
        v->row_owner->pdata[hole] = moved;
    }
    row_fields_free(t->elements[last]);
    for (guint i = 0; i < GUI_NFIELDS; i++) {
        t->elements[last][i].type = TABLE_ITEM_STRING;
        t->elements[last][i].value.string_value = g_strdup("");
    }
    g_ptr_array_add(v->spare_rows, t->elements[last]);
    t->elements[last] = NULL;
    t->num_elements = last;
    g_ptr_array_set_size(v->row_owner, t->num_elements);
}

static void rows_sync_conn(sk_view *v, sk_conn *c)
{
    if (v->table == NULL)
        return;
    for (int role = 0; role < 2; role++) {
        if (side_listed(v, c, role)) {
            sk_row r;
            row_of_conn(&r, c, role, (ts_spelling)ts_pref_spelling);
            row_show(v, &c->row[role], &r);
            row_clear(&r);
        } else {
            row_show(v, &c->row[role], NULL);
        }
    }
}

static void rows_sync_listener(sk_view *v, sk_listener *l)
{
    if (v->table == NULL)
        return;
    if (listener_listed(l)) {
        sk_row r;
        row_of_listener(&r, l, (ts_spelling)ts_pref_spelling);
        row_show(v, &l->row, &r);
        row_clear(&r);
    } else {
        row_show(v, &l->row, NULL);
    }
}

/* Frees every row, shown or spare (the dialog cleared its items first). */
static void gui_rows_free(sk_view *v)
{
    stat_tap_table *t = v->table;
    for (guint i = 0; i < t->num_elements; i++) {
        row_fields_free(t->elements[i]);
        g_free(t->elements[i]);
    }
    g_free(t->elements);
    t->elements = NULL;
    t->num_elements = 0;
    for (guint i = 0; i < v->spare_rows->len; i++) {
        row_fields_free((stat_tap_table_item_type *)g_ptr_array_index(v->spare_rows, i));
        g_free(g_ptr_array_index(v->spare_rows, i));
    }
    g_ptr_array_set_size(v->spare_rows, 0);
    g_ptr_array_set_size(v->row_owner, 0);
}

static void gui_init(stat_tap_table_ui *ui)
{
    if (gui_view == NULL) {
        gui_view = view_new(NULL);
        gui_view->row_owner = g_ptr_array_new();
        gui_view->spare_rows = g_ptr_array_new();
    }
    stat_tap_table *t = stat_tap_find_table(ui, "TCP sockets");
    if (t == NULL) {
        /* The last dialog freed its table and rows: start afresh. */
        for (guint i = 0; i < gui_view->spare_rows->len; i++) {
            row_fields_free((stat_tap_table_item_type *)g_ptr_array_index(gui_view->spare_rows, i));
            g_free(g_ptr_array_index(gui_view->spare_rows, i));
        }
        g_ptr_array_set_size(gui_view->spare_rows, 0);
        g_ptr_array_set_size(gui_view->row_owner, 0);
        gui_view->table = NULL;
        view_clear(gui_view);
        t = stat_tap_init_table("TCP sockets", GUI_NFIELDS, 0, NULL);
        stat_tap_add_table(ui, t);
    }
    gui_view->table = t;
}

/* Called for the table when the dialog starts a tap run (its items cleared). */
static void gui_reset(stat_tap_table *table)
{
    if (gui_view == NULL || gui_view->table != table)
        return;
    view_clear(gui_view);
    gui_rows_free(gui_view);
    /* A dialog's run is a later pass over a file already read: listeners the
     * capture proves are listed even when no frame passes the filter. */
    gui_view->hindsight = ts_pref_hindsight && ts_store_frame_limit() > 0;
    look_ahead(gui_view);
}

/* free_stat_tables() (the dialog closing) frees the rows; their strings are ours. */
static void gui_free_item(stat_tap_table *table _U_, guint row _U_, guint column _U_, stat_tap_table_item_type *field)
{
    if (field->type == TABLE_ITEM_STRING) {
        g_free((char *)field->value.string_value);
        field->value.string_value = NULL;
    }
}

static tap_packet_status gui_packet(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                    const void *data _U_, tap_flags_t flags _U_)
{
    if (gui_view == NULL || gui_view->table == NULL)
        return TAP_PACKET_DONT_REDRAW;
    view_advance(gui_view, pinfo);
    return TAP_PACKET_REDRAW;
}

void ts_sockets_register(void)
{
    static stat_tap_ui cli_ui = {REGISTER_STAT_GROUP_GENERIC, NULL, "tcpstate,sockets", cli_init, 0, NULL};
    register_stat_tap_ui(&cli_ui, NULL);

    static tap_param gui_params[] = {{PARAM_FILTER, "filter", "Filter", NULL, TRUE}};
    /* The group the stats tree plugins get: the Statistics menu's last entries. */
    static stat_tap_table_ui gui_ui = {
        REGISTER_PACKET_STAT_GROUP_UNSORTED,
        "TCP Sockets (netstat)",
        "frame",
        "tcpstate,socket-table",
        gui_init,
        gui_packet,
        gui_reset,
        gui_free_item,
        NULL,
        G_N_ELEMENTS(gui_fields),
        gui_fields,
        G_N_ELEMENTS(gui_params),
        gui_params,
        NULL,
        0,
    };
    register_stat_tap_table_ui(&gui_ui);
}
