#!/usr/bin/env bash
# Instructions per frame that tshark spends, with or without tcpstate, counted
# by callgrind (independent of the machine's load, unlike bench.py's times).
#
#   bench/callgrind.sh BUILD_DIR MODE [enabled|disabled]
#   MODE: plain | filter | fields | twopass
#
# Counts a run on a 2*10^4-frame synthetic capture (bench/gen_pcap.c, seed 1,
# 1000 concurrent connections) minus a run on its first 10 frames, so start-up
# costs cancel, and divides by the 19 990 frames between. "disabled" runs with
# --disable-protocol tcpstate, and filter mode then filters on the equivalent
# tcp field (as bench.py does). tshark runs as nobody when run as root (see
# tests/run-tshark.sh). Needs valgrind; takes about a minute per mode.
#
# Prints "MODE VARIANT INSTRUCTIONS own OWN": OWN is the part of the
# instructions a frame that ran in tcpstate's own code (tcpstate.so, inlined
# core included); the rest of what the plugin adds is Wireshark, GLib and libc
# working for it (tree items, their labels, freeing them, printing fields).
# OWN moves by a few hundred instructions between identical runs (about
# 3.3-4.0 k in -T fields), the total by well under a hundred.
set -euo pipefail
build=$(cd "$1" && pwd); mode=$2; variant=${3:-enabled}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/tcpstate-callgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
"$build/bench/tcpstate_gen_pcap" -n 20000 -c 1000 -s 1 -o "$work/s20k.pcap" >/dev/null 2>&1
editcap -r "$work/s20k.pcap" "$work/s10.pcap" 1-10
chmod 644 "$work"/*.pcap
fields=(-T fields -e frame.number -e tcpstate.client.state -e tcpstate.server.state -e tcpstate.phase)
extra=()
[ "$variant" = disabled ] && extra=(--disable-protocol tcpstate)
case $mode in
  plain) args=() ;;
  filter) if [ "$variant" = disabled ]; then args=(-Y 'tcp.flags.fin == 1'); else args=(-Y 'tcpstate.phase == "Teardown"'); fi ;;
  fields) args=("${fields[@]}") ;;
  twopass) args=(-2 "${fields[@]}") ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
count() { # capture -> instructions of the whole run
  local out="$work/cg.$RANDOM"
  local cmd=(valgrind --tool=callgrind --callgrind-out-file="$out" tshark -r "$1" "${extra[@]}" "${args[@]}")
  chmod 777 "$work"
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$work" WIRESHARK_PLUGIN_DIR="$build/plugins" \
      "${cmd[@]}" >/dev/null 2>"$out.err"
  else
    WIRESHARK_PLUGIN_DIR="$build/plugins" "${cmd[@]}" >/dev/null 2>"$out.err"
  fi
  awk '/^summary:/ {print $2}' "$out" >"$out.total"
  # Self cost of every function compiled from this build's sources.
  callgrind_annotate --inclusive=no --threshold=100 --auto=no "$out" |
    awk -v src="$src/" 'index($0, "tcpstate.so]") || index($0, src) {gsub(",", "", $1); s += $1} END {print s + 0}' \
    >"$out.own"
  echo "$out"
}
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
a=$(count "$work/s20k.pcap"); b=$(count "$work/s10.pcap")
echo "$mode $variant $(( ($(cat "$a.total") - $(cat "$b.total")) / 19990 ))" \
  "own $(( ($(cat "$a.own") - $(cat "$b.own")) / 19990 ))"
