#!/usr/bin/env bash
# Golden test: the plugin's per-segment fields on one sample capture, single
# pass or two-pass (-2), compared with the committed expected output.
#   golden.sh <capture.pcap> 1pass|2pass           compare
#   TCPSTATE_UPDATE_GOLDEN=1 golden.sh ...         rewrite the expected file
# The expected files are the plugin's reviewed output; their states are held
# to the Linux kernel's own by tests/kernel/check.py.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pcap=$1 mode=$2
expected=${pcap%.pcap}.expected-$mode.tsv
# Where a newer Wireshark dissects the capture differently (e.g. 4.4 gives a SYN reusing a
# reset connection's ports a new tcp.stream), <name>.expected-<mode>.from-X.Y.tsv holds
# what the plugin shows from Wireshark X.Y on: the newest one not newer than this tshark wins.
ws=$(tshark --version 2>/dev/null | sed -n '1s/^TShark (Wireshark) \([0-9]*\.[0-9]*\).*/\1/p')
for f in "${pcap%.pcap}".expected-"$mode".from-*.tsv; do
  [ -e "$f" ] || continue
  v=${f##*.from-}; v=${v%.tsv}
  if [ "$(printf '%s\n' "$v" "$ws" | sort -V | head -1)" = "$v" ] &&
     { [ "$expected" = "${pcap%.pcap}.expected-$mode.tsv" ] ||
       [ "$(printf '%s\n' "$v" "$from" | sort -V | tail -1)" = "$v" ]; }; then
    expected=$f from=$v
  fi
done
args=()
[ "$mode" = 2pass ] && args=(-2)
fields=(frame.number tcpstate.sender tcpstate.phase tcpstate.handshake_step tcpstate.teardown_step
        tcpstate.client.prev_state tcpstate.client.state tcpstate.server.prev_state tcpstate.server.state
        tcpstate.transition tcpstate.assumed tcpstate.corrects tcpstate.corrected_by tcpstate.delivery)
actual=$(mktemp); trap 'rm -f "$actual"' EXIT
"$here/../run-tshark.sh" "${args[@]}" -r "$pcap" -T fields -E header=y $(printf -- '-e %s ' "${fields[@]}") > "$actual"
if [ "${TCPSTATE_UPDATE_GOLDEN:-}" = 1 ]; then cp "$actual" "$expected"; echo "updated $expected"; exit 0; fi
if ! diff -u "$expected" "$actual"; then echo "FAIL: $(basename "$pcap") $mode differs from $(basename "$expected")"; exit 1; fi
echo "ok: $(basename "$pcap") $mode against $(basename "$expected") ($(($(wc -l < "$actual") - 1)) segments)"
