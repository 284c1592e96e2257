#!/usr/bin/env bash
# kcpp vs kcp-go 5.6.1 transport benchmark (bench/README.md "transport").
#   bazel run --config=opt //bench:transport_compare -- [--quick] [flags]
# or, after `bazel build --config=opt //bench:kcpp_peer //tests/interop:kcpgo_peer`,
#   bench/transport_compare.sh [flags]
# Flags: see `bench/transport_compare.py --help`.
set -euo pipefail
if [[ -n "${RUNFILES_DIR:-}" && -d "$RUNFILES_DIR/kcpp" ]]; then
  root="$RUNFILES_DIR/kcpp"
elif [[ -d "$0.runfiles/kcpp" ]]; then
  root="$0.runfiles/kcpp"
else
  # From the source tree: the peers bazel built.
  src="$(cd "$(dirname "$0")/.." && pwd)"
  exec python3 "$src/bench/transport_compare.py" --kcpp "$src/bazel-bin/bench/kcpp_peer" \
    --kcpgo "$src/bazel-bin/tests/interop/kcpgo_peer.bin" --out "${OUT:-$src/bench}" "$@"
fi
exec python3 "$root/bench/transport_compare.py" --kcpp "$root/bench/kcpp_peer" \
  --kcpgo "$root/tests/interop/kcpgo_peer.bin" "$@"
