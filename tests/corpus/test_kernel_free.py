#!/usr/bin/env python3
"""kernel_free.py's checks can fail: rows made to break each rule are reported, and the same
rows made right are not. Runs without tshark."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_free as kf  # noqa: E402

FIN, SYN, RST, ACK = kf.FIN, kf.SYN, kf.RST, kf.ACK


def row(frame, sender, flags, client, server, seq=0, ack=0, length=0, completeness=0, time=None, stream="0",
        assumed="", delivery="", corrected_by="", corrects=""):
    """client/server: (prev, state)."""
    values = {
        "frame.number": str(frame), "frame.time_epoch": str(time if time is not None else frame),
        "tcp.stream": stream, "tcp.flags": "0x%04x" % flags, "tcp.seq_raw": str(seq), "tcp.ack_raw": str(ack),
        "tcp.len": str(length), "tcp.completeness": str(completeness), "tcpstate.sender": sender,
        "tcpstate.client.prev_state": client[0], "tcpstate.client.state": client[1],
        "tcpstate.server.prev_state": server[0], "tcpstate.server.state": server[1], "tcpstate.assumed": assumed,
        "tcpstate.phase": "Data", "tcpstate.expert.rst_ignored": "", "tcpstate.expert.rst_challenge": "",
        "tcpstate.conn.state": "", "tcpstate.conn.history": "", "tcpstate.delivery": delivery,
        "tcpstate.corrected_by": corrected_by, "tcpstate.corrects": corrects,
    }
    return kf.parse("\t".join(values[f] for f in kf.FIELDS))[0]


E, C = "ESTABLISHED", "CLOSED"


def full_close(last_client, last_server, c=0x1f):
    """A handshake and both FINs acknowledged; the last row ends in the given states."""
    return [
        row(1, "client", SYN, (C, "SYN-SENT"), ("LISTEN", "SYN-RECEIVED"), seq=100, completeness=c),
        row(2, "server", SYN | ACK, ("SYN-SENT", E), ("SYN-RECEIVED", "SYN-RECEIVED"), seq=500, ack=101,
            completeness=c),
        row(3, "client", ACK, (E, E), ("SYN-RECEIVED", E), seq=101, ack=501, completeness=c),
        row(4, "client", FIN | ACK, (E, "FIN-WAIT-1"), (E, "CLOSE-WAIT"), seq=101, ack=501, completeness=c),
        row(5, "server", FIN | ACK, ("FIN-WAIT-1", "TIME-WAIT"), ("CLOSE-WAIT", "LAST-ACK"), seq=501, ack=102,
            completeness=c),
        row(6, "client", ACK, ("TIME-WAIT", last_client), ("LAST-ACK", last_server), seq=102, ack=502,
            completeness=c),
    ]


def expect(name, found, checks):
    got = sorted({f[0] for f in found})
    if got != sorted(checks):
        print("FAIL %s: found %s, expected %s: %s" % (name, got, sorted(checks), found))
        return 1
    print("ok   %s: %s" % (name, got or "nothing"))
    return 0


def main():
    bad = 0
    ok_rows = full_close("TIME-WAIT", C)
    bad += expect("a normal connection", kf.check_transitions(ok_rows) + kf.check_completeness(ok_rows), [])
    # transitions
    r = [row(1, "client", ACK, (E, "FIN-WAIT-1"), (E, E))]
    bad += expect("FIN-WAIT-1 on a bare ACK", kf.check_transitions(r), ["transition"])
    r = [row(1, "client", FIN | ACK, (E, "FIN-WAIT-1"), (E, "CLOSE-WAIT"))]
    bad += expect("a FIN sent and received", kf.check_transitions(r), [])
    r = [row(1, "server", FIN, (E, E), (E, "CLOSE-WAIT"))]
    bad += expect("CLOSE-WAIT for a FIN's sender (no ACK)", kf.check_transitions(r), ["transition"])
    tw = [row(1, "server", FIN | ACK, ("FIN-WAIT-2", "TIME-WAIT"), ("CLOSE-WAIT", "LAST-ACK"), time=0),
          row(2, "server", ACK, ("TIME-WAIT", C), ("LAST-ACK", "LAST-ACK"), time=10)]
    bad += expect("TIME-WAIT ended after 10 s", kf.check_transitions(tw), ["transition"])
    tw[1]["time"] = 61.0
    bad += expect("TIME-WAIT ended after 61 s", kf.check_transitions(tw), [])
    data = [row(1, "server", ACK | 0x08, ("FIN-WAIT-2", C), ("CLOSE-WAIT", "CLOSE-WAIT"), length=10),
            row(2, "client", ACK, (C, C), ("CLOSE-WAIT", "CLOSE-WAIT"))]
    bad += expect("data closes FIN-WAIT-2, no RST after", kf.check_transitions(data), ["transition"])
    data[1]["flags"] = RST
    bad += expect("data closes FIN-WAIT-2, RST after", kf.check_transitions(data), [])
    crossed = [row(1, "client", FIN | ACK, (E, "FIN-WAIT-1"), (E, E), delivery="late", corrected_by="2"),
               row(2, "server", FIN | ACK, ("FIN-WAIT-1", "CLOSING"), (E, "CLOSING"))]
    bad += expect("crossed FINs", kf.check_transitions(crossed), [])
    crossed[0]["tcpstate.delivery"] = ""
    bad += expect("ESTABLISHED -> CLOSING without a late FIN", kf.check_transitions(crossed), ["transition"])
    # completeness
    bad += expect("K1 both FINs acknowledged, a side ESTABLISHED",
                  kf.check_completeness(full_close("TIME-WAIT", E)), ["completeness K1"])
    r = [row(1, "client", ACK, (E, "FIN-WAIT-1"), (E, E), completeness=0x0c)]
    bad += expect("K2 a closing state without FIN or RST", kf.check_completeness(r), ["completeness K2", "completeness K5"])
    r = [row(1, "client", RST, (E, E), (E, E), completeness=0x2f)]
    bad += expect("K3 a RST and nobody closed", kf.check_completeness(r), ["completeness K3"])
    r = [row(1, "client", FIN | ACK, (E, E), (E, E), completeness=0x1f)]
    bad += expect("K4 a FIN and both ESTABLISHED", kf.check_completeness(r), ["completeness K4"])
    r = [row(1, "client", ACK, (E, E), (E, E), completeness=0x0c, assumed="mid-connection")]
    bad += expect("K5 no SYN, assumed", kf.check_completeness(r), [])
    print("%s" % ("FAILED" if bad else "all checks fail where they must"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
