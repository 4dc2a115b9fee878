/* Names of states, phases and roles, in the spellings people meet them in. */
#include "tcpstate/tcpstate.h"

#include <stddef.h>

/* One row per state; columns follow ts_spelling. Sources: RFC 9293 3.3.2;
 * iproute2 ss (sstate_name); net-tools netstat (tcp_state); macOS/BSD netstat
 * (tcpstates[] in netinet/tcp_fsm.h, the spelling the seed article shows);
 * Windows netstat (MIB_TCP_STATE display names). */
static const char *const spellings[TS_STATE_COUNT][TS_SPELL_COUNT] = {
    [TS_CLOSED]       = {"CLOSED", "UNCONN", "CLOSE", "CLOSED", "CLOSED"},
    [TS_LISTEN]       = {"LISTEN", "LISTEN", "LISTEN", "LISTEN", "LISTENING"},
    [TS_SYN_SENT]     = {"SYN-SENT", "SYN-SENT", "SYN_SENT", "SYN_SENT", "SYN_SENT"},
    [TS_SYN_RECEIVED] = {"SYN-RECEIVED", "SYN-RECV", "SYN_RECV", "SYN_RCVD", "SYN_RECEIVED"},
    [TS_ESTABLISHED]  = {"ESTABLISHED", "ESTAB", "ESTABLISHED", "ESTABLISHED", "ESTABLISHED"},
    [TS_FIN_WAIT_1]   = {"FIN-WAIT-1", "FIN-WAIT-1", "FIN_WAIT1", "FIN_WAIT_1", "FIN_WAIT_1"},
    [TS_FIN_WAIT_2]   = {"FIN-WAIT-2", "FIN-WAIT-2", "FIN_WAIT2", "FIN_WAIT_2", "FIN_WAIT_2"},
    [TS_CLOSE_WAIT]   = {"CLOSE-WAIT", "CLOSE-WAIT", "CLOSE_WAIT", "CLOSE_WAIT", "CLOSE_WAIT"},
    [TS_CLOSING]      = {"CLOSING", "CLOSING", "CLOSING", "CLOSING", "CLOSING"},
    [TS_LAST_ACK]     = {"LAST-ACK", "LAST-ACK", "LAST_ACK", "LAST_ACK", "LAST_ACK"},
    [TS_TIME_WAIT]    = {"TIME-WAIT", "TIME-WAIT", "TIME_WAIT", "TIME_WAIT", "TIME_WAIT"},
};

const char *ts_state_spelled(ts_state state, ts_spelling spelling)
{
    if ((unsigned)state >= TS_STATE_COUNT)
        return "?";
    if ((unsigned)spelling >= TS_SPELL_COUNT)
        spelling = TS_SPELL_RFC9293;
    return spellings[state][spelling];
}

const char *ts_state_name(ts_state state)
{
    return ts_state_spelled(state, TS_SPELL_RFC9293);
}

const char *ts_phase_name(ts_phase phase)
{
    static const char *const names[TS_PHASE_COUNT] = {
        [TS_PHASE_NONE] = "None",           [TS_PHASE_HANDSHAKE] = "Handshake",
        [TS_PHASE_DATA] = "Data",           [TS_PHASE_TEARDOWN] = "Teardown",
        [TS_PHASE_RESET] = "Reset",         [TS_PHASE_CLOSED] = "Closed",
    };
    if ((unsigned)phase >= TS_PHASE_COUNT)
        return "?";
    return names[phase];
}

const char *ts_role_name(ts_role role)
{
    return role == TS_SERVER ? "server" : "client";
}
