"""Writes fuzz_core inputs (see the encoding in fuzz_core.c). Python stdlib only."""
import struct

FLAG_BITS = {'F': 1, 'S': 2, 'R': 4, 'P': 8, 'A': 16, 'U': 32, 'E': 64, 'C': 128}
DELIVERY = {'ok': 0, 'lost': 1, 'late': 2, 'nolisten': 3}


def header(nconn=1, time_wait='60s', inherit=None):
    tw = {'60s': 0, '240s': 1, '1ms': 2, '0': 3}[time_wait]
    h0 = ((nconn - 1) & 3) | tw << 2
    h1, tw_ms = 0, 0
    if inherit is not None:            # (endpoint, state number, tw_end_ms)
        ep, state, tw_ms = inherit
        h1 = 1 | (ep & 1) << 1 | (state & 15) << 2
    return struct.pack('<BBH', h0, h1, tw_ms & 0xffff)


def flags_of(text):
    v = 0
    for ch in text:
        v |= FLAG_BITS[ch]
    return v


def segment(d='A', f='A', seq=None, sd=0, ack=None, ad=0, length=0, win=65535, win_mode=0,
            t=('ns', 1000), dl='ok', conn=0, reinit=False, reinit_any=None, ports=0, hiflags=0,
            seq_mode=None, ack_mode=None, len_mode=None, aux=0):
    """seq/ack None: relative to what each side sent (+sd/+ad); an int: raw value."""
    ctl = (conn & 3) | (1 if d == 'B' else 0) << 2 | DELIVERY[dl] << 3
    unit, value = t
    tmode = {'ns': 0, 'us': 1, 'ms': 2, 'back_s': 3, 'same': 4, 'abs_s': 5, 'abs64': 6, 'neg_s': 7}[unit]
    t32 = value & 0xffffffff
    if unit == 'abs64':
        t32 = value & 0xffffffff
        aux = (value >> 32) & 0xffffffff
    ctl |= tmode << 5
    if seq_mode is None:
        seq_mode, seq32 = (0, sd) if seq is None else (2, seq)
    else:
        seq32 = sd if seq is None else seq
    if ack_mode is None:
        ack_mode, ack32 = (0, ad) if ack is None else (1, ack)
    else:
        ack32 = ad if ack is None else ack
    if len_mode is None:
        if length > 0xffff:
            len_mode, aux = 2, length
        else:
            len_mode = 1 if length else 0
    modes = seq_mode | ack_mode << 2 | len_mode << 4 | win_mode << 6
    misc = (ports & 3) | (4 if reinit or reinit_any is not None else 0) | (8 if reinit_any is not None else 0)
    misc |= (hiflags & 15) << 4
    if reinit_any is not None:
        aux = reinit_any
    return struct.pack('<BBBBIIHHII', ctl, flags_of(f), modes, misc, seq32 & 0xffffffff,
                       ack32 & 0xffffffff, length & 0xffff, win & 0xffff, t32, aux & 0xffffffff)


def write(path, hdr, segs):
    with open(path, 'wb') as out:
        out.write(hdr + b''.join(segs))
