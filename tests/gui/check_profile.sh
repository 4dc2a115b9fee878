#!/usr/bin/env bash
# The tcpstate profile's custom columns show the annotation: tshark -C tcpstate
# (profile installed in a throw-away WIRESHARK_CONFIG_DIR) prints, for the seed
# walkthrough, the phase, step and both states of every segment.
#   tests/gui/check_profile.sh [build dir]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
cfg=$(mktemp -d /tmp/tcpstate-profile.XXXXXX)
trap 'rm -rf "$cfg"' EXIT
WIRESHARK_CONFIG_DIR=$cfg "$here/profile/install-profile.sh" >/dev/null
chmod -R a+rX "$cfg"
# The columns as tshark's one-line summary shows them, tab-separated (-T tabs): custom
# column titles are not -e fields from Wireshark 4.4 on. Counted from the end of the
# line (Info is last, after History), since -T tabs puts an arrow between Source and
# Destination.
# Appended to, not replaced: the sanitizer build puts the ASan runtime there.
got=$(TCPSTATE_TSHARK_ENV="${TCPSTATE_TSHARK_ENV:-} WIRESHARK_CONFIG_DIR=$cfg" TCPSTATE_BUILD=$build "$here/tests/run-tshark.sh" \
  -C tcpstate -2 -r "$here/sample-pcaps/seed-walkthrough.pcap" -T tabs |
  awk -F'\t' '{ print $(NF-6) ";" $(NF-5) ";" $(NF-4) ";" $(NF-3) ";" $(NF-2) }')
want='Handshake;1;SYN-SENT;SYN-RECEIVED;SF
Handshake;2;ESTABLISHED;SYN-RECEIVED;SF
Handshake;3;ESTABLISHED;ESTABLISHED;SF
Data;;ESTABLISHED;ESTABLISHED;SF
Data;;ESTABLISHED;ESTABLISHED;SF
Data;;ESTABLISHED;ESTABLISHED;SF
Teardown;1;FIN-WAIT-1;CLOSE-WAIT;SF
Teardown;2;FIN-WAIT-2;CLOSE-WAIT;SF
Teardown;3;TIME-WAIT;LAST-ACK;SF
Teardown;4;TIME-WAIT;CLOSED;SF'
if [ "$got" != "$want" ]; then
  echo "FAIL: profile columns:"; diff <(echo "$want") <(echo "$got"); exit 1
fi
# The one-line summary (default tshark output) carries the columns too.
line=$(TCPSTATE_TSHARK_ENV="${TCPSTATE_TSHARK_ENV:-} WIRESHARK_CONFIG_DIR=$cfg" TCPSTATE_BUILD=$build "$here/tests/run-tshark.sh" \
  -C tcpstate -r "$here/sample-pcaps/seed-walkthrough.pcap" -c 1)
grep -q 'client Handshake 1 SYN-SENT SYN-RECEIVED' <<<"$line" || { echo "FAIL: summary line: $line"; exit 1; }
# tcpstate.info_column is on in the profile: Info starts with both states.
grep -q '\[client SYN-SENT, server SYN-RECEIVED\] [0-9]* → 8888 \[SYN\]' <<<"$line" || { echo "FAIL: Info without the states: $line"; exit 1; }
echo "profile columns: OK"
