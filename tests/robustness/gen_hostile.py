#!/usr/bin/env python3
"""Hostile captures for the tcpstate plugin (issue #6), classic pcap, stdlib only.

Each case writes OUTDIR/<name>.pcap and returns what the plugin must show,
as (frame, field, expectation) checked against tshark -T fields output:
expectation is a string (exact value), PRESENT, ABSENT or ANY (no check).
  gen_hostile.py OUTDIR [--conns N]     (N: the never-closing SYN file, default 1000000)
"""
import os
import struct
import sys

PRESENT, ABSENT, ANY = "<present>", "<absent>", "<any>"

FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(a):
    return bytes(int(x) for x in a.split('.'))


def ip6(a):
    # short forms only: 'fd00::1'
    head, _, tail = a.partition('::')
    h = [int(x, 16) for x in head.split(':') if x]
    t = [int(x, 16) for x in tail.split(':') if x]
    return struct.pack('!8H', *(h + [0] * (8 - len(h) - len(t)) + t))


def tcp(sport, dport, seq, ack, flags, payload=b'', win=65535, hdr_words=5, options=b''):
    off = (hdr_words << 12) | flags
    return struct.pack('!HHIIHHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff, off, win, 0, 0) + options + payload


def ipv4(src, dst, proto, payload, total=None, ident=1):
    total = 20 + len(payload) if total is None else total
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, ident & 0xffff, 0x4000, 64, proto, 0, ip4(src), ip4(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nxt, payload, plen=None):
    plen = len(payload) if plen is None else plen
    return struct.pack('!IHBB16s16s', 6 << 28, plen, nxt, 64, ip6(src), ip6(dst)) + payload


def eth(payload, ethertype=0x0800):
    return b'\x02\0\0\0\0\x02' + b'\x02\0\0\0\0\x01' + struct.pack('!H', ethertype) + payload


class Pcap:
    def __init__(self, path, snaplen=262144, linktype=1):
        self.f = open(path, 'wb')
        self.f.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, snaplen, linktype))  # ns resolution; 1: Ethernet
        self.t = 1_700_000_000 * 10 ** 9
        self.n = 0

    def add(self, frame, t=None, dt=1_000_000, orig_len=None, caplen=None):
        self.t = self.t + dt if t is None else t
        data = frame if caplen is None else frame[:caplen]
        secs, ns = divmod(self.t, 10 ** 9)
        self.f.write(struct.pack('<IIII', secs & 0xffffffff, ns, len(data), orig_len or len(frame)) + data)
        self.n += 1
        return self.n

    def close(self):
        self.f.close()


C, S = '10.0.0.1', '10.0.0.2'


def v4seg(src, dst, sport, dport, seq, ack, flags, payload=b'', **kw):
    return eth(ipv4(src, dst, 6, tcp(sport, dport, seq, ack, flags, payload, **kw)))


def handshake(p, isn_c=1000, isn_s=5000, sport=40000, dport=80, c=C, s=S):
    p.add(v4seg(c, s, sport, dport, isn_c, 0, SYN))
    p.add(v4seg(s, c, dport, sport, isn_s, isn_c + 1, SYN | ACK))
    p.add(v4seg(c, s, sport, dport, isn_c + 1, isn_s + 1, ACK))


CASES = {}


def case(fn):
    CASES[fn.__name__.replace('_', '-')] = fn
    return fn


@case
def rst_flood(p):
    handshake(p)
    for i in range(2000):
        p.add(v4seg(S, C, 80, 40000, 5001 + i * 7919, 0, RST), dt=1000)
    # the exact RST (seq = RCV.NXT) resets, the others are challenged or ignored
    return [(1, 'tcpstate.phase', 'Handshake'), (4, 'tcpstate.phase', 'Reset'),
            (4, 'tcpstate.client.state', 'CLOSED'), (5, 'tcpstate.phase', ANY)]


@case
def syn_flood(p):
    for i in range(2000):
        p.add(v4seg(C, S, 40000, 80, 1000 + i * 104729, 0, SYN), dt=1000)
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (1, 'tcpstate.phase', 'Handshake'),
            (2000, 'tcpstate.phase', 'Handshake')]


@case
def seq_wrap(p):
    isn_c, isn_s = 0xfffffff0, 0xffffff00
    handshake(p, isn_c, isn_s)
    seq = isn_c + 1
    for i in range(10):  # 1000-byte segments across 2^32
        p.add(v4seg(C, S, 40000, 80, seq, isn_s + 1, PSH | ACK, b'x' * 1000))
        seq += 1000
        p.add(v4seg(S, C, 80, 40000, isn_s + 1, seq, ACK))
    p.add(v4seg(C, S, 40000, 80, seq + 0x80000000, isn_s + 1, PSH | ACK, b'y' * 10))  # half the space away
    p.add(v4seg(C, S, 40000, 80, seq, isn_s + 1, FIN | ACK))
    p.add(v4seg(S, C, 80, 40000, isn_s + 1, seq + 1, FIN | ACK))
    p.add(v4seg(C, S, 40000, 80, seq + 1, isn_s + 2, ACK))
    n = p.n
    return [(3, 'tcpstate.server.state', 'ESTABLISHED'), (n - 2, 'tcpstate.client.state', 'FIN-WAIT-1'),
            (n, 'tcpstate.server.state', 'CLOSED'), (n, 'tcpstate.client.state', 'TIME-WAIT')]


@case
def zero_and_oversize(p):
    handshake(p)
    p.add(v4seg(C, S, 40000, 80, 1001, 5001, ACK))                        # 4: zero-length
    big = v4seg(C, S, 40000, 80, 1001, 5001, PSH | ACK, b'z' * 1400)
    p.add(big, caplen=80)                                                 # 5: snapped
    frame = eth(ipv4(C, S, 6, tcp(40000, 80, 2401, 5001, PSH | ACK, b'w' * 10), total=65535))
    p.add(frame)                                                          # 6: IP length says 64 KiB
    p.add(eth(ipv4(C, S, 6, tcp(40000, 80, 2401, 5001, ACK, hdr_words=15)[:20])))  # 7: header claims 60 bytes
    p.add(eth(ipv4(C, S, 6, tcp(40000, 80, 2401, 5001, ACK, hdr_words=2))))         # 8: header length 8 < 20
    p.add(eth(ipv4(C, S, 6, tcp(40000, 80, 2401, 5001, ACK)[:12])))                # 9: 12 bytes of TCP
    p.add(v4seg(C, S, 40000, 80, 2401, 5001, ACK))                        # 10
    return [(4, 'tcpstate.phase', 'Data'), (5, 'tcpstate.phase', 'Data'), (6, 'tcpstate.phase', ANY),
            (7, 'tcpstate.expert.incomplete', PRESENT), (8, 'tcpstate.expert.incomplete', PRESENT),
            # 12 bytes of TCP header: Wireshark says Malformed, adds no tcp.stream
            (9, 'tcpstate.client.state', ABSENT), (9, 'tcpstate.expert.incomplete', PRESENT),
            (10, 'tcpstate.client.state', 'ESTABLISHED')]


def icmp_error(src, dst, quoted, typ=3, code=3):
    body = struct.pack('!BBHI', typ, code, 0, 0) + quoted
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    return eth(ipv4(src, dst, 1, body))


def icmp6_error(src, dst, quoted, typ=1, code=4):
    return eth(ipv6(src, dst, 58, struct.pack('!BBHI', typ, code, 0, 0) + quoted), 0x86dd)


@case
def tcp_in_icmp(p):
    handshake(p)
    quoted_full = ipv4(C, S, 6, tcp(40000, 80, 1001, 5001, PSH | ACK, b'q' * 100))[:20 + 20]
    p.add(icmp_error('10.0.0.254', C, quoted_full))                       # 4: full TCP header quoted
    p.add(icmp_error('10.0.0.254', C, quoted_full[:28]))                  # 5: 8 bytes quoted (RFC 792)
    p.add(v4seg(C, S, 40000, 80, 1001, 5001, PSH | ACK, b'd' * 10))       # 6
    c6, s6 = 'fd00::1', 'fd00::2'
    p.add(eth(ipv6(c6, s6, 6, tcp(40001, 443, 7, 0, SYN)), 0x86dd))      # 7
    q6 = ipv6(c6, s6, 6, tcp(40001, 443, 7, 0, SYN))
    p.add(icmp6_error('fd00::fe', c6, q6))                                # 8
    p.add(icmp6_error('fd00::fe', c6, q6[:48]))                           # 9: 8 bytes of TCP
    return [(4, 'tcpstate.expert.quoted_in_icmp', PRESENT), (4, 'tcpstate.client.state', ABSENT),
            # 8 quoted bytes (RFC 792's minimum, what most routers send): no tcp.stream
            (5, 'tcpstate.expert.quoted_in_icmp', PRESENT), (6, 'tcpstate.client.state', 'ESTABLISHED'),
            (7, 'tcpstate.client.state', 'SYN-SENT'), (8, 'tcpstate.expert.quoted_in_icmp', PRESENT),
            (9, 'tcpstate.expert.quoted_in_icmp', PRESENT)]


@case
def tunnels(p):
    outer_a, outer_b = '192.0.2.1', '192.0.2.2'

    def ipip(inner):
        return eth(ipv4(outer_a, outer_b, 4, inner))

    def six_in_four(inner):
        return eth(ipv4(outer_a, outer_b, 41, inner))

    c6, s6 = 'fd00::1', 'fd00::2'
    p.add(ipip(ipv4(C, S, 6, tcp(40000, 80, 1000, 0, SYN))))
    p.add(ipip(ipv4(S, C, 6, tcp(80, 40000, 5000, 1001, SYN | ACK))))
    p.add(ipip(ipv4(C, S, 6, tcp(40000, 80, 1001, 5001, ACK))))
    p.add(six_in_four(ipv6(c6, s6, 6, tcp(40001, 443, 7000, 0, SYN))))
    p.add(six_in_four(ipv6(s6, c6, 6, tcp(443, 40001, 9000, 7001, SYN | ACK))))
    p.add(six_in_four(ipv6(c6, s6, 6, tcp(40001, 443, 7001, 9001, ACK))))
    # the same 4-tuple as frame 1 but not tunnelled: another host pair on the wire? same addresses
    p.add(v4seg(C, S, 40000, 80, 1001, 5001, FIN | ACK))
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (3, 'tcpstate.server.state', 'ESTABLISHED'),
            (4, 'tcpstate.client.state', 'SYN-SENT'), (6, 'tcpstate.server.state', 'ESTABLISHED'),
            (7, 'tcpstate.phase', ANY)]


@case
def encapsulations(p):
    """Headers the byte reader walks (802.1Q, 802.1ad + 802.1Q (QinQ), VXLAN,
    an IPv6 Hop-by-Hop header, window scaling on both SYNs) and one it does not
    (GRE): that frame's headers are found by the search (extract_search.c)."""
    def vlan(payload):
        return eth(struct.pack('!HH', 100, 0x0800) + payload, ethertype=0x8100)

    def qinq(payload):  # service tag 10 (802.1ad), then customer tag 30 (802.1Q), then IPv6
        return eth(struct.pack('!HHHH', 10, 0x8100, 30, 0x86dd) + payload, ethertype=0x88a8)

    def vxlan(inner_frame):
        udp = struct.pack('!HHHH', 50000, 4789, 8 + 8 + len(inner_frame), 0)
        return eth(ipv4('192.0.2.1', '192.0.2.2', 17, udp + struct.pack('!BxxxI', 0x08, 42 << 8) + inner_frame))

    def gre(inner):
        return eth(ipv4('192.0.2.1', '192.0.2.2', 47, struct.pack('!HH', 0, 0x0800) + inner))

    def hop_by_hop(src, dst, segment):
        return eth(ipv6(src, dst, 0, struct.pack('!BB', 6, 0) + b'\x01\x04\0\0\0\0' + segment), 0x86dd)

    p.add(vlan(ipv4(C, S, 6, tcp(40000, 80, 1000, 0, SYN))))                         # 1
    p.add(vlan(ipv4(S, C, 6, tcp(80, 40000, 5000, 1001, SYN | ACK))))                # 2
    p.add(vlan(ipv4(C, S, 6, tcp(40000, 80, 1001, 5001, ACK))))                      # 3
    p.add(vxlan(eth(ipv4(C, S, 6, tcp(40001, 80, 1000, 0, SYN)))))                   # 4
    p.add(vxlan(eth(ipv4(S, C, 6, tcp(80, 40001, 5000, 1001, SYN | ACK)))))          # 5
    p.add(vxlan(eth(ipv4(C, S, 6, tcp(40001, 80, 1001, 5001, ACK)))))                # 6
    p.add(gre(ipv4(C, S, 6, tcp(40002, 80, 1000, 0, SYN))))                          # 7
    c6, s6 = 'fd00::1', 'fd00::2'
    p.add(hop_by_hop(c6, s6, tcp(40003, 80, 1000, 0, SYN)))                          # 8
    p.add(hop_by_hop(s6, c6, tcp(80, 40003, 5000, 1001, SYN | ACK)))                 # 9
    p.add(hop_by_hop(c6, s6, tcp(40003, 80, 1001, 5001, ACK)))                       # 10
    # Window Scale 7 on both SYNs (RFC 7323): the server's later 1000 means
    # 128000 bytes, so a RST 100000 past RCV.NXT is in window (a challenge
    # ACK), not ignored as it would be in a 1000-byte window.
    ws7 = b'\x01\x03\x03\x07'
    p.add(v4seg(C, S, 40004, 80, 1000, 0, SYN, hdr_words=6, options=ws7))            # 11
    p.add(v4seg(S, C, 80, 40004, 5000, 1001, SYN | ACK, hdr_words=6, options=ws7))   # 12
    p.add(v4seg(C, S, 40004, 80, 1001, 5001, ACK))                                   # 13
    p.add(v4seg(S, C, 80, 40004, 5001, 1001, ACK, win=1000))                         # 14
    p.add(v4seg(C, S, 40004, 80, 1001 + 100000, 0, RST))                             # 15
    # Not TCP, under layers the byte reader does not know: no annotation at all.
    dns = struct.pack('!HHHHHH', 1, 0x0100, 1, 0, 0, 0) + b'\x01a\0\0\x01\0\x01'
    p.add(eth(ipv4(C, S, 17, struct.pack('!HHHH', 5353, 53, 8 + len(dns), 0) + dns)))       # 16
    p.add(gre(ipv4(C, S, 17, struct.pack('!HHHH', 5353, 53, 8 + len(dns), 0) + dns)))       # 17
    p.add(qinq(ipv6(c6, s6, 6, tcp(40005, 80, 1000, 0, SYN))))                       # 18
    p.add(qinq(ipv6(s6, c6, 6, tcp(80, 40005, 5000, 1001, SYN | ACK))))              # 19
    p.add(qinq(ipv6(c6, s6, 6, tcp(40005, 80, 1001, 5001, ACK))))                    # 20
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (3, 'tcpstate.server.state', 'ESTABLISHED'),
            (4, 'tcpstate.client.state', 'SYN-SENT'), (6, 'tcpstate.server.state', 'ESTABLISHED'),
            (7, 'tcpstate.expert.unparsed', ABSENT), (7, 'tcpstate.client.state', 'SYN-SENT'),
            (8, 'tcpstate.client.state', 'SYN-SENT'), (10, 'tcpstate.server.state', 'ESTABLISHED'),
            (15, 'tcpstate.expert.rst_challenge', PRESENT), (15, 'tcpstate.expert.rst_ignored', ABSENT),
            (16, 'tcpstate.expert.unparsed', ABSENT), (16, 'tcpstate.phase', ABSENT),
            (17, 'tcpstate.expert.unparsed', ABSENT), (17, 'tcpstate.phase', ABSENT),
            (18, 'tcpstate.client.state', 'SYN-SENT'), (19, 'tcpstate.expert.unparsed', ABSENT),
            (20, 'tcpstate.server.state', 'ESTABLISHED')]


def ipv4_fragment(src, dst, proto, chunk, offset8, more, ident):
    """One IPv4 fragment (RFC 791): offset in 8-byte units, More Fragments."""
    flags = (0x2000 if more else 0) | offset8
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(chunk), ident, flags, 64, proto, 0, ip4(src), ip4(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + chunk


def ipv6_fragment(src, dst, nxt, chunk, offset8, more, ident):
    """One IPv6 fragment: a Fragment header (RFC 8200 4.5) before the chunk."""
    frag = struct.pack('!BBHI', nxt, 0, (offset8 << 3) | (1 if more else 0), ident)
    return ipv6(src, dst, 44, frag + chunk)


@case
def searched(p):
    """Segments the byte reader's walk cannot reach, found by the search
    (extract_search.c) where Wireshark dissected them: GRE, an IPv4 and an
    IPv6 datagram in two fragments each (the TCP header in the buffer
    Wireshark reassembled), a first fragment alone (Wireshark does not know
    the segment's length: incomplete), a TCP header cut short under GRE
    (incomplete), an ICMP error under GRE (quoted), PPPoE, GTP-U and MPLS."""
    def gre(inner, proto=0x0800):
        return eth(ipv4('192.0.2.1', '192.0.2.2', 47, struct.pack('!HH', 0, proto) + inner))

    p.add(gre(ipv4(C, S, 6, tcp(40010, 80, 1000, 0, SYN))))                                   # 1
    p.add(gre(ipv4(S, C, 6, tcp(80, 40010, 5000, 1001, SYN | ACK))))                          # 2
    p.add(gre(ipv4(C, S, 6, tcp(40010, 80, 1001, 5001, ACK))))                                # 3
    # 4-6: a handshake whose SYN-ACK (with 40 bytes of data) comes in two fragments
    p.add(v4seg(C, S, 40011, 80, 1000, 0, SYN))                                               # 4
    synack = tcp(80, 40011, 5000, 1001, SYN | ACK, b'x' * 40)
    p.add(eth(ipv4_fragment(S, C, 6, synack[:32], 0, True, 77)))                              # 5
    p.add(eth(ipv4_fragment(S, C, 6, synack[32:], 4, False, 77)))                             # 6
    p.add(v4seg(C, S, 40011, 80, 1001, 5041, ACK))                                            # 7
    # 8: the first fragment of a datagram whose other fragment was never captured, cut by the
    # capture inside its data (Wireshark reassembles only fragments captured whole, and dissects
    # the TCP header of a first fragment it does not reassemble)
    lost = tcp(40012, 80, 1000, 0, SYN, b'y' * 64)
    first = eth(ipv4_fragment(C, S, 6, lost[:48], 0, True, 78))
    p.add(first, caplen=len(first) - 8)                                                       # 8
    # 9-11: IPv6, the client's SYN in two fragments
    c6, s6 = 'fd00::1', 'fd00::2'
    syn6 = tcp(40013, 80, 1000, 0, SYN, b'z' * 40)
    p.add(eth(ipv6_fragment(c6, s6, 6, syn6[:24], 0, True, 99), 0x86dd))                      # 9
    p.add(eth(ipv6_fragment(c6, s6, 6, syn6[24:], 3, False, 99), 0x86dd))                     # 10
    p.add(eth(ipv6(s6, c6, 6, tcp(80, 40013, 5000, 1041, SYN | ACK)), 0x86dd))                # 11
    # 12: under GRE, the TCP header cut after 12 bytes by the capture
    cut = gre(ipv4(C, S, 6, tcp(40014, 80, 1000, 0, SYN)))
    p.add(cut, caplen=len(cut) - 8)                                                           # 12
    # 13: an ICMP error under GRE quoting frame 3's header
    body = struct.pack('!BBHI', 3, 3, 0, 0) + ipv4(C, S, 6, tcp(40010, 80, 1001, 5001, ACK))
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    p.add(gre(ipv4('10.0.0.254', C, 1, body)))                                                # 13
    # 14-15: PPPoE session (RFC 2516: version/type, code, session, length, then PPP's protocol 0x0021)
    def pppoe(inner):
        return eth(struct.pack('!BBHHH', 0x11, 0, 7, 2 + len(inner), 0x0021) + inner, ethertype=0x8864)
    p.add(pppoe(ipv4(C, S, 6, tcp(40015, 80, 1000, 0, SYN))))                                 # 14
    p.add(pppoe(ipv4(S, C, 6, tcp(80, 40015, 5000, 1001, SYN | ACK))))                        # 15
    # 16-17: GTP-U (3GPP TS 29.281: flags 0x30, G-PDU 0xff, length, TEID) on UDP 2152
    def gtpu(inner):
        g = struct.pack('!BBHI', 0x30, 0xff, len(inner), 0x1234) + inner
        return eth(ipv4('192.0.2.1', '192.0.2.2', 17, struct.pack('!HHHH', 2152, 2152, 8 + len(g), 0) + g))
    p.add(gtpu(ipv4(C, S, 6, tcp(40016, 80, 1000, 0, SYN))))                                  # 16
    p.add(gtpu(ipv4(S, C, 6, tcp(80, 40016, 5000, 1001, SYN | ACK))))                         # 17
    # 18-19: MPLS over Ethernet, two labels (RFC 3032: label, TC, bottom of stack, TTL)
    def mpls(inner):
        return eth(struct.pack('!II', (100 << 12) | 64, (200 << 12) | 0x100 | 64) + inner, ethertype=0x8847)
    p.add(mpls(ipv4(C, S, 6, tcp(40017, 80, 1000, 0, SYN))))                                  # 18
    p.add(mpls(ipv4(S, C, 6, tcp(80, 40017, 5000, 1001, SYN | ACK))))                         # 19
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (2, 'tcpstate.client.state', 'ESTABLISHED'),
            (3, 'tcpstate.server.state', 'ESTABLISHED'), (3, 'tcpstate.expert.unparsed', ABSENT),
            (4, 'tcpstate.client.state', 'SYN-SENT'), (5, 'tcpstate.phase', ABSENT),
            (6, 'tcpstate.client.state', 'ESTABLISHED'), (6, 'tcpstate.phase', 'Handshake'),
            (7, 'tcpstate.server.state', 'ESTABLISHED'), (7, 'tcpstate.expert.unparsed', ABSENT),
            (8, 'tcpstate.expert.incomplete', PRESENT), (8, 'tcpstate.client.state', ABSENT),
            (9, 'tcpstate.phase', ABSENT), (10, 'tcpstate.client.state', 'SYN-SENT'),
            (11, 'tcpstate.client.state', 'ESTABLISHED'), (11, 'tcpstate.server.state', 'SYN-RECEIVED'),
            (12, 'tcpstate.expert.incomplete', PRESENT), (12, 'tcpstate.client.state', ABSENT),
            (13, 'tcpstate.expert.quoted_in_icmp', PRESENT), (13, 'tcpstate.phase', ABSENT),
            (14, 'tcpstate.client.state', 'SYN-SENT'), (15, 'tcpstate.client.state', 'ESTABLISHED'),
            (16, 'tcpstate.client.state', 'SYN-SENT'), (17, 'tcpstate.client.state', 'ESTABLISHED'),
            (18, 'tcpstate.client.state', 'SYN-SENT'), (19, 'tcpstate.client.state', 'ESTABLISHED')]


@case
def duplicates(p):
    frames = []
    frames.append(v4seg(C, S, 40000, 80, 1000, 0, SYN))
    frames.append(v4seg(S, C, 80, 40000, 5000, 1001, SYN | ACK))
    frames.append(v4seg(C, S, 40000, 80, 1001, 5001, ACK))
    frames.append(v4seg(C, S, 40000, 80, 1001, 5001, PSH | ACK, b'a' * 100))
    frames.append(v4seg(S, C, 80, 40000, 5001, 1101, ACK))
    frames.append(v4seg(C, S, 40000, 80, 1101, 5001, FIN | ACK))
    frames.append(v4seg(S, C, 80, 40000, 5001, 1102, FIN | ACK))
    frames.append(v4seg(C, S, 40000, 80, 1102, 5002, ACK))
    for f in frames:
        p.add(f)
        p.add(f, dt=0)  # captured twice (two capture points, or a SPAN port)
    return [(2, 'tcpstate.client.state', 'SYN-SENT'), (4, 'tcpstate.client.state', 'ESTABLISHED'),
            (6, 'tcpstate.server.state', 'ESTABLISHED'), (16, 'tcpstate.client.state', 'TIME-WAIT'),
            (16, 'tcpstate.server.state', 'CLOSED')]


@case
def time_backwards(p):
    t0 = 1_700_000_000 * 10 ** 9
    p.add(v4seg(C, S, 40000, 80, 1000, 0, SYN), t=t0)
    p.add(v4seg(S, C, 80, 40000, 5000, 1001, SYN | ACK), t=t0 - 10 ** 9)
    p.add(v4seg(C, S, 40000, 80, 1001, 5001, ACK), t=t0 - 3600 * 10 ** 9)
    p.add(v4seg(C, S, 40000, 80, 1001, 5001, FIN | ACK), t=0)
    p.add(v4seg(S, C, 80, 40000, 5001, 1002, FIN | ACK), t=t0 + 10 ** 9)
    p.add(v4seg(C, S, 40000, 80, 1002, 5002, ACK), t=5)
    p.add(v4seg(C, S, 40000, 80, 9000, 0, SYN), t=0xffffffff * 10 ** 9)   # 2106, then back to 1970
    p.add(v4seg(S, C, 80, 40000, 7000, 9001, SYN | ACK), t=0)
    # a SYN retransmitted ~126 years after the peer's SYN (fuzz/regress/ub-crossed-retransmission-overflow)
    p.add(v4seg(C, S, 41000, 81, 1000, 0, SYN), t=1 * 10 ** 9)
    p.add(v4seg(S, C, 81, 41000, 5000, 0, SYN), t=2 * 10 ** 9)
    p.add(v4seg(S, C, 81, 41000, 5000, 0, SYN), t=4_000_000_000 * 10 ** 9)
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (3, 'tcpstate.server.state', 'ESTABLISHED'),
            (6, 'tcpstate.server.state', 'CLOSED')]


@case
def mid_stream(p):
    p.add(v4seg(C, S, 40000, 80, 77777, 99999, PSH | ACK, b'm' * 50))
    p.add(v4seg(S, C, 80, 40000, 99999, 77827, ACK))
    p.add(v4seg(S, C, 80, 40000, 99999, 77827, FIN | ACK))
    return [(1, 'tcpstate.assumed', PRESENT), (1, 'tcpstate.client.state', 'ESTABLISHED'),
            (2, 'tcpstate.assumed', PRESENT), (3, 'tcpstate.server.state', 'FIN-WAIT-1')]


@case
def one_tuple_reuse(p):
    """The same 4-tuple used over and over: close, reopen, RST, reopen in TIME-WAIT."""
    isn = 1000
    for i in range(300):
        handshake(p, isn, 50000 + isn)
        if i % 3 == 0:
            p.add(v4seg(C, S, 40000, 80, isn + 1, 50000 + isn + 1, RST | ACK))
        else:
            p.add(v4seg(C, S, 40000, 80, isn + 1, 50000 + isn + 1, FIN | ACK))
            p.add(v4seg(S, C, 80, 40000, 50000 + isn + 1, isn + 2, FIN | ACK))
            p.add(v4seg(C, S, 40000, 80, isn + 2, 50000 + isn + 2, ACK))
        isn += 100000
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (4, 'tcpstate.client.state', 'CLOSED')]


# pcapng blocks: section header, interface description, enhanced packet.
PCAPNG_SHB = struct.pack('<IIIHHq', 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack('<I', 28)


def pcapng_idb(linktype, opts=b''):
    length = 20 + len(opts)
    return struct.pack('<IIHHI', 1, length, linktype, 0, 262144) + opts + struct.pack('<I', length)


def pcapng_epb(interface, t, frame):
    """t in the interface's time units, 64 bits."""
    pad = (-len(frame)) % 4
    length = 32 + len(frame) + pad
    t &= (1 << 64) - 1
    return (struct.pack('<IIIIIII', 6, length, interface, t >> 32, t & 0xffffffff, len(frame), len(frame))
            + frame + b'\0' * pad + struct.pack('<I', length))


class Pcapng(Pcap):
    """pcapng with if_tsresol = 10^0: timestamps counted in whole seconds, 64 bits."""

    def __init__(self, path):
        self.f = open(path, 'wb')
        opts = struct.pack('<HHB3x', 9, 1, 0) + struct.pack('<HH', 0, 0)  # if_tsresol = 0, opt_endofopt
        self.f.write(PCAPNG_SHB + pcapng_idb(1, opts))
        self.n = 0

    def add(self, frame, t=None, dt=None, orig_len=None, caplen=None):
        self.f.write(pcapng_epb(0, t, frame))
        self.n += 1
        return self.n


def pcapng_extreme_time(path):
    """Seconds-resolution pcapng: 10^10 s (secs * 1e9 leaves int64) and 2^63 + 5 s (time_t turns
    negative); then the crossed-retransmission pattern of fuzz/regress across those times."""
    p = Pcapng(path)
    p.add(v4seg(C, S, 40000, 80, 1000, 0, SYN), t=1)
    p.add(v4seg(S, C, 80, 40000, 5000, 0, SYN), t=2)
    p.add(v4seg(S, C, 80, 40000, 5000, 0, SYN), t=10 ** 10)
    p.add(v4seg(C, S, 40001, 81, 1000, 0, SYN), t=(1 << 63) + 5)
    p.add(v4seg(S, C, 81, 40001, 5000, 0, SYN), t=(1 << 63) + 6)
    p.add(v4seg(S, C, 81, 40001, 5000, 0, SYN), t=(1 << 62))
    p.add(v4seg(C, S, 40001, 81, 1001, 5001, ACK), t=(1 << 64) - 1)
    p.close()
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (7, 'tcpstate.phase', ANY)]


def multi_interface(path):
    """pcapng with three interfaces of different link types (Ethernet, Linux
    cooked v2, raw IP), one connection on each, their segments interleaved:
    the byte reader must take each frame's link type from its own interface."""
    wraps = [lambda ip, v6: eth(ip, 0x86dd if v6 else 0x0800),
             LINK_LAYERS['link-sll2'][1], LINK_LAYERS['link-raw'][1]]
    f = open(path, 'wb')
    f.write(PCAPNG_SHB + b''.join(pcapng_idb(linktype) for linktype in (1, 276, 101)))  # microseconds
    t = 1_700_000_000 * 10 ** 6
    c6, s6 = 'fd00::1', 'fd00::2'
    steps = [(True, 1000, 0, SYN), (False, 5000, 1001, SYN | ACK), (True, 1001, 5001, ACK),
             (True, 1001, 5001, FIN | ACK)]
    for from_client, seq, ack, flags in steps:
        for i, wrap in enumerate(wraps):
            v6 = i == 1
            c, s = (c6, s6) if v6 else (C, S)
            seg = tcp(40000 + i, 80, seq, ack, flags) if from_client else tcp(80, 40000 + i, seq, ack, flags)
            src, dst = (c, s) if from_client else (s, c)
            frame = wrap(ipv6(src, dst, 6, seg) if v6 else ipv4(src, dst, 6, seg), v6)
            t += 1000
            f.write(pcapng_epb(i, t, frame))
    f.close()
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (2, 'tcpstate.client.state', 'SYN-SENT'),
            (3, 'tcpstate.client.state', 'SYN-SENT'), (4, 'tcpstate.client.state', 'ESTABLISHED'),
            (5, 'tcpstate.client.state', 'ESTABLISHED'), (6, 'tcpstate.client.state', 'ESTABLISHED'),
            (7, 'tcpstate.server.state', 'ESTABLISHED'), (8, 'tcpstate.server.state', 'ESTABLISHED'),
            (9, 'tcpstate.server.state', 'ESTABLISHED'), (10, 'tcpstate.client.state', 'FIN-WAIT-1'),
            (11, 'tcpstate.client.state', 'FIN-WAIT-1'), (12, 'tcpstate.client.state', 'FIN-WAIT-1'),
            (12, 'tcpstate.server.state', 'CLOSE-WAIT')]


def never_close(path, n):
    """n connections, one SYN each, never closed: memory must stay bounded."""
    p = Pcap(path)
    for i in range(n):
        src = '10.%d.%d.%d' % (1 + (i >> 16 & 0x3f), i >> 8 & 0xff, i & 0xff)
        p.add(v4seg(src, S, 1024 + (i % 60000), 80, i * 7919, 0, SYN), dt=10000)
    p.close()


# Link layers the plugin's byte reader walks besides Ethernet (LINKTYPE_* numbers from tcpdump.org):
# the same connection, IPv4 then IPv6, under each.
LINK_LAYERS = {
    'link-sll': (113, lambda ip, v6: struct.pack('!HHH8sH', 0, 1, 6, b'\x02\0\0\0\0\x01\0\0',
                                                   0x86dd if v6 else 0x0800) + ip),
    'link-sll2': (276, lambda ip, v6: struct.pack('!HHIHBB8s', 0x86dd if v6 else 0x0800, 0, 1, 1, 0, 6,
                                                    b'\x02\0\0\0\0\x01\0\0') + ip),
    'link-null': (0, lambda ip, v6: struct.pack('<I', 30 if v6 else 2) + ip),  # AF_INET6 30 on macOS
    'link-raw': (101, lambda ip, v6: ip),
}


def link_layer_case(p, wrap):
    c6, s6 = 'fd00::1', 'fd00::2'
    for v6 in (False, True):
        ip = (lambda a, b, seg: ipv6(a, b, 6, seg)) if v6 else (lambda a, b, seg: ipv4(a, b, 6, seg))
        c, s = (c6, s6) if v6 else (C, S)
        p.add(wrap(ip(c, s, tcp(40000, 80, 1000, 0, SYN)), v6))
        p.add(wrap(ip(s, c, tcp(80, 40000, 5000, 1001, SYN | ACK)), v6))
        p.add(wrap(ip(c, s, tcp(40000, 80, 1001, 5001, ACK | PSH, b'hello')), v6))
        p.add(wrap(ip(c, s, tcp(40000, 80, 1006, 5001, FIN | ACK)), v6))
    return [(1, 'tcpstate.client.state', 'SYN-SENT'), (3, 'tcpstate.server.state', 'ESTABLISHED'),
            (4, 'tcpstate.client.state', 'FIN-WAIT-1'), (5, 'tcpstate.client.state', 'SYN-SENT'),
            (7, 'tcpstate.server.state', 'ESTABLISHED'), (8, 'tcpstate.server.state', 'CLOSE-WAIT')]


def generate(out, conns):
    os.makedirs(out, exist_ok=True)
    expectations = {}
    for name, fn in CASES.items():
        p = Pcap(os.path.join(out, name + '.pcap'))
        expectations[name] = fn(p)
        p.close()
    for name, (linktype, wrap) in LINK_LAYERS.items():
        p = Pcap(os.path.join(out, name + '.pcap'), linktype=linktype)
        expectations[name] = link_layer_case(p, wrap)
        p.close()
    expectations['pcapng-extreme-time'] = pcapng_extreme_time(os.path.join(out, 'pcapng-extreme-time.pcap'))
    expectations['pcapng-multi-interface'] = multi_interface(os.path.join(out, 'pcapng-multi-interface.pcap'))
    if conns:
        never_close(os.path.join(out, 'never-close-%d.pcap' % conns), conns)
    return expectations


def main():
    out = sys.argv[1]
    conns = int(sys.argv[sys.argv.index('--conns') + 1]) if '--conns' in sys.argv else 1000000
    generate(out, conns)


if __name__ == '__main__':
    main()
