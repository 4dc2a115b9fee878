#!/usr/bin/env python3
"""Record TCP scenarios with real sockets on loopback, together with the kernel's own TCP states.

Needs root on Linux with tcpdump, nft, ss and tracefs.  Standard library only.

  scenarios.py --out sample-pcaps                 # record all scenarios (what regenerate.sh does)
  scenarios.py --out DIR --only seed-walkthrough  # one scenario
  scenarios.py --live DIR                         # record all into DIR on free ports (used by live.sh)
  scenarios.py --list

For every scenario <name> it writes <name>.pcap and <name>.truth.tsv (see truth.py for the rules); with
--keep-raw also <name>.raw.json (kernel events + metadata) and <name>.txt (packets, events and truth side by side).
Exit status: 0 ok, 1 a scenario failed, 77 skipped (not root / tools missing).
"""

import argparse
import errno
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernlib  # noqa: E402
import truth  # noqa: E402
from kernlib import CLEANUP, track_socket  # noqa: E402

TCP_KEEPIDLE = getattr(socket, "TCP_KEEPIDLE", 4)
TCP_KEEPINTVL = getattr(socket, "TCP_KEEPINTVL", 5)
TCP_KEEPCNT = getattr(socket, "TCP_KEEPCNT", 6)
TCP_FASTOPEN = getattr(socket, "TCP_FASTOPEN", 23)
MSG_FASTOPEN = getattr(socket, "MSG_FASTOPEN", 0x20000000)
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)


class ScenarioError(Exception):
    pass


# --------------------------------------------------------------------------------------------------------------------
# Scenario context
# --------------------------------------------------------------------------------------------------------------------
class Ctx:
    def __init__(self, name, family, server_port, client_port, workdir, snaplen, tag, pcap_name=None, loss=None):
        self.name = name
        self.family = family
        self.host = "127.0.0.1" if family == socket.AF_INET else "::1"
        self.sport = server_port
        self.cport = client_port
        self.workdir = workdir
        self.snaplen = snaplen
        self.tag = tag
        self.pcap = os.path.join(workdir, f"{pcap_name or name}.pcap")
        self.loss = loss or []     # injected losses of a loss variant (see install_loss), installed with the capture
        self.drops = []
        self.snapshots = []
        self.sysctl = {}
        self.capture = None
        self.capture_late = False
        self.nft = None
        self.sockets = []
        self.extra_ports = []   # ports whose events are traced but whose packets are not captured
        self.client_ep = (self.host, client_port)
        self.server_ep = (self.host, server_port)
        self.expect_drops = {}
        self.bpf_extra = ""        # appended to the capture filter (e.g. a direction, or leaving a segment out)
        self.full_capture = None   # a second, unfiltered capture the truth is built from (one-direction)
        self.injected = []         # segments sent through a raw socket, not by a kernel socket (see inject())
        self.model_events = []     # state changes of a side with no kernel socket, logged by this script

    # sockets ----------------------------------------------------------------------------------------------------
    def sock(self):
        s = track_socket(socket.socket(self.family, socket.SOCK_STREAM))
        self.sockets.append(s)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return s

    def listen(self, port=None, backlog=8, fastopen=False):
        s = self.sock()
        s.bind((self.host, port or self.sport))
        if fastopen:
            s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
        s.listen(backlog)
        return s

    def client(self, port=None):
        s = self.sock()
        s.bind((self.host, port or self.cport))
        return s

    def connect(self, s, port=None, timeout=5):
        s.settimeout(timeout)
        s.connect((self.host, port or self.sport))
        s.settimeout(None)

    def connect_nb(self, s, port=None):
        s.setblocking(False)
        err = s.connect_ex((self.host, port or self.sport))
        if err not in (0, errno.EINPROGRESS):
            raise ScenarioError(f"connect: {os.strerror(err)}")
        s.setblocking(True)

    def accept(self, ls, timeout=5):
        ls.settimeout(timeout)
        c, _ = ls.accept()
        ls.settimeout(None)
        track_socket(c)
        self.sockets.append(c)
        return c

    def recv_exact(self, s, n, timeout=5):
        s.settimeout(timeout)
        buf = b""
        while len(buf) < n:
            d = s.recv(n - len(buf))
            if not d:
                raise ScenarioError(f"EOF after {len(buf)} of {n} bytes")
            buf += d
        s.settimeout(None)
        return buf

    def recv_eof(self, s, timeout=5):
        s.settimeout(timeout)
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.settimeout(None)
        return buf

    @staticmethod
    def sleep(t):
        time.sleep(t)

    # nft drops --------------------------------------------------------------------------------------------------
    def _match(self, frm, mask, value):
        """nft match for segments sent by `frm` ('client'|'server') with (tcp flags & mask) == value."""
        src, dst = (self.client_ep, self.server_ep) if frm == "client" else (self.server_ep, self.client_ep)
        ipk = "ip" if self.family == socket.AF_INET else "ip6"
        names = [n for n, b in truth.FLAG_BITS.items() if mask & b]
        vals = [n for n, b in truth.FLAG_BITS.items() if value & b]
        m = (f"{ipk} saddr {src[0]} {ipk} daddr {dst[0]} tcp sport {src[1]} tcp dport {dst[1]} "
             f"tcp flags & ({'|'.join(names)}) == {('(' + '|'.join(vals) + ')') if vals else '0x0'}")
        return m

    def drop(self, frm, mask, value, chain="input", desc=""):
        """Start dropping segments from `frm` matching (flags & mask) == value at `chain`.  Returns a handle for
        undrop().  Input = captured but never received; output = never on the wire."""
        cname = f"drop{len(self.drops)}"
        self.nft.add_counter(cname)
        h = self.nft.add(chain, self._match(frm, mask, value) + f" counter name {cname} drop")
        d = {"chain": chain, "handle": h, "counter": cname, "from": frm, "mask": mask, "value": value,
             "t_on": kernlib.now_ns(),
             "t_off": None, "count": None, "desc": desc or f"{chain} {frm} {truth.flag_str(mask)}={truth.flag_str(value)}"}
        self.drops.append(d)
        return d

    def undrop(self, d, expect=None):
        chain = d.get("nft_chain", d["chain"])
        if d.get("counter"):
            # Delete the rule first, then read its named counter: a segment dropped in between is counted.
            self.nft.delete(chain, d["handle"])
            d["t_off"] = kernlib.now_ns()
            cnt = self.nft.counter_value(d["counter"])
        else:
            cnt = self.nft.counters().get((chain, d["handle"]), 0)
            self.nft.delete(chain, d["handle"])
            d["t_off"] = kernlib.now_ns()
        d["count"] = cnt
        # In a loss variant the injected loss may change what the scenario's own drop rules see (a segment they
        # were written for may be gone, or come later): their count is recorded (truth R9 uses it), not enforced.
        if expect is not None and cnt != expect and not self.loss:
            raise ScenarioError(f"drop rule '{d['desc']}' dropped {cnt} segments, expected {expect}")

    def install_loss(self):
        """Loss variants (tests/kernel/variants.py): drop exactly the nth segment of one direction, once.

        Each loss is {"hook": "input"|"output", "from": "client"|"server", "nth": n, "mask": m, "value": v}: the rule
        matches the direction's segments with (flags & m) == v (m = 0: every segment) and drops the nth of them that
        reaches it, counted by `numgen inc` (a per-rule counter incremented only by segments that passed the rule's
        earlier matches).  The rules live in their own chains at priority -500, before the scenario's own drop
        rules (-400), and are installed right after the capture started, so at the input hook their count is the
        captured order of that direction.  A second rule in the same chain only sees what the first let through
        (double losses: the segment, then its first retransmission)."""
        if not self.loss:
            return
        ipk = "ip" if self.family == socket.AF_INET else "ip6"
        made = set()
        for i, l in enumerate(self.loss):
            chain = "loss_in" if l["hook"] == "input" else "loss_out"
            if chain not in made:
                self.nft.add_chain(chain, l["hook"], -500)
                made.add(chain)
            src, dst = (self.client_ep, self.server_ep) if l["from"] == "client" else (self.server_ep, self.client_ep)
            m = f"{ipk} saddr {src[0]} {ipk} daddr {dst[0]} tcp sport {src[1]} tcp dport {dst[1]}"
            mask, value = l.get("mask", 0), l.get("value", 0)
            if mask:
                names = [n for n, b in truth.FLAG_BITS.items() if mask & b]
                vals = [n for n, b in truth.FLAG_BITS.items() if value & b]
                m += f" tcp flags & ({'|'.join(names)}) == {('(' + '|'.join(vals) + ')') if vals else '0x0'}"
            h = self.nft.add(chain, m + f" numgen inc mod 1000000000 {l['nth'] - 1} counter drop")
            self.drops.append({"chain": l["hook"], "nft_chain": chain, "handle": h, "from": l["from"], "mask": mask,
                               "value": value, "nth": l["nth"], "loss": i, "t_on": kernlib.now_ns(), "t_off": None,
                               "count": None, "desc": f"loss {l['hook']} {l['from']} #{l['nth']} of "
                               f"{truth.flag_str(mask)}={truth.flag_str(value)}"})

    # ss ---------------------------------------------------------------------------------------------------------
    def ss(self, label):
        ts = kernlib.now_ns()
        socks = kernlib.ss_sockets({self.sport, self.cport})
        self.snapshots.append({"label": label, "ts": ts, "ts_end": kernlib.now_ns(), "sockets": socks})
        return socks

    def ss_state(self, local_port, peer_port):
        return [s[0] for s in kernlib.ss_sockets({local_port}) if s[1] == local_port and s[2] == peer_port]

    # sysctl -----------------------------------------------------------------------------------------------------
    def set_sysctl(self, name, value):
        old = kernlib.set_sysctl(name, value)
        CLEANUP.add(f"restore sysctl {name}={old}", lambda: kernlib.set_sysctl(name, old))
        self.sysctl[name] = str(value)

    # capture ----------------------------------------------------------------------------------------------------
    def start_capture(self):
        bpf = f"tcp and host {self.host} and port {self.sport} and port {self.cport}"
        if self.full_capture is not None:
            self.full_capture.start()
        self.capture = kernlib.Capture(self.pcap, bpf + (f" and ({self.bpf_extra})" if self.bpf_extra else ""),
                                       snaplen=self.snaplen)
        self.capture.start()
        self.install_loss()

    def captured(self, pred, timeout=2.0):
        """Wait until a captured packet satisfies pred(packet dict, see truth.read_pcap) and return it."""
        deadline = time.monotonic() + timeout
        while True:
            for p in truth.read_pcap(self.pcap):
                if p["tcp"] and pred(p):
                    return p
            if time.monotonic() > deadline:
                raise ScenarioError("expected segment not captured")
            time.sleep(0.01)

    # raw-socket segments -------------------------------------------------------------------------------------
    def inject(self, frm, flags, seq, ack=0, window=0, mark=0, ttl=0):
        """Send one crafted IPv4 segment as if from `frm` ('client'|'server') through a raw socket.  No kernel
        socket sends it, so no kernel socket's state changes by sending it; it is recorded in the metadata
        (`captured` False when the capture filter leaves it out: ttl == UNCAPTURED_TTL)."""
        src, dst = (self.client_ep, self.server_ep) if frm == "client" else (self.server_ep, self.client_ep)
        t = kernlib.now_ns()
        send_raw(src, dst, flags, seq, ack, window, mark, ttl)
        self.injected.append({"from": frm, "flags": flags, "seq": seq & 0xFFFFFFFF, "ack": ack & 0xFFFFFFFF,
                              "window": window, "ts": t, "captured": ttl != UNCAPTURED_TTL})

    def kernel_rst_drop(self, side):
        """Drop at the output hook (never on the wire) the RSTs the kernel sends from `side`'s port when that side
        has no socket (RFC 9293 3.10.7.1); the script's own segments carry RAW_MARK and pass."""
        src, dst = (self.client_ep, self.server_ep) if side == "client" else (self.server_ep, self.client_ep)
        rule = (f"ip saddr {src[0]} ip daddr {dst[0]} tcp sport {src[1]} tcp dport {dst[1]} "
                f"tcp flags & rst == rst meta mark != {RAW_MARK:#x} counter drop")
        h = self.nft.add("output", rule)
        self.drops.append({"chain": "output", "handle": h, "from": side, "mask": truth.RST, "value": truth.RST,
                           "t_on": kernlib.now_ns(), "t_off": None, "count": None,
                           "desc": f"output {side} kernel RSTs (no socket), unmarked"})

    def model(self, side, old, new):
        """Log a state change of a side that has no kernel socket (its segments come from this script through a
        raw socket), in the tracepoint's terms: the truth builder applies the same rules to it as to kernel
        events.  Source "scenario", see sample-pcaps/README.md."""
        lp, rp = (self.cport, self.sport) if side == "client" else (self.sport, self.cport)
        self.model_events.append({"ts": kernlib.now_ns(), "family": "AF_INET", "sport": lp, "dport": rp,
                                  "saddr": self.host, "daddr": self.host, "old": old, "new": new,
                                  "source": "scenario"})

    def close_all(self):
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


# --------------------------------------------------------------------------------------------------------------------
# Scenarios.  Each is a function(ctx).  Ports: (server, client) fixed per scenario, shifted by --port-offset.
# --------------------------------------------------------------------------------------------------------------------
SCENARIOS = {}


def scenario(name, sport, cport, family=socket.AF_INET, snaplen=262144, capture_late=False, doc="", verify=None,
             starts_capture=False):
    """Register a scenario.  `verify(events, sport, cport)` may reject a recording whose kernel events show that the
    intended sequence did not happen (e.g. a race went the other way).  `starts_capture`: the scenario starts the
    capture itself (after setting its filter), at the very beginning."""
    def deco(fn):
        SCENARIOS[name] = dict(fn=fn, sport=sport, cport=cport, family=family, snaplen=snaplen, verify=verify,
                               capture_late=capture_late, starts_capture=starts_capture,
                               doc=doc or (fn.__doc__ or "").strip().splitlines()[0])
        return fn
    return deco


def _bio_server(ctx, ls, reply=None, close_after=None, result=None):
    """Like the seed's Java BIOServer: accept, read until EOF (optionally answering the first line), then keep
    the socket open until `close_after` seconds have passed since EOF (process quits) and close."""
    c = ctx.accept(ls)
    data = c.recv(1024)
    if reply is not None:
        c.sendall(reply)
    rest = ctx.recv_eof(c)
    if result is not None:
        result["data"] = data + rest
    if close_after is not None:
        time.sleep(close_after)
        c.close()
    return c


@scenario("seed-walkthrough", 8888, 40001, doc="the seed article: telnet-like client, BIOServer on 8888 that "
          "closes ~1 s after EOF (FIN, ACK, FIN, ACK)")
def sc_seed(ctx):
    """Seed article walkthrough: SYN, SYN-ACK, ACK, data, FIN, ACK, (1 s) FIN, ACK."""
    ls = ctx.listen()
    ctx.ss("listening")
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    # Without this the server (still in quick-ACK mode right after the handshake) ACKs the line at once and the
    # reply follows as a second segment; with delayed ACK the reply carries the ACK, as in the seed's capture.
    s.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 0)
    ctx.sleep(0.1)
    ctx.ss("established")
    c.sendall(b"hello\r\n")
    assert s.recv(100) == b"hello\r\n"
    s.sendall(b"hi\r\n")
    assert c.recv(100) == b"hi\r\n"
    ctx.sleep(0.1)            # let the client's delayed ACK of the reply go out
    c.close()                 # telnet quits: FIN
    assert s.recv(100) == b""  # server reads EOF ...
    ctx.sleep(0.3)
    ctx.ss("client closed: client FIN-WAIT-2, server CLOSE-WAIT")
    ctx.sleep(0.7)            # ... but keeps the socket until the process quits ~1 s later
    s.close()
    ctx.sleep(0.2)
    ctx.ss("server quit: client TIME-WAIT, server CLOSED")


@scenario("server-closes-first", 9002, 40002, doc="the server closes first (server TIME-WAIT, client LAST-ACK)")
def sc_server_first(ctx):
    """Server closes first; client reads EOF and closes 0.3 s later: FIN, ACK, FIN, ACK the other way round."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"ping")
    assert s.recv(10) == b"ping"
    s.sendall(b"pong")
    assert c.recv(10) == b"pong"
    ctx.sleep(0.1)
    s.close()
    assert c.recv(10) == b""
    ctx.sleep(0.3)
    ctx.ss("server closed")
    c.close()
    ctx.sleep(0.2)
    ctx.ss("both closed")


@scenario("three-segment-close", 9003, 40003, doc="FIN, FIN+ACK, ACK: the server closes on EOF, its ACK rides "
          "with its FIN")
def sc_three(ctx):
    """The server closes as soon as it reads EOF, so its delayed ACK of the client FIN rides with its FIN."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"bye")
    assert s.recv(10) == b"bye"
    ctx.sleep(0.1)
    t = threading.Thread(target=lambda: (ctx.recv_eof(s), s.close()))
    t.start()
    ctx.sleep(0.05)
    c.close()
    t.join()
    ctx.sleep(0.2)
    ctx.ss("closed")


def _refused(ctx):
    c = ctx.client()
    try:
        ctx.connect(c)
    except ConnectionRefusedError:
        pass
    else:
        raise ScenarioError("connection was not refused")
    ctx.sleep(0.1)
    ctx.ss("refused")


@scenario("refused-ipv4", 9004, 40004, doc="no listener: SYN answered by RST+ACK (IPv4)")
def sc_refused4(ctx):
    """No listener on the port: the SYN is answered by RST+ACK."""
    _refused(ctx)


@scenario("refused-ipv6", 9005, 40005, family=socket.AF_INET6, doc="no listener: SYN answered by RST+ACK (IPv6)")
def sc_refused6(ctx):
    """No listener on the port (IPv6): the SYN is answered by RST+ACK."""
    _refused(ctx)


@scenario("abortive-close-linger0", 9006, 40006, doc="SO_LINGER {1,0} then close(): RST instead of FIN")
def sc_linger0(ctx):
    """Client sets SO_LINGER {1, 0} and closes: RST, no TIME-WAIT."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"x")
    assert s.recv(10) == b"x"
    ctx.sleep(0.1)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    ctx.sleep(0.1)
    ctx.ss("aborted")


@scenario("close-with-unread-data", 9007, 40007, doc="the server closes with unread received data: RST instead "
          "of FIN")
def sc_unread(ctx):
    """The client sends data the server never reads; the server's close() sends RST (RFC 2525 2.17)."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"unread")
    ctx.sleep(0.1)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("reset")


@scenario("half-close", 9008, 40008, doc="client shutdown(SHUT_WR), the server keeps sending, then closes")
def sc_half_close(ctx):
    """Client half-closes (FIN), the server still sends two segments, then closes; client TIME-WAIT."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"req")
    assert s.recv(10) == b"req"
    c.shutdown(socket.SHUT_WR)
    assert s.recv(10) == b""
    ctx.sleep(0.1)
    ctx.ss("half-closed")
    s.sendall(b"part1")
    ctx.sleep(0.1)
    s.sendall(b"part2")
    ctx.sleep(0.1)
    assert ctx.recv_exact(c, 10) == b"part1part2"
    s.close()
    assert c.recv(10) == b""
    ctx.sleep(0.1)
    c.close()
    ctx.sleep(0.1)
    ctx.ss("closed")


@scenario("data-to-closed-socket", 9009, 40009, doc="the client close()s, the server sends data afterwards, "
          "the client answers RST")
def sc_data_to_closed(ctx):
    """Client close(): FIN; the server ACKs and later sends data to the orphaned FIN-WAIT-2 client, which answers
    RST."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"q")
    assert s.recv(10) == b"q"
    ctx.sleep(0.1)
    c.close()
    assert s.recv(10) == b""
    ctx.sleep(0.2)
    ctx.ss("client orphaned in FIN-WAIT-2")
    s.send(b"late")
    ctx.sleep(0.1)
    ctx.ss("after reset")


@scenario("lost-syn", 9010, 40010, doc="the first SYN is lost (input drop); retransmitted after 1 s")
def sc_lost_syn(ctx):
    """The first SYN is captured but dropped before the server sees it; the client retransmits after 1 s."""
    ls = ctx.listen()
    d = ctx.drop("client", truth.SYN | truth.ACK, truth.SYN)
    c = ctx.client()
    ctx.connect_nb(c)
    ctx.sleep(0.3)
    ctx.ss("SYN lost")
    ctx.undrop(d, expect=1)
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("lost-syn-ack", 9011, 40011, doc="the first SYN-ACK is lost (input drop); SYN retransmitted, SYN-ACK "
          "again")
def sc_lost_synack(ctx):
    """The server's first SYN-ACK is dropped before the client sees it."""
    ls = ctx.listen()
    d = ctx.drop("server", truth.SYN | truth.ACK, truth.SYN | truth.ACK)
    c = ctx.client()
    ctx.connect_nb(c)
    ctx.sleep(0.3)
    ctx.ss("SYN-ACK lost")
    ctx.undrop(d, expect=1)
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("lost-fin", 9012, 40012, doc="the client's first FIN is lost (input drop) and retransmitted")
def sc_lost_fin(ctx):
    """The client's FIN is dropped before the server sees it; the RTO retransmits it."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    d = ctx.drop("client", truth.FIN, truth.FIN)
    c.shutdown(socket.SHUT_WR)
    ctx.sleep(0.1)
    ctx.ss("FIN lost")
    ctx.undrop(d, expect=1)
    assert ctx.recv_eof(s) == b""
    ctx.sleep(0.2)
    s.close()
    ctx.sleep(0.1)
    c.close()
    ctx.sleep(0.1)
    ctx.ss("closed")


@scenario("lost-final-ack", 9013, 40013, doc="the seed's 2MSL question: the last ACK is lost, the server's FIN "
          "comes again and TIME-WAIT answers it")
def sc_lost_final_ack(ctx):
    """Client closes, server closes 0.3 s later; the client's last ACK is dropped, so the server (LAST-ACK)
    retransmits its FIN and the client's TIME-WAIT socket ACKs it again."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    c.close()
    assert s.recv(10) == b""
    ctx.sleep(0.3)
    # the client's last ACK: pure ACK (no SYN/FIN/RST/PSH) sent after this point
    d = ctx.drop("client", truth.SYN | truth.FIN | truth.RST | truth.ACK | truth.PSH, truth.ACK)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("final ACK lost")
    ctx.undrop(d, expect=1)
    ctx.sleep(0.6)
    ctx.ss("after FIN retransmission")


def _both_syn_recv(events, sport, cport):
    got = {(e["sport"], e["dport"]) for e in events if e["old"] == "SYN_SENT" and e["new"] == "SYN_RECV"}
    if got != {(sport, cport), (cport, sport)}:
        raise ScenarioError(f"the SYNs did not cross (SYN_SENT->SYN_RECV logged for {sorted(got)})")


@scenario("simultaneous-open", 9014, 40014, doc="both sides connect() to each other; both SYNs are dropped "
          "once so the retransmissions cross", verify=_both_syn_recv)
def sc_simultaneous_open(ctx):
    """Two sockets bound to fixed ports connect() to each other (a few microseconds apart, which loopback cannot
    cross by itself: the first SYN would meet a closed port).  Both first SYNs are dropped at the input hook; the
    two SYN retransmission timers (1 s) then expire together (same CPU, same timer-wheel slot), so each side's
    retransmitted SYN reaches the other while it is still SYN-SENT: both go SYN-SENT -> SYN-RECEIVED, both send
    SYN-ACK, both become ESTABLISHED (RFC 9293 figure 8), then both ACK the other's SYN-ACK."""
    a = ctx.client()                 # the client: its SYN goes first
    b = ctx.client(port=ctx.sport)   # the "server" side, port sport
    d1 = ctx.drop("client", truth.SYN | truth.ACK, truth.SYN)
    d2 = ctx.drop("server", truth.SYN | truth.ACK, truth.SYN)
    ctx.connect_nb(a, port=ctx.sport)
    ctx.connect_nb(b, port=ctx.cport)
    ctx.sleep(0.3)
    ctx.ss("both SYN-SENT")
    ctx.undrop(d1, expect=1)
    ctx.undrop(d2, expect=1)
    ctx.sleep(1.2)
    ctx.ss("established")
    a.sendall(b"a")
    assert b.recv(10) == b"a"
    ctx.sleep(0.1)
    a.close()
    ctx.recv_eof(b)
    b.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("simultaneous-close", 9015, 40015, doc="both sides close at once: each first FIN is dropped at input "
          "so both retransmit and cross (CLOSING on both sides)")
def sc_simultaneous_close(ctx):
    """Both sides shut down; each first FIN is dropped at the input hook, so both sides are FIN-WAIT-1 when the
    other's FIN arrives: CLOSING, then TIME-WAIT on both sides."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    d1 = ctx.drop("client", truth.FIN, truth.FIN)
    d2 = ctx.drop("server", truth.FIN, truth.FIN)
    c.shutdown(socket.SHUT_WR)
    s.shutdown(socket.SHUT_WR)
    ctx.sleep(0.1)
    ctx.ss("both FIN-WAIT-1")
    ctx.undrop(d1, expect=1)
    ctx.undrop(d2, expect=1)
    ctx.sleep(1.0)
    ctx.ss("both TIME-WAIT")
    c.close()
    s.close()


@scenario("ipv6", 9016, 40016, family=socket.AF_INET6, doc="a normal connection over ::1")
def sc_ipv6(ctx):
    """Normal connection over IPv6: handshake, data both ways, client closes, server closes."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"v6")
    assert s.recv(10) == b"v6"
    s.sendall(b"ok")
    assert c.recv(10) == b"ok"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    ctx.sleep(0.2)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("closed")


@scenario("tcp-fast-open", 9017, 40017, doc="TFO: data on the SYN with a cookie fetched by an earlier "
          "(uncaptured) connection")
def sc_tfo(ctx):
    """net.ipv4.tcp_fastopen=3.  A first connection from another client port (not captured) obtains the cookie;
    the captured connection sends its data on the SYN (MSG_FASTOPEN)."""
    ctx.set_sysctl("net.ipv4.tcp_fastopen", 3)
    ls = ctx.listen(fastopen=True)
    # cookie fetch, client port cport+1000 (outside the capture filter)
    c0 = ctx.client(port=ctx.cport + 1000)
    c0.sendto(b"cookie?", MSG_FASTOPEN, (ctx.host, ctx.sport))
    s0 = ctx.accept(ls)
    assert s0.recv(100) == b"cookie?"
    c0.close()
    s0.close()
    ctx.sleep(0.2)
    ctx.start_capture()
    c = ctx.client()
    c.sendto(b"fast", MSG_FASTOPEN, (ctx.host, ctx.sport))
    s = ctx.accept(ls)
    assert s.recv(10) == b"fast"
    s.sendall(b"ok")
    assert c.recv(10) == b"ok"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    # Close 0.2 s after EOF, so the server's ACK of the client FIN is always its own segment: closing at once
    # raced with that ACK here (FIN+ACK in 7 of 10 runs, ACK then FIN in 3).
    ctx.sleep(0.2)
    ctx.ss("client FIN-WAIT-2, server CLOSE-WAIT")
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("long-transfer", 9018, 40018, snaplen=96, doc="~180 KB from server to client in 130 paced 1400-byte "
          "writes (snaplen 96)")
def sc_long(ctx):
    """The server sends 130 x 1400 bytes with TCP_NODELAY, one write every 0.5 ms, so each write is its own segment
    (lo has a 64 KB MTU and TSO: unpaced writes would be merged into 64 KB segments); captured with snaplen 96."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"GET")
    assert s.recv(10) == b"GET"
    n, size = 130, 1400
    got = {}
    t = threading.Thread(target=lambda: got.update(n=len(ctx.recv_eof(c, timeout=10))))
    t.start()
    chunk = bytes(size)
    for _ in range(n):
        s.sendall(chunk)
        time.sleep(0.0005)
    ctx.sleep(0.1)
    s.close()
    t.join()
    if got.get("n") != n * size:
        raise ScenarioError(f"received {got.get('n')} bytes")
    c.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("mid-connection-start", 9019, 40019, capture_late=True, doc="the capture starts after the handshake")
def sc_mid(ctx):
    """Connect and exchange data first; tcpdump starts afterwards, so the capture has no handshake."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"early")
    assert s.recv(10) == b"early"
    ctx.sleep(0.1)
    ctx.start_capture()
    c.sendall(b"late")
    assert s.recv(10) == b"late"
    s.sendall(b"ok")
    assert c.recv(10) == b"ok"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("lost-final-handshake-ack", 9020, 40020, doc="the handshake's ACK is lost; the server retransmits "
          "its SYN-ACK after 1 s and the client's second ACK completes the handshake")
def sc_lost_hs_ack(ctx):
    """The client's ACK of the SYN-ACK is dropped at input: the client is ESTABLISHED, the server's request socket
    stays SYN-RECEIVED and retransmits its SYN-ACK after 1 s; the client ACKs it again, which completes the
    handshake.  (If the client sent data before that, its data segment would complete the handshake and the loss
    would leave no trace in the capture at all: nothing distinguishes it from a received ACK.)"""
    ls = ctx.listen()
    d = ctx.drop("client", truth.SYN | truth.FIN | truth.RST | truth.ACK | truth.PSH, truth.ACK)
    c = ctx.client()
    ctx.connect(c)
    ctx.sleep(0.1)
    ctx.ss("final ACK lost")
    ctx.undrop(d, expect=1)
    ctx.sleep(1.2)
    ctx.ss("SYN-ACK retransmitted")
    s = ctx.accept(ls)
    c.sendall(b"data")
    assert s.recv(10) == b"data"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("keepalive", 9021, 40021, doc="SO_KEEPALIVE with 1 s idle/interval: probes and their ACKs, no "
          "transition")
def sc_keepalive(ctx):
    """The client enables keepalive (idle 1 s, interval 1 s): two probes (seq = snd.nxt - 1) each ACKed."""
    ls = ctx.listen()
    c = ctx.client()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, TCP_KEEPIDLE, 1)
    c.setsockopt(socket.IPPROTO_TCP, TCP_KEEPINTVL, 1)
    ctx.connect(c)
    s = ctx.accept(ls)
    ctx.sleep(2.5)
    ctx.ss("idle")
    c.close()
    ctx.recv_eof(s)
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")


@scenario("reuse-after-time-wait", 9022, 40022, doc="a new connection on the same 4-tuple while the client's old "
          "socket is in TIME-WAIT (tcp_tw_reuse)")
def sc_reuse(ctx):
    """Connection 1 closes normally (client TIME-WAIT); connection 2 binds the same client port (SO_REUSEADDR) and
    connects again: tcp_tw_reuse (2 = loopback) lets connect() take over the TIME-WAIT 4-tuple."""
    ctx.set_sysctl("net.ipv4.tcp_tw_reuse", 2)
    ls = ctx.listen()
    for i in range(2):
        c = ctx.client()
        ctx.connect(c)
        s = ctx.accept(ls)
        c.sendall(b"n%d" % i)
        assert s.recv(10) == b"n%d" % i
        ctx.sleep(0.1)
        c.close()
        ctx.recv_eof(s)
        s.close()
        ctx.sleep(1.1)   # tcp_tw_reuse needs the timewait socket to be at least 1 s old (timestamps)
        ctx.ss(f"connection {i} closed")


@scenario("syn-to-time-wait-server", 9023, 40023, doc="the server closed first (server TIME-WAIT); the client "
          "reconnects from the same port")
def sc_syn_tw_server(ctx):
    """Connection 1: the server closes first, so the server side ends in TIME-WAIT.  Connection 2 from the same
    client port: its SYN hits the server's timewait socket, which accepts it as a new connection."""
    ls = ctx.listen()
    for i in range(2):
        c = ctx.client()
        ctx.connect(c)
        s = ctx.accept(ls)
        c.sendall(b"n%d" % i)
        assert s.recv(10) == b"n%d" % i
        ctx.sleep(0.1)
        s.close()
        ctx.recv_eof(c)
        ctx.sleep(0.1)
        c.close()
        ctx.sleep(0.3)
        ctx.ss(f"connection {i} closed")


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


SO_MARK = getattr(socket, "SO_MARK", 36)
RAW_MARK = 0x7c5  # packet mark of segments this script sends through raw sockets (see kernel_rst_drop)


def send_raw(src, dst, flags, seq, ack=0, window=0, mark=0, ttl=0):
    """Send one TCP segment (IPv4, no options, no payload) from src=(ip, port) to dst=(ip, port) through a raw
    socket.  Only this segment is crafted; the sockets it reaches are real."""
    hdr = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, window, 0, 0)
    pseudo = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", _checksum(pseudo + hdr)) + hdr[18:]
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    try:
        if mark:
            r.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
        if ttl:
            r.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        r.sendto(hdr, (dst[0], 0))
    finally:
        r.close()


def inject_rst(src, dst, seq):
    """Send a bare RST (IPv4) from src=(ip, port) to dst=(ip, port) through a raw socket."""
    send_raw(src, dst, truth.RST, seq)


@scenario("rst-in-time-wait", 9024, 40024, doc="TIME-WAIT assassination (RFC 1337): a late RST for the old "
          "connection kills the client's TIME-WAIT (tcp_rfc1337=0)")
def sc_rst_tw(ctx):
    """Normal close (client first: client TIME-WAIT).  Then a RST with seq = the TIME-WAIT socket's RCV.NXT, as a
    peer that lost its state would send, is injected from the server's address and port with a raw socket: with
    net.ipv4.tcp_rfc1337=0 Linux kills the timewait socket (no tracepoint event), the client is CLOSED."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    ctx.sleep(0.1)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("client TIME-WAIT")
    pk = [p for p in truth.read_pcap(ctx.pcap) if p["tcp"] and p["flags"] & truth.FIN and p["src"][1] == ctx.sport]
    if not pk:
        raise ScenarioError("server FIN not captured yet")
    inject_rst(ctx.server_ep, ctx.client_ep, (pk[-1]["seq"] + pk[-1]["plen"] + 1) & 0xFFFFFFFF)
    ctx.sleep(0.1)
    ctx.ss("after RST")
    if ctx.ss_state(ctx.cport, ctx.sport):
        raise ScenarioError("the TIME-WAIT socket survived the RST")


@scenario("fin-with-data", 9025, 40025, doc="data and FIN in one segment (send then close at once)")
def sc_fin_data(ctx):
    """The client sends its last data and closes before it is transmitted (TCP_CORK), so the data and the FIN
    travel in one segment."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    c.sendall(b"last words")
    c.close()
    assert ctx.recv_eof(s) == b"last words"
    ctx.sleep(0.2)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("closed")


TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ, TCP_SEND_QUEUE = 19, 20, 21, 2


def choose_isn(sock, isn):
    """Make a kernel socket's connect() use `isn` as its initial sequence number: in repair mode (root) set the
    send queue's sequence number while the socket is still CLOSED, then leave repair mode.  tcp_v4_connect() picks
    a secure ISN only when write_seq is 0, so the SYN goes out with `isn` and the socket is otherwise ordinary."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
    sock.setsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, struct.pack("I", isn & 0xFFFFFFFF))
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)


@scenario("seq-wrap", 9026, 40026, doc="the client's sequence numbers wrap past 2^32 inside the connection "
          "(kernel socket with ISN 2^32-100)")
def sc_seq_wrap(ctx):
    """A kernel client whose ISN is 2^32 - 100 (choose_isn: TCP_REPAIR/TCP_QUEUE_SEQ before connect) sends three
    60-byte segments (TCP_NODELAY, paced): the second one crosses 2^32, the third starts at 21.  The server
    answers, the client closes, the server closes: every state change comes from the kernel."""
    ls = ctx.listen()
    c = ctx.client()
    choose_isn(c, 2**32 - 100)
    ctx.connect(c)
    s = ctx.accept(ls)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(3):
        c.sendall(bytes([65 + i]) * 60)
        ctx.sleep(0.05)
    assert ctx.recv_exact(s, 180) == b"A" * 60 + b"B" * 60 + b"C" * 60
    s.sendall(b"ok")
    assert c.recv(10) == b"ok"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    ctx.sleep(0.2)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("closed")
    pk = [p for p in truth.read_pcap(ctx.pcap) if p["tcp"] and p["src"][1] == ctx.cport]
    if not pk or pk[0]["seq"] != 2**32 - 100 or not any(p["seq"] + p["plen"] > 2**32 for p in pk):
        raise ScenarioError("the client's sequence numbers did not wrap")


@scenario("one-direction", 9027, 40027, starts_capture=True, doc="only the segments to port 9027 are captured (tcpdump direction "
          "filter); truth from a simultaneous full capture")
def sc_one_direction(ctx):
    """The seed's connection (data both ways, client closes first, the server ~0.3 s later), captured by tcpdump
    with `dst port <server>`: the capture holds the client's segments only.  A second tcpdump captures both
    directions at the same time; the truth is built from it (and the kernel's events), and each captured
    segment gets the row of the same segment there (truth.subset_rows)."""
    ctx.bpf_extra = f"dst port {ctx.sport}"
    ctx.full_capture = kernlib.Capture(os.path.join(ctx.workdir, f"{ctx.name}.full.pcap"),
                                       f"tcp and host {ctx.host} and port {ctx.sport} and port {ctx.cport}",
                                       snaplen=ctx.snaplen)
    ls = ctx.listen()
    ctx.start_capture()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"hello\r\n")
    assert s.recv(100) == b"hello\r\n"
    s.sendall(b"hi\r\n")
    assert c.recv(100) == b"hi\r\n"
    ctx.sleep(0.1)
    c.close()
    assert s.recv(100) == b""
    ctx.sleep(0.3)
    ctx.ss("client FIN-WAIT-2, server CLOSE-WAIT")
    s.close()
    ctx.sleep(0.2)
    ctx.ss("client TIME-WAIT, server CLOSED")


@scenario("rst-out-of-window", 9028, 40028, doc="RSTs injected to an ESTABLISHED client: out of window "
          "(dropped) and in window but not exact (challenge ACK, RFC 5961); nothing changes")
def sc_rst_oow(ctx):
    """After the handshake and some data, two RSTs are injected with a raw socket from the server's address and
    port to the client: one 2^30 beyond RCV.NXT (outside the window: Linux drops it silently) and one 1000 beyond
    RCV.NXT (inside the window but not exact: Linux answers with a challenge ACK, RFC 5961 3.2).  Neither resets
    the client; the server socket sent neither.  Then data both ways and a normal close."""
    ls = ctx.listen()
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    c.sendall(b"ping")
    assert s.recv(10) == b"ping"
    s.sendall(b"pong")
    assert c.recv(10) == b"pong"
    ctx.sleep(0.1)
    last = [p for p in truth.read_pcap(ctx.pcap) if p["tcp"] and p["src"][1] == ctx.sport][-1]
    rcv_nxt = (last["seq"] + last["plen"]) & 0xFFFFFFFF
    ctx.inject("server", truth.RST, rcv_nxt + 2**30)
    ctx.sleep(0.1)
    ctx.inject("server", truth.RST, rcv_nxt + 1000)
    ctx.sleep(0.1)
    ctx.ss("RSTs ignored")
    if ctx.ss_state(ctx.cport, ctx.sport) != ["ESTABLISHED"]:
        raise ScenarioError("the client did not stay ESTABLISHED")
    c.sendall(b"still")
    assert s.recv(10) == b"still"
    s.sendall(b"here")
    assert c.recv(10) == b"here"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    ctx.sleep(0.2)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("closed")
    acks = [p for p in truth.read_pcap(ctx.pcap) if p["tcp"] and p["src"][1] == ctx.cport and p["plen"] == 0
            and p["flags"] == truth.ACK and p["ack"] == rcv_nxt]
    if not acks:
        raise ScenarioError("no challenge ACK captured")


OLD_ISN_OFFSET = 100000
UNCAPTURED_TTL = 33  # IP TTL of injected segments that the capture filter leaves out (kernel segments have 64)


@scenario("old-duplicate-syn-ack", 9029, 40029, starts_capture=True, doc="RFC 9293 figure 8: an old duplicate SYN (not captured) "
          "makes the server send a SYN-ACK with a wrong ack; the SYN-SENT client resets it and the handshake "
          "completes")
def sc_old_dup(ctx):
    """The client's first SYN is dropped at the input hook (captured, never received).  Meanwhile an old
    duplicate SYN from the client's address and port (ISN 100000 below the client's) reaches the server: it is
    sent through a raw socket with IP TTL 33, which the capture filter leaves out, as if the capture point were
    on the client's side of the network where the old segment lingered.  The kernel server answers it with a
    SYN-ACK whose ack is the old ISN + 1; the kernel client, SYN-SENT, answers that with <SEQ=SEG.ACK><CTL=RST>
    and stays SYN-SENT; the RST resets the server's request socket, back to LISTEN (tcp_check_req).  The
    client's SYN retransmission (1 s) then opens the connection normally.  Every captured segment is sent by a
    kernel socket."""
    ctx.bpf_extra = f"ip[8] != {UNCAPTURED_TTL}"
    ctx.start_capture()
    ls = ctx.listen()
    d = ctx.drop("client", truth.SYN | truth.ACK, truth.SYN)
    c = ctx.client()
    ctx.connect_nb(c)
    syn = ctx.captured(lambda p: p["src"][1] == ctx.cport and p["flags"] & (truth.SYN | truth.ACK) == truth.SYN)
    ctx.undrop(d, expect=1)
    old = (syn["seq"] - OLD_ISN_OFFSET) & 0xFFFFFFFF
    ctx.inject("client", truth.SYN, old, window=65535, ttl=UNCAPTURED_TTL)
    ctx.captured(lambda p: p["src"][1] == ctx.cport and p["flags"] & truth.RST)
    ctx.sleep(0.2)
    ctx.ss("after the old duplicate's reset and the SYN retransmission")
    s = ctx.accept(ls)
    c.sendall(b"a")
    assert s.recv(10) == b"a"
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    s.close()
    ctx.sleep(0.2)
    ctx.ss("closed")
    pk = [p for p in truth.read_pcap(ctx.pcap) if p["tcp"]]
    if not any(p["src"][1] == ctx.sport and p["flags"] & truth.SYN and p["ack"] == (old + 1) & 0xFFFFFFFF
               for p in pk):
        raise ScenarioError("no SYN-ACK answering the old duplicate SYN captured")


@scenario("rst-syn-received-to-listen", 9030, 40030, doc="a raw-socket client sends a SYN, the kernel server "
          "SYN-ACKs, the client resets it: the server's SYN-RECEIVED goes back to LISTEN")
def sc_rst_synrcvd(ctx):
    """The client has no kernel socket: its SYN and RST come from this script through a raw socket, and its
    states from this script too (ctx.model, source "scenario": CLOSED -> SYN-SENT when it sends the SYN,
    ESTABLISHED when the SYN-ACK arrives (RFC 9293 3.10.7.3), CLOSED when it aborts with <SEQ=SND.NXT><CTL=RST>
    (3.10.5)).  The kernel's own RSTs for the socketless client port (3.10.7.1) are dropped at the output hook
    (they are unmarked; the script's segments carry a packet mark), so they are not on the wire.  The kernel
    server: the SYN makes a request socket (SYN-RECEIVED, R5); the RST, seq = RCV.NXT, resets it and the listener
    stays (R13: LISTEN)."""
    ls = ctx.listen()
    ctx.kernel_rst_drop("client")
    isn = 0x5EED0000
    ctx.model("client", "CLOSE", "SYN_SENT")
    ctx.inject("client", truth.SYN, isn, window=65535, mark=RAW_MARK)
    sa = ctx.captured(lambda p: p["src"][1] == ctx.sport and p["flags"] & (truth.SYN | truth.ACK) ==
                      truth.SYN | truth.ACK)
    if sa["ack"] != (isn + 1) & 0xFFFFFFFF:
        raise ScenarioError(f"SYN-ACK acks {sa['ack']}, not ISN + 1")
    ctx.model("client", "SYN_SENT", "ESTABLISHED")
    ctx.sleep(0.05)
    ctx.model("client", "ESTABLISHED", "CLOSE")
    ctx.inject("client", truth.RST, isn + 1, mark=RAW_MARK)
    ctx.captured(lambda p: p["src"][1] == ctx.cport and p["flags"] & truth.RST)
    ctx.sleep(0.2)
    ctx.ss("request reset: listener only")
    if any(st == "SYN-RECEIVED" for st, *_ in kernlib.ss_sockets({ctx.sport})):
        raise ScenarioError("the server's request socket survived the RST")


@scenario("zero-window-probe", 9031, 40031, snaplen=96, doc="the server stops reading with a small SO_RCVBUF: "
          "the window closes, the client sends zero-window probes, then the server reads and both close")
def sc_zwp(ctx):
    """The listener has SO_RCVBUF 2048 (inherited by the accepted socket) and the server does not read: the client
    writes 20 KB, the window goes to zero and the client's persist timer sends zero-window probes (seq = SND.UNA
    - 1, RFC 9293 3.8.6.1) that the server answers with zero-window ACKs, no transition.  After ~2 s the server
    reads everything, the window opens, the rest flows, the client closes, then the server.  Snaplen 96."""
    ls = ctx.sock()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    ls.bind((ctx.host, ctx.sport))
    ls.listen(8)
    c = ctx.client()
    ctx.connect(c)
    s = ctx.accept(ls)
    total = 20000
    t = threading.Thread(target=lambda: c.sendall(bytes(total)))
    t.start()
    ctx.sleep(2.2)
    ctx.ss("window closed")
    got = len(ctx.recv_exact(s, total, timeout=10))
    t.join()
    if got != total:
        raise ScenarioError(f"received {got} bytes")
    ctx.sleep(0.1)
    c.close()
    ctx.recv_eof(s)
    ctx.sleep(0.2)
    s.close()
    ctx.sleep(0.1)
    ctx.ss("closed")
    pk = [p for p in truth.read_pcap(ctx.pcap) if p["tcp"]]
    if not any(p["src"][1] == ctx.sport and p["win"] == 0 for p in pk):
        raise ScenarioError("the server never advertised a zero window")


# --------------------------------------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------------------------------------
def kill_time_wait(ports):
    """Destroy TIME-WAIT sockets on these ports (ss -K; the kernel supports SOCK_DESTROY for timewait sockets)."""
    for p in ports:
        subprocess.run(["ss", "-K", "-tan", "state", "time-wait", f"( sport = :{p} or dport = :{p} )"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_one(name, outdir, port_offset=0, keep_raw=False, verbose=False, loss=None, out_name=None, snaplen=None):
    """Record scenario `name` into outdir/<out_name or name>.{pcap,truth.tsv}.  `loss`: the injected losses of a loss
    variant (Ctx.install_loss); the scenario's `verify` (which checks that the loss-free run went as designed) is
    then not applied.  `snaplen` overrides the scenario's."""
    spec = SCENARIOS[name]
    out_name = out_name or name
    sport, cport = spec["sport"] + port_offset, spec["cport"] + port_offset
    ports = [sport, cport]
    busy = kernlib.ss_sockets(set(ports))
    if busy and all(b[0] == "TIME-WAIT" for b in busy):
        # Leftovers of a previous run of this scenario (TIME-WAIT lasts 60 s): destroy them (ss -K, SOCK_DESTROY)
        # before tracing starts, so they cannot interfere.
        kill_time_wait(ports)
        busy = kernlib.ss_sockets(set(ports))
    if busy:
        raise ScenarioError(f"ports {ports} busy: {busy} (TIME-WAIT lasts 60 s: wait, or use --port-offset)")
    # Registered first, so it runs last on cleanup (after the sockets are closed), also on SIGINT/SIGTERM.
    tw_key = CLEANUP.add(f"destroy TIME-WAIT sockets on {ports}", lambda: kill_time_wait(ports + [cport + 1000]))
    workdir = outdir
    ctx = Ctx(name, spec["family"], sport, cport, workdir, snaplen or spec["snaplen"], name, pcap_name=out_name,
              loss=loss)
    tracer = kernlib.Tracer(ports, name)
    ctx.nft = kernlib.Nft(name)
    try:
        ctx.nft.start()
        tracer.start()
        offset, unc = kernlib.realtime_minus_trace_clock_ns()
        if not spec["capture_late"] and not spec["starts_capture"] and name != "tcp-fast-open":
            ctx.start_capture()
        spec["fn"](ctx)
        if loss:
            # A loss delays what follows it: let retransmissions (a FIN lost twice comes a third time ~0.6 s later)
            # reach the capture before it stops.
            time.sleep(LOSS_SETTLE_S)
        if ctx.capture is None:
            raise ScenarioError("the scenario never started the capture")
        ctx.capture.stop()
        if ctx.full_capture is not None:
            ctx.full_capture.stop()
        # Ensure the event ring has everything (events are written synchronously; nothing to flush).
        text, rawtext = tracer.read()
        offset2, _ = kernlib.realtime_minus_trace_clock_ns()
        if abs(offset2 - offset) > 50_000:
            print(f"  warning: realtime-trace clock offset moved by {(offset2 - offset) / 1000:.1f} us",
                  file=sys.stderr)
        for d in ctx.drops:
            if d["t_off"] is None:
                ctx.undrop(d)
    finally:
        ctx.close_all()
        if ctx.capture is not None:
            ctx.capture.stop()
        if ctx.full_capture is not None:
            ctx.full_capture.stop()
        tracer.stop()
        ctx.nft.stop()
        # The recording is over: leave no TIME-WAIT sockets behind on the scenario's ports either.
        CLEANUP.run_one(tw_key)
    events = kernlib.parse_trace(text, offset, rawtext)
    # R14: state changes of a side played by the scenario itself (no kernel socket) join the kernel's.
    events = sorted(events + ctx.model_events, key=lambda e: e["ts"])
    meta = {
        "scenario": name, "client": list(ctx.client_ep), "server": list(ctx.server_ep), "drops": ctx.drops,
        "snapshots": ctx.snapshots, "capture_start_ns": ctx.capture.start_ns, "capture_late": spec["capture_late"],
        "sysctl": dict(ctx.sysctl, **{"net.ipv4.tcp_rfc1337": kernlib.get_sysctl("net.ipv4.tcp_rfc1337")}),
        "clock_offset_ns": offset, "clock_uncertainty_ns": unc, "injected": ctx.injected,
        "modelled_sides": sorted({("client" if e["sport"] == cport else "server") for e in ctx.model_events}),
        "loss": ctx.loss,
    }
    raw = {"events": events, "meta": meta, "trace": text, "trace_raw": rawtext}
    rawpath = os.path.join(outdir, f"{out_name}.raw.json")
    if keep_raw:
        with open(rawpath, "w") as f:
            json.dump(raw, f, indent=1)
    if spec["verify"] and not loss:
        spec["verify"](events, sport, cport)
    pkts = truth.read_pcap(ctx.pcap)
    if loss:
        # R1 in a loss variant: the client is the side whose pure SYN is captured first; when the loss removed
        # the scenario client's first SYN from the wire (simultaneous open), that is the other side.
        first = next((p for p in pkts if p["tcp"] and p["flags"] & (truth.SYN | truth.ACK) == truth.SYN), None)
        if first is not None and first["src"][1] == ctx.server_ep[1] and first["dst"][1] == ctx.client_ep[1]:
            meta["client"], meta["server"] = list(ctx.server_ep), list(ctx.client_ep)
            meta["sides_swapped"] = True
            other = {"client": "server", "server": "client"}
            meta["drops"] = [dict(d, **{"from": other[d["from"]]}) for d in meta["drops"]]
    full_path = ctx.full_capture.path if ctx.full_capture is not None else None
    try:
        if full_path:
            # R15: a one-direction capture gets its rows from the full capture taken at the same time.
            full = truth.read_pcap(full_path)
            full_rows, multi, report = truth.build_truth(full, events, meta)
            rows = truth.subset_rows(full, full_rows, pkts)
            if not keep_raw:
                os.unlink(full_path)
        else:
            rows, multi, report = truth.build_truth(pkts, events, meta)
    except truth.TruthError:
        if not keep_raw:
            with open(rawpath, "w") as f:
                json.dump(raw, f, indent=1)
            print(f"  raw recording kept in {rawpath}", file=sys.stderr)
        raise
    truth.write_tsv(os.path.join(outdir, f"{out_name}.truth.tsv"), rows, multi)
    listing = truth.describe(full if full_path else pkts, full_rows if full_path else rows, events, meta)
    if keep_raw:
        with open(os.path.join(outdir, f"{out_name}.txt"), "w") as f:
            f.write(listing + "\n" + "\n".join(report) + "\n")
    if verbose:
        print(listing)
        print("\n".join("  " + r for r in report))
    LAST.clear()
    LAST.update(meta=meta, pkts=pkts)
    return len(pkts)


LOSS_SETTLE_S = 1.0
LAST = {}  # the last run_one's metadata and packets (with R9's "dropped" marks), for variants.py


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (pcap + truth.tsv per scenario)")
    ap.add_argument("--live", metavar="OUTDIR", help="record everything into OUTDIR on free ports")
    ap.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    ap.add_argument("--port-offset", type=int, default=0, help="add this to every scenario port")
    ap.add_argument("--keep-raw", action="store_true", help="also write <name>.raw.json and <name>.txt")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.list:
        for n, s in SCENARIOS.items():
            print(f"{n:28s} {s['doc']}")
        return 0
    outdir = a.live or a.out
    if not outdir:
        ap.error("--out or --live is required")
    reason = kernlib.prepare_runner()
    if reason:
        print(f"SKIPPED: {reason}")
        return 77
    # Run everything on CPU 0: the sockets' timers are then armed on one CPU and loopback delivery happens in that
    # CPU's softirq, which makes timer races (e.g. SYN and SYN-ACK retransmissions due in the same timer-wheel
    # slot) resolve the same way on every run.
    os.sched_setaffinity(0, {0})
    os.makedirs(outdir, exist_ok=True)
    names = a.only or [n for n in SCENARIOS if n not in SKIPPED_SCENARIOS]
    for n in names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n}")
    offset = a.port_offset
    if a.live and not a.port_offset:
        offset = pick_port_offset(names)
    failed = []
    for n in names:
        t0 = time.monotonic()
        try:
            npk = run_one(n, outdir, offset, a.keep_raw, a.verbose)
            print(f"{n:28s} {npk:4d} packets  ({time.monotonic() - t0:.1f} s)")
        except Exception as e:
            failed.append(n)
            print(f"{n:28s} FAILED: {e}")
            if a.verbose:
                traceback.print_exc()
        sys.stdout.flush()
    CLEANUP.run()
    for n in names:  # a last sweep, in case a scenario failed before its own
        kill_time_wait([SCENARIOS[n]["sport"] + offset, SCENARIOS[n]["cport"] + offset,
                        SCENARIOS[n]["cport"] + offset + 1000])
    if failed:
        print(f"{len(failed)} scenario(s) failed: {' '.join(failed)}")
        return 1
    return 0


SKIPPED_SCENARIOS = set()


def pick_port_offset(names):
    """An offset such that every port used by `names` (and the TFO cookie port) is free."""
    used = set()
    for line in kernlib.ss_sockets(set(range(1, 65536))):
        used.add(line[1])
    for off in range(20000, 24000, 100):
        ports = set()
        for n in names:
            s = SCENARIOS[n]
            ports |= {s["sport"] + off, s["cport"] + off, s["cport"] + off + 1000}
        if max(ports) < 65536 and not ports & used:
            return off
    raise ScenarioError("no free port range found")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
