#!/usr/bin/env bash
# Line/branch coverage of the core reached by a fuzz corpus (clang source-based coverage).
#   fuzz/coverage.sh [--build DIR] [CORPUS_DIR...]     (default: fuzz/corpus and fuzz/out/corpus)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build-fuzz
if [ "${1:-}" = --build ]; then build=$2; shift 2; fi
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=("$here/corpus" "$here/out/corpus")
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DTCPSTATE_FUZZ=ON -DTCPSTATE_BUILD_PLUGIN=OFF >/dev/null || exit 2
cmake --build "$build" --target fuzz_core_cov -j"$(nproc)" >/dev/null || exit 2
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT
existing=()
for d in "${dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
FUZZ_CORE_CLAMP_TIME=1 FUZZ_CORE_IGNORE_KNOWN=1 LLVM_PROFILE_FILE="$prof/cov.profraw" \
  "$build/fuzz/fuzz_core_cov" "${existing[@]}" || echo "coverage: an input failed (see above)" >&2
llvm-profdata merge -sparse "$prof/cov.profraw" -o "$prof/cov.profdata"
llvm-cov report "$build/fuzz/fuzz_core_cov" -instr-profile="$prof/cov.profdata" \
  "$root/core/" 2>/dev/null
