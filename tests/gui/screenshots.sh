#!/usr/bin/env bash
# Screenshots of the real Wireshark GUI with the tcpstate plugin and profile:
# the seed walkthrough's handshake and teardown with the tcpstate subtree
# expanded, and the "TCP Connection States" statistics window.
#
#   tests/gui/screenshots.sh [build dir (default: build)] [output dir (default: docs)]
#
# Runs Xvfb, then wireshark (wireshark-qt) as the unprivileged user "nobody"
# (Wireshark as root ignores WIRESHARK_PLUGIN_DIR) with a throw-away HOME that
# holds the tcpstate profile (its columns, their widths and colours); goes to
# a packet with -g, clicks into the packet details, selects the last item (the
# tcpstate tree), expands it with Shift+Right (Expand Subtrees), moves the
# pointer off the tree (no hover highlight) and saves the screen with
# ImageMagick's `import`. The stats window is sorted by Burst Start (ascending)
# so phases and transitions read in the order they happened. The screen is
# 1920 wide so the longest tree line (the handshake explanation) fits.
# Needs Xvfb, xdotool and imagemagick (apt-get install xvfb xdotool
# imagemagick). Exit 77 when one of them is missing.
#   gui-handshake.png  frame 3, Handshake 3/3 ACK: both ESTABLISHED
#   gui-teardown.png   frame 10, Teardown 4/4 ACK: server CLOSED, client TIME-WAIT
#   gui-stats.png      Statistics > TCP Connection States
#   gui-sockets.png    Statistics > TCP Sockets (netstat), filter frame.number<=8
#                      (teardown step 2), macOS netstat style as in the article
#   gui-flow.png       Statistics > Flow Graph with tcpstate.info_column on, the
#                      walkthrough with its client moved to 127.0.0.2
#                      (scripts/split-loopback), the pointer on frame 8's arrow
#   gui-flow-loopback.png  the same on the loopback capture as recorded: one
#                      column for both ends
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
out=$(mkdir -p "${2:-$here/docs}" && cd "${2:-$here/docs}" && pwd)
capture=$here/sample-pcaps/seed-walkthrough.pcap

for tool in Xvfb xdotool import wireshark setpriv; do
  command -v "$tool" >/dev/null || { echo "screenshots.sh: $tool not installed, skipping" >&2; exit 77; }
done
ls "$build"/plugins/*/epan/tcpstate.so >/dev/null 2>&1 || { echo "screenshots.sh: no plugin in $build" >&2; exit 2; }

work=$(mktemp -d /tmp/tcpstate-gui.XXXXXX)
xvfb_pid=
cleanup() {
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null; wait "$xvfb_pid" 2>/dev/null; fi || true
  rm -rf "$work"
}
trap cleanup EXIT

# A HOME for nobody with the profile (and a layout with room for the tree).
home=$work/home
WIRESHARK_CONFIG_DIR=$home/.config/wireshark "$here/profile/install-profile.sh" >/dev/null
cat >>"$home/.config/wireshark/profiles/tcpstate/preferences" <<'EOF'

# screenshots.sh: packet list over details, no bytes pane
gui.layout_type: 1
gui.layout_content_3: NONE
EOF
mkdir -p "$work/run"
chmod -R a+rwX "$work"; chown 65534:65534 "$work/run"; chmod 700 "$work/run"
chmod a+rX "$build" && chmod -R a+rX "$build/plugins"

# Xvfb on a free display.
W=1920 H=1000
exec 3>"$work/display"
Xvfb -displayfd 3 -screen 0 ${W}x${H}x24 -ac -nolisten tcp -noreset >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
export DISPLAY=:$(head -1 "$work/display")

as_nobody() {
  exec setpriv --reuid=65534 --regid=65534 --clear-groups \
    env HOME="$home" DISPLAY="$DISPLAY" XDG_RUNTIME_DIR="$work/run" \
    WIRESHARK_PLUGIN_DIR="$build/plugins" "$@"
}

# Waits for a window whose name matches $1; prints its id.
wait_window() {
  local id
  for _ in $(seq 150); do
    id=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -1 || true)
    [ -n "$id" ] && { echo "$id"; return 0; }
    sleep 0.2
  done
  return 1
}

# shot NAME FRAME [extra wireshark args]
shot() {
  local name=$1 frame=$2; shift 2
  (as_nobody timeout 120 wireshark -C tcpstate -r "$capture" -g "$frame" "$@" \
    >"$work/$name.out" 2>"$work/$name.err") &
  local pid=$! win
  win=$(wait_window 'seed-walkthrough') || { echo "screenshots.sh: no window for $name" >&2; cat "$work/$name.err" >&2; return 1; }
  xdotool windowmove "$win" 0 0 windowsize "$win" "$W" "$H"
  sleep 2
  # Give the details more room: drag the splitter under the packet list up.
  xdotool mousemove 800 532 mousedown 1 mousemove 800 420 mousemove 800 330 mouseup 1
  sleep 0.5
  # Packet details: the pane under the packet list. Click a row, go to the
  # last top-level item (the post-dissector's tree) and expand its subtrees.
  xdotool mousemove 300 350 click 1
  sleep 0.5
  xdotool key End
  sleep 0.3
  xdotool key shift+Right
  # Pointer to the status bar: no hover highlight on a tree row.
  xdotool mousemove $((W / 2)) $((H - 8))
  sleep 1
  import -window root "$out/gui-$name.png"
  echo "screenshots.sh: $out/gui-$name.png" >&2
  xdotool key --window "$win" ctrl+q || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}


# The stats tree: Statistics > TCP Connection States, the menu's last item
# (the GUI's -z does not offer plugin stats trees).
(as_nobody timeout 120 wireshark -C tcpstate -r "$capture" >"$work/stats.out" 2>"$work/stats.err") &
pid=$!
if win=$(wait_window 'seed-walkthrough'); then
  xdotool windowmove "$win" 0 0 windowsize "$win" "$W" "$H"
  sleep 2
  for _ in 1 2 3 4 5; do
    xdotool mousemove 325 10 click 1   # "Statistics" in the menu bar
    sleep 1.5
    menu=
    for w in $(xdotool search --onlyvisible --name '.*' 2>/dev/null); do
      [ "$(xdotool getwindowname "$w" 2>/dev/null)" = Wireshark ] && menu=$w
    done
    [ -n "$menu" ] && break
    xdotool key Escape
  done
  if [ -n "$menu" ]; then
    eval "$(xdotool getwindowgeometry --shell "$menu")"
    xdotool mousemove $((X + 100)) $((Y + HEIGHT - 12)) click 1
  else
    echo "screenshots.sh: the Statistics menu did not open; windows:" >&2
    [ -n "${TCPSTATE_GUI_DEBUG:-}" ] && import -window root "$TCPSTATE_GUI_DEBUG"
    for w in $(xdotool search --onlyvisible --name '.*' 2>/dev/null); do
      echo "  $w '$(xdotool getwindowname "$w")'" >&2
    done
  fi
  if stats=$(wait_window 'TCP Connection States'); then
    xdotool windowmove "$stats" 0 0 windowsize "$stats" 1100 500
    sleep 2
    # Sort by Burst Start, ascending (first click on a column): the phases
    # and the transitions in the order they happened. The header's columns
    # are sized to their contents; Burst Start is the last one, at x 790-860.
    xdotool mousemove 820 22 click 1
    sleep 1
    xdotool mousemove 1050 480
    sleep 0.5
    import -window "$stats" "$out/gui-stats.png"
    echo "screenshots.sh: $out/gui-stats.png" >&2
  else
    echo "screenshots.sh: the stats window did not open" >&2
  fi
fi
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

shot handshake 3    # 3/3 ACK: both ESTABLISHED
shot teardown 10    # 4/4 ACK: server LAST-ACK -> CLOSED, client TIME-WAIT (why 2*MSL)

# The socket table at teardown step 2, opened by the GUI's own -z (a statistics
# table takes "-z <its name>,<filter>"), in the article's macOS spelling.
(as_nobody timeout 120 wireshark -C tcpstate -r "$capture" -o tcpstate.spelling:bsd-netstat \
   -z 'tcpstate,socket-table,frame.number<=8' >"$work/sockets.out" 2>"$work/sockets.err") &
pid=$!
if sockets=$(wait_window 'TCP Sockets'); then
  xdotool windowmove "$sockets" 0 0 windowsize "$sockets" 760 300
  sleep 2
  xdotool mousemove 750 290
  sleep 0.5
  import -window "$sockets" "$out/gui-sockets.png"
  echo "screenshots.sh: $out/gui-sockets.png" >&2
else
  echo "screenshots.sh: the sockets window did not open" >&2; cat "$work/sockets.err" >&2
fi
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

# flow NAME CAPTURE: Statistics > Flow Graph with both states in Info; the
# pointer on frame 8's arrow, so the line under the graph shows its whole label.
flow() {
  local name=$1 cap=$2 pid win menu graph
  (as_nobody timeout 120 wireshark -C tcpstate -r "$cap" -o tcpstate.info_column:TRUE \
     >"$work/$name.out" 2>"$work/$name.err") &
  pid=$!
  if win=$(wait_window "$(basename "$cap" .pcap)"); then
    xdotool windowmove "$win" 0 0 windowsize "$win" "$W" "$H"
    sleep 2
    for _ in 1 2 3 4 5; do
      xdotool mousemove 325 10 click 1   # "Statistics"
      sleep 1.5
      menu=
      for w in $(xdotool search --onlyvisible --name '.*' 2>/dev/null); do
        [ "$(xdotool getwindowname "$w" 2>/dev/null)" = Wireshark ] && menu=$w
      done
      [ -n "$menu" ] && break
      xdotool key Escape
    done
    if [ -n "$menu" ]; then
      # "Flow Graph" is the 20th entry of Wireshark 4.0's Statistics menu (25 px each, 3 separators).
      eval "$(xdotool getwindowgeometry --shell "$menu")"
      xdotool mousemove $((X + 60)) $((Y + 439)) click 1
    fi
    if graph=$(wait_window 'Flow'); then
      xdotool windowmove "$graph" 0 0 windowsize "$graph" 1400 560
      sleep 2
      xdotool mousemove 360 256   # frame 8's arrow (teardown step 2)
      sleep 1
      import -window "$graph" "$out/gui-$name.png"
      echo "screenshots.sh: $out/gui-$name.png" >&2
    else
      echo "screenshots.sh: the Flow Graph did not open" >&2
    fi
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
"$here/scripts/split-loopback" "$capture" "$work/seed-walkthrough-split.pcap" 8888 127.0.0.2
chmod a+r "$work/seed-walkthrough-split.pcap"
flow flow "$work/seed-walkthrough-split.pcap"
flow flow-loopback "$capture"
