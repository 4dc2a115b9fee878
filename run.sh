#!/usr/bin/env bash
# The two set-up commands of the README, on a fresh Debian 12 machine:
#   ./run.sh walkthrough   install what is missing, build, print the annotated seed walkthrough and its socket tables
#   ./run.sh test          install what is missing, build, run every test (CTest)
#   ./run.sh test ARGS...  the same, with ARGS passed to ctest (e.g. -LE slow: skip the slow tests,
#                          -L robustness, -R golden)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root=$PWD
what=${1:-}
[ $# -gt 0 ] && shift
build=${TCPSTATE_BUILD:-$PWD/build}

walkthrough_packages=(build-essential cmake pkg-config libglib2.0-dev liblz4-dev wireshark-dev tshark util-linux)
test_packages=("${walkthrough_packages[@]}" python3 tcpdump nftables iproute2 clang libclang-rt-14-dev valgrind
               xvfb xauth xdotool wireshark-qt imagemagick time debootstrap)

install_missing() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  # tshark asks whether non-root users may capture: answer no, non-interactively.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build_all() {
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)"
  # tshark as root ignores WIRESHARK_PLUGIN_DIR: tests run it as "nobody", who must read the tree.
  chmod -R a+rX "$build" sample-pcaps
}

case "$what" in
  walkthrough)
    install_missing "${walkthrough_packages[@]}"
    build_all
    pcap=sample-pcaps/seed-walkthrough.pcap
    echo
    echo "== The seed walkthrough ($pcap): every segment, its phase and both sides' states (tshark -2)"
    tests/run-tshark.sh -2 -r "$pcap" -T fields -E header=y -e frame.number -e tcpstate.sender \
      -e tcp.flags.str -e tcpstate.phase -e tcpstate.handshake_step -e tcpstate.teardown_step \
      -e tcpstate.client.state -e tcpstate.server.state | column -t -s $'\t'
    echo
    echo "== Only the steps where a state changes (-Y tcpstate.transition)"
    tests/run-tshark.sh -r "$pcap" -Y tcpstate.transition -T fields -e frame.number -e tcpstate.phase \
      -e tcpstate.handshake_step -e tcpstate.teardown_step -e tcpstate.client.state -e tcpstate.server.state
    echo
    echo "== The handshake's last step and the teardown's last step, as the tree shows them"
    tests/run-tshark.sh -2 -r "$pcap" -Y 'tcpstate.handshake_step == 3 || tcpstate.teardown_step == 4' -O tcpstate -V |
      grep -v '^\(Frame\|Ethernet\|Internet\|Transmission\|Linux\|Null\)'
    echo
    echo "== What netstat -a -n would list at the article's four moments (macOS style, -z tcpstate,sockets)"
    tests/run-tshark.sh -2 -q -r "$pcap" -o tcpstate.spelling:bsd-netstat -z 'tcpstate,sockets,frame.number<1' \
      -z 'tcpstate,sockets,frame.number<=3' -z 'tcpstate,sockets,frame.number<=8' -z tcpstate,sockets ;;
  test)
    install_missing "${test_packages[@]}"
    build_all
    cd "$build"
    # Every test, slow ones included (the corrupted-capture sweep, valgrind, the
    # libFuzzer run, the whole suite again under ASan+UBSan, and the Wireshark 4.4 and 4.6 matrix in
    # Debian chroots, made once in /var/cache/tcpstate): about 45 minutes on 2 cores.
    rc=0
    ctest --output-on-failure -j"$(nproc)" "$@" || rc=$?
    [ "$rc" = 0 ] || "$root/tests/failure-recap.sh" "$build"
    exit "$rc" ;;
  *)
    echo "usage: $0 walkthrough|test" >&2; exit 2 ;;
esac
