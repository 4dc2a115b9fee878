#!/usr/bin/env python3
"""tcpstate on the tcpdump and Wireshark test captures (issue 18), unpacked by fetch.py.

  corpus.py --build BUILD --corpus DIR [--json FILE]

Runs: every file is opened once (one pass, -T fields); every capture in which Wireshark dissects
TCP is then run again in two passes, with -V in one and two passes, and with the other header
reader (-o tcpstate.headers:fields) in one and two passes, all with
WIRESHARK_ABORT_ON_DISSECTOR_BUG=1 and a timeout; and once without the plugin for Zeek's rules.

Robustness: it fails on a crash (a signal), a dissector bug, a sanitizer report, a timeout, an exit
status other than 0 without tshark's message that the file is bad, or a stderr line naming tcpstate (tests/robustness/robustness.py's
rules); on a TCP frame (one whose frame.protocols has a tcp layer) that with the default settings
has neither an annotation (tcpstate.phase) nor one of the explicit reasons: a TCP header quoted in
an ICMP error (tcpstate.expert.quoted_in_icmp), or a segment Wireshark itself cannot read whole
(tcpstate.expert.incomplete: its header cut by the capture, or the first fragment of an IP datagram
it did not reassemble); and on a frame where the two header readers do not give the same tcpstate
fields and expert messages (robustness.headers_agree's rule), in one pass or two.

States: the kernel-free checks of kernel_free.py (transitions in one pass and two,
tcp.completeness in two) and tcpstate.conn.state/history against Zeek's rules
(tests/batch/zeek_rules.py on Wireshark's own TCP fields) frame by frame. An exception listed in
known-exceptions.tsv (check, capture, stream, frame, why; explained in the README) fails nothing;
any other fails, and a listed one that no longer occurs is reported (the list only shrinks).

It prints a table per source package and the totals; --json writes them.
"""
import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "robustness"))
sys.path.insert(0, os.path.join(ROOT, "tests", "batch"))
sys.path.insert(0, HERE)
import headers_agree  # noqa: E402
import kernel_free  # noqa: E402
import zeek_rules  # noqa: E402
from robustness import BAD_OUTPUT  # noqa: E402

TIMEOUT = 120
# What the first run prints: the frame's layers, and what the two header readers must agree on.
AGREE_FIELDS = headers_agree.FIELDS[:1] + ["frame.protocols"] + headers_agree.FIELDS[1:] + ["_ws.expert.message"]
# Every tcpstate run prints these: what the readers must agree on, then what the state checks read.
COLUMNS = AGREE_FIELDS + [f for f in kernel_free.FIELDS if f not in AGREE_FIELDS]
NOT_A_CAPTURE = ("isn't a capture file", "unknown file format", "is not a capture file")


class Tshark:
    """tshark with this build's plugin (as nobody when root: tests/run-tshark.sh's reason),
    classifying each run as robustness.py does."""

    def __init__(self, build):
        self.plugins = os.path.join(build, "plugins")
        self.home = tempfile.mkdtemp(prefix="tcpstate-corpus-home.")
        os.chmod(self.home, 0o777)
        self.lock = threading.Lock()
        self.runs = 0
        self.seconds = 0.0
        self.failures = []

    def command(self, args, plugin=True):
        env = ["HOME=" + self.home, "WIRESHARK_ABORT_ON_DISSECTOR_BUG=1"]
        if plugin:
            env.append("WIRESHARK_PLUGIN_DIR=" + self.plugins)
        cmd = ["env"] + env + ["tshark", "-n"] + args
        if os.getuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
        return cmd

    def run(self, path, args, plugin=True):
        """stdout, or None when the file is not a capture tshark reads; failures are recorded."""
        cmd = self.command(["-r", path] + args, plugin)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        why = None
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            why = "timeout after %d s" % TIMEOUT
        rc = proc.returncode
        text_err = err.decode("utf-8", "replace")
        if why is None:
            if rc < 0 or rc >= 128:
                why = "killed by signal %d" % (-rc if rc < 0 else rc - 128)
            elif BAD_OUTPUT.search(text_err):
                why = "stderr: " + BAD_OUTPUT.search(text_err).group(0)
            elif b"Dissector bug" in out:
                why = "Dissector bug in the output"
            else:
                named = [l for l in text_err.splitlines() if "tcpstate" in l.replace(path, "").lower()]
                if named:
                    why = "stderr names tcpstate: " + named[0][:200]
                elif rc != 0 and (rc not in (1, 2, 3) or "tshark: The file " not in text_err):
                    # a bad file (cut short, damaged, not a capture) is 2 on 4.0 and 3 from 4.2
                    # (WS_EXIT_INVALID_FILE), with tshark's "The file ..." message: anything else fails
                    why = "exit status %d" % rc
        with self.lock:
            self.runs += 1
            self.seconds += time.monotonic() - started
            if why:
                self.failures.append({"input": path, "args": " ".join(args), "why": why,
                                      "stderr_tail": text_err[-1500:],
                                      "reproduce": " ".join(shlex.quote(c) for c in cmd)})
        if why is None and rc != 0 and any(s in text_err for s in NOT_A_CAPTURE):
            return None
        return out.decode("utf-8", "replace")


def field_args(fields, occurrence="a"):
    return ["-T", "fields", "-E", "occurrence=" + occurrence] + sum((["-e", f] for f in fields), [])


def captures(corpus):
    """(source package, path) of every unpacked file."""
    out = []
    for pkg in sorted(os.listdir(corpus)):
        d = os.path.join(corpus, pkg)
        if os.path.isdir(d):
            out += [(pkg, os.path.join(d, f)) for f in sorted(os.listdir(d))]
    return out


def in_parallel(fn, jobs):
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(fn, jobs))


def tcp_frames(lines):
    """{frame number: line} of the frames with a tcp layer (AGREE_FIELDS output)."""
    out = {}
    for line in lines:
        cols = line.split("\t")
        if len(cols) > 1 and "tcp" in cols[1].split(":"):
            out[cols[0]] = cols
    return out


def coverage(cols):
    """annotated, quoted, incomplete, unparsed, or missing (no annotation and no reason)."""
    col = {f: cols[i] if i < len(cols) else "" for i, f in enumerate(AGREE_FIELDS)}
    if col["tcpstate.phase"]:
        return "annotated"
    for kind in ("quoted_in_icmp", "incomplete", "unparsed"):
        if col["tcpstate.expert." + kind]:
            return kind.split("_")[0]
    return "missing"


def robustness(a, ts):
    files = captures(a.corpus)
    first = in_parallel(lambda j: ts.run(j[1], field_args(COLUMNS)), files)
    tcp = [(pkg, path) for (pkg, path), out in zip(files, first) if out is not None and tcp_frames(out.splitlines())]
    later = [("-2", True), ("-V", False), ("-2 -V", False), ("fields", True), ("-2 fields", True),
             ("zeek", True)]
    jobs = [(path, mode, keep) for _, path in tcp for mode, keep in later]

    def run_later(job):
        path, mode, keep = job
        if mode == "zeek":  # Wireshark's own fields, no plugin, for Zeek's rules (as zeek_rules.py reads them)
            return ts.run(path, ["-Y", "tcp and not icmp and not icmpv6"] + field_args(zeek_rules.FIELDS, "f"),
                          plugin=False)
        args = (["-2"] if "-2" in mode else []) + (["-o", "tcpstate.headers:fields"] if "fields" in mode else [])
        args += ["-V"] if "-V" in mode else field_args(COLUMNS)
        out = ts.run(path, args)
        return out if keep else None

    outs = dict(zip([(p, m) for p, m, _ in jobs], in_parallel(run_later, jobs)))
    by_path = dict((path, out) for (_, path), out in zip(files, first))
    table, problems = {}, []
    for pkg, path in files:
        t = table.setdefault(pkg, {"files": 0, "captures": 0, "with_tcp": 0, "tcp_frames": 0, "annotated": 0,
                                   "quoted": 0, "incomplete": 0, "unparsed": 0, "missing": 0, "differ": 0})
        t["files"] += 1
        if by_path[path] is not None:
            t["captures"] += 1
    name = lambda p: os.path.relpath(p, a.corpus)  # noqa: E731
    for pkg, path in tcp:
        t = table[pkg]
        t["with_tcp"] += 1
        one, two = by_path[path], outs[(path, "-2")]
        for passes, out in (("one pass", one), ("two passes", two)):
            frames = tcp_frames((out or "").splitlines())
            for number, cols in frames.items():
                kind = coverage(cols)
                if passes == "one pass":
                    t["tcp_frames"] += 1
                    t[kind] += 1
                if kind in ("missing", "unparsed"):
                    problems.append("%s frame %s (%s, %s): no annotation, %s" % (
                        name(path), number, passes, cols[1],
                        "marked not parsed" if kind == "unparsed" else "and no reason given"))
        for passes, by_bytes, by_fields in (("one pass", one, outs[(path, "fields")]),
                                            ("two passes", two, outs[(path, "-2 fields")])):
            if by_bytes is None or by_fields is None:
                continue
            failures, _, _ = headers_agree.compare_runs(
                [("%s (%s)" % (name(path), passes), by_bytes.splitlines(), by_fields.splitlines())],
                ("bytes", "fields"))
            t["differ"] += failures
    print("%-10s %6s %8s %8s %10s %9s %7s %10s %8s %7s %7s" % (
        "source", "files", "captures", "with TCP", "TCP frames", "annotated", "quoted", "incomplete", "unparsed",
        "missing", "differ"))
    total = {}
    for pkg, t in sorted(table.items()):
        print("%-10s %6d %8d %8d %10d %9d %7d %10d %8d %7d %7d" % (
            pkg, t["files"], t["captures"], t["with_tcp"], t["tcp_frames"], t["annotated"], t["quoted"],
            t["incomplete"], t["unparsed"], t["missing"], t["differ"]))
        for k, v in t.items():
            total[k] = total.get(k, 0) + v
    results = [(pkg, path, kernel_free.parse(by_path[path] or "", COLUMNS),
                kernel_free.parse(outs[(path, "-2")] or "", COLUMNS), outs[(path, "zeek")]) for pkg, path in tcp]
    return table, total, problems, [r for r in results if r[3]]


def states(a, results):
    """results: (package, path, one-pass rows, two-pass rows, Zeek's fields) of each capture
    with annotated TCP segments."""
    found = []  # (check, capture, stream, frame, text)
    counts = {}
    for pkg, path, rows1, rows2, zeek in results:
        cap = os.path.relpath(path, a.corpus)
        c = counts.setdefault(pkg, {"captures": 0, "streams": 0, "frames": 0, "zeek_conns": 0})
        c["captures"] += 1
        c["streams"] += len({r["tcp.stream"] for r in rows2})
        c["frames"] += len(rows2)
        for check, stream, frame, text in kernel_free.check_transitions(rows2):
            found.append(("transition -2", cap, stream, frame, text))
        for check, stream, frame, text in kernel_free.check_transitions(rows1):
            found.append(("transition", cap, stream, frame, text))
        for check, stream, frame, text in kernel_free.check_completeness(rows2):
            found.append((check, cap, stream, frame, text))
        pkts = zeek_rules.parse_packets(zeek or "")
        conns = zeek_rules.analyze(pkts)
        c["zeek_conns"] += len(conns)
        want = {}
        for z in conns:
            for fr in z.frames:
                want[fr] = (z.conn_state(), z.history, z.index)
        got = {r["frame"]: (r["tcp.stream"], r["tcpstate.conn.state"], r["tcpstate.conn.history"]) for r in rows2}
        for fr in sorted(set(want) | set(got)):
            if fr not in got:
                found.append(("zeek", cap, "", fr, "a TCP segment for Zeek's rules, not annotated by tcpstate"))
            elif fr not in want:
                found.append(("zeek", cap, got[fr][0], fr, "annotated by tcpstate, not a TCP segment for Zeek's rules"))
            elif got[fr][1:] != want[fr][:2]:
                found.append(("zeek", cap, got[fr][0], fr, "tcpstate %s %s, Zeek's rules %s %s (Zeek connection %d)"
                              % (got[fr][1], got[fr][2], want[fr][0], want[fr][1], want[fr][2])))
    known = {}
    with open(os.path.join(HERE, "known-exceptions.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                check, cap, stream, frame, why = line.rstrip("\n").split("\t")[:5]
                known[(check, cap, stream, frame)] = why
    new, explained = [], set()
    for check, cap, stream, frame, text in found:
        key = (check, cap, str(stream), str(frame))
        if key in known:
            explained.add(key)
        else:
            new.append((check, cap, stream, frame, text))
    print("%-10s %8s %8s %8s %10s" % ("source", "captures", "streams", "frames", "zeek conns"))
    for pkg, c in sorted(counts.items()):
        print("%-10s %8d %8d %8d %10d" % (pkg, c["captures"], c["streams"], c["frames"], c["zeek_conns"]))
    by_check = {}
    for check, *_ in found:
        by_check[check] = by_check.get(check, 0) + 1
    print("exceptions by check: %s" % (", ".join("%s %d" % kv for kv in sorted(by_check.items())) or "none"))
    print("%d exceptions, %d of them listed in known-exceptions.tsv, %d not listed" % (
        len(found), len(explained), len(new)))
    gone = sorted(set(known) - explained)
    for key in gone:
        print("NOTE listed but not found here (another Wireshark version's captures, or fixed): %s" % "\t".join(key))
    return counts, found, new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()
    a.build, a.corpus = os.path.abspath(a.build), os.path.abspath(a.corpus)
    if not os.path.exists(os.path.join(a.corpus, "SOURCES.txt")):
        print("corpus.py: no captures in %s (tests/corpus/fetch.py unpacks them: the corpus.fetch test)" % a.corpus)
        return 1
    with open(os.path.join(a.corpus, "SOURCES.txt")) as f:
        print("captures: " + "; ".join(f.read().split("\n")).strip("; "))
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(version)
    ts = Tshark(a.build)
    started = time.monotonic()
    print("== robustness: every TCP frame annotated or given a reason; both header readers agree")
    table, total, problems, results = robustness(a, ts)
    for p in problems[:60]:
        print("FAIL " + p)
    fail = bool(problems) or total.get("differ", 0) > 0
    if total.get("with_tcp", 0) == 0:
        print("FAIL no capture with TCP found")
        fail = True
    print("== states: kernel-free checks and Zeek's rules")
    counts, found, new = states(a, results)
    for check, cap, stream, frame, text in new[:80]:
        print("FAIL %s\t%s\t%s\t%s\t%s" % (check, cap, stream, frame, text))
    fail = fail or bool(new) or not counts
    for f in ts.failures[:40]:
        print("FAIL %s (%s): %s\n  %s\n  stderr: %s" % (f["input"], f["args"], f["why"], f["reproduce"],
                                                       f["stderr_tail"].strip()[-300:]))
    fail = fail or bool(ts.failures)
    wall = time.monotonic() - started
    print("%d tshark runs (%.0f s of tshark), %d failed runs, %.0f s wall" % (ts.runs, ts.seconds, len(ts.failures),
                                                                            wall))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"tshark": version, "table": table, "total": total, "problems": problems,
                       "state_counts": counts, "exceptions": found, "not_listed": new, "runs": ts.runs,
                       "failed_runs": ts.failures, "wall": wall}, f, indent=1)
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
