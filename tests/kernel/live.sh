#!/bin/bash
# Live kernel-truth test: record every scenario fresh (real sockets on lo, tcpdump, tracefs, nftables) into a
# temporary directory on free ports, then run the checker (tests/kernel/check.py) on the result.
# Exit: 0 pass, 1 fail, 77 skipped (not root, or tracefs / tcpdump / nft missing) -- for CTest SKIP_RETURN_CODE 77.
# Extra arguments go to check.py (e.g. --tshark-cmd tshark).  TCPSTATE_LIVE_KEEP=1 keeps the recordings.
set -u
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: not root (tracefs, tcpdump on lo and nftables need root)"
  exit 77
fi
for t in tcpdump nft ss python3; do
  if ! command -v "$t" >/dev/null 2>&1; then echo "SKIPPED: $t not installed"; exit 77; fi
done

tmp=$(mktemp -d /tmp/tcpstate-live.XXXXXX) || exit 1
chmod 755 "$tmp"   # tshark runs as an unprivileged user (tests/run-tshark.sh)
child=
cleanup() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null   # scenarios.py cleans up (nft table, tracefs instance, tcpdump) on SIGTERM
    wait "$child" 2>/dev/null
    child=
  fi
  if [ "${TCPSTATE_LIVE_KEEP:-0}" = 1 ]; then echo "recordings kept in $tmp"; else rm -rf "$tmp"; fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP

python3 "$here/scenarios.py" --live "$tmp" &
child=$!
wait "$child"
rc=$?
child=
if [ "$rc" = 77 ]; then cleanup; exit 77; fi   # scenarios.py printed "SKIPPED: <reason>"
if [ "$rc" != 0 ]; then
  echo "live recording failed (exit $rc)"
  TCPSTATE_LIVE_KEEP=1 cleanup
  exit 1
fi
# A seeded random sample of loss variants (tests/kernel/variants.py), recorded fresh from fresh loss-free runs.
n=${TCPSTATE_LIVE_VARIANTS:-20}
# A fixed seed by default: a random one drew lost-final-ack.in8x2, whose fresh recording stopped right after the
# segment dropped at its receiver's input (nothing after it shows the loss) and so failed (issue 15 note).
# TCPSTATE_LIVE_SEED=random draws one.
seed=${TCPSTATE_LIVE_SEED:-2529748144}
[ "$seed" = random ] && seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
echo "loss variants: a sample of $n, seed $seed (TCPSTATE_LIVE_SEED=$seed TCPSTATE_LIVE_VARIANTS=$n to repeat it)"
python3 "$here/variants.py" record --out "$tmp/loss" --sample "$n" --seed "$seed" --jobs 2 &
child=$!
wait "$child"
vrc=$?
child=
# A variant with a known disagreement (issue 15) may disagree anywhere when recorded afresh: its frames after
# the loss may be numbered differently. Every other must agree.
python3 "$here/check.py" --known-by-capture --pcaps "$tmp" --pcaps "$tmp/loss" "$@"
rc=$?
if [ "$vrc" != 0 ]; then
  echo "loss variants: recording failed (exit $vrc, seed $seed)"
  rc=1
fi
# Nothing may be left behind: no nft table, tracefs instance or tcpdump of ours (reap_stale removes and names
# those of runners that are gone), and no socket on the ports used.
left=$(cd "$here" && python3 -c 'import kernlib; print("\n".join(kernlib.reap_stale()))')
if [ -n "$left" ]; then
  echo "left behind (now removed): $left"
  rc=1
fi
if [ "$rc" != 0 ]; then TCPSTATE_LIVE_KEEP=1; fi
cleanup
exit "$rc"
