#!/usr/bin/env bash
# Two network namespaces joined only through linkem's TUN devices.
#
#   tools/linkem/netns.sh up       # create (or re-create) them; idempotent
#   tools/linkem/netns.sh down     # end what runs in them, remove them; idempotent
#   tools/linkem/netns.sh status   # what exists, addresses, offloads, drops
#
# Namespace A (default kcpp-a) holds TUN device lkem-a with 10.77.0.1/24,
# namespace B (kcpp-b) holds lkem-b with 10.77.0.2/24; each reaches the
# other only through its TUN, i.e. through a running linkem. The addresses
# exist only inside these namespaces, so several pairs (different names) can
# coexist. Override with LINKEM_NS_A, LINKEM_NS_B (names), LINKEM_MTU
# (default 1500), LINKEM_TXQUEUELEN (default 10000).
#
# Inside both namespaces: loopback up, IPv6 off (no router solicitations in
# the counters), TCP buffers large enough for the slowest profile's BDP, and
# segmentation offloads off on the TUNs (the devices have none anyway: linkem
# opens them without virtio-net headers, so the kernel segments in software
# and linkem sees one MTU-sized packet per read).
# Needs root (ip netns, ip tuntap).
set -euo pipefail
# ip, sysctl and ethtool live in sbin, which a test's or cron's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

NS_A="${LINKEM_NS_A:-kcpp-a}"
NS_B="${LINKEM_NS_B:-kcpp-b}"
DEV_A=lkem-a
DEV_B=lkem-b
ADDR_A=10.77.0.1
ADDR_B=10.77.0.2
MTU="${LINKEM_MTU:-1500}"
TXQUEUELEN="${LINKEM_TXQUEUELEN:-10000}"

die() { echo "netns.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (ip netns, ip tuntap)"
command -v ip >/dev/null || die "ip (iproute2) not found"

down() {
  local ns
  for ns in "$NS_A" "$NS_B"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      # Whatever still runs inside (servers of an interrupted run) goes too.
      ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
      ip netns delete "$ns"
    fi
  done
}

side() {  # side NS DEV ADDR
  local ns=$1 dev=$2 addr=$3
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" tuntap add dev "$dev" mode tun
  # A long device queue: senders that write a burst of hundreds of datagrams
  # in one sendmmsg/GSO call must not lose them before linkem reads them
  # (the default 500 did, invisibly to linkem's counters); the emulated
  # queue is linkem's, this one only absorbs the burst for microseconds.
  ip -n "$ns" link set "$dev" mtu "$MTU" txqueuelen "$TXQUEUELEN" up
  ip -n "$ns" addr add "$addr/24" dev "$dev"
  # Room for 2 BDP of the largest profile (100 Mbit/s x 100 ms x 2 = 2.5 MB)
  # and then some: TCP must be limited by the link, not by its buffers.
  ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_rmem="4096 131072 67108864" \
    net.ipv4.tcp_wmem="4096 65536 67108864"
  if command -v ethtool >/dev/null; then
    ip netns exec "$ns" ethtool -K "$dev" gso off tso off gro off >/dev/null 2>&1 || true
  fi
}

up() {
  down
  side "$NS_A" "$DEV_A" "$ADDR_A"
  side "$NS_B" "$DEV_B" "$ADDR_B"
  echo "netns.sh: $NS_A ($DEV_A $ADDR_A) <-> $NS_B ($DEV_B $ADDR_B) via linkem"
}

status() {
  local ns dev
  for ns in "$NS_A" "$NS_B"; do
    if ! ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      echo "$ns: absent"
      continue
    fi
    [[ "$ns" == "$NS_A" ]] && dev=$DEV_A || dev=$DEV_B
    echo "== $ns"
    ip -n "$ns" -s addr show dev "$dev"
    # tx dropped: packets the kernel dropped before linkem read them.
    if command -v ethtool >/dev/null; then
      ip netns exec "$ns" ethtool -k "$dev" 2>/dev/null |
        grep -E '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-udp-segmentation):' || true
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
