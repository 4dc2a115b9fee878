#!/usr/bin/env python3
"""`-z tcpstate,sockets,FILTER`: the socket table after every frame of every sample capture.

Two passes (-2), against the kernel: after frame k, the table must list, host by host, exactly the sockets the
kernel truth (<capture>.truth.tsv, recorded from the kernel's own state changes) had after k:
  - for every connection seen up to k, each side in its truth state after the connection's last frame up to k,
    except CLOSED and LISTEN (no socket of its own), a TIME-WAIT whose 60 s (Linux's TCP_TIMEWAIT_LEN) have
    passed at frame k, and the sides of a connection whose 4-tuple a later one (up to k) took;
  - a listener on a server's address and port when the truth shows one: a server side in LISTEN, or in
    SYN-RECEIVED coming from LISTEN or from nothing (passive open, RFC 9293 3.10.7.2); a SYN refused (the client
    SYN-SENT -> CLOSED, the server CLOSED) shows none. With hindsight, the latest such evidence
    up to k decides, and before any, the capture's first.
One pass, against the plugin's own one-pass fields: the same rules applied to the per-frame states tshark printed in
one pass, without hindsight for listeners (what was known at frame k).
The addresses and each connection's client and server come from Wireshark's ip/tcp fields of the connection's
frames (the client is the side that sent the first SYN without ACK, else the plugin's tcpstate.client.endpoint).
Also checks the article's four netstat moments on the seed walkthrough in bsd-netstat style (macOS columns), and
when TIME-WAIT ends (both preferences) on the walkthrough followed 61 s later by another capture, and that the GUI's
table holds the same rows (read through tshark's printer of statistics tables) after every frame of five captures.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_tshark import parse_source_build, plugin_tshark  # noqa: E402

TIME_WAIT_S = 60  # Linux TCP_TIMEWAIT_LEN; the plugin's default tcpstate.time_wait
NO_SOCKET = ("CLOSED", "LISTEN")


def read_truth(path):
    rows = {}
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header[:3] == ["frame", "client_state", "server_state"], path
        for line in f:
            if line.strip():
                p = line.rstrip("\n").split("\t")
                rows[int(p[0])] = (p[1], p[2], p[3] if len(p) > 3 else None)
    return rows


def endpoint(addr, port):
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def frames_of(src, pcap, two_pass):
    """Per TCP frame: time, stream, src/dst endpoints, flags, and the plugin's states and client endpoint."""
    fields = ["frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst",
              "ipv6.dst", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcpstate.client.state",
              "tcpstate.server.state", "tcpstate.client.endpoint"]
    args = (["-2"] if two_pass else []) + ["-r", pcap, "-Y", "tcp && !icmp && !icmpv6", "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = []
    for line in plugin_tshark(src, args).splitlines():
        p = line.split("\t")
        s, d = p[3] or p[4], p[6] or p[7]
        out.append(dict(frame=int(p[0]), t=float(p[1]), stream=p[2], src=endpoint(s, p[5]), dst=endpoint(d, p[8]),
                        syn=p[9] in ("1", "True"), ack=p[10] in ("1", "True"), client=p[11], server=p[12],
                        client_ep=p[13]))
    return out


def expected_tables(frames, states, hindsight):
    """{k: set of (host, local, foreign, state)} after each frame k. states: {frame: (client, server, conn)}."""
    conns = {}  # conn -> dict(client=ep, server=ep, first=frame)
    for fr in frames:
        conn = states[fr["frame"]][2]
        c = conns.setdefault(conn, dict(first=fr["frame"], client=None, server=None, plugin_client=fr["client_ep"]))
        if c["client"] is None and fr["syn"] and not fr["ack"]:
            c["client"], c["server"] = fr["src"], fr["dst"]
        c.setdefault("eps", {fr["src"], fr["dst"]})
    for c in conns.values():
        if c["client"] is None:
            c["client"] = c["plugin_client"]
            c["server"] = next(e for e in c["eps"] if e != c["client"])
    # Listener evidence per server endpoint, in frame order: (frame, listening?)
    evidence = {}
    last = {}
    for fr in frames:
        cs, ss, conn = states[fr["frame"]]
        pc, ps = last.get(conn, ("CLOSED", None))
        c = conns[conn]
        ev = None
        if ss == "LISTEN" or (ss == "SYN-RECEIVED" and ps in (None, "LISTEN")):
            ev = True  # the server's side is, or came from, the listener
        elif pc == "SYN-SENT" and cs == "CLOSED" and ss == "CLOSED" and ps in (None, "CLOSED", "SYN-RECEIVED"):
            ev = False  # the SYN was answered by a RST: nobody listened
        if ev is not None:
            evidence.setdefault(c["server"], []).append((fr["frame"], ev))
        last[conn] = (cs, ss)
    tables = {}
    now = {}  # conn -> (client, server)
    tw_since = {}  # (conn, role) -> time TIME-WAIT began
    started = []  # conns in order of first frame
    for fr in frames:
        k, t = fr["frame"], fr["t"]
        cs, ss, conn = states[k]
        if conn not in now:
            started.append(conn)
        prev = now.get(conn, ("CLOSED", "CLOSED"))
        for role, new, old in ((0, cs, prev[0]), (1, ss, prev[1])):
            if new == "TIME-WAIT" and old != "TIME-WAIT":
                tw_since[(conn, role)] = t
        now[conn] = (cs, ss)
        table = set()
        tuples = {}
        for cn in started:
            c = conns[cn]
            tuples[frozenset((c["client"], c["server"]))] = cn  # the newest connection on a 4-tuple wins
        for cn in started:
            c = conns[cn]
            if tuples[frozenset((c["client"], c["server"]))] != cn:
                continue
            for role, (local, foreign) in enumerate(((c["client"], c["server"]), (c["server"], c["client"]))):
                st = now[cn][role]
                if st in NO_SOCKET:
                    continue
                if st == "TIME-WAIT" and t >= tw_since.get((cn, role), t) + TIME_WAIT_S:
                    continue
                table.add((host_of(local), local, foreign, st))
        for server, evs in evidence.items():
            upto = [e for f, e in evs if f <= k]
            listening = upto[-1] if upto else (evs[0][1] if hindsight else False)
            if listening:
                table.add((host_of(server), server, "*:*", "LISTEN"))
        tables[k] = table
    return tables


def host_of(ep):
    return ep[1:ep.index("]")] if ep.startswith("[") else ep.rsplit(":", 1)[0]


BLOCK = re.compile(r"^TCP sockets (?:after frame (\d+)|before the first frame)")


def parse_tables(text):
    """{frame (0: before the first): set of (host, local, foreign, state)} from rfc9293-style output."""
    tables, cur, host = {}, None, None
    for line in text.splitlines():
        m = BLOCK.match(line)
        if m:
            cur = int(m.group(1) or 0)
            tables[cur] = set()
            continue
        if cur is None or line.startswith("====") or not line.strip():
            continue
        if line.startswith("Host "):
            host = line[5:]
            continue
        p = line.split()
        if p[0] == "Proto" or line.startswith("(no TCP sockets)"):
            continue
        tables[cur].add((host, p[1], p[2], p[3]))
    return tables


def check_capture(src, pcap, two_pass, failures):
    name = os.path.basename(pcap)[:-5]
    frames = frames_of(src, pcap, two_pass)
    if two_pass:
        truth = read_truth(pcap[:-5] + ".truth.tsv")
        states = {}
        for fr in frames:
            cs, ss, stream = truth[fr["frame"]]
            states[fr["frame"]] = (cs, ss, stream if stream is not None else fr["stream"])
    else:
        states = {fr["frame"]: (fr["client"], fr["server"], fr["stream"]) for fr in frames}
    want = expected_tables(frames, states, hindsight=two_pass)
    args = (["-2"] if two_pass else []) + ["-q", "-r", pcap]
    for fr in frames:
        args += ["-z", f"tcpstate,sockets,frame.number<={fr['frame']}"]
    got = parse_tables(plugin_tshark(src, args))
    bad = 0
    for k, table in want.items():
        if got.get(k) != table:
            bad += 1
            if bad <= 3:
                failures.append(f"{name} {'2-pass' if two_pass else '1-pass'} after frame {k}: "
                                f"want {sorted(table)}, got {sorted(got.get(k, set()))}")
    mode = "2-pass vs kernel truth" if two_pass else "1-pass vs 1-pass fields"
    print(f"{'ok  ' if bad == 0 else 'FAIL'} {name:28s} {mode}: {len(want) - bad}/{len(want)} frames")
    return bad == 0


# macOS netstat's names (netinet/tcp_fsm.h tcpstates[]), as the seed article's listings show them.
BSD = {"ESTABLISHED": "ESTABLISHED", "FIN-WAIT-2": "FIN_WAIT_2", "CLOSE-WAIT": "CLOSE_WAIT",
       "TIME-WAIT": "TIME_WAIT", "LISTEN": "LISTEN"}


def check_article(src, failures):
    """The article's four `netstat -a -n | grep 8888` moments on the seed walkthrough, macOS style: after the server
    started (before the first frame), after the handshake, after the client's close was acknowledged (teardown step
    2), after the server's close (the end). The expected states come from the kernel truth of those frames."""
    pcap = os.path.join(src, "sample-pcaps", "seed-walkthrough.pcap")
    truth = read_truth(pcap[:-5] + ".truth.tsv")
    frames = frames_of(src, pcap, True)
    handshake = next(f["frame"] for f in frames if truth[f["frame"]][:2] == ("ESTABLISHED", "ESTABLISHED"))
    half = next(f["frame"] for f in frames if truth[f["frame"]][:2] == ("FIN-WAIT-2", "CLOSE-WAIT"))
    end = frames[-1]["frame"]
    moments = [("frame.number<1", 0), (f"frame.number<={handshake}", handshake), (f"frame.number<={half}", half),
               (None, end)]
    args = ["-2", "-q", "-r", pcap, "-o", "tcpstate.spelling:bsd-netstat"]
    for flt, _ in moments:
        args += ["-z", "tcpstate,sockets" + (f",{flt}" if flt else "")]
    out = plugin_tshark(src, args)
    blocks = out.split("===================================================================")
    blocks = [b for b in blocks if "TCP sockets" in b]
    ok = len(blocks) == 4
    for (flt, k), block in zip(moments, blocks):
        want = {"LISTEN"}
        if k:
            want |= {BSD[s] for s in truth[k][:2] if s not in NO_SOCKET}
        got = {line.split()[-1] for line in block.splitlines() if re.match(r"^tcp[46] ", line)}
        addr_ok = all(re.match(r"^tcp4 +127\.0\.0\.1\.\d+ +(127\.0\.0\.1\.\d+|\*\.\*) ", line)
                      for line in block.splitlines() if line.startswith("tcp"))
        header_ok = "Proto Local Address" in block and "(state)" in block
        if got != want or not addr_ok or not header_ok:
            ok = False
            failures.append(f"article moment {flt or 'end'}: want states {sorted(want)}, got {sorted(got)}"
                            f" (addresses macOS-style: {addr_ok}, header: {header_ok})\n{block}")
    print(f"{'ok  ' if ok else 'FAIL'} seed walkthrough, the article's four netstat moments in bsd-netstat style")
    return ok


def check_time_wait_end(src, failures):
    """TIME-WAIT ends by the preference: the walkthrough (its client enters TIME-WAIT at its frame 9) followed by the
    ipv6 capture moved to start 61 s after the walkthrough's end. After the walkthrough's last frame the client is in
    TIME-WAIT; at the end of the joined capture, 61 s later, it has left it with tcpstate.time_wait linux (60 s,
    Linux's TCP_TIMEWAIT_LEN) and is still there with rfc (2*MSL = 240 s, RFC 9293 3.10.7.4)."""
    seed = os.path.join(src, "sample-pcaps", "seed-walkthrough.pcap")
    later = os.path.join(src, "sample-pcaps", "ipv6.pcap")
    tmp = tempfile.mkdtemp(prefix="tcpstate-sockets.")
    os.chmod(tmp, 0o755)
    try:
        def epochs(pcap):
            out = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-e", "frame.time_epoch"],
                                 capture_output=True, text=True, check=True).stdout.split()
            return float(out[0]), float(out[-1]), len(out)
        _, seed_end, seed_n = epochs(seed)
        later_start, _, _ = epochs(later)
        shifted, joined = os.path.join(tmp, "later.pcap"), os.path.join(tmp, "joined.pcap")
        subprocess.run(["editcap", "-t", f"{seed_end + 61 - later_start:.9f}", later, shifted], check=True,
                       capture_output=True)
        subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", joined, seed, shifted], check=True, capture_output=True)
        os.chmod(joined, 0o644)
        ok = True
        for pref, at_end in (("linux", False), ("rfc", True)):
            out = plugin_tshark(src, ["-2", "-q", "-r", joined, "-o", f"tcpstate.time_wait:{pref}",
                                      "-z", f"tcpstate,sockets,frame.number<={seed_n}", "-z", "tcpstate,sockets"])
            tables = parse_tables(out)
            tw = [(k, any(r[3] == "TIME-WAIT" and r[1] == "127.0.0.1:40001" for r in t)) for k, t in tables.items()]
            want = [(seed_n, True), (max(tables), at_end)]
            if sorted(tw) != want or not any(r[0] == "::1" for r in tables[max(tables)]):
                ok = False
                failures.append(f"TIME-WAIT end ({pref}): client in TIME-WAIT {sorted(tw)}, want {want}\n{out}")
        print(f"{'ok  ' if ok else 'FAIL'} TIME-WAIT ends 60 s (linux) / 240 s (rfc) after it began")
        return ok
    finally:
        subprocess.run(["rm", "-rf", tmp])


def check_gui_table(src, names, failures):
    """The GUI's table (Statistics > TCP Sockets, a stat_tap_table whose rows the plugin moves in place), read
    through tshark's printer of such tables (-z tcpstate,socket-table,FILTER: one table per run), after every frame
    of a few captures with several connections, listeners and reused 4-tuples: the same rows as -z tcpstate,sockets."""
    ok = True
    for name in names:
        pcap = os.path.join(src, "sample-pcaps", name + ".pcap")
        frames = frames_of(src, pcap, True)
        args = ["-2", "-q", "-r", pcap]
        for fr in frames:
            args += ["-z", f"tcpstate,sockets,frame.number<={fr['frame']}"]
        want = parse_tables(plugin_tshark(src, args))
        bad = 0
        for fr in frames:
            k = fr["frame"]
            out = plugin_tshark(src, ["-2", "-q", "-r", pcap, "-z", f"tcpstate,socket-table,frame.number<={k}"])
            rows = set()
            for line in out.splitlines():
                p = [x.strip() for x in line.split("|")]
                if len(p) == 6 and p[0] != "Host":
                    rows.add((p[0], p[2], p[3], p[4]))
            if rows != want.get(k):
                bad += 1
                if bad <= 2:
                    failures.append(f"GUI table {name} after frame {k}: {sorted(rows)}, want {sorted(want.get(k, []))}")
        ok &= bad == 0
        print(f"{'ok  ' if bad == 0 else 'FAIL'} GUI table {name}: {len(frames) - bad}/{len(frames)} frames")
    return ok


def main():
    a = parse_source_build()
    pcaps = sorted(glob.glob(os.path.join(a.source, "sample-pcaps", "*.pcap")))
    pcaps = [p for p in pcaps if os.path.exists(p[:-5] + ".truth.tsv")]
    if not pcaps:
        print("no sample captures with truth")
        return 1
    failures = []
    ok = check_article(a.source, failures)
    ok &= check_time_wait_end(a.source, failures)
    ok &= check_gui_table(a.source, ["seed-walkthrough", "reuse-after-time-wait", "syn-to-time-wait-server",
                                     "refused-ipv4", "rst-syn-received-to-listen"], failures)
    for pcap in pcaps:
        for two_pass in (True, False):
            ok &= check_capture(a.source, pcap, two_pass, failures)
    for f in failures:
        print(f)
    print(f"{len(pcaps)} captures: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
