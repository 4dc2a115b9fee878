#!/usr/bin/env python3
"""Loss variants of the kernel-truth scenarios: every captured segment dropped once, with the kernel's own states.

For a scenario (tests/kernel/scenarios.py) whose loss-free recording has captured segments 1..N, variant

  <scenario>.in<k>     drops segment k once at the receiver's INPUT hook: it is in the capture, the receiver never
                       gets it (nft input hook; the loopback capture point is before it);
  <scenario>.out<k>    drops segment k once at the sender's OUTPUT hook: it is not on the wire, its retransmission
                       (if any) is;
  <scenario>.in<k>x2   (segments carrying SYN or FIN) drops segment k and its first retransmission at input;
  <scenario>.out<k>x2  the same at output.

How exactly the k-th segment is dropped, and only once: segment k is the n-th segment of its direction in the
loss-free recording; a rule `<direction's addresses and ports> numgen inc mod 1000000000 <n-1> counter drop` in a
chain of our own table at priority -500 (before the scenario's own drop rules) drops the n-th segment of that
direction that reaches the hook and lets every other one pass (`numgen inc` is a per-rule counter that only
segments matching the rule's earlier expressions advance; the capture starts before the rule is installed, and
nothing is sent in between).  For a double loss a second rule matches the direction's segments with the same
SYN/FIN/RST/ACK flags and drops the first one after segment k that reaches it.  Each recording is accepted only if:
  * every loss rule's nft counter is exactly 1;
  * the captured segments before k are those of the loss-free recording (sender, flags, length, sequence and
    acknowledgment numbers relative to the ISNs) -- otherwise the scenario's order is not deterministic there and
    the variant is skipped (listed with the reason);
  * at input: frame k of the variant is segment k (truth.py R9 marks it dropped) and, for x2, the second dropped
    frame carries the same sequence number and flags.
At output the table notes the frame of the retransmission (same relative seq and flags) when one is captured.

Truth: exactly as for the scenarios (truth.py, same rules, built from the kernel's sock:inet_sock_set_state events).

  variants.py record --out sample-pcaps/loss [--only SCENARIO ...] [--family in,out,double] [--jobs 2]
  variants.py record --out DIR --sample 20 --seed 1234      # a seeded random sample of all variants (kernel.live)
  variants.py plan [--only SCENARIO]                          # list the variants, from a fresh loss-free recording
  variants.py table --out sample-pcaps/loss                   # regenerate variants.md from variants.tsv

Exit status: 0 ok, 1 something failed to record (listed), 77 skipped (not root / tools missing).
"""

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import kernlib  # noqa: E402
import scenarios  # noqa: E402
import truth  # noqa: E402

SYN, FIN, RST, ACK = truth.SYN, truth.FIN, truth.RST, truth.ACK
CTL = SYN | FIN | RST | ACK

# Scenarios without loss variants, and why.
SKIP = {
    "rst-in-time-wait": "its RST is injected through a raw socket at a chosen moment (TIME-WAIT assassination); "
                        "a loss moves the kernel segments around it, and the injected segment itself is no kernel "
                        "segment that could be lost and retransmitted",
    "rst-out-of-window": "two RSTs injected through a raw socket with sequence numbers computed from the live "
                         "connection; injected segments are not retransmitted, and the scenario checks a challenge "
                         "ACK that a loss may legitimately remove",
    "old-duplicate-syn-ack": "an uncaptured injected old duplicate SYN timed against the first SYN's drop; the "
                             "scenario waits for specific captured segments with a 2 s timeout",
    "rst-syn-received-to-listen": "the client is the script itself through a raw socket (no kernel socket, no "
                                  "retransmission), and the kernel's RSTs are already dropped at output",
    "one-direction": "only one direction is captured; its connection is the seed's, whose variants are "
                     "seed-walkthrough.*",
}
# Scenarios with many data segments: not every segment, see plan().
LONG = {"long-transfer"}
LONG_SAMPLE = 12          # seeded sample of the remaining data segments of a long transfer
LONG_SEED = 15            # fixed, so that re-recording gives the same variant names
SNAPLEN = 128             # headers only (IPv6 + TCP with full options fit); payloads are not needed
# Short scenarios first (they are recorded first).
ORDER = ["seed-walkthrough", "lost-fin", "three-segment-close", "server-closes-first", "half-close", "fin-with-data",
         "data-to-closed-socket", "abortive-close-linger0", "close-with-unread-data", "simultaneous-close",
         "simultaneous-open", "refused-ipv4", "refused-ipv6", "ipv6", "lost-final-ack", "mid-connection-start",
         "lost-syn", "lost-syn-ack", "lost-final-handshake-ack", "tcp-fast-open", "seq-wrap", "keepalive",
         "reuse-after-time-wait", "syn-to-time-wait-server", "zero-window-probe", "long-transfer"]
PORT_OFFSETS = [-6000 + 200 * i for i in range(12)]   # below the scenarios' own ports; live.sh uses +20000...
TIMEOUT = 40


def all_scenarios():
    names = [n for n in ORDER if n in scenarios.SCENARIOS and n not in SKIP]
    names += [n for n in scenarios.SCENARIOS if n not in names and n not in SKIP]
    return names


# --------------------------------------------------------------------------------------------------------------------
# Segment signatures
# --------------------------------------------------------------------------------------------------------------------
def signature(pkts, client_port):
    """[(sender, flags, plen, rel_seq, rel_ack)]: seq relative to the sender's ISN (its latest SYN, else its first
    segment), ack relative to the peer's (None without ACK)."""
    base = {}
    out = []
    for p in pkts:
        snd = "client" if p["src"][1] == client_port else "server"
        rcv = "server" if snd == "client" else "client"
        if p["flags"] & SYN or snd not in base:
            base[snd] = p["seq"]
        if p["flags"] & ACK and rcv not in base:
            base[rcv] = (p["ack"] - 1) & 0xFFFFFFFF   # mid-connection: the peer's first seen ack stands in
        rel_ack = (p["ack"] - base[rcv]) & 0xFFFFFFFF if p["flags"] & ACK else None
        out.append((snd, p["flags"], p["plen"], (p["seq"] - base[snd]) & 0xFFFFFFFF, rel_ack))
    return out


def sig_str(s):
    return f"{s[0]} {truth.flag_str(s[1])} len={s[2]} seq+{s[3]}" + (f" ack+{s[4]}" if s[4] is not None else "")


# --------------------------------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------------------------------
def plan(name, sig, families=("in", "out", "double")):
    """The variants of scenario `name` whose loss-free segments are `sig`."""
    n = len(sig)
    if name in LONG:
        ks = set()
        for k in range(1, n + 1):
            if sig[k - 1][1] & (SYN | FIN | RST):
                ks.add(k)
                before = [j for j in range(1, k) if sig[j - 1][2] > 0 and not sig[j - 1][1] & (SYN | FIN | RST)]
                ks.update(before[-2:])   # the two data segments just before it
        rest = [k for k in range(1, n + 1) if k not in ks]
        ks.update(random.Random(LONG_SEED).sample(rest, min(LONG_SAMPLE, len(rest))))
        ks = sorted(ks)
    else:
        ks = list(range(1, n + 1))
    out = []
    for k in ks:
        s = sig[k - 1]
        nth = sum(1 for x in sig[:k] if x[0] == s[0])
        info = dict(scenario=name, k=k, sender=s[0], flags=s[1], plen=s[2])
        for fam, hook in (("in", "input"), ("out", "output")):
            if fam in families:
                out.append(dict(info, name=f"{name}.{fam}{k}", family=fam, hook=hook,
                                loss=[{"hook": hook, "from": s[0], "nth": nth}]))
        if "double" in families and s[1] & (SYN | FIN):
            # the first retransmission: the next segment of the direction with the same SYN/FIN/RST/ACK flags
            nctl = sum(1 for x in sig[:k - 1] if x[0] == s[0] and x[1] & CTL == s[1] & CTL) + 1
            for hook, fam in (("input", "in"), ("output", "out")):
                out.append(dict(info, name=f"{name}.{fam}{k}x2", family="double", hook=hook,
                                loss=[{"hook": hook, "from": s[0], "nth": nth},
                                      {"hook": hook, "from": s[0], "nth": nctl, "mask": CTL, "value": s[1] & CTL}]))
    return out


# --------------------------------------------------------------------------------------------------------------------
# One recording, in a child process (its own cleanup handlers; killed after TIMEOUT)
# --------------------------------------------------------------------------------------------------------------------
def child_main(argv):
    job = json.loads(argv[0])
    kernlib.install_handlers()
    os.sched_setaffinity(0, {job["cpu"]})
    spec = scenarios.SCENARIOS[job["scenario"]]
    res = {"ok": False}
    try:
        npk = scenarios.run_one(job["scenario"], job["outdir"], job["offset"], loss=job["loss"] or None,
                                out_name=job["out_name"], snaplen=job["snaplen"])
        pkts = scenarios.LAST["pkts"]
        cport = spec["cport"] + job["offset"]
        res = {"ok": True, "packets": npk, "sig": signature(pkts, cport),
               "swapped": bool(scenarios.LAST["meta"].get("sides_swapped")),
               "dropped": [p["idx"] for p in sorted((p for p in pkts if p.get("dropped_by_loss") is not None),
                                                    key=lambda p: p["dropped_by_loss"])],
               "drops": [{k: d[k] for k in ("chain", "from", "count", "desc", "nth") if k in d} | {"loss": d.get("loss")}
                         for d in scenarios.LAST["meta"]["drops"]]}
    except Exception as e:  # noqa: BLE001 -- reported to the parent
        res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        kernlib.CLEANUP.run()
        ports = [spec["sport"] + job["offset"], spec["cport"] + job["offset"], spec["cport"] + job["offset"] + 1000]
        scenarios.kill_time_wait(ports)
        # A loss can leave orphaned sockets behind (FIN-WAIT-1/2, LAST-ACK retransmitting after the scenario closed
        # its sockets, or after a timeout): destroy every socket on the variant's ports (ss -K, SOCK_DESTROY), so
        # that nothing is left behind and the next variant on these ports starts clean.
        for p in ports:
            subprocess.run(["ss", "-K", "-tan", f"( sport = :{p} or dport = :{p} )"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("RESULT " + json.dumps(res))
    return 0


def run_child(scenario, outdir, out_name, loss, offset, cpu):
    job = dict(scenario=scenario, outdir=outdir, out_name=out_name, loss=loss, offset=offset, cpu=cpu,
               snaplen=SNAPLEN)
    # The child gets SIGTERM if this runner dies (PR_SET_PDEATHSIG), and the runner's cleanup (also run on
    # SIGINT/SIGTERM/SIGHUP) terminates and waits for it: its own handlers then remove its nft table, tracefs
    # instance, tcpdump and sockets.
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "_child", json.dumps(job)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=kernlib._die_with_parent)
    key = kernlib.CLEANUP.add(f"stop variant recorder pid {p.pid}", lambda: _stop_child(p))
    try:
        return _collect(p)
    finally:
        kernlib.CLEANUP.discard(key)


def _stop_child(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _collect(p):
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)   # the child's handlers remove its nft table, tracefs instance, tcpdump
        try:
            out, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        return {"ok": False, "error": f"timed out after {TIMEOUT} s"}
    for line in reversed(out.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"ok": False, "error": f"child exit {p.returncode}: {err.strip()[-300:]}"}


# --------------------------------------------------------------------------------------------------------------------
# Verification of a variant against the loss-free recording
# --------------------------------------------------------------------------------------------------------------------
def verify(v, base, res):
    """Return (ok, note)."""
    sig = [tuple(x) for x in res["sig"]]
    k = v["k"]
    losses = [d for d in res["drops"] if d.get("loss") is not None]
    counts = [d["count"] for d in sorted(losses, key=lambda d: d["loss"])]
    if len(counts) == 2 and counts == [1, 0]:
        return False, ("segment k was dropped, but no retransmission of it (same SYN/FIN/RST/ACK flags) reached the "
                       "hook afterwards: nothing to drop twice")
    if counts != [1] * len(v["loss"]):
        return False, f"loss rule counters {counts}, expected {[1] * len(v['loss'])}"
    for i in range(min(k - 1, len(sig))):
        if sig[i] != base[i]:
            return False, (f"not deterministic: frame {i + 1} is {sig_str(sig[i])}, loss-free run had "
                           f"{sig_str(base[i])}")
    if len(sig) < k - 1:
        return False, "not deterministic: fewer frames than the loss-free run before the loss"
    s = base[k - 1]
    notes = []

    def rexmit_after(start):
        if not (s[2] > 0 or s[1] & (SYN | FIN)):
            return "-"   # a bare ACK or a RST is not retransmitted
        for f in range(start, len(sig)):
            x = sig[f]
            if x[0] == s[0] and x[3] == s[3] and x[1] & (SYN | FIN | RST) == s[1] & (SYN | FIN | RST) and \
                    (x[2] > 0) == (s[2] > 0):
                return f + 1
        return None

    if v["hook"] == "input":
        if len(sig) < k or sig[k - 1] != s:
            return False, f"frame {k} is not the loss-free run's segment {k} ({sig_str(s)})"
        if not res["dropped"] or res["dropped"][0] != k:
            return False, f"the loss rules dropped frames {res['dropped']}, expected {k} first"
        if len(v["loss"]) == 2:
            if len(res["dropped"]) < 2:
                return False, "the retransmission was not marked dropped"
            r = res["dropped"][1]
            x = sig[r - 1]
            if not (x[0] == s[0] and x[3] == s[3] and x[1] & CTL == s[1] & CTL):
                return False, f"second dropped frame {r} ({sig_str(x)}) is not a retransmission of {sig_str(s)}"
            notes.append(f"retransmission frame {r} dropped too")
            r2 = rexmit_after(r)
            notes.append(f"next retransmission frame {r2}" if r2 else "no further retransmission captured")
        else:
            r = rexmit_after(k)
            notes.append("not retransmitted (no data, SYN or FIN)" if r == "-" else
                         f"retransmission frame {r}" if r else "no retransmission captured")
    else:
        r = rexmit_after(k - 1)
        notes.append("not retransmitted (no data, SYN or FIN)" if r == "-" else
                     f"retransmission frame {r}" if r else "no retransmission captured")
    return True, "; ".join(notes)


# --------------------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------------------
TABLE_COLS = ["variant", "scenario", "family", "hook", "frame", "from", "flags", "len", "nth_of_direction",
              "packets", "note"]


def read_table(path):
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            for line in f:
                r = dict(zip(hdr, line.rstrip("\n").split("\t")))
                rows[r[hdr[0]]] = r
    return rows


def write_table(path, rows, cols):
    def key(name):
        scen, _, var = name.partition(".")
        fam = var.rstrip("0123456789x")
        num = int("".join(ch for ch in var.split("x")[0] if ch.isdigit()) or 0)
        o = ORDER.index(scen) if scen in ORDER else 999
        return (o, scen, num, fam, var)
    with open(path, "w") as f:
        f.write("\t".join(cols) + "\n")
        for name in sorted(rows, key=key):
            f.write("\t".join(str(rows[name].get(c, "")) for c in cols) + "\n")


def write_markdown(outdir):
    rows = read_table(os.path.join(outdir, "variants.tsv"))
    skipped = read_table(os.path.join(outdir, "not-recorded.tsv"))
    fams = {}
    for r in rows.values():
        fams.setdefault(r["family"], set()).add(r["scenario"])
    lines = ["# Loss variants (generated by tests/kernel/variants.py; do not edit)", "",
             "Every variant is a real loopback recording of a scenario of tests/kernel/scenarios.py with one segment "
             "(or a segment and its first retransmission) dropped once by nftables, and kernel truth built by "
             "tests/kernel/truth.py exactly as for the scenarios.  See tests/kernel/variants.py for the method.", "",
             "| family | variants | scenarios |", "|---|---|---|"]
    for fam in ("in", "out", "double"):
        n = sum(1 for r in rows.values() if r["family"] == fam)
        lines.append(f"| {fam} | {n} | {len(fams.get(fam, ()))} |")
    lines += ["", "## Scenarios without variants", "", "| scenario | why |", "|---|---|"]
    for n, why in SKIP.items():
        lines.append(f"| {n} | {why} |")
    lines += ["", "## Variants", "", "| " + " | ".join(TABLE_COLS) + " |", "|" + "---|" * len(TABLE_COLS)]
    for name in read_table(os.path.join(outdir, "variants.tsv")):
        r = rows[name]
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in TABLE_COLS) + " |")
    if skipped:
        lines += ["", "## Planned but not recorded", "", "| variant | reason |", "|---|---|"]
        for name, r in skipped.items():
            lines.append(f"| {name} | {r['reason']} |")
    with open(os.path.join(outdir, "variants.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------------------------------
def free_offsets(names, n):
    used = {line[1] for line in kernlib.ss_sockets(set(range(1, 65536)))}
    got = []
    for off in PORT_OFFSETS:
        ports = set()
        for name in names:
            s = scenarios.SCENARIOS[name]
            ports |= {s["sport"] + off, s["cport"] + off, s["cport"] + off + 1000}
        if not ports & used:
            got.append(off)
        if len(got) == n:
            return got
    raise RuntimeError("no free port offsets")


def record(a):
    names = a.only or all_scenarios()
    for n in names:
        if n not in scenarios.SCENARIOS:
            raise SystemExit(f"unknown scenario {n}")
        if n in SKIP:
            print(f"{n}: skipped: {SKIP[n]}")
    names = [n for n in names if n not in SKIP]
    families = tuple(a.family.split(","))
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tcpstate-variants.")
    os.chmod(tmp, 0o755)
    kernlib.CLEANUP.add(f"remove {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    jobs = max(1, a.jobs)
    offsets = free_offsets(names, jobs)
    cpus = sorted(os.sched_getaffinity(0))
    slots = [(offsets[i], cpus[i % len(cpus)]) for i in range(jobs)]
    print(f"workers: {jobs} (port offsets {offsets}, cpus {[s[1] for s in slots]}); temporary dir {tmp}")
    t_start = time.monotonic()

    # 1. Loss-free recordings (baselines): the segment order that the variants are planned from and checked against.
    def do_base(name, slot):
        res = run_child(name, tmp, f"{name}.base", [], *slot)
        return name, res
    bases = {}
    for batch_start in range(0, len(names), jobs):
        batch = names[batch_start:batch_start + jobs]
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            for name, res in ex.map(lambda t: do_base(t[1], slots[t[0]]), list(enumerate(batch))):
                bases[name] = res
                if res["ok"]:
                    print(f"base {name}: {res['packets']} packets")
                else:
                    print(f"base {name}: FAILED: {res['error']}")
    variants = []
    for n in names:
        if bases[n]["ok"]:
            variants += plan(n, [tuple(x) for x in bases[n]["sig"]], families)
    if a.variant:
        variants = [v for v in variants if v["name"] in a.variant]
    if a.sample:
        # Variants the committed recording could not keep (sample-pcaps/loss/not-recorded.tsv, each with its
        # reason) are not sampled: they fail for reasons that do not change from run to run.
        known = read_table(os.path.join(ROOT, "sample-pcaps", "loss", "not-recorded.tsv"))
        before = len(variants)
        variants = [v for v in variants if v["name"] not in known]
        print(f"sample: {before - len(variants)} variants listed in sample-pcaps/loss/not-recorded.tsv left out")
        seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)
        print(f"sample: {a.sample} of {len(variants)} variants, seed {seed}")
        variants = sorted(random.Random(seed).sample(variants, min(a.sample, len(variants))),
                          key=lambda v: (names.index(v["scenario"]), v["k"], v["name"]))
    if a.plan_only:
        for v in variants:
            print(f"{v['name']:40s} {v['hook']:6s} frame {v['k']:3d} {sig_str(bases[v['scenario']]['sig'][v['k'] - 1])}")
        shutil.rmtree(tmp, ignore_errors=True)
        return 0
    print(f"{len(variants)} variants to record")

    table_path = os.path.join(a.out, "variants.tsv")
    nr_path = os.path.join(a.out, "not-recorded.tsv")
    table = read_table(table_path) if not a.sample else {}
    notrec = read_table(nr_path) if not a.sample else {}
    ok = failed = 0

    def do_var(v, slot):
        res = run_child(v["scenario"], tmp, v["name"], v["loss"], *slot)
        return v, res

    queue = list(variants)
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        running = {}
        while queue or running:
            busy = {s for s in running.values()}
            for slot in slots:
                if slot not in busy and queue:
                    v = queue.pop(0)
                    running[ex.submit(do_var, v, slot)] = slot
                    busy.add(slot)
            done, _ = concurrent.futures.wait(list(running), return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in done:
                del running[fut]
                v, res = fut.result()
                base = [tuple(x) for x in bases[v["scenario"]]["sig"]]
                files = [os.path.join(tmp, v["name"] + ext) for ext in (".pcap", ".truth.tsv")]
                if res["ok"]:
                    good, note = verify(v, base, res)
                else:
                    good, note = False, res["error"]
                s = base[v["k"] - 1]
                if good and res.get("swapped"):
                    note += ("; client/server swapped: the scenario server's SYN is captured first, so it is the "
                             "client here (truth R1), and 'from' is in these terms")
                if good:
                    ok += 1
                    for fpath in files:
                        shutil.move(fpath, os.path.join(a.out, os.path.basename(fpath)))
                    table[v["name"]] = dict(variant=v["name"], scenario=v["scenario"], family=v["family"],
                                            hook=v["hook"], frame=v["k"],
                                            **{"from": ({"client": "server", "server": "client"}[s[0]]
                                                        if res.get("swapped") else s[0])},
                                            flags=truth.flag_str(s[1]), len=s[2], nth_of_direction=v["loss"][0]["nth"],
                                            packets=res["packets"], note=note)
                    notrec.pop(v["name"], None)
                    print(f"{v['name']:40s} ok   {res['packets']:4d} packets  {note}")
                else:
                    failed += 1
                    for fpath in files:
                        if os.path.exists(fpath):
                            os.unlink(fpath)
                    notrec[v["name"]] = {"variant": v["name"], "reason": note}
                    table.pop(v["name"], None)
                    for ext in (".pcap", ".truth.tsv"):
                        fp = os.path.join(a.out, v["name"] + ext)
                        if os.path.exists(fp) and not a.sample:
                            os.unlink(fp)
                    print(f"{v['name']:40s} NOT RECORDED: {note}")
                sys.stdout.flush()
                if not a.sample:   # keep the tables current, so an interrupted run keeps what it recorded
                    write_table(table_path, table, TABLE_COLS)
                    write_table(nr_path, notrec, ["variant", "reason"])
    write_table(table_path, table, TABLE_COLS)
    write_table(nr_path, notrec, ["variant", "reason"])
    if not a.sample:
        write_markdown(a.out)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{ok} variants recorded, {failed} not recorded, {time.monotonic() - t_start:.0f} s")
    if a.sample:
        # A variant whose segments before the loss differ from the loss-free run is skipped (the scenario is not
        # deterministic there); anything else that kept a sampled variant from being recorded is a failure.
        # The scenario script itself failing under the loss (socket timeout, assertion, address in use) is a
        # recording that could not be made this time, said so; a truth error or a failed check of the drop is not.
        skippable = ("not deterministic", "timed out after", "TimeoutError", "ScenarioError", "AssertionError",
                     "OSError", "ConnectionRefusedError", "ConnectionResetError", "BrokenPipeError")
        bad = [n for n, r in notrec.items() if not r["reason"].startswith(skippable)]
        for n in sorted(notrec):
            print(f"  {'skipped' if n not in bad else 'FAILED'}: {n}: {notrec[n]['reason']}")
        return 1 if bad or not ok else 0
    return 0 if ok else 1


def main(argv):
    if argv and argv[0] == "_child":
        return child_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["record", "plan", "table"])
    ap.add_argument("--out", default=os.path.join(ROOT, "sample-pcaps", "loss"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--family", default="in,out,double")
    ap.add_argument("--variant", action="append", default=[], help="record only this variant (repeatable)")
    ap.add_argument("--jobs", type=int, default=1, help="recordings at once (each pinned to its own CPU)")
    ap.add_argument("--sample", type=int, default=0, help="record a random sample of this many variants")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    if a.cmd == "table":
        write_markdown(a.out)
        return 0
    reason = kernlib.prepare_runner()
    if reason:
        print(f"SKIPPED: {reason}")
        return 77
    a.plan_only = a.cmd == "plan"
    return record(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
