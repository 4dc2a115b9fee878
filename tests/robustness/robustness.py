#!/usr/bin/env python3
"""Whole-plugin robustness (issue #6: never crash Wireshark). Python stdlib only.

For every sample capture (sample-pcaps/*.pcap) it makes corrupted variants
(editcap -E RATE --seed N), snapped ones (editcap -s N) and files cut at byte
offsets, plus hostile captures (gen_hostile.py), and runs tshark with the plugin
on each: single pass and two pass, -T fields and -V, with
WIRESHARK_ABORT_ON_DISSECTOR_BUG=1, under a timeout. A run fails on: exit by a
signal, abort, "Dissector bug", timeout, a sanitizer report, or any stderr line
that mentions tcpstate. Hostile captures also check the fields they must show.

  robustness.py --quick     (CI: corruption sweep in -T fields both passes, 2 workers)
  robustness.py --full      (every variant in all four modes, more rates and seeds,
                             and 10^6 never-closing connections for memory)
Options: --build DIR (plugin build, default build), --jobs N, --timeout S,
  --only corrupt,snap,cut,base,hostile,memory   --pcaps 'GLOB'   --keep
  --env 'K=V ...' (extra tshark environment, e.g. LD_PRELOAD for an ASan plugin)
  --json FILE (write the figures)
  --allow-annotation-problems (report missing expected fields, fail on crashes only)
Exit status: 0 when there is no failure; 1 on a failed run; 3 when only the
expected fields of hostile captures are missing.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gen_hostile  # noqa: E402

FIELDS = ['frame.number', 'tcpstate.client.state', 'tcpstate.server.state', 'tcpstate.phase']
CHECK_FIELDS = FIELDS + ['tcpstate.assumed', 'tcpstate.expert.quoted_in_icmp', 'tcpstate.expert.incomplete',
                         'tcpstate.expert.unparsed', 'tcpstate.expert.rst_challenge', 'tcpstate.expert.rst_ignored']
# Plugin memory per connection that never closes (its ts_conn, entry, endpoint
# strings and 4-tuple key stay for the file): must stay under this.
MEMORY_BOUND = 4096
BAD_OUTPUT = re.compile(r'Dissector bug|ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|'
                        r'==\d+==ERROR|Assertion .* failed|\*\* \(tshark:\d+\): CRITICAL|g_assert')


class Runner:
    def __init__(self, build, timeout, extra_env):
        self.build = build
        self.timeout = timeout
        self.plugins = os.path.join(build, 'plugins')
        self.home = tempfile.mkdtemp(prefix='tsrobust-home.')
        os.chmod(self.home, 0o777)
        self.extra_env = extra_env
        self.lock = threading.Lock()
        self.runs = 0
        self.failures = []
        self.by_kind = {}

    def command(self, args, plugin_dir=None):
        env = ['HOME=' + self.home, 'WIRESHARK_PLUGIN_DIR=' + (plugin_dir or self.plugins),
               'WIRESHARK_ABORT_ON_DISSECTOR_BUG=1'] + self.extra_env
        cmd = ['env'] + env + ['tshark'] + (args if args[0] == '-G' else ['-n'] + args)
        if os.getuid() == 0:  # tshark as root ignores WIRESHARK_PLUGIN_DIR
            cmd = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] + cmd
        return cmd

    def run(self, kind, path, mode, keep_stdout=False):
        """mode: fields1, fields2, verbose1, verbose2."""
        args = ['-r', path]
        if mode.endswith('2'):
            args.append('-2')
        if mode.startswith('fields'):
            args += ['-T', 'fields'] + sum((['-e', f] for f in (CHECK_FIELDS if keep_stdout else FIELDS)), [])
        else:
            args.append('-V')
        cmd = self.command(args)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        why = None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            why = 'timeout after %ds' % self.timeout
        rc = proc.returncode
        text_err = err.decode('utf-8', 'replace')
        if why is None:
            if rc < 0 or rc >= 128:
                sig = -rc if rc < 0 else rc - 128
                why = 'killed by signal %d (%s)' % (sig, signal.Signals(sig).name if sig in
                                                    signal.valid_signals() else '?')
            elif BAD_OUTPUT.search(text_err):
                why = 'stderr: ' + BAD_OUTPUT.search(text_err).group(0)
            elif b'Dissector bug' in out:
                why = 'Dissector bug in the output'
            else:
                # (the input's own path may say tcpstate: not a mention)
                lines = [l for l in text_err.splitlines() if 'tcpstate' in l.replace(path, '').lower()]
                if lines:
                    why = 'stderr mentions tcpstate: ' + lines[0][:200]
                elif rc not in (0, 1, 2):
                    why = 'exit status %d' % rc
        with self.lock:
            self.runs += 1
            k = self.by_kind.setdefault(kind, {'runs': 0, 'failures': 0, 'seconds': 0.0})
            k['runs'] += 1
            k['seconds'] += time.monotonic() - started
            if why:
                k['failures'] += 1
                self.failures.append({'kind': kind, 'input': path, 'mode': mode, 'why': why,
                                      'stderr_tail': text_err[-2000:],
                                      'reproduce': ' '.join(shlex.quote(c) for c in cmd)})
        return out.decode('utf-8', 'replace') if keep_stdout else None

    def plugin_loaded(self):
        # -G protocols: -G plugins also runs the extcap helpers, which can hang with an
        # ASan runtime preloaded (LD_PRELOAD reaches them too)
        out = subprocess.run(self.command(['-G', 'protocols']), capture_output=True, text=True, timeout=120).stdout
        return 'tcpstate' in out


def editcap(args):
    return subprocess.run(['editcap'] + args, capture_output=True, text=True).returncode


def make_variants(samples, work, rates, seeds, snaps, what, full):
    """Returns a list of (kind, path) and the editcap commands that made no file."""
    variants = []
    jobs = []
    for src in samples:
        base = os.path.splitext(os.path.basename(src))[0]
        if 'corrupt' in what:
            for rate in rates:
                for seed in seeds:
                    dst = os.path.join(work, 'corrupt', '%s.E%s.s%d.pcap' % (base, rate, seed))
                    jobs.append((['-E', str(rate), '--seed', str(seed), src, dst], ('corrupt', dst)))
        if 'snap' in what:
            for snap in snaps:
                dst = os.path.join(work, 'snap', '%s.s%d.pcap' % (base, snap))
                jobs.append((['-s', str(snap), src, dst], ('snap', dst)))
        if 'cut' in what:
            data = open(src, 'rb').read()
            size = len(data)
            cuts = {10, 24, 40, size // 3, size // 2, size - 1}
            if full:
                cuts |= {30, 54 + 16, 100, size // 4, size - 7, size - 20}
            cuts = sorted(cuts)
            for cut in cuts:
                if 0 < cut < size:
                    dst = os.path.join(work, 'cut', '%s.b%d.pcap' % (base, cut))
                    with open(dst, 'wb') as f:
                        f.write(data[:cut])
                    variants.append(('cut', dst))
    missing = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for rc, job in zip(pool.map(lambda j: editcap(j[0]), jobs), jobs):
            if rc == 0 and os.path.exists(job[1][1]):
                variants.append(job[1])
            else:  # the sweep would silently cover less than it says
                missing.append('editcap %s: exit %d' % (' '.join(job[0]), rc))
    return variants, missing


def check_expectations(name, out, expectations):
    rows = {}
    for line in out.splitlines():
        cols = line.split('\t')
        if cols and cols[0].isdigit():
            rows[int(cols[0])] = dict(zip(CHECK_FIELDS, cols))
    problems = []
    for frame, field, want in expectations:
        got = rows.get(frame, {}).get(field, '')
        if want == gen_hostile.ANY:
            continue
        if want == gen_hostile.PRESENT:
            ok = got != ''
        elif want == gen_hostile.ABSENT:
            ok = got == ''
        else:
            ok = got == want
        if not ok:
            problems.append('%s frame %d: %s = %r, expected %s' % (name, frame, field, got, want))
    return problems


def memory_test(runner, work, counts):
    """Peak RSS of tshark on n never-closing connections, with and without the plugin."""
    empty = os.path.join(work, 'no-plugins')
    os.makedirs(os.path.join(empty, '4.0', 'epan'), exist_ok=True)
    results = []
    for n in counts:
        path = os.path.join(work, 'never-close-%d.pcap' % n)
        gen_hostile.never_close(path, n)
        os.chmod(path, 0o644)
        row = {'connections': n}
        for label, pdir in (('plugin', None), ('no_plugin', empty)):
            # the same tree-building run; without the plugin its field does not exist
            args = ['-r', path, '-T', 'fields', '-e', 'tcp.stream'] + (['-e', 'tcpstate.phase'] if pdir is None else [])
            cmd = ['/usr/bin/time', '-f', 'MAXRSS %M'] + runner.command(args, plugin_dir=pdir)
            t0 = time.monotonic()
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
            err = proc.stderr.decode('utf-8', 'replace')
            m = re.search(r'MAXRSS (\d+)', err)
            row[label + '_kb'] = int(m.group(1)) if m else None
            row[label + '_seconds'] = round(time.monotonic() - t0, 1)
            if label == 'plugin':
                annotated = sum(1 for l in proc.stdout.decode().splitlines() if l.endswith('Handshake'))
                row['annotated'] = annotated
                with runner.lock:
                    runner.runs += 1
                    k = runner.by_kind.setdefault('memory', {'runs': 0, 'failures': 0, 'seconds': 0.0})
                    k['runs'] += 1
                    if proc.returncode not in (0, 1) or annotated != n or BAD_OUTPUT.search(err):
                        k['failures'] += 1
                        runner.failures.append({'kind': 'memory', 'input': path, 'mode': 'fields1',
                                                'why': 'exit %d, %d of %d annotated' % (proc.returncode,
                                                                                         annotated, n),
                                                'stderr_tail': err[-2000:], 'reproduce': ' '.join(cmd)})
        if row['plugin_kb'] and row['no_plugin_kb']:
            row['plugin_bytes_per_conn'] = round((row['plugin_kb'] - row['no_plugin_kb']) * 1024 / n)
            row['total_bytes_per_conn'] = round(row['plugin_kb'] * 1024 / n)
        results.append(row)
        os.unlink(path)
        print('  memory: %s' % row, flush=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--full', action='store_true')
    ap.add_argument('--build', default=os.environ.get('TCPSTATE_BUILD', os.path.join(ROOT, 'build')))
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--timeout', type=int, default=120)
    ap.add_argument('--only', default='')
    ap.add_argument('--pcaps', default=','.join(os.path.join(ROOT, 'sample-pcaps', '*.' + ext)
                                                 for ext in ('pcap', 'pcapng')),
                    help='comma-separated globs, read when the run starts (default: every sample capture)')
    ap.add_argument('--env', default=os.environ.get('TCPSTATE_TSHARK_ENV', ''))
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--json', default='')
    ap.add_argument('--memory-conns', default='')
    ap.add_argument('--allow-annotation-problems', action='store_true',
                    help='report the fields hostile captures miss, fail only on crashes')
    a = ap.parse_args()
    full = a.full and not a.quick
    build = os.path.abspath(a.build)
    runner = Runner(build, a.timeout, shlex.split(a.env))
    if not runner.plugin_loaded():
        print('robustness: tshark does not load tcpstate from %s/plugins (build it; chmod -R a+rX %s)'
              % (build, build), file=sys.stderr)
        return 2
    what = set(a.only.split(',')) if a.only else {'base', 'corrupt', 'snap', 'cut', 'hostile', 'memory'}
    rates = [0.01, 0.05, 0.2] + ([0.002, 0.5] if full else [])
    seeds = list(range(1, 11 if not full else 26))
    snaps = [20, 34, 54, 60, 66] + ([14, 40, 80, 100] if full else [])
    all_modes = ['fields1', 'fields2', 'verbose1', 'verbose2']
    # Quick: the corruption sweep in -T fields, both passes (the minimum);
    # truncations in one single-pass -V and one two-pass -T fields run.
    quick_modes = {'corrupt': ['fields1', 'fields2'], 'snap': ['verbose1', 'fields2'],
                   'cut': ['verbose1', 'fields2'], 'base': all_modes, 'hostile': all_modes}

    work = tempfile.mkdtemp(prefix='tsrobust.')
    for sub in ('corrupt', 'snap', 'cut', 'hostile'):
        os.makedirs(os.path.join(work, sub))
    samples = sorted(set(sum((glob.glob(g) for g in a.pcaps.split(',')), [])))
    if not samples and what & {'base', 'corrupt', 'snap', 'cut'}:
        print('robustness: no sample capture matches %s' % a.pcaps, file=sys.stderr)
        return 2
    t0 = time.monotonic()
    print('robustness: %s mode, %d sample captures, plugin from %s, work dir %s'
          % ('full' if full else 'quick', len(samples), build, work), flush=True)

    variants = [('base', s) for s in samples] if 'base' in what else []
    made, missing = make_variants(samples, work, rates, seeds, snaps, what, full)
    variants += made
    if missing:
        print('robustness: %d variants could not be made:\n  %s' % (len(missing), '\n  '.join(missing[:20])),
              file=sys.stderr)
        return 2
    expectations = {}
    if 'hostile' in what:
        hostile_dir = os.path.join(work, 'hostile')
        expectations = gen_hostile.generate(hostile_dir, 0)
        for name in sorted(expectations):
            variants.append(('hostile', os.path.join(hostile_dir, name + '.pcap')))
    subprocess.run(['chmod', '-R', 'a+rX', work])
    inputs = {}
    for kind, _ in variants:
        inputs[kind] = inputs.get(kind, 0) + 1
    print('robustness: inputs %s' % inputs, flush=True)
    if 'corrupt' in what:
        print('robustness: corruption sweep: %d sample captures x %d rates (%s) x %d seeds = %d captures'
              % (len(samples), len(rates), ', '.join(map(str, rates)), len(seeds), inputs.get('corrupt', 0)),
              flush=True)

    problems = []
    base_empty = []

    def job(kind, path, mode):
        keep = kind in ('hostile', 'base') and mode.startswith('fields')
        out = runner.run(kind, path, mode, keep_stdout=keep)
        if keep and out is not None:
            name = os.path.splitext(os.path.basename(path))[0]
            if kind == 'hostile':
                return check_expectations('%s (%s)' % (name, mode), out, expectations[name])
            if not any(line.split('\t')[1:2] != [''] for line in out.splitlines()):
                base_empty.append(name)
        return []

    tasks = []
    for kind, path in variants:
        for mode in (all_modes if full else quick_modes[kind]):
            tasks.append((kind, path, mode))
    done = 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for res in pool.map(lambda t: job(*t), tasks):
            problems += res
            done += 1
            if done % 200 == 0:
                print('  %d/%d runs, %d failures, %.0fs' % (done, len(tasks), len(runner.failures),
                                                           time.monotonic() - t0), flush=True)
    memory = []
    memory_problems = []  # always a failure, even with --allow-annotation-problems
    if 'memory' in what:
        counts = [int(x) for x in a.memory_conns.split(',')] if a.memory_conns else (
            [100000, 1000000] if full else [100000])
        memory = memory_test(runner, work, counts)
        for row in memory:
            per = row.get('plugin_bytes_per_conn')
            if per is None or per > MEMORY_BOUND:
                memory_problems.append('memory: %s bytes per never-closing connection (bound %d)'
                                       % (per, MEMORY_BOUND))

    elapsed = time.monotonic() - t0
    print('\n== robustness summary (%s, %.0f s, %d workers)' % ('full' if full else 'quick', elapsed, a.jobs))
    print('sample captures: %d (%s)' % (len(samples), a.pcaps))
    print('inputs by kind: ' + ', '.join('%s %d' % kv for kv in sorted(inputs.items())))
    for kind, k in sorted(runner.by_kind.items()):
        print('  %-8s runs %5d  failures %d  (%.0f s of tshark)' % (kind, k['runs'], k['failures'], k['seconds']))
    print('runs: %d, failures: %d, annotation problems: %d' % (runner.runs, len(runner.failures), len(problems)))
    for f in runner.failures[:20]:
        print('FAIL %(kind)s %(mode)s %(input)s: %(why)s\n  reproduce: %(reproduce)s' % f)
        tail = f['stderr_tail'].strip()
        if tail:
            m = BAD_OUTPUT.search(tail)
            line = next((l for l in tail.splitlines() if m and m.group(0) in l), tail.splitlines()[-1])
            print('  stderr: ' + line[:300])
    for p in problems:
        print('ANNOTATION ' + p)
    for p in memory_problems:
        print('FAIL ' + p)
    if base_empty:
        print('NOTE: no tcpstate fields at all in: ' + ', '.join(base_empty))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'mode': 'full' if full else 'quick', 'seconds': round(elapsed),
                       'samples': [os.path.basename(x) for x in samples], 'inputs': inputs,
                       'by_kind': runner.by_kind, 'runs': runner.runs, 'failures': runner.failures,
                       'annotation_problems': problems, 'memory': memory,
                       'memory_problems': memory_problems}, f, indent=1)
    if not a.keep and not runner.failures:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print('inputs kept in ' + work)
    shutil.rmtree(runner.home, ignore_errors=True)
    if runner.failures or memory_problems:
        return 1
    return 0 if not problems or a.allow_annotation_problems else 3


if __name__ == '__main__':
    sys.exit(main())
