/*
 * The printing floor (Wireshark 4.2+): a stand-in "tcpstate" post-dissector
 * that does no work of its own. On every TCP frame it adds what the benchmark
 * asks tcpstate to show - the protocol item and, where asked for (printed,
 * filtered, or a visible tree), tcpstate.client.state, tcpstate.server.state
 * and tcpstate.phase with constant values - and nothing else: no header
 * reading, no state machine, no per-frame record. Timed with bench.py in
 * place of the plugin (--plugin-dir), its A/B is what Wireshark itself costs
 * to make, print or filter, and free those items: a lower bound for any
 * plugin that prints those fields. Not a plugin to install.
 *
 * FLOOR_KIND says what the fields are (bench/RESULTS.md, Tenth look): 0 the
 * strings tcpstate prints; 1 FT_UINT8 with a value_string (tshark -T fields
 * then prints the number, not the name); 2 no field at all, only the
 * protocol item (the fields stay registered, so -e and -Y on them parse).
 *
 *   bench/print_floor.sh OUT_DIR [KIND]   (builds OUT_DIR/<major.minor>/epan/tcpstate.so)
 */
#define WS_BUILD_DLL
#include <wireshark.h>

#include <epan/packet.h>
#include <epan/proto.h>

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = "0.0.0";
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

static int proto_floor = -1;
static int hf_client = -1, hf_server = -1, hf_phase = -1;
static gint ett_floor = -1;
static dissector_handle_t floor_handle;

#ifndef FLOOR_KIND
#define FLOOR_KIND 0
#endif

#if FLOOR_KIND == 1
static const value_string state_vals[] = {
    {0, "CLOSED"}, {1, "LISTEN"}, {2, "SYN-SENT"}, {3, "SYN-RECEIVED"}, {4, "ESTABLISHED"},
    {5, "FIN-WAIT-1"}, {6, "FIN-WAIT-2"}, {7, "CLOSE-WAIT"}, {8, "CLOSING"}, {9, "LAST-ACK"},
    {10, "TIME-WAIT"}, {0, NULL}};
static const value_string phase_vals[] = {
    {1, "Handshake"}, {2, "Data"}, {3, "Teardown"}, {4, "Reset"}, {5, "Closed"}, {0, NULL}};
#define FIELD_TYPE FT_UINT8, BASE_DEC
#define STATE_VALS VALS(state_vals)
#define PHASE_VALS VALS(phase_vals)
#define ESTABLISHED 4
#define DATA 2
static void add(proto_tree *tree, int hf, tvbuff_t *tvb, guint32 value)
{
    if (proto_field_is_referenced(tree, hf))
        proto_item_set_generated(proto_tree_add_uint(tree, hf, tvb, 0, 0, value));
}
#elif FLOOR_KIND == 0
#define FIELD_TYPE FT_STRING, BASE_NONE
#define STATE_VALS NULL
#define PHASE_VALS NULL
#define ESTABLISHED "ESTABLISHED"
#define DATA "Data"
static void add(proto_tree *tree, int hf, tvbuff_t *tvb, const char *value)
{
    if (proto_field_is_referenced(tree, hf))
        proto_item_set_generated(proto_tree_add_string(tree, hf, tvb, 0, 0, value));
}
#else
#define FIELD_TYPE FT_STRING, BASE_NONE
#define STATE_VALS NULL
#define PHASE_VALS NULL
#endif

static int dissect_floor(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    if (pinfo->ptype != PT_TCP)
        return 0;
    if (tree != NULL) {
        proto_item *top = proto_tree_add_item(tree, proto_floor, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(top);
#if FLOOR_KIND != 2
        proto_tree *st = proto_item_add_subtree(top, ett_floor);
        add(st, hf_client, tvb, ESTABLISHED);
        add(st, hf_server, tvb, ESTABLISHED);
        add(st, hf_phase, tvb, DATA);
#endif
    }
    return tvb_captured_length(tvb);
}

static void register_floor(void)
{
    static hf_register_info hf[] = {
        {&hf_client, {"Client state", "tcpstate.client.state", FIELD_TYPE, STATE_VALS, 0x0, NULL, HFILL}},
        {&hf_server, {"Server state", "tcpstate.server.state", FIELD_TYPE, STATE_VALS, 0x0, NULL, HFILL}},
        {&hf_phase, {"Phase", "tcpstate.phase", FIELD_TYPE, PHASE_VALS, 0x0, NULL, HFILL}},
    };
    static gint *ett[] = {&ett_floor};
    proto_floor = proto_register_protocol("TCP Connection State (printing floor)", "TCPSTATE", "tcpstate");
    proto_register_field_array(proto_floor, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    floor_handle = create_dissector_handle(dissect_floor, proto_floor);
}

static void handoff_floor(void)
{
    register_postdissector(floor_handle);
}

void plugin_register(void)
{
    static proto_plugin plugin;
    plugin.register_protoinfo = register_floor;
    plugin.register_handoff = handoff_floor;
    proto_register_plugin(&plugin);
}
