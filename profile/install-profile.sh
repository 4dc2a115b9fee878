#!/bin/sh
# Installs the Wireshark configuration profile "tcpstate" (columns, their widths
# and coloring rules for the tcpstate plugin).
#   install-profile.sh            personal: ${WIRESHARK_CONFIG_DIR:-~/.config/wireshark}/profiles/tcpstate
#   install-profile.sh --system   global:   <wireshark data dir>/profiles/tcpstate (usually
#                                 /usr/share/wireshark; every user sees it, read-only)
#   install-profile.sh --uninstall [--system]
# Then: Edit > Configuration Profiles > tcpstate, or wireshark -C tcpstate / tshark -C tcpstate.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
system=0 uninstall=0
for arg in "$@"; do
  case $arg in
    --system) system=1 ;;
    --uninstall) uninstall=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-profile.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
if [ $system = 1 ]; then
  datadir=$(tshark -G folders 2>/dev/null | awk -F'\t' '/^Global configuration:/ {print $2}')
  dest=${datadir:-/usr/share/wireshark}/profiles/tcpstate
else
  dest=${WIRESHARK_CONFIG_DIR:-$HOME/.config/wireshark}/profiles/tcpstate
fi
if [ $uninstall = 1 ]; then
  rm -f "$dest/preferences" "$dest/colorfilters" "$dest/recent"
  rmdir "$dest" 2>/dev/null || true
  echo "removed $dest"
  exit 0
fi
mkdir -p "$dest"
install -m 644 "$here/tcpstate/preferences" "$here/tcpstate/colorfilters" "$here/tcpstate/recent" "$dest/"
echo "installed $dest"
