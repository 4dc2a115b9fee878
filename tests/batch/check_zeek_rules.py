#!/usr/bin/env python3
"""Compares tcpstate's connection summary with Zeek's rules, frame by frame, on every sample capture.

  check_zeek_rules.py --source <repo> --build <build dir> [captures...]

For every sample-pcaps/*.pcap and *.pcapng (new captures are picked up as they are added) and every
TCP frame: tcpstate.conn.state and tcpstate.conn.history from `tshark -2` with the plugin must equal
the conn_state and history that tests/batch/zeek_rules.py computes for the Zeek connection that frame
belongs to, from Wireshark's own TCP fields (it reads no tcpstate field). Prints one line per capture
(streams, Zeek connections, frames, mismatches) and the first mismatching frames.
Exit 77 (CTest: skipped) when tshark is missing.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zeek_rules  # noqa: E402
from plugin_tshark import parse_source_build, plugin_tshark  # noqa: E402


def plugin_fields(src, cap):
    text = plugin_tshark(src, ["-2", "-r", cap, "-Y", "tcpstate.phase", "-T", "fields", "-E", "occurrence=f",
                               "-e", "frame.number", "-e", "tcp.stream", "-e", "tcpstate.conn.state",
                               "-e", "tcpstate.conn.history"])
    rows = {}
    for line in text.splitlines():
        frame, stream, state, history = (line.split("\t") + ["", "", "", ""])[:4]
        rows[int(frame)] = (int(stream), state, history)
    return rows


def main():
    a = parse_source_build(lambda ap: ap.add_argument("captures", nargs="*"))
    if shutil.which("tshark") is None:
        print("SKIP: tshark not installed", file=sys.stderr)
        return 77
    src = a.source
    caps = a.captures or sorted(os.path.join(src, "sample-pcaps", f) for f in os.listdir(
        os.path.join(src, "sample-pcaps")) if f.endswith((".pcap", ".pcapng")))
    total = {"captures": 0, "streams": 0, "zeek": 0, "frames": 0, "bad": 0}
    print(f"{'capture':28} {'streams':>7} {'zeek conns':>10} {'frames':>7} {'mismatches':>10}")
    for cap in caps:
        name = os.path.splitext(os.path.basename(cap))[0]
        pkts = zeek_rules.read_packets(cap)
        conns = zeek_rules.analyze(pkts)
        want = {}
        for c in conns:
            for fr in c.frames:
                want[fr] = (c.conn_state(), c.history, c.index)
        got = plugin_fields(src, cap)
        bad = []
        for p in pkts:
            fr = p["frame"]
            if fr not in got:
                bad.append(f"frame {fr}: not annotated by the plugin")
                continue
            if got[fr][1:] != want[fr][:2]:
                bad.append(f"frame {fr} (stream {got[fr][0]}, Zeek connection {want[fr][2]}): plugin "
                           f"{got[fr][1]} {got[fr][2]}, Zeek's rules {want[fr][0]} {want[fr][1]}")
        extra = sorted(set(got) - set(want))
        bad += [f"frame {fr}: annotated by the plugin, not a TCP segment for Zeek" for fr in extra]
        streams = len({p["stream"] for p in pkts})
        print(f"{name:28} {streams:7} {len(conns):10} {len(pkts):7} {len(bad):10}")
        for line in bad[:5]:
            print(f"    {line}")
        total["captures"] += 1
        total["streams"] += streams
        total["zeek"] += len(conns)
        total["frames"] += len(pkts)
        total["bad"] += len(bad)
    # The committed record (tests/batch/expected-conn.tsv, written by zeek_rules.py) still holds.
    record = os.path.join(src, "tests", "batch", "expected-conn.tsv")
    if not a.captures and os.path.exists(record):
        with open(record) as f:
            rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#") and line.strip()]
        by_capture = {}
        for row in rows:
            by_capture.setdefault(row[0], []).append(row)
        for name, want_rows in sorted(by_capture.items()):
            cap = os.path.join(src, "sample-pcaps", name + ".pcap")
            if not os.path.exists(cap):
                continue
            now = [[name, ",".join(str(s) for s in c.streams), str(c.frames[0]), c.conn_state(), c.history]
                   for c in zeek_rules.analyze(zeek_rules.read_packets(cap))]
            if now != want_rows:
                print(f"FAIL {name}: zeek_rules.py now gives {now}, expected-conn.tsv has {want_rows}")
                total["bad"] += 1
    print(f"TOTAL: {total['captures']} captures, {total['streams']} streams, {total['zeek']} Zeek connections, "
          f"{total['frames']} frames, {total['bad']} mismatching frames")
    return 1 if total["bad"] or not total["captures"] else 0


if __name__ == "__main__":
    sys.exit(main())
