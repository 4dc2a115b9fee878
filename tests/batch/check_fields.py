#!/usr/bin/env python3
"""Every tcpstate field asked for alone gives what the full tree shows, on all sample captures.

The plugin adds a field outside a visible tree only when something asks for it (a display filter,
a custom column, a tap): render.c and conn.c skip whole groups of fields (a side, the connection
summary) nobody asked for. This holds that to the full (visible) tree, on all sample captures
concatenated into one file, single pass and two-pass (-2):
- reference: one visible-tree run (-T fields) with every value field as a custom column;
- each value field as the only custom column of a plain run (no visible tree), filtered on that
  field (-Y F): the same frames and values as the reference's non-empty cells;
- the same column, filtered on a field of another group (tcpstate.sender == "server"): the same
  values on the reference's rows where the sender is the server;
- each field without a value (expert infos, tcpstate.conn, tcpstate, _ws.expert): -Y F matches the
  same frames with and without a visible tree;
- -T fields -e <every field> with -Y on another tcpstate field: the unfiltered run's rows that pass;
- printed fields (-T json -e <every field>; from Wireshark 4.2 tshark builds no visible tree for -e and
  asks only for the printed fields, HF_REF_TYPE_PRINT): the values of the full tree (-T json, visible);
- -T fields -e tcpstate (the protocol's label, printed from an invisible tree on 4.2+): the tcpstate
  line of the full tree (-V).
  check_fields.py --source <repo> --build <build dir>
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

from plugin_tshark import parse_source_build, plugin_tshark


def columns(fields):
    """A gui.column.format preference: frame number, then one custom column per field (titles c0..)."""
    cols = ['"N","%m"'] + ['"c%d","%%Cus:%s"' % (i, f) for i, f in enumerate(fields)]
    return ["-o", "gui.column.format:" + ",".join(cols)]


def plain_rows(text):
    """Frame number -> rest of the line, from tshark's plain (column) output with a frame-number
    column and one custom column."""
    rows = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if parts:
            rows[int(parts[0])] = parts[1] if len(parts) > 1 else ""
    return rows


def json_tree_values(text):
    """Frame number -> {tcpstate field: [values in tree order]}, from a full-tree `-T json` run."""
    def pairs(obj):
        return obj  # keep duplicate keys (a field twice in one subtree)

    def walk(node, out):
        if isinstance(node, list) and all(isinstance(p, tuple) for p in node):
            for k, v in node:
                if k.startswith("tcpstate.") and not k.endswith("_tree") and isinstance(v, str):
                    out.setdefault(k, []).append(v)
                walk(v, out)

    rows = {}
    for pkt in json.loads(text, object_pairs_hook=pairs):
        layers = dict(dict(pkt)["_source"])["layers"]
        num = int(dict(dict(layers)["frame"])["frame.number"])
        out = {}
        for k, v in layers:
            if k == "tcpstate":
                walk(v, out)
        rows[num] = out
    return rows


def same_text(value):
    """Wireshark's -e JSON writes some values differently from its full-tree JSON: a boolean "True"
    for "1" (4.4, 4.6), a UTC time "+0000" for "Z" (4.6). The same value, one spelling."""
    value = {"True": "1", "False": "0"}.get(value, value)
    return value[:-5] + "Z" if re.match(r"\d{4}-\d\d-\d\dT.*\+0000$", value) else value


def json_e_values(text):
    """Frame number -> {field: [values]}, from a `-T json -e ...` run."""
    rows = {}
    for pkt in json.loads(text):
        layers = pkt["_source"]["layers"]
        num = int(layers.pop("frame.number")[0])
        rows[num] = {k: [same_text(x) for x in v] for k, v in layers.items()}
    return rows


def main():
    src = parse_source_build().source

    fields, valueless = [], ["tcpstate", "_ws.expert"]
    for line in plugin_tshark(src, ["-G", "fields"]).splitlines():
        f = line.split("\t")
        if len(f) >= 5 and f[0] == "F" and f[4] == "tcpstate":
            (valueless if f[3] == "FT_NONE" else fields).append(f[2])
    if len(fields) < 30 or "tcpstate.conn.state" not in fields or "tcpstate.expert.refused" not in valueless:
        print("FAIL: unexpected field list", fields, valueless)
        return 1

    tmp = tempfile.mkdtemp(prefix="tcpstate-fields.")
    os.chmod(tmp, 0o755)  # run-tshark.sh may run tshark as nobody
    cap = os.path.join(tmp, "all.pcapng")
    caps = sorted(os.path.join(src, "sample-pcaps", f) for f in os.listdir(os.path.join(src, "sample-pcaps"))
                  if f.endswith((".pcap", ".pcapng")))
    subprocess.run(["mergecap", "-a", "-w", cap] + caps, check=True)
    os.chmod(cap, 0o644)

    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        if failures <= 30:
            print("FAIL:", msg)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    other = 'tcpstate.sender == "server"'
    for mode in ([], ["-2"]):
        name = "2pass" if mode else "1pass"
        base = mode + ["-r", cap]
        # Reference: the full tree (-V: visible), every value field as a custom column, read from the
        # tab-separated summary lines (-P -T tabs). (`-T fields -e _ws.col.<title>` would do on 4.0,
        # but Wireshark 4.4 took custom column titles out of -e.)
        ref_text = plugin_tshark(src, base + columns(fields) + ["-P", "-V", "-O", "tcpstate", "-T", "tabs"])
        ref = {}
        for line in ref_text.splitlines():
            if re.match(r"\s*\d+\t", line):
                cells = line.split("\t")
                ref[int(cells[0])] = cells[1:]
        if len(ref) < 100 or any(len(c) != len(fields) for c in ref.values()):
            fail("%s: reference run has %d rows" % (name, len(ref)))
            continue
        sender = fields.index("tcpstate.sender")
        jobs = {}
        for i, f in enumerate(fields):
            jobs[("alone", i)] = pool.submit(plugin_tshark, src, base + columns([f]) + ["-Y", f])
            jobs[("other", i)] = pool.submit(plugin_tshark, src, base + columns([f]) + ["-Y", other])
        for f in valueless:
            jobs[("tree", f)] = pool.submit(plugin_tshark, src, base + ["-Y", f, "-T", "fields", "-e", "frame.number"])
            jobs[("plain", f)] = pool.submit(plugin_tshark, src, base + columns([]) + ["-Y", f])
        every = ["-T", "fields", "-e", "frame.number"] + [x for f in fields for x in ("-e", f)]
        jobs[("every", None)] = pool.submit(plugin_tshark, src, base + every)
        jobs[("every-filtered", None)] = pool.submit(plugin_tshark, src, base + every + ["-Y", 'tcpstate.phase == "Teardown"'])
        jobs[("json-tree", None)] = pool.submit(plugin_tshark, src, base + ["-T", "json"])
        jobs[("json-e", None)] = pool.submit(plugin_tshark, src, base + ["-T", "json"] + every[2:])
        jobs[("top", None)] = pool.submit(plugin_tshark, src, base + ["-T", "fields", "-e", "frame.number",
                                                                    "-e", "tcpstate"])

        checked = 0
        for i, f in enumerate(fields):
            want = {n: c[i] for n, c in ref.items() if c[i] != ""}
            got = plain_rows(jobs[("alone", i)].result())
            if got != want:
                diff = sorted(set(got.items()) ^ set(want.items()))[:3]
                fail("%s: -Y %s alone: %d frames, full tree %d (first differences %s)"
                     % (name, f, len(got), len(want), diff))
            want = {n: c[i] for n, c in ref.items() if c[sender] == "server"}
            got = plain_rows(jobs[("other", i)].result())
            if got != want:
                diff = sorted(set(got.items()) ^ set(want.items()))[:3]
                fail("%s: column %s with -Y '%s': differs from the full tree (first differences %s)"
                     % (name, f, other, diff))
            checked += len(want)
        for f in valueless:
            tree = [int(x) for x in jobs[("tree", f)].result().split()]
            plain = sorted(plain_rows(jobs[("plain", f)].result()))
            if tree != plain:
                fail("%s: -Y %s: %d frames without a visible tree, %d with one" % (name, f, len(plain), len(tree)))
        rows = jobs[("every", None)].result().splitlines()
        phase = 1 + fields.index("tcpstate.phase")
        want = [r for r in rows if r.split("\t")[phase] == "Teardown"]
        got = jobs[("every-filtered", None)].result().splitlines()
        if got != want or not want:
            fail("%s: -T fields -e <every field> -Y phase == Teardown: %d rows, unfiltered run's Teardown rows %d"
                 % (name, len(got), len(want)))
        tree = {n: {k: v for k, v in row.items() if k in fields}  # not the expert infos (valueless)
                for n, row in json_tree_values(jobs[("json-tree", None)].result()).items()}
        printed = json_e_values(jobs[("json-e", None)].result())
        if len(tree) < 100 or sorted(tree) != sorted(printed):
            fail("%s: -T json: %d frames with the full tree, %d with -e" % (name, len(tree), len(printed)))
        diffs = [(n, {k: (tree[n].get(k), printed.get(n, {}).get(k))
                      for k in set(tree[n]) | set(printed.get(n, {})) if tree[n].get(k) != printed.get(n, {}).get(k)})
                 for n in sorted(tree) if tree[n] != printed.get(n)]
        if diffs:
            fail("%s: -T json -e <every field> differs from the full tree on %d frames (first %s)"
                 % (name, len(diffs), diffs[:2]))
        label, labels = None, {}
        for line in ref_text.splitlines():
            m = re.match(r"\s*(\d+)\t", line)
            if m:
                label = int(m.group(1))
            elif line.startswith("[TCP Connection State") and label is not None:
                labels[label] = line.rstrip()[1:-1]  # -V brackets a generated item
        top = {}
        for line in jobs[("top", None)].result().splitlines():
            n, _, t = line.partition("\t")
            if t:
                top[int(n)] = t
        if top != labels or not top:
            diff = sorted(set(top.items()) ^ set(labels.items()))[:3]
            fail("%s: -T fields -e tcpstate: %d labels, full tree %d (first differences %s)"
                 % (name, len(top), len(labels), diff))
        print("%s: %d frames, %d value fields, %d valueless fields, %d cells compared"
              % (name, len(ref), len(fields), len(valueless), checked))
    pool.shutdown()
    subprocess.run(["rm", "-rf", tmp])
    if failures:
        print("FAIL: %d differences" % failures)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
