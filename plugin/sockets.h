/*
 * The socket table's model (sockets.c), shared with its two outputs: tshark's
 * text (sockets_tshark.c, -z tcpstate,sockets) and the GUI's table
 * (sockets_gui.c, Statistics > TCP Sockets). What the model lists and why:
 * sockets.c.
 */
#ifndef TCPSTATE_SOCKETS_H
#define TCPSTATE_SOCKETS_H

#include "tcpstate_plugin.h"

#include <epan/stat_tap_ui.h>

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

typedef struct sk_row {
    const char *host;
    char       *proto, *local, *foreign;
    const char *state;
} sk_row;

/* sockets.c */
sk_view *view_new(const char *filter);
void view_clear(sk_view *v);
void look_ahead(sk_view *v);
gboolean side_listed(const sk_view *v, const sk_conn *c, int role);
gboolean listener_listed(const sk_listener *l);
void view_advance(sk_view *v, packet_info *pinfo);
void row_of_conn(sk_row *r, const sk_conn *c, int role, ts_spelling style);
void row_of_listener(sk_row *r, const sk_listener *l, ts_spelling style);
void row_clear(sk_row *r);

/* sockets_gui.c */
void rows_sync_conn(sk_view *v, sk_conn *c);
void rows_sync_listener(sk_view *v, sk_listener *l);

/* sockets_tshark.c, sockets_gui.c */
void sk_register_tshark(void);
void sk_register_gui(void);

#endif /* TCPSTATE_SOCKETS_H */
