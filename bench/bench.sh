#!/bin/sh
# tcpstate benchmark: tshark with the plugin enabled vs disabled, plus the state
# machine microbenchmark. See bench/bench.py --help.
#   bench/bench.sh            1e5 and 1e6 packets, 5 interleaved repetitions
#   bench/bench.sh --full     adds 1e7 packets
#   bench/bench.sh --smoke    1e4 packets, 1 repetition, checks outputs (CI)
exec python3 "$(dirname "$0")/bench.py" "$@"
