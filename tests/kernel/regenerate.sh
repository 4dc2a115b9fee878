#!/bin/sh
# Re-record the committed kernel-truth captures in sample-pcaps/ (root, Linux, tcpdump + nft + tracefs).
# Every <scenario>.truth.tsv is built from the kernel's own state changes (tracepoint sock:inet_sock_set_state),
# see tests/kernel/truth.py.  Extra arguments go to scenarios.py (e.g. --only seed-walkthrough, --keep-raw).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
exec python3 tests/kernel/scenarios.py --out sample-pcaps "$@"
