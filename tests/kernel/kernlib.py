"""Infrastructure for recording TCP scenarios together with the Linux kernel's own view of the TCP states.

Everything here needs root on Linux: a private tracefs instance (tracepoint sock:inet_sock_set_state), tcpdump on
the loopback interface and a private nftables table for deterministic losses.  Standard library only.

Every resource created here is registered with a process-wide cleanup registry that runs from `finally` blocks, from
atexit and from SIGINT/SIGTERM/SIGHUP handlers, so that a failing or interrupted run leaves no nft table, no tracefs
instance, no tcpdump process and no open socket behind.
"""

import atexit
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


# --------------------------------------------------------------------------------------------------------------------
# Cleanup registry
# --------------------------------------------------------------------------------------------------------------------
class Cleanup:
    """LIFO list of cleanup callbacks.  `run()` is idempotent and never raises."""

    def __init__(self):
        self._items = []  # (key, description, fn)
        self._lock = threading.RLock()
        self._next = 0

    def add(self, description, fn):
        with self._lock:
            self._next += 1
            self._items.append((self._next, description, fn))
            return self._next

    def run_one(self, key):
        with self._lock:
            for i, (k, desc, fn) in enumerate(self._items):
                if k == key:
                    del self._items[i]
                    self._call(desc, fn)
                    return

    def discard(self, key):
        with self._lock:
            self._items = [it for it in self._items if it[0] != key]

    @staticmethod
    def _call(desc, fn):
        try:
            fn()
        except Exception as e:  # cleanup must never raise
            print(f"cleanup: {desc}: {e}", file=sys.stderr)

    def run(self):
        with self._lock:
            items, self._items = self._items, []
        for _k, desc, fn in reversed(items):
            self._call(desc, fn)


CLEANUP = Cleanup()
_handlers_installed = False


def install_handlers():
    """Run the cleanup registry at exit and on SIGINT/SIGTERM/SIGHUP (then exit with 128+signo)."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(CLEANUP.run)

    def handler(signo, _frame):
        # Ignore further signals while cleaning up.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        print(f"\ninterrupted by signal {signo}: cleaning up", file=sys.stderr)
        CLEANUP.run()
        os._exit(128 + signo)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def track_socket(sock):
    """Register a socket so it is closed on cleanup (closing twice is harmless); returns the socket."""
    CLEANUP.add(f"close socket {sock.fileno()}", sock.close)
    return sock


# --------------------------------------------------------------------------------------------------------------------
# Clocks
# --------------------------------------------------------------------------------------------------------------------
def realtime_minus_trace_clock_ns(samples=50):
    """CLOCK_REALTIME - CLOCK_TAI in ns, from the tightest of `samples` sandwiched readings.

    Capture timestamps on lo come from ktime_get_real() (CLOCK_REALTIME); the tracefs "tai" clock is
    ktime_get_tai_fast_ns() (CLOCK_TAI = CLOCK_REALTIME + the kernel's TAI offset, stepped and slewed with it).
    Adding this offset places trace events on the capture time line, and it stays put when the system clock is
    adjusted during a recording (a "mono" trace clock does not: a clock slewed by a few ms misplaced events by
    that much, and a CI run failed on it).  Returns (offset_ns, uncertainty_ns)."""
    best = None
    for _ in range(samples):
        r1 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m = time.clock_gettime_ns(time.CLOCK_TAI)
        r2 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        width = r2 - r1
        if best is None or width < best[1]:
            best = ((r1 + r2) // 2 - m, width)
    return best[0], best[1] // 2 + 1


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


# --------------------------------------------------------------------------------------------------------------------
# Preconditions
# --------------------------------------------------------------------------------------------------------------------
def which(prog):
    for d in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":") + ["/usr/sbin", "/sbin"]:
        p = os.path.join(d, prog)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def tracefs_root(mount=True):
    for root in TRACEFS_CANDIDATES:
        if os.path.isdir(os.path.join(root, "events")):
            return root
    if mount and os.geteuid() == 0 and os.path.isdir(TRACEFS_CANDIDATES[0]):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS_CANDIDATES[0]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.path.isdir(os.path.join(TRACEFS_CANDIDATES[0], "events")):
            return TRACEFS_CANDIDATES[0]
    return None


def skip_reason():
    """None if live recording is possible here, else a human-readable reason."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if os.geteuid() != 0:
        return "not root (tracefs, tcpdump on lo and nftables need root)"
    for prog in ("tcpdump", "nft", "ss"):
        if not which(prog):
            return f"{prog} not installed"
    root = tracefs_root()
    if not root:
        return "tracefs not available"
    if not os.path.isdir(os.path.join(root, "events", "sock", "inet_sock_set_state")):
        return "tracepoint sock:inet_sock_set_state not available"
    if not os.path.isdir(os.path.join(root, "instances")):
        return "tracefs instances not supported"
    r = subprocess.run(["nft", "list", "tables"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return "nftables not usable"
    return None


def _pid_alive(pid):
    """True if `pid` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def reap_stale():
    """Remove nft tables and tracefs instances left by a runner that was SIGKILLed (its pid is gone)."""
    removed = []
    root = tracefs_root(mount=False)
    if root and os.path.isdir(os.path.join(root, "instances")):
        for name in os.listdir(os.path.join(root, "instances")):
            m = re.match(r"tcpstate-(\d+)-", name)
            if m and not _pid_alive(int(m.group(1))):
                try:
                    os.rmdir(os.path.join(root, "instances", name))
                    removed.append(f"tracefs instance {name}")
                except OSError:
                    pass
    # tcpdump processes we started carry TCPSTATE_RUNNER_PID in their environment (they also get SIGTERM when the
    # runner dies, via PR_SET_PDEATHSIG; this catches the rest).
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for kv in env:
            if kv.startswith(b"TCPSTATE_RUNNER_PID="):
                owner = int(kv.split(b"=", 1)[1] or 0)
                if owner and not _pid_alive(owner):
                    try:
                        os.kill(int(pid), signal.SIGTERM)
                        removed.append(f"tcpdump pid {pid}")
                    except ProcessLookupError:
                        pass
    r = subprocess.run(["nft", "list", "tables"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in r.stdout.splitlines():
        m = re.match(r"table inet (tcpstate_(\d+)_\w+)$", line.strip())
        if m and not _pid_alive(int(m.group(2))):
            subprocess.run(["nft", "delete", "table", "inet", m.group(1)], stderr=subprocess.DEVNULL)
            removed.append(f"nft table {m.group(1)}")
    return removed


# --------------------------------------------------------------------------------------------------------------------
# tracefs
# --------------------------------------------------------------------------------------------------------------------
class Tracer:
    """A private tracefs instance recording sock:inet_sock_set_state for some ports, on the tai clock (see realtime_minus_trace_clock_ns)."""

    def __init__(self, ports, tag):
        root = tracefs_root()
        if not root:
            raise RuntimeError("tracefs not available")
        self.dir = os.path.join(root, "instances", f"tcpstate-{os.getpid()}-{tag}")
        self.ports = sorted(set(ports))
        self._key = None

    def _w(self, rel, value):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(value)

    def start(self):
        if os.path.isdir(self.dir):
            os.rmdir(self.dir)
        os.mkdir(self.dir)
        self._key = CLEANUP.add(f"rmdir tracefs instance {self.dir}", self._remove)
        self._w("tracing_on", "0")
        self._w("trace_clock", "tai")
        self._w("buffer_size_kb", "2048")
        filt = " || ".join(f"sport == {p} || dport == {p}" for p in self.ports)
        self._w("events/sock/inet_sock_set_state/filter", filt)
        self._w("events/sock/inet_sock_set_state/enable", "1")
        self._w("trace", "")  # clear
        self._w("tracing_on", "1")

    def read(self):
        """Return (text, raw): the trace as formatted text (fields, microsecond timestamps) and the same entries with
        options/raw=1, whose context prints the timestamp in nanoseconds ("pid cpu ts_ns type: N")."""
        self._w("tracing_on", "0")
        with open(os.path.join(self.dir, "trace")) as f:
            text = f.read()
        self._w("options/raw", "1")
        try:
            with open(os.path.join(self.dir, "trace")) as f:
                raw = f.read()
        finally:
            self._w("options/raw", "0")
        return text, raw

    def _remove(self):
        if not os.path.isdir(self.dir):
            return
        for rel, val in (("tracing_on", "0"), ("events/sock/inet_sock_set_state/enable", "0")):
            try:
                self._w(rel, val)
            except OSError:
                pass
        # rmdir may fail with EBUSY for a moment while a reader is open; retry briefly.
        for _ in range(50):
            try:
                os.rmdir(self.dir)
                return
            except OSError:
                time.sleep(0.05)
        os.rmdir(self.dir)

    def stop(self):
        if self._key is not None:
            CLEANUP.run_one(self._key)
            self._key = None


TRACE_RE = re.compile(
    r"\s(?P<ts>\d+\.\d+): inet_sock_set_state: family=(?P<family>\S+) protocol=(?P<proto>\S+) "
    r"sport=(?P<sport>\d+) dport=(?P<dport>\d+) saddr=(?P<saddr>\S+) daddr=(?P<daddr>\S+) "
    r"saddrv6=(?P<saddr6>\S+) daddrv6=(?P<daddr6>\S+) oldstate=(?P<old>\S+) newstate=(?P<new>\S+)")


RAW_RE = re.compile(r"^\s*(-?\d+) (\d+) (\d+) type: (\d+)")


def parse_trace(text, offset_ns, raw=None):
    """Parse tracefs text output into event dicts with a CLOCK_REALTIME `ts` (ns).

    The text format prints the mono timestamp rounded to microseconds.  When `raw` (the same buffer
    read with options/raw=1) is given, the nanosecond timestamps are taken from it: both listings enumerate the same
    entries in the same order, which is checked against the truncated microseconds."""
    events = []
    raw_ts = None
    if raw is not None:
        raw_ts = [int(m.group(3)) for m in map(RAW_RE.match, raw.splitlines()) if m]
    n = 0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = TRACE_RE.search(line)
        if not m:
            continue
        if m["proto"] != "IPPROTO_TCP":
            continue
        sec, frac = m["ts"].split(".")
        mono_ns = int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])
        if raw_ts is not None:
            if n >= len(raw_ts) or not -500 <= raw_ts[n] - mono_ns < 500:  # text rounds to the nearest us
                raise RuntimeError("raw and formatted trace listings do not line up")
            mono_ns = raw_ts[n]
        n += 1
        events.append({
            "ts": mono_ns + offset_ns,
            "family": m["family"],
            "sport": int(m["sport"]), "dport": int(m["dport"]),
            "saddr": m["saddr"] if m["family"] == "AF_INET" else m["saddr6"],
            "daddr": m["daddr"] if m["family"] == "AF_INET" else m["daddr6"],
            "old": m["old"].replace("TCP_", ""), "new": m["new"].replace("TCP_", ""),
        })
    if "LOST" in text and re.search(r"LOST \d+ EVENTS", text):
        raise RuntimeError("tracefs ring buffer lost events")
    events.sort(key=lambda e: e["ts"])
    return events


# --------------------------------------------------------------------------------------------------------------------
# tcpdump
# --------------------------------------------------------------------------------------------------------------------
def _die_with_parent():
    """preexec_fn: SIGTERM this child when the runner dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except Exception:
        pass


class Capture:
    def __init__(self, path, bpf, snaplen=262144):
        self.path = path
        self.bpf = bpf
        self.snaplen = snaplen
        self.proc = None
        self._key = None
        self.start_ns = None

    def start(self):
        cmd = ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "--time-stamp-precision=nano", "-n",
               "-s", str(self.snaplen), "-Z", "root", "-w", self.path, self.bpf]
        env = dict(os.environ, TCPSTATE_RUNNER_PID=str(os.getpid()))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, env=env, preexec_fn=_die_with_parent)
        self._key = CLEANUP.add(f"stop tcpdump pid {self.proc.pid}", self._kill)
        # tcpdump writes "listening on lo ..." to stderr once the capture is active.
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening on" in line:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"tcpdump failed: {line}{self.proc.stderr.read()}")
        else:
            raise RuntimeError("tcpdump did not start")
        self.start_ns = now_ns()
        time.sleep(0.05)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    def stop(self):
        time.sleep(0.1)  # let the last packets reach the capture file (-U, --immediate-mode)
        if self._key is not None:
            CLEANUP.run_one(self._key)
            self._key = None


# --------------------------------------------------------------------------------------------------------------------
# nftables
# --------------------------------------------------------------------------------------------------------------------
class Nft:
    """A private `inet` table with an input and an output chain.

    input hook: the loopback capture point is before it, so a dropped segment IS in the capture but the receiving
    socket never sees it.  output hook: before the capture point, so a dropped segment is not on the wire at all."""

    def __init__(self, tag):
        self.table = f"tcpstate_{os.getpid()}_{tag}".replace("-", "_")
        self._key = None

    def _nft(self, *args, check=True):
        r = subprocess.run(["nft", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"nft {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def start(self):
        self._nft("delete", "table", "inet", self.table, check=False)
        self._nft("-f", "-", check=False)  # no-op; keeps nft warm
        script = (f"table inet {self.table} {{\n"
                  f"  chain input {{ type filter hook input priority -400; policy accept; }}\n"
                  f"  chain output {{ type filter hook output priority -400; policy accept; }}\n"
                  f"}}\n")
        r = subprocess.run(["nft", "-f", "-"], input=script, text=True, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError(f"nft table: {r.stderr}")
        self._key = CLEANUP.add(f"nft delete table inet {self.table}", self._remove)

    def add_chain(self, chain, hook, priority):
        """Add a base chain `chain` at `hook` ('input'|'output') with `priority` (lower runs first)."""
        self._nft("add", "chain", "inet", self.table, chain,
                  f"{{ type filter hook {hook} priority {priority}; policy accept; }}")

    def add(self, chain, rule):
        """Add `rule` (nft syntax, e.g. 'tcp dport 9000 tcp flags & (syn|ack) == syn counter drop') and return
        its handle."""
        out = self._nft("-e", "-a", "add", "rule", "inet", self.table, chain, rule)
        m = re.search(r"# handle (\d+)", out)
        if not m:
            raise RuntimeError(f"nft did not echo a handle: {out!r}")
        return int(m.group(1))

    def add_counter(self, name):
        """A named counter object: it outlives the rules that use it (`counter name NAME`), so a rule can be deleted
        first and its count read afterwards, with no packet counted between the read and the deletion."""
        self._nft("add", "counter", "inet", self.table, name)

    def counter_value(self, name):
        out = json.loads(self._nft("-j", "list", "counter", "inet", self.table, name))
        for item in out.get("nftables", []):
            if "counter" in item:
                return item["counter"]["packets"]
        raise RuntimeError(f"nft counter {name} not found")

    def delete(self, chain, handle):
        self._nft("delete", "rule", "inet", self.table, chain, "handle", str(handle))

    def counters(self):
        """{(chain, handle): packets} for all rules with a counter."""
        out = json.loads(self._nft("-j", "list", "table", "inet", self.table))
        res = {}
        for item in out.get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            for ex in rule.get("expr", []):
                if "counter" in ex:
                    res[(rule["chain"], rule["handle"])] = ex["counter"]["packets"]
        return res

    def _remove(self):
        self._nft("delete", "table", "inet", self.table, check=False)

    def stop(self):
        if self._key is not None:
            CLEANUP.run_one(self._key)
            self._key = None


# --------------------------------------------------------------------------------------------------------------------
# ss
# --------------------------------------------------------------------------------------------------------------------
SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN-SENT", "SYN-RECV": "SYN-RECEIVED", "FIN-WAIT-1": "FIN-WAIT-1",
    "FIN-WAIT-2": "FIN-WAIT-2", "TIME-WAIT": "TIME-WAIT", "CLOSE-WAIT": "CLOSE-WAIT", "LAST-ACK": "LAST-ACK",
    "LISTEN": "LISTEN", "CLOSING": "CLOSING", "UNCONN": "CLOSED", "CLOSE": "CLOSED",
}


def _port_of(addr):
    return int(addr.rsplit(":", 1)[1]) if ":" in addr and addr.rsplit(":", 1)[1].isdigit() else 0


def ss_sockets(ports):
    """List of (state, local_port, peer_port, local, peer) for TCP sockets with a local or peer port in `ports`."""
    out = subprocess.run(["ss", "-tanH", "state", "all"], stdout=subprocess.PIPE, text=True).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        lp, pp = _port_of(f[3]), _port_of(f[4])
        if lp in ports or pp in ports:
            res.append((SS_STATES.get(f[0], f[0]), lp, pp, f[3], f[4]))
    return res


def set_sysctl(name, value):
    path = "/proc/sys/" + name.replace(".", "/")
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write(str(value))
    return old


def get_sysctl(name):
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return f.read().strip()


def prepare_runner():
    """What every recorder does first: None when it can run (handlers installed, what killed runs left behind
    removed and named on stderr), else the reason it cannot (the caller prints SKIPPED and exits 77)."""
    reason = skip_reason()
    if reason:
        return reason
    install_handlers()
    for what in reap_stale():
        print(f"removed stale {what} (left by a killed run)", file=sys.stderr)
    return None
