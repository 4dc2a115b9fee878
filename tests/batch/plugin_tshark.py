"""What the batch checks share: their --source and --build arguments, and tshark run with the
build's plugin through tests/run-tshark.sh (as an unprivileged user when run as root)."""
import argparse
import os
import subprocess


def parse_source_build(configure=None):
    """Parses --source and --build (and what `configure(parser)` adds), makes both absolute and
    points tests/run-tshark.sh at the build."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    if configure is not None:
        configure(ap)
    a = ap.parse_args()
    a.source, a.build = os.path.abspath(a.source), os.path.abspath(a.build)
    os.environ["TCPSTATE_BUILD"] = a.build
    return a


def plugin_tshark(src, args):
    """tshark's standard output with the plugin; its standard error in the exception if it fails."""
    out = subprocess.run([os.path.join(src, "tests", "run-tshark.sh")] + args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"run-tshark.sh {' '.join(args)}: {out.stderr}")
    return out.stdout
