#!/usr/bin/env bash
# kcpp setup: installs everything the build, tests and benchmarks need on
# Debian 12 and fetches BoringSSL's Debian source package into a cache outside
# the git tree. Idempotent: a second run only checks and exits quickly.
#
# Usage: tools/setup.sh            (as root, or with sudo available)
# Env:   KCPP_CACHE  where BoringSSL source is kept (default ~/.cache/kcpp)
set -euo pipefail

die() { echo "kcpp setup: ERROR: $*" >&2; exit 1; }
say() { echo "kcpp setup: $*" >&2; }

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "run as root or install sudo"
  SUDO="sudo"
fi

[[ -r /etc/os-release ]] && . /etc/os-release
[[ "${ID:-}" == "debian" && "${VERSION_ID:-}" == "12" ]] ||
  say "warning: tested on Debian 12 only (this is ${PRETTY_NAME:-unknown})"

PACKAGES=(
  # build
  bazel-bootstrap pkg-config build-essential dpkg-dev python3 git clang-format
  libabsl-dev libgrpc++-dev libgrpc-dev protobuf-compiler-grpc
  libprotobuf-dev protobuf-compiler libhwy-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libdeflate-dev libsnappy-dev
  # comparison benchmarks, charts, profiling
  libisal-dev gnuplot-nox valgrind linux-perf heaptrack
  # WAN benchmark (bench/wan): TCP contenders, echo probes, namespaces, offloads
  iperf3 iputils-ping iproute2 ethtool
  # fuzz / sanitizer configs
  clang libclang-rt-14-dev llvm
  # interop peers
  golang-go golang-github-xtaci-kcp-dev golang-github-xtaci-smux-dev
  golang-github-klauspost-reedsolomon-dev golang-github-golang-snappy-dev kcptun
  # the Python client example (examples/python, Debian's /usr/bin/python3)
  python3-grpcio python3-protobuf
  # kcpd's Prometheus exporter (kcpd/metrics) and its tests: the library, and the
  # real server + promtool that scrape and check it. (On a systemd machine the
  # prometheus package also enables its own service on :9090; the tests never use it.)
  prometheus-cpp-dev prometheus
  # google/rpc/{status,error_details}.proto and google/api/field_behavior.proto
  # for kcpd's API (error details, field behavior): Debian ships their sources
  # only with these packages for Go and Java (third_party/repositories.bzl reads
  # them; neither Go nor Java runs).
  golang-github-gogo-googleapis-dev libgoogle-common-protos-java
  # grpc/health/v1/health.proto, the gRPC health protocol kcpd serves and
  # kcpctl health speaks (third_party/repositories.bzl reads it from here).
  grpc-proto
)

# --- deb-src: derived from the machine's own deb822 sources file ------------
SRC_FILE=/etc/apt/sources.list.d/kcpp-deb-src.sources
ensure_deb_src() {
  if [[ -f "$SRC_FILE" ]]; then return 0; fi
  local base=/etc/apt/sources.list.d/debian.sources
  if [[ -f "$base" ]]; then
    say "enabling Debian source packages ($SRC_FILE, derived from $base)"
    sed -e 's/^Types:.*/Types: deb-src/' "$base" | $SUDO tee "$SRC_FILE" >/dev/null
  elif grep -qs '^deb ' /etc/apt/sources.list; then
    say "enabling Debian source packages (derived from /etc/apt/sources.list)"
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
      $SUDO tee /etc/apt/sources.list.d/kcpp-deb-src.list >/dev/null
    $SUDO touch "$SRC_FILE"   # marker
  else
    die "no apt sources file found to derive a deb-src entry from"
  fi
  NEED_UPDATE=1
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

NEED_UPDATE=0
ensure_deb_src
mapfile -t MISSING < <(missing_packages)
if (( ${#MISSING[@]} )); then
  NEED_UPDATE=1
fi
if (( NEED_UPDATE )); then
  say "apt-get update"
  $SUDO apt-get update -q >/dev/null || die "apt-get update failed (is the Debian archive reachable?)"
fi
if (( ${#MISSING[@]} )); then
  say "installing: ${MISSING[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${MISSING[@]}" \
    >/tmp/kcpp-apt.log 2>&1 || { tail -20 /tmp/kcpp-apt.log >&2; die "apt-get install failed (full log: /tmp/kcpp-apt.log)"; }
fi

# --- npm tools ------------------------------------------------------------------
# buf (proto lint, //proto:buf_lint_test), pinned. npm and Node.js come from
# Debian unless the machine already has them.
BUF_VERSION=1.75.0
if [[ "$(buf --version 2>/dev/null || true)" != "$BUF_VERSION" ]]; then
  if ! command -v npm >/dev/null; then
    say "installing npm"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm \
      >/tmp/kcpp-apt.log 2>&1 || { tail -20 /tmp/kcpp-apt.log >&2; die "apt-get install npm failed (full log: /tmp/kcpp-apt.log)"; }
  fi
  say "installing buf $BUF_VERSION from the npm registry into /usr/local"
  $SUDO npm install -g --prefix /usr/local --no-fund --no-audit "@bufbuild/buf@$BUF_VERSION" \
    >/tmp/kcpp-npm.log 2>&1 || { tail -20 /tmp/kcpp-npm.log >&2; die "npm install @bufbuild/buf failed (is registry.npmjs.org reachable? full log: /tmp/kcpp-npm.log)"; }
  [[ "$(/usr/local/bin/buf --version 2>/dev/null || true)" == "$BUF_VERSION" ]] ||
    die "buf $BUF_VERSION did not install into /usr/local/bin (see /tmp/kcpp-npm.log)"
fi

# --- BoringSSL source package -------------------------------------------------
CACHE="${KCPP_CACHE:-$HOME/.cache/kcpp}"
BSSL_DIR="$CACHE/boringssl"
if [[ ! -f "$BSSL_DIR/src/crypto/fipsmodule/bcm.c" ]]; then
  say "fetching BoringSSL source package into $BSSL_DIR"
  tmp=$(mktemp -d "$CACHE.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE"; mktemp -d "$CACHE/tmp.XXXXXX"; })
  (cd "$tmp" && apt-get source -q android-platform-external-boringssl >/dev/null 2>"$tmp/err.log") ||
    { cat "$tmp/err.log" >&2; die "apt-get source android-platform-external-boringssl failed"; }
  src=$(find "$tmp" -maxdepth 1 -type d -name 'android-platform-external-boringssl-*' | head -1)
  [[ -n "$src" && -f "$src/src/crypto/fipsmodule/bcm.c" ]] || die "unexpected BoringSSL source layout in $tmp"
  mkdir -p "$CACHE"
  rm -rf "$BSSL_DIR"
  mv "$src" "$BSSL_DIR"
  rm -rf "$tmp"
fi

# Tell Bazel where the cache is (read by the boringssl repository rule).
mkdir -p "$CACHE"
echo "$BSSL_DIR" > "$CACHE/boringssl.path"
say "ok (BoringSSL source at $BSSL_DIR)"
