#!/usr/bin/env python3
"""Truth builder: turn the kernel's TCP state changes into the RFC 9293 state of each side after every packet.

Inputs (produced by scenarios.py):
  * the pcap written by tcpdump on lo (nanosecond timestamps, CLOCK_REALTIME);
  * the events of the tracepoint sock:inet_sock_set_state (kernlib.parse_trace: `ts` already moved to
    CLOCK_REALTIME by adding CLOCK_REALTIME - CLOCK_MONOTONIC; nanosecond resolution from the raw listing);
  * scenario metadata: client and server endpoints, the input-hook drops (time window + match + count from the
    nft counter), `ss` snapshots taken at quiet moments, sysctls.

Output: rows (frame, client_state, server_state[, stream]).  "State after packet N" means: after packet N has been
sent by its sender and processed by its receiver.

The rules, and why (every rule below is applied in build_truth; the comments there point back here):

R1  Sides.  The client is the side whose pure SYN is captured first (active opener; in a simultaneous open the side
    whose SYN is captured first); the server is the other one.  Kernel events are mapped to a side by (local port,
    remote port) of the socket; events of the listener (remote port 0) only tell whether a listener exists; events of
    any other socket (e.g. the cookie-fetching connection of tcp-fast-open) are ignored.
R2  Initial state.  Client CLOSED.  Server LISTEN if the listener's CLOSE->LISTEN was logged before the connection
    and not undone, else CLOSED (refused connection: the server stays CLOSED throughout).  Events logged before the
    capture started (mid-connection-start) are applied to the initial state.
R3  Send-side changes are logged BEFORE the segment that shows them is captured (tcp_connect sets SYN_SENT before
    transmitting; tcp_close/tcp_shutdown set FIN_WAIT1/LAST_ACK before tcp_send_fin; an abort sets CLOSE before
    tcp_send_active_reset).  They belong to the first segment from that side, captured at or after the event, that
    carries the flag: CLOSE->SYN_SENT -> SYN; ESTABLISHED/SYN_RECV->FIN_WAIT1 and CLOSE_WAIT->LAST_ACK -> FIN;
    abort ->CLOSE -> RST.  (If the first such segment was dropped at the output hook, it is not on the wire and the
    change shows from the first captured one: the retransmission.)
R4  Receive-side changes are logged AFTER the segment that caused them was captured, sometimes after the receiver's
    answer was captured too (tcp_fin() sends the ACK before tcp_set_state(CLOSING) / tcp_time_wait()).  So they are
    attributed by cause, not by time order: to the latest segment from the peer, captured no later than the event
    (+ clock tolerance), not dropped at the input hook, that matches the transition (SYN-ACK for SYN_SENT->
    ESTABLISHED, pure SYN for SYN_SENT->SYN_RECV, FIN for ->CLOSE_WAIT/->CLOSING, an ACK covering our FIN for
    FIN_WAIT1->FIN_WAIT2, CLOSING->(TIME-WAIT), LAST_ACK->CLOSE, ACK for SYN_RECV->ESTABLISHED, RST for ->CLOSE by
    reset).  A change caused by packet N thus belongs to N even if it was logged after packet N+1 was captured.
R5  Listener children.  Before the handshake completes the server side is a request socket, which the tracepoint
    does not see; the child logs LISTEN->SYN_RECV->ESTABLISHED only when the final ACK arrives.  SYN-RECEIVED really
    began when the SYN arrived: the server is SYN-RECEIVED after the pure SYN answered by its first SYN-ACK (the
    latest non-dropped client SYN captured before that SYN-ACK), whether or not the child is ever logged.  With TCP
    Fast Open the child is created at that SYN (LISTEN->SYN_RECV logged right after it): same attribution.
R6  Entering TIME-WAIT is logged as ->CLOSE (the socket is replaced by a timewait socket, which the tracepoint does
    not see).  ->CLOSE from CLOSING caused by the ACK of our FIN, or from FIN_WAIT2 caused by the peer's FIN, means
    TIME-WAIT.  A FIN+ACK that also acknowledges our FIN is processed as ACK then FIN: FIN_WAIT1->FIN_WAIT2 and
    FIN_WAIT2->CLOSE are logged for the same segment, which ends in TIME-WAIT (three-segment teardown).
R7  Orphaned FIN-WAIT-2.  When the application has closed the socket and it reaches FIN_WAIT2 (close() while in
    FIN_WAIT2, or the ACK of our FIN arriving at an orphan), Linux hands it to a timewait socket in the FIN_WAIT2
    sub-state and logs FIN_WAIT2->CLOSE at once, yet `ss` keeps showing FIN-WAIT-2.  So FIN_WAIT2->CLOSE that is
    not caused by a peer FIN or RST (and not followed by our RST) changes nothing visible: the side stays
    FIN-WAIT-2, now handled by a timewait socket (R8).
R8  Timewait sockets change state without events (tcp_timewait_state_process), applied when a segment from the
    peer reaches them (not dropped at input):
      FIN-WAIT-2 sub-state: RST -> CLOSED (killed); exactly the FIN -> TIME-WAIT; new data (or FIN with data) ->
        CLOSED, answered by RST (kill_with_rst); SYN -> CLOSED (kill_with_rst); pure/old ACK -> unchanged.
      TIME-WAIT: RST -> CLOSED when net.ipv4.tcp_rfc1337 = 0 (TIME-WAIT assassination, RFC 1337 not applied);
        a SYN of a new connection on the same 4-tuple kills it (the SYN belongs to the next stream); anything else
        -> unchanged (answered by an ACK).
    TIME-WAIT lasts 60 s (TCP_TIMEWAIT_LEN); captures are shorter, so it never ends within them.
R9  A segment dropped by an input-hook rule was captured but never reached the receiver: it causes no change.
    Drops are known exactly: the scenario records each rule's match and active time window and the nft counter;
    the first `count` captured segments that match inside the window are the dropped ones.  Loss variants
    (tests/kernel/variants.py) add rules that drop the `nth` matching segment of a direction once (nft `numgen inc`,
    priority -500: before the scenario's own rules, which only see what they let through); their dropped segment is
    the nth captured one that matches, among those not already dropped by an earlier such rule.
R10 Resets.  ->CLOSE caused by a received RST: CLOSED at that RST.  ->CLOSE followed by our own RST: if the peer's
    data segment arrived just before (data to a socket whose receive side is shut down -> tcp_reset, then RST
    answer) the change belongs to that data segment; otherwise it is an abort (SO_LINGER {1,0}, close() with unread
    data) and belongs to our RST (R3).  The side that sends a RST goes straight to CLOSED (no TIME-WAIT).
R11 Streams.  Several connections on the same ports (reuse after close) are split at a client pure SYN whose
    sequence number differs from the current stream's; each stream starts from R2.  Only then a 4th column
    `stream` (0-based, in order of first SYN) is written.
R18 Order.  A side's changes keep the kernel's order: a change is never attributed to an earlier packet than the
    change logged before it for the same side (a send-side change shown at a retransmission, R3, and a receive-side
    change the kernel logged after it but attributed by cause, R4, to a packet captured before that retransmission:
    both belong to the retransmission, in the kernel's order).
R19 In sequence.  A FIN is processed only when everything before it has arrived (RFC 9293 3.10.7.4; Linux queues an
    out-of-order FIN and runs tcp_fin() when the hole fills): a change caused by a FIN that arrived beyond a hole in
    the receiver's sequence space belongs to the peer's segment that filled the hole.
R20 Orphans answering data.  FIN_WAIT2->CLOSE followed by our RST is an abort only if no data from the peer reached
    the side in between: otherwise it is the hand-off of an orphan to a FIN_WAIT2 timewait socket (R7), and the RST
    is that socket's answer to the data (R8: the data closes it).
R13 Segments the capture does not hold, and request sockets.  A scenario may send a segment through a raw socket
    and leave it out of the capture (meta "injected", captured = False: an old duplicate SYN behind the capture
    point).  A server SYN-ACK whose ack is such a SYN's seq + 1 answers it: the server is SYN-RECEIVED (a request
    socket) at that SYN-ACK.  A client RST reaching a request socket (SYN-RECEIVED from LISTEN, before the
    child's LISTEN->SYN_RECV event) with its seq in [RCV.NXT, RCV.NXT + window) resets the request with no event
    (tcp_check_req): the server is LISTEN again.
R14 Sides without a kernel socket.  A scenario may play one side itself through a raw socket; that side's state
    changes are then logged by the scenario as it acts (events with "source": "scenario", in the tracepoint's
    terms: ->SYN_SENT before it sends its SYN, ->ESTABLISHED after the SYN-ACK it read from the capture, ->CLOSE
    before its abort RST) and go through the same rules R3/R4/R10 as kernel events.
R15 One-direction captures.  The truth is built from a second capture of both directions taken at the same time;
    each segment of the one-direction capture gets the row of the same segment there (subset_rows): the state
    after it includes what the segments missing from the capture did.
R17 An abort whose RST a loss variant dropped at the output hook (so no captured segment shows it): the side is
    CLOSED from the first packet captured after the event.
R16 A logged move to the same state (FIN_WAIT2->FIN_WAIT2: close() of a socket that is already in FIN-WAIT-2, seen
    when the peer's FIN was lost) changes nothing.
R12 Fail loudly: an event whose cause cannot be found, an event whose old state contradicts the socket's previous
    logged state, a drop counter that does not match the captured segments, or an `ss` snapshot that disagrees with
    the truth at that moment raises TruthError instead of guessing.  In loss variants (meta "loss") a snapshot may
    also match the state after a packet captured while `ss` ran, or, for a side with a segment dropped at the output
    hook, the state at that side's next captured segment (see _snapshot_excuse); the per-packet rows are the same.
"""

import ipaddress
import json
import struct
import sys

RFC = {
    "CLOSE": "CLOSED", "LISTEN": "LISTEN", "SYN_SENT": "SYN-SENT", "SYN_RECV": "SYN-RECEIVED",
    "ESTABLISHED": "ESTABLISHED", "FIN_WAIT1": "FIN-WAIT-1", "FIN_WAIT2": "FIN-WAIT-2", "CLOSE_WAIT": "CLOSE-WAIT",
    "CLOSING": "CLOSING", "LAST_ACK": "LAST-ACK", "TIME_WAIT": "TIME-WAIT", "NEW_SYN_RECV": "SYN-RECEIVED",
}
STATES = ("CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
          "CLOSING", "LAST-ACK", "TIME-WAIT")

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
FLAG_BITS = {"fin": FIN, "syn": SYN, "rst": RST, "psh": PSH, "ack": ACK, "urg": URG}

# Clock tolerance between an event (nanosecond trace timestamps on CLOCK_MONOTONIC, moved to CLOCK_REALTIME with an
# offset known to well under 1 us) and capture timestamps (CLOCK_REALTIME, taken when lo transmits the segment).
# Receive-side events come ~5-20 us after the capture of their cause, send-side events ~5-40 us before the capture
# of the segment they show, so 1 us keeps the order strict without being fooled by the offset's uncertainty.
TOL_NS = 1_000
# How long after the causing segment was captured its receive-side change may be logged.  Loopback delivery is
# synchronous in softirq context (microseconds); 20 ms is generous and the predicates keep it unambiguous.
RX_WINDOW_NS = 20_000_000
# An abort's RST follows its ->CLOSE event within microseconds.
TX_ABORT_WINDOW_NS = 20_000_000
# R15: the same segment seen by two tcpdumps on lo is stamped by each (about 1 us apart here).
MATCH_NS = 1_000_000


class TruthError(Exception):
    pass


# --------------------------------------------------------------------------------------------------------------------
# pcap reader (standard library only)
# --------------------------------------------------------------------------------------------------------------------
def pcap_byte_order(magic):
    """'<' or '>' for a classic pcap file's magic (microsecond or nanosecond), None for anything else."""
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return "<"
    if magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return ">"
    return None


def read_pcap(path):
    """Return a list of packet dicts: idx (1-based), ts (ns), src/dst (ip, port), flags, seq, ack, plen, win."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise TruthError(f"{path}: not a pcap file")
    endian = pcap_byte_order(data[:4])
    if endian is None:
        raise TruthError(f"{path}: unsupported capture format (pcap only)")
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    pos = 24
    pkts = []
    idx = 0
    while pos + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[pos:pos + 16])
        pos += 16
        raw = data[pos:pos + incl]
        pos += incl
        idx += 1
        ts = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        p = parse_frame(raw, linktype)
        if p is None:
            p = {"tcp": False}
        p.update(idx=idx, ts=ts)
        pkts.append(p)
    return pkts


def parse_frame(raw, linktype):
    if linktype == 1:  # Ethernet
        if len(raw) < 14:
            return None
        etype = struct.unpack("!H", raw[12:14])[0]
        off = 14
        while etype == 0x8100 and len(raw) >= off + 4:
            etype = struct.unpack("!H", raw[off + 2:off + 4])[0]
            off += 4
    elif linktype == 113:  # Linux SLL
        etype = struct.unpack("!H", raw[14:16])[0]
        off = 16
    elif linktype == 276:  # Linux SLL2
        etype = struct.unpack("!H", raw[0:2])[0]
        off = 20
    elif linktype in (101, 12):  # raw IP
        etype = 0x0800 if raw and raw[0] >> 4 == 4 else 0x86DD
        off = 0
    elif linktype == 0:  # BSD loopback
        fam = struct.unpack("<I", raw[0:4])[0]
        etype = 0x0800 if fam == 2 else 0x86DD
        off = 4
    else:
        return None
    ip = raw[off:]
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:
            return None
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        tcp = ip[ihl:]
        l4len = total - ihl
    elif etype == 0x86DD and len(ip) >= 40:
        nh = ip[6]
        plen = struct.unpack("!H", ip[4:6])[0]
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        off6 = 40
        while nh in (0, 43, 60) and len(ip) >= off6 + 8:  # hop-by-hop, routing, destination options
            nh, hlen = ip[off6], (ip[off6 + 1] + 1) * 8
            off6 += hlen
            plen -= hlen
        if nh != 6:
            return None
        tcp = ip[off6:]
        l4len = plen
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, offflags, win = struct.unpack("!HHIIHH", tcp[:16])
    thl = (offflags >> 12) * 4
    return {"tcp": True, "src": (src, sport), "dst": (dst, dport), "flags": offflags & 0x3F, "seq": seq,
            "ack": ack, "plen": max(0, l4len - thl), "win": win}


def flag_str(flags):
    return ",".join(n.upper() for n, b in FLAG_BITS.items() if flags & b) or "none"


def seq_after(a, b):
    """a > b in sequence space."""
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


# --------------------------------------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------------------------------------
def norm_ip(ip):
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def build_truth(pkts, events, meta):
    """Return (rows, streams_used, report_lines).  See the module docstring for the rules R1..R12."""
    report = []
    if not pkts:
        raise TruthError("empty capture")
    for p in pkts:
        if not p["tcp"]:
            raise TruthError(f"frame {p['idx']}: not a TCP segment of the scenario")
        p["src"] = (norm_ip(p["src"][0]), p["src"][1])
        p["dst"] = (norm_ip(p["dst"][0]), p["dst"][1])

    # R1: sides.
    cli = (norm_ip(meta["client"][0]), meta["client"][1])
    srv = (norm_ip(meta["server"][0]), meta["server"][1])
    first_syn = next((p for p in pkts if p["flags"] & (SYN | ACK) == SYN), None)
    if first_syn is not None and first_syn["src"] != cli:
        raise TruthError(f"first SYN (frame {first_syn['idx']}) comes from {first_syn['src']}, "
                         f"scenario says the client is {cli}")
    for p in pkts:
        if {p["src"], p["dst"]} != {cli, srv}:
            raise TruthError(f"frame {p['idx']}: {p['src']} -> {p['dst']} is not the scenario's connection")
        p["sender"] = "client" if p["src"] == cli else "server"
        p["receiver"] = "server" if p["sender"] == "client" else "client"

    # R9: mark the segments dropped at the input hook.
    # Loss-variant rules ("nth", see scenarios.Ctx.install_loss) run first (priority -500, in order): each drops the
    # nth segment of its direction that matches it and that an earlier rule let through.  The scenario's own rules
    # (priority -400) only see what those let through.
    for p in pkts:
        p["dropped"] = False
    for d in sorted(meta.get("drops", []), key=lambda d: (0, d["loss"]) if "nth" in d else (1, 0)):
        if d["chain"] != "input":
            continue  # output-hook drops are not in the capture
        mask, value = d["mask"], d["value"]
        hits = [p for p in pkts if p["sender"] == d["from"] and d["t_on"] <= p["ts"] <= d["t_off"]
                and (p["flags"] & mask) == value and not p["dropped"]]
        if "nth" in d:
            if d["count"] not in (0, 1):
                raise TruthError(f"loss rule {d['desc']}: nft counted {d['count']} drops, expected at most 1")
            if d["count"] == 1:
                if len(hits) < d["nth"]:
                    raise TruthError(f"loss rule {d['desc']}: only {len(hits)} matching segments captured")
                hits[d["nth"] - 1]["dropped"] = True
                hits[d["nth"] - 1]["dropped_by_loss"] = d["loss"]
            continue
        if len(hits) < d["count"]:
            raise TruthError(f"drop rule {d['desc']}: nft counted {d['count']} drops, only {len(hits)} "
                             f"matching segments captured in its window")
        for p in hits[:d["count"]]:
            p["dropped"] = True
        if len(hits) > d["count"]:
            raise TruthError(f"drop rule {d['desc']}: nft counted {d['count']} drops but {len(hits)} matching "
                             f"segments were captured in its window: cannot tell which were dropped")

    # R11: streams.
    stream, isn = 0, None
    for p in pkts:
        if p["sender"] == "client" and p["flags"] & (SYN | ACK) == SYN:
            if isn is not None and p["seq"] != isn:
                stream += 1
            isn = p["seq"]
        p["stream"] = stream
    nstreams = stream + 1

    # Map events to sides (R1).
    side_events = []
    listener_events = []
    for e in events:
        lp, rp = e["sport"], e["dport"]
        if lp == cli[1] and rp == srv[1]:
            side = "client"
        elif lp == srv[1] and rp == cli[1]:
            side = "server"
        elif lp == srv[1] and rp == 0:
            listener_events.append(e)
            continue
        else:
            continue
        e = dict(e, side=side)
        side_events.append(e)

    by_side = {"client": [p for p in pkts if p["sender"] == "client"],
               "server": [p for p in pkts if p["sender"] == "server"]}
    capture_start = meta.get("capture_start_ns", pkts[0]["ts"])

    def listener_at(ts):
        state = False
        for e in listener_events:
            if e["ts"] > ts:
                break
            if e["new"] == "LISTEN":
                state = True
            elif e["old"] == "LISTEN":
                state = False
        return state

    def first_tx(side, ev, mask, value, window=None):
        for p in by_side[side]:
            if p["ts"] >= ev["ts"] - TOL_NS and (p["flags"] & mask) == value:
                if window is not None and p["ts"] > ev["ts"] + window:
                    return None
                return p
        return None

    def latest_rx(side, ev, pred, window=RX_WINDOW_NS):
        peer = "server" if side == "client" else "client"
        best = None
        for p in by_side[peer]:
            if p["ts"] > ev["ts"] + TOL_NS:
                break
            if p["ts"] < ev["ts"] - window or p["dropped"]:
                continue
            if pred(p):
                best = p
        return best

    # Our FIN's sequence number per side and stream, to check "an ACK covering our FIN".
    fin_seq = {}
    for p in pkts:
        if p["flags"] & FIN:
            fin_seq.setdefault((p["stream"], p["sender"]), (p["seq"] + p["plen"]) & 0xFFFFFFFF)

    # R19: for every received FIN, the packet at which its receiver had everything up to it (in capture order,
    # dropped packets left out): the FIN itself, or the later segment that filled the hole before it.
    fin_taken_at = {}
    for st in range(nstreams):
        for snd in ("client", "server"):
            rcv_nxt, ofo, waiting = None, [], []
            for p in pkts:
                if p["stream"] != st or p["sender"] != snd or p["dropped"]:
                    continue
                start = p["seq"]
                end = (p["seq"] + p["plen"] + (1 if p["flags"] & (SYN | FIN) else 0)
                       + (1 if p["flags"] & SYN and p["flags"] & FIN else 0)) & 0xFFFFFFFF
                if p["flags"] & SYN:
                    rcv_nxt = end
                    continue
                if rcv_nxt is None:
                    rcv_nxt = start
                if p["flags"] & FIN:
                    waiting.append(p)
                ofo.append((start, end))
                moved = True
                while moved:
                    moved = False
                    for (a, b) in list(ofo):
                        if not seq_after(a, rcv_nxt):
                            if seq_after(b, rcv_nxt):
                                rcv_nxt = b
                            ofo.remove((a, b))
                            moved = True
                for f in list(waiting):
                    if seq_after(rcv_nxt, (f["seq"] + f["plen"]) & 0xFFFFFFFF):
                        fin_taken_at[f["idx"]] = p
                        waiting.remove(f)

    def taken_in_sequence(fin, ev):
        """R19: the packet at which a received FIN was processed, if captured by the time of its event."""
        if fin is None:
            return None
        at = fin_taken_at.get(fin["idx"], fin)
        return at if at["ts"] <= ev["ts"] + TOL_NS else fin

    def peer_data_between(ev, rst):
        """R20: a peer data segment reached the side between its event and its RST: the RST answers that data."""
        peer = "server" if ev["side"] == "client" else "client"
        return any(p["plen"] > 0 and not p["dropped"] and ev["ts"] < p["ts"] <= rst["ts"] for p in by_side[peer])

    def acks_our_fin(side, p):
        f = fin_seq.get((p["stream"], side))
        return bool(p["flags"] & ACK) and (f is None or seq_after(p["ack"], f))

    # R5: designated SYN per stream (the SYN answered by the server's first SYN-ACK).  R13: a SYN-ACK that
    # answers a SYN the capture does not hold (injected behind the capture point, meta["injected"] with
    # captured = False, recognised by its ack = that SYN's seq + 1) makes the server SYN-RECEIVED at that SYN-ACK.
    designated_syn = {}       # stream -> idx of the SYN
    uncaptured_synack = {}    # idx of a SYN-ACK answering an uncaptured SYN -> that SYN's seq
    hidden_syns = [i for i in meta.get("injected", []) if not i.get("captured", True) and i["from"] == "client"
                   and i["flags"] & (SYN | ACK) == SYN]
    seen_synack_seq = set()
    for p in pkts:
        if p["sender"] != "server" or p["flags"] & (SYN | ACK | RST) != SYN | ACK or p["seq"] in seen_synack_seq:
            continue
        seen_synack_seq.add(p["seq"])
        hidden = [i for i in hidden_syns if i["ts"] <= p["ts"] and (i["seq"] + 1) & 0xFFFFFFFF == p["ack"]]
        if hidden:
            uncaptured_synack[p["idx"]] = hidden[-1]["seq"]
    for s in range(nstreams):
        sa = next((p for p in pkts if p["stream"] == s and p["sender"] == "server"
                   and p["flags"] & (SYN | ACK) == SYN | ACK and p["idx"] not in uncaptured_synack), None)
        if sa is None:
            continue
        syn = None
        for p in pkts:
            if p is sa:
                break
            if p["stream"] == s and p["sender"] == "client" and p["flags"] & (SYN | ACK) == SYN and not p["dropped"]:
                syn = p
        if syn is None and s == 0 and meta.get("capture_late"):
            continue
        if syn is None:
            raise TruthError(f"SYN-ACK frame {sa['idx']} answers no captured, received SYN")
        designated_syn[s] = syn["idx"]

    # Attribute every event: list of (slot, order, stream, side, action)
    #   slot 0 = before the first packet, slot N = after packet N, None = after the capture.
    # action: a RFC state name, or "tw-fin-wait-2" (R7).
    attributions = []
    pending = []      # (side, event ts, ts of the packet it is attributed to, state): for R12 in loss variants
    # R17: (side, "RST") when a loss variant dropped a RST of that side at the output hook.
    output_lost = {(d["from"], "RST") for d in meta.get("drops", []) if "nth" in d and d["chain"] == "output"
                   and d["count"]}
    kstate = {}  # side -> last logged kernel state (R12 consistency)
    for order, e in enumerate(side_events):
        side, old, new = e["side"], e["old"], e["new"]
        peer = "server" if side == "client" else "client"
        prev = kstate.get(side)
        if prev is not None and prev != old and old not in ("LISTEN", "CLOSE"):
            raise TruthError(f"{side} event {old}->{new} at {e['ts']}: previous logged state was {prev}")
        kstate[side] = new
        desc = f"{side} {old}->{new}"
        if old == new:
            # R16: a logged move to the same state changes nothing (close() of a socket already in FIN-WAIT-2:
            # tcp_close_state() sets FIN_WAIT2 again, then R7 applies to the FIN_WAIT2->CLOSE that follows).
            continue
        if e["ts"] < capture_start:
            # R2: before the capture started.
            attributions.append((0, order, 0, side, RFC[new], desc))
            continue
        pkt, action = None, RFC[new]
        if old == "CLOSE" and new == "SYN_SENT":                                   # R3
            pkt = first_tx(side, e, SYN | ACK | RST, SYN)
        elif new in ("FIN_WAIT1", "LAST_ACK"):                                     # R3
            pkt = first_tx(side, e, FIN, FIN)
        elif old == "CLOSE" and new == "LISTEN":
            continue
        elif old == "LISTEN" and new == "SYN_RECV":                                # R5
            s = None
            for st, idx in designated_syn.items():
                if pkts[idx - 1]["ts"] <= e["ts"] + TOL_NS:
                    s = st
            if s is None:
                raise TruthError(f"{desc}: no SYN answered by a SYN-ACK before it")
            pkt = pkts[designated_syn[s] - 1]
        elif old == "SYN_SENT" and new == "ESTABLISHED":                           # R4
            pkt = latest_rx(side, e, lambda p: p["flags"] & (SYN | ACK | RST) == SYN | ACK)
        elif old == "SYN_SENT" and new == "SYN_RECV":                              # R4 (simultaneous open)
            pkt = latest_rx(side, e, lambda p: p["flags"] & (SYN | ACK | RST) == SYN)
        elif old == "SYN_RECV" and new == "ESTABLISHED":                           # R4
            pkt = latest_rx(side, e, lambda p: p["flags"] & (ACK | RST) == ACK)
        elif new == "CLOSE_WAIT":                                                  # R4, R19
            pkt = taken_in_sequence(latest_rx(side, e, lambda p: p["flags"] & (FIN | RST) == FIN), e)
        elif old == "FIN_WAIT1" and new == "FIN_WAIT2":                            # R4
            pkt = latest_rx(side, e, lambda p: not p["flags"] & RST and acks_our_fin(side, p))
        elif old == "FIN_WAIT1" and new == "CLOSING":                              # R4, R19
            pkt = taken_in_sequence(latest_rx(side, e, lambda p: p["flags"] & (FIN | RST) == FIN), e)
        elif new == "CLOSE":
            rst = latest_rx(side, e, lambda p: p["flags"] & RST)
            if rst is not None:                                                    # R10 received RST
                pkt, action = rst, "CLOSED"
            elif old == "CLOSING":                                                 # R6
                pkt, action = latest_rx(side, e, lambda p: acks_our_fin(side, p)), "TIME-WAIT"
            elif old == "LAST_ACK":                                                # R4
                pkt, action = latest_rx(side, e, lambda p: acks_our_fin(side, p)), "CLOSED"
            else:
                fin = taken_in_sequence(latest_rx(side, e, lambda p: p["flags"] & FIN), e) if old == "FIN_WAIT2" else None
                our_rst = first_tx(side, e, RST, RST, window=TX_ABORT_WINDOW_NS)
                data = latest_rx(side, e, lambda p: p["plen"] > 0, window=TX_ABORT_WINDOW_NS)
                if fin is not None and not (our_rst is not None and fin["plen"] > 0):
                    pkt, action = fin, "TIME-WAIT"                                 # R6
                elif our_rst is not None and data is not None and data["ts"] <= our_rst["ts"]:
                    pkt, action = data, "CLOSED"                                   # R10 data -> reset
                elif our_rst is not None and not (old == "FIN_WAIT2" and peer_data_between(e, our_rst)):
                    pkt, action = our_rst, "CLOSED"                                # R10 abort
                elif old == "FIN_WAIT2":
                    # R7: hand-off to a FIN_WAIT2 timewait socket, nothing visible changes.  Attribute it to the
                    # ACK that caused it if any (orphan receiving the ACK of its FIN), else to the time line.
                    ack = latest_rx(side, e, lambda p: acks_our_fin(side, p), window=TX_ABORT_WINDOW_NS)
                    pkt, action = ack, "tw-fin-wait-2"
                    if pkt is None:
                        later = [p for p in pkts if p["ts"] > e["ts"]]
                        slot = later[0]["idx"] - 1 if later else None
                        st = later[0]["stream"] if later else pkts[-1]["stream"]
                        attributions.append((slot, order, st, side, action, desc))
                        continue
                elif (side, "RST") in output_lost:
                    # R17: an abort whose RST a loss variant dropped at the output hook (never on the wire, never
                    # retransmitted): the capture shows nothing of it; the side is CLOSED from the first packet
                    # captured after the event (none: no row changes).
                    later = [p for p in pkts if p["ts"] > e["ts"]]
                    if later:
                        attributions.append((later[0]["idx"], order, later[0]["stream"], side, "CLOSED", desc))
                    pending.append((side, e["ts"], later[0]["ts"] if later else float("inf"), "CLOSED"))
                    continue
                else:
                    raise TruthError(f"{desc} at {e['ts']}: no received RST/FIN/ACK and no RST sent explains it")
        else:
            raise TruthError(f"{desc}: transition not covered by the rules")
        if pkt is None:
            raise TruthError(f"{desc} at {e['ts']}: no captured segment explains it")
        attributions.append((pkt["idx"], order, pkt["stream"], side, action, desc))
        if pkt["ts"] > e["ts"] + TOL_NS:
            pending.append((side, e["ts"], pkt["ts"], action))   # true in the kernel before its segment shows

    # R18: each side's changes in the kernel's order.
    ordered, last_slot = [], {}
    for a in sorted(attributions, key=lambda a: a[1]):
        slot, order, st, side, action, desc = a
        key = (st, side)
        if key in last_slot:
            prev = last_slot[key]
            if prev is None or (slot is not None and slot < prev):
                slot = prev
        last_slot[key] = slot
        ordered.append((slot, order, st, side, action, desc))
    attributions = ordered

    # Replay.
    init_server = "LISTEN" if listener_at(pkts[0]["ts"]) or listener_at(capture_start) else "CLOSED"
    states = [{"client": "CLOSED", "server": init_server} for _ in range(nstreams)]
    tw = [{"client": None, "server": None} for _ in range(nstreams)]
    for s in range(1, nstreams):
        first = next(p for p in pkts if p["stream"] == s)
        states[s]["server"] = "LISTEN" if listener_at(first["ts"]) else "CLOSED"
    by_slot = {}
    for a in sorted(attributions, key=lambda a: (a[0] if a[0] is not None else 1 << 60, a[1])):
        by_slot.setdefault(a[0], []).append(a)

    # R13: the server's request socket (SYN-RECEIVED before the child exists): (stream) -> (RCV.NXT, window).
    request = {}

    def apply(a):
        _slot, _o, s, side, action, desc = a
        if side == "server" and action == "SYN-RECEIVED":
            request.pop(s, None)  # the child socket exists from here on: R13 no longer applies
        if action == "tw-fin-wait-2":
            if states[s][side] != "FIN-WAIT-2":
                raise TruthError(f"{desc}: hand-off to a FIN_WAIT2 timewait socket while {states[s][side]}")
            tw[s][side] = "FIN-WAIT-2"
            return
        if action == "SYN-RECEIVED" and states[s][side] == "SYN-RECEIVED":
            return  # R5: already SYN-RECEIVED since the SYN
        states[s][side] = action
        if action == "TIME-WAIT":
            tw[s][side] = "TIME-WAIT"

    for a in by_slot.get(0, []):
        apply(a)
    rfc1337 = str(meta.get("sysctl", {}).get("net.ipv4.tcp_rfc1337", "0")) != "0"
    rows = []
    for p in pkts:
        s, rcv = p["stream"], p["receiver"]
        # R8: timewait sockets.
        if not p["dropped"] and tw[s][rcv] is not None:
            f = p["flags"]
            if tw[s][rcv] == "FIN-WAIT-2":
                if f & RST or f & SYN or p["plen"] > 0:
                    states[s][rcv], tw[s][rcv] = "CLOSED", None
                elif f & FIN:
                    states[s][rcv], tw[s][rcv] = "TIME-WAIT", "TIME-WAIT"
            elif tw[s][rcv] == "TIME-WAIT":
                if f & RST and not rfc1337:
                    states[s][rcv], tw[s][rcv] = "CLOSED", None
        # R13: a RST reaching the server's request socket with its sequence number in the window
        # [RCV.NXT, RCV.NXT + RCV.WND) resets it (tcp_check_req -> embryonic_reset -> inet_csk_reqsk_queue_drop,
        # no tracepoint event: a request socket is not a full socket): the listener remains, LISTEN (RFC 9293
        # 3.10.7.4 first step: "If this connection was initiated with a passive OPEN ... return this connection to
        # LISTEN state").  The window is the one the server's SYN-ACK advertised (never scaled on a SYN).
        req = request.get(s)
        if (req is not None and p["sender"] == "client" and p["flags"] & RST and not p["dropped"]
                and states[s]["server"] == "SYN-RECEIVED"
                and (p["seq"] - req[0]) & 0xFFFFFFFF < max(req[1], 1)):
            states[s]["server"] = "LISTEN"
            del request[s]
        # R5
        if designated_syn.get(s) == p["idx"] and states[s]["server"] in ("LISTEN", "CLOSED"):
            states[s]["server"] = "SYN-RECEIVED"
            sa = next((q for q in pkts if q["idx"] > p["idx"] and q["sender"] == "server"
                       and q["flags"] & (SYN | ACK) == SYN | ACK), None)
            if states[s]["server"] == "SYN-RECEIVED" and listener_at(p["ts"]):
                request[s] = ((p["seq"] + 1) & 0xFFFFFFFF, sa["win"] if sa else 0)
        if p["idx"] in uncaptured_synack and states[s]["server"] in ("LISTEN", "CLOSED"):   # R13
            states[s]["server"] = "SYN-RECEIVED"
            if listener_at(p["ts"]):
                request[s] = ((uncaptured_synack[p["idx"]] + 1) & 0xFFFFFFFF, p["win"])
        for a in by_slot.get(p["idx"], []):
            apply(a)
        rows.append((p["idx"], states[s]["client"], states[s]["server"], s))
        p["truth"] = (states[s]["client"], states[s]["server"])

    # R12: ss snapshots.
    for snap in meta.get("snapshots", []):
        check_snapshot(snap, pkts, cli, srv, nstreams, report, loss_variant=bool(meta.get("loss")),
                       pending=pending)
    return rows, nstreams > 1, report


def subset_rows(full_pkts, full_rows, sub_pkts):
    """R15: the rows of a capture that holds some of the segments of `full_pkts`, renumbered in the subset's frame
    order.  The same segment has the same headers in both; each tcpdump stamps it itself (about 1 us apart), so
    the match is the same headers at the nearest timestamp, within MATCH_NS, each full-capture segment used once."""
    by_key = {}
    for p, r in zip(full_pkts, full_rows):
        if p["tcp"]:
            by_key.setdefault((p["src"][1], p["seq"], p["ack"], p["flags"], p["plen"]), []).append((p["ts"], r))
    rows = []
    for p in sub_pkts:
        if not p["tcp"]:
            raise TruthError(f"frame {p['idx']}: not a TCP segment of the scenario")
        cand = by_key.get((p["src"][1], p["seq"], p["ack"], p["flags"], p["plen"]), [])
        best = min(cand, key=lambda c: abs(c[0] - p["ts"]), default=None)
        if best is None or abs(best[0] - p["ts"]) > MATCH_NS:
            raise TruthError(f"frame {p['idx']}: not in the full capture")
        cand.remove(best)
        r = best[1]
        rows.append((p["idx"], r[1], r[2], r[3]))
    return rows


def _ss_matches(w, seen, listener):
    if w in ("CLOSED", "LISTEN"):
        return (not seen or seen == ["CLOSED"]) and (w != "LISTEN" or listener)
    return w in seen


def _snapshot_excuse(snap, pkts, side, seen, listener, pending):
    """Loss variants only: an `ss` snapshot that differs from the truth after the last packet before it is accepted
    when (a) a packet captured while `ss` ran (between snap ts and ts_end) leaves the side in the state `ss` shows,
    or (b) the kernel logged the change to the state `ss` shows before the snapshot, but the segment it is attributed
    to was captured after it (a send-side change whose segment was lost at the output hook shows at its
    retransmission, R3).  Returns the reason or None.  The per-packet truth is not affected."""
    col = 0 if side == "client" else 1
    during = [p for p in pkts if snap["ts"] < p["ts"] <= snap.get("ts_end", snap["ts"])]
    for p in during:
        if _ss_matches(p["truth"][col], seen, listener):
            return f"ss ran while frame {p['idx']} was captured"
    for sd, ev_ts, pkt_ts, state in pending:
        if sd == side and ev_ts <= snap["ts"] < pkt_ts and _ss_matches(state, seen, listener):
            return f"{side} logged {state} before the snapshot, its segment is captured after it"
    return None


def check_snapshot(snap, pkts, cli, srv, nstreams, report, loss_variant=False, pending=()):
    before = [p for p in pkts if p["ts"] <= snap["ts"]]
    if not before:
        return
    last = before[-1]
    want = {"client": last["truth"][0], "server": last["truth"][1]}
    socks = snap["sockets"]
    got = {"client": [], "server": [], "listener": False}
    for state, lp, pp, _l, _p in socks:
        if lp == cli[1] and pp == srv[1]:
            got["client"].append(state)
        elif lp == srv[1] and pp == cli[1]:
            got["server"].append(state)
        elif lp == srv[1] and state == "LISTEN":
            got["listener"] = True
    for side in ("client", "server"):
        seen = got[side]
        w = want[side]
        if w in ("CLOSED", "LISTEN"):
            ok = not seen or seen == ["CLOSED"]
            if w == "LISTEN" and not got["listener"]:
                ok = False
        else:
            ok = w in seen
        line = f"ss@{snap['label']}: {side} truth {w}, ss {seen or ['-']}"
        why = None
        if not ok and loss_variant:
            why = _snapshot_excuse(snap, pkts, side, seen, got["listener"], pending)
            if why:
                line += f"  (loss variant: {why})"
                ok = True
        report.append(line + ("" if ok else "  MISMATCH"))
        if not ok:
            raise TruthError(f"ss snapshot '{snap['label']}' after frame {last['idx']}: {side} is {seen or 'absent'}"
                             f" in ss but the truth says {w}")


def write_tsv(path, rows, with_stream):
    with open(path, "w") as f:
        f.write("frame\tclient_state\tserver_state" + ("\tstream" if with_stream else "") + "\n")
        for idx, c, s, st in rows:
            f.write(f"{idx}\t{c}\t{s}" + (f"\t{st}" if with_stream else "") + "\n")


def read_tsv(path):
    """{frame: (client, server)} from a truth file."""
    rows = {}
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:3] != ["frame", "client_state", "server_state"]:
            raise ValueError(f"{path}: bad header {header}")
        for line in f:
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            rows[int(parts[0])] = (parts[1], parts[2])
    return rows


def describe(pkts, rows, events=None, meta=None):
    """Human-readable listing (frame, time, direction, flags, seq/ack/len, truth) for review by eye."""
    out = []
    cport = meta["client"][1] if meta else None
    sport = meta["server"][1] if meta else None
    t0 = pkts[0]["ts"]
    items = [(p["ts"], 0, p) for p in pkts] + [(e["ts"], 1, e) for e in (events or [])]
    items.sort(key=lambda x: (x[0], x[1]))
    truth = {r[0]: r for r in rows}
    for ts, kind, x in items:
        t = (ts - t0) / 1e6
        if kind == 0:
            p = x
            arrow = "C->S" if p["sender"] == "client" else "S->C"
            r = truth[p["idx"]]
            out.append(f"{p['idx']:4d} {t:12.4f}ms {arrow} {flag_str(p['flags']):13s} seq={p['seq']} ack={p['ack']} "
                       f"len={p['plen']}{' DROPPED@input' if p['dropped'] else ''}  => client {r[1]}, server {r[2]}"
                       + (f" [stream {r[3]}]" if r[3] else ""))
        else:
            e = x
            side = {(cport, sport): "client", (sport, cport): "server", (sport, 0): "listener"}.get(
                (e["sport"], e["dport"]), f"other {e['sport']}->{e['dport']}")
            out.append(f"     {t:12.4f}ms   event {side} {e['old']} -> {e['new']}")
    return "\n".join(out)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Rebuild a truth file from a raw recording (pcap + raw.json)")
    ap.add_argument("pcap")
    ap.add_argument("raw", help="<scenario>.raw.json written by scenarios.py --keep-raw")
    ap.add_argument("-o", "--out")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    with open(a.raw) as f:
        raw = json.load(f)
    pkts = read_pcap(a.pcap)
    rows, multi, report = build_truth(pkts, raw["events"], raw["meta"])
    if a.verbose:
        print(describe(pkts, rows, raw["events"], raw["meta"]))
        print("\n".join(report))
    if a.out:
        write_tsv(a.out, rows, multi)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
