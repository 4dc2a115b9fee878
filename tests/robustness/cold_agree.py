#!/usr/bin/env python3
"""A connection annotates the same whether it stayed in memory or was encoded.

conn_slots.c keeps the last 2048 connections with a segment as plain structs
("hot") and compresses the others ("cold"); a segment of a cold connection
decompresses it first. The sample captures have too few connections to make
any cold, so the same plugin is also run keeping only 2 connections hot
(-o tcpstate.hot_connections:2). On every sample capture, every hostile
capture, a synthetic busy-server capture (bench/gen_pcap.c: 10^4 packets, 100
connections at a time) and each of them cut short, single pass and -2, every
tcpstate field and expert message of the two runs must be identical.

  cold_agree.py --build BUILD_DIR
"""
import argparse
import os
import sys

from headers_agree import compare_runs, in_parallel, make_busy_captures, run, scratch, where


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    args = ap.parse_args()
    with scratch('tcpstate-cold-') as work:
        captures = make_busy_captures(args.build, work)
        jobs = [(pcap, two_pass) for pcap in captures for two_pass in (False, True)]
        results = in_parallel(lambda j: (run(args.build, j[0], 'bytes', j[1]),
                                         run(args.build, j[0], 'bytes', j[1], ('tcpstate.hot_connections:2',))), jobs)
        pairs = [(where(*job), hot, encoded) for job, (hot, encoded) in zip(jobs, results)]
        failures, compared, _ = compare_runs(pairs, ('hot', 'cold'))
        print('%d captures, %d frame lines compared, %d differ' % (len(captures), compared, failures))
        return 1 if failures else 0

if __name__ == '__main__':
    sys.exit(main())
