#!/usr/bin/env bash
# The README's first command: set up the machine (idempotent), then run the
# kcpp demo and print what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bazel run --config=opt //tools/demo -- "$@"
