// Captures the datagrams a real kcp-go 5.6.1 session (Debian
// golang-github-xtaci-kcp-dev) sends with FEC on, the way Appendix A.3 of
// docs/protocol.md was produced: NewConn3 over a fake net.PacketConn whose
// WriteTo records every datagram, SetNoDelay(1, 10, 2, 1), then a run of
// writes of pseudo-random sizes. Every datagram passes kcp-go's fecEncoder.
//
// Arguments: <data shards> <parity shards> <crypt: plain|none> <sessions> <seed>
//
//	plain: no BlockCrypt, the FEC header is at offset 0;
//	none:  kcp-go's NoneBlockCrypt: 16-byte nonce + CRC-32 before the FEC
//	       header (offset 20), payload not transformed.
//
// Each session makes 16 writes (no ACKs ever come back, so more could fill
// kcp-go's initial remote window of 32 segments and block) and starts at
// seqid 0.
// Output: per session a line "session", then one datagram per line,
// lowercase hex, in send order.
package main

import (
	"encoding/hex"
	"fmt"
	"math/rand"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/xtaci/kcp-go"
)

type captureConn struct {
	mu    sync.Mutex
	sent  [][]byte
	close chan struct{}
}

func (c *captureConn) ReadFrom(p []byte) (int, net.Addr, error) {
	<-c.close
	return 0, nil, fmt.Errorf("closed")
}

func (c *captureConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	c.sent = append(c.sent, append([]byte(nil), p...))
	c.mu.Unlock()
	return len(p), nil
}

func (c *captureConn) Close() error                       { close(c.close); return nil }
func (c *captureConn) LocalAddr() net.Addr                { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *captureConn) SetDeadline(t time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(t time.Time) error { return nil }

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: kcpgo_fec_capture <ds> <ps> plain|none <sessions> <seed>")
		os.Exit(2)
	}
	ds, _ := strconv.Atoi(os.Args[1])
	ps, _ := strconv.Atoi(os.Args[2])
	sessions, _ := strconv.Atoi(os.Args[4])
	seed, _ := strconv.ParseInt(os.Args[5], 10, 64)
	var block kcp.BlockCrypt
	if os.Args[3] == "none" {
		block, _ = kcp.NewNoneBlockCrypt(nil)
	}
	rng := rand.New(rand.NewSource(seed))
	for k := 0; k < sessions; k++ {
		conn := &captureConn{close: make(chan struct{})}
		raddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}
		sess, err := kcp.NewConn3(0x11223344, raddr, block, ds, ps, conn)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sess.SetNoDelay(1, 10, 2, 1)
		sess.SetWindowSize(1024, 1024)
		for i := 0; i < 16; i++ {
			// Mostly small messages, some filling a datagram, a few spanning two.
			n := 1 + rng.Intn(64)
			switch rng.Intn(4) {
			case 0:
				n = 1 + rng.Intn(1400)
			case 1:
				n = 1 + rng.Intn(2600)
			}
			msg := make([]byte, n)
			rng.Read(msg)
			if _, err := sess.Write(msg); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		sess.Close()
		conn.mu.Lock()
		sent := conn.sent
		conn.mu.Unlock()
		fmt.Println("session")
		for _, d := range sent {
			fmt.Println(hex.EncodeToString(d))
		}
	}
	os.Exit(0)
}
