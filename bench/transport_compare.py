#!/usr/bin/env python3
"""kcpp's transport next to kcp-go 5.6.1 on loopback, in one run (issue 6).

Runs bench/kcpp_peer and tests/interop/kcpgo_peer (the real kcp-go, Debian's
5.6.1) as servers and clients with identical settings and prints kcpp/kcp-go
ratios against the issue's targets:

  bulk   single-session throughput, fast3, windows 1024 and 4096, for
         null, aes, aes + FEC 10/3, salsa20 + FEC 10/3 (kcpp<->kcpp vs
         kcp-go<->kcp-go); median of --rounds, the two sides alternating.
         Also MB per CPU-second of client + server (robust to a loaded box).
  rtt    echo round trip of --rtt-size byte messages, p50/p99.
  many   server CPU (utime+stime from /proc/<pid>/stat over --cpu-seconds)
         and RSS (VmRSS, VmHWM) with N sessions each sending --many-size
         bytes per second to an echo server; the client is kcpp_peer
         -bench many for both servers (the cheapest identical client),
         which also reports each message's echo time under that load
         (p50/p99 from READY to the end).

Readiness comes from the programs' own lines (LISTENING, READY, OK, RTT);
the only fixed waits are the CPU sampling intervals. Writes
transport_compare.csv, transport_compare.png (gnuplot) and the gnuplot
inputs to --out.

  bazel run --config=opt //bench:transport_compare -- [--quick] [--out DIR]
"""

import argparse
import csv
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")

BULK_CASES = [  # (label, crypt, data shards, parity shards)
    ("null", "null", 0, 0),
    ("aes", "aes", 0, 0),
    ("aes+fec10/3", "aes", 10, 3),
    ("salsa20+fec10/3", "salsa20", 10, 3),
]

TARGETS = {"bulk": ">= 3x", "rtt_p50": "-", "rtt_p99": "<= 0.5x", "cpu": "<= 0.1x",
           "rss": "<= 0.1x"}


class Proc:
    """A child whose stdout is read line by line (readiness lines)."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True, bufsize=1)
        self.result = None  # (exit code, CPU seconds) once reaped

    def readline(self, timeout):
        """Next stdout line, or None at EOF / timeout."""
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.p.stdout.readline()
        return line.rstrip("\n") if line else None

    def cpu_seconds(self):
        """utime + stime of the process so far (0 once it is gone)."""
        try:
            with open(f"/proc/{self.p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICKS
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return 0.0

    def memory_kib(self):
        """(VmRSS, VmHWM) in KiB."""
        out = {}
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        return out.get("VmRSS", 0), out.get("VmHWM", 0)

    def stop(self):
        """SIGTERM, then SIGKILL; returns (exit code, CPU seconds from rusage)."""
        if self.result is None:
            self.p.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.p.kill()
        return self.wait(None)

    def wait(self, timeout):
        """Reaps the child; returns (exit code, CPU seconds) or None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.result is None:
            pid, status, usage = os.wait4(self.p.pid, os.WNOHANG)
            if pid == self.p.pid:
                self.p.returncode = os.waitstatus_to_exitcode(status)
                self.result = (self.p.returncode, usage.ru_utime + usage.ru_stime)
            elif deadline is not None and time.monotonic() > deadline:
                return None
            else:
                time.sleep(0.01)  # polling a child's exit, not synchronisation
        return self.result

    def stderr_text(self):
        try:
            return self.p.stderr.read()[-2000:]
        except ValueError:
            return ""


def session_flags(crypt, ds, ps, window, mode):
    return ["-crypt", crypt, "-ds", str(ds), "-ps", str(ps), "-sndwnd", str(window),
            "-rcvwnd", str(window), "-mode", mode, "-mtu", "1400"]


def start_server(binary, flags, bench):
    server = Proc([binary, "-role", "server", "-addr", "127.0.0.1:0", "-bench", bench] + flags)
    line = server.readline(30)
    if not line or not line.startswith("LISTENING "):
        server.stop()
        raise RuntimeError(f"{binary} did not start: {line!r} {server.stderr_text()}")
    return server, line.split()[1]


def run_client(argv, timeout):
    client = Proc(argv)
    line = client.readline(timeout)
    result = client.wait(30 if line else 1)
    if result is None:
        client.stop()
        result = (None, 0.0)
    if not line or result[0] != 0:
        raise RuntimeError(f"client failed ({result[0]}): {line!r} {client.stderr_text()}")
    return line.split(), result[1]


def bulk_once(binary, flags, nbytes):
    server, address = start_server(binary, flags, "bulk")
    try:
        words, client_cpu = run_client(
            [binary, "-role", "client", "-addr", address, "-bench", "bulk", "-bytes", str(nbytes)]
            + flags, timeout=600)
        server_cpu = server.cpu_seconds()
    finally:
        server.stop()
    if words[0] != "OK":
        raise RuntimeError(f"unexpected client output {words}")
    seconds = float(words[2])
    return {"mbps": nbytes / seconds / 1e6, "cpu": client_cpu + server_cpu, "seconds": seconds}


def rtt_once(binary, flags, count, size, extra=()):
    server, address = start_server(binary, flags, "echo")
    try:
        words, _ = run_client(
            [binary, "-role", "client", "-addr", address, "-bench", "rtt", "-count", str(count),
             "-warmup", str(max(100, count // 10)), "-size", str(size)] + flags + list(extra),
            timeout=600)
    finally:
        server.stop()
    if words[0] != "RTT":
        raise RuntimeError(f"unexpected client output {words}")
    return {"p50": float(words[2]), "p90": float(words[3]), "p99": float(words[4]),
            "max": float(words[5]), "mean": float(words[6])}


def many_once(server_binary, client_binary, flags, sessions, size, settle, seconds):
    server, address = start_server(server_binary, flags, "echo")
    idle_rss, _ = server.memory_kib()
    client = None
    try:
        client = Proc([client_binary, "-role", "client", "-addr", address, "-bench", "many",
                       "-conns", str(sessions), "-size", str(size), "-period_ms", "1000"]
                      + flags)
        line = client.readline(120)
        if not line or not line.startswith("READY"):
            raise RuntimeError(f"many-sessions client not ready: {line!r} {client.stderr_text()}")
        time.sleep(settle)  # let every session reach its steady state
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        time.sleep(seconds)  # the measurement interval
        cpu1, t1 = server.cpu_seconds(), time.monotonic()
        rss, hwm = server.memory_kib()
    finally:
        if client is not None:
            client.stop()
        server.stop()
    # After SIGTERM the client prints DONE and the echo times it saw from
    # READY on: "RTT <count> <p50> <p90> <p99> <max> <mean>".
    rtt = {"p50": 0.0, "p99": 0.0}
    while True:
        line = client.readline(1)
        if line is None:
            break
        if line.startswith("RTT "):
            words = line.split()
            rtt = {"p50": float(words[2]), "p99": float(words[4])}
    return {"cpu_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0), "rss_mib": rss / 1024.0,
            "hwm_mib": hwm / 1024.0, "idle_rss_mib": idle_rss / 1024.0,
            "echo_p50": rtt["p50"], "echo_p99": rtt["p99"]}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kcpp", default=os.path.join(here, "kcpp_peer"))
    ap.add_argument("--kcpgo", default=os.path.join(here, "..", "tests", "interop",
                                                    "kcpgo_peer.bin"))
    ap.add_argument("--out", default=None, help="output directory (default: bench/ of the "
                    "workspace under bazel run, else the current directory)")
    ap.add_argument("--only", default="bulk,rtt,many", help="comma list of bulk, rtt, many")
    ap.add_argument("--mode", default="fast3")
    ap.add_argument("--windows", default="1024,4096")
    ap.add_argument("--cases", default=",".join(c[0] for c in BULK_CASES))
    ap.add_argument("--bytes", type=int, default=256 << 20, help="bulk: bytes per run")
    ap.add_argument("--rounds", type=int, default=3, help="bulk and rtt: runs per side")
    ap.add_argument("--rtt-count", type=int, default=5000)
    ap.add_argument("--rtt-size", type=int, default=1024)
    ap.add_argument("--sessions", default="1000,5000")
    ap.add_argument("--many-size", type=int, default=64)
    ap.add_argument("--many-window", type=int, default=1024)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--cpu-seconds", type=float, default=20.0)
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the chart from transport_compare.csv in --out")
    ap.add_argument("--replot-subtitle", default="", help="--replot: the chart's subtitle")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and short intervals (a smoke run, not a measurement)")
    args = ap.parse_args()
    if args.quick:
        args.bytes, args.rounds, args.rtt_count = 16 << 20, 1, 500
        args.sessions, args.settle, args.cpu_seconds = "200", 1.0, 3.0
    out = args.out or os.path.join(os.environ.get("BUILD_WORKSPACE_DIRECTORY", "."), "bench")
    os.makedirs(out, exist_ok=True)
    if args.replot:
        with open(os.path.join(out, "transport_compare.csv")) as f:
            rows = [(r["test"], r["case"], r["metric"], float(r["kcpp"]), float(r["kcpgo"]),
                     r["unit"], float(r["ratio"]), r["target"]) for r in csv.DictReader(f)]
        print(f"wrote {plot(rows, out, args.replot_subtitle)}")
        return
    only = set(args.only.split(","))
    sides = [("kcpp", os.path.abspath(args.kcpp)), ("kcp-go", os.path.abspath(args.kcpgo))]
    for _, path in sides:
        if not os.access(path, os.X_OK):
            sys.exit(f"missing {path}: bazel build --config=opt //bench:kcpp_peer "
                     "//tests/interop:kcpgo_peer")

    rows = []  # (test, case, metric, kcpp, kcpgo, unit, ratio, target)
    load_start = loadavg()
    print(f"# load average at start: {load_start}; {os.cpu_count()} CPUs", flush=True)

    if "bulk" in only:
        cases = [c for c in BULK_CASES if c[0] in args.cases.split(",")]
        for window in [int(w) for w in args.windows.split(",")]:
            for label, crypt, ds, ps in cases:
                flags = session_flags(crypt, ds, ps, window, args.mode)
                got = {"kcpp": [], "kcp-go": []}
                for r in range(args.rounds):
                    order = sides if r % 2 == 0 else sides[::-1]
                    for name, binary in order:
                        try:
                            got[name].append(bulk_once(binary, flags, args.bytes))
                        except RuntimeError as e:
                            print(f"  {name} {label} w{window}: {e}", file=sys.stderr)
                med = {}
                for name in got:
                    runs = got[name]
                    med[name] = (statistics.median(x["mbps"] for x in runs) if runs else 0.0,
                                 statistics.median(args.bytes / 1e6 / x["cpu"] for x in runs
                                                   if x["cpu"] > 0) if runs else 0.0,
                                 [round(x["mbps"]) for x in runs])
                case = f"{label} w{window}"
                rows.append(("bulk", case, "MB/s", med["kcpp"][0], med["kcp-go"][0], "MB/s",
                             ratio(med["kcpp"][0], med["kcp-go"][0]), TARGETS["bulk"]))
                rows.append(("bulk-cpu", case, "MB per CPU-s", med["kcpp"][1], med["kcp-go"][1],
                             "MB/CPU-s", ratio(med["kcpp"][1], med["kcp-go"][1]), "-"))
                print(f"bulk {case:22s} kcpp {med['kcpp'][0]:7.1f} MB/s {med['kcpp'][2]}  "
                      f"kcp-go {med['kcp-go'][0]:7.1f} MB/s {med['kcp-go'][2]}  "
                      f"ratio {rows[-2][6]:.2f}  | per CPU-s {med['kcpp'][1]:.0f} vs "
                      f"{med['kcp-go'][1]:.0f}", flush=True)

    if "rtt" in only:
        flags = session_flags("null", 0, 0, 1024, args.mode)
        got = {"kcpp": [], "kcp-go": [], "kcpp-async": []}
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for name, binary in order:
                try:
                    got[name].append(rtt_once(binary, flags, args.rtt_count, args.rtt_size))
                except RuntimeError as e:
                    print(f"  {name} rtt: {e}", file=sys.stderr)
            # kcpp's client driven by callbacks on its loop (no application
            # thread hop); kcp-go has no such form. Informational.
            try:
                got["kcpp-async"].append(rtt_once(sides[0][1], flags, args.rtt_count,
                                                  args.rtt_size, ["-async"]))
            except RuntimeError as e:
                print(f"  kcpp rtt -async: {e}", file=sys.stderr)
        case = f"{args.rtt_size} B echo"

        def med(name, metric):
            return statistics.median(x[metric] for x in got[name]) if got[name] else 0.0

        def best(name, metric):
            return min(x[metric] for x in got[name]) if got[name] else 0.0

        for metric in ("p50", "p99"):
            k, g = med("kcpp", metric), med("kcp-go", metric)
            rows.append(("rtt", case, metric, k, g, "us", ratio(k, g), TARGETS["rtt_" + metric]))
            print(f"rtt {metric} kcpp {k:.1f} us {[x[metric] for x in got['kcpp']]}  kcp-go "
                  f"{g:.1f} us {[x[metric] for x in got['kcp-go']]}  ratio {rows[-1][6]:.2f}",
                  flush=True)
        k, g = best("kcpp", "p99"), best("kcp-go", "p99")
        rows.append(("rtt", case, "p99, least disturbed round", k, g, "us", ratio(k, g), "-"))
        for metric in ("p50", "p99"):
            k, g = med("kcpp-async", metric), med("kcp-go", metric)
            rows.append(("rtt", case + ", kcpp client in callbacks", metric, k, g, "us",
                         ratio(k, g), "-"))
            print(f"rtt {metric} kcpp -async {k:.1f} us "
                  f"{[x[metric] for x in got['kcpp-async']]}", flush=True)

    if "many" in only:
        flags = session_flags("null", 0, 0, args.many_window, args.mode)
        client_binary = sides[0][1]
        for n in [int(s) for s in args.sessions.split(",")]:
            res = {}
            for name, binary in sides:
                try:
                    res[name] = many_once(binary, client_binary, flags, n, args.many_size,
                                          args.settle, args.cpu_seconds)
                except RuntimeError as e:
                    print(f"  {name} many {n}: {e}", file=sys.stderr)
                    res[name] = {"cpu_pct": 0.0, "rss_mib": 0.0, "hwm_mib": 0.0,
                                 "idle_rss_mib": 0.0, "echo_p50": 0.0, "echo_p99": 0.0}
            case = f"{n} sessions"
            k, g = res["kcpp"], res["kcp-go"]
            rows.append(("many", case, "server CPU %", k["cpu_pct"], g["cpu_pct"], "% of a core",
                         ratio(k["cpu_pct"], g["cpu_pct"]), TARGETS["cpu"]))
            rows.append(("many", case, "server VmRSS", k["rss_mib"], g["rss_mib"], "MiB",
                         ratio(k["rss_mib"], g["rss_mib"]), TARGETS["rss"]))
            rows.append(("many", case, "server VmHWM", k["hwm_mib"], g["hwm_mib"], "MiB",
                         ratio(k["hwm_mib"], g["hwm_mib"]), "-"))
            rows.append(("many", case, "server RSS before sessions", k["idle_rss_mib"],
                         g["idle_rss_mib"], "MiB", ratio(k["idle_rss_mib"], g["idle_rss_mib"]),
                         "-"))
            for q in ("p50", "p99"):
                rows.append(("many", case, f"echo {q} under this load", k["echo_" + q],
                             g["echo_" + q], "us", ratio(k["echo_" + q], g["echo_" + q]), "-"))
            print(f"many {case}: CPU kcpp {k['cpu_pct']:.1f}% kcp-go {g['cpu_pct']:.1f}%  "
                  f"RSS kcpp {k['rss_mib']:.1f} MiB (idle {k['idle_rss_mib']:.1f}) kcp-go "
                  f"{g['rss_mib']:.1f} MiB (idle {g['idle_rss_mib']:.1f})  echo p50/p99 kcpp "
                  f"{k['echo_p50']:.0f}/{k['echo_p99']:.0f} us kcp-go "
                  f"{g['echo_p50']:.0f}/{g['echo_p99']:.0f} us", flush=True)

    load_end = loadavg()
    print(f"# load average at end: {load_end}")
    print()
    print("| test | case | metric | kcpp | kcp-go 5.6.1 | unit | kcpp / kcp-go | target |")
    print("|---|---|---|---:|---:|---|---:|---|")
    for t, case, metric, k, g, unit, r, target in rows:
        print(f"| {t} | {case} | {metric} | {k:.1f} | {g:.1f} | {unit} | {r:.2f} | {target} |")
    print(f"\nload average: start {load_start}, end {load_end}")

    csv_path = os.path.join(out, "transport_compare.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["test", "case", "metric", "kcpp", "kcpgo", "unit", "ratio", "target"])
        for row in rows:
            w.writerow([row[0], row[1], row[2], f"{row[3]:.2f}", f"{row[4]:.2f}", row[5],
                        f"{row[6]:.3f}", row[7]])
    print(f"wrote {csv_path}")
    png = plot(rows, out, f"load {load_start} -> {load_end}")
    if png:
        print(f"wrote {png}")


def plot(rows, out, subtitle):
    """A 2x2 gnuplot chart of whatever was measured; None without gnuplot."""
    if not shutil.which("gnuplot"):
        print("gnuplot not found (tools/setup.sh installs gnuplot-nox): no chart",
              file=sys.stderr)
        return None
    panels = [
        ("bulk", lambda r: r[0] == "bulk", "single-session bulk (MB/s, higher is better)"),
        ("rtt", lambda r: r[0] == "rtt", "1 KiB echo round trip (us, lower is better)"),
        ("cpu", lambda r: r[0] == "many" and r[2] == "server CPU %",
         "server CPU, % of a core (lower is better)"),
        ("rss", lambda r: r[0] == "many" and r[2] == "server VmRSS",
         "server RSS, MiB (lower is better)"),
    ]
    script = [
        "set terminal pngcairo size 1400,900 font 'DejaVu Sans,10'",
        "set output 'transport_compare.png'",
        f"set multiplot layout 2,2 title 'kcpp vs kcp-go 5.6.1 on loopback ({subtitle})'",
        "set style data histogram", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set boxwidth 0.9", "set key top left",
        "set grid ytics", "set yrange [0:*]", "set datafile separator '\\t'",
        "set xtics rotate by -30 left",
    ]
    for name, keep, title in panels:
        data = [r for r in rows if keep(r)]
        dat = f"transport_compare_{name}.dat"
        with open(os.path.join(out, dat), "w") as f:
            for r in data:
                label = r[1] if name != "rtt" else r[2].replace(", least disturbed round",
                                                                   " best round")
                if "callbacks" in r[1]:
                    label += " (kcpp callbacks)"
                f.write(f"{label}\t{r[3]:.2f}\t{r[4]:.2f}\n")
        script.append(f"set title '{title}'")
        # Round trips span 40 us to milliseconds (scheduler stalls): log scale.
        script.append("set logscale y; set yrange [10:*]" if name == "rtt" and data
                      else "unset logscale y; set yrange [0:*]")
        if data:
            script.append(f"plot '{dat}' using 2:xtic(1) title 'kcpp' lc rgb '#1f77b4', "
                          f"'' using 3 title 'kcp-go 5.6.1' lc rgb '#ff7f0e'")
        else:
            script.append("set label 1 'not measured' at graph 0.4,0.5")
            script.append("plot [0:1] [0:1] NaN notitle")
            script.append("unset label 1")
    script.append("unset multiplot")
    with open(os.path.join(out, "transport_compare.gp"), "w") as f:
        f.write("\n".join(script) + "\n")
    subprocess.run(["gnuplot", "transport_compare.gp"], check=True, cwd=out)
    return os.path.join(out, "transport_compare.png")


if __name__ == "__main__":
    main()
