#!/usr/bin/env python3
"""Issue 16, defect 1, measured: a uid kcpd does not allow floods its control
socket; what does kcpd hold, and does it stay answerable?

Starts the real kcpd (fake backend, --allow_uid=12345 so the control socket is
0666), then a process running as nobody (65534) that keeps N connections to
the control socket open for T seconds, reopening each one kcpd closes. Once a
second the allowed client (this uid) runs `kcpctl stats`. Prints what the
attacker spent and what kcpd held: descriptors and RSS (peaks of the
per-second samples), CPU time, log bytes and lines, and how many of the
kcpctl calls were answered.

Run as root (the attacker becomes nobody):
  bazel build --config=opt //kcpd:kcpd_fake_backend_for_test //kcpctl
  python3 tests/hardening/sockets/control_flood_bench.py bazel-bin/kcpd/kcpd_fake_backend_for_test \
      bazel-bin/kcpctl/kcpctl --connections=20000 --seconds=40
"""
import argparse
import os
import resource
import select
import shutil
import socket
import subprocess
import tempfile
import time


def attacker(path, connections, seconds, report_fd):
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    poller = select.poll()
    open_socks = {}
    opened = 0
    end = time.monotonic() + seconds

    def connect_one():
        nonlocal opened
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError:  # out of descriptors ourselves: wait for kcpd to close some
            return False
        s.setblocking(False)
        try:
            s.connect(path)
        except (BlockingIOError, OSError):
            s.close()
            return False
        opened += 1
        open_socks[s.fileno()] = s
        poller.register(s.fileno(), select.POLLHUP)
        return True

    while time.monotonic() < end:
        while len(open_socks) < connections and time.monotonic() < end:
            if not connect_one():
                break
        for fd, _ in poller.poll(100):
            poller.unregister(fd)
            open_socks.pop(fd).close()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    os.write(report_fd, f"{opened} {cpu.ru_utime + cpu.ru_stime:.1f}\n".encode())
    os._exit(0)


def fds_of(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kcpd")
    ap.add_argument("kcpctl")
    ap.add_argument("--connections", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=40)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="kcpd-fb-", dir="/tmp")
    os.chmod(d, 0o711)
    control = os.path.join(d, "control.sock")
    log = os.path.join(d, "kcpd.log")
    with open(log, "wb") as logf:
        kcpd = subprocess.Popen([a.kcpd, "--backend=fake", "--control_socket=" + control,
                                 "--allow_uid=12345", "--ready_fd=1"],
                                stdout=subprocess.PIPE, stderr=logf)
    assert kcpd.stdout.readline() == b"ready\n"
    base_fds, base_rss, base_cpu = fds_of(kcpd.pid), rss_kib(kcpd.pid), cpu_seconds(kcpd.pid)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        attacker(control, a.connections, a.seconds, w)
    os.close(w)
    peak_fds, peak_rss, answered, asked = base_fds, base_rss, 0, 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        peak_fds = max(peak_fds, fds_of(kcpd.pid))
        peak_rss = max(peak_rss, rss_kib(kcpd.pid))
        asked += 1
        p = subprocess.run([a.kcpctl, "--socket=" + control, "--timeout=2s", "stats"],
                           capture_output=True)
        answered += p.returncode == 0
        time.sleep(1)  # sampling period of a measurement, not synchronisation
    opened, attacker_cpu = os.read(r, 100).decode().split()
    os.waitpid(child, 0)
    used_cpu = cpu_seconds(kcpd.pid) - base_cpu
    kcpd.terminate()
    kcpd.wait()
    size = os.path.getsize(log)
    with open(log, "rb") as f:
        lines = sum(1 for _ in f)
    print(f"attacker: {a.connections} held at a time, {opened} connections opened in "
          f"{a.seconds:.0f} s, {attacker_cpu} s of CPU")
    print(f"kcpd: descriptors {base_fds} -> peak {peak_fds}; RSS {base_rss // 1024} -> peak "
          f"{peak_rss // 1024} MiB; CPU {used_cpu:.1f} s ({100 * used_cpu / a.seconds:.0f} % "
          f"of a core); log {size} bytes, {lines} lines")
    print(f"allowed client: {answered} of {asked} `kcpctl stats` answered")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
