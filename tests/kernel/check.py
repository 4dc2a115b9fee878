#!/usr/bin/env python3
"""Check the tcpstate plugin against the kernel truth.

For every <scenario>.truth.tsv (default: sample-pcaps/), run tshark with the plugin on <scenario>.pcap twice:
two-pass (-2) and single pass, and compare tcpstate.client.state / tcpstate.server.state per packet and per side
with the truth.  Prints one line per scenario and a total line.

Exit status: 1 if any two-pass disagreement exists, or a single-pass disagreement is not followed by a later
segment marked tcpstate.corrects == that frame, or tshark failed; else 0.  Single-pass disagreements that the
plugin corrects later are reported, not failed.

  check.py                                     # sample-pcaps/*.truth.tsv through tests/run-tshark.sh
  check.py --pcaps DIR --only seed-walkthrough -v
  check.py --tshark-cmd 'tshark'               # any command taking tshark arguments
"""

import argparse
import glob
import os
import shlex
import subprocess
import sys

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


def compare(want, got):
    """Return (agree, total, [(frame, side, got, want)]) in frame order."""
    dis = []
    agree = total = 0
    for frame in sorted(want):
        g = got.get(frame, {"client": "", "server": ""})
        for i, side in enumerate(SIDES):
            total += 1
            if g[side] == want[frame][i]:
                agree += 1
            else:
                dis.append((frame, side, g[side], want[frame][i]))
    return agree, total, dis


def fmt_dis(d):
    frame, side, got, want = d
    return f"frame {frame} {side}: got {got or '(empty)'} want {want}"


def check_one(cmd, tsv, verbose):
    name = os.path.basename(tsv)[:-len(".truth.tsv")]
    pcap = tsv[:-len(".truth.tsv")] + ".pcap"
    want = truthmod.read_tsv(tsv)
    res = {"name": name, "packets": len(want), "error": None}
    try:
        got2 = run_tshark(cmd, pcap, True)
        got1 = run_tshark(cmd, pcap, False)
    except TsharkError as e:
        res["error"] = str(e)
        return res
    a2, t2, d2 = compare(want, got2)
    a1, t1, d1 = compare(want, got1)
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


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcaps", default=os.path.join(ROOT, "sample-pcaps"), help="directory with *.truth.tsv")
    ap.add_argument("--tshark-cmd", default=os.path.join(ROOT, "tests", "run-tshark.sh"),
                    help="command (shell words) that runs tshark with the plugin; default tests/run-tshark.sh")
    ap.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every disagreement")
    a = ap.parse_args(argv)
    cmd = shlex.split(a.tshark_cmd)
    tsvs = sorted(glob.glob(os.path.join(a.pcaps, "*.truth.tsv")))
    if a.only:
        tsvs = [t for t in tsvs if os.path.basename(t)[:-len(".truth.tsv")] in a.only]
    if not tsvs:
        print(f"no *.truth.tsv in {a.pcaps}")
        return 1
    results = [check_one(cmd, t, a.verbose) for t in tsvs]
    w = max(len(r["name"]) for r in results)
    print(f"{'scenario':{w}s}  packets  2-pass  1-pass  first disagreement")
    fail = False
    tot_pk = tot_2 = tot_1 = 0
    n_dis2 = n_dis1 = n_unc = 0
    for r in results:
        if r["error"]:
            fail = True
            print(f"{r['name']:{w}s}  {r['packets']:7d}  ERROR: {r['error']}")
            continue
        tot_pk += r["packets"]
        tot_2 += r["pct2"] * r["packets"]
        tot_1 += r["pct1"] * r["packets"]
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
        fail = fail or r["failed"]
    p2 = tot_2 / tot_pk if tot_pk else 0.0
    p1 = tot_1 / tot_pk if tot_pk else 0.0
    print(f"{'TOTAL':{w}s}  {tot_pk:7d}  {p2:5.1f}%  {p1:5.1f}%  {len(results)} scenarios, "
          f"{n_dis2} two-pass disagreements, {n_dis1} single-pass ({n_unc} not corrected later)"
          + ("  FAIL" if fail else "  OK"))
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
