#!/usr/bin/env python3
"""The test captures of tcpdump and Wireshark, from Debian's source packages (issue 18).

  fetch.py --dest DIR [--cache DIR]

Captures made by other people for other reasons: tcpdump's tests/*.pcap* and everything in
Wireshark's test/captures/. They are not committed; this script unpacks them into DIR (the build
tree) each time the tests run, from the source packages kept in the cache
(${TCPSTATE_CORPUS_CACHE:-/var/cache/tcpstate-corpus-src}). When the cache lacks either package it
downloads both with `apt-get source --download-only` of the distribution it runs on (so a matrix
chroot gets its own Wireshark version's captures), after adding a deb-src entry made from the
system's own deb entry for that suite (same URI and Signed-By) and `apt-get update`: root only.
Where the archive has that suite's index but not a package's source files (404: the mirror here
serves neither trixie's tcpdump and Wireshark nor forky's Wireshark), it takes that package's
version in $TCPSTATE_CORPUS_FALLBACK_SUITE (default bookworm: tcpdump 4.99.3, Wireshark 4.0.17)
and says FALLBACK.

DIR/SOURCES.txt names the source packages used. Exit status: 0 done; 77 (CTest: skipped) only when
the archive cannot be reached (no network); 1 on any other failure (no root, no deb entry, a
package apt cannot find, a broken tarball).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile

PACKAGES = ("tcpdump", "wireshark")
SRC_LIST = "/etc/apt/sources.list.d/tcpstate-corpus-src"
# What apt says when the archive cannot be reached (as opposed to a package or setup problem).
NO_NETWORK = re.compile(r"Could not resolve|Temporary failure resolving|Failed to connect|Connection failed|"
                        r"Unable to connect|Network is unreachable|No route to host|Connection timed out|"
                        r"Could not connect")


def say(msg):
    print("fetch.py: " + msg, flush=True)


def codename():
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit("fetch.py: no VERSION_CODENAME in /etc/os-release")


def orig_of(dsc, pkg):
    """The original tarball of a .dsc (pkg_VERSION.dsc -> pkg_UPSTREAM.orig.tar.*), or None."""
    upstream = os.path.basename(dsc)[len(pkg) + 1:-len(".dsc")].split("-")[0]
    origs = glob.glob(os.path.join(os.path.dirname(dsc), "%s_%s.orig.tar.*" % (pkg, upstream)))
    origs = [o for o in origs if not o.endswith(".asc")]
    return origs[0] if origs else None


def cached(cache):
    """{package: its newest .dsc in the cache that has its tarball}, or None if one is missing."""
    found = {}
    for pkg in PACKAGES:
        for dsc in sorted(glob.glob(os.path.join(cache, pkg + "_*.dsc")), reverse=True):
            if orig_of(dsc, pkg):
                found[pkg] = dsc
                break
    return found if len(found) == len(PACKAGES) else None


def deb_src_entry(suite, wanted):
    """A deb-src entry for suite `wanted`, copied from the system's deb entry for `suite` (URI,
    Signed-By)."""
    # deb822 files: a stanza with Types: deb whose Suites name the suite
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        if path.startswith(SRC_LIST):
            continue
        with open(path) as f:
            for stanza in f.read().split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith(("#", " ")):
                        k, v = line.split(":", 1)
                        fields[k.strip().lower()] = v.strip()
                if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
                    entry = "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n" % (fields["uris"], wanted)
                    if "signed-by" in fields:
                        entry += "Signed-By: %s\n" % fields["signed-by"]
                    return SRC_LIST + ".sources", entry
    # one-line files: deb [options] URI SUITE COMPONENTS...
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if path.startswith(SRC_LIST) or not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s", line)
                if m and m.group(3) == suite:
                    return SRC_LIST + ".list", "deb-src %s%s %s main\n" % (m.group(1) or "", m.group(2), wanted)
    return None, None


def download(cache):
    """apt-get source of each package of this system's suite; where the archive has its index but
    not its files (a mirror or snapshot that serves no source packages of that suite: 404), another
    version the deb-src entries list, i.e. $TCPSTATE_CORPUS_FALLBACK_SUITE's (default bookworm),
    said loudly. (`apt-get source pkg/suite` does not do: it looks for the installed binary's
    version among that suite's sources.)"""
    if os.geteuid() != 0:
        raise SystemExit("fetch.py: the captures' source packages are not in %s, and adding a deb-src entry "
                         "and running apt-get update need root" % cache)
    suite = codename()
    fallback = os.environ.get("TCPSTATE_CORPUS_FALLBACK_SUITE", "bookworm")
    suites = [suite] + ([fallback] if fallback and fallback != suite else [])
    entries = [deb_src_entry(suite, s) for s in suites]
    if entries[0][0] is None:
        raise SystemExit("fetch.py: no deb entry for suite %s in /etc/apt to copy a deb-src entry from" % suite)
    path = entries[0][0]
    for old in glob.glob(SRC_LIST + ".*"):
        if old != path:
            os.remove(old)
    with open(path, "w") as f:
        f.write("\n".join(e for _, e in entries))
    say("deb-src entries in %s: %s" % (path, " | ".join(e.strip().replace("\n", "; ") for _, e in entries)))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    upd = subprocess.run(["apt-get", "-q", "-o", "Acquire::Check-Valid-Until=false", "update"],
                         capture_output=True, text=True, env=env)
    os.makedirs(cache, exist_ok=True)
    for pkg in PACKAGES:
        # The candidate first (this suite's), then every other version the deb-src entries list
        # (the fallback suite's), until the archive serves one.
        shown = subprocess.run(["apt-cache", "showsrc", pkg], capture_output=True, text=True, env=env).stdout
        versions = []
        for record in shown.split("\n\n"):
            fields = dict(l.split(": ", 1) for l in record.splitlines() if ": " in l and not l.startswith(" "))
            if fields.get("Package") == pkg and fields.get("Version") and fields["Version"] not in versions:
                versions.append(fields["Version"])
        texts = []
        for want in [pkg] + ["%s=%s" % (pkg, v) for v in versions]:
            src = subprocess.run(["apt-get", "-q", "source", "--download-only", want], cwd=cache,
                                 capture_output=True, text=True, env=env)
            if src.returncode == 0:
                if want != pkg:
                    say("FALLBACK: this archive does not serve %s's %s source package; using %s"
                        % (suite, pkg, want))
                break
            texts.append(src.stdout + src.stderr)
        else:
            text = upd.stdout + upd.stderr + "".join(texts)
            print(text[-3000:])
            if NO_NETWORK.search(text):
                say("SKIP: Debian's archive cannot be reached (no network): the captures cannot be downloaded")
                sys.exit(77)
            raise SystemExit("fetch.py: no version of %s could be downloaded (tried the candidate and %s), and "
                             "not for lack of network" % (pkg, ", ".join(versions) or "no other"))


def wanted(pkg, name):
    """The members that are test captures: tcpdump's tests/*.pcap*, Wireshark's test/captures/*
    (tshark itself tells captures from the few text files among them)."""
    parts = name.split("/")
    if pkg == "tcpdump":
        return len(parts) == 3 and parts[1] == "tests" and re.search(r"\.(pcap|pcapng|cap)", parts[2]) is not None
    return len(parts) == 4 and parts[1:3] == ["test", "captures"] and parts[3] != ""


def unpack(cache, dsc, pkg, dest):
    """The package's captures into dest/pkg: copied from the cache's unpacked copy (made the first
    time: a bzip2 tarball takes long to read), or straight from the tarball if the cache is not
    writable."""
    version = os.path.basename(dsc)[len(pkg) + 1:-len(".dsc")]
    kept = os.path.join(cache, "captures-%s_%s" % (pkg, version))
    if not os.path.isdir(kept) and os.access(cache, os.W_OK):
        partial = kept + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        extract(dsc, pkg, partial)
        os.rename(partial, kept)
    if os.path.isdir(kept):
        shutil.copytree(kept, os.path.join(dest, pkg))
        return version, len(os.listdir(kept))
    os.makedirs(os.path.join(dest, pkg))
    return version, extract(dsc, pkg, os.path.join(dest, pkg))


def extract(dsc, pkg, out):
    orig = orig_of(dsc, pkg)
    n = 0
    with tarfile.open(orig) as tar:
        for member in tar:
            if member.isfile() and wanted(pkg, member.name):
                data = tar.extractfile(member).read()
                with open(os.path.join(out, os.path.basename(member.name)), "wb") as f:
                    f.write(data)
                n += 1
    if n == 0:
        raise SystemExit("fetch.py: no test capture found in %s" % orig)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", required=True)
    ap.add_argument("--cache", default=os.environ.get("TCPSTATE_CORPUS_CACHE", "/var/cache/tcpstate-corpus-src"))
    a = ap.parse_args()
    found = cached(a.cache)
    if found is None:
        download(a.cache)
        found = cached(a.cache)
        if found is None:
            raise SystemExit("fetch.py: apt-get source succeeded but %s lacks a package's files" % a.cache)
    shutil.rmtree(a.dest, ignore_errors=True)
    lines = []
    os.makedirs(a.dest)
    for pkg in PACKAGES:
        version, n = unpack(a.cache, found[pkg], pkg, a.dest)
        lines.append("%s %s: %d files" % (pkg, version, n))
    with open(os.path.join(a.dest, "SOURCES.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # tshark runs as nobody (tests/run-tshark.sh)
    for root, dirs, files in os.walk(a.dest):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for fn in files:
            os.chmod(os.path.join(root, fn), 0o644)
    say("; ".join(lines) + " (from %s) in %s" % (a.cache, a.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
