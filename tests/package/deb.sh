#!/usr/bin/env bash
# The .deb of this build, on the Wireshark installed here: `cpack -G DEB` makes it, it
# depends on this Wireshark's libwireshark package (libwireshark16 for 4.0, 18 for 4.4,
# 19 for 4.6) within this major.minor, dpkg installs it, tshark (as root: the global
# plugin folder) lists tcpstate.so from the installed path with type "dissector", and
# dpkg --purge leaves none of its files or folders behind.
# Root only; installs into the system, so it is skipped (77) when the package is
# already installed (a real installation is not touched) or without root.
#   tests/package/deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: deb.sh BUILD_DIR}" && pwd)
pkg=wireshark-plugin-tcpstate
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (dpkg -i)"; exit 77; }
if dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok'; then
  echo "SKIP: $pkg is installed on this system; not touching it"; exit 77
fi

work=$(mktemp -d /tmp/tcpstate-deb.XXXXXX)
installed=
cleanup() {
  [ -n "$installed" ] && dpkg --purge "$pkg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# This Wireshark: major.minor from tshark, its library's soname from the dynamic linker.
ws=$(tshark --version 2>/dev/null | sed -n '1s/^TShark (Wireshark) \([0-9]*\.[0-9]*\)\.\([0-9]*\).*/\1/p')
[ -n "$ws" ] || fail "cannot read tshark's version"
so=$(ldd "$(command -v tshark)" | sed -n 's/^\s*libwireshark\.so\.\([0-9]*\) .*/\1/p')
[ -n "$so" ] || fail "tshark links no libwireshark.so.N"
libpkg=libwireshark$so
dpkg-query -W -f '${Status}' "$libpkg" 2>/dev/null | grep -q 'install ok' || fail "no package $libpkg installed"
next_minor=$((${ws#*.} + 1))

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$work"/out/*.deb)
echo "package: $(basename "$deb")"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
grep -qF "$libpkg (>= $ws)" <<<"$depends" || fail "Depends lacks '$libpkg (>= $ws)'"
grep -qF "$libpkg (<< ${ws%.*}.$next_minor~)" <<<"$depends" || fail "Depends lacks '$libpkg (<< ${ws%.*}.$next_minor~)'"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is not $(dpkg --print-architecture)"

# What the package holds, and which of its folders were there before.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | grep -vx '/' > "$work/paths"
while read -r p; do [ -e "$p" ] && echo "$p"; done < "$work/paths" > "$work/before"
plugin=$(grep "/plugins/$ws/epan/tcpstate\.so$" "$work/paths") || fail "no plugins/$ws/epan/tcpstate.so in the package"

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
installed=1
dpkg-query -W -f '${Status}\n' "$pkg" | grep -q 'install ok installed' || fail "dpkg does not list $pkg as installed"
[ -f "$plugin" ] || fail "$plugin not installed"

# Loaded from the installed path by tshark as root (the global plugin folder), as a dissector.
mkdir -p "$work/home"
line=$(HOME="$work/home" tshark -G plugins 2>/dev/null | grep '^tcpstate\.so') || fail "tshark -G plugins does not list tcpstate.so"
echo "tshark -G plugins: $line"
[ "$(awk -F'\t' '{print $3}' <<<"$line")" = dissector ] || fail "type is not dissector: $line"
[ "$(awk -F'\t' '{print $4}' <<<"$line")" = "$plugin" ] || fail "not loaded from $plugin: $line"
HOME="$work/home" tshark -G protocols >"$work/protocols" 2>/dev/null
grep -q $'\ttcpstate$' "$work/protocols" || grep -q $'\ttcpstate\t' "$work/protocols" || fail "protocol tcpstate not registered"

dpkg --purge "$pkg" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
installed=
! dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'installed' || fail "$pkg still installed"
left=$(while read -r p; do [ -e "$p" ] && ! grep -qxF "$p" "$work/before" && echo "$p"; done < "$work/paths" || true)
[ -z "$left" ] || fail "left behind after purge: $left"
HOME="$work/home" tshark -G plugins >"$work/plugins" 2>/dev/null
grep -q '^tcpstate\.so' "$work/plugins" && fail "tshark still lists tcpstate.so"
echo "ok: $(basename "$deb") installs, loads on Wireshark $ws and purges cleanly ($(wc -l < "$work/paths") paths)"
