#!/usr/bin/env bash
# The whole CTest suite in an ASan+UBSan build (issue #6); CTest runs it as
# sanitize.suite (in BUILD/asan).
#   tests/robustness/sanitize.sh [--cc gcc|clang] [--build DIR] [-- ctest args...]
# Configures DIR (default build-asan) with -DTCPSTATE_SANITIZE=ON, builds, and runs
# ctest there: every test, including the corrupted-capture sweep
# (robustness.quick) and the GUI tests (`-- -LE slow` skips the slow ones),
# except bench.* (see below).
# tshark and wireshark are not instrumented: the ASan runtime is preloaded into
# them (LD_PRELOAD, via TCPSTATE_TSHARK_ENV, which tests/run-tshark.sh and the GUI
# tests pass on); leak detection is off for them (they leak at exit by design)
# and on for our own test programs. The extcap folder is an empty one
# (WIRESHARK_EXTCAP_DIR): tshark -G plugins and the GUI would otherwise start the
# extcap helpers with the runtime preloaded, and they hang. Any sanitizer report
# aborts the process, so the test that ran it fails.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=gcc build=$root/build-asan ctest_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --cc) cc=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: $0 [--cc gcc|clang] [--build DIR] [-- ctest args]" >&2; exit 2 ;;
  esac
done
case $cc in
  gcc) runtime=$(gcc -print-file-name=libasan.so) ;;
  clang) runtime=$(clang -print-file-name=libclang_rt.asan-x86_64.so) ;;
  *) echo "sanitize.sh: --cc gcc or clang" >&2; exit 2 ;;
esac
runtime=$(readlink -f "$runtime")
[ -f "$runtime" ] || { echo "sanitize.sh: no ASan runtime for $cc ($runtime)" >&2; exit 2; }

mkdir -p "$build"
build=$(cd "$build" && pwd)
cmake -S "$root" -B "$build" -DTCPSTATE_SANITIZE=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$build/sanitize-configure.log" 2>&1 || { cat "$build/sanitize-configure.log"; exit 2; }
cmake --build "$build" -j"$(nproc)" >"$build/sanitize-build.log" 2>&1 || { tail -30 "$build/sanitize-build.log"; exit 2; }
chmod -R a+rX "$build"

san_common=abort_on_error=1:halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=$san_common:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=$san_common
# For tshark: the runtime first in the library list, no leak report at exit.
# No extcap helpers (they are not the plugin's host, and hang with the runtime preloaded).
noextcap=$build/no-extcap
mkdir -p "$noextcap"; chmod 755 "$noextcap"
export TCPSTATE_TSHARK_ENV="LD_PRELOAD=$runtime ASAN_OPTIONS=$san_common:detect_leaks=0:verify_asan_link_order=0 UBSAN_OPTIONS=$san_common WIRESHARK_EXTCAP_DIR=$noextcap"
export TCPSTATE_BUILD=$build
echo "sanitize.sh: $cc ASan+UBSan build in $build; tshark env: $TCPSTATE_TSHARK_ENV"

# Smoke check: the sanitized plugin loads into tshark (else every test would
# fail for the wrong reason).
if ! timeout 120 "$root/tests/run-tshark.sh" -G plugins 2>&1 | grep -q 'tcpstate\.so'; then
  echo "sanitize.sh: tshark does not load the sanitized plugin:" >&2
  timeout 120 "$root/tests/run-tshark.sh" -G plugins 2>&1 | tail -5 >&2
  exit 1
fi
# Not run here: bench.* (bench/bench.py starts tshark itself, without
# TCPSTATE_TSHARK_ENV, so it cannot load an ASan plugin; it is a benchmark
# smoke test, run in the normal build).
echo "sanitize.sh: skipping bench.* (bench.py does not pass TCPSTATE_TSHARK_ENV to tshark)"
started=$(date +%s)
rc=0
(cd "$build" && TCPSTATE_KERNEL_MERGED=1 ctest --output-on-failure -j"$(nproc)" -E '^bench\.' "${ctest_args[@]}") || rc=1
echo "sanitize.sh: ctest in $build took $(( $(date +%s) - started )) s, exit $rc"
[ "$rc" = 0 ] || "$root/tests/failure-recap.sh" "$build"
exit $rc
