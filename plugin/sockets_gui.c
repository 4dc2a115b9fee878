/*
 * The socket table in the GUI: Statistics > TCP Sockets (netstat), a
 * stat_tap_table with the display-filter box statistics dialogs have (the
 * model: sockets.c).
 */
#include "sockets.h"

#include <string.h>

#include <epan/tap.h>

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

void rows_sync_conn(sk_view *v, sk_conn *c)
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

void rows_sync_listener(sk_view *v, sk_listener *l)
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

void sk_register_gui(void)
{
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
