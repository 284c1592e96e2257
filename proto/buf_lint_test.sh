#!/usr/bin/env bash
# Runs `buf lint` over kcpd's API with the repository's buf.yaml, and proves
# the check is live: the same run over a copy with one planted violation must
# fail and name it (so a configuration that lints nothing cannot pass).
set -euo pipefail

BUF=$(command -v buf || true)
[[ -n "$BUF" ]] || { echo "buf not found on PATH: run tools/setup.sh (installs @bufbuild/buf from npm)"; exit 1; }
export BUF_CACHE_DIR="$TEST_TMPDIR/buf-cache"

src="$TEST_SRCDIR/$TEST_WORKSPACE"
tree="$TEST_TMPDIR/tree"
mkdir -p "$tree/proto/kcpp/v1"
cp -L "$src/buf.yaml" "$tree/"
cp -L "$src"/proto/kcpp/v1/*.proto "$tree/proto/kcpp/v1/"
# The googleapis protos kcpd.proto imports, where buf.yaml expects them.
mkdir -p "$tree/.googleapis/google/api"
cp -L "$TEST_SRCDIR/googleapis/google/api/field_behavior.proto" "$tree/.googleapis/google/api/"
n=$(ls "$tree"/proto/kcpp/v1/*.proto | wc -l)
[[ $n -ge 3 ]] || { echo "expected kcpd's .proto files in the runfiles, found $n"; exit 1; }

echo "== buf lint over $n files"
(cd "$tree" && "$BUF" lint)

echo "== a planted violation is reported"
cat > "$tree/proto/kcpp/v1/planted.proto" <<'PROTO'
syntax = "proto3";
package kcpp.v1;
message planted_lower_case {}
PROTO
if out=$(cd "$tree" && "$BUF" lint 2>&1); then
  echo "buf lint passed a file with a lower-case message name: is it linting anything?"; exit 1
fi
grep -q 'planted_lower_case' <<<"$out" || { echo "unexpected buf output:"; echo "$out"; exit 1; }
echo "PASS"
