#!/usr/bin/env python3
"""Check the tcpstate plugin against the kernel truth.

For every <scenario>.truth.tsv (default: sample-pcaps/), run tshark with the plugin on <scenario>.pcap twice:
two-pass (-2) and single pass, and compare tcpstate.client.state / tcpstate.server.state per packet and per side
with the truth.  Prints one line per scenario and a total line.

Exit status: 1 if any two-pass disagreement exists, or a single-pass disagreement is not followed by a later
segment marked tcpstate.corrects == that frame, or tshark failed; else 0.  Single-pass disagreements that the
plugin corrects later are reported, not failed.

  check.py                                     # sample-pcaps/*.truth.tsv and sample-pcaps/loss/*.truth.tsv
  check.py --pcaps DIR --only seed-walkthrough -v
  check.py --tshark-cmd 'tshark'               # any command taking tshark arguments
  check.py --jobs 4 --report report.md         # parallel; report per family with every disagreement, classified

Families (by name): no loss (<scenario>), input drop (<scenario>.in<k>), output drop (<scenario>.out<k>), double
drop (<scenario>.in<k>x2, <scenario>.out<k>x2); see tests/kernel/variants.py.  Pairs listed in the unknowable file
(default tests/kernel/unknowable.tsv: variant, frame, side, reason -- each a claim that the capture holds no
evidence of that state) are left out of the agreement figures and of the exit status, and reported.
"""

import argparse
import concurrent.futures
import glob
import re
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import truth as truthmod  # noqa: E402

FIELDS = ["frame.number", "tcpstate.client.state", "tcpstate.server.state", "tcpstate.corrects"]
SIDES = ("client", "server")


class TsharkError(Exception):
    pass


def run_tshark(cmd, pcap, two_pass):
    args = list(cmd) + (["-2"] if two_pass else []) + ["-r", pcap, "-T", "fields"]
    for f in FIELDS:
        args += ["-e", f]
    args += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    try:
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    except FileNotFoundError as e:
        raise TsharkError(f"cannot run {cmd[0]}: {e}")
    except subprocess.TimeoutExpired:
        raise TsharkError("tshark timed out")
    if r.returncode != 0:
        err = " ".join(line for line in r.stderr.splitlines() if "Running as user" not in line)
        raise TsharkError(f"tshark exit {r.returncode}: {err.strip()[:300]}")
    return parse_fields(r.stdout)


def parse_fields(text):
    """{frame: {"client": str, "server": str, "corrects": [int]}} from `-T fields` output (missing field = '')."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        parts += [""] * (len(FIELDS) - len(parts))
        try:
            frame = int(parts[0])
        except ValueError:
            continue
        corrects = []
        for v in parts[3].split(","):
            v = v.strip()
            if v:
                try:
                    corrects.append(int(v, 0))
                except ValueError:
                    pass
        # a field that occurs more than once (should not happen) keeps its first value
        out[frame] = {"client": parts[1].split(",")[0], "server": parts[2].split(",")[0], "corrects": corrects}
    return out


def compare(want, got, skip=()):
    """Return (agree, total, [(frame, side, got, want)]) in frame order; (frame, side) pairs in `skip` are left out."""
    dis = []
    agree = total = 0
    for frame in sorted(want):
        g = got.get(frame, {"client": "", "server": ""})
        for i, side in enumerate(SIDES):
            if (frame, side) in skip:
                continue
            total += 1
            if g[side] == want[frame][i]:
                agree += 1
            else:
                dis.append((frame, side, g[side], want[frame][i]))
    return agree, total, dis


def fmt_dis(d):
    frame, side, got, want = d
    return f"frame {frame} {side}: got {got or '(empty)'} want {want}"


FAMILIES = [("base", "no loss"), ("in", "input drop"), ("out", "output drop"), ("double", "double drop")]


def family(name):
    m = re.search(r"\.(in|out)\d+(x2)?$", name)
    if not m:
        return "base"
    return "double" if m.group(2) else m.group(1)


def read_unknowable(path):
    """{(variant, frame, side): reason} from a TSV with a header line (variant, frame, side, reason)."""
    res = {}
    if not path or not os.path.exists(path):
        return res
    with open(path) as f:
        for n, line in enumerate(f):
            line = line.rstrip("\n")
            if n == 0 or not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 4 or parts[2] not in SIDES or not parts[1].isdigit() or not parts[3].strip():
                raise SystemExit(f"{path}:{n + 1}: want variant<TAB>frame<TAB>side<TAB>reason")
            res[(parts[0], int(parts[1]), parts[2])] = parts[3]
    return res


def check_one(cmd, tsv, verbose, unknowable=None):
    name = os.path.basename(tsv)[:-len(".truth.tsv")]
    pcap = tsv[:-len(".truth.tsv")] + ".pcap"
    want = truthmod.read_tsv(tsv)
    res = {"name": name, "packets": len(want), "error": None, "family": family(name), "tsv": tsv}
    try:
        got2 = run_tshark(cmd, pcap, True)
        got1 = run_tshark(cmd, pcap, False)
    except TsharkError as e:
        res["error"] = str(e)
        return res
    unk = {(f, s) for (v, f, s) in (unknowable or {}) if v == name}
    res["unknowable"] = sorted(unk)
    a2, t2, d2 = compare(want, got2, unk)
    a1, t1, d1 = compare(want, got1, unk)
    res.update(agree2=a2, agree1=a1, pairs=t2)
    extra = sorted(set(got2) - set(want))
    res.update(pct2=100.0 * a2 / t2 if t2 else 100.0, pct1=100.0 * a1 / t1 if t1 else 100.0, dis2=d2, dis1=d1,
               extra=extra)
    # For each single-pass disagreement: is there a later segment marked tcpstate.corrects == that frame?
    uncorrected = []
    for d in d1:
        frame = d[0]
        marks = [f for f, v in got1.items() if f > frame and frame in v["corrects"]]
        if not marks:
            uncorrected.append(d)
        d1_marks = res.setdefault("marks", {})
        d1_marks[(frame, d[1])] = marks[0] if marks else None
    res["uncorrected"] = uncorrected
    res["failed"] = bool(d2) or bool(uncorrected)
    return res


RECEIVED_FIN = {"CLOSE-WAIT", "LAST-ACK", "CLOSING", "TIME-WAIT"}


def read_variant_table(dirs):
    """{variant: row} from every variants.tsv (tests/kernel/variants.py) in `dirs`."""
    rows = {}
    for d in dirs:
        path = os.path.join(d, "variants.tsv")
        if os.path.exists(path):
            with open(path) as f:
                hdr = f.readline().rstrip("\n").split("\t")
                for line in f:
                    r = dict(zip(hdr, line.rstrip("\n").split("\t")))
                    rows[r["variant"]] = r
    return rows


RANK = {"LISTEN": 0, "SYN-SENT": 1, "SYN-RECEIVED": 2, "ESTABLISHED": 3, "FIN-WAIT-1": 4, "CLOSE-WAIT": 4,
        "FIN-WAIT-2": 5, "CLOSING": 5, "LAST-ACK": 5, "TIME-WAIT": 6}


def _rank(state, other):
    if state == "CLOSED":   # before the connection, or after it: whichever fits the other state
        return 7 if RANK.get(other, 0) >= 3 else 0
    return RANK.get(state, -1)


def classify(name, d, vrow):
    """A rough kind for a disagreement (frame, side, got, want) of variant `name` (vrow: its variants.tsv row)."""
    frame, side, got, want = d
    if vrow is None:
        return "no loss"
    flags = vrow["flags"].split(",")
    plen = int(vrow["len"] or 0)
    hook = "input" if vrow["hook"] == "input" else "output"
    receiver = "server" if vrow["from"] == "client" else "client"
    role = "receiver" if side == receiver else "sender"
    g, w = _rank(got, want), _rank(want, got)
    ahead = g > w
    if "RST" in flags:
        kind = "RST"
    elif "SYN" in flags:
        kind = "SYN-ACK" if "ACK" in flags else "SYN"
    elif "FIN" in flags:
        kind = "FIN"
    elif plen > 0:
        kind = "data"
    else:
        kind = "bare ACK"
    if vrow["family"] == "double":
        kind += " and its retransmission"
    if kind == "data" and role == "receiver" and ahead and got in RECEIVED_FIN:
        return "FIN beyond a hole taken early (data before the FIN lost)"
    if kind.startswith(("SYN", "FIN")) and role == "receiver" and ahead:
        how = "crossed" if got in ("SYN-RECEIVED", "CLOSING") else "received"
        return f"lost {kind.split(' ')[0]} taken as {how} (receiver shown past a {kind.split(' ')[0]} it never got)"
    if kind == "RST" and role == "receiver" and ahead:
        return "lost RST unnoticed (receiver shown reset although it never got the RST)"
    if kind == "RST" and role == "sender":
        return f"lost RST: its sender shown {got}, kernel {want}"
    if kind.startswith("bare ACK") and role == "receiver" and ahead:
        return "lost bare ACK taken as received (receiver shown past an ACK it never got)"
    if hook == "output" and role == "sender" and not ahead:
        return (f"{kind} lost at output: its sender shown as not having received what it acknowledged "
                f"(behind the kernel until a later segment)")
    return f"other: {kind} lost at {hook}, {role} side, plugin {'ahead of' if ahead else 'behind'} the kernel"


def pct(a, t):
    return 100.0 * a / t if t else 100.0


def write_report(path, results, unknowable, vtable, cmd, dirs, elapsed):
    fams = {f: {"n": 0, "pairs": 0, "a2": 0, "a1": 0, "packets": 0} for f, _ in FAMILIES}
    for r in results:
        if r["error"]:
            continue
        f = fams[r["family"]]
        f["n"] += 1
        f["pairs"] += r["pairs"]
        f["a2"] += r["agree2"]
        f["a1"] += r["agree1"]
        f["packets"] += r["packets"]
    L = ["# tcpstate against the kernel: loss variants", "",
         f"Generated by tests/kernel/check.py --report ({' '.join(dirs)}; tshark command: {' '.join(cmd)}; "
         f"{elapsed:.0f} s).  Agreement is over (packet, side) pairs: the plugin's tcpstate.client.state / "
         "tcpstate.server.state after each packet against the kernel truth (<variant>.truth.tsv).", "",
         "| family | captures | packets | pairs | two-pass agree | two-pass % | single-pass agree | single-pass % |",
         "|---|---|---|---|---|---|---|---|"]
    tot = {"n": 0, "pairs": 0, "a2": 0, "a1": 0, "packets": 0}
    for key, label in FAMILIES:
        f = fams[key]
        for k in tot:
            tot[k] += f[k]
        L.append(f"| {label} | {f['n']} | {f['packets']} | {f['pairs']} | {f['a2']} | {pct(f['a2'], f['pairs']):.2f}% "
                 f"| {f['a1']} | {pct(f['a1'], f['pairs']):.2f}% |")
    L.append(f"| **all** | {tot['n']} | {tot['packets']} | {tot['pairs']} | {tot['a2']} | "
             f"{pct(tot['a2'], tot['pairs']):.2f}% | {tot['a1']} | {pct(tot['a1'], tot['pairs']):.2f}% |")
    errs = [r for r in results if r["error"]]
    if errs:
        L += ["", "## tshark errors", ""] + [f"- {r['name']}: {r['error']}" for r in errs]
    L += ["", f"## Unknowable pairs excluded ({len(unknowable)} listed)", ""]
    L += [f"- {v} frame {f} {s}: {why}" for (v, f, s), why in sorted(unknowable.items())] or ["(none)"]
    # classification
    kinds = {}
    rows = []
    for r in results:
        if r["error"]:
            continue
        vrow = vtable.get(r["name"])
        for mode, ds in (("2-pass", r["dis2"]), ("1-pass", r["dis1"])):
            for d in ds:
                k = classify(r["name"], d, vrow)
                kinds.setdefault(k, {"2-pass": 0, "1-pass": 0, "variants": set()})
                kinds[k][mode] += 1
                kinds[k]["variants"].add(r["name"])
                corr = ""
                if mode == "1-pass":
                    m = r["marks"].get((d[0], d[1]))
                    corr = f"corrected by {m}" if m else "not corrected"
                rows.append((r["name"], mode, d[0], d[1], d[3], d[2] or "(empty)", k, corr))
    L += ["", "## Disagreements by kind", "",
          "Rough kinds, from the dropped segment (variants.tsv) and the two states; a guide, not a diagnosis.", "",
          "| kind | two-pass pairs | single-pass pairs | variants |", "|---|---|---|---|"]
    for k, v in sorted(kinds.items(), key=lambda kv: -(kv[1]["2-pass"] + kv[1]["1-pass"])):
        L.append(f"| {k} | {v['2-pass']} | {v['1-pass']} | {len(v['variants'])} |")
    L += ["", "## Every disagreement", "",
          "Also as TSV next to this report (same name, .tsv).", "",
          "| variant | mode | frame | side | expected (kernel) | got (plugin) | kind | single pass |",
          "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        L.append("| " + " | ".join(str(x) for x in row) + " |")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    with open(os.path.splitext(path)[0] + ".tsv", "w") as f:
        f.write("variant\tmode\tframe\tside\texpected\tgot\tkind\tsingle_pass\n")
        for row in rows:
            f.write("\t".join(str(x) for x in row) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcaps", action="append", default=[],
                    help="directory with *.truth.tsv (repeatable; default sample-pcaps and sample-pcaps/loss)")
    ap.add_argument("--tshark-cmd", default=os.path.join(ROOT, "tests", "run-tshark.sh"),
                    help="command (shell words) that runs tshark with the plugin; default tests/run-tshark.sh")
    ap.add_argument("--only", action="append", default=[], help="scenario or variant name (repeatable)")
    ap.add_argument("--family", action="append", default=[], choices=[f for f, _ in FAMILIES],
                    help="check only this family (repeatable)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="captures checked at once")
    ap.add_argument("--unknowable", default=os.path.join(HERE, "unknowable.tsv"),
                    help="TSV of (variant, frame, side, reason) pairs left out (default tests/kernel/unknowable.tsv)")
    ap.add_argument("--report", help="write a markdown report (families, disagreements by kind, every "
                                     "disagreement) here, and the disagreement list as TSV next to it")
    ap.add_argument("-q", "--quiet", action="store_true", help="one line per capture only when it disagrees")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every disagreement")
    a = ap.parse_args(argv)
    cmd = shlex.split(a.tshark_cmd)
    dirs = a.pcaps or [os.path.join(ROOT, "sample-pcaps"), os.path.join(ROOT, "sample-pcaps", "loss")]
    tsvs = []
    for d in dirs:
        tsvs += sorted(glob.glob(os.path.join(d, "*.truth.tsv")))
    if a.only:
        tsvs = [t for t in tsvs if os.path.basename(t)[:-len(".truth.tsv")] in a.only]
    if a.family:
        tsvs = [t for t in tsvs if family(os.path.basename(t)[:-len(".truth.tsv")]) in a.family]
    if not tsvs:
        print(f"no *.truth.tsv in {' '.join(dirs)}")
        return 1
    unknowable = read_unknowable(a.unknowable)
    names = {os.path.basename(t)[:-len(".truth.tsv")] for t in tsvs}
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        results = list(ex.map(lambda t: check_one(cmd, t, a.verbose, unknowable), tsvs))
    elapsed = time.monotonic() - t0
    w = max(len(r["name"]) for r in results)
    print(f"{'scenario':{w}s}  packets  2-pass  1-pass  first disagreement")
    fail = False
    tot_pairs = tot_a2 = tot_a1 = tot_pk = 0
    n_dis2 = n_dis1 = n_unc = 0
    for r in results:
        if r["error"]:
            fail = True
            print(f"{r['name']:{w}s}  {r['packets']:7d}  ERROR: {r['error']}")
            continue
        tot_pk += r["packets"]
        tot_pairs += r["pairs"]
        tot_a2 += r["agree2"]
        tot_a1 += r["agree1"]
        n_dis2 += len(r["dis2"])
        n_dis1 += len(r["dis1"])
        n_unc += len(r["uncorrected"])
        if r["dis2"]:
            first = "2-pass " + fmt_dis(r["dis2"][0])
        elif r["dis1"]:
            d = r["dis1"][0]
            m = r["marks"][(d[0], d[1])]
            first = "1-pass " + fmt_dis(d) + (f" (corrected by frame {m})" if m else " (NOT corrected later)")
        else:
            first = "-"
        flag = "  FAIL" if r["failed"] else ""
        fail = fail or r["failed"]
        if a.quiet and not r["dis2"] and not r["dis1"] and not a.verbose:
            continue
        print(f"{r['name']:{w}s}  {r['packets']:7d}  {r['pct2']:5.1f}%  {r['pct1']:5.1f}%  {first}{flag}")
        if r["extra"]:
            print(f"{'':{w}s}  note: tshark printed frames missing from the truth: {r['extra'][:5]}")
        if a.verbose:
            for d in r["dis2"]:
                print(f"{'':{w}s}    2-pass {fmt_dis(d)}")
            for d in r["dis1"]:
                m = r["marks"][(d[0], d[1])]
                print(f"{'':{w}s}    1-pass {fmt_dis(d)}" + (f" (corrected by frame {m})" if m else
                                                              " (NOT corrected later)"))
    # per family
    print()
    print(f"{'family':12s} {'captures':>8s} {'pairs':>7s} {'2-pass':>8s} {'1-pass':>8s}")
    for key, label in FAMILIES:
        rs = [r for r in results if r["family"] == key and not r["error"]]
        if not rs:
            continue
        pairs = sum(r["pairs"] for r in rs)
        print(f"{label:12s} {len(rs):8d} {pairs:7d} {pct(sum(r['agree2'] for r in rs), pairs):7.2f}% "
              f"{pct(sum(r['agree1'] for r in rs), pairs):7.2f}%")
    listed = {k: v for k, v in unknowable.items() if k[0] in names}
    if listed:
        print(f"unknowable pairs left out ({len(listed)}, from {a.unknowable}):")
        for (v, f, s), why in sorted(listed.items()):
            print(f"  {v} frame {f} {s}: {why}")
    print(f"{'TOTAL':{w}s}  {tot_pk:7d}  {pct(tot_a2, tot_pairs):5.1f}%  {pct(tot_a1, tot_pairs):5.1f}%  "
          f"{len(results)} captures, {n_dis2} two-pass disagreements, {n_dis1} single-pass ({n_unc} not corrected "
          f"later), {len(listed)} unknowable pairs left out, {elapsed:.0f} s" + ("  FAIL" if fail else "  OK"))
    if a.report:
        write_report(a.report, results, listed, read_variant_table(dirs), cmd, dirs, elapsed)
        print(f"report: {a.report}")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
