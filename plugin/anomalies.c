/*
 * The anomalies tcpstate reports as expert infos, in one table: the tree
 * (render.c) adds them and the statistics (stats.c) count them, both from
 * ts_anomalies(), so the two cannot drift apart (they once did: "headers not
 * parsed" was an expert info in the tree that the statistics never counted).
 */
#include "tcpstate_plugin.h"

#include <epan/expert.h>

#define EI(k) [k] = EI_INIT
expert_field ts_anomaly_ei[TS_ANOMALY_COUNT] = {
    EI(TS_ANOMALY_REFUSED), EI(TS_ANOMALY_SIMULTANEOUS_OPEN), EI(TS_ANOMALY_SIMULTANEOUS_CLOSE),
    EI(TS_ANOMALY_INFERRED_LOST), EI(TS_ANOMALY_CROSSED), EI(TS_ANOMALY_CORRECTS),
    EI(TS_ANOMALY_DATA_AFTER_FIN), EI(TS_ANOMALY_RST_IGNORED), EI(TS_ANOMALY_RST_CHALLENGE),
    EI(TS_ANOMALY_SYNACK_BAD_ACK), EI(TS_ANOMALY_REOPEN_TIME_WAIT), EI(TS_ANOMALY_AFTER_CLOSE),
    EI(TS_ANOMALY_UNEXPECTED), EI(TS_ANOMALY_ASSUMED), EI(TS_ANOMALY_QUOTED), EI(TS_ANOMALY_INCOMPLETE),
    EI(TS_ANOMALY_UNPARSED), EI(TS_ANOMALY_TIME_WAIT_RESTART),
};
#undef EI

/* The core's note that raises each anomaly; 0 for those the shell derives
 * from the record (marks, assumptions, corrections). */
static const uint32_t anomaly_note[TS_ANOMALY_COUNT] = {
    [TS_ANOMALY_REFUSED] = TS_NOTE_REFUSED,
    [TS_ANOMALY_SIMULTANEOUS_OPEN] = TS_NOTE_SIMULTANEOUS_OPEN,
    [TS_ANOMALY_SIMULTANEOUS_CLOSE] = TS_NOTE_SIMULTANEOUS_CLOSE,
    [TS_ANOMALY_DATA_AFTER_FIN] = TS_NOTE_DATA_AFTER_FIN,
    [TS_ANOMALY_RST_IGNORED] = TS_NOTE_RST_IGNORED,
    [TS_ANOMALY_RST_CHALLENGE] = TS_NOTE_RST_CHALLENGE,
    [TS_ANOMALY_SYNACK_BAD_ACK] = TS_NOTE_SYNACK_BAD_ACK,
    [TS_ANOMALY_REOPEN_TIME_WAIT] = TS_NOTE_REOPEN_TIME_WAIT,
    [TS_ANOMALY_AFTER_CLOSE] = TS_NOTE_AFTER_CLOSE,
    [TS_ANOMALY_UNEXPECTED] = TS_NOTE_UNEXPECTED,
    [TS_ANOMALY_TIME_WAIT_RESTART] = TS_NOTE_TIME_WAIT_RESTART,
};

#define ROW(k, name, group, severity, summary) [k] = {&ts_anomaly_ei[k], {name, group, severity, summary, EXPFILL}}
static ei_register_info anomaly_info[TS_ANOMALY_COUNT] = {
    ROW(TS_ANOMALY_REFUSED, "tcpstate.expert.refused", PI_SEQUENCE, PI_WARN,
        "Connection refused: the SYN was answered by a reset (no listener)"),
    ROW(TS_ANOMALY_SIMULTANEOUS_OPEN, "tcpstate.expert.simultaneous_open", PI_SEQUENCE, PI_NOTE,
        "Simultaneous open: both ends sent a SYN"),
    ROW(TS_ANOMALY_SIMULTANEOUS_CLOSE, "tcpstate.expert.simultaneous_close", PI_SEQUENCE, PI_NOTE,
        "Simultaneous close: the FINs crossed"),
    ROW(TS_ANOMALY_INFERRED_LOST, "tcpstate.expert.inferred_lost", PI_SEQUENCE, PI_WARN,
        "Segment inferred lost: it never reached its receiver"),
    ROW(TS_ANOMALY_CROSSED, "tcpstate.expert.crossed", PI_SEQUENCE, PI_CHAT,
        "Segments crossed: the receiver had sent its next segment before this one arrived"),
    ROW(TS_ANOMALY_CORRECTS, "tcpstate.expert.corrects", PI_SEQUENCE, PI_NOTE,
        "This segment corrects an earlier annotation"),
    ROW(TS_ANOMALY_DATA_AFTER_FIN, "tcpstate.expert.data_after_fin", PI_PROTOCOL, PI_WARN,
        "Data sent after the sender's FIN"),
    ROW(TS_ANOMALY_RST_IGNORED, "tcpstate.expert.rst_ignored", PI_SEQUENCE, PI_WARN,
        "Reset not acceptable: ignored by its receiver"),
    ROW(TS_ANOMALY_RST_CHALLENGE, "tcpstate.expert.rst_challenge", PI_SEQUENCE, PI_NOTE,
        "Reset in window but not at RCV.NXT: answered by a challenge ACK (RFC 5961)"),
    ROW(TS_ANOMALY_SYNACK_BAD_ACK, "tcpstate.expert.synack_bad_ack", PI_PROTOCOL, PI_WARN,
        "SYN-ACK does not acknowledge the client's ISN + 1 (old duplicate SYN?)"),
    ROW(TS_ANOMALY_REOPEN_TIME_WAIT, "tcpstate.expert.reopen_time_wait", PI_SEQUENCE, PI_NOTE,
        "New connection while a side was still in TIME-WAIT"),
    ROW(TS_ANOMALY_AFTER_CLOSE, "tcpstate.expert.after_close", PI_SEQUENCE, PI_WARN,
        "Segment after both ends had closed"),
    ROW(TS_ANOMALY_UNEXPECTED, "tcpstate.expert.unexpected", PI_PROTOCOL, PI_WARN,
        "Segment not expected in its sender's or receiver's state"),
    ROW(TS_ANOMALY_ASSUMED, "tcpstate.expert.assumed", PI_ASSUMPTION, PI_CHAT,
        "Annotation rests on an assumption"),
    ROW(TS_ANOMALY_QUOTED, "tcpstate.expert.quoted_in_icmp", PI_PROTOCOL, PI_CHAT,
        "TCP header quoted in an ICMP error: not a segment of the connection"),
    ROW(TS_ANOMALY_INCOMPLETE, "tcpstate.expert.incomplete", PI_MALFORMED, PI_WARN,
        "TCP segment incomplete (header cut by the capture, or the rest of its IP datagram in fragments "
        "Wireshark did not reassemble): segment not annotated"),
    ROW(TS_ANOMALY_UNPARSED, "tcpstate.expert.unparsed", PI_UNDECODED, PI_NOTE,
        "TCP header not found in the frame's data by the addresses and ports Wireshark gives it: segment "
        "not annotated (preference tcpstate.headers: fields reads it)"),
    ROW(TS_ANOMALY_TIME_WAIT_RESTART, "tcpstate.expert.time_wait_restart", PI_SEQUENCE, PI_CHAT,
        "FIN received again in TIME-WAIT: the 2MSL wait restarts"),
};
#undef ROW

void ts_anomalies_register(int proto)
{
    expert_module_t *expert = expert_register_protocol(proto);
    expert_register_field_array(expert, anomaly_info, array_length(anomaly_info));
}

gboolean ts_anomaly_is_note(ts_anomaly k)
{
    return anomaly_note[k] != 0;
}

const char *ts_anomaly_filter(ts_anomaly k)
{
    return anomaly_info[k].eiinfo.name;
}

uint32_t ts_anomalies(const ts_frame_record *rec, const ts_frame_extra *extra)
{
    uint32_t found = 0;
    if (rec->conn == 0) {
        /* The shell marks a frame it could not feed to the core with one reason. */
        if (rec->flags & TS_REC_QUOTED)
            found |= TS_ANOMALY_BIT(TS_ANOMALY_QUOTED);
        else if (rec->flags & TS_REC_INCOMPLETE)
            found |= TS_ANOMALY_BIT(TS_ANOMALY_INCOMPLETE);
        else if (rec->flags & TS_REC_UNPARSED)
            found |= TS_ANOMALY_BIT(TS_ANOMALY_UNPARSED);
        return found;
    }
    if (rec->flags & (TS_REC_ROLES_GUESSED | TS_REC_STATES_ASSUMED))
        found |= TS_ANOMALY_BIT(TS_ANOMALY_ASSUMED);
    if (extra == NULL)
        return found;
    for (unsigned k = 0; k < TS_ANOMALY_COUNT; k++)
        if (anomaly_note[k] != 0 && (extra->notes & anomaly_note[k]) != 0)
            found |= TS_ANOMALY_BIT(k);
    if (extra->corrects != 0)
        found |= TS_ANOMALY_BIT(TS_ANOMALY_CORRECTS);
    if (extra->corrected_by != 0 && extra->delivery == TS_LOST)
        found |= TS_ANOMALY_BIT(TS_ANOMALY_INFERRED_LOST);
    else if (extra->corrected_by != 0 && extra->delivery == TS_DELIVERED_LATE)
        found |= TS_ANOMALY_BIT(TS_ANOMALY_CROSSED);
    return found;
}
