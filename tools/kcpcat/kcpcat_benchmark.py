#!/usr/bin/env python3
"""kcpcat pipe to pipe against the same transport in process, in one run.

    bazel run --config=opt //tools/kcpcat:kcpcat_benchmark -- [--runs 5] [--bytes N]

Each run moves --bytes from a pipe this script writes into `kcpcat HOST:PORT`
(the client's stdin) to a pipe this script reads from `kcpcat -l` (the
server's stdout), timed from the first byte written until the last byte
read, and the same bytes through inprocess_throughput (two engines, a
session between them, blocking Write/Read in one process). Both sides use
the same session flags (default: null cipher, fast3, windows 4096, no FEC).
The two alternate run by run so that load from elsewhere hits both alike;
the table gives each run and the medians, and the ratio kcpcat / in-process
(issue 17's target: at least 0.70).

The feeder and the reader move 1 MiB per system call so that the pipes'
other ends cost as little as possible: what is measured is kcpcat.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

SESSION = ["--crypt", "none", "--mode", "fast3", "--sndwnd", "4096", "--rcvwnd", "4096",
           "--datashard", "0", "--parityshard", "0"]
CHUNK = 1 << 20


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_kcpcat(kcpcat, nbytes, session):
    port = free_udp_port()
    addr = f"127.0.0.1:{port}"
    # The server's stdin is an empty pipe held open (so it does not end the
    # session's sending side), its stdout the pipe measured.
    server = subprocess.Popen([kcpcat, "-l", *session, "--idle_timeout", "5", addr],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    line = server.stderr.readline().decode()
    if "listening" not in line:
        server.kill()
        raise RuntimeError(f"kcpcat -l did not start: {line!r}")
    client = subprocess.Popen([kcpcat, *session, addr], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    chunk = bytes(CHUNK)
    start = time.monotonic()

    def feed():
        left = nbytes
        fd = client.stdin.fileno()
        while left > 0:
            left -= os.write(fd, memoryview(chunk)[:min(CHUNK, left)])
        client.stdin.close()

    feeder = threading.Thread(target=feed)
    feeder.start()
    got = 0
    fd = server.stdout.fileno()
    while got < nbytes:
        b = os.read(fd, CHUNK)
        if not b:
            break
        got += len(b)
    elapsed = time.monotonic() - start
    feeder.join()
    client.wait(timeout=30)
    server.stdin.close()
    server.kill()
    server.wait()
    if got != nbytes:
        raise RuntimeError(f"kcpcat delivered {got} of {nbytes} bytes")
    return nbytes / elapsed / 1e6


def run_inprocess(binary, nbytes, session):
    out = subprocess.run([binary, *session, f"--bytes={nbytes}"], capture_output=True,
                         check=True, text=True).stdout.split()
    if out[0] != "OK":
        raise RuntimeError(f"inprocess_throughput: {out}")
    return float(out[3])


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    # bazel run: the binaries are runfiles beside this script (bazel-bin).
    here = os.path.dirname(os.path.abspath(__file__))
    runfiles = os.environ.get("RUNFILES_DIR")
    if runfiles and os.path.isdir(os.path.join(runfiles, "kcpp/tools/kcpcat")):
        here = os.path.join(runfiles, "kcpp/tools/kcpcat")
    p.add_argument("--kcpcat", default=os.path.join(here, "kcpcat"))
    p.add_argument("--inprocess", default=os.path.join(here, "inprocess_throughput"))
    p.add_argument("--bytes", type=int, default=1 << 30)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--session", default=" ".join(SESSION),
                   help="session flags given to both (default: %(default)s)")
    a = p.parse_args()
    session = a.session.split()
    kc, ip = [], []
    print(f"{a.bytes} bytes per run, session flags: {' '.join(session)}")
    print("| run | in-process MB/s | kcpcat pipe-to-pipe MB/s | kcpcat / in-process |")
    print("|---:|---:|---:|---:|")
    for i in range(a.runs):
        ip.append(run_inprocess(a.inprocess, a.bytes, session))
        kc.append(run_kcpcat(a.kcpcat, a.bytes, session))
        print(f"| {i + 1} | {ip[-1]:.0f} | {kc[-1]:.0f} | {kc[-1] / ip[-1]:.2f} |", flush=True)
    mi, mk = statistics.median(ip), statistics.median(kc)
    print(f"| median | {mi:.0f} | {mk:.0f} | **{mk / mi:.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
