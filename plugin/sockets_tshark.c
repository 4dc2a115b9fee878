/*
 * The socket table in tshark: -z tcpstate,sockets[,FILTER] prints, host by
 * host, what netstat would list right after the last frame FILTER passes
 * (the model: sockets.c).
 */
#include "sockets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <epan/tap.h>

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

void sk_register_tshark(void)
{
    static stat_tap_ui cli_ui = {REGISTER_STAT_GROUP_GENERIC, NULL, "tcpstate,sockets", cli_init, 0, NULL};
    register_stat_tap_ui(&cli_ui, NULL);
}
