#!/usr/bin/env bash
# Runs tshark with the tcpstate plugin just built, whoever runs it.
# tshark run as root ignores WIRESHARK_PLUGIN_DIR and personal plugin folders,
# so as root it runs as the unprivileged user "nobody" (the build tree and the
# input files must be readable by everyone).
#   TCPSTATE_BUILD=<build dir> (default: ./build next to this script's parent)
#   TCPSTATE_TSHARK_ARGS="-o tcpstate.info_column:TRUE" (options put before the caller's;
#     not before -G, which must come first)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TCPSTATE_BUILD:-$here/build}
plugins=$build/plugins
if ! ls "$plugins"/*/epan/tcpstate.so >/dev/null 2>&1; then
  echo "run-tshark.sh: no plugin under $plugins (build first: cmake --build $build)" >&2
  exit 2
fi
extra=${TCPSTATE_TSHARK_ARGS:-}
[ "${1:-}" = -G ] && extra=
if [ "$(id -u)" = 0 ]; then
  home=$(mktemp -d /tmp/tcpstate-home.XXXXXX)
  chmod 755 "$home"; chown 65534:65534 "$home"
  trap 'rm -rf "$home"' EXIT
  setpriv --reuid=65534 --regid=65534 --clear-groups \
    env HOME="$home" WIRESHARK_PLUGIN_DIR="$plugins" ${TCPSTATE_TSHARK_ENV:-} tshark $extra "$@"
else
  exec env WIRESHARK_PLUGIN_DIR="$plugins" ${TCPSTATE_TSHARK_ENV:-} tshark $extra "$@"
fi
