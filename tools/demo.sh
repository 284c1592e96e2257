#!/usr/bin/env bash
# The README's first command: set up the machine (idempotent), build kcpd,
# kcpctl and the lossy relay, then run the sidecar demo: two kcpd on loopback,
# a KCP session between them through a relay that drops datagrams, a file
# moved with FEC and AES, its SHA-256 checked, throughput and counters
# printed (tools/demo/sidecar_demo.sh).
#
#   tools/demo.sh [MEBIBYTES [LOSS]]      defaults: 32 MiB, 0.02 (2% each way)
#
# The cipher table of the earlier demo: bazel run --config=opt //tools/demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
targets=(//kcpd //kcpctl //tools/lossy_relay:lossy_relay_main)
bazel build --config=opt "${targets[@]}"
bin=$(bazel info --config=opt bazel-bin 2>/dev/null)
exec tools/demo/sidecar_demo.sh "$bin/kcpd/kcpd" "$bin/kcpctl/kcpctl" \
  "$bin/tools/lossy_relay/lossy_relay_main" "$@"
