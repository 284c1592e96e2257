#!/usr/bin/env bash
# The transport benchmark's programs start and speak one protocol: kcpp_peer
# against the real kcp-go 5.6.1 peer (tests/interop/kcpgo_peer.go), each as
# server and as client, in the interop modes and every -bench mode, 1 MiB
# each. No timing is checked; readiness comes from the LISTENING / READY
# lines, never from sleeping.
#   kcpp_peer_smoke_test.sh KCPP_PEER KCPGO_PEER
set -euo pipefail
kcpp="$1"
kcpgo="$2"
dir=$(mktemp -d /tmp/kcpp-bench-smoke.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_server NAME BINARY ARGS...: starts a server, sets $addr from its
# LISTENING line.
start_server() {
  local name="$1"
  shift
  mkfifo "$dir/$name"
  "$@" -role server -addr 127.0.0.1:0 >"$dir/$name" 2>"$dir/$name.err" &
  pids+=($!)
  local word
  read -r word addr <"$dir/$name" || true
  [[ "$word" == LISTENING ]] || fail "$name did not start: $word $addr $(cat "$dir/$name.err")"
}

expect_prefix() {  # expect_prefix WHAT OUTPUT PREFIX
  [[ "$2" == "$3"* ]] || fail "$1: got '$2', want '$3...'"
  echo "ok: $1: $2"
}

mib=1048576
sess=(-crypt aes -ds 10 -ps 3)

# Interop modes (kcpgo_peer's original protocol).
start_server kcpp_echo "$kcpp" "${sess[@]}" -sessions 1
out=$("$kcpgo" -role client -addr "$addr" "${sess[@]}" -bytes $mib)
expect_prefix "kcp-go client -> kcpp echo server" "$out" "OK $mib "

start_server kcpgo_sink "$kcpgo" "${sess[@]}" -sink
out=$("$kcpp" -role client -addr "$addr" "${sess[@]}" -sink -bytes $mib)
expect_prefix "kcpp client -> kcp-go sink server" "$out" "OK $mib "

start_server kcpp_sink "$kcpp" "${sess[@]}" -sink
out=$("$kcpgo" -role client -addr "$addr" "${sess[@]}" -sink -bytes $mib)
expect_prefix "kcp-go client -> kcpp sink server" "$out" "OK $mib "

# -bench bulk, both ways.
start_server kcpgo_bulk "$kcpgo" "${sess[@]}" -bench bulk
out=$("$kcpp" -role client -addr "$addr" "${sess[@]}" -bench bulk -bytes $mib)
expect_prefix "kcpp bulk client -> kcp-go bulk server" "$out" "OK $mib "

start_server kcpp_bulk "$kcpp" -crypt salsa20 -bench bulk
out=$("$kcpgo" -role client -addr "$addr" -crypt salsa20 -bench bulk -bytes $mib)
expect_prefix "kcp-go bulk client -> kcpp bulk server" "$out" "OK $mib "

# The bulk client checks the server's answer: against kcpgo_peer's plain
# echo server its "answer" is the first 8 echoed pattern bytes, not the
# byte count, and it must fail.
start_server kcpgo_plain_echo "$kcpgo" -crypt null
if out=$("$kcpp" -role client -addr "$addr" -crypt null -bench bulk -bytes $mib 2>"$dir/neg.err"); then
  fail "bulk client accepted a wrong answer: $out"
fi
grep -q "server matched" "$dir/neg.err" || fail "bulk client: unexpected error $(cat "$dir/neg.err")"
echo "ok: bulk client rejects a wrong answer"

# -bench echo + rtt, both ways.
start_server kcpgo_echo "$kcpgo" -crypt null -bench echo
out=$("$kcpp" -role client -addr "$addr" -crypt null -bench rtt -count 50 -warmup 5)
expect_prefix "kcpp rtt client -> kcp-go echo server" "$out" "RTT 50 "

out=$("$kcpp" -role client -addr "$addr" -crypt null -bench rtt -async -count 50 -warmup 5)
expect_prefix "kcpp rtt client (callbacks) -> kcp-go echo server" "$out" "RTT 50 "

start_server kcpp_echo2 "$kcpp" -crypt null -bench echo
out=$("$kcpgo" -role client -addr "$addr" -crypt null -bench rtt -count 50 -warmup 5 -size 3000)
expect_prefix "kcp-go rtt client -> kcpp echo server" "$out" "RTT 50 "

# -bench many against both servers: every session gets its echo (READY),
# and the echoes after READY were timed (an RTT line counting some).
for srv in kcpp kcpgo; do
  bin=$kcpp
  [[ $srv == kcpgo ]] && bin=$kcpgo
  start_server "${srv}_many" "$bin" -crypt null -bench echo
  out=$("$kcpp" -role client -addr "$addr" -crypt null -bench many -conns 20 -size 64 \
    -period_ms 100 -duration 1)
  expect_prefix "kcpp many client -> $srv echo server" "$out" "READY 20"
  rtt=$(grep '^RTT ' <<<"$out" || true)
  read -r _ timed _ <<<"$rtt"
  [[ "${timed:-0}" -gt 0 ]] || fail "kcpp many client -> $srv: no echo timed: '$out'"
  echo "ok: kcpp many client -> $srv echo server timed: $rtt"
done
echo "all passed"
