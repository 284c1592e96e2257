"""go_peer_binary: builds a Go program against Debian's Go packages.

Interop tests need the *real* kcp-go / reedsolomon / smux, which Debian ships
as source under /usr/share/gocode (golang-github-xtaci-kcp-dev & co). Debian's
Go 1.19 builds them in GOPATH mode. A program kept in this repo (outside that
GOPATH) imports them without the /v5 suffix, e.g. "github.com/xtaci/kcp-go".

    go_peer_binary(name = "kcpgo_peer", srcs = ["kcpgo_peer.go"])

The output is an ordinary executable usable as `data` of a test.
"""

def go_peer_binary(name, srcs, visibility = None, testonly = True):
    native.genrule(
        name = name,
        srcs = srcs,
        outs = [name + ".bin"],
        cmd = " ".join([
            "GO111MODULE=off GOENV=off GOFLAGS= GOPATH=/usr/share/gocode",
            "GOCACHE=$${KCPP_GOCACHE:-/tmp/kcpp-gocache}",
            "CGO_ENABLED=0",
            "/usr/bin/go build -trimpath -o $@ $(SRCS)",
            "|| { echo 'kcpp: go build failed; run tools/setup.sh' >&2; exit 1; }",
        ]),
        testonly = testonly,
        visibility = visibility,
        tags = ["no-remote"],
    )
