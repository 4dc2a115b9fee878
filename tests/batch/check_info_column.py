#!/usr/bin/env python3
"""tcpstate.info_column: both states in the Info column, and nothing else changed.

On every sample capture, one pass and two passes, with the preference on against off:
  - every tcpstate field (the golden test's fields and the connection summary) is the same on every frame;
  - the Info column is "[client X, server Y] " followed by the one without the preference, X and Y the frame's
    tcpstate.client.state and tcpstate.server.state (the default spelling), on every annotated segment, and
    unchanged on every other frame (first, so that the GUI's Flow Graph, which cuts a label to its arrow's
    width, shows them);
  - `tshark -z flow,any,network` labels every annotated segment's arrow with the same "[client X, server Y]",
    in frame order.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_tshark import parse_source_build, plugin_tshark  # noqa: E402

FIELDS = ["frame.number", "tcpstate.sender", "tcpstate.phase", "tcpstate.handshake_step", "tcpstate.teardown_step",
          "tcpstate.client.prev_state", "tcpstate.client.state", "tcpstate.server.prev_state",
          "tcpstate.server.state", "tcpstate.transition", "tcpstate.assumed", "tcpstate.corrects",
          "tcpstate.corrected_by", "tcpstate.delivery", "tcpstate.summary", "tcpstate.conn.state",
          "tcpstate.conn.history", "tcpstate.time_wait_end"]
ON = ["-o", "tcpstate.info_column:TRUE"]


def fields(src, pcap, two_pass, extra):
    """Per frame: the tcpstate fields, then Info. Info is read from tshark's summary lines (columns No. and Info):
    from Wireshark 4.2 on, `-e _ws.col.info` holds Info as it was before the post-dissectors ran."""
    mode = ["-2"] if two_pass else []
    args = mode + extra + ["-r", pcap, "-T", "fields", "-E", "occurrence=a"]
    for f in FIELDS:
        args += ["-e", f]
    rows = [line.split("\t") for line in plugin_tshark(src, args).splitlines()]
    cols = ["-o", 'gui.column.format:"No.","%m","Info","%i"']
    info = {}
    for line in plugin_tshark(src, mode + extra + cols + ["-r", pcap]).splitlines():
        p = line.strip().split(None, 1)
        if p:
            info[p[0]] = p[1] if len(p) > 1 else ""
    return [r + [info.get(r[0], "(no summary line)")] for r in rows]


def check(src, pcap, two_pass, failures):
    name = f"{os.path.basename(pcap)[:-5]} {'2-pass' if two_pass else '1-pass'}"
    off, on = fields(src, pcap, two_pass, []), fields(src, pcap, two_pass, ON)
    bad = []
    if len(off) != len(on):
        bad.append(f"{len(off)} frames without the preference, {len(on)} with it")
    want_labels = []
    for a, b in zip(off, on):
        if a[:-1] != b[:-1]:
            bad.append(f"frame {a[0]}: tcpstate fields differ: {a[:-1]} vs {b[:-1]}")
        client, server = a[FIELDS.index("tcpstate.client.state")], a[FIELDS.index("tcpstate.server.state")]
        want = (f"[client {client}, server {server}] " if client else "") + a[-1]
        if client:
            want_labels.append(f"[client {client}, server {server}]")
        if b[-1] != want:
            bad.append(f"frame {a[0]}: Info {b[-1]!r}, want {want!r}")
    flow = plugin_tshark(src, (["-2"] if two_pass else []) + ON + ["-q", "-r", pcap, "-z", "flow,any,network"])
    # Each arrow's comment is "PROTOCOL: Info" (its label, Info again, is cut to the arrow's width).
    got_labels = re.findall(r"\|[^|:\s]+: (\[client [A-Z12-]+, server [A-Z12-]+\]) ", flow)
    if got_labels != want_labels:
        bad.append(f"flow graph labels {got_labels[:4]}... ({len(got_labels)}), want {want_labels[:4]}..."
                   f" ({len(want_labels)})")
    print(f"{'ok  ' if not bad else 'FAIL'} {name}: {len(on)} frames, {len(want_labels)} arrows labelled")
    failures += [f"{name}: {b}" for b in bad[:3]]
    return not bad


def main():
    a = parse_source_build()
    pcaps = sorted(glob.glob(os.path.join(a.source, "sample-pcaps", "*.pcap")))
    failures, ok = [], bool(pcaps)
    for pcap in pcaps:
        for two_pass in (False, True):
            ok &= check(a.source, pcap, two_pass, failures)
    for f in failures:
        print(f)
    print(f"{len(pcaps)} captures: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
