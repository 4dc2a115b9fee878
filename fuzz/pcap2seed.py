#!/usr/bin/env python3
"""Turns capture files into fuzz_core seeds: the TCP segment sequence of each
capture, with raw sequence numbers and real timestamps (tshark -T fields).
Streams map to the harness's 3 connections (stream % 3, re-initialised when a
new stream takes a slot). Usage: pcap2seed.py OUTDIR FILE.pcap..."""
import decimal
import os
import subprocess
import sys

from seedlib import header, segment as S

FIELDS = ['tcp.stream', 'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.len', 'tcp.window_size_value',
          'frame.time_epoch', 'tcp.srcport', 'tcp.dstport']
FLAGS = 'FSRPAUEC'


def first(v):
    return v.split(',')[0] if v else ''


def convert(path, max_segments=160):
    cmd = ['tshark', '-n', '-r', path, '-T', 'fields'] + sum((['-e', f] for f in FIELDS), [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    segs, slot_stream, first_sender = [], {}, {}
    now = None
    for line in out.splitlines():
        cols = [first(c) for c in line.split('\t')]
        if len(cols) < len(FIELDS) or not cols[2] or not cols[0]:
            continue  # no TCP, or only a header quoted in ICMP
        stream, flags, seq, ack, length, win, t, sport, dport = cols
        stream, flags = int(stream), int(flags, 16)
        slot = stream % 3
        reinit = slot in slot_stream and slot_stream[slot] != stream
        slot_stream[slot] = stream
        if stream not in first_sender:
            first_sender[stream] = (sport, dport)
        d = 'A' if (sport, dport) == first_sender[stream] else 'B'
        a_sport, a_dport = first_sender[stream]
        ports = 0 if int(a_sport) > int(a_dport) else 1
        ns = int(decimal.Decimal(t) * 1000000000)
        if now is not None and 0 <= ns - now < 2 ** 32:
            tt = ('ns', ns - now)
        else:
            tt = ('abs64', ns)
        now = ns
        segs.append(S(d, ''.join(c for i, c in enumerate(FLAGS) if flags >> i & 1), seq=int(seq), ack=int(ack),
                      length=int(length or 0), win=min(int(win or 0), 65535), t=tt, conn=slot,
                      reinit=reinit, ports=ports, hiflags=(flags >> 8) & 15))
        if len(segs) >= max_segments:
            break
    return header(nconn=3 if len(slot_stream) > 1 else 1), segs


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for path in sys.argv[2:]:
        hdr, segs = convert(path)
        if not segs:
            continue
        name = os.path.join(outdir, 'pcap-' + os.path.splitext(os.path.basename(path))[0] + '.bin')
        with open(name, 'wb') as f:
            f.write(hdr + b''.join(segs))
        n += 1
    print(f'{n} seeds from captures in {outdir}', file=sys.stderr)


if __name__ == '__main__':
    main()
