#!/usr/bin/env bash
# GUI smoke test: the real Wireshark (wireshark-qt) under Xvfb with the tcpstate
# plugin and profile opens the seed walkthrough with a tcpstate display filter.
# Fails on a plugin or filter problem: the plugin missing from `tshark -G
# plugins`, a filter error dialog instead of the capture window, or plugin,
# coloring-rule or filter complaints on Wireshark's stderr.
# Exit 77 (CTest: skipped) without a display stack (Xvfb, xdotool, wireshark).
# TCPSTATE_TSHARK_ENV (extra environment, e.g. the ASan runtime in LD_PRELOAD and
# an empty WIRESHARK_EXTCAP_DIR from tests/robustness/sanitize.sh) reaches
# tshark and wireshark, the plugin's hosts, and nothing else (not Xvfb, xdotool).
#   tests/gui/gui_smoke.sh [build dir]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
for tool in Xvfb xdotool wireshark tshark setpriv; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (apt-get install xvfb xdotool wireshark-qt)"; exit 77; }
done
fail() {
  echo "FAIL: $*" >&2
  [ -s "${work:-}/xvfb.log" ] && { echo "Xvfb's log:" >&2; tail -20 "$work/xvfb.log" >&2; }
  exit 1
}

# 1. tshark sees the plugin and its fields.
plugins=$(TCPSTATE_BUILD=$build "$here/tests/run-tshark.sh" -G plugins)
grep -q 'tcpstate\.so' <<<"$plugins" || fail "tcpstate.so not in tshark -G plugins: $plugins"
fields=$(TCPSTATE_BUILD=$build "$here/tests/run-tshark.sh" -G fields)
for f in tcpstate.conn.state tcpstate.conn.history tcpstate.client.state; do
  grep -q "	$f	" <<<"$fields" || fail "field $f not registered"
done

# 2. The GUI, as nobody (Wireshark as root ignores WIRESHARK_PLUGIN_DIR).
work=$(mktemp -d /tmp/tcpstate-gui-smoke.XXXXXX)
xvfb_pid= ws_pid=
cleanup() {
  if [ -n "$ws_pid" ]; then kill "$ws_pid" 2>/dev/null; wait "$ws_pid" 2>/dev/null; fi || true
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null; wait "$xvfb_pid" 2>/dev/null; fi || true
  rm -rf "$work"
}
trap cleanup EXIT
home=$work/home
WIRESHARK_CONFIG_DIR=$home/.config/wireshark "$here/profile/install-profile.sh" >/dev/null
mkdir -p "$work/run"
chmod -R a+rwX "$work"; chown 65534:65534 "$work/run"; chmod 700 "$work/run"
chmod a+rX "$build"; chmod -R a+rX "$build/plugins"

exec 3>"$work/display"
Xvfb -displayfd 3 -screen 0 1280x900x24 -ac -nolisten tcp -noreset >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || { echo "SKIP: Xvfb did not start: $(cat "$work/xvfb.log")"; exit 77; }
export DISPLAY=:$(head -1 "$work/display")
# Xvfb names its display once it listens; still, under a loaded CI run (the
# sanitizer suite beside other tests) wireshark once found no server there, and
# once, after the first wireshark had quit, the second found none: an X server
# resets when its last client leaves and refuses connections meanwhile (hence
# -noreset above). Before each wireshark, wait until the server answers a client
# run as the user wireshark runs as, and say so, with Xvfb's log, if it never does.
wait_for_display() {
  local answered=
  for _ in $(seq 100); do
    if setpriv --reuid=65534 --regid=65534 --clear-groups env DISPLAY="$DISPLAY" \
         xdotool getdisplaygeometry >/dev/null 2>&1; then answered=1; break; fi
    kill -0 "$xvfb_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$answered" ] || fail "Xvfb on $DISPLAY answers no client: $(cat "$work/xvfb.log")"
}
wait_for_display

# shellcheck disable=SC2086 # TCPSTATE_TSHARK_ENV is a list of VAR=value words
(exec setpriv --reuid=65534 --regid=65534 --clear-groups \
  env HOME="$home" DISPLAY="$DISPLAY" XDG_RUNTIME_DIR="$work/run" WIRESHARK_PLUGIN_DIR="$build/plugins" \
  timeout 90 env ${TCPSTATE_TSHARK_ENV:-} wireshark -C tcpstate -r "$here/sample-pcaps/seed-walkthrough.pcap" \
  -Y 'tcpstate.phase == "Handshake" && tcpstate.conn.state == "SF"' >"$work/out" 2>"$work/err") &
ws_pid=$!

windows() {
  for w in $(xdotool search --onlyvisible --name '.*' 2>/dev/null); do xdotool getwindowname "$w" 2>/dev/null || true; done
}
ok=
for _ in $(seq 300); do
  names=$(windows)
  if grep -qx 'Wireshark' <<<"$names"; then
    sleep 1
    fail "a dialog opened (filter or plugin error?); windows: $(windows | tr '\n' '|'); stderr: $(cat "$work/err")"
  fi
  grep -q 'seed-walkthrough' <<<"$names" && { ok=1; break; }
  kill -0 "$ws_pid" 2>/dev/null || fail "wireshark exited: $(cat "$work/err")"
  sleep 0.2
done
[ -n "$ok" ] || fail "the capture window never appeared; windows: $(windows | tr '\n' '|')"
sleep 3   # let it dissect, color and filter
names=$(windows)
grep -qx 'Wireshark' <<<"$names" && fail "a dialog opened after loading; stderr: $(cat "$work/err")"
kill "$ws_pid" 2>/dev/null || true
wait "$ws_pid" 2>/dev/null || true
ws_pid=

# 3. The socket table (Statistics > TCP Sockets (netstat)) opens with a filter,
#    through the GUI's own -z, and Wireshark keeps running.
wait_for_display
# shellcheck disable=SC2086
(exec setpriv --reuid=65534 --regid=65534 --clear-groups \
  env HOME="$home" DISPLAY="$DISPLAY" XDG_RUNTIME_DIR="$work/run" WIRESHARK_PLUGIN_DIR="$build/plugins" \
  timeout 90 env ${TCPSTATE_TSHARK_ENV:-} wireshark -C tcpstate -r "$here/sample-pcaps/seed-walkthrough.pcap" \
  -z 'tcpstate,socket-table,frame.number<=8' >"$work/out2" 2>"$work/err2") &
ws_pid=$!
ok=
for _ in $(seq 300); do
  grep -q 'TCP Sockets' <<<"$(windows)" && { ok=1; break; }
  kill -0 "$ws_pid" 2>/dev/null || fail "wireshark exited with the socket table: $(cat "$work/err2")"
  sleep 0.2
done
[ -n "$ok" ] || fail "the TCP Sockets window never appeared; windows: $(windows | tr '\n' '|')"
sleep 2
kill -0 "$ws_pid" 2>/dev/null || fail "wireshark exited after opening the socket table: $(cat "$work/err2")"
kill "$ws_pid" 2>/dev/null || true
wait "$ws_pid" 2>/dev/null || true
ws_pid=
cat "$work/err2" >>"$work/err"
# 4. Nothing about plugins, coloring rules or filters on stderr.
if grep -Ei 'plugin|color_filters|colorfilters|could not compile|dfilter|isn.t a valid|CRITICAL|tcpstate' "$work/err"; then
  fail "wireshark complained (above)"
fi
echo "gui smoke: OK (plugin loaded, profile and tcpstate filter accepted, socket table opened)"
