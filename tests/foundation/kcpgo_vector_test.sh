#!/usr/bin/env bash
# The real kcp-go (Debian 5.6.1) reproduces docs/protocol.md Appendix A.1's
# aes-128 vector: the Go toolchain and kcp-go work inside Bazel tests.
set -euo pipefail
want=ddd7e0a7981ba3e2a7f6d51f2a2663184531e844fe0ddec4d65df15b489c5ba3e15ff1881eaf077a23107a1086
got=$("$1")
if [[ "$got" != "$want" ]]; then
  echo "kcp-go aes-128 vector mismatch: got $got want $want" >&2
  exit 1
fi
echo "kcp-go aes-128 vector ok"
