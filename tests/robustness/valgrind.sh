#!/usr/bin/env bash
# Valgrind memcheck of tshark with the (normal, uninstrumented) plugin on every
# sample capture, single pass and two pass, -V (issue #6).
#   tests/robustness/valgrind.sh [--build DIR] [--jobs N] [--pcaps 'GLOB'] [--xml-dir DIR]
# Reports the errors (invalid reads/writes, uninitialised values, definite
# leaks) whose stack has a frame in tcpstate.so or in the core/plugin sources;
# tshark's own are counted and ignored. Exit 1 on any error from plugin code,
# 77 when valgrind is missing.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${TCPSTATE_BUILD:-$root/build} jobs=2 pcaps="$root/sample-pcaps/*.pcap $root/sample-pcaps/*.pcapng" xml=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --pcaps) pcaps=$2; shift 2 ;;
    --xml-dir) xml=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--jobs N] [--pcaps GLOB] [--xml-dir DIR]" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind.sh: no valgrind" >&2; exit 77; }
build=$(cd "$build" && pwd)
if grep -q '^TCPSTATE_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "valgrind.sh: $build is an ASan build; valgrind needs the normal one" >&2; exit 77
fi
ls "$build"/plugins/*/epan/tcpstate.so >/dev/null 2>&1 || { echo "valgrind.sh: no plugin in $build" >&2; exit 2; }
chmod -R a+rX "$build"
[ -n "$xml" ] || xml=$(mktemp -d /tmp/tsvalgrind.XXXXXX)
mkdir -p "$xml"; chmod 777 "$xml"
rm -f "$xml"/*.xml "$xml"/*.stderr   # a kept --xml-dir: only this run's reports
home=$(mktemp -d /tmp/tsvalgrind-home.XXXXXX); chmod 777 "$home"
trap 'rm -rf "$home"' EXIT

run_one() { # pcap mode
  local pcap=$1 mode=$2 name out
  name=$(basename "$pcap" .pcap).$mode
  out=$xml/$name.xml
  local args=(-n -r "$pcap" -V)
  [ "$mode" = 2pass ] && args+=(-2)
  local vg=(valgrind --tool=memcheck --xml=yes --xml-file="$out" --leak-check=full
            --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=40
            --track-origins=yes --child-silent-after-fork=yes)
  local envs=(HOME="$home" WIRESHARK_PLUGIN_DIR="$build/plugins" WIRESHARK_ABORT_ON_DISSECTOR_BUG=1)
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups env "${envs[@]}" "${vg[@]}" tshark "${args[@]}" >"$xml/$name.out" 2>"$xml/$name.stderr"
  else
    env "${envs[@]}" "${vg[@]}" tshark "${args[@]}" >"$xml/$name.out" 2>"$xml/$name.stderr"
  fi
  local rc=$?
  # the plugin must have run: its subtree in the -V output
  echo "$name exit $rc annotated $(grep -c 'TCP Connection State' "$xml/$name.out")" >> "$xml/exits.txt"
  rm -f "$xml/$name.out"
}
export -f run_one
export xml home build
: > "$xml/exits.txt"
shopt -s nullglob
inputs=($pcaps)
shopt -u nullglob
[ ${#inputs[@]} -gt 0 ] || { echo "valgrind.sh: no capture matches $pcaps" >&2; exit 2; }
echo "valgrind.sh: ${#inputs[@]} captures x 2 passes, $jobs in parallel, XML in $xml"
n=0
for pcap in "${inputs[@]}"; do
  for mode in 1pass 2pass; do printf '%s\0%s\0' "$pcap" "$mode"; n=$((n + 1)); done
done | xargs -0 -n2 -P"$jobs" bash -c 'run_one "$0" "$1"'
python3 - "$xml" "$root" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET
xmldir, root = sys.argv[1], sys.argv[2]
ours, theirs, runs, bad_exit = [], 0, 0, []
for line in open(os.path.join(xmldir, 'exits.txt')):
    name, _, code, _, annotated = line.split()
    runs += 1
    if int(code) not in (0, 1, 2) or int(annotated) == 0:
        bad_exit.append(line.strip())
for path in sorted(glob.glob(os.path.join(xmldir, '*.xml'))):
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        bad_exit.append('%s: unreadable valgrind XML (%s)' % (path, e))
        continue
    for err in tree.getroot().iter('error'):
        frames = err.findall('.//frame')
        def mine(f):
            obj = f.findtext('obj') or ''
            d = f.findtext('dir') or ''
            return obj.endswith('tcpstate.so') or d.startswith(root)
        if any(mine(f) for f in frames):
            what = err.findtext('kind') + ': ' + (err.findtext('what') or err.findtext('xwhat/text') or '')
            stack = ['%s (%s:%s)' % (f.findtext('fn'), f.findtext('file'), f.findtext('line'))
                     for f in frames if mine(f)][:6]
            ours.append('%s: %s\n    %s' % (os.path.basename(path), what, '\n    '.join(stack)))
        else:
            theirs += 1
print('valgrind: %d tshark runs, %d errors from plugin/core code, %d from tshark and its libraries '
      '(ignored), %d abnormal exits' % (runs, len(ours), theirs, len(bad_exit)))
for o in ours:
    print('PLUGIN ERROR ' + o)
for b in bad_exit:
    print('ABNORMAL ' + b)
print('valgrind XML in ' + xmldir)
sys.exit(1 if ours or bad_exit else 0)
PY
