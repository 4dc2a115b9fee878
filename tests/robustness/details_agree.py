#!/usr/bin/env python3
"""A frame's first-pass details read the same wherever the store finds them.

store.c keeps the details the first pass computes for a frame (the expected
acknowledgment of a handshake ACK, how long each side held the state it left,
when TIME-WAIT ends, control retransmissions and keep-alives) in a pool of
varints, and finds a frame's entry two ways: the frame it has just stored
directly (a single pass renders each frame right after storing it), any other
by walking its block of 64 frames (`tshark -2`, a click in the GUI). Later
segments never rewrite these details, so on every sample capture, every
hostile capture and a synthetic busy-server capture (bench/gen_pcap.c: 10^4
packets, 100 connections at a time), a single pass and -2 must print the
same ones for every frame.

  details_agree.py --build BUILD_DIR
"""
import argparse
import os
import sys

from headers_agree import FIELDS, compare_runs, in_parallel, make_busy_captures, run, scratch

DETAILS = ['tcpstate.handshake.expected_ack', 'tcpstate.client.time_in_prev_state',
           'tcpstate.server.time_in_prev_state', 'tcpstate.time_wait_end', 'tcpstate.retransmission',
           'tcpstate.keepalive']


def details(line):
    columns = line.split('\t')
    return [columns[0]] + [columns[FIELDS.index(f)] for f in DETAILS]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    args = ap.parse_args()
    with scratch('tcpstate-details-') as work:
        captures = make_busy_captures(args.build, work)
        results = in_parallel(lambda pcap: (run(args.build, pcap, 'bytes', False),
                                            run(args.build, pcap, 'bytes', True)), captures)
        pairs = [(os.path.basename(pcap), one, two) for pcap, (one, two) in zip(captures, results)]
        failures, compared, _ = compare_runs(pairs, ('one pass', '-2'), view=details)
        with_details = sum(1 for _, one, two in pairs if len(one) == len(two)
                           for line in one if any(details(line)[1:]))
        print('%d captures, %d frames compared (%d with details), %d differ' %
              (len(captures), compared, with_details, failures))
        if with_details == 0:
            print('FAIL no frame has details: nothing was compared')
            return 1
        return 1 if failures else 0

if __name__ == '__main__':
    sys.exit(main())
