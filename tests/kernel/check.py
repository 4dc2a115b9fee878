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
import struct
import subprocess
import sys
import tempfile
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


# --------------------------------------------------------------------------------------------------------------------
# Merged mode: every capture in one file (ports made unique per capture, each capture 10 s after the previous one),
# so tshark starts twice instead of twice per capture.  NOT equivalent to checking each capture alone: with all 795
# committed captures in one file, refused-ipv4.in2's single-pass states differed at frames 3-4 (the same capture
# merged alone, or with its scenario's other variants, matched) -- so the plugin's result for one connection
# depended on others in the file.  For quick iteration only; --compare-merged shows the differences.
# --------------------------------------------------------------------------------------------------------------------
MERGE_GAP_NS = 10_000_000_000


def _read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    e = truthmod.pcap_byte_order(data[:4])
    if e is None:
        return None, None
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    recs, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[pos:pos + 16])
        recs.append([sec * 1_000_000_000 + (frac if nano else frac * 1000), orig, bytearray(data[pos + 16:pos + 16 + incl])])
        pos += 16 + incl
    return link, recs


def _tcp_offset(frame):
    """Offset of the TCP header in an Ethernet frame (IPv4 or IPv6 without extension headers), else None."""
    if len(frame) < 14:
        return None
    et = struct.unpack("!H", frame[12:14])[0]
    if et == 0x0800 and len(frame) >= 34 and frame[23] == 6:
        return 14 + (frame[14] & 0x0F) * 4
    if et == 0x86DD and len(frame) >= 54 and frame[20] == 6:
        return 54
    return None


def merge_captures(tsvs, out):
    """Write one pcap (nanosecond, Ethernet) holding every capture whose frames can be rewritten; return
    ({tsv: (first_frame - 1, nframes)}, [tsvs left to check one by one])."""
    placed, alone = {}, []
    t, frame_no = 1_000_000_000 * 1_000_000_000, 0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        for i, tsv in enumerate(tsvs):
            link, recs = _read_records(tsv[:-len(".truth.tsv")] + ".pcap")
            if link != 1 or not recs or i >= 30000:
                alone.append(tsv)
                continue
            ports, ok = {}, True
            for _ts, _orig, fr in recs:
                off = _tcp_offset(fr)
                if off is None or len(fr) < off + 4:
                    ok = False
                    break
                ports.update(dict.fromkeys(struct.unpack("!HH", fr[off:off + 4])))
                if len(ports) > 2:
                    ok = False
                    break
            # The lower port (the server's in every scenario) stays; the higher one becomes 32768 + i, unique per
            # capture and still above the other (without a SYN the plugin tells the sides apart by port order).
            lo, hi = sorted(ports) + [None] * (2 - len(ports))
            ports = {lo: lo, hi: 32768 + i}
            if hi is None or lo >= 32768:
                ok = False
            if not ok or len(ports) != 2:
                alone.append(tsv)
                continue
            t0 = recs[0][0]
            for ts, orig, fr in recs:
                off = _tcp_offset(fr)
                sp, dp = struct.unpack("!HH", fr[off:off + 4])
                fr[off:off + 4] = struct.pack("!HH", ports[sp], ports[dp])
                nt = t + (ts - t0)
                f.write(struct.pack("<IIII", nt // 1_000_000_000, nt % 1_000_000_000, len(fr), orig))
                f.write(fr)
            placed[tsv] = (frame_no, len(recs))
            frame_no += len(recs)
            t += (recs[-1][0] - t0) + MERGE_GAP_NS
    return placed, alone


def split_fields(got, first, n):
    res = {}
    for fr in range(first + 1, first + n + 1):
        if fr in got:
            v = got[fr]
            res[fr - first] = dict(v, corrects=[c - first for c in v["corrects"]])
    return res


def check_one(cmd, tsv, verbose, unknowable=None, pre=None):
    name = os.path.basename(tsv)[:-len(".truth.tsv")]
    pcap = tsv[:-len(".truth.tsv")] + ".pcap"
    want = truthmod.read_tsv(tsv)
    res = {"name": name, "packets": len(want), "error": None, "family": family(name), "tsv": tsv}
    try:
        if pre is not None:
            got2, got1 = pre
        else:
            got2 = run_tshark(cmd, pcap, True)
            got1 = run_tshark(cmd, pcap, False)
    except TsharkError as e:
        res["error"] = str(e)
        return res
    res["got"] = (got2, got1)
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


def read_known(path):
    """{(capture, mode, frame, side)}: disagreements already known (issue 15 is open), from a TSV with
    columns capture, mode (2pass | 1pass-uncorrected), frame, side, want, got.  A known one does not fail the
    check; any other does, so the list only shrinks.  Missing file: nothing known."""
    known = {}
    if not path or not os.path.exists(path):
        return known
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#") or line.startswith("capture\t"):
                continue
            c = line.rstrip("\n").split("\t")
            known[(c[0], c[1], int(c[2]), c[3])] = c[4:6]
    return known


def apply_known(r, known, by_capture=False):
    """Re-decide r["failed"] with the known list; note which of r's disagreements are known.  by_capture: any
    disagreement of a capture that has a known one is known (a fresh recording of a variant may number its
    frames after the loss differently: kernel.live)."""
    if r["error"]:
        return
    if by_capture and any(k[0] == r["name"] for k in known):
        r["known"] = len(r["dis2"]) + len(r["uncorrected"])
        r["failed"] = False
        return
    new2 = [d for d in r["dis2"] if (r["name"], "2pass", d[0], d[1]) not in known]
    newu = [d for d in r["uncorrected"] if (r["name"], "1pass-uncorrected", d[0], d[1]) not in known]
    r["known"] = len(r["dis2"]) - len(new2) + len(r["uncorrected"]) - len(newu)
    r["failed"] = bool(new2) or bool(newu)


def write_known(path, results):
    with open(path, "w") as f:
        f.write("# Disagreements with the kernel that are known and not yet fixed (issue 15): check.py fails on any\n"
                "# other. Regenerate with check.py --write-known after a change that fixes some; never to hide one.\n")
        f.write("capture\tmode\tframe\tside\twant\tgot\n")
        for r in results:
            if r["error"]:
                continue
            for mode, ds in (("2pass", r["dis2"]), ("1pass-uncorrected", r["uncorrected"])):
                for d in ds:
                    f.write(f"{r['name']}\t{mode}\t{d[0]}\t{d[1]}\t{d[3]}\t{d[2] or '(empty)'}\n")


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
    fams = {f: {"n": 0, "pairs": 0, "a2": 0, "a1": 0, "packets": 0, "bad2": 0, "bad1": 0} for f, _ in FAMILIES}
    for r in results:
        if r["error"]:
            continue
        f = fams[r["family"]]
        f["n"] += 1
        f["pairs"] += r["pairs"]
        f["a2"] += r["agree2"]
        f["a1"] += r["agree1"]
        f["packets"] += r["packets"]
        f["bad2"] += bool(r["dis2"])
        f["bad1"] += bool(r["dis1"])
    L = ["# tcpstate against the kernel: loss variants", "",
         f"Generated by tests/kernel/check.py --report ({' '.join(dirs)}; tshark command: {' '.join(cmd)}; "
         f"{elapsed:.0f} s).  Agreement is over (packet, side) pairs: the plugin's tcpstate.client.state / "
         "tcpstate.server.state after each packet against the kernel truth (<variant>.truth.tsv).", "",
         "| family | captures | packets | pairs | two-pass agree | two-pass % | single-pass agree | single-pass % "
         "| captures with a two-pass / single-pass disagreement |",
         "|---|---|---|---|---|---|---|---|---|"]
    tot = {"n": 0, "pairs": 0, "a2": 0, "a1": 0, "packets": 0, "bad2": 0, "bad1": 0}
    for key, label in FAMILIES:
        f = fams[key]
        for k in tot:
            tot[k] += f[k]
        L.append(f"| {label} | {f['n']} | {f['packets']} | {f['pairs']} | {f['a2']} | {pct(f['a2'], f['pairs']):.2f}% "
                 f"| {f['a1']} | {pct(f['a1'], f['pairs']):.2f}% | {f['bad2']} / {f['bad1']} |")
    L.append(f"| **all** | {tot['n']} | {tot['packets']} | {tot['pairs']} | {tot['a2']} | "
             f"{pct(tot['a2'], tot['pairs']):.2f}% | {tot['a1']} | {pct(tot['a1'], tot['pairs']):.2f}% "
             f"| {tot['bad2']} / {tot['bad1']} |")
    L += ["", "long-transfer and zero-window-probe variants have many packets and few disagreements; the last column "
          "counts captures instead of pairs."]
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
    ap.add_argument("--known", default=os.path.join(HERE, "known-disagreements.tsv"),
                    help="TSV of known disagreements that do not fail the check (default "
                         "tests/kernel/known-disagreements.tsv; '' for none)")
    ap.add_argument("--known-by-capture", action="store_true",
                    help="a capture with any known disagreement may disagree anywhere (fresh recordings)")
    ap.add_argument("--write-known", metavar="FILE", help="write the disagreements found to FILE (a known list)")
    ap.add_argument("--unknowable", default=os.path.join(HERE, "unknowable.tsv"),
                    help="TSV of (variant, frame, side, reason) pairs left out (default tests/kernel/unknowable.tsv)")
    ap.add_argument("--report", help="write a markdown report (families, disagreements by kind, every "
                                     "disagreement) here, and the disagreement list as TSV next to it")
    ap.add_argument("--merged", action="store_true",
                    help="run tshark twice on one file holding every capture (ports made unique per capture) "
                         "instead of twice per capture: fast, but not equivalent (see merge_captures)")
    ap.add_argument("--compare-merged", action="store_true",
                    help="run both ways and fail if any capture's states differ between them")
    ap.add_argument("-q", "--quiet", action="store_true", help="one line per capture only when it disagrees")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every disagreement")
    a = ap.parse_args(argv)
    # The version matrix and the sanitizer build run the whole suite again: there the quick merged run
    # (TCPSTATE_KERNEL_MERGED=1); the host's kernel.committed checks each capture alone.
    if os.environ.get("TCPSTATE_KERNEL_MERGED") == "1":
        a.merged = True
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
    if a.merged or a.compare_merged:
        tmp = tempfile.mkdtemp(prefix="tcpstate-check.")
        os.chmod(tmp, 0o755)   # tshark may run as an unprivileged user (tests/run-tshark.sh)
        merged = os.path.join(tmp, "merged.pcap")
        placed, alone = merge_captures(tsvs, merged)
        os.chmod(merged, 0o644)
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                f2, f1 = ex.submit(run_tshark, cmd, merged, True), ex.submit(run_tshark, cmd, merged, False)
                all2, all1 = f2.result(), f1.result()
        except TsharkError as e:
            print(f"merged run: {e}")
            return 1
        finally:
            os.unlink(merged)
            os.rmdir(tmp)
        pre = {t: (split_fields(all2, *placed[t]), split_fields(all1, *placed[t])) for t in placed}
        with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
            results = list(ex.map(lambda t: check_one(cmd, t, a.verbose, unknowable, pre.get(t)), tsvs))
        print(f"merged run: {len(placed)} captures in one file, {len(alone)} checked alone "
              f"({time.monotonic() - t0:.0f} s)")
        if a.compare_merged:
            with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
                alone_res = list(ex.map(lambda t: check_one(cmd, t, a.verbose, unknowable), sorted(placed)))
            diffs = 0
            by_name = {r["tsv"]: r for r in results}
            for r in alone_res:
                m = by_name[r["tsv"]]
                if r["error"] or m["error"]:
                    continue
                for mode in (0, 1):
                    ga, gm = r["got"][mode], m["got"][mode]
                    for fr in sorted(set(ga) | set(gm)):
                        if ga.get(fr) != gm.get(fr):
                            diffs += 1
                            if diffs <= 20:
                                print(f"merged differs: {r['name']} {'2-pass' if mode == 0 else '1-pass'} frame {fr}: "
                                      f"alone {ga.get(fr)} merged {gm.get(fr)}")
            print(f"merged vs alone: {diffs} frame results differ over {len(alone_res)} captures")
            if diffs:
                return 1
    else:
        with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
            results = list(ex.map(lambda t: check_one(cmd, t, a.verbose, unknowable), tsvs))
    elapsed = time.monotonic() - t0
    known = read_known(a.known)
    for r in results:
        apply_known(r, known, a.known_by_capture)
    if a.write_known:
        write_known(a.write_known, results)
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
    n_known = sum(r.get("known", 0) for r in results)
    if n_known:
        print(f"known disagreements (listed in {a.known}, issue 15 open): {n_known}; none other fails")
    print(f"{'TOTAL':{w}s}  {tot_pk:7d}  {pct(tot_a2, tot_pairs):5.1f}%  {pct(tot_a1, tot_pairs):5.1f}%  "
          f"{len(results)} captures, {n_dis2} two-pass disagreements, {n_dis1} single-pass ({n_unc} not corrected "
          f"later), {len(listed)} unknowable pairs left out, {elapsed:.0f} s" + ("  FAIL" if fail else "  OK"))
    if a.report:
        write_report(a.report, results, listed, read_variant_table(dirs), cmd, dirs, elapsed)
        print(f"report: {a.report}")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
