#!/bin/sh
# Builds bench/print_floor.c (see there) as OUT_DIR/<major.minor>/epan/tcpstate.so,
# for bench.py --plugin-dir OUT_DIR --no-build. KIND (default 0): its FLOOR_KIND.
#   bench/print_floor.sh OUT_DIR [KIND]
set -eu
out=$1; kind=${2:-0}
here=$(cd "$(dirname "$0")" && pwd)
ver=$(pkg-config --modversion wireshark | cut -d. -f1,2)
mkdir -p "$out/$ver/epan"
cc -shared -fPIC -O2 -fvisibility=hidden -DHAVE_SSIZE_T -DFLOOR_KIND="$kind" -Wall -Wextra -Werror \
  $(pkg-config --cflags wireshark) -o "$out/$ver/epan/tcpstate.so" "$here/print_floor.c"
chmod -R a+rX "$out"
echo "$out/$ver/epan/tcpstate.so"
