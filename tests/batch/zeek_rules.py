#!/usr/bin/env python3
"""zeek_rules.py: Zeek's conn_state and history for every TCP connection of a capture, computed
independently of tcpstate, from Wireshark's own TCP fields only.

  zeek_rules.py capture.pcap [...]            one line per Zeek connection (TSV)
  zeek_rules.py --frames capture.pcap         one line per TCP frame: the verdict of its connection

Reads frame.number, frame.time_epoch, tcp.stream, addresses, tcp.srcport/dstport, tcp.flags,
tcp.seq_raw, tcp.ack_raw, tcp.len and tcp.window_size_value with tshark (no tcpstate field: the
plugin may be loaded or not, it is not read), and replays them through Zeek's TCP analyzer rules
as Zeek's source states them. This file was written from Zeek's source, not from
core/conn_summary.c; each rule cites where it comes from:

  [main]    scripts/base/protocols/conn/main.zeek: conn_state() and the history documentation
  [adapter] src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc: Process(), init_endpoint(),
            update_history(), update_window(), init_peer(), update_ack_seq(), update_last_seq(),
            SetPartialStatus(), UpdateInactiveState(), UpdateSYN_SentState(),
            UpdateEstablishedState(), UpdateClosedState(), ConnectionClosed(), IsReuse(),
            AttemptTimer(), FlipRoles(), CheckPIA_FirstPacket()
  [tcp]     src/packet_analysis/protocol/tcp/TCP.cc: WantConnection() (who is the originator)
  [endpoint] src/analyzer/protocol/tcp/TCP_Endpoint.cc: Size(), CheckHistory(), AddHistory(),
            DidRxmit(), ZeroWindow(), Gap()
  [reassem] src/analyzer/protocol/tcp/TCP_Reassembler.cc: DataSent(), AckReceived(),
            Undelivered(), Gap() (content gaps, the 'g' letter)
  [session] src/session/Session.h: CheckHistory(), ScaledHistoryEntry() (base 10);
            src/Conn.cc: FlipRoles() adds '^'
  [http]    scripts/base/protocols/*/main.zeek: `redef likely_server_ports += { ports }`

Assumptions, stated once:
  - checksums are not verified (zeek -C; loopback captures carry offloaded checksums, and
    tcpstate does not verify them either), so 'c' never appears;
  - the default timer constants of Zeek's init-bare.zeek: tcp_close_delay 5 s,
    tcp_attempt_delay 5 s, tcp_inactivity_timeout 5 min (1 min before the handshake completes:
    udp_inactivity_timeout, set by MakeSessionAdapter);
  - reassembly is on from the first packet (dpd_reassemble_first_packets = T), so content gaps
    are reported; 'x' (analysis limits) never appears;
  - the 32-bit sequence space does not wrap inside a connection (samples are small).
Zeek connections are keyed by the unordered 4-tuple across the whole capture, as Zeek does; the
--frames output says which Zeek connection each frame belongs to, so a tcp.stream that Zeek
splits (or two streams Zeek joins) shows up in a per-frame comparison.
"""
import argparse
import os
import re
import subprocess
import sys

# Zeek's endpoint states (TCP_ENDPOINT_*).
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)

# TCP_Endpoint::HistoryMasks ([endpoint], TCP_Endpoint.h); a responder's are shifted by 16.
HIST_SYN_PKT, HIST_FIN_PKT, HIST_RST_PKT, HIST_FIN_RST_PKT = 0x1, 0x2, 0x4, 0x8
HIST_DATA_PKT, HIST_ACK_PKT, HIST_MULTI_FLAG_PKT = 0x10, 0x20, 0x40

TOO_LARGE_SEQ_DELTA = 1048576  # [adapter]
TCP_CLOSE_DELAY = 5.0  # init-bare.zeek tcp_close_delay
TCP_ATTEMPT_DELAY = 5.0  # tcp_attempt_delay
TCP_INACTIVITY_TIMEOUT = 300.0  # tcp_inactivity_timeout
UDP_INACTIVITY_TIMEOUT = 60.0  # udp_inactivity_timeout (TCP before the handshake completes)

# likely_server_ports of a stock Zeek: the union of the `ports` constants that the base protocol
# scripts add with `redef likely_server_ports += { ports }` (HTTP: 80 81 631 1080 3128 8000 8080
# 8888, scripts/base/protocols/http/main.zeek; FTP 21 2811; SSH 22; SMTP 25 587; DNS 53 5353
# 5355 137; POP3 110 995; IMAP 143 993; SSL 443 563 585 614 636 989 990 992 993 995 5223 8443;
# Kerberos 88 750; SMB 139 445; DCE-RPC 135; LDAP 389 3268; MySQL 3306; RDP 3389; SOCKS 1080;
# IRC 6666-6669; XMPP 5222 5269; Modbus 502; DNP3 20000; RFB 5900 5901; SIP 5060; Redis 6379;
# PostgreSQL 5432; MQTT 1883; Telnet/rlogin/rsh 23 513 514; Syslog 514; NTLM/GSSAPI via SMB).
LIKELY_SERVER_PORTS = {
    21, 22, 23, 25, 53, 80, 81, 88, 110, 135, 137, 139, 143, 389, 443, 445, 502, 513, 514, 563, 585,
    587, 614, 631, 636, 750, 989, 990, 992, 993, 994, 995, 1080, 1883, 2811, 3128, 3268, 3306, 3389,
    5060, 5222, 5223, 5269, 5353, 5355, 5432, 5900, 5901, 6379, 6666, 6667, 6668, 6669, 8000, 8080,
    8443, 8888, 20000,
}

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def seq_delta(a, b):
    """Zeek's seq_delta: a - b as a signed 32-bit number."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d & 0x80000000 else d


class Endpoint:
    def __init__(self, conn, is_orig):
        self.conn, self.is_orig = conn, is_orig
        self.peer = None
        self.state = self.prev_state = INACTIVE
        self.start_seq = self.last_seq = self.ack_seq = 0
        self.fin_cnt = self.rst_cnt = 0
        self.fin_seq = 0
        self.hist_last_syn = self.hist_last_fin = self.hist_last_rst = 0
        self.rxmt_cnt = self.win0_cnt = self.gap_cnt = 0
        self.rxmt_thresh = self.win0_thresh = self.gap_thresh = 1  # [endpoint] constructor
        self.did_close = False
        # [reassem]: relative sequence numbers; data starts at 1 (after the SYN octet).
        self.last_reassem_seq = 1
        self.trim_seq = 1
        self.blocks = []  # [(seq, upper)] above last_reassem_seq

    def set_state(self, new):  # [endpoint] SetState
        if new != self.state:
            handshake = (INACTIVE, SYN_SENT, SYN_ACK_SENT)
            if new not in handshake and self.state in handshake and self.peer.state in handshake:
                self.conn.inactivity_timeout = TCP_INACTIVITY_TIMEOUT
            self.prev_state, self.state = self.state, new

    def init_seqs(self, start, last):
        self.start_seq = start & 0xFFFFFFFF
        self.ack_seq = start & 0xFFFFFFFF
        self.last_seq = last & 0xFFFFFFFF

    def rel(self, seq):
        return seq_delta(seq, self.start_seq)

    # [endpoint] CheckHistory / AddHistory: lower case for the responder.
    def check_history(self, mask, code):
        if not self.is_orig:
            mask <<= 16
            code = code.lower()
        return self.conn.check_history(mask, code)

    def add_history(self, code):
        self.conn.history += code if self.is_orig else code.lower()

    def scaled(self, code, which):  # [session] ScaledHistoryEntry, base 10
        cnt, thresh = getattr(self, which + "_cnt") + 1, getattr(self, which + "_thresh")
        if cnt == thresh:
            self.add_history(code)
            thresh *= 10
        setattr(self, which + "_cnt", cnt)
        setattr(self, which + "_thresh", thresh)

    def no_data_acked(self):  # TCP_Endpoint.h NoDataAcked
        d = seq_delta(self.ack_seq, self.start_seq)
        return d == 0 or d == 1

    def size(self):  # [endpoint] Size()
        if (self.prev_state == SYN_SENT and self.state == RESET and self.peer.state == INACTIVE and
                not self.no_data_acked()):
            return 0
        last, ack = seq_delta(self.last_seq, self.start_seq), seq_delta(self.ack_seq, self.start_seq)
        size = max(last, ack, 0)
        if size:
            size -= 1  # the SYN octet
        if self.fin_cnt > 0 and size:
            size -= 1  # the FIN octet
        return size

    # ---- content gaps ([reassem]) ----
    def is_clean(self):
        return self.state == ESTABLISHED or (self.state == CLOSED and self.prev_state == ESTABLISHED)

    def gap(self):  # TCP_Reassembler::Gap -> TCP_Endpoint::Gap when established_or_cleanly_closing
        if self.is_clean() and self.peer.is_clean():
            self.scaled("G", "gap")

    def data_sent(self, seq, length):  # TCP_Reassembler::DataSent (trim what is acked) + NewBlock
        ack = seq_delta(self.ack_seq, self.start_seq)
        upper = seq + length
        if seq < ack:
            if upper <= ack:
                return
            seq = ack
        if upper <= self.last_reassem_seq:
            return
        seq = max(seq, self.last_reassem_seq)
        self.blocks.append((seq, upper))
        self.blocks.sort()
        # BlockInserted: deliver what is now contiguous.
        for b_seq, b_upper in list(self.blocks):
            if b_seq > self.last_reassem_seq:
                break
            self.last_reassem_seq = max(self.last_reassem_seq, b_upper)
        self.blocks = [(s, u) for s, u in self.blocks if u > self.last_reassem_seq]

    def ack_received(self, seq):  # TCP_Reassembler::AckReceived -> TrimToSeq -> Undelivered
        if self.fin_cnt > 0 and seq >= self.fin_seq:
            seq = self.fin_seq - 1
        if seq <= self.trim_seq:
            return
        if seq > self.last_reassem_seq:
            self.undelivered(seq)
        self.trim_seq = seq

    def undelivered(self, up_to):
        if up_to <= 2 and self.conn.is_partial:
            return  # a partial connection's first ack
        # detect_filtered_trace is F by default.
        for b_seq, b_upper in sorted(self.blocks):
            if b_seq < self.last_reassem_seq:
                continue
            if b_seq >= up_to:
                break
            self.gap()  # the hole below this block
            self.last_reassem_seq = max(b_upper, self.last_reassem_seq)
        if up_to > self.last_reassem_seq:
            self.gap()
        self.last_reassem_seq = max(self.last_reassem_seq, up_to)
        self.blocks = [(s, u) for s, u in self.blocks if u > self.last_reassem_seq]


class Connection:
    def __init__(self, index, pkt, flip):
        self.index = index
        self.orig_key = (pkt["src"], pkt["sport"])
        self.resp_key = (pkt["dst"], pkt["dport"])
        self.history = ""
        self.hist_seen = 0
        self.orig = Endpoint(self, True)
        self.resp = Endpoint(self, False)
        self.orig.peer, self.resp.peer = self.resp, self.orig
        self.first_packet_seen = 0  # 1 ORIG, 2 RESP
        self.is_partial = False
        self.start_time = self.last_time = pkt["time"]
        self.inactivity_timeout = UDP_INACTIVITY_TIMEOUT
        self.timers = []  # (time, kind)
        self.frames = []
        self.streams = []
        if flip:
            self.flip_roles()

    def check_history(self, mask, code):  # [session] CheckHistory
        if self.hist_seen & mask == 0:
            self.hist_seen |= mask
            self.history += code
            return False
        return True

    def flip_roles(self):  # [session] Conn.cc FlipRoles + [adapter] FlipRoles
        self.orig_key, self.resp_key = self.resp_key, self.orig_key
        self.orig, self.resp = self.resp, self.orig
        self.orig.is_orig, self.resp.is_orig = True, False
        fps = self.first_packet_seen
        self.first_packet_seen = (2 if fps & 1 else 0) | (1 if fps & 2 else 0)
        self.is_partial = False
        self.history += "^"

    def orig_is(self, pkt):
        return (pkt["src"], pkt["sport"]) == self.orig_key

    def is_closed(self):  # TCPSessionAdapter.h IsClosed
        return self.orig.did_close or self.resp.did_close

    def conn_state(self):  # [main] conn_state(), TCP branch, word for word
        os_, rs = self.orig.state, self.resp.state
        o_inactive = os_ in (INACTIVE, PARTIAL)
        r_inactive = rs in (INACTIVE, PARTIAL)
        if rs == RESET:
            if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and self.orig.size() == 0 and
                                                   self.resp.size() == 0):
                return "REJ"
            return "RSTRH" if o_inactive else "RSTR"
        if os_ == RESET:
            if r_inactive:
                return "RSTOS0" if rstos0_history(self.history) else "OTH"
            return "RSTO"
        if rs == CLOSED and os_ == CLOSED:
            return "SF"
        if os_ == CLOSED:
            return "SH" if r_inactive else "S2"
        if rs == CLOSED:
            return "SHR" if o_inactive else "S3"
        if os_ == SYN_SENT and rs == INACTIVE:
            return "S0"
        if os_ == ESTABLISHED and rs == ESTABLISHED:
            return "S1"
        return "OTH"


def rstos0_history(h):
    """[main] /\\^?S[^HAFGIQ]*R.*/ == c$history: a Zeek pattern compared with == matches the whole
    string (anchored); .* lets anything follow the R."""
    i = 1 if h.startswith("^") else 0
    if h[i:i + 1] != "S":
        return False
    for ch in h[i + 1:]:
        if ch in "HAFGIQ":
            return False
        if ch == "R":
            return True
    return False


def want_connection(pkt):
    """[tcp] WantConnection: flip when the first packet is not a bare SYN and its source port is
    a likely server port (both likely: only a non-SYN from the lower port)."""
    f = pkt["flags"]
    if not (f & SYN) or (f & ACK):
        if pkt["sport"] in LIKELY_SERVER_PORTS:
            if pkt["dport"] in LIKELY_SERVER_PORTS:
                return not (f & SYN) and pkt["sport"] < pkt["dport"]
            return True
    return False


def is_reuse(c, pkt):
    """[adapter] IsReuse: only a SYN starts a new connection on a known 4-tuple."""
    f = pkt["flags"]
    if not f & SYN:
        return False
    conn_orig = c.orig
    if f & ACK:
        if c.orig.state != INACTIVE:
            return False
        conn_orig = c.resp
    if not c.is_closed():
        if pkt["seq"] == conn_orig.start_seq:
            return False
        if (not f & ACK and conn_orig.state == SYN_ACK_SENT and c.resp.state == INACTIVE and
                pkt["seq"] == c.resp.start_seq):
            return False
    return True


def process(c, pkt):
    """[adapter] TCPSessionAdapter::Process, in its order."""
    f = pkt["flags"]
    is_orig = c.orig_is(pkt)
    ep = c.orig if is_orig else c.resp
    peer = ep.peer
    syn, fin, rst, ack = bool(f & SYN), bool(f & FIN), bool(f & RST), bool(f & ACK)
    length = pkt["len"]

    # SetPartialStatus
    if ep.is_orig:
        if not c.first_packet_seen & 1:
            c.is_partial = (not syn) or ack
    elif not c.first_packet_seen & 2 and not c.is_partial:
        c.is_partial = not syn

    seg_len = length + (1 if syn else 0) + (1 if fin else 0)
    if rst:
        seg_len -= length
    base_seq = pkt["seq"]
    seq_one_past = (base_seq + seg_len) & 0xFFFFFFFF

    # init_endpoint
    if ep.state == INACTIVE:
        if syn:
            ep.init_seqs(base_seq, seq_one_past)
        else:
            ep.init_seqs(base_seq - 1, base_seq)  # partial: as though a SYN was seen
    elif ep.state in (SYN_SENT, SYN_ACK_SENT):
        if syn and base_seq != ep.start_seq:
            ep.init_seqs(base_seq, seq_one_past)  # SYN_seq_jump
    elif ep.state in (ESTABLISHED, PARTIAL):
        if syn:
            ep.init_seqs(base_seq, seq_one_past)
    elif ep.state == RESET:
        if syn and ep.prev_state == INACTIVE:
            ep.init_seqs(base_seq, seq_one_past)

    rel_seq = ep.rel(base_seq)
    seq_underflow = rel_seq < 0

    # update_history
    bits = int(syn) + int(fin) + int(rst)
    if bits > 1:
        if fin and rst:
            ep.check_history(HIST_FIN_RST_PKT, "I")
        else:
            ep.check_history(HIST_MULTI_FLAG_PKT, "Q")
    elif bits == 1:
        if syn:
            code = "H" if ack else "S"
            if ep.check_history(HIST_SYN_PKT, code) and rel_seq != ep.hist_last_syn:
                ep.add_history(code)
            ep.hist_last_syn = rel_seq
        if fin:
            # "For FIN's, the sequence number comes at the end of (any data in) the packet"
            if ep.check_history(HIST_FIN_PKT, "F") and rel_seq + length != ep.hist_last_fin:
                ep.add_history("F")
            ep.hist_last_fin = rel_seq + length
        if rst:
            if ep.check_history(HIST_RST_PKT, "R") and rel_seq != ep.hist_last_rst:
                ep.add_history("R")
            ep.hist_last_rst = rel_seq
    else:
        if length:
            ep.check_history(HIST_DATA_PKT, "D")
        elif ack:
            ep.check_history(HIST_ACK_PKT, "A")

    # update_window: a zero window (the raw field; window << scale is 0 iff it is 0)
    if pkt["win"] == 0 and not rst and peer.state != CLOSED and ep.state != RESET:
        ep.scaled("W", "win0")

    if not c.orig.did_close or not c.resp.did_close:
        c.last_time = pkt["time"]

    if fin:
        ep.fin_cnt += 1
        ep.fin_seq = rel_seq + seg_len
    if rst:
        ep.rst_cnt += 1

    rel_ack = 0
    if ack:
        if peer.state == INACTIVE:
            rel_ack = 1
            peer.init_seqs(pkt["ack"] - 1, pkt["ack"] - 1)  # init_peer
        else:
            rel_ack = peer.rel(pkt["ack"])
            if rel_ack < 0:
                rel_ack = 0  # TCP_ack_underflow_or_misorder
            elif not rst:  # update_ack_seq: "Don't trust ack's in RST packets"
                d = seq_delta(pkt["ack"], peer.ack_seq)
                if not (pkt["ack"] == 0 and d > TOO_LARGE_SEQ_DELTA) and d > 0:
                    peer.ack_seq = pkt["ack"]

    # update_last_seq
    delta_last = seq_delta(seq_one_past, ep.last_seq)
    if (syn or rst) and (delta_last > TOO_LARGE_SEQ_DELTA or delta_last < -TOO_LARGE_SEQ_DELTA):
        pass
    elif fin and ep.last_seq == (ep.start_seq + 1) & 0xFFFFFFFF:
        ep.last_seq = seq_one_past
    elif ep.state == RESET:
        pass
    elif delta_last > 0:
        ep.last_seq = seq_one_past
    elif length > 0:
        ep.scaled("T", "rxmt")  # DidRxmit

    do_close = update_state_machine(c, ep, peer, pkt, is_orig, delta_last)

    if ack:
        peer.ack_received(rel_ack)

    # CheckPIA_FirstPacket (with Process's is_orig, taken before any flip)
    c.first_packet_seen |= 1 if is_orig else 2

    rel_data_seq = rel_seq + 1 if syn else rel_seq
    if length > 0 and not rst and not seq_underflow:
        ep.data_sent(rel_data_seq, length)

    if do_close:
        connection_closed(c, ep, peer)


def update_state_machine(c, ep, peer, pkt, is_orig, delta_last):
    """[adapter] UpdateStateMachine and the Update*State functions; returns do_close."""
    f = pkt["flags"]
    syn, fin, rst, ack = bool(f & SYN), bool(f & FIN), bool(f & RST), bool(f & ACK)
    do_close = False
    if ep.state == INACTIVE:  # UpdateInactiveState
        if syn:
            if is_orig:
                ep.set_state(SYN_ACK_SENT if ack else SYN_SENT)
                c.timers.append((pkt["time"] + TCP_ATTEMPT_DELAY, "attempt"))
            else:
                if not ack and peer.state == SYN_ACK_SENT and pkt["seq"] == ep.start_seq:
                    # "This is a SYN/SYN-ACK reversal ... Flip the endpoints and establish"
                    c.is_partial = False
                    c.flip_roles()
                    peer.set_state(ESTABLISHED)
                    c.first_packet_seen |= 1  # SetFirstPacketSeen(true)
                if peer.state == SYN_SENT:
                    peer.set_state(ESTABLISHED)
                ep.set_state(ESTABLISHED)
        if fin:
            ep.set_state(CLOSED)
            do_close = True
        if rst:
            ep.set_state(RESET)
            do_close = True
        if ep.state == INACTIVE:
            if not is_orig and pkt["len"] == 0 and c.orig.state == SYN_SENT:
                pass  # an ack of the SYN before the SYN-ACK: not a partial connection
            elif ack and peer.state == ESTABLISHED:
                ep.set_state(ESTABLISHED)  # "we just missed that initial SYN"
                c.is_partial = False
                c.first_packet_seen |= 1 if is_orig else 2
            else:
                ep.set_state(PARTIAL)
    elif ep.state in (SYN_SENT, SYN_ACK_SENT):  # UpdateSYN_SentState
        if fin:
            ep.set_state(CLOSED)
            do_close = True
        if rst:
            ep.set_state(RESET)
            do_close = True
    elif ep.state in (ESTABLISHED, PARTIAL):  # UpdateEstablishedState
        if syn and ep.state == PARTIAL and peer.state == INACTIVE and not ack:
            ep.set_state(SYN_SENT)  # SYN_after_partial
        if fin and not rst:
            ep.set_state(CLOSED)
            if peer.state == RESET and peer.prev_state == CLOSED:
                peer.set_state(CLOSED)  # "The peer sent a FIN followed by a RST ... normal termination"
            do_close = True
        if rst:
            ep.set_state(RESET)
            do_close = True
    elif ep.state == CLOSED:  # UpdateClosedState
        if rst and ep.peer.state != CLOSED:
            ep.set_state(RESET)
            if not ep.did_close:
                do_close = True
    # RESET: UpdateResetState only reports weirds
    return do_close


def connection_closed(c, ep, peer):
    """[adapter] ConnectionClosed (no data pending: deliveries are not deferred here)."""
    if ep.did_close:
        return
    ep.did_close = True
    if ep.state == RESET or peer.did_close or peer.state == INACTIVE:
        # close complete: the connection is deleted tcp_close_delay after its last time
        c.timers.append((c.last_time + TCP_CLOSE_DELAY, "delete"))


def fire_timers(c, t):
    """Zeek advances network time to the packet's timestamp and dispatches due timers first.
    Returns True when the connection has been removed."""
    if c.last_time + c.inactivity_timeout <= t:  # Session::InactivityTimer
        return True
    for when, kind in sorted(c.timers):
        if when > t:
            break
        if kind == "delete":  # DeleteTimer / ConnDeleteTimer
            return True
        if kind == "attempt":  # AttemptTimer
            if c.orig.state in (SYN_SENT, SYN_ACK_SENT) and c.resp.state == INACTIVE:
                return True
    c.timers = [(w, k) for w, k in c.timers if w > t]
    return False


FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
          "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
          "tcp.window_size_value"]


def read_packets(capture, tshark="tshark"):
    cmd = [tshark, "-r", capture, "-Y", "tcp and not icmp and not icmpv6", "-T", "fields",
           "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr}")
    return parse_packets(out.stdout)


def epoch(text):
    """frame.time_epoch as a number; of a fuzzed timestamp that Wireshark 4.4 prints oddly
    ("6553600.(2097152000 nanoseconds)"), the number it starts with."""
    m = re.match(r"-?\d+(\.\d+)?", text)
    return float(m.group(0)) if m else 0.0


def parse_packets(text):
    """The packets of `tshark -T fields` output with FIELDS in order (tests/corpus runs its own)."""
    pkts = []
    for line in text.splitlines():
        v = line.split("\t")
        if len(v) < len(FIELDS) or not v[10]:
            continue  # a TCP header too short to carry sequence numbers
        pkts.append({
            "frame": int(v[0]), "time": epoch(v[1]), "stream": int(v[2]),
            "src": v[3] or v[4], "dst": v[5] or v[6], "sport": int(v[7]), "dport": int(v[8]),
            "flags": int(v[9], 16), "seq": int(v[10]), "ack": int(v[11] or 0), "len": int(v[12] or 0),
            "win": int(v[13] or 0),
        })
    return pkts


def analyze(pkts):
    """All Zeek connections of a capture, in creation order."""
    table, conns = {}, []
    for pkt in pkts:
        key = frozenset([(pkt["src"], pkt["sport"]), (pkt["dst"], pkt["dport"])])
        c = table.get(key)
        if c is not None and fire_timers(c, pkt["time"]):
            c = None
        if c is not None and is_reuse(c, pkt):
            c = None
        if c is None:
            c = Connection(len(conns), pkt, want_connection(pkt))
            table[key] = c
            conns.append(c)
        c.frames.append(pkt["frame"])
        if pkt["stream"] not in c.streams:
            c.streams.append(pkt["stream"])
        process(c, pkt)
    return conns


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--frames", action="store_true", help="one line per TCP frame")
    ap.add_argument("--tshark", default=os.environ.get("ZEEK_RULES_TSHARK", "tshark"))
    args = ap.parse_args()
    if args.frames:
        print("#capture\tframe\ttcp.stream\tzeek_conn\tconn_state\thistory")
    else:
        print("#capture\ttcp.stream\tfirst_frame\tconn_state\thistory  "
              "(tests/batch/zeek_rules.py: Zeek's rules on Wireshark's TCP fields, not tcpstate's)")
    for cap in args.captures:
        name = os.path.splitext(os.path.basename(cap))[0]
        pkts = read_packets(cap, args.tshark)
        conns = analyze(pkts)
        if args.frames:
            verdict = {}
            for c in conns:
                for fr in c.frames:
                    verdict[fr] = c
            for p in pkts:
                c = verdict[p["frame"]]
                print(f"{name}\t{p['frame']}\t{p['stream']}\t{c.index}\t{c.conn_state()}\t{c.history}")
        else:
            for c in conns:
                streams = ",".join(str(s) for s in c.streams)
                print(f"{name}\t{streams}\t{c.frames[0]}\t{c.conn_state()}\t{c.history}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
