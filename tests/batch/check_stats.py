#!/usr/bin/env python3
"""The "TCP Connection States" stats tree (tshark -z tcpstate,tree) on every sample capture:
- one pass and two passes give the same non-zero connection and phase rows (one pass may leave 0-count
  nodes behind; transitions and anomalies may differ: hindsight rewrites records after the first pass);
- connections by outcome count each Zeek connection once (a tcp.stream may hold several: port reuse,
  Zeek's timers), under its final tcpstate.conn.state, and that is what Zeek's rules give
  (tests/batch/zeek_rules.py, from Wireshark's own TCP fields, independent of the plugin); the
  plugin's per-frame conn.state shows the same outcome on each connection's last frame;
- segments by phase add up to the capture's TCP segments (plain tshark: tcp and not icmp);
- in two passes, each transition row equals the frames whose client/server prev_state -> state
  fields show that transition;
- each anomaly row counts the frames that carry that expert info (tshark -2 -Y tcpstate.expert.X).
  check_stats.py --source <repo> --build <build dir>
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zeek_rules  # noqa: E402
from plugin_tshark import parse_source_build, plugin_tshark  # noqa: E402


def tree(src, cap, two_pass):
    rows, parent = {}, None
    for line in plugin_tshark(src, (["-2"] if two_pass else []) + ["-q", "-r", cap, "-z", "tcpstate,tree"]).splitlines():
        m = re.match(r"^( ?)(\S.*?)\s{2,}(\d+)\s", line)
        if not m or line.startswith("Topic"):
            continue
        name, count = m.group(2).strip(), int(m.group(3))
        if m.group(1):
            rows[(parent, name)] = count
        else:
            parent = name
            rows[(name, None)] = count
    return rows


def main():
    src = parse_source_build().source
    failures = 0
    caps = sorted(f for f in os.listdir(os.path.join(src, "sample-pcaps")) if f.endswith((".pcap", ".pcapng")))
    for name in caps:
        cap = os.path.join(src, "sample-pcaps", name)
        same = ("Connections by outcome (Zeek conn_state)", "Connections by final state (client, server)",
                "Segments by phase")
        two = tree(src, cap, True)
        one = {k: v for k, v in tree(src, cap, False).items() if v != 0 and k[0] in same}
        if one != {k: v for k, v in two.items() if v != 0 and k[0] in same}:
            print(f"FAIL {name}: one pass {one} != two passes {two}")
            failures += 1
        outcome = {k[1].split(":")[0]: v for k, v in two.items()
                   if k[0] == "Connections by outcome (Zeek conn_state)" and k[1]}
        pkts = zeek_rules.read_packets(cap)
        conns = list(zeek_rules.analyze(pkts))
        zeek = dict(collections.Counter(c.conn_state() for c in conns))
        if outcome != zeek:
            print(f"FAIL {name}: outcomes {outcome} != Zeek's rules per connection {zeek}")
            failures += 1
        shown = {}
        for line in plugin_tshark(src, ["-2", "-r", cap, "-Y", "tcpstate.phase", "-T", "fields", "-e", "frame.number",
                              "-e", "tcpstate.conn.state"]).splitlines():
            frame, state = line.split("\t")
            shown[int(frame)] = state
        last_frames = dict(collections.Counter(shown.get(max(c.frames)) for c in conns))
        if outcome != last_frames:
            print(f"FAIL {name}: outcomes {outcome} != conn.state on each connection's last frame {last_frames}")
            failures += 1
        phases = two.get(("Segments by phase", None), 0)
        if phases != len(pkts):
            print(f"FAIL {name}: segments by phase {phases} != TCP segments {len(pkts)}")
            failures += 1
        trans = collections.Counter()
        for line in plugin_tshark(src, ["-2", "-r", cap, "-Y", "tcpstate.phase", "-T", "fields",
                              "-e", "tcpstate.client.prev_state", "-e", "tcpstate.client.state",
                              "-e", "tcpstate.server.prev_state", "-e", "tcpstate.server.state"]).splitlines():
            cp, cs, sp, ss = line.split("\t")
            if cp != cs:
                trans[f"client {cp} -> {cs}"] += 1
            if sp != ss:
                trans[f"server {sp} -> {ss}"] += 1
        rows = {k[1]: v for k, v in two.items() if k[0] == "State transitions" and k[1] and v}
        if rows != dict(trans):
            print(f"FAIL {name}: transitions {rows} != per-frame fields {dict(trans)}")
            failures += 1
        for (parent, expert), count in two.items():
            if parent != "Anomalies (expert infos)" or expert is None:
                continue
            frames = len(plugin_tshark(src, ["-2", "-r", cap, "-Y", expert, "-T", "fields", "-e", "frame.number"]).split())
            if frames != count:
                print(f"FAIL {name}: {expert}: stats {count}, frames {frames}")
                failures += 1
    print(f"stats tree: {len(caps)} captures, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
