#!/usr/bin/env python3
"""A connection annotates the same whether it stayed in memory or was encoded.

store.c keeps the last 2048 connections with a segment as plain structs
("hot") and encodes the others ("cold"); a segment of a cold connection
decodes it first. The sample captures have too few connections to make any
cold, so the build also makes tcpstate_cold (BUILD/cold/plugins), the same
plugin keeping only 2 connections hot (and only 1 frame a correction may
rewrite in place, the others on the heap). On every sample capture, every hostile
capture, a synthetic busy-server capture (bench/gen_pcap.c: 10^4 packets, 100
connections at a time) and each of them cut short, single pass and -2, every
tcpstate field and expert message of the two builds must be identical.

  cold_agree.py --build BUILD_DIR
"""
import argparse
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from headers_agree import make_busy_captures, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    args = ap.parse_args()
    cold = os.path.join(args.build, 'cold')
    work = tempfile.mkdtemp(prefix='tcpstate-cold-')
    os.chmod(work, 0o755)
    try:
        captures = make_busy_captures(args.build, work)
        jobs = [(pcap, two_pass) for pcap in captures for two_pass in (False, True)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = list(pool.map(lambda j: (run(args.build, j[0], 'bytes', j[1]),
                                               run(cold, j[0], 'bytes', j[1])), jobs))
        failures = compared = 0
        for (pcap, two_pass), (hot, encoded) in zip(jobs, results):
            where = os.path.basename(pcap) + (' -2' if two_pass else '')
            if len(hot) != len(encoded):
                print('FAIL %s: %d lines vs %d' % (where, len(hot), len(encoded)))
                failures += 1
                continue
            for h, c in zip(hot, encoded):
                compared += 1
                if h != c:
                    failures += 1
                    if failures <= 40:
                        print('FAIL %s\n  hot:  %s\n  cold: %s' % (where, h, c))
        print('%d captures, %d frame lines compared, %d differ' % (len(captures), compared, failures))
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
