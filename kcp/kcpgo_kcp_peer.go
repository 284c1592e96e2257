// kcpgo_kcp_peer drives kcp-go's own KCP engine (Debian's kcp-go 5.6.1, the
// real peer library) for kcpp's interop test, over stdin/stdout, with a
// virtual clock supplied by the test so a run is fast and repeatable.
//
// Frames in both directions: op (1 byte) | length (u32 LE) | payload.
//
//	test -> peer
//	  'C' create: conv, nodelay, interval, resend, nc, sndwnd, rcvwnd, mtu
//	      (8 x u32 LE), ackNoDelay (1 byte)
//	  'T' set the clock to the u32 LE millisecond value
//	  'I' KCP.Input(payload, regular=true, ackNoDelay)
//	  'S' KCP.Send(payload)
//	  'U' KCP.Update()
//	  'R' KCP.Recv() until empty; each message is answered with 'M'
//	  'Q' answered with 'q': WaitSnd() u32, Check() u32
//	  'E' end of batch: answered with 'E' after everything before it; its
//	      1-byte payload is 1 if the batch took so long since its 'T' that
//	      kcp-go's clock may have moved on during it (see below)
//	peer -> test
//	  'O' a datagram KCP output, 'M' a received message, 'q', 'E',
//	  'X' an error text (the peer then exits non-zero)
//
// kcp-go reads its clock through currentMs(), milliseconds since the
// package variable refTime. Before every call the peer moves refTime so that
// currentMs() returns the test's clock t: refTime = now - (t ms + 1 µs), so
// the value is exact unless the process is held up for 999 µs or more
// inside a call (a loaded machine can do that); 'E' reports when the whole
// batch took that long, so the test knows `ts` fields may be 1 ms late.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"
	_ "unsafe" // go:linkname

	"github.com/xtaci/kcp-go"
)

//go:linkname kcpRefTime github.com/xtaci/kcp-go.refTime
var kcpRefTime time.Time

var (
	in         = bufio.NewReaderSize(os.Stdin, 1<<20)
	out        = bufio.NewWriterSize(os.Stdout, 1<<20)
	clockMs    uint32
	batchStart time.Time
	engine     *kcp.KCP
	ackNoDelay bool
	recvBuf    = make([]byte, 1<<22)
)

func setClock() {
	kcpRefTime = time.Now().Add(-(time.Duration(clockMs)*time.Millisecond + time.Microsecond))
}

func writeFrame(op byte, payload []byte) {
	var hdr [5]byte
	hdr[0] = op
	binary.LittleEndian.PutUint32(hdr[1:], uint32(len(payload)))
	out.Write(hdr[:])
	out.Write(payload)
}

func fail(format string, args ...interface{}) {
	writeFrame('X', []byte(fmt.Sprintf(format, args...)))
	out.Flush()
	os.Exit(1)
}

func main() {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(in, hdr[:]); err != nil {
			if err == io.EOF {
				return
			}
			fail("read header: %v", err)
		}
		payload := make([]byte, binary.LittleEndian.Uint32(hdr[1:]))
		if _, err := io.ReadFull(in, payload); err != nil {
			fail("read payload: %v", err)
		}
		op := hdr[0]
		if engine == nil && op != 'C' && op != 'T' && op != 'E' {
			fail("op %c before create", op)
		}
		switch op {
		case 'C':
			if len(payload) != 33 {
				fail("create: %d bytes", len(payload))
			}
			u := func(i int) int { return int(int32(binary.LittleEndian.Uint32(payload[4*i:]))) }
			engine = kcp.NewKCP(uint32(u(0)), func(buf []byte, size int) {
				writeFrame('O', buf[:size])
			})
			engine.NoDelay(u(1), u(2), u(3), u(4))
			engine.WndSize(u(5), u(6))
			if engine.SetMtu(u(7)) != 0 {
				fail("SetMtu(%d) failed", u(7))
			}
			ackNoDelay = payload[32] != 0
		case 'T':
			clockMs = binary.LittleEndian.Uint32(payload)
			batchStart = time.Now()
		case 'I':
			setClock()
			if r := engine.Input(payload, true, ackNoDelay); r != 0 {
				fail("kcp-go Input returned %d for %x", r, payload)
			}
		case 'S':
			setClock()
			if r := engine.Send(payload); r != 0 {
				fail("kcp-go Send returned %d", r)
			}
		case 'U':
			setClock()
			engine.Update()
		case 'R':
			for {
				n := engine.Recv(recvBuf)
				if n < 0 {
					break
				}
				writeFrame('M', recvBuf[:n])
			}
		case 'Q':
			setClock()
			var q [8]byte
			binary.LittleEndian.PutUint32(q[0:], uint32(engine.WaitSnd()))
			binary.LittleEndian.PutUint32(q[4:], engine.Check())
			writeFrame('q', q[:])
		case 'E':
			drift := byte(0)
			if !batchStart.IsZero() && time.Since(batchStart) >= 999*time.Microsecond {
				drift = 1
			}
			writeFrame('E', []byte{drift})
			if err := out.Flush(); err != nil {
				os.Exit(1)
			}
		default:
			fail("unknown op %q", op)
		}
	}
}
