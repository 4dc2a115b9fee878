#!/usr/bin/env python3
"""tcpstate performance benchmark (issue #4). Run through bench/bench.sh.

Builds what it needs, generates synthetic captures, then runs tshark with the
tcpstate plugin enabled and disabled, interleaved (A B A B ...), and reports
median/min/max wall time and peak RSS per mode and capture size.

Modes (A = plugin enabled, B = plugin disabled with --disable-protocol tcpstate):
  fields  A: -T fields -e frame.number -e tcpstate.client.state -e tcpstate.server.state -e tcpstate.phase
          B: the same command
  filter  A: -Y 'tcpstate.phase == "Teardown"'
          B: -Y 'tcp.flags.fin == 1'
  twopass A/B: -2 and -T fields as in `fields`
  plain   A/B: plain `tshark -r f` (summary lines); the plugin forces a protocol
          tree that would otherwise not be built: reported separately
  unloaded  A: plain read with the plugin loaded but disabled
            B: plain read with no plugin loaded at all (checks that "disabled"
               really costs nothing, so the B columns are a fair baseline)

All output goes to /dev/null (except in --smoke, which checks outputs).
"""

import argparse
import csv
import glob
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FIELDS = ["-T", "fields", "-e", "frame.number", "-e", "tcpstate.client.state",
          "-e", "tcpstate.server.state", "-e", "tcpstate.phase"]
DISABLE = ["--disable-protocol", "tcpstate"]

# mode -> (A args, B args, B uses no plugin at all)
MODES = {
    "fields": (FIELDS, FIELDS + DISABLE, False),
    "filter": (["-Y", 'tcpstate.phase == "Teardown"'], DISABLE + ["-Y", "tcp.flags.fin == 1"], False),
    "twopass": (["-2"] + FIELDS, ["-2"] + FIELDS + DISABLE, False),
    "plain": ([], DISABLE, False),
    "unloaded": (DISABLE, [], True),
}
MODE_ORDER = ["fields", "filter", "twopass", "plain", "unloaded"]
A_NAME = {"unloaded": "disabled"}
B_NAME = {"unloaded": "not loaded"}

PHASE_TEARDOWN = {"3", "Teardown"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("+ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- build

def find_binary(build_dir, name):
    for p in [os.path.join(build_dir, name), os.path.join(build_dir, "bench", name)]:
        if os.access(p, os.X_OK):
            return p
    hits = [p for p in glob.glob(os.path.join(build_dir, "**", name), recursive=True) if os.access(p, os.X_OK)]
    return hits[0] if hits else None


def build(args):
    if args.no_build:
        return
    if os.path.exists(os.path.join(ROOT, "CMakeLists.txt")):
        run(["cmake", "-S", ROOT, "-B", args.build_dir, f"-DCMAKE_BUILD_TYPE={args.build_type}"],
            stdout=subprocess.DEVNULL)
        run(["cmake", "--build", args.build_dir, "-j", str(os.cpu_count() or 2)], stdout=subprocess.DEVNULL)
    else:
        # No project yet: build the generator alone.
        os.makedirs(args.build_dir, exist_ok=True)
        run(["cc", "-O2", "-std=c99", "-o", os.path.join(args.build_dir, "tcpstate_gen_pcap"),
             os.path.join(HERE, "gen_pcap.c")])


def make_world_readable(path):
    """The unprivileged tshark must read the plugin and the captures, and reach them."""
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chmod(p, os.stat(p).st_mode | 0o444)
    p = os.path.abspath(path)
    while p != "/":
        p = os.path.dirname(p)
        if not os.stat(p).st_mode & 0o001:
            raise SystemExit(f"{p} is not searchable by other users: the unprivileged tshark cannot reach {path}")


# ---------------------------------------------------------------- tshark

class Tshark:
    def __init__(self, plugin_dir, empty_dir, home):
        self.plugin_dir = plugin_dir
        self.empty_dir = empty_dir
        self.home = home

    def cmd(self, args, loaded=True):
        env = ["env", f"HOME={self.home}", "LC_ALL=C",
               f"WIRESHARK_PLUGIN_DIR={self.plugin_dir if loaded else self.empty_dir}"]
        if os.geteuid() == 0:
            # tshark as root ignores WIRESHARK_PLUGIN_DIR: run it as nobody.
            pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        else:
            pre = []
        return pre + env + ["tshark"] + args

    def timed(self, args, capture, loaded=True, out=None):
        """Run tshark on capture; returns (wall s (%e), peak RSS KiB (%M), CPU s (%U + %S), precise wall, stderr)."""
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            cmd = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf.name] + self.cmd(["-r", capture] + args, loaded)
            stdout = open(out, "w") if out else subprocess.DEVNULL
            t0 = time.perf_counter()
            p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
            t1 = time.perf_counter()
            if out:
                stdout.close()
            if p.returncode != 0:
                raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
            fields = tf.read().split()
            return float(fields[-4]), int(fields[-3]), float(fields[-2]) + float(fields[-1]), t1 - t0, p.stderr


# ---------------------------------------------------------------- captures

def is_tcpstate(line):
    """A `tshark -G protocols` line for tcpstate: name, short name, filter name, and from 4.2 on three
    more columns (enabled, filterable, can be disabled)."""
    parts = line.split("\t")
    return len(parts) > 2 and parts[2] == "tcpstate"


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            meta[k] = v
    return meta


def capture(args, gen, n):
    name = f"synth-n{n}-c{args.concurrency}-s{args.seed}"
    pcap = os.path.join(args.out, name + ".pcap")
    meta = os.path.join(args.out, name + ".meta")
    if not (os.path.exists(pcap) and os.path.exists(meta) and not args.regen):
        run([gen, "-n", str(n), "-c", str(args.concurrency), "-s", str(args.seed), "-o", pcap, "-m", meta],
            stderr=subprocess.DEVNULL)
    os.chmod(pcap, 0o644)
    return pcap, read_meta(meta)


def plugin_sizes(build_dir):
    """sizeof() of the plugin's per-frame and per-connection structures, if its header exposes them."""
    hdr = os.path.join(ROOT, "plugin", "tcpstate_plugin.h")
    if not os.path.exists(hdr):
        return None
    try:
        cflags = subprocess.run(["pkg-config", "--cflags", "wireshark"], capture_output=True, text=True,
                                check=True).stdout.split()
        exe = os.path.join(build_dir, "tcpstate_sizes")
        subprocess.run(["cc", "-DHAVE_SSIZE_T"] + cflags + ["-I" + os.path.join(ROOT, "include"),
                        "-I" + os.path.join(ROOT, "plugin"), "-I" + os.path.join(ROOT, "core"), "-o", exe, os.path.join(HERE, "sizes.c")],
                       capture_output=True, text=True, check=True)
        return subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return f"(could not build bench/sizes.c against {hdr}: {getattr(e, 'stderr', e)})"


# ---------------------------------------------------------------- machine

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def machine_info(build_dir):
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cores"] = str(os.cpu_count())
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["ram"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    info["kernel"] = platform.release()
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "core", "plugin", "include"],
                               capture_output=True, text=True).stdout.strip()
        info["source"] = f"git {head}" + (" + uncommitted changes in core/plugin/include" if dirty else "")
    except OSError:
        pass
    try:
        info["tshark"] = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        info["tshark"] = "?"
    try:
        info["cc"] = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if os.path.exists(cache):
        vals = {}
        with open(cache) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                vals[k.split(":")[0]] = v
        bt = vals.get("CMAKE_BUILD_TYPE", "")
        info["CMAKE_BUILD_TYPE"] = bt
        info["C flags"] = (vals.get("CMAKE_C_FLAGS", "") + " " + vals.get("CMAKE_C_FLAGS_" + bt.upper(), "")).strip()
    return info


# ---------------------------------------------------------------- smoke checks

def read_fields(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f]


def smoke_checks(outputs, npackets):
    """outputs: (mode, 'A'|'B') -> output file. Raises SystemExit on failure."""
    fails, notes = [], []

    def check(cond, msg):
        (notes if cond else fails).append(("ok   " if cond else "FAIL ") + msg)

    fa = read_fields(outputs[("fields", "A")])
    fb = read_fields(outputs[("fields", "B")])
    ta = read_fields(outputs[("twopass", "A")])
    tb = read_fields(outputs[("twopass", "B")])
    for name, rows in [("fields/enabled", fa), ("fields/disabled", fb), ("twopass/enabled", ta),
                       ("twopass/disabled", tb)]:
        check(len(rows) == npackets, f"{name}: {len(rows)} lines for {npackets} frames")
        check(all(r[0] == str(i + 1) for i, r in enumerate(rows)), f"{name}: one line per frame, in order")
    for name, rows in [("fields/enabled", fa), ("twopass/enabled", ta)]:
        empty = sum(1 for r in rows if len(r) < 4 or not all(r[1:4]))
        check(empty == 0, f"{name}: every frame has client state, server state and phase ({empty} without)")
    for name, rows in [("fields/disabled", fb), ("twopass/disabled", tb)]:
        full = sum(1 for r in rows if any(x for x in r[1:]))
        check(full == 0, f"{name}: no tcpstate field when disabled ({full} frames with one)")
    diff = sum(1 for x, y in zip(fa, ta) if x != y)
    notes.append(f"info twopass/enabled differs from one-pass fields/enabled on {diff} of {len(fa)} frames "
                 "(allowed: a second pass may apply corrections)")

    teardown = sum(1 for r in fa if len(r) >= 4 and r[3] in PHASE_TEARDOWN)
    with open(outputs[("filter", "A")]) as f:
        fil_a = sum(1 for _ in f)
    with open(outputs[("filter", "B")]) as f:
        fil_b = sum(1 for _ in f)
    check(fil_a == teardown and fil_a > 0,
          f"filter/enabled: {fil_a} frames match tcpstate.phase == \"Teardown\", fields output has {teardown}")
    check(fil_b > 0, f"filter/disabled: {fil_b} frames match tcp.flags.fin == 1")

    with open(outputs[("plain", "A")]) as f:
        pa = f.read().splitlines()
    with open(outputs[("plain", "B")]) as f:
        pb = f.read().splitlines()
    check(len(pa) == npackets and len(pb) == npackets,
          f"plain: {len(pa)} (enabled) and {len(pb)} (disabled) summary lines for {npackets} frames")
    notes.append(f"info plain: enabled and disabled summaries differ on {sum(1 for x, y in zip(pa, pb) if x != y)} "
                 "lines (allowed if the plugin writes to the Info column)")
    with open(outputs[("unloaded", "A")]) as f:
        ua = f.read()
    with open(outputs[("unloaded", "B")]) as f:
        ub = f.read()
    check(ua == ub, "unloaded: plugin disabled gives the same output as no plugin at all")
    return fails, notes


# ---------------------------------------------------------------- report

def fmt_ratio(a, b):
    return f"{a / b:.3f}" if b else "-"


def report(results, sizes, modes, metas, info, reps, args, micro):
    """results: (mode, size, 'A'|'B') -> list of (wall, rss)."""
    L = []
    L.append("## Machine\n")
    for k in ["cpu", "cores", "ram", "kernel", "tshark", "cc", "source", "CMAKE_BUILD_TYPE", "C flags", "load"]:
        if k in info:
            L.append(f"- {k}: {info[k]}")
    L.append("")
    L.append("## Captures\n")
    L.append("| packets | connections | IPv6 packets | file MB | retrans | out-of-order | never close | cut at end |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        m = metas[n]
        L.append(f"| {n} | {m['connections']} | {m['ipv6_packets']} | {int(m['file_bytes']) / 1e6:.0f} | "
                 f"{m['retransmissions']} | {m['out_of_order']} | {m['ending.never-closes']} | "
                 f"{m['ending.cut-by-capture-end']} |")
    L.append("")
    if isinstance(reps, str):
        reps_text = reps
    else:
        reps_text = f"{reps}" + (f" ({args.full_reps} at 1e7)" if args.full_reps and max(sizes) >= 10000000 else "")
    L.append(f"## tshark, enabled (A) vs disabled (B), interleaved A B A B, repetitions: {reps_text}; "
             "median [min-max]\n")
    L.append("| mode | packets | time A s | time B s | time A/B | peak RSS A MiB | peak RSS B MiB | RSS A/B |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    med = {}
    for mode in modes:
        for n in sizes:
            ra, rb = results.get((mode, n, "A")), results.get((mode, n, "B"))
            if not ra or not rb:
                continue
            ta, tb = [x[0] for x in ra], [x[0] for x in rb]
            ma, mb = [x[1] for x in ra], [x[1] for x in rb]
            mta, mtb = statistics.median(ta), statistics.median(tb)
            mma, mmb = statistics.median(ma), statistics.median(mb)
            med[(mode, n)] = (mta, mtb, mma, mmb)
            label = mode if mode not in A_NAME else f"{mode} (A={A_NAME[mode]}, B={B_NAME[mode]})"
            L.append(f"| {label} | {n} | {mta:.2f} [{min(ta):.2f}-{max(ta):.2f}] | "
                     f"{mtb:.2f} [{min(tb):.2f}-{max(tb):.2f}] | {fmt_ratio(mta, mtb)} | "
                     f"{mma / 1024:.1f} [{min(ma) / 1024:.1f}-{max(ma) / 1024:.1f}] | "
                     f"{mmb / 1024:.1f} [{min(mb) / 1024:.1f}-{max(mb) / 1024:.1f}] | {fmt_ratio(mma, mmb)} |")
    L.append("")
    L.append("CPU time (user + system, less sensitive than wall time to other load on the machine):\n")
    L.append("| mode | packets | CPU A s | CPU B s | CPU A/B |")
    L.append("|---|---:|---:|---:|---:|")
    for mode in modes:
        for n in sizes:
            ra, rb = results.get((mode, n, "A")), results.get((mode, n, "B"))
            if not ra or not rb:
                continue
            ca, cb = [x[2] for x in ra], [x[2] for x in rb]
            mca, mcb = statistics.median(ca), statistics.median(cb)
            med[(mode, n)] = med[(mode, n)] + (mca, mcb)
            L.append(f"| {mode} | {n} | {mca:.2f} [{min(ca):.2f}-{max(ca):.2f}] | "
                     f"{mcb:.2f} [{min(cb):.2f}-{max(cb):.2f}] | {fmt_ratio(mca, mcb)} |")
    L.append("")
    if len(sizes) > 1:
        L.append("## Growth between sizes (median at the larger size / median at the smaller; "
                 "linear growth equals the size factor, 10 per decade)\n")
        L.append("| mode | step | size factor | time A | time B | CPU A | CPU B | RSS A | RSS B |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for mode in modes:
            for n0, n1 in zip(sizes, sizes[1:]):
                if (mode, n0) in med and (mode, n1) in med:
                    a0, a1 = med[(mode, n0)], med[(mode, n1)]
                    L.append(f"| {mode} | {n0} -> {n1} | {n1 / n0:g} | {a1[0] / a0[0]:.2f} | {a1[1] / a0[1]:.2f} | "
                             f"{a1[4] / a0[4]:.2f} | {a1[5] / a0[5]:.2f} | "
                             f"{a1[2] / a0[2]:.2f} | {a1[3] / a0[3]:.2f} |")
        L.append("")
    L.append("## Memory attributable to the plugin (median peak RSS A - B)\n")
    L.append("| mode | packets | extra MiB | bytes/packet | bytes/connection |")
    L.append("|---|---:|---:|---:|---:|")
    for mode in modes:
        if mode == "unloaded":
            continue
        for n in sizes:
            if (mode, n) in med:
                d = (med[(mode, n)][2] - med[(mode, n)][3]) * 1024
                conns = int(metas[n]["connections"])
                L.append(f"| {mode} | {n} | {d / 1048576:.1f} | {d / n:.1f} | {d / conns:.1f} |")
    if len(sizes) > 1:
        L.append("")
        L.append("Marginal (between consecutive sizes, removes fixed costs):\n")
        L.append("| mode | step | bytes/packet | bytes/connection |")
        L.append("|---|---|---:|---:|")
        for mode in modes:
            if mode == "unloaded":
                continue
            for n0, n1 in zip(sizes, sizes[1:]):
                if (mode, n0) in med and (mode, n1) in med:
                    d0 = (med[(mode, n0)][2] - med[(mode, n0)][3]) * 1024
                    d1 = (med[(mode, n1)][2] - med[(mode, n1)][3]) * 1024
                    c0, c1 = int(metas[n0]["connections"]), int(metas[n1]["connections"])
                    L.append(f"| {mode} | {n0} -> {n1} | {(d1 - d0) / (n1 - n0):.1f} | "
                             f"{(d1 - d0) / (c1 - c0):.1f} |")
    L.append("")
    if micro:
        L.append("## State machine microbenchmark (tcpstate_micro)\n")
        L.append("```")
        L.append(micro.rstrip())
        L.append("```")
        L.append("")
    return "\n".join(L)


def report_from(args):
    """Merge earlier raw CSVs into one report (same capture parameters assumed)."""
    results = {}
    reps = {}
    for path in args.report_from:
        with open(path) as f:
            for row in csv.DictReader(f):
                n = int(row["packets"])
                key = (row["mode"], n, row["variant"])
                results.setdefault(key, []).append((float(row["wall_s"]), int(row["peak_rss_kib"]),
                                                    float(row.get("cpu_s") or "nan")))
                reps[n] = max(reps.get(n, 0), int(row["rep"]) + 1)
    sizes = sorted({k[1] for k in results})
    modes = [m for m in MODE_ORDER if any(k[0] == m for k in results)]
    metas = {}
    for n in sizes:
        meta = os.path.join(os.path.abspath(args.out), f"synth-n{n}-c{args.concurrency}-s{args.seed}.meta")
        metas[n] = read_meta(meta)
    info = machine_info(os.path.abspath(args.build_dir))
    reps_text = ", ".join(f"{reps[n]} at {n}" for n in sizes)
    text = report(results, sizes, modes, metas, info, reps_text, args, None)
    print(text)


# ---------------------------------------------------------------- main

def parse_size(s):
    v = float(s)
    if v != int(v) or v < 1:
        raise argparse.ArgumentTypeError(f"bad size {s}")
    return int(v)


def main():
    ap = argparse.ArgumentParser(description="tcpstate tshark benchmark (plugin enabled vs disabled)")
    ap.add_argument("sizes", nargs="*", type=parse_size, help="capture sizes in packets (default 1e5 1e6)")
    ap.add_argument("--full", action="store_true", help="add 1e7 packets")
    ap.add_argument("--smoke", action="store_true", help="1e4 packets, 1 repetition, check outputs, no timing claims")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per mode and size (default 5)")
    ap.add_argument("--modes", default=",".join(MODE_ORDER), help="comma-separated subset of " + ",".join(MODE_ORDER))
    ap.add_argument("--full-reps", type=int, help="repetitions for sizes >= 1e7 (default: --reps)")
    ap.add_argument("--full-modes", default="fields,filter,twopass,plain",
                    help="modes run at sizes >= 1e7 (default fields,filter,twopass,plain)")
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--plugin-dir", help="WIRESHARK_PLUGIN_DIR (default: <build-dir>/plugins, else build/plugins)")
    ap.add_argument("--build-type", default="RelWithDebInfo",
                    help="CMAKE_BUILD_TYPE of the benchmark build (default RelWithDebInfo, the project's "
                         "default: -O2 -g)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-micro", action="store_true", help="skip the state machine microbenchmark")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--regen", action="store_true", help="regenerate captures even if present")
    ap.add_argument("--report-from", nargs="+", metavar="CSV",
                    help="print a report from earlier runs-*.csv files (merged) instead of running anything")
    args = ap.parse_args()
    if args.report_from:
        return report_from(args)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")
    if args.smoke:
        sizes, reps, modes = [10000], 1, list(MODE_ORDER)
        args.concurrency = min(args.concurrency, 100)
    else:
        sizes = args.sizes or [100000, 1000000]
        if args.full and 10000000 not in sizes:
            sizes.append(10000000)
        sizes = sorted(set(sizes))
        reps = args.reps
    args.build_dir = os.path.abspath(args.build_dir)
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)

    build(args)
    gen = find_binary(args.build_dir, "tcpstate_gen_pcap")
    if not gen:
        raise SystemExit(f"tcpstate_gen_pcap not found under {args.build_dir}")

    plugin_dir = args.plugin_dir
    if not plugin_dir:
        for cand in [os.path.join(args.build_dir, "plugins"), os.path.join(ROOT, "build", "plugins")]:
            if glob.glob(os.path.join(cand, "*", "epan", "tcpstate.so")):
                plugin_dir = cand
                break
    if not plugin_dir or not glob.glob(os.path.join(plugin_dir, "*", "epan", "tcpstate.so")):
        raise SystemExit(f"no tcpstate.so under {plugin_dir or args.build_dir + '/plugins'}: build the plugin first")
    plugin_dir = os.path.abspath(plugin_dir)
    make_world_readable(plugin_dir)
    make_world_readable(args.out)

    home = tempfile.mkdtemp(prefix="tcpstate-bench-home-")
    empty = tempfile.mkdtemp(prefix="tcpstate-bench-noplugins-")
    os.makedirs(os.path.join(empty, "4.0", "epan"), exist_ok=True)
    for d in [home, empty, os.path.join(empty, "4.0"), os.path.join(empty, "4.0", "epan")]:
        os.chmod(d, 0o777 if d == home else 0o755)
    ts = Tshark(plugin_dir, empty, home)
    try:
        protos = subprocess.run(ts.cmd(["-G", "protocols"]), capture_output=True, text=True).stdout
        if not any(is_tcpstate(line) for line in protos.splitlines()):
            raise SystemExit(f"tshark does not load the tcpstate plugin from {plugin_dir}")
        protos0 = subprocess.run(ts.cmd(["-G", "protocols"], loaded=False), capture_output=True, text=True).stdout
        if any(is_tcpstate(line) for line in protos0.splitlines()):
            raise SystemExit("tcpstate is loaded even with an empty plugin dir (installed globally?)")

        info = machine_info(args.build_dir)
        metas, pcaps = {}, {}
        for n in sizes:
            pcaps[n], metas[n] = capture(args, gen, n)

        results = {}
        stamp = time.strftime("%Y%m%d-%H%M%S")
        raw_path = os.path.join(args.out, f"runs-{'smoke-' if args.smoke else ''}{stamp}.csv")
        outputs = {}
        stderr_seen = []
        loads = []
        with open(raw_path, "w", newline="") as rawf:
            raw = csv.writer(rawf)
            raw.writerow(["mode", "packets", "variant", "rep", "wall_s", "peak_rss_kib", "cpu_s", "wall_precise_s",
                          "loadavg1"])
            full_modes = [m.strip() for m in args.full_modes.split(",") if m.strip()]
            for n in sizes:
                big = n >= 10000000 and not args.smoke
                for mode in modes:
                    if big and mode not in full_modes:
                        continue
                    a_args, b_args, b_unloaded = MODES[mode]
                    nreps = (args.full_reps or reps) if big else reps
                    for rep in range(nreps):
                        for var, targs, loaded in [("A", a_args, True), ("B", b_args, not b_unloaded)]:
                            out = None
                            if args.smoke:
                                out = os.path.join(args.out, f"smoke-{mode}-{var}.txt")
                                outputs[(mode, var)] = out
                            wall, rss, cpu, precise, err = ts.timed(targs, pcaps[n], loaded, out)
                            if err.strip():
                                stderr_seen.append((mode, n, var, err.strip()[:500]))
                            results.setdefault((mode, n, var), []).append((wall, rss, cpu))
                            load = loadavg()
                            loads.append(load)
                            raw.writerow([mode, n, var, rep, f"{wall:.2f}", rss, f"{cpu:.2f}", f"{precise:.4f}",
                                          f"{load:.2f}"])
                            rawf.flush()
                            log(f"  {mode:8s} n={n:<9d} {var} rep {rep + 1}/{nreps}: {wall:.2f} s wall, "
                                f"{cpu:.2f} s CPU, {rss / 1024:.1f} MiB, load {load:.2f}")

        sizes_text = plugin_sizes(args.build_dir)
        micro = None
        mb = find_binary(args.build_dir, "tcpstate_micro")
        if mb and not args.no_micro:
            mn = "100000" if args.smoke else "10000000"
            micro = subprocess.run([mb, "-n", mn, "-r", "1" if args.smoke else "5"], capture_output=True,
                                   text=True, check=True).stdout

        if loads:
            info["load"] = (f"1-minute load average after each run: median {statistics.median(loads):.2f}, "
                            f"max {max(loads):.2f} (the benchmark itself keeps about 1 core busy)")
        text = report(results, sizes, modes, metas, info, reps, args, micro)
        if sizes_text:
            text += "\n## Plugin structures (bench/sizes.c against plugin/tcpstate_plugin.h)\n\n```\n" + \
                sizes_text.rstrip() + "\n```\n"
        rep_path = os.path.join(args.out, f"report-{'smoke-' if args.smoke else ''}{stamp}.md")
        with open(rep_path, "w") as f:
            f.write(text + "\n")
        print(text)
        for mode, n, var, err in stderr_seen:
            print(f"note: tshark wrote to stderr ({mode}, {n}, {var}): {err}")
        print(f"\nraw runs: {raw_path}\nreport: {rep_path}")

        if args.smoke:
            fails, notes = smoke_checks(outputs, sizes[0])
            for mode, n, var, err in stderr_seen:
                fails.append(f"FAIL {mode}/{'enabled' if var == 'A' else 'disabled'}: tshark wrote to stderr")
            print("\n## Smoke checks\n")
            for line in notes + fails:
                print(line)
            if fails:
                raise SystemExit(f"smoke: {len(fails)} check(s) failed")
            print("smoke: all checks passed")
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)


if __name__ == "__main__":
    main()
