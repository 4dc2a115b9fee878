#!/usr/bin/env python3
"""The two ways of finding the TCP/IP headers give the same annotation.

tcpstate reads the headers from the frame's bytes by default (extract_bytes.c)
and, with -o tcpstate.headers:fields, through Wireshark's own TCP/IP fields
(extract_fields.c). Wireshark's fields are the reference: on every sample
capture, every hostile capture (tunnels, ICMP-quoted headers, cut headers,
port reuse, ...) and each of them cut to several snap lengths, single pass and
-2, every tcpstate field and expert message must be identical, also on frames
whose encapsulation the byte reader's walk does not know (GRE, IP fragments:
its search finds them, extract_search.c). tests/corpus does the same on the
tcpdump and Wireshark test captures.

  headers_agree.py --build BUILD_DIR
"""
import argparse
import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIELDS = ['frame.number', 'tcpstate.summary', 'tcpstate.sender', 'tcpstate.phase', 'tcpstate.handshake_step',
          'tcpstate.teardown_step', 'tcpstate.client.prev_state', 'tcpstate.client.state',
          'tcpstate.server.prev_state', 'tcpstate.server.state', 'tcpstate.client.endpoint',
          'tcpstate.server.endpoint', 'tcpstate.transition', 'tcpstate.assumed', 'tcpstate.corrects',
          'tcpstate.corrected_by', 'tcpstate.delivery', 'tcpstate.handshake.expected_ack', 'tcpstate.client.time_in_prev_state', 'tcpstate.conn.state',
          'tcpstate.conn.history', 'tcpstate.server.time_in_prev_state', 'tcpstate.time_wait_end',
          'tcpstate.retransmission', 'tcpstate.keepalive', 'tcpstate.conn.originator', 'tcpstate.conn.closed_first',
          'tcpstate.conn.open_frame', 'tcpstate.conn.established_frame', 'tcpstate.conn.close_frame',
          'tcpstate.conn.handshake_rtt', 'tcpstate.conn.time_wait_end', 'tcpstate.conn.stream', 'tcpstate.conn.client_state',
          'tcpstate.conn.server_state', 'tcpstate.expert.unparsed', 'tcpstate.expert.incomplete',
          'tcpstate.expert.quoted_in_icmp']
SNAPS = [54, 66]  # a cut in the TCP header, and in its options


def run(build, pcap, headers, two_pass, prefs=()):
    env = dict(os.environ, TCPSTATE_BUILD=build)
    cmd = [os.path.join(ROOT, 'tests', 'run-tshark.sh'), '-r', pcap, '-o', 'tcpstate.headers:' + headers,
           '-T', 'fields', '-E', 'occurrence=a']
    for pref in prefs:
        cmd += ['-o', pref]
    if two_pass:
        cmd.insert(1, '-2')
    for f in FIELDS:
        cmd += ['-e', f]
    cmd += ['-e', '_ws.expert.message']
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit('tshark failed on %s (%s): %s' % (pcap, headers, out.stderr[-500:]))
    return out.stdout.splitlines()


def make_captures(work, extra=()):
    """The sample captures, the hostile ones (written to work), any extra
    ones, and each of them cut to every snap length in SNAPS."""
    subprocess.run([sys.executable, os.path.join(HERE, 'gen_hostile.py'), work, '--conns', '200'],
                   check=True, capture_output=True)
    captures = sorted(glob.glob(os.path.join(ROOT, 'sample-pcaps', '*.pcap')))
    captures += sorted(glob.glob(os.path.join(work, '*.pcap')))
    captures += list(extra)
    for pcap in list(captures):
        for snap in SNAPS:
            cut = os.path.join(work, 'snap%d-%s' % (snap, os.path.basename(pcap)))
            subprocess.run(['editcap', '-s', str(snap), pcap, cut], check=True, capture_output=True)
            captures.append(cut)
    for path in glob.glob(os.path.join(work, '*')):
        os.chmod(path, 0o644)
    return captures


def make_busy_captures(build, work):
    """make_captures() with a synthetic busy-server capture added (bench/gen_pcap.c:
    10^4 packets, 100 connections at a time)."""
    busy = os.path.join(work, 'busy.pcap')
    subprocess.run([os.path.join(build, 'bench', 'tcpstate_gen_pcap'), '-n', '10000', '-c', '100', '-o', busy],
                   check=True, capture_output=True)
    return make_captures(work, [busy])


# What the three "two runs agree" tests (this one, cold_agree, details_agree) share.

@contextlib.contextmanager
def scratch(prefix):
    """A temporary folder tshark (run as nobody) can read, removed afterwards."""
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def in_parallel(fn, jobs):
    """fn over every job, as many at once as there are cores; results in job order."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(fn, jobs))


def where(pcap, two_pass):
    return os.path.basename(pcap) + (' -2' if two_pass else '')


def compare_runs(pairs, names, view=lambda line: line, skip=lambda line: False):
    """Two runs over the same captures must give the same frame lines.
    pairs: (where, first run's lines, second run's lines); names: the two runs'
    names in messages; view(line): the part compared; skip(line of the first
    run): a frame left out (still counted as compared). Prints the first 40
    differences; returns (differences, frames compared, frames skipped)."""
    failures = compared = skipped = 0
    for place, first, second in pairs:
        if len(first) != len(second):
            print('FAIL %s: %d lines vs %d' % (place, len(first), len(second)))
            failures += 1
            continue
        for a, b in zip(first, second):
            compared += 1
            if skip(a):
                skipped += 1
                continue
            va, vb = view(a), view(b)
            if va != vb:
                failures += 1
                if failures <= 40:
                    print('FAIL %s\n  %-8s %s\n  %-8s %s' % (place, names[0] + ':', va, names[1] + ':', vb))
    return failures, compared, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    args = ap.parse_args()
    with scratch('tcpstate-headers-') as work:
        captures = make_captures(work)
        jobs = [(pcap, two_pass) for pcap in captures for two_pass in (False, True)]
        results = in_parallel(lambda j: (run(args.build, j[0], 'bytes', j[1]),
                                         run(args.build, j[0], 'fields', j[1])), jobs)
        pairs = [(where(*job), by_bytes, by_fields) for job, (by_bytes, by_fields) in zip(jobs, results)]
        # A frame the byte reader leaves "not parsed" differs: the fields reader annotates it.
        failures, compared, _ = compare_runs(pairs, ('bytes', 'fields'))
        print('%d captures (%d snapped), %d frame lines compared, %d differ'
              % (len(captures), len(captures) // (len(SNAPS) + 1) * len(SNAPS), compared, failures))
        return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
