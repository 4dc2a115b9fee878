/*
 * tcpstate: per-segment TCP connection phase and both ends' RFC 9293 states.
 *
 * A post-dissector in the pattern of Wireshark's transum plugin: on the first
 * pass it reads the TCP fields it asked for, runs the core state machine and
 * stores a record per frame; every later dissection (GUI click, refilter,
 * tshark -2, -V) draws from the stored record only.
 */
#define WS_BUILD_DLL
#include "tcpstate_plugin.h"

#include <wireshark.h>

#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto.h>

#ifndef VERSION
#define VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);
#if TS_HAVE_PLUGIN_DESCRIBE
WS_DLL_PUBLIC uint32_t plugin_describe(void);
#endif

static int proto_tcpstate = -1;
static dissector_handle_t tcpstate_handle;

gint ts_pref_spelling = TS_SPELL_RFC9293;
gint ts_pref_time_wait_s = 60;
ts_pref_bool ts_pref_hindsight = TRUE;
ts_pref_bool ts_pref_info_column = FALSE;
guint ts_pref_hot_connections = 2048;
gboolean ts_later_pass;

static const enum_val_t spelling_values[] = {
    {"rfc9293", "RFC 9293 (SYN-RECEIVED, TIME-WAIT)", TS_SPELL_RFC9293},
    {"ss", "Linux ss (SYN-RECV, ESTAB, UNCONN)", TS_SPELL_LINUX_SS},
    {"linux-netstat", "Linux netstat (SYN_RECV, FIN_WAIT1)", TS_SPELL_LINUX_NETSTAT},
    {"bsd-netstat", "macOS/BSD netstat (SYN_RCVD, FIN_WAIT_1)", TS_SPELL_BSD_NETSTAT},
    {"windows-netstat", "Windows netstat (LISTENING, SYN_RECEIVED)", TS_SPELL_WINDOWS_NETSTAT},
    {NULL, NULL, 0},
};

static const enum_val_t headers_values[] = {
    {"bytes", "Read from the frame and the data Wireshark decrypted or reassembled (fast; any encapsulation)",
     TS_HEADERS_FROM_BYTES},
    {"fields", "Ask Wireshark's TCP/IP fields (slower; any encapsulation Wireshark dissects)",
     TS_HEADERS_FROM_FIELDS},
    {NULL, NULL, 0},
};

static const enum_val_t time_wait_values[] = {
    {"linux", "Linux: 60 s", 60},
    {"rfc", "RFC 9293: 2*MSL = 240 s", 240},
    {NULL, NULL, 0},
};

static int dissect_tcpstate(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    const ts_frame_record *rec;
    if (!PINFO_FD_VISITED(pinfo)) {
        ts_extracted x;
        if (!ts_extract(tvb, pinfo, tree, &x))
            return 0;
        if (x.quoted_only)
            ts_store_mark(pinfo->num, TS_REC_QUOTED);
        else if (x.unparsed)
            ts_store_mark(pinfo->num, TS_REC_UNPARSED);
        else if (x.incomplete)
            ts_store_mark(pinfo->num, TS_REC_INCOMPLETE);
        else
            ts_store_segment(pinfo->num, &x);
    } else {
        ts_later_pass = TRUE;
    }
    rec = ts_store_record(pinfo->num);
    if (rec == NULL)
        return 0;
    ts_stats_queue(pinfo, rec); /* every pass: with -2 taps run in the second only */
    if (ts_pref_info_column)
        ts_render_info_column(pinfo, rec);
    if (tree != NULL)
        ts_render(tvb, pinfo, tree, pinfo->num, rec);
    return tvb_captured_length(tvb);
}

/* Runs before each file is dissected, after the user's enabled-protocols
 * settings and preferences apply. Wanted fields make Wireshark build a
 * protocol tree, with those fields as real items, on every frame, even when
 * nothing else needs one (Wireshark 4.0's postdissectors_want_hfids() does
 * not ask whether the postdissector is enabled): only the fields preference
 * of an enabled tcpstate asks for any. set_postdissector_wanted_hfids() frees
 * the previous array. */
static void init_tcpstate(void)
{
    gboolean enabled = proto_is_protocol_enabled(find_protocol_by_id(proto_tcpstate));
    set_postdissector_wanted_hfids(tcpstate_handle, enabled ? ts_extract_wanted_fields() : NULL);
    ts_store_init();
    ts_extract_bytes_new_file();
    ts_later_pass = FALSE;
}

static void proto_register_tcpstate(void)
{
    proto_tcpstate = proto_register_protocol("TCP Connection State", "TCPSTATE", "tcpstate");
    ts_render_register(proto_tcpstate);
    ts_conn_register(proto_tcpstate);

    module_t *prefs = prefs_register_protocol(proto_tcpstate, NULL);
    prefs_register_enum_preference(prefs, "spelling", "Spell states as",
                                   "How states are written in the tree and summary. Filters always use the "
                                   "RFC 9293 names (tcpstate.client.state == \"TIME-WAIT\").",
                                   &ts_pref_spelling, spelling_values, FALSE);
    prefs_register_enum_preference(prefs, "headers", "Find TCP/IP headers",
                                   "bytes: read them from the frame, guided by the protocols Wireshark "
                                   "dissected, or, under an encapsulation that walk does not know (Geneve, "
                                   "MPLS, PPP, IP fragments, decrypted WireGuard...), found by the addresses "
                                   "and ports Wireshark gives the segment; costs almost nothing. fields: ask "
                                   "Wireshark for its TCP/IP fields; the same segments, but every frame gets "
                                   "a protocol tree (slower).",
                                   &ts_pref_headers, headers_values, FALSE);
    prefs_register_enum_preference(prefs, "time_wait", "TIME-WAIT length",
                                   "How long a side stays in TIME-WAIT: when it leaves, and whether a later SYN "
                                   "still finds it there.",
                                   &ts_pref_time_wait_s, time_wait_values, FALSE);
    prefs_register_bool_preference(prefs, "hindsight", "Use hindsight on later passes",
                                   "When a later segment shows that an earlier one never arrived (or arrived "
                                   "late), show the corrected states in two-pass dissection (GUI, tshark -2). "
                                   "Off: every pass shows what was known when each segment was captured.",
                                   &ts_pref_hindsight);
    prefs_register_bool_preference(prefs, "info_column", "Both states at the start of the Info column",
                                   "Put \"[client FIN-WAIT-1, server CLOSE-WAIT]\" (in the chosen spelling) "
                                   "at the start of the Info column of every annotated segment, so that "
                                   "Statistics > Flow Graph (All Flows) and tshark -z flow,any,... label every "
                                   "arrow with both states (the Flow Graph cuts a label to its arrow's width). "
                                   "Changes no tcpstate field.",
                                   &ts_pref_info_column);
    prefs_register_uint_preference(prefs, "hot_connections", "Connections kept uncompressed",
                                   "The most recently active connections are kept as they are; the others are "
                                   "compressed (liblz4) until their next segment. More costs memory on captures "
                                   "with many connections at once and saves a little time. Taken between 1 and 1048576. "
                                   "Changes no annotation.",
                                   10, &ts_pref_hot_connections);

    register_init_routine(init_tcpstate);
    register_cleanup_routine(ts_store_cleanup);
    register_shutdown_routine(ts_extract_bytes_shutdown);
    tcpstate_handle = create_dissector_handle(dissect_tcpstate, proto_tcpstate);
}

static void proto_reg_handoff_tcpstate(void)
{
    register_postdissector(tcpstate_handle);
    ts_extract_init();
}

#if TS_HAVE_PLUGIN_DESCRIBE
/* What `tshark -G plugins` and About > Plugins list as the plugin's type. */
uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif

void plugin_register(void)
{
    static proto_plugin plugin;
    plugin.register_protoinfo = proto_register_tcpstate;
    plugin.register_handoff = proto_reg_handoff_tcpstate;
    proto_register_plugin(&plugin);
    ts_stats_register_plugin();
}
