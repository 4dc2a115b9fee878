/*
 * The "TCP Connection States" stats tree (GUI: Statistics menu; tshark:
 * -z tcpstate,tree), fed by the "tcpstate" tap.
 *
 * The post-dissector queues tap data on every pass from the stored record
 * (with -2, taps run in the second pass only), so the tree is the same in one
 * pass and two. Per-connection counts (outcome, final state pair) follow each
 * connection's summary: in one pass a connection moves from node to node as
 * its summary grows (S0 -> S1 -> SF) and ends counted once, under its final
 * values; nodes it left stay with a count of 0.
 *
 * One pass says "so far": "State transitions" and "Anomalies" count what each
 * segment showed when it was dissected. When a later segment's hindsight
 * rewrites earlier frames (tcpstate.corrects), the transitions those frames
 * showed stay counted; the correcting segment adds a tcpstate.expert.corrects
 * anomaly. With -2 (and in the GUI, which dissects again) every row counts the
 * corrected, final annotation; tests/batch/check_stats.py checks the two-pass
 * transition rows against the per-frame fields.
 */
#include "tcpstate_plugin.h"

#include <epan/stats_tree.h>
#include <epan/tap.h>

static int ts_tap = -1;

typedef struct ts_tap_data {
    uint32_t frame;
    ts_frame_record rec;
} ts_tap_data;

void ts_stats_register_tap(void)
{
    ts_tap = register_tap("tcpstate");
}

void ts_stats_queue(packet_info *pinfo, const ts_frame_record *rec)
{
    if (ts_tap < 0 || rec == NULL || !have_tap_listener(ts_tap))
        return;
    ts_tap_data *d = wmem_new(pinfo->pool, ts_tap_data);
    d->frame = pinfo->num;
    d->rec = *rec;
    tap_queue_packet(ts_tap, pinfo, d);
}

/* ---- the tree ----------------------------------------------------------------- */

static const char *const node_outcome = "Connections by outcome (Zeek conn_state)";
static const char *const node_pair = "Connections by final state (client, server)";
static const char *const node_phase = "Segments by phase";
static const char *const node_transition = "State transitions";
static const char *const node_anomaly = "Anomalies (expert infos)";

static int id_outcome, id_pair, id_phase, id_transition, id_anomaly;

/* What each connection is counted under, (code << 16 | client << 8 | server) + 1:
 * by conn for the first Zeek connection of each (a guint each), in a hash by
 * conn << 32 | zeek_index for the rare later ones. */
static GArray     *counted_first;
static GHashTable *counted;

static void stats_init(stats_tree *st)
{
    id_outcome = stats_tree_create_node(st, node_outcome, 0, STAT_DT_INT, TRUE);
    id_pair = stats_tree_create_node(st, node_pair, 0, STAT_DT_INT, TRUE);
    id_phase = stats_tree_create_node(st, node_phase, 0, STAT_DT_INT, TRUE);
    id_transition = stats_tree_create_node(st, node_transition, 0, STAT_DT_INT, TRUE);
    id_anomaly = stats_tree_create_node(st, node_anomaly, 0, STAT_DT_INT, TRUE);
    if (counted != NULL)
        g_hash_table_destroy(counted);
    counted = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    if (counted_first != NULL)
        g_array_free(counted_first, TRUE);
    counted_first = g_array_new(FALSE, TRUE, sizeof(guint));
}

static void stats_cleanup(stats_tree *st _U_)
{
    if (counted != NULL)
        g_hash_table_destroy(counted);
    counted = NULL;
    if (counted_first != NULL)
        g_array_free(counted_first, TRUE);
    counted_first = NULL;
}

static char *outcome_name(guint code)
{
    return g_strdup_printf("%s: %s", ts_conn_code_name((ts_conn_code)code),
                           ts_conn_code_meaning((ts_conn_code)code));
}

static char *pair_name(guint client, guint server)
{
    return g_strdup_printf("client %s, server %s", ts_state_name((ts_state)client),
                           ts_state_name((ts_state)server));
}

/* One count per Zeek connection: a tcp.stream holds more than one when Zeek
 * would start a new connection in it (ts_summary zeek_index). */
static void count_connection(stats_tree *st, uint32_t conn_id, const ts_summary *s)
{
    guint code = ts_summary_conn_state(s);
    guint client = s->final_state[TS_CLIENT], server = s->final_state[TS_SERVER];
    guint now = (code << 16 | client << 8 | server) + 1;
    guint before;
    if (s->zeek_index == 0) {
        if (conn_id >= counted_first->len)
            g_array_set_size(counted_first, conn_id + 1);
        guint *slot = &g_array_index(counted_first, guint, conn_id);
        before = *slot;
        if (before == now)
            return; /* the usual packet */
        *slot = now;
    } else {
        guint64 key = (guint64)conn_id << 32 | s->zeek_index;
        before = GPOINTER_TO_UINT(g_hash_table_lookup(counted, &key));
        if (before == now)
            return;
        g_hash_table_insert(counted, g_memdup2(&key, sizeof key), GUINT_TO_POINTER(now));
    }
    char *name;
    if (before == 0) {
        tick_stat_node(st, node_outcome, 0, TRUE);
        tick_stat_node(st, node_pair, 0, TRUE);
    } else {
        guint old = before - 1;
        if ((old >> 16) != code) {
            name = outcome_name(old >> 16);
            increase_stat_node(st, name, id_outcome, FALSE, -1);
            g_free(name);
        }
        if ((old & 0xffff) != ((now - 1) & 0xffff)) {
            name = pair_name((old >> 8) & 0xff, old & 0xff);
            increase_stat_node(st, name, id_pair, FALSE, -1);
            g_free(name);
        }
    }
    if (before == 0 || ((before - 1) >> 16) != code) {
        name = outcome_name(code);
        tick_stat_node(st, name, id_outcome, FALSE);
        g_free(name);
    }
    if (before == 0 || ((before - 1) & 0xffff) != ((now - 1) & 0xffff)) {
        name = pair_name(client, server);
        tick_stat_node(st, name, id_pair, FALSE);
        g_free(name);
    }
}

static void count_anomalies(stats_tree *st, const ts_tap_data *d)
{
    const ts_frame_record *rec = &d->rec;
    const ts_frame_extra *extra =
        (rec->conn != 0 && (rec->flags & TS_REC_HAS_EXTRA)) ? ts_store_extra(d->frame) : NULL;
    uint32_t anomalies = ts_anomalies(rec, extra); /* the expert infos the tree adds (anomalies.c) */
    for (unsigned k = 0; k < TS_ANOMALY_COUNT; k++) {
        if (anomalies & TS_ANOMALY_BIT(k)) {
            tick_stat_node(st, node_anomaly, 0, TRUE);
            tick_stat_node(st, ts_anomaly_filter((ts_anomaly)k), id_anomaly, FALSE);
        }
    }
}

static tap_packet_status stats_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                                      const void *p, tap_flags_t flags _U_)
{
    const ts_tap_data *d = (const ts_tap_data *)p;
    const ts_frame_record *rec = &d->rec;
    count_anomalies(st, d);
    if (rec->conn == 0)
        return TAP_PACKET_REDRAW;

    tick_stat_node(st, node_phase, 0, TRUE);
    tick_stat_node(st, ts_phase_name((ts_phase)ts_rec_phase(rec)), id_phase, FALSE);

    const uint8_t packed[2] = {rec->client, rec->server};
    for (int role = 0; role < 2; role++) {
        uint8_t prev = ts_rec_prev(packed[role]), next = ts_rec_next(packed[role]);
        if (prev == next)
            continue;
        char *name = g_strdup_printf("%s %s -> %s", ts_role_name((ts_role)role), ts_state_name((ts_state)prev),
                                     ts_state_name((ts_state)next));
        tick_stat_node(st, node_transition, 0, TRUE);
        tick_stat_node(st, name, id_transition, FALSE);
        g_free(name);
    }

    const ts_conn_entry *conn = ts_store_conn(rec->conn);
    if (conn != NULL && conn->summary.started)
        count_connection(st, rec->conn, ts_store_summary(conn, d->frame));
    return TAP_PACKET_REDRAW;
}

static void register_stats_tree(void)
{
    stats_tree_register_plugin("tcpstate", "tcpstate", "TCP Connection States", 0, stats_packet, stats_init,
                               stats_cleanup);
    ts_sockets_register();
}

void ts_stats_register_plugin(void)
{
    static tap_plugin plugin;
    plugin.register_tap_listener = register_stats_tree;
    tap_register_plugin(&plugin);
}
