#!/usr/bin/env bash
# Bounded fuzz run of the core (issue #6); CTest runs it as fuzz.libfuzzer.
#   fuzz/run.sh [--seconds N] [--jobs N] [--build DIR] [--out DIR] [--clamp-time] [--ignore-known]
#               [-- libFuzzer args...]
# --ignore-known fuzzes past the checks fuzz/regress still fails (see fuzz_core.c);
# --clamp-time keeps timestamps within +-2^59 ns. Without them every invariant
# is checked over the full int64 time range.
# Builds the libFuzzer target with clang (ASan+UBSan) in DIR (default
# build-fuzz) when it is missing or older than the core or the harness, fuzzes
# from the committed corpus (fuzz/corpus, read-only) into OUT/corpus (default
# fuzz/out), and exits 1 on any crash, leak, timeout, out-of-memory or
# invariant violation; the input that did it is saved in OUT (crash-*,
# timeout-*, leak-*, oom-*). Replay one: DIR/fuzz/fuzz_core_replay -v OUT/crash-...
# Exit 77 (CTest: skipped) when clang or its libFuzzer runtime is missing.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
seconds=60 jobs=1 build=$root/build-fuzz out=$here/out extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --clamp-time) export FUZZ_CORE_CLAMP_TIME=1; shift ;;
    --ignore-known) export FUZZ_CORE_IGNORE_KNOWN=1 FUZZ_CORE_CLAMP_TIME=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--seconds N] [--jobs N] [--build DIR] [--out DIR] [--clamp-time] [--ignore-known] [-- libFuzzer args]" >&2; exit 2 ;;
  esac
done
command -v clang >/dev/null || { echo "SKIP: clang not installed (apt-get install clang libclang-rt-14-dev)"; exit 77; }
fuzzer_rt=$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)
[ -f "$fuzzer_rt" ] || { echo "SKIP: no libFuzzer runtime for clang (apt-get install libclang-rt-14-dev)"; exit 77; }
mkdir -p "$out/corpus"
out=$(cd "$out" && pwd)
if [ ! -x "$build/fuzz/fuzz_core" ] || [ -n "$(find "$root/core" "$root/include" "$here" -newer "$build/fuzz/fuzz_core" -name '*.[ch]' 2>/dev/null | head -1)" ]; then
  echo "fuzz_core: building with clang in $build"
  mkdir -p "$build"
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DTCPSTATE_FUZZ=ON -DTCPSTATE_BUILD_PLUGIN=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-configure.log" 2>&1 || { cat "$build/fuzz-configure.log" >&2; exit 2; }
  cmake --build "$build" --target fuzz_core fuzz_core_replay -j"$(nproc)" >"$build/fuzz-build.log" 2>&1 ||
    { tail -30 "$build/fuzz-build.log" >&2; echo "fuzz_core: build failed" >&2; exit 2; }
fi
log=$out/fuzz-$(date +%Y%m%d-%H%M%S).log
stamp=$out/.started
: > "$stamp"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
      -artifact_prefix="$out/" -dict="$here/fuzz_core.dict")
if [ "$jobs" -gt 1 ]; then args+=(-fork="$jobs" -ignore_crashes=0); fi
before=$(find "$out/corpus" -type f | wc -l)
echo "fuzz_core: ${seconds}s, $jobs job(s), committed corpus $(find "$here/corpus" -type f | wc -l) inputs" \
     "+ $before in $out/corpus; FUZZ_CORE_CLAMP_TIME=${FUZZ_CORE_CLAMP_TIME:-0} FUZZ_CORE_IGNORE_KNOWN=${FUZZ_CORE_IGNORE_KNOWN:-0}; log $log"
# New inputs go to the first directory (OUT/corpus); the committed corpus is only read.
"$build/fuzz/fuzz_core" "${args[@]}" "${extra[@]}" "$out/corpus" "$here/corpus" >"$log" 2>&1
rc=$?
execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
speed=$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')
cov=$(grep -E '^#[0-9]+[[:space:]]+[A-Z]+ +cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
inited=$(grep -E '^#[0-9]+[[:space:]]+INITED +cov: [0-9]+ ft: [0-9]+' "$log" | head -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
after=$(find "$out/corpus" -type f | wc -l)
echo "fuzz_core: $execs executions ($speed exec/s); edge coverage from the corpus alone ${inited:-?}, at the end ${cov:-?};" \
     "$((after - before)) new inputs in $out/corpus"
crashers=$(find "$out" -maxdepth 1 -newer "$stamp" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'leak-*' -o -name 'oom-*' \))
if [ $rc -ne 0 ] || [ -n "$crashers" ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant violated' "$log"; then
  echo "fuzz_core: FAILED (exit $rc)" >&2
  grep -m5 -E 'invariant violated|runtime error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY' "$log" >&2
  for c in $crashers; do echo "  input: $c   replay: $build/fuzz/fuzz_core_replay -v $c" >&2; done
  exit 1
fi
echo "fuzz_core: OK, no crash, leak, timeout or invariant violation"
