#!/usr/bin/env bash
# How much of tcpstate's cost in `tshark -T fields` and `tshark -2 -T fields`
# is Wireshark's own work on the tree items, and how low that work can go
# while the plugin keeps issue 2's field contract.
#
#   bench/contract_floor.sh BUILD_DIR [MODE...]     (MODE: fields twopass; default both)
#
# BUILD_DIR is a configured and built tree of this repository (it gives the
# pcap generator and the plugin as it is). The script exports the committed
# source (git HEAD) to a temporary folder, applies bench/contract-floor.patch
# (only the per-frame fields the contract requires, no labels, no connection
# summary), builds that plugin, and runs bench/callgrind.sh for three
# variants: tshark with tcpstate disabled (B), with the plugin as it is (A),
# and with the contract-floor plugin (floor). Each line gives the instructions
# a frame, the part that ran in tcpstate's own code, and A/B. Needs git,
# cmake, valgrind; a few minutes per mode.
set -euo pipefail
build=$(cd "$1" && pwd); shift
modes=("$@"); [ ${#modes[@]} -gt 0 ] || modes=(fields twopass)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/tcpstate-floor.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

mkdir "$work/src"
git -C "$here" archive HEAD | tar -x -C "$work/src"
(cd "$work/src" && git apply "$here/bench/contract-floor.patch")
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/configure.log"
cmake --build "$work/build" -j2 --target tcpstate tcpstate_gen_pcap >"$work/build.log"
chmod -R a+rX "$work"

printf '%-8s %-22s %14s %10s %8s\n' mode variant "instr/frame" "own" "A/B"
for mode in "${modes[@]}"; do
  line=$("$here/bench/callgrind.sh" "$build" "$mode" disabled)
  read -r _ _ b _ _ <<<"$line"
  for variant in plugin floor; do
    dir=$build; [ "$variant" = floor ] && dir=$work/build
    line=$("$here/bench/callgrind.sh" "$dir" "$mode" enabled)
    read -r _ _ a _ own <<<"$line"
    printf '%-8s %-22s %14s %10s %8s\n' "$mode" "$variant" "$a" "$own" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
  done
  printf '%-8s %-22s %14s %10s %8s\n' "$mode" "disabled (B)" "$b" 0 1.000
done
