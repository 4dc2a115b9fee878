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
- each expert info tcpstate registers has an anomaly row that counts the frames carrying it (none when
  none does), here and on the hostile captures (tests/robustness/gen_hostile.py: quoted, cut headers...).
  check_stats.py --source <repo> --build <build dir>
"""
import collections
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "robustness"))
import gen_hostile  # noqa: E402
import zeek_rules  # noqa: E402
from plugin_tshark import parse_source_build, plugin_tshark  # noqa: E402


def tree(src, cap, two_pass, extra=()):
    rows, parent = {}, None
    args = (["-2"] if two_pass else []) + list(extra) + ["-q", "-r", cap, "-z", "tcpstate,tree"]
    for line in plugin_tshark(src, args).splitlines():
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


def check_anomalies(src, name, cap, two, experts):
    """Every expert info tcpstate registers: its row under Anomalies counts the frames that carry it (0: no
    row), from one tshark -2 -T fields run that prints each expert field."""
    shown = collections.Counter()
    args = ["-2", "-r", cap, "-T", "fields", "-E", "occurrence=f"]
    for e in experts:
        args += ["-e", e]
    for line in plugin_tshark(src, args).splitlines():
        for e, v in zip(experts, line.split("\t")):
            if v:
                shown[e] += 1
    rows = {k[1]: v for k, v in two.items() if k[0] == "Anomalies (expert infos)" and k[1] and v}
    unknown = set(rows) - set(experts)
    want = {e: n for e, n in shown.items() if n}
    if rows != want or unknown:
        print(f"FAIL {name}: anomaly rows {rows} != frames with each expert info {want}")
        return 1
    return 0


def main():
    src = parse_source_build().source
    failures = 0
    experts = sorted(line.split("\t")[2] for line in plugin_tshark(src, ["-G", "fields"]).splitlines()
                     if line.startswith("F\t") and "\ttcpstate.expert." in line)
    if len(experts) < 10:
        print(f"FAIL: tshark -G fields lists {len(experts)} tcpstate expert infos")
        return 1
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
        failures += check_anomalies(src, name, cap, two, experts)
    # The hostile captures (tests/robustness/gen_hostile.py) have the frames the samples lack: TCP headers
    # quoted in ICMP errors, cut headers, odd link layers. Their anomaly rows only. Burst rates off: every
    # statistics tree of Wireshark 4.0, 4.4 and 4.6 (ip_hosts,tree too, without tcpstate) crashes in its
    # burst-rate bookkeeping on pcapng-extreme-time (a frame 4.6e18 s after the first); README, Robustness.
    with tempfile.TemporaryDirectory(prefix="tcpstate-stats-") as tmp:
        gen_hostile.generate(tmp, 0)
        hostile = sorted(f for f in os.listdir(tmp) if f.endswith(".pcap"))
        os.chmod(tmp, 0o755)  # tshark runs as nobody (tests/run-tshark.sh)
        for f in hostile:
            os.chmod(os.path.join(tmp, f), 0o644)
        for name in hostile:
            cap = os.path.join(tmp, name)
            rows = tree(src, cap, True, ["-o", "statistics.st_enable_burstinfo:FALSE"])
            failures += check_anomalies(src, name, cap, rows, experts)
    caps += hostile
    print(f"stats tree: {len(caps)} captures, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
