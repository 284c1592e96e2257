#!/usr/bin/env bash
# The WAN benchmark's machinery on one lossy profile (lossy_100m_100ms_1pct:
# 100 Mbit/s, 100 ms RTT, 1 % loss each way, 1 BDP queue): two namespaces
# joined by linkem; kcpp (kcpcat, AES + FEC 10/3) and the real kcp-go 5.6.1
# (kcpgo_peer) move bytes across it and get them back intact; linkem's
# counters add up (offered = queue drops + random drops + delivered + still
# in the link), its random-loss counters are nonzero in both directions and
# the UDP payload it carried covers what was sent. Nothing is timed;
# readiness comes from the programs' own lines. The namespaces (named after
# this shell's PID, so a benchmark running beside it is untouched) are
# removed on every exit.
#   wan_smoke_test.sh LINKEM NETNS_SH KCPCAT KCPGO_PEER
set -euo pipefail
# ip, sysctl and ethtool live in sbin, which a test's or cron's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
linkem="$1"
netns="$2"
kcpcat="$3"
kcpgo="$4"
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "needs root (network namespaces and TUN devices)"

export LINKEM_NS_A="kwan$$-a" LINKEM_NS_B="kwan$$-b"
dir=$(mktemp -d /tmp/kcpp-wan-smoke.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  bash "$netns" down || true  # also ends anything still running inside them
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
bash "$netns" up

# Not shell functions: a function run with & is a subshell, and its $! is
# not the program's PID.
in_a=(ip netns exec "$LINKEM_NS_A")
in_b=(ip netns exec "$LINKEM_NS_B")

# linkem; its READY line (JSON) comes through a FIFO.
mkfifo "$dir/linkem.fifo"
"$linkem" --profile=lossy_100m_100ms_1pct --ns_a="$LINKEM_NS_A" --ns_b="$LINKEM_NS_B" \
  --seed=7 >"$dir/linkem.fifo" 2>"$dir/linkem.err" &
linkem_pid=$!
pids+=($linkem_pid)
exec 3<"$dir/linkem.fifo"
read -r ready <&3 || true
[[ "$ready" == '{"linkem":"ready"'* ]] || fail "linkem did not start: $ready $(cat "$dir/linkem.err")"
cat <&3 >"$dir/linkem.out" &
echo "ok: linkem up: ${ready:0:120}..."

bytes=$((2 * 1048576))
# The payload: pseudo-random, so a misplaced or corrupted byte shows.
head -c $bytes /dev/urandom >"$dir/payload"
want=$(sha256sum <"$dir/payload" | cut -d' ' -f1)

# kcpp: kcpcat echo server in B, client in A; the echo crosses the link twice.
mkfifo "$dir/kcpcat.fifo"
"${in_b[@]}" "$kcpcat" -l --echo --crypt aes --mode fast3 --sndwnd 1024 --rcvwnd 1024 \
  10.77.0.2:4000 2>"$dir/kcpcat.fifo" &
pids+=($!)
exec 4<"$dir/kcpcat.fifo"
read -r line <&4 || true
[[ "$line" == *"listening on"* ]] || fail "kcpcat server did not start: $line"
cat <&4 >"$dir/kcpcat.err" &
"${in_a[@]}" "$kcpcat" --crypt aes --mode fast3 --sndwnd 1024 --rcvwnd 1024 --expect $bytes \
  10.77.0.2:4000 <"$dir/payload" >"$dir/kcpp.echo" || fail "kcpcat client failed"
got=$(sha256sum <"$dir/kcpp.echo" | cut -d' ' -f1)
[[ "$got" == "$want" ]] || fail "kcpp: echo differs ($(stat -c %s "$dir/kcpp.echo") bytes)"
echo "ok: kcpp (kcpcat, aes + FEC 10/3) echoed $bytes bytes intact through linkem"

# kcp-go: echo (checked by the client) and bulk (checked by the server).
sess=(-crypt aes -ds 10 -ps 3 -mtu 1350 -mode fast3)
for mode in echo bulk; do
  mkfifo "$dir/kcpgo.$mode"
  if [[ $mode == echo ]]; then extra=(); else extra=(-bench bulk); fi
  "${in_b[@]}" "$kcpgo" -role server -addr 10.77.0.2:0 "${sess[@]}" "${extra[@]}" >"$dir/kcpgo.$mode" &
  pids+=($!)
  read -r word addr <"$dir/kcpgo.$mode" || true
  [[ "$word" == LISTENING ]] || fail "kcpgo_peer $mode server did not start: $word"
  out=$("${in_a[@]}" "$kcpgo" -role client -addr "$addr" "${sess[@]}" "${extra[@]}" -bytes $bytes)
  [[ "$out" == "OK $bytes "* ]] || fail "kcp-go $mode: got '$out'"
  echo "ok: kcp-go 5.6.1 $mode: $out"
done

# linkem's final counters.
kill -TERM $linkem_pid
wait $linkem_pid || fail "linkem exited with $?"
exec 3<&-
stats=$(grep '^{"linkem":"stats"' "$dir/linkem.out" | tail -1)
[[ -n "$stats" ]] || fail "linkem printed no stats"
python3 - "$stats" $bytes <<'EOF'
import json, sys
s, sent = json.loads(sys.argv[1]), int(sys.argv[2])
def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}: {json.dumps(s)}")
for d in ("a2b", "b2a"):
    k = s[d]
    check(k["offered_packets"] == k["queue_drops"] + k["loss_drops"] + k["delivered_packets"]
          + k["in_flight"], f"{d}: offered != queue drops + random drops + delivered + in flight")
    accounted = k["queue_drop_bytes"] + k["loss_drop_bytes"] + k["delivered_bytes"]
    check(accounted == k["offered_bytes"] if k["in_flight"] == 0
          else accounted < k["offered_bytes"], f"{d}: byte counters")
    check(k["loss_drops"] > 0, f"{d}: no random loss on a 1 % link")
    check(k["pool_drops"] == 0 and k["read_errors"] == 0 and k["write_errors"] == 0,
          f"{d}: emulator errors")
    check(k["peak_queue_bytes"] <= 1250000, f"{d}: queue above its 1 BDP limit")
# A->B carried at least kcpp's payload, kcp-go's echo and kcp-go's bulk.
check(s["a2b"]["udp_payload_bytes"] >= 3 * sent, "a2b carried less UDP payload than was sent")
check(s["b2a"]["udp_payload_bytes"] >= 2 * sent, "b2a carried less UDP payload than was echoed")
print(f"ok: linkem counters consistent; random drops a2b {s['a2b']['loss_drops']} "
      f"b2a {s['b2a']['loss_drops']}, queue drops a2b {s['a2b']['queue_drops']}")
EOF
echo "PASS"
