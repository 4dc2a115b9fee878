#!/usr/bin/env bash
# Runs inside a matrix chroot (tests/matrix/chroot.sh), from the copied source:
# configure, build everything with the project's -Werror, run the tests matching REGEX
# with ctest -jJOBS, and print one line of counts. A skipped test counts as a failure:
# everything the matrix runs must work in the chroot.
#   inside.sh SRC BUILD REGEX JOBS [REQUIRED]
# REQUIRED: test-name prefixes of which at least one test each must have run (so that a test
# CMake left out, e.g. for a missing tool, fails the run instead of going unnoticed).
set -uo pipefail
src=$1 build=$2 regex=$3 jobs=$4 required=${5:-}
ws=$(tshark --version 2>/dev/null | sed -n "1s/^TShark (Wireshark) \([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p")
echo "== Wireshark $ws: configure and build (-Werror)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; echo "RESULT Wireshark $ws: configure failed"; exit 1; }
cmake --build "$build" -j"$(nproc)" >"$build.build.log" 2>&1 ||
  { grep -E 'error|warning' "$build.build.log" | head -50; echo "RESULT Wireshark $ws: build failed"; exit 1; }
# tshark as root ignores WIRESHARK_PLUGIN_DIR: the tests run it as nobody, who must read both trees.
chmod -R a+rX "$build" "$src"
echo "== Wireshark $ws: ctest -R '$regex' -j$jobs"
cd "$build"
TCPSTATE_KERNEL_MERGED=1 ctest -R "$regex" -j"$jobs" --output-on-failure --output-junit "$build/junit.xml"
python3 - "$build/junit.xml" "$ws" "$required" <<'PY'
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
passed, failed, skipped = [], [], []
for c in cases:
    status = c.get("status", "")
    if c.find("failure") is not None or c.find("error") is not None or status == "fail":
        failed.append(c.get("name"))
    elif c.find("skipped") is not None or status in ("notrun", "disabled"):
        skipped.append(c.get("name"))
    else:
        passed.append(c.get("name"))
    if c.get("name") == "package.deb":  # what was packaged and how tshark listed it
        out = c.find("system-out")
        for line in (out.text or "").splitlines() if out is not None else []:
            if line.startswith(("package:", "Depends:", "tshark -G plugins:", "ok:", "FAIL:", "SKIP:")):
                print("package.deb |", line)
total = len(passed) + len(failed) + len(skipped)
names = passed + failed + skipped
missing = [p for p in sys.argv[3].split() if not any(n.startswith(p) for n in names)]
print(f"RESULT Wireshark {sys.argv[2]}: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped "
      f"(of {total})" + "".join(f"\n  failed: {n}" for n in failed) + "".join(f"\n  skipped: {n}" for n in skipped) +
      "".join(f"\n  missing (no such test ran): {p}" for p in missing))
sys.exit(0 if total > 0 and not failed and not skipped and not missing else 1)
PY
