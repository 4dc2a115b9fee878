#!/usr/bin/env bash
# The whole CTest suite in an ASan+UBSan build (issue #6).
#   tests/robustness/sanitize.sh [--cc gcc|clang] [--build DIR] [--sweep] [-- ctest args...]
# Configures DIR (default build-asan) with -DTCPSTATE_SANITIZE=ON, builds, and runs
# ctest there. tshark itself is not instrumented: the ASan runtime is preloaded
# into it (LD_PRELOAD, via TCPSTATE_TSHARK_ENV, which tests/run-tshark.sh passes
# on); leak detection is off for tshark (it leaks at exit by design) and on for
# our own test programs. Any sanitizer report aborts the process, so the test
# that ran it fails. --sweep also runs the robustness quick sweep on that build.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=gcc build=$root/build-asan sweep=0 ctest_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --cc) cc=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --sweep) sweep=1; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: $0 [--cc gcc|clang] [--build DIR] [--sweep] [-- ctest args]" >&2; exit 2 ;;
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
cmake -S "$root" -B "$build" -DTCPSTATE_SANITIZE=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$build/sanitize-configure.log" 2>&1 || { cat "$build/sanitize-configure.log"; exit 2; }
cmake --build "$build" -j"$(nproc)" >"$build/sanitize-build.log" 2>&1 || { tail -30 "$build/sanitize-build.log"; exit 2; }
chmod -R a+rX "$build"

san_common=abort_on_error=1:halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=$san_common:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=$san_common
# For tshark: the runtime first in the library list, no leak report at exit.
export TCPSTATE_TSHARK_ENV="LD_PRELOAD=$runtime ASAN_OPTIONS=$san_common:detect_leaks=0:verify_asan_link_order=0 UBSAN_OPTIONS=$san_common"
export TCPSTATE_BUILD=$build
echo "sanitize.sh: $cc ASan+UBSan build in $build; tshark env: $TCPSTATE_TSHARK_ENV"

# Smoke check: the sanitized plugin loads into tshark (else every test would
# fail for the wrong reason).
# (-G protocols, not -G plugins: that also runs the extcap helpers, which can
# hang with the ASan runtime preloaded into them)
if ! timeout 120 "$root/tests/run-tshark.sh" -G protocols 2>&1 | grep -q tcpstate; then
  echo "sanitize.sh: tshark does not load the sanitized plugin:" >&2
  timeout 120 "$root/tests/run-tshark.sh" -G protocols 2>&1 | tail -5 >&2
  exit 1
fi
rc=0
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "${ctest_args[@]}") || rc=1
if [ $sweep = 1 ]; then
  python3 "$here/robustness.py" --quick --build "$build" --env "$TCPSTATE_TSHARK_ENV" \
    --json "$build/robustness-asan.json" || rc=1
fi
exit $rc
