#!/usr/bin/env bash
# Sets up the machine (idempotent) and runs the whole kcpp test suite, in four
# configurations, each in its own Bazel output base so switching flags or
# compilers never throws another configuration's cache away:
#   1. default   every test target (fastbuild);
#   2. asan      every test target under ASan + UBSan + LSan, except those
#                tagged rss_bound (memory-growth bounds: the sanitizer
#                allocators keep freed memory in quarantine on purpose);
#   3. tsan      the tests of the threaded layers (transport, base, mux, kcpd,
#                kcpctl, tunnel, the scenario and flood tests over them), except
#                rss_bound, fuzz (single-threaded), kcpgo_peer (the Go
#                peer outruns our TSan-slowed side) and uninstrumented_grpc
#                (a gRPC server or client runs inside: Debian's gRPC and
#                Abseil are not TSan-instrumented, so TSan reports their
#                internal synchronisation as races) targets;
#   4. fuzz      clang + libFuzzer on every fuzz target, each for a bounded
#                time (fuzz_seconds in its BUILD file, 20 s by default).
# Which targets run in which configuration is decided here, by query, never
# by skipping inside a test. Ends with one line `N passed, N failed` counting
# the test cases of every configuration; exits non-zero if anything failed or
# nothing ran. docs/testing.md has the timings and the reasons.
#
# Env: KCPP_CACHE         BoringSSL source and, by default, the output bases
#                         (default ~/.cache/kcpp)
#      KCPP_BAZEL_ROOT    where the asan/tsan/fuzz output bases live
#                         (default $KCPP_CACHE)
#      KCPP_TEST_CONFIGS  which configurations to run (default
#                         "default asan tsan fuzz")
# Extra arguments are passed to every `bazel test`.
set -uo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh || exit 1

out=$(mktemp -d /tmp/kcpp-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
CACHE="${KCPP_CACHE:-$HOME/.cache/kcpp}"
ROOT="${KCPP_BAZEL_ROOT:-$CACHE}"
CONFIGS="${KCPP_TEST_CONFIGS:-default asan tsan fuzz}"
timings=()

# Packages whose tests also run under TSan (those that exist in this tree).
TSAN_PACKAGES=(transport base mux kcpd kcpctl tunnel tests/scenarios tests/flood tests/soak tests/sidecar)

wants() { [[ " $CONFIGS " == *" $1 "* ]]; }

# Runs `bazel [startup] test ARGS...` for one configuration and records how
# long it took. $1: configuration name; $2: output base ("" = the default).
run() {
  local name=$1 base=$2
  shift 2
  local start=$SECONDS
  if [[ -z "$base" ]]; then
    bazel test --keep_going --build_event_json_file="$out/$name.json" "$@"
  else
    bazel --output_base="$base" test --keep_going --symlink_prefix=/ \
      --build_event_json_file="$out/$name.json" "$@"
  fi
  local took=$((SECONDS - start))
  timings+=("$(printf '%-8s %3dm%02ds' "$name" $((took / 60)) $((took % 60)))")
}

# An empty target list (a failed query) counts as one failure of that
# configuration rather than passing unnoticed.
no_targets() {
  echo "ERROR: no targets for --config=$1" >&2
  echo "{\"id\":{\"targetCompleted\":{\"label\":\"(no $1 targets)\"}},\"aborted\":{}}" \
    >"$out/$1.json"
}

# Target lists come from the default server: a server with another output
# base must not expand //..., which would walk into the default server's
# bazel-* symlinks.
query() { bazel query "$1" 2>/dev/null; }

if wants default; then
  echo "== default configuration: every test"
  run default "" //... "$@"
fi

if wants asan; then
  echo "== --config=asan (ASan + UBSan + LSan): every test but the rss_bound ones"
  asan_targets=$(query 'tests(//...) except attr(tags, "rss_bound", tests(//...))')
  if [[ -n "$asan_targets" ]]; then
    run asan "$ROOT/bazel-asan" --config=asan $asan_targets "$@"
  else
    no_targets asan
  fi
fi

if wants tsan; then
  echo "== --config=tsan: transport, base, mux, kcpd, kcpctl, tunnel, scenarios, floods"
  patterns=()
  for p in "${TSAN_PACKAGES[@]}"; do
    [[ -d "$p" ]] && patterns+=("//$p/...")
  done
  set_expr=$(IFS=+; echo "${patterns[*]}")
  tsan_targets=$(query "tests($set_expr) except attr(tags, \"rss_bound|fuzz|kcpgo_peer|uninstrumented_grpc\", tests($set_expr))")
  if [[ -n "$tsan_targets" ]]; then
    run tsan "$ROOT/bazel-tsan" --config=tsan $tsan_targets "$@"
  else
    no_targets tsan
  fi
fi

if wants fuzz; then
  echo "== --config=fuzz (libFuzzer, bounded time each)"
  fuzz_targets=$(query 'attr(tags, "fuzz", tests(//...))')
  if [[ -n "$fuzz_targets" ]]; then
    run fuzz "$ROOT/bazel-fuzz" --config=fuzz $fuzz_targets "$@"
  else
    no_targets fuzz
  fi
fi

echo "== time per configuration"
printf '%s\n' "${timings[@]}"
python3 tools/test_summary.py "$out"/*.json
