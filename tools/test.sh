#!/usr/bin/env bash
# Sets up the machine (idempotent) and runs the whole kcpp test suite:
#   1. every test target in the default configuration;
#   2. the fuzz configuration (clang + libFuzzer) on the fuzz targets, each for
#      a bounded time, in a separate Bazel output base so switching compilers
#      does not throw away the default build's cache.
# Ends with one line `N passed, N failed` counted from the test cases.
set -uo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh || exit 1

out=$(mktemp -d /tmp/kcpp-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
FUZZ_BASE="${KCPP_CACHE:-$HOME/.cache/kcpp}/bazel-fuzz"

echo "== bazel test //... (default configuration)"
bazel test //... --keep_going --build_event_json_file="$out/default.json" "$@"

echo "== bazel test --config=fuzz (libFuzzer targets, bounded time each)"
# Queried by the default server: the fuzz server must not expand //..., which
# would walk into the default server's bazel-* symlinks.
fuzz_targets=$(bazel query 'attr(tags, "fuzz", tests(//...))' 2>/dev/null)
if [[ -n "$fuzz_targets" ]]; then
  bazel --output_base="$FUZZ_BASE" test --config=fuzz --keep_going --symlink_prefix=/ \
    --build_event_json_file="$out/fuzz.json" $fuzz_targets
else
  echo "no fuzz targets found" >&2
fi

python3 tools/test_summary.py "$out"/*.json
