#!/usr/bin/env bash
# examples/python against two real kcpd processes: generates the Python stubs
# from proto/ with Debian's protoc and grpc_python_plugin (never checked in),
# starts two kcpd (sockets in a short /tmp directory: Unix socket paths are
# limited to 107 bytes), runs the example exactly as README.md shows, then
# kcpd_client_test.py, which checks every step. Debian's /usr/bin/python3 with
# python3-grpcio and python3-protobuf (tools/setup.sh installs them).
#
# usage: kcpd_client_test.sh KCPD
set -euo pipefail
kcpd=$1
python=/usr/bin/python3
plugin=/usr/bin/grpc_python_plugin
here=examples/python   # runfiles-relative, like proto/

for tool in "$python" /usr/bin/protoc "$plugin"; do
  [[ -x "$tool" ]] || { echo "$tool is missing: run tools/setup.sh"; exit 1; }
done
"$python" -c 'import grpc, google.protobuf' ||
  { echo "Debian's python3-grpcio / python3-protobuf are missing: run tools/setup.sh"; exit 1; }

stubs="$TEST_TMPDIR/stubs"
mkdir -p "$stubs"
# googleapis' protos (from Debian, see third_party/repositories.bzl): the
# field_behavior annotations kcpd.proto imports, and google.rpc's Status and
# error details, which kcpd_client_test.py reads from a failed call.
googleapis="$TEST_SRCDIR/googleapis"
/usr/bin/protoc -I. -I/usr/include -I"$googleapis" --python_out="$stubs" \
  google/api/field_behavior.proto google/rpc/status.proto google/rpc/error_details.proto
/usr/bin/protoc -I. -I/usr/include -I"$googleapis" --python_out="$stubs" --grpc_python_out="$stubs" \
  --plugin=protoc-gen-grpc_python="$plugin" proto/kcpp/v1/kcpd.proto
export PYTHONPATH="$stubs:$PWD/$here"
export PYTHONDONTWRITEBYTECODE=1   # the sources are symlinks into the tree

logs="${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}"
sockets=$(mktemp -d /tmp/kcpp-py.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$sockets"
}
trap cleanup EXIT
show_logs() {
  for f in "$logs"/kcpd-*.log; do echo "--- $f"; tail -20 "$f"; done
}

# Starts kcpd $1 and returns once it serves: --ready_fd writes "ready" into
# a FIFO when the sockets accept calls.
start_kcpd() {
  local name=$1 line=""
  mkfifo "$sockets/$name.ready"
  "$kcpd" --control_socket="$sockets/$name/control.sock" --loops=1 --shutdown_timeout=1s \
    --ready_fd=3 3>"$sockets/$name.ready" 2>"$logs/kcpd-$name.log" &
  pids+=($!)
  read -r line <"$sockets/$name.ready" || true
  [[ "$line" == ready ]] || { echo "kcpd $name did not start:"; cat "$logs/kcpd-$name.log"; exit 1; }
}
start_kcpd dialer
start_kcpd acceptor
export KCPD_DIALER_SOCKET="$sockets/dialer/control.sock"
export KCPD_ACCEPTOR_SOCKET="$sockets/acceptor/control.sock"

echo "== the example, as README.md runs it"
if ! "$python" "$here/kcpd_client.py" "$KCPD_DIALER_SOCKET" "$KCPD_ACCEPTOR_SOCKET" \
    >"$TEST_TMPDIR/example.out" 2>&1; then
  cat "$TEST_TMPDIR/example.out"; show_logs; exit 1
fi
cat "$TEST_TMPDIR/example.out"
[[ "$(tail -1 "$TEST_TMPDIR/example.out")" == OK ]] || { echo "the example did not end with OK"; exit 1; }

echo "== kcpd_client_test.py"
"$python" "$here/kcpd_client_test.py" || { show_logs; exit 1; }
