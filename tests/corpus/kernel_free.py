"""Checks of tcpstate's states that need no kernel (issue 18, part 3), on any capture.

The kernel tests (tests/kernel) know the truth because they recorded it; on captures nobody here
made there is no truth, only rules every annotation must obey. Each check takes the rows of one
capture (dicts of the FIELDS below, `tshark -T fields -E occurrence=a`) and returns its exceptions
as (check, stream, frame, text):

  transition   a side's state changes only on a segment that can change it: what the segment
               carries (SYN, FIN, RST, ACK) and whether the side sent or received it (RFC 9293
               3.10's events; the inferences of a one-direction capture are sends of an ACK);
               TIME-WAIT ends only by RST or once the TIME-WAIT preference's 60 s have passed;
               data received in FIN-WAIT-1/2 closes the side only if its next segment is a RST
               (RFC 1122 4.2.2.13); a segment tcpstate says arrived late (crossed FINs) acts where
               it arrived, so there a change may be two steps: that segment's and this one's.
  completeness the last states of each tcp.stream agree with Wireshark's own tcp.completeness
               (flags seen in the whole conversation, -2; a FIN or RST in Wireshark's tcp.flags
               counts too, as completeness leaves out a conversation's first segment and a FIN
               without ACK) and, for the FINs, with the acknowledgment numbers Wireshark read:
                 K1 SYN, SYN-ACK and ACK seen, no RST, a FIN from each side acknowledged by the
                    other: both sides end in TIME-WAIT or CLOSED (neither is ESTABLISHED);
                 K2 no FIN and no RST: neither side ends in a closing state or CLOSED;
                 K3 a RST (no SYN after the last one, and tcpstate did not say it was ignored or
                    challenged): a side ends CLOSED or LISTEN;
                 K4 a FIN and no RST: the sides do not both end ESTABLISHED;
                 K5 neither SYN nor SYN-ACK seen: the stream's states are marked assumed.
The Zeek check (conn_state and history against tests/batch/zeek_rules.py) is in corpus.py.
"""

import re

FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw",
          "tcp.len", "tcp.completeness", "tcpstate.sender", "tcpstate.client.prev_state",
          "tcpstate.client.state", "tcpstate.server.prev_state", "tcpstate.server.state", "tcpstate.assumed",
          "tcpstate.phase", "tcpstate.expert.rst_ignored", "tcpstate.expert.rst_challenge",
          "tcpstate.conn.state", "tcpstate.conn.history", "tcpstate.delivery", "tcpstate.corrected_by",
          "tcpstate.corrects"]
STATES = ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING",
          "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK"]

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
C_SYN, C_SYNACK, C_ACK, C_DATA, C_FIN, C_RST = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
CLOSING = {"FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK"}
TIME_WAIT_S = 60.0  # tcpstate.time_wait's default (linux)


def parse(text, columns=None):
    """Annotated rows of `tshark -T fields` output whose -e fields were `columns` (default FIELDS;
    it must include them all): the frames tcpstate gave a phase."""
    columns = columns or FIELDS
    at = [columns.index(f) for f in FIELDS]
    rows = []
    for line in text.splitlines():
        cols = line.split("\t")
        v = [cols[i] if i < len(cols) else "" for i in at]
        # occurrence=a: tcpstate.corrects lists every frame; a TCP field of a frame that also quotes
        # a TCP header in an ICMP error has two values, the segment's first
        r = {f: (x.split(",")[0] if f.startswith(("tcp.", "frame.")) else x) for f, x in zip(FIELDS, v)}
        if not r["tcpstate.phase"]:
            continue
        r["frame"] = int(r["frame.number"])
        # a fuzzed timestamp prints oddly (4.4: "6553600.(2097152000 nanoseconds)"): its number
        m = re.match(r"-?\d+(\.\d+)?", r["frame.time_epoch"])
        r["time"] = float(m.group(0)) if m else 0.0
        r["flags"] = int(r["tcp.flags"] or "0", 16)
        rows.append(r)
    return rows


def _can_change(prev, new, sent, flags, since_time_wait, resets=False):
    """Can a segment with `flags` move a side that `sent` it (or received it) from prev to new?
    resets: the segment carries data and its receiver's next segment is a RST."""
    syn, fin, rst, ack = flags & SYN, flags & FIN, flags & RST, flags & ACK
    if rst and new in ("CLOSED", "LISTEN"):
        return True  # RFC 9293 3.10.7: a RST closes (SYN-RECEIVED from a passive open: LISTEN)
    if resets and not sent and new == "CLOSED" and prev in ("FIN-WAIT-1", "FIN-WAIT-2"):
        return True  # data for an application that has closed: RST (RFC 9293 3.10.7.4, RFC 1122 4.2.2.13)
    if prev == "TIME-WAIT" and new == "CLOSED":
        return since_time_wait is not None and since_time_wait >= TIME_WAIT_S
    if new == "SYN-SENT":
        return sent and syn
    if new == "SYN-RECEIVED":
        return bool(syn)  # received a SYN; or sent the SYN-ACK of a SYN the capture missed
    if new == "ESTABLISHED":
        return bool(syn or ack)  # a SYN-ACK, or the ACK of one (received, or sent: inferred)
    if new in ("FIN-WAIT-1", "LAST-ACK"):
        return sent and fin
    if new == "CLOSING":
        return not sent and fin
    if new == "CLOSE-WAIT":
        return (not sent and fin) or (sent and ack)  # the FIN, or the side's ACK of one not captured
    if new == "FIN-WAIT-2":
        return bool(ack)
    if new == "TIME-WAIT":
        return bool((not sent and (fin or ack)) or (sent and ack))
    if new == "CLOSED":
        return bool(ack) and prev in ("LAST-ACK", "CLOSE-WAIT")  # the last ACK (or one proving it)
    return False


def check_transitions(rows):
    """A change of a side's state at a segment must be one step that segment can cause, or two:
    the segment's own and that of an earlier segment tcpstate says reached the side only now (a
    crossed FIN: delivery "late", corrected_by this frame; tcpstate.corrects in one pass)."""
    out = []
    entered = {}  # (stream, side) -> time the side entered TIME-WAIT
    by_frame = {r["frame"]: r for r in rows}
    late_at = {}  # frame -> earlier rows delivered there
    for r in rows:
        if r["tcpstate.delivery"] == "late" and r["tcpstate.corrected_by"]:
            late_at.setdefault(int(r["tcpstate.corrected_by"]), []).append(r)
    for r in rows:
        for x in r["tcpstate.corrects"].split(","):
            if x and int(x) in by_frame and by_frame[int(x)] not in late_at.get(r["frame"], []):
                late_at.setdefault(r["frame"], []).append(by_frame[int(x)])
    next_from = {}  # row index -> the next row of the same stream sent by the other side
    for i, r in enumerate(rows):
        for j in range(i + 1, len(rows)):
            if rows[j]["tcp.stream"] == r["tcp.stream"] and rows[j]["tcpstate.sender"] != r["tcpstate.sender"]:
                next_from[i] = rows[j]
                break
    for i, r in enumerate(rows):
        resets = bool(r["tcp.len"] and int(r["tcp.len"]) > 0 and i in next_from and next_from[i]["flags"] & RST)
        for side in ("client", "server"):
            prev, new = r["tcpstate.%s.prev_state" % side], r["tcpstate.%s.state" % side]
            key = (r["tcp.stream"], side)
            since = r["time"] - entered[key] if key in entered else None
            sent = r["tcpstate.sender"] == side
            events = [(sent, r["flags"], resets)]
            events += [(x["tcpstate.sender"] == side, x["flags"], False) for x in late_at.get(r["frame"], [])]
            if prev != new and not _reachable(prev, new, events, since):
                out.append(("transition", r["tcp.stream"], r["frame"],
                            "%s %s -> %s on a segment it %s with flags 0x%03x" %
                            (side, prev, new, "sent" if sent else "received", r["flags"])))
            if new == "TIME-WAIT" and prev != "TIME-WAIT":
                entered[key] = r["time"]
    return out


def _reachable(prev, new, events, since):
    """new from prev by one of the events, or by two of them in either order."""
    def step(a, b, e):
        return a == b or _can_change(a, b, e[0], e[1], since, e[2])
    if any(step(prev, new, e) for e in events):
        return True
    return any(step(prev, mid, e1) and step(mid, new, e2)
               for e1 in events for e2 in events if e1 is not e2 for mid in STATES)


def _seq_after(a, b):
    """a is at or after b in sequence space (RFC 9293 3.4, modulo 2^32)."""
    return ((a - b) & 0xffffffff) < 0x80000000


def check_completeness(rows):
    out = []
    streams = {}
    for r in rows:
        streams.setdefault(r["tcp.stream"], []).append(r)
    for stream, rs in streams.items():
        last = rs[-1]
        c = int(last["tcp.completeness"] or 0)
        final = (last["tcpstate.client.state"], last["tcpstate.server.state"])
        where = "ends client %s, server %s; tcp.completeness %d" % (final[0], final[1], c)
        # each side's FINs and whether the other side acknowledged one of them afterwards
        fin_acked = {"client": False, "server": False}
        fin_seen = {"client": False, "server": False}
        pending = {"client": [], "server": []}
        last_rst = syn_after_rst = None
        ignored = False
        for r in rs:
            me = r["tcpstate.sender"]
            peer = "server" if me == "client" else "client"
            f = r["flags"]
            if r["tcpstate.expert.rst_ignored"] or r["tcpstate.expert.rst_challenge"]:
                ignored = True
            if f & RST:
                last_rst, syn_after_rst = r["frame"], False
            elif f & SYN and last_rst is not None:
                syn_after_rst = True
            if f & ACK and r["tcp.ack_raw"] and pending[peer]:
                ack = int(r["tcp.ack_raw"])
                if any(_seq_after(ack, end) for end in pending[peer]):
                    fin_acked[peer] = True
            if f & FIN and r["tcp.seq_raw"]:
                fin_seen[me] = True
                end = (int(r["tcp.seq_raw"]) + int(r["tcp.len"] or 0) + 1 + (1 if f & SYN else 0)) & 0xffffffff
                pending[me].append(end)
        # Wireshark's completeness leaves out the flags of a conversation's first segment, and counts
        # a FIN only with ACK (packet-tcp.c): a FIN or RST it read in tcp.flags counts too.
        if any(r["flags"] & FIN for r in rs):
            c |= C_FIN
        if any(r["flags"] & RST for r in rs):
            c |= C_RST
        if (c & (C_SYN | C_SYNACK | C_ACK)) == (C_SYN | C_SYNACK | C_ACK) and not c & C_RST and all(
                fin_acked.values()):
            if not set(final) <= {"TIME-WAIT", "CLOSED"}:
                out.append(("completeness K1", stream, last["frame"],
                            "handshake seen, both FINs acknowledged, no RST, yet " + where))
        if not c & (C_FIN | C_RST):
            if set(final) & (CLOSING | {"CLOSED"}):
                out.append(("completeness K2", stream, last["frame"], "no FIN and no RST seen, yet " + where))
        if c & C_RST and not syn_after_rst and not ignored:
            if not set(final) & {"CLOSED", "LISTEN"}:
                out.append(("completeness K3", stream, last["frame"],
                            "a RST (frame %s) was not ignored, yet %s" % (last_rst, where)))
        if c & C_FIN and not c & C_RST and final == ("ESTABLISHED", "ESTABLISHED"):
            out.append(("completeness K4", stream, last["frame"], "a FIN seen, no RST, yet " + where))
        if not c & (C_SYN | C_SYNACK) and not rs[0]["tcpstate.assumed"]:
            out.append(("completeness K5", stream, rs[0]["frame"],
                        "neither SYN nor SYN-ACK seen, yet the states are not marked assumed; " + where))
    return out
