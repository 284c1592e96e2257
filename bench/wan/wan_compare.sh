#!/usr/bin/env bash
# The WAN benchmark (bench/README.md "WAN"): kcpp, kcp-go 5.6.1 and Linux TCP
# through linkem's emulated links between two network namespaces. As root:
#   bazel run --config=opt //bench/wan:wan_compare -- [--profiles=a,b] [--quick]
#   bazel run --config=opt //bench/wan:wan_compare -- --validate
# Flags: see `bench/wan/wan_compare.py --help`.
set -euo pipefail
if [[ -n "${RUNFILES_DIR:-}" && -d "$RUNFILES_DIR/kcpp" ]]; then
  root="$RUNFILES_DIR/kcpp"
elif [[ -d "$0.runfiles/kcpp" ]]; then
  root="$0.runfiles/kcpp"
else
  echo "wan_compare: run it with bazel run --config=opt //bench/wan:wan_compare" >&2
  exit 2
fi
# //bench:kcpp_peer is private to //bench; until it is visible to this
# package, take the one the workspace built.
kcpp="$root/bench/kcpp_peer"
if [[ ! -x "$kcpp" ]]; then
  kcpp="${BUILD_WORKSPACE_DIRECTORY:-.}/bazel-bin/bench/kcpp_peer"
  [[ -x "$kcpp" ]] || { echo "wan_compare: build kcpp's peer first: bazel build --config=opt //bench:kcpp_peer" >&2; exit 2; }
  echo "wan_compare: using $kcpp (bazel build --config=opt //bench:kcpp_peer keeps it current)" >&2
fi
exec python3 "$root/bench/wan/wan_compare.py" --linkem "$root/tools/linkem/linkem" \
  --netns "$root/tools/linkem/netns.sh" --kcpp "$kcpp" \
  --kcpgo "$root/tests/interop/kcpgo_peer.bin" "$@"
