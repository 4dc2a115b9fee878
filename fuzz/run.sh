#!/usr/bin/env bash
# Bounded fuzz run of the core for CI (issue #6).
#   fuzz/run.sh [--seconds N] [--jobs N] [--build DIR] [--clamp-time] [--ignore-known] [-- libFuzzer args...]
# --ignore-known fuzzes past the bugs fuzz/regress already reproduces (time
# overflow, correction older than ts_conn_correctable_since).
# Builds the libFuzzer target with clang (ASan+UBSan) if needed, fuzzes from the
# committed corpus (fuzz/corpus) into fuzz/out/corpus, and exits non-zero on any
# crash, leak, timeout or invariant violation; crashers are saved in fuzz/out/
# (crash-*, timeout-*, leak-*). Replay one: build-fuzz/fuzz/fuzz_core_replay -v fuzz/out/crash-...
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
seconds=60 jobs=1 build=$root/build-fuzz extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --clamp-time) export FUZZ_CORE_CLAMP_TIME=1; shift ;;
    --ignore-known) export FUZZ_CORE_IGNORE_KNOWN=1 FUZZ_CORE_CLAMP_TIME=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--seconds N] [--jobs N] [--build DIR] [--clamp-time] [--ignore-known] [-- libFuzzer args]" >&2; exit 2 ;;
  esac
done
out=$here/out
mkdir -p "$out/corpus"
if [ ! -x "$build/fuzz/fuzz_core" ] || [ -n "$(find "$root/core" "$root/include" "$here" -newer "$build/fuzz/fuzz_core" -name '*.[ch]' 2>/dev/null | head -1)" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DTCPSTATE_FUZZ=ON -DTCPSTATE_BUILD_PLUGIN=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
  cmake --build "$build" --target fuzz_core fuzz_core_replay -j"$(nproc)" >/dev/null || { echo "build failed" >&2; exit 2; }
fi
log=$out/fuzz-$(date +%Y%m%d-%H%M%S).log
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
      -artifact_prefix="$out/" -dict="$here/fuzz_core.dict")
if [ "$jobs" -gt 1 ]; then args+=(-fork="$jobs" -ignore_crashes=0); fi
echo "fuzz_core: ${seconds}s, $jobs job(s), corpus $out/corpus + $here/corpus, log $log"
"$build/fuzz/fuzz_core" "${args[@]}" "${extra[@]}" "$out/corpus" "$here/corpus" >"$log" 2>&1
rc=$?
grep -E '^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb|cov:' "$log" | tail -4
crashers=$(find "$out" -maxdepth 1 -newer "$out/corpus" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'leak-*' -o -name 'oom-*' \) | wc -l)
if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|libFuzzer)|runtime error|invariant violated' "$log"; then
  echo "fuzz_core: FAILED (exit $rc); crashers in $out:" >&2
  ls -1 "$out"/crash-* "$out"/timeout-* "$out"/leak-* "$out"/oom-* >&2 2>/dev/null
  grep -m3 -E 'invariant violated|runtime error|ERROR: AddressSanitizer' "$log" >&2
  exit 1
fi
echo "fuzz_core: OK, no crash ($crashers new crashers)"
