#!/usr/bin/env python3
"""Runs scripts/annotate-csv and scripts/annotate-pcapng on the sample captures and checks what they write.

  check_batch.py csv|pcapng --source <repo> --build <build dir>

csv:    every TCP segment has a row with RFC 9293 state names; every capture's
        rows equal its kernel truth (sample-pcaps/*.truth.tsv); every connection has a row
        whose Zeek conn_state/history equal what tests/batch/zeek_rules.py
        computes from Wireshark's TCP fields (Zeek's rules, independent of the plugin).
pcapng: the annotated copy has every frame of the original, in order, and every
        TCP segment carries a "tcpstate: " comment that a tshark WITHOUT the
        plugin reads back, equal to the plugin's own summary and carrying the
        kernel truth's client and server states; a long capture is
        done in several editcap chunks.
Exit 77 (CTest: skipped) when tshark is missing.
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile

from plugin_tshark import parse_source_build, plugin_tshark

STATES = {"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
          "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}
PHASES = {"Handshake", "Data", "Teardown", "Reset", "Closed"}
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, file=sys.stderr)


def plain_tshark(args):
    """tshark as root: no plugin (root ignores WIRESHARK_PLUGIN_DIR)."""
    env = dict(os.environ)
    env.pop("WIRESHARK_PLUGIN_DIR", None)
    out = subprocess.run(["tshark"] + args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"tshark {' '.join(args)}: {out.stderr}")
    return out.stdout


def samples(src):
    d = os.path.join(src, "sample-pcaps")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".pcap") or f.endswith(".pcapng"))


def expected_conns(cap):
    """Per tcp.stream: Zeek's conn_state and history for the Zeek connection of the stream's last
    frame (the summary a connections.csv row shows), from tests/batch/zeek_rules.py: Zeek's rules
    applied to Wireshark's own TCP fields, independent of the plugin."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import zeek_rules
    pkts = zeek_rules.read_packets(cap)
    by_frame = {}
    for c in zeek_rules.analyze(pkts):
        for fr in c.frames:
            by_frame[fr] = c
    table = {}
    for p in pkts:
        c = by_frame[p["frame"]]
        table[str(p["stream"])] = (c.conn_state(), c.history)
    return table


def run_csv(src, work):
    for cap in samples(src):
        name = os.path.splitext(os.path.basename(cap))[0]
        prefix = os.path.join(work, name)
        subprocess.run([os.path.join(src, "scripts", "annotate-csv"), "--progress", "5", cap, prefix],
                       check=True, stdout=subprocess.DEVNULL)
        with open(prefix + ".segments.csv") as f:
            rows = list(csv.DictReader(f))
        tcp_frames = plain_tshark(["-r", cap, "-Y", "tcp and not icmp and not icmpv6", "-T", "fields",
                                   "-e", "frame.number"]).split()
        check([r["frame"] for r in rows] == tcp_frames,
              f"{name}: segment rows {len(rows)} != TCP frames {len(tcp_frames)}")
        for r in rows:
            ok = (r["client_state"] in STATES and r["server_state"] in STATES and r["phase"] in PHASES and
                  r["client_prev_state"] in STATES and r["sender"] in ("client", "server"))
            check(ok, f"{name}: bad row {r}")
            if not ok:
                break
        truth = os.path.join(src, "sample-pcaps", name + ".truth.tsv")
        if os.path.exists(truth):
            with open(truth) as f:
                t = [line.rstrip("\n").split("\t") for line in f][1:]
            got = [[r["frame"], r["client_state"], r["server_state"]] for r in rows]
            check(got == [x[:3] for x in t], f"{name}: states differ from the kernel truth: {got} vs {t}")
        expected = expected_conns(cap)
        with open(prefix + ".connections.csv") as f:
            conns = list(csv.DictReader(f))
        streams = sorted({r["stream"] for r in rows}, key=int)
        check([c["stream"] for c in conns] == streams, f"{name}: connection rows {len(conns)} != streams")
        for c in conns:
            check(int(c["segments"]) == sum(1 for r in rows if r["stream"] == c["stream"]),
                  f"{name}: stream {c['stream']} segment count")
            want = expected.get(c["stream"])
            check((c["conn_state"], c["history"]) == want,
                  f"{name} stream {c['stream']}: conn_state/history {c['conn_state']} {c['history']}, "
                  f"Zeek's rules (zeek_rules.py) {want}")
        check(set(expected) == {c["stream"] for c in conns}, f"{name}: streams differ from zeek_rules.py's")


def run_pcapng(src, work):
    for cap in samples(src):
        name = os.path.splitext(os.path.basename(cap))[0]
        out = os.path.join(work, name + ".pcapng")
        chunk = ["--chunk", "50"] if name == "long-transfer" else []
        res = subprocess.run([os.path.join(src, "scripts", "annotate-pcapng")] + chunk + [cap, out],
                             capture_output=True, text=True)
        check(res.returncode == 0, f"{name}: annotate-pcapng failed: {res.stderr}")
        if res.returncode != 0:
            continue
        if chunk:
            check("chunk 2/" in res.stderr, f"{name}: expected several chunks: {res.stderr}")
        before = plain_tshark(["-r", cap, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch",
                               "-e", "tcp.seq_raw"]).splitlines()
        after = plain_tshark(["-r", out, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch",
                              "-e", "tcp.seq_raw"]).splitlines()
        check(before == after, f"{name}: frames changed")
        comments = {}
        for line in plain_tshark(["-r", out, "-Y", "frame.comment", "-T", "fields", "-e", "frame.number",
                                  "-e", "frame.comment"]).splitlines():
            frame, _, comment = line.partition("\t")
            comments[frame] = comment
        summaries = {}
        for line in plugin_tshark(src, ["-2", "-r", cap, "-Y", "tcpstate.phase", "-T", "fields",
                                        "-e", "frame.number", "-e", "tcpstate.summary"]).splitlines():
            frame, _, summary = line.partition("\t")
            summaries[frame] = summary
        check(set(comments) == set(summaries), f"{name}: commented frames != annotated frames")
        truth = os.path.join(src, "sample-pcaps", name + ".truth.tsv")
        if os.path.exists(truth):  # the kernel's states (tests/kernel/truth.py), independent of the plugin
            with open(truth) as f:
                for frame, cs, ss in (line.rstrip("\n").split("\t")[:3] for line in list(f)[1:]):
                    c = comments.get(frame, "")
                    if f"client {cs}, server {ss}" not in c:
                        check(False, f"{name} frame {frame}: comment {c!r} lacks the kernel's client {cs}, server {ss}")
                        break
        for frame, summary in summaries.items():
            c = comments.get(frame, "")
            if not c.startswith("tcpstate: " + summary + " | "):
                check(False, f"{name} frame {frame}: comment {c!r} does not carry {summary!r}")
                break


def main():
    args = parse_source_build(lambda ap: ap.add_argument("what", choices=["csv", "pcapng"]))
    if shutil.which("tshark") is None or shutil.which("editcap") is None:
        print("SKIP: tshark/editcap not installed", file=sys.stderr)
        return 77
    os.environ["TCPSTATE_TSHARK"] = os.path.join(args.source, "tests", "run-tshark.sh")
    work = tempfile.mkdtemp(prefix="tcpstate-batch.")
    try:
        (run_csv if args.what == "csv" else run_pcapng)(args.source, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"batch {args.what}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
