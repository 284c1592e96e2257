#!/usr/bin/env python3
"""kcpp against kcp-go 5.6.1 and Linux TCP on emulated WAN links (issue 15).

Two network namespaces (kcpp-a, kcpp-b) joined only through linkem
(tools/linkem), a user-space link emulator: per direction a bottleneck rate,
a drop-tail queue of 1 BDP, half the round trip as delay, random or bursty
loss. For every named profile (`linkem --list_profiles`) and every
contender, one bulk transfer from A to B with a fresh linkem (same seed, so
every contender meets the same loss process):

  kcpp/<cc>   bench/kcpp_peer -bench bulk, once per congestion controller the
              binary offers (-congestion, found in its --helpfull at run
              time); plain "kcpp" if it has no such flag
  kcp-go      tests/interop/kcpgo_peer (the real kcp-go 5.6.1), same flags
  tcp-cubic   iperf3 -C cubic
  tcp-bbr     iperf3 -C bbr

KCP sessions run as kcptun users run them: -crypt aes -ds 10 -ps 3
-mtu 1350 -mode fast3 -sndwnd 1024 -rcvwnd 1024. KCP transfers are
size-bounded (PROFILE_WORK: bytes per profile, with a time cap); TCP
transfers are time-bounded (iperf3 -t), since CUBIC on a lossy long link
would take tens of minutes for the same bytes.

Per run: goodput (application bytes / time), % of the link rate, wire bytes
per delivered byte (UDP or TCP payload bytes the sender put on the link, from
linkem's per-protocol counters, over the bytes delivered), queue and random
drops on the data direction (linkem), and the round trip of an ICMP echo
every 10 ms from A to B while the transfer runs (ping, p50/p99: the
queueing delay the bulk flow inflicts on everything else on the link), and
the p99 of the pings sent once the flow is established (from
max(2 s, 20 RTTs) after the client starts to its end; STARTUP_SECONDS):
start-up's deliberate overshoot (BBR's and TCP's slow start) is over by
then, what remains is the queue the flow keeps.

Fairness: on the clean 100 Mbit/s link, one KCP flow (each kcpp controller,
and kcp-go for reference) and one TCP CUBIC flow start together for 30 s;
each one's share of the delivered bytes (linkem's UDP and TCP delivered IP
bytes between two stats snapshots).

--validate instead checks the emulator itself: ping RTT against the
configured RTT on every profile, TCP throughput on the clean links, a UDP
flood at ~1 Gbit/s, and measured against configured loss rates.

Writes wan_compare.md, wan_compare.csv, wan_fairness.csv, wan_compare.png
(gnuplot) and the gnuplot inputs to --out (bench/wan of the workspace under bazel run).

  bazel run --config=opt //bench/wan:wan_compare -- [--profiles=a,b] [--quick]
  bazel run --config=opt //bench/wan:wan_compare -- --validate
Needs root (network namespaces, TUN devices) and iperf3 (tools/setup.sh).
"""

import argparse
import csv
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ADDR_B = "10.77.0.2"
KCP_FLAGS = ["-crypt", "aes", "-ds", "10", "-ps", "3", "-mtu", "1350", "-sndwnd", "1024",
             "-rcvwnd", "1024"]
MIB = 1 << 20
# Bytes each KCP contender moves, TCP's time bound (s) and the KCP time cap (s).
PROFILE_WORK = {
    "clean_1g_1ms": (64 * MIB, 10, 120),
    "clean_100m_50ms": (64 * MIB, 15, 120),
    "lossy_100m_100ms_1pct": (64 * MIB, 15, 180),
    "lossy_50m_200ms_3pct": (48 * MIB, 20, 180),
    "bursty_20m_80ms_2pct": (24 * MIB, 20, 180),
    "sat_10m_600ms_0.5pct": (12 * MIB, 30, 180),
}
CONTROLLERS = ["kcp-go", "none", "bbr"]  # kcpp's -congestion names, as the issue lists them


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Proc:
    """A child whose stdout is read line by line; stderr goes to a file."""

    def __init__(self, argv, ns=None, name="proc", tmp="/tmp"):
        self.name = name
        self.argv = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        self.err_path = os.path.join(tmp, f"{name}.err")
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.err,
                                  stdin=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines = []

    def readline(self, timeout):
        """Next stdout line, or None at EOF / timeout."""
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.p.stdout.readline()
        if not line:
            return None
        self.lines.append(line.rstrip("\n"))
        return self.lines[-1]

    def wait_for(self, prefix, timeout):
        """Reads lines until one starts with `prefix`; returns it or raises."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None and self.p.poll() is not None:
                break
            if line is not None and line.startswith(prefix):
                return line
        raise RuntimeError(f"{self.name}: no line starting {prefix!r} "
                           f"(exit {self.p.poll()}): {self.stderr_tail()}")

    def send(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def finish(self, sig=signal.SIGTERM, timeout=10):
        """Signals (if still running), waits, and returns all remaining stdout lines."""
        self.send(sig)
        if self.wait(timeout) is None:
            self.p.kill()
            self.p.wait()
        rest = self.p.stdout.read()
        if rest:
            self.lines.extend(rest.splitlines())
        self.err.close()
        return self.lines

    def stderr_tail(self):
        if not self.err.closed:
            self.err.flush()
        try:
            with open(self.err_path) as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            return 0.0


class Bench:
    def __init__(self, args):
        self.args = args
        self.ns_a, self.ns_b = f"{args.ns_prefix}-a", f"{args.ns_prefix}-b"
        self.tmp = args.tmp
        self.children = []
        self.profiles = {}
        for line in subprocess.run([args.linkem, "--list_profiles"], check=True,
                                   capture_output=True, text=True).stdout.splitlines():
            p = json.loads(line)
            self.profiles[p["name"]] = p
        self.controllers = self.detect_controllers()
        self.port = 5300

    # --- set-up ---------------------------------------------------------------
    def detect_controllers(self):
        """kcpp_peer's -congestion values, [] if it has no such flag."""
        try:
            help_text = subprocess.run([self.args.kcpp, "--helpfull"], capture_output=True,
                                       text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        m = re.search(r"-congestion \(([^)]*)\)", help_text)
        if not m:
            return []
        return [c for c in CONTROLLERS if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])",
                                                     m.group(1))] or []

    def netns(self, action):
        env = dict(os.environ, LINKEM_NS_A=self.ns_a, LINKEM_NS_B=self.ns_b)
        subprocess.run(["bash", self.args.netns, action], check=True, env=env,
                       stdout=subprocess.DEVNULL)

    def spawn(self, argv, ns=None, name="proc"):
        p = Proc(argv, ns=ns, name=name, tmp=self.tmp)
        self.children.append(p)
        return p

    def kill_all(self):
        for p in self.children:
            if p.p.poll() is None:
                p.p.kill()
                p.p.wait()
        self.children = []

    def device_drops(self):
        """Packets the kernel dropped on both TUNs before linkem read them."""
        total = 0
        for ns, dev in ((self.ns_a, "lkem-a"), (self.ns_b, "lkem-b")):
            out = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", dev],
                                 capture_output=True, text=True).stdout
            try:
                total += json.loads(out)[0]["stats64"]["tx"]["dropped"]
            except (ValueError, IndexError, KeyError):
                pass
        return total

    def start_linkem(self, profile, extra=()):
        argv = [self.args.linkem, f"--profile={profile}", f"--ns_a={self.ns_a}",
                f"--ns_b={self.ns_b}", f"--seed={self.args.seed}",
                f"--realtime_priority={self.args.realtime_priority}"] + list(extra)
        lk = self.spawn(argv, name="linkem")
        lk.wait_for('{"linkem":"ready"', 10)
        return lk

    @staticmethod
    def stats_of(lines):
        stats = [json.loads(l) for l in lines if l.startswith('{"linkem":"stats"')]
        if not stats:
            raise RuntimeError("linkem printed no stats")
        return stats

    def snapshot(self, lk):
        lk.send(signal.SIGUSR1)
        return json.loads(lk.wait_for('{"linkem":"stats"', 10))

    def next_port(self):
        self.port += 1
        return self.port

    # --- one bulk transfer ------------------------------------------------------
    def kcp_server(self, binary, flags, name):
        srv = self.spawn([binary, "-role", "server", "-addr", f"{ADDR_B}:0", "-bench", "bulk"]
                         + flags, ns=self.ns_b, name=name + "-server")
        return srv, srv.wait_for("LISTENING ", 20).split()[1]

    def iperf_server(self):
        port = self.next_port()
        srv = self.spawn(["iperf3", "-s", "-1", "-B", ADDR_B, "-p", str(port)], ns=self.ns_b,
                         name="iperf3-server")
        # iperf3 buffers its banner when writing to a pipe: ready once the
        # port listens.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = subprocess.run(["ip", "netns", "exec", self.ns_b, "ss", "-Hltn",
                                  f"sport = :{port}"], capture_output=True, text=True).stdout
            if out.strip():
                return srv, port
            if srv.p.poll() is not None:
                break
            time.sleep(0.02)  # polling for readiness, not synchronisation by delay
        raise RuntimeError(f"iperf3 server on port {port} did not start: {srv.stderr_tail()}")

    def contenders(self):
        names = [f"kcpp/{c}" for c in self.controllers] or ["kcpp"]
        names += ["kcp-go", "tcp-cubic", "tcp-bbr"]
        if self.args.contenders:
            wanted = self.args.contenders.split(",")
            names = [n for n in names if n in wanted or n.split("/")[0] in wanted]
        return names

    def kcp_argv(self, contender):
        flags = KCP_FLAGS + ["-mode", self.args.mode]
        if contender.startswith("kcpp"):
            binary = self.args.kcpp
            if "/" in contender:
                flags += ["-congestion", contender.split("/", 1)[1]]
        else:
            binary = self.args.kcpgo
        return binary, flags

    def run_one(self, profile, contender):
        nbytes, tcp_seconds, cap = PROFILE_WORK.get(profile, (16 * MIB, 15, 120))
        if self.args.quick:
            nbytes, tcp_seconds, cap = nbytes // 8, max(5, tcp_seconds // 3), cap // 2
        p = self.profiles[profile]
        drops0 = self.device_drops()
        lk = self.start_linkem(profile)
        srv = None
        ping = None
        client_start = client_end = None
        row = {"profile": profile, "contender": contender, "rate_mbps": p["rate_bps"] / 1e6,
               "rtt_ms": p["rtt_us"] / 1e3, "loss_pct": 100 * p["loss_rate"],
               "queue_bytes": p["queue_bytes"]}
        try:
            if contender.startswith("tcp-"):
                srv, port = self.iperf_server()
                argv = ["iperf3", "-c", ADDR_B, "-p", str(port), "-t", str(tcp_seconds), "-C",
                        contender.split("-", 1)[1], "-J"]
                bound = f"{tcp_seconds} s"
            else:
                binary, flags = self.kcp_argv(contender)
                srv, addr = self.kcp_server(binary, flags, contender.replace("/", "_"))
                argv = [binary, "-role", "client", "-addr", addr, "-bench", "bulk", "-bytes",
                        str(nbytes)] + flags
                if contender.startswith("kcpp"):
                    argv.append("-stats")
                bound = f"{nbytes // MIB} MiB"
            ping = self.spawn(["ping", "-D", "-n", "-i", "0.01", "-s", "56", ADDR_B],
                              ns=self.ns_a, name="ping")
            client_start = time.time()
            client = self.spawn(argv, ns=self.ns_a, name="client")
            timeout = tcp_seconds + 60 if contender.startswith("tcp-") else cap
            exited = client.wait(timeout)
            client_end = time.time()
            if exited is None:
                client.finish(signal.SIGKILL)
                row.update(goodput_mbps=float("nan"), note=f"timeout {timeout} s")
            else:
                out = client.finish()
                if contender.startswith("tcp-"):
                    j = json.loads("\n".join(out))
                    if "error" in j:
                        raise RuntimeError(f"iperf3: {j['error']}")
                    got = j["end"]["sum_received"]["bytes"]
                    secs = j["end"]["sum_received"]["seconds"]
                    row["retransmits"] = j["end"]["sum_sent"].get("retransmits", "")
                else:
                    ok = [l for l in out if l.startswith("OK ")]
                    if client.p.returncode != 0 or not ok:
                        raise RuntimeError(f"{contender} client failed: {out} "
                                           f"{client.stderr_tail()}")
                    got, secs = int(ok[0].split()[1]), float(ok[0].split()[2])
                    err = client.stderr_tail()
                    m = re.search(r"datagrams out (\d+).*retransmitted (\d+)", err)
                    if m:
                        row["datagrams_out"], row["retransmits"] = int(m.group(1)), int(m.group(2))
                    m = re.search(r"parity out (\d+)", err)  # kcpp_peer -stats, when it has it
                    if m:
                        row["parity_out"] = int(m.group(1))
                row.update(bytes=got, seconds=secs, goodput_mbps=got * 8 / secs / 1e6, note="")
            row["bound"] = bound
        finally:
            pings = parse_ping(ping.finish(signal.SIGINT)) if ping else []
            if srv:
                srv.finish()
            stats = self.stats_of(lk.finish())[-1]
            self.kill_all()
        a2b, b2a = stats["a2b"], stats["b2a"]
        established = []
        if client_end is not None:
            since = client_start + startup_seconds(row["rtt_ms"])
            established = [r for sent, r in pings if since <= sent <= client_end]
        proto = "tcp" if contender.startswith("tcp-") else "udp"
        delivered = row.get("bytes") or 0
        # FEC parity's part of the wire bytes, from the sender's datagram
        # counts (parity shards are padded to their group's largest shard,
        # in a bulk transfer the MTU, so by count is close to by bytes).
        parity_part = float("nan")
        if row.get("parity_out") is not None and row.get("datagrams_out") and delivered:
            parity_part = (a2b[f"{proto}_payload_bytes"] / delivered
                           * row["parity_out"] / row["datagrams_out"])
        row.update(
            parity_per_byte=parity_part,
            pct_of_link=100 * row["goodput_mbps"] / row["rate_mbps"],
            wire_per_byte=a2b[f"{proto}_payload_bytes"] / delivered if delivered else float("nan"),
            offered_packets=a2b["offered_packets"], queue_drops=a2b["queue_drops"],
            queue_drop_pct=100 * a2b["queue_drops"] / max(1, a2b["offered_packets"]),
            loss_drops=a2b["loss_drops"], reverse_loss_drops=b2a["loss_drops"],
            peak_queue_bytes=a2b["peak_queue_bytes"],
            rtt_p50_ms=percentile([r for _, r in pings], 50),
            rtt_p99_ms=percentile([r for _, r in pings], 99),
            rtt_p99_established_ms=percentile(established, 99),
            pings=len(pings), late_mean_us=a2b["late_mean_us"], late_max_us=a2b["late_max_us"],
            device_drops=self.device_drops() - drops0)
        return row

    # --- fairness -----------------------------------------------------------------
    def fairness(self, contender, profile="clean_100m_50ms", seconds=30):
        if self.args.quick:
            seconds = 10
        p = self.profiles[profile]
        lk = self.start_linkem(profile)
        try:
            binary, flags = self.kcp_argv(contender)
            ksrv, addr = self.kcp_server(binary, flags, "fair")
            isrv, port = self.iperf_server()
            before = self.snapshot(lk)
            tcp = self.spawn(["iperf3", "-c", ADDR_B, "-p", str(port), "-t", str(seconds), "-C",
                              "cubic", "-J"], ns=self.ns_a, name="fair-tcp")
            kcp = self.spawn([binary, "-role", "client", "-addr", addr, "-bench", "bulk",
                              "-bytes", str(int(p["rate_bps"] / 8 * (seconds + 30)))] + flags,
                             ns=self.ns_a, name="fair-kcp")
            if tcp.wait(seconds + 60) is None:
                raise RuntimeError("fairness: iperf3 did not finish")
            after = self.snapshot(lk)
            j = json.loads("\n".join(tcp.finish()))
            kcp.finish(signal.SIGKILL)
        finally:
            lk.finish()
            self.kill_all()
        window = (after["t_us"] - before["t_us"]) / 1e6
        link_bytes = p["rate_bps"] / 8 * window
        udp = after["a2b"]["udp_delivered_ip_bytes"] - before["a2b"]["udp_delivered_ip_bytes"]
        tcpb = after["a2b"]["tcp_delivered_ip_bytes"] - before["a2b"]["tcp_delivered_ip_bytes"]
        return {"profile": profile, "contender": contender, "seconds": round(window, 1),
                "kcp_share_pct": 100 * udp / link_bytes, "tcp_share_pct": 100 * tcpb / link_bytes,
                "tcp_goodput_mbps": j["end"]["sum_received"]["bits_per_second"] / 1e6,
                "queue_drops": after["a2b"]["queue_drops"] - before["a2b"]["queue_drops"]}

    # --- emulator validation --------------------------------------------------------
    def validate(self):
        rows = []
        for name in self.selected_profiles():
            p = self.profiles[name]
            lk = self.start_linkem(name)
            ping = self.spawn(["ping", "-n", "-i", "0.02", "-c", "300", "-s", "56", ADDR_B],
                              ns=self.ns_a, name="ping")
            ping.wait(60)
            lines = ping.finish()
            rtts = [float(m.group(1)) for l in lines
                    for m in [re.search(r"time=([\d.]+) ms", l)] if m]
            # The summary's average has microsecond resolution; the
            # per-reply times are rounded to 3 significant digits.
            avg = [float(m.group(1)) for l in lines
                   for m in [re.search(r"= [\d.]+/([\d.]+)/", l)] if m]
            stats = self.stats_of(lk.finish())[-1]
            self.kill_all()
            want = p["rtt_us"] / 1e3
            mean = avg[0] if avg else float("nan")
            rows.append(("ping RTT", name, f"{want:g} ms", f"mean {mean:.3f} ms, "
                         f"p99 {percentile(rtts, 99):.3f} ms ({len(rtts)} replies)",
                         f"{100 * (mean - want) / want:+.2f} % ({1000 * (mean - want):+.0f} us)",
                         f"linkem late mean {stats['a2b']['late_mean_us']:.0f} us"))
            log(f"validate ping {name}: {rows[-1][3]} {rows[-1][4]}")
        for name in ("clean_100m_50ms", "clean_1g_1ms"):
            if name not in self.profiles:
                continue
            for cc in ("cubic", "bbr"):
                rate = self.profiles[name]["rate_bps"] / 1e6
                lk = self.start_linkem(name)
                srv, port = self.iperf_server()
                cli = self.spawn(["iperf3", "-c", ADDR_B, "-p", str(port), "-t", "20", "-O", "5",
                                  "-C", cc, "-J"], ns=self.ns_a, name="tcp")
                cli.wait(90)
                j = json.loads("\n".join(cli.finish()))
                srv.finish()
                stats = self.stats_of(lk.finish())[-1]
                self.kill_all()
                mbps = j["end"]["sum_received"]["bits_per_second"] / 1e6
                rows.append((f"TCP {cc} (20 s after 5 s)", name, f"{rate:g} Mbit/s",
                             f"{mbps:.1f} Mbit/s goodput", f"{100 * mbps / rate:.1f} %",
                             f"queue drops {stats['a2b']['queue_drops']}"))
                log(f"validate tcp {cc} {name}: {mbps:.1f} Mbit/s")
        # A UDP flood just under 1 Gbit/s: what the emulator itself forwards.
        # A 4 MB queue, so the sender's bursts (iperf3 paces per millisecond
        # and catches up in bursts when the CPU is busy) are not what limits.
        lk = self.start_linkem("clean_1g_1ms", ["--queue=4MB"])
        srv, port = self.iperf_server()
        drops0 = self.device_drops()
        cpu0, t0 = lk.cpu_seconds(), time.monotonic()
        cli = self.spawn(["iperf3", "-c", ADDR_B, "-p", str(port), "-u", "-b", "950M", "-l",
                          "1322", "-t", "10", "-J"], ns=self.ns_a, name="udp")
        cli.wait(60)
        cpu = (lk.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        j = json.loads("\n".join(cli.finish()))
        sent_mbps = j["end"]["sum"]["bits_per_second"] / 1e6 if "sum" in j.get("end", {}) else 0
        srv.finish()
        stats = self.stats_of(lk.finish())[-1]
        self.kill_all()
        a = stats["a2b"]
        secs = stats["t_us"] / 1e6
        rows.append(("UDP flood, iperf3 -b 950M, 1350-byte IP packets, 4 MB queue",
                     "clean_1g_1ms", "1000 Mbit/s",
                     f"sender {sent_mbps:.0f} Mbit/s payload; linkem delivered "
                     f"{a['delivered_bytes'] * 8 / 10 / 1e6:.0f} Mbit/s "
                     f"({a['delivered_packets'] / 10:.0f} packets/s)",
                     f"linkem CPU {100 * cpu:.0f} % of a core",
                     f"queue drops {a['queue_drops']}, TUN drops {self.device_drops() - drops0}, "
                     f"late mean {a['late_mean_us']:.0f} us max {a['late_max_us']} us"))
        log(f"validate udp flood: {rows[-1][3]} {rows[-1][4]} {rows[-1][5]} ({secs:.1f} s)")
        # Loss: UDP at half the rate through each lossy profile.
        for name in self.selected_profiles():
            p = self.profiles[name]
            if p["loss_rate"] == 0:
                continue
            lk = self.start_linkem(name)
            srv, port = self.iperf_server()
            cli = self.spawn(["iperf3", "-c", ADDR_B, "-p", str(port), "-u", "-b",
                              str(int(p["rate_bps"] / 2)), "-l", "272", "-t", "20", "-J"],
                             ns=self.ns_a, name="udp")
            cli.wait(90)
            cli.finish()
            srv.finish()
            stats = self.stats_of(lk.finish())[-1]
            self.kill_all()
            a = stats["a2b"]
            n = a["offered_packets"]
            got = a["loss_drops"] / max(1, n)
            want = p["loss_rate"]
            sd = (want * (1 - want) / max(1, n)) ** 0.5
            kind = "binomial"
            if p["ge_enter_bad"] > 0:
                # A two-state Markov chain: losses are correlated with
                # lag-1 correlation rho = 1 - enter - exit, which widens
                # the spread of their count by (1 + rho) / (1 - rho).
                rho = 1 - p["ge_enter_bad"] - p["ge_exit_bad"]
                sd *= ((1 + rho) / (1 - rho)) ** 0.5
                kind = "Gilbert-Elliott"
            rows.append(("loss a->b (UDP, 300-byte packets at half the rate, 20 s)", name,
                         f"{100 * want:.2f} %", f"{100 * got:.3f} % of {n} packets",
                         f"{(got - want) / sd:+.1f} sd ({kind})",
                         f"queue drops {a['queue_drops']}"))
            log(f"validate loss {name}: {rows[-1][3]} {rows[-1][4]}")
        return rows

    def selected_profiles(self):
        if self.args.profiles in ("", "all"):
            return list(self.profiles)
        names = self.args.profiles.split(",")
        for n in names:
            if n not in self.profiles:
                sys.exit(f"unknown profile {n}; profiles: {', '.join(self.profiles)}")
        return names


def startup_seconds(rtt_ms):
    """How long after a client starts its pings still count as start-up."""
    return max(2.0, 20 * rtt_ms / 1000)


def parse_ping(lines):
    """(send time, RTT ms) of each reply in `ping -D` output."""
    out = []
    for l in lines:
        m = re.search(r"^\[([\d.]+)\].*time=([\d.]+) ms", l)
        if m:
            rtt = float(m.group(2))
            out.append((float(m.group(1)) - rtt / 1000, rtt))
    return out


def percentile(values, pct):
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def fmt(v, spec=".1f"):
    if isinstance(v, float) and v != v:
        return "-"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def median_rows(rows):
    """Rows of repeated rounds merged: the median of each number."""
    by_key = {}
    for r in rows:
        by_key.setdefault((r["profile"], r["contender"]), []).append(r)
    out = []
    for group in by_key.values():
        m = dict(group[0])
        for k, v in group[0].items():
            if isinstance(v, (int, float)):
                vals = [g[k] for g in group if isinstance(g.get(k), (int, float)) and g[k] == g[k]]
                m[k] = statistics.median(vals) if vals else float("nan")
        m["rounds"] = len(group)
        out.append(m)
    return out


def markdown(rows, fair, profiles):
    lines = ["| link (rate, RTT, loss, queue) | contender | goodput Mbit/s | % of link | "
             "wire bytes / delivered (parity) | queue drops (% of sent) | random drops | "
             "ping RTT p50 / p99 ms | p99 once established | transfer |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        p = profiles[r["profile"]]
        link = (f"{r['profile']}: {fmt(r['rate_mbps'], 'g')} Mbit/s, {fmt(r['rtt_ms'], 'g')} ms, "
                f"{fmt(r['loss_pct'], 'g')} %{' bursty' if p['ge_enter_bad'] > 0 else ''}, "
                f"{r['queue_bytes'] // 1000} kB")
        wire = fmt(r["wire_per_byte"], ".2f")
        parity = r.get("parity_per_byte")
        if isinstance(parity, float) and parity == parity:
            wire += f" ({parity:.2f})"
        note = f" {r['note']}" if r.get("note") else ""
        lines.append(
            f"| {link} | {r['contender']} | {fmt(r['goodput_mbps'])} | {fmt(r['pct_of_link'])} | "
            f"{wire} | {r['queue_drops']} ({fmt(r['queue_drop_pct'], '.2f')}) | "
            f"{r['loss_drops']} | {fmt(r['rtt_p50_ms'])} / {fmt(r['rtt_p99_ms'])} | "
            f"{fmt(r.get('rtt_p99_established_ms', float('nan')))} | {r.get('bound', '')}{note} |")
    if fair:
        lines += ["", "| fairness (clean_100m_50ms, started together) | KCP share of link % | "
                  "TCP CUBIC share % | TCP goodput Mbit/s | queue drops |",
                  "|---|---:|---:|---:|---:|"]
        for f in fair:
            lines.append(f"| {f['contender']} vs TCP CUBIC, {f['seconds']} s | "
                         f"{fmt(f['kcp_share_pct'])} | {fmt(f['tcp_share_pct'])} | "
                         f"{fmt(f['tcp_goodput_mbps'])} | {f['queue_drops']} |")
    return "\n".join(lines)


def ratios(rows):
    """kcpp/kcp-go and kcpp/TCP-BBR goodput per profile and kcpp contender."""
    out = []
    by = {(r["profile"], r["contender"]): r["goodput_mbps"] for r in rows}
    for profile in dict.fromkeys(r["profile"] for r in rows):
        for (p, c), g in by.items():
            if p != profile or not c.startswith("kcpp"):
                continue
            kg, bbr = by.get((p, "kcp-go")), by.get((p, "tcp-bbr"))
            out.append(f"{profile:24s} {c:12s} kcpp/kcp-go {fmt(g / kg if kg else float('nan'), '.2f')}"
                       f"  kcpp/TCP-BBR {fmt(g / bbr if bbr else float('nan'), '.2f')}")
    return out


def plot(rows, out):
    if not shutil.which("gnuplot"):
        log("gnuplot not found (tools/setup.sh installs gnuplot-nox): no chart")
        return None
    contenders = list(dict.fromkeys(r["contender"] for r in rows))
    profiles = list(dict.fromkeys(r["profile"] for r in rows))
    by = {(r["profile"], r["contender"]): r for r in rows}
    with open(os.path.join(out, "wan_compare_goodput.dat"), "w") as f:
        f.write("# profile\t" + "\t".join(contenders) + "\n")
        for p in profiles:
            f.write(p + "\t" + "\t".join(fmt(by[(p, c)]["pct_of_link"]) if (p, c) in by else "-"
                                         for c in contenders) + "\n")
    with open(os.path.join(out, "wan_compare_rtt.dat"), "w") as f:
        f.write("# profile\t" + "\t".join(contenders) + "\n")
        for p in profiles:
            vals = []
            for c in contenders:
                r = by.get((p, c))
                p99 = float(r.get("rtt_p99_established_ms") or "nan") if r else float("nan")
                vals.append(fmt(p99 / float(r["rtt_ms"])) if r else "-")
            f.write(p + "\t" + "\t".join(vals) + "\n")
    colors = ["#1f77b4", "#aec7e8", "#17becf", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    def series(dat):
        return ", ".join(
            f"'{dat}' using {i + 2}:xtic(1) title '{c}' lc rgb '{colors[i % len(colors)]}'"
            if i == 0 else f"'' using {i + 2} title '{c}' lc rgb '{colors[i % len(colors)]}'"
            for i, c in enumerate(contenders))
    gp = os.path.join(out, "wan_compare.gp")
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1400,1000 font 'DejaVu Sans,10' noenhanced
set output 'wan_compare.png'
set multiplot layout 2,1 title 'kcpp, kcp-go 5.6.1 and Linux TCP through linkem (1 BDP drop-tail queue)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set datafile separator '\\t'
set datafile missing '-'
set xtics rotate by -15 left
set title 'goodput, % of the link rate (higher is better)'
set yrange [0:110]
plot {series('wan_compare_goodput.dat')}
set title 'ping RTT p99 once the flow is established / base RTT (lower is better; 2 = the full 1-BDP queue)'
set yrange [0:2.5]
plot {series('wan_compare_rtt.dat')}
unset multiplot
""")
    # gnuplot refuses a chart with no values at all (every run timed out):
    # the tables above still stand, so that is not the run's failure.
    done = subprocess.run(["gnuplot", "wan_compare.gp"], cwd=out, capture_output=True, text=True)
    if done.returncode != 0:
        log(f"gnuplot failed, no chart: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return os.path.join(out, "wan_compare.png")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--linkem", default=os.path.join(here, "..", "..", "tools", "linkem", "linkem"))
    ap.add_argument("--netns", default=os.path.join(here, "..", "..", "tools", "linkem",
                                                    "netns.sh"))
    ap.add_argument("--kcpp", default=os.path.join(here, "..", "kcpp_peer"))
    ap.add_argument("--kcpgo", default=os.path.join(here, "..", "..", "tests", "interop",
                                                    "kcpgo_peer.bin"))
    ap.add_argument("--out", default=None, help="output directory (default: bench/wan of the "
                    "workspace under bazel run, else the current directory)")
    ap.add_argument("--profiles", default="all", help="comma list (linkem --list_profiles)")
    ap.add_argument("--contenders", default="", help="comma list: kcpp (every controller), "
                    "kcpp/<cc>, kcp-go, tcp-cubic, tcp-bbr (default: all)")
    ap.add_argument("--mode", default="fast3", help="KCP mode: normal, fast, fast2, fast3")
    ap.add_argument("--rounds", type=int, default=1, help="runs per profile and contender "
                    "(the table shows medians; one round of everything takes ~13 min)")
    ap.add_argument("--no-fairness", action="store_true")
    ap.add_argument("--validate", action="store_true", help="validate the emulator instead")
    ap.add_argument("--quick", action="store_true",
                    help="1/8 of the bytes, shorter TCP runs, one round (a smoke run)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--realtime-priority", type=int, default=10,
                    help="linkem's SCHED_FIFO priority (0: normal scheduling)")
    ap.add_argument("--ns-prefix", default="kcpp", help="namespaces PREFIX-a and PREFIX-b")
    ap.add_argument("--keep-netns", action="store_true", help="leave the namespaces up at exit")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw wan_compare.png from wan_compare.csv in --out")
    args = ap.parse_args()
    out = args.out or os.path.join(os.environ.get("BUILD_WORKSPACE_DIRECTORY", "."), "bench",
                                   "wan")
    if args.replot:
        with open(os.path.join(out, "wan_compare.csv")) as f:
            rows = [{k: (float(v) if re.fullmatch(r"-?[\d.]+(e-?\d+)?|nan", v or "") else v)
                     for k, v in r.items()} for r in csv.DictReader(f)]
        print(f"wrote {plot(rows, out)}")
        return
    if args.quick:
        args.rounds = 1
    if os.geteuid() != 0:
        sys.exit("wan_compare needs root (network namespaces and TUN devices)")
    for path in (args.linkem, args.kcpp, args.kcpgo):
        if not os.access(path, os.X_OK):
            sys.exit(f"missing {path}: bazel build --config=opt //bench/wan:wan_compare")
    if not shutil.which("iperf3") or not shutil.which("ping"):
        sys.exit("iperf3 and ping are needed: run tools/setup.sh")
    os.makedirs(out, exist_ok=True)
    args.tmp = tempfile.mkdtemp(prefix="kcpp-wan.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    # Private copies of the programs: a rebuild in the workspace during the
    # run (bazel-bin is shared) must not change them halfway.
    for attr in ("linkem", "kcpp", "kcpgo"):
        copy = os.path.join(args.tmp, os.path.basename(getattr(args, attr)))
        shutil.copy2(getattr(args, attr), copy)
        setattr(args, attr, copy)
    bench = Bench(args)
    log(f"kcpp controllers: {bench.controllers or 'none (kcpp_peer has no -congestion flag)'}")
    bench.netns("up")
    started = time.monotonic()
    try:
        if args.validate:
            rows = bench.validate()
            text = ["| check | link | configured | measured | error | notes |",
                    "|---|---|---|---|---|---|"]
            text += ["| " + " | ".join(r) + " |" for r in rows]
            print("\n".join(text))
            with open(os.path.join(out, "linkem_validation.md"), "w") as f:
                f.write("\n".join(text) + "\n")
            return
        results = []
        for profile in bench.selected_profiles():
            for rnd in range(args.rounds):
                for contender in bench.contenders():
                    try:
                        r = bench.run_one(profile, contender)
                    except (RuntimeError, ValueError, KeyError, OSError) as e:
                        log(f"  {profile} {contender}: FAILED {e!r}")
                        bench.kill_all()
                        continue
                    results.append(r)
                    log(f"{profile:24s} {contender:12s} {fmt(r['goodput_mbps']):>7s} Mbit/s "
                        f"({fmt(r['pct_of_link'])} %) wire {fmt(r['wire_per_byte'], '.2f')} "
                        f"qdrops {r['queue_drops']} rtt p50/p99 {fmt(r['rtt_p50_ms'])}/"
                        f"{fmt(r['rtt_p99_ms'])} ms (established {fmt(r['rtt_p99_established_ms'])}) "
                        f"{r.get('note', '')}")
        fair = []
        if not args.no_fairness and "clean_100m_50ms" in bench.profiles:
            for contender in [c for c in bench.contenders() if c.startswith("kcp")]:
                try:
                    fair.append(bench.fairness(contender))
                    log(f"fairness {contender}: {fair[-1]}")
                except (RuntimeError, ValueError) as e:
                    log(f"  fairness {contender}: FAILED {e}")
                    bench.kill_all()
    finally:
        bench.kill_all()
        if not args.keep_netns:
            bench.netns("down")
        shutil.rmtree(args.tmp, ignore_errors=True)
    rows = median_rows(results)
    table = markdown(rows, fair, bench.profiles)
    print(table)
    print()
    for line in ratios(rows):
        print(line)
    minutes = (time.monotonic() - started) / 60
    print(f"\n{len(results)} runs in {minutes:.1f} min; load average now "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    with open(os.path.join(out, "wan_compare.md"), "w") as f:
        f.write(table + "\n\n```\n" + "\n".join(ratios(rows)) + "\n```\n")
    keys = ["profile", "contender", "rate_mbps", "rtt_ms", "loss_pct", "queue_bytes", "bound",
            "bytes", "seconds", "goodput_mbps", "pct_of_link", "wire_per_byte", "parity_per_byte",
            "offered_packets",
            "queue_drops", "queue_drop_pct", "loss_drops", "reverse_loss_drops",
            "peak_queue_bytes", "rtt_p50_ms", "rtt_p99_ms", "rtt_p99_established_ms", "pings", "retransmits",
            "datagrams_out", "parity_out", "late_mean_us", "late_max_us", "device_drops", "rounds", "note"]
    with open(os.path.join(out, "wan_compare.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    if fair:
        with open(os.path.join(out, "wan_fairness.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(fair[0].keys()))
            w.writeheader()
            w.writerows(fair)
    png = plot(rows, out) if rows else None
    print(f"wrote {out}/wan_compare.md, wan_compare.csv, wan_fairness.csv"
          + (f", {png}" if png else ""))


if __name__ == "__main__":
    main()
