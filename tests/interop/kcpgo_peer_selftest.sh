#!/usr/bin/env bash
# kcp-go client <-> kcp-go server with AES + FEC 10/3: the peer program itself
# works. Readiness comes from the server's LISTENING line, not from sleeping.
set -euo pipefail
peer="$1"
fifo=$(mktemp -u /tmp/kcpp-peer.XXXXXX)
mkfifo "$fifo"
"$peer" -role server -addr 127.0.0.1:0 -crypt aes -ds 10 -ps 3 -sessions 1 >"$fifo" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$fifo"' EXIT
read -r word addr <"$fifo"
[[ "$word" == LISTENING ]] || { echo "server did not start: $word $addr" >&2; exit 1; }
out=$("$peer" -role client -addr "$addr" -crypt aes -ds 10 -ps 3 -bytes 4194304)
echo "$out"
[[ "$out" == OK\ 4194304\ * ]]
