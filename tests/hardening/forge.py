#!/usr/bin/env python3
# Forges crypt-none KCP PUSH datagrams against a kcpcat server on loopback, for
# the window-probe and session-replacement rows of bench/README.md "hardening".
"""Forged crypt-none KCP PUSH datagrams against a kcpcat server.

probe PORT SECONDS: one zero-window PUSH (44 B raw, 52 B with FEC header),
  then count replies for SECONDS.
replace PORT N PORTS: N session replacements (new conv, sn 0) from PORTS
  source ports, each waiting for the previous datagram's ACK on that port.
"""
import os, select, socket, struct, sys, time, zlib

def push(conv, sn=0, wnd=0, fec=True, seq=0, payload=b""):
    kcp = struct.pack("<IBBHIIII", conv, 81, 0, wnd, 0, sn, 0, len(payload)) + payload
    if fec:
        kcp = struct.pack("<IHH", seq, 0xF1, len(kcp) + 2) + kcp
    return os.urandom(16) + struct.pack("<I", zlib.crc32(kcp)) + kcp

def probe(port, seconds, fec):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    d = push(0x5eed, fec=fec)
    s.sendto(d, ("127.0.0.1", port))
    n = b = 0
    end = time.time() + seconds
    times = []
    t0 = time.time()
    while time.time() < end:
        r, _, _ = select.select([s], [], [], end - time.time())
        if r:
            x = s.recv(2048)
            n += 1; b += len(x); times.append(round(time.time() - t0, 2))
    print(f"sent 1 datagram of {len(d)} B; got {n} replies, {b} B, at {times}")

def replace(port, n, ports):
    socks = []
    for _ in range(ports):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0)); s.settimeout(2)
        socks.append(s)
    conv = 1
    t0 = time.time()
    unanswered = 0
    for i in range(0, n, ports):
        sent = []
        for s in socks:
            d = push(conv, wnd=32, payload=b"x" * 16); conv += 1
            s.sendto(d, ("127.0.0.1", port)); sent.append(d)
        for s, d in zip(socks, sent):
            for attempt in range(3):
                try:
                    s.recv(2048); break
                except TimeoutError:
                    s.sendto(d, ("127.0.0.1", port))
            else:
                unanswered += 1; print(f"unanswered at conv {conv}", flush=True)
                if unanswered > 10:
                    print(f"stopped answering after {conv - 1} sessions"); return
    print(f"{conv - 1} sessions started in {time.time() - t0:.1f} s, {unanswered} unanswered")

if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe(int(sys.argv[2]), float(sys.argv[3]), fec=len(sys.argv) < 5 or sys.argv[4] != "raw")
    else:
        replace(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
