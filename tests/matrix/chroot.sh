#!/usr/bin/env bash
# A Debian chroot per newer Wireshark, made once and reused, with this source built and
# tested inside (issue 16). Root only (debootstrap, chroot, mount).
#
#   tests/matrix/chroot.sh ensure SUITE            make the chroot if missing or incomplete
#   tests/matrix/chroot.sh test SUITE [REGEX]      ensure, copy the source in, build (-Werror),
#                                                  run the version-independent tests, package
#   tests/matrix/chroot.sh shell SUITE             an interactive shell inside (proc mounted)
#
# SUITE: trixie (Wireshark 4.4) or forky (4.6); sid works too. The chroot lives in
# ${TCPSTATE_CHROOT_DIR:-/var/cache/tcpstate}/chroot-SUITE; it is complete when its
# .tcpstate-packages file lists every package below (else the missing ones are installed).
# Packages come from the Debian mirror the host's apt uses. Whatever is mounted inside
# is unmounted on exit, also when a step fails or the script is interrupted.
# TCPSTATE_MATRIX_JOBS: ctest -j inside (default: the number of cores).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
what=${1:?usage: chroot.sh ensure|test|shell SUITE [REGEX]}
suite=${2:?usage: chroot.sh ensure|test|shell SUITE [REGEX]}
base=${TCPSTATE_CHROOT_DIR:-/var/cache/tcpstate}
root=$base/chroot-$suite
jobs=${TCPSTATE_MATRIX_JOBS:-$(nproc)}
packages=(build-essential cmake pkg-config libglib2.0-dev liblz4-dev wireshark-dev tshark util-linux python3
          xvfb xauth xdotool wireshark time file)
# (wireshark: the Qt GUI; trixie and later have no wireshark-qt package any more)
[ "$(id -u)" = 0 ] || { echo "chroot.sh: needs root (debootstrap, chroot, mount)" >&2; exit 77; }

say() { echo "[matrix $suite] $*"; }

# ---- mounts: every one recorded, all undone on exit ----------------------------------------
mounted=()
unmount_all() {
  local m i p
  # Anything still running inside would keep the mounts busy.
  local tries left
  for tries in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] || continue
      kill -9 "${p#/proc/}" 2>/dev/null && left=1
    done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[$i]}
    mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
  done
  mounted=()
  # Whatever else is mounted below the chroot (by an earlier, killed run): deepest first.
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done \
    < <(findmnt -rn -o TARGET | grep -F "$root/" | sort -r || true)
}
mount_in() { # TYPE SOURCE TARGET [OPTIONS]
  local dir=$3
  mountpoint -q "$dir" && return 0
  mkdir -p "$dir"
  mount -t "$1" ${4:+-o "$4"} "$2" "$dir"
  mounted+=("$dir")
}
mount_all() {
  mount_in proc proc "$1/proc"
  mount_in tmpfs tmpfs "$1/dev/shm" mode=1777
  mount_in devpts devpts "$1/dev/pts" newinstance,ptmxmode=0666
}
in_chroot() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"; }
trap unmount_all EXIT
trap 'exit 130' INT TERM

mirror() {
  local uri
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk '$2 ~ /^(bookworm|trixie|forky|sid)$/ {print $1; exit}')
  echo "${uri:-http://deb.debian.org/debian/}"
}

ensure() {
  local missing=() p
  if [ -f "$root/.tcpstate-packages" ]; then
    for p in "${packages[@]}"; do grep -qx "$p" "$root/.tcpstate-packages" || missing+=("$p"); done
    if [ ${#missing[@]} -eq 0 ]; then say "reusing $root"; return 0; fi
  fi
  local url; url=$(mirror)
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
    local script=/usr/share/debootstrap/scripts/$suite
    [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid   # forky: Debian 12's debootstrap predates it
    say "debootstrap --variant=minbase $suite $root $url"
    rm -rf "$root"; mkdir -p "$base"
    debootstrap --variant=minbase "$suite" "$root" "$url" "$script" > "$base/chroot-$suite.debootstrap.log" 2>&1 ||
      { tail -20 "$base/chroot-$suite.debootstrap.log"; rm -rf "$root"; exit 1; }
  fi
  echo "deb $url $suite main" > "$root/etc/apt/sources.list"
  # The archive served here can be a snapshot older than the clock: its testing Release is "expired".
  echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99tcpstate-no-valid-until"
  echo 'wireshark-common wireshark-common/install-setuid boolean false' > "$root/tmp/debconf"
  mount_all "$root"
  in_chroot debconf-set-selections /tmp/debconf
  say "apt-get install ${packages[*]}"
  in_chroot apt-get -q -o Acquire::Check-Valid-Until=false update
  in_chroot apt-get install -y -q --no-install-recommends "${packages[@]}" ||
    in_chroot apt-get -f install -y -q --no-install-recommends
  in_chroot apt-get install -y -q --no-install-recommends "${packages[@]}"
  in_chroot apt-get clean
  printf '%s\n' "${packages[@]}" > "$root/.tcpstate-packages"
  unmount_all
  say "ready: $(in_chroot dpkg-query -W -f '${Package} ${Version}' libwireshark-data)"
}

# The tests that need no host kernel (kernel.live does, and the slow robustness,
# valgrind and sanitizer runs stay on the host), the .deb, and the test captures of
# tcpdump and Wireshark (corpus.*): fetched inside from the chroot's own suite, so each
# version runs on its own Wireshark release's captures where the archive serves them
# (cached in the chroot's /var/cache/tcpstate-corpus-src).
required='unit. golden. kernel.committed fields.alone fields.alone.info_column fields.conn_stream zeek.rules stats.tree stats.sockets stats.info_column batch.annotate_csv batch.annotate_pcapng robustness.annotations robustness.hostile gui.smoke profile.columns package.deb corpus.fetch corpus.captures corpus.checks_selftest'
default_regex='^(unit\.|golden\.|kernel\.committed$|fields\.alone(\.info_column)?$|fields\.conn_stream$|zeek\.rules$|stats\.(tree|sockets|info_column)$|batch\.|robustness\.(annotations|hostile)$|gui\.smoke$|profile\.columns$|package\.deb$|corpus\.)'

copy_source() { # the working tree as git sees it (tracked and new files, not ignored ones: no build dirs)
  local to=$1
  mkdir -p "$to"
  if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$here" && git ls-files -z --cached --others --exclude-standard |
       tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$to"
  else
    tar --exclude='./build*' -C "$here" -cf - . | tar -xf - -C "$to"
  fi
}

run_tests() {
  local regex=${1:-$default_regex} t0 rc=0
  [ -n "${1:-}" ] && required=
  t0=$(date +%s)
  ensure
  local work=$root/tmp/tcpstate
  rm -rf "$work"
  copy_source "$work/src"
  mount_all "$root"
  # In the background, so that a signal reaches the traps at once (bash runs them only after
  # a foreground child ends); the EXIT trap then kills what runs inside and unmounts.
  in_chroot /tmp/tcpstate/src/tests/matrix/inside.sh /tmp/tcpstate/src /tmp/tcpstate/build "$regex" "$jobs" \
    "$required" &
  wait $! || rc=$?
  say "$(( $(date +%s) - t0 )) s in all, exit $rc"
  return $rc
}

# One run per chroot at a time (a second waits).
mkdir -p "$base"
exec 9>"$base/chroot-$suite.lock"
flock 9
unmount_all # whatever a killed earlier run left mounted

case "$what" in
  ensure) ensure ;;
  shell) ensure; mount_all "$root"; in_chroot TERM="${TERM:-dumb}" bash -i ;;
  test) run_tests "${3:-}" ;;
  *) echo "usage: chroot.sh ensure|test|shell SUITE [REGEX]" >&2; exit 2 ;;
esac
