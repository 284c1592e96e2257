#!/usr/bin/env bash
# The kcpd sidecar demo (tools/demo.sh runs it after the build):
#
#   sender app --unix--> kcpd A --UDP--> lossy_relay --UDP--> kcpd B --unix--> receiver app
#
# Two kcpd on loopback; a KCP session between them through a relay that
# drops a share of the datagrams both ways; AES-256 (kcptun's "aes") and
# Reed-Solomon FEC 10/3 on the session, smux inside. kcpctl plays both
# applications (connect / accept copy stdin and stdout through a stream).
# A random file goes across; the demo checks its SHA-256 on arrival and
# prints the throughput and the session's counters.
#
# usage: sidecar_demo.sh KCPD KCPCTL LOSSY_RELAY [MEBIBYTES [LOSS]]
set -euo pipefail
kcpd=$1 kcpctl=$2 relay=$3 mib=${4:-32} loss=${5:-0.02}
key="kcpp demo passphrase"
options=(--crypt=aes "--key=$key" --mode=fast3 --datashard=10 --parityshard=3
         --sndwnd=1024 --rcvwnd=1024)

tmp=$(mktemp -d /tmp/kcpp-demo-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts a kcpd with its sockets in $tmp/$1 and waits until it serves
# (--ready_fd writes "ready" into a FIFO).
start_kcpd() {
  local name=$1
  mkfifo "$tmp/$name.ready"
  "$kcpd" --control_socket="$tmp/$name/control.sock" --loops=1 \
    --ready_fd=3 3>"$tmp/$name.ready" 2>"$tmp/$name.log" &
  pids+=($!)
  local line=""
  read -r line <"$tmp/$name.ready" || true
  if [[ "$line" != ready ]]; then
    echo "kcpd $name did not start:" >&2
    cat "$tmp/$name.log" >&2
    exit 1
  fi
}
ctl() { local name=$1; shift; "$kcpctl" --socket="$tmp/$name/control.sock" "$@"; }
json_field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" | head -1; }

echo "== two kcpd on loopback"
start_kcpd a
start_kcpd b
bound=$(ctl b --json listeners create demo --address=127.0.0.1:0 "${options[@]}" |
        json_field bound_address)
echo "kcpd B listens on udp $bound (aes, FEC 10/3, smux)"

# The lossy link: kcpd A sends to the relay, the relay to kcpd B.
mkfifo "$tmp/relay.out"
"$relay" --listen=127.0.0.1:0 --target="$bound" --loss="$loss" --seed=7 \
  >"$tmp/relay.out" 2>"$tmp/relay.log" &
pids+=($!)
relay_pid=$!
exec 5<"$tmp/relay.out"
read -r _ relay_address <&5
echo "lossy_relay on udp $relay_address: drops $(awk "BEGIN{print $loss*100}")% of datagrams each way"

echo "== moving ${mib} MiB through app -> kcpd A -> relay -> kcpd B -> app"
head -c "$((mib << 20))" /dev/urandom >"$tmp/in.bin"
ctl b accept demo </dev/null >"$tmp/out.bin" 2>"$tmp/accept.log" &
accept_pid=$!
pids+=($accept_pid)
# (accept prints this once its watch is registered: no stream can be missed)
for _ in $(seq 1 200); do
  grep -q "waiting for a stream" "$tmp/accept.log" 2>/dev/null && break
  sleep 0.05
done
start=$(date +%s.%N)
ctl a connect "$relay_address" "${options[@]}" <"$tmp/in.bin" >/dev/null 2>"$tmp/connect.log"
wait "$accept_pid"
end=$(date +%s.%N)

want=$(sha256sum <"$tmp/in.bin" | cut -d' ' -f1)
got=$(sha256sum <"$tmp/out.bin" | cut -d' ' -f1)
awk -v b="$((mib << 20))" -v s="$start" -v e="$end" \
  'BEGIN { printf "moved %d bytes in %.2f s: %.1f MB/s\n", b, e - s, b / (e - s) / 1e6 }'
echo "sha256 sent     $want"
echo "sha256 received $got"

echo "== kcpd A: the session (kcpctl sessions get 1)"
ctl a sessions get 1
echo "== kcpd A: process stats (kcpctl stats)"
ctl a stats
kill -TERM "$relay_pid"
wait "$relay_pid" 2>/dev/null || true
echo "== the relay: $(tail -1 "$tmp/relay.log")"
if [[ "$want" != "$got" ]]; then
  echo "FAILED: the received file differs" >&2
  exit 1
fi
echo "OK: the file arrived intact"
