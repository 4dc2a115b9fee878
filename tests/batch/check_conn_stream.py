#!/usr/bin/env python3
"""A SYN sent again stays in its connection, whatever tcp.stream Wireshark gives it.

  check_conn_stream.py --source <repo> --build <build dir>

Each capture below is one connection attempt by one client socket (the kernel scenarios say so:
one connect(), its SYN sent again after a RST the client never got, or after an old duplicate
SYN-ACK it refused). Wireshark 4.0 keeps such a SYN in the stream; 4.4 and later start a new
tcp.stream on it (their reused-ports rule). With `tshark -2`, for every frame:
- the connection's stream is tcpstate.conn.stream where present, else the frame's tcp.stream;
- tcpstate.conn.stream is present only where it differs from the frame's own tcp.stream;
- every frame of the capture is in one connection, the one of its first frame.
Exit 77 (CTest: skipped) when tshark is missing.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_tshark import parse_source_build, plugin_tshark  # noqa: E402

CAPTURES = ["sample-pcaps/loss/refused-ipv4.in2.pcap", "sample-pcaps/loss/refused-ipv6.in2.pcap",
            "sample-pcaps/old-duplicate-syn-ack.pcap"]


def main():
    a = parse_source_build()
    if shutil.which("tshark") is None:
        print("SKIP: tshark not installed")
        return 77
    bad = 0
    for rel in CAPTURES:
        text = plugin_tshark(a.source, ["-2", "-r", os.path.join(a.source, rel), "-T", "fields",
                                        "-e", "frame.number", "-e", "tcp.stream", "-e", "tcpstate.conn.stream"])
        rows = [line.split("\t") for line in text.splitlines() if line.strip()]
        conns, moved, errors = set(), 0, []
        for frame, stream, conn_stream in rows:
            if conn_stream == stream:
                errors.append(f"frame {frame}: tcpstate.conn.stream {conn_stream} is its own tcp.stream")
            if conn_stream:
                moved += 1
            conns.add(conn_stream or stream)
        if len(rows) < 4:
            errors.append(f"only {len(rows)} frames")
        if len(conns) != 1:
            errors.append(f"frames in {len(conns)} connections (streams {sorted(conns)}), not one")
        streams = len({r[1] for r in rows})
        print(f"{rel}: {len(rows)} frames, {streams} tcp.stream(s), {moved} kept in another stream's connection"
              + ("" if not errors else "  FAIL"))
        for e in errors:
            print("  " + e)
        bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
