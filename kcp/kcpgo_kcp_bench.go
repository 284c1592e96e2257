// kcpgo_kcp_bench measures kcp-go 5.6.1's own KCP engine (Debian's
// golang-github-xtaci-kcp-dev) on the cases of kcp_benchmark.cc that its
// exported API can reproduce, for the side-by-side table in bench/README.md
// ("kcp"). kcp-go's BenchmarkFlush itself needs unexported fields and is run
// with `go test` on a copy of the package (see bench/README.md).
package main

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"
	_ "unsafe" // go:linkname

	"github.com/xtaci/kcp-go"
)

// kcp-go's clock origin (see kcpgo_kcp_peer.go): moving it back makes
// Update() see its flush deadline due on every transfer round.
//
//go:linkname kcpRefTime github.com/xtaci/kcp-go.refTime
var kcpRefTime time.Time

const conv = 0x11223344

func header(cmd byte, wnd uint16, ts, sn, una uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], conv)
	b[4] = cmd
	binary.LittleEndian.PutUint16(b[6:], wnd)
	binary.LittleEndian.PutUint32(b[8:], ts)
	binary.LittleEndian.PutUint32(b[12:], sn)
	binary.LittleEndian.PutUint32(b[16:], una)
	return b
}

// One datagram of 58 ACKs (sn 1..58, una 0) into a fresh KCP with 128
// one-byte segments in flight, fast3 settings.
func inputAckDatagram(b *testing.B) {
	var dg []byte
	for i := uint32(0); i < 58; i++ {
		dg = append(dg, header(82, 128, 0, 1+i, 0)...)
	}
	wins := header(84, 128, 0, 0, 0)
	one := []byte{1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		k := kcp.NewKCP(conv, func([]byte, int) {})
		k.NoDelay(1, 10, 2, 1)
		k.WndSize(128, 128)
		k.Input(wins, true, false)
		for j := 0; j < 128; j++ {
			k.Send(one)
		}
		k.Update()
		b.StartTimer()
		if r := k.Input(dg, true, false); r != 0 {
			b.Fatal("input", r)
		}
	}
}

// A full 32-segment window of 1376-byte segments encoded and emitted by
// one flush (Update with its deadline due), queueing and acknowledging off
// the clock, as BM_FlushWindow32 in kcp_benchmark.cc.
func flushWindow32(b *testing.B) {
	var emitted int
	k := kcp.NewKCP(conv, func(buf []byte, size int) { emitted += size })
	k.NoDelay(1, 10, 2, 1)
	seg := make([]byte, 1376)
	var sn uint32
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := 0; j < 32; j++ {
			k.Send(seg)
		}
		kcpRefTime = kcpRefTime.Add(-10 * time.Millisecond) // flush deadline due
		b.StartTimer()
		k.Update()
		b.StopTimer()
		sn += 32
		if r := k.Input(header(82, 32, 0, sn-1, sn), true, false); r != 0 {
			b.Fatal("input", r)
		}
		b.StartTimer()
	}
	b.SetBytes(32 * 1376)
}

// Check() on an idle KCP.
func checkIdle(b *testing.B) {
	k := kcp.NewKCP(conv, func([]byte, int) {})
	k.Update()
	for i := 0; i < b.N; i++ {
		k.Check()
	}
}

// In-memory transfer between two KCPs at MTU 1400, fast3, nc, windows
// `wnd`: mss-sized messages (kcp-go sessions cut writes to mss, so this is
// its stream path), datagrams copied out of the output callback as
// kcp-go's session does, fed to the other side's Input. The clock moves one
// 10 ms interval per round so that Update() flushes every round.
func transfer(wnd int) func(b *testing.B) {
	return func(b *testing.B) {
		var qa, qb [][]byte
		a := kcp.NewKCP(conv, func(buf []byte, size int) { qa = append(qa, append([]byte(nil), buf[:size]...)) })
		c := kcp.NewKCP(conv, func(buf []byte, size int) { qb = append(qb, append([]byte(nil), buf[:size]...)) })
		for _, k := range []*kcp.KCP{a, c} {
			k.NoDelay(1, 10, 2, 1)
			k.WndSize(wnd, wnd)
		}
		wins := header(84, uint16(wnd), 0, 0, 0)
		a.Input(wins, true, false)
		c.Input(wins, true, false)
		msg := make([]byte, 1376)
		rbuf := make([]byte, 2048)
		var delivered int64
		round := func() {
			kcpRefTime = kcpRefTime.Add(-10 * time.Millisecond) // one interval later
			for a.WaitSnd() < wnd {
				a.Send(msg)
			}
			a.Update()
			for spin := 0; spin < 64 && (len(qa) > 0 || len(qb) > 0); spin++ {
				cur := qa
				qa = nil
				for _, d := range cur {
					c.Input(d, true, false)
				}
				for {
					n := c.Recv(rbuf)
					if n < 0 {
						break
					}
					delivered += int64(n)
				}
				c.Update()
				cur = qb
				qb = nil
				for _, d := range cur {
					a.Input(d, true, false)
				}
			}
		}
		for i := 0; i < 50; i++ {
			round()
		}
		delivered = 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			round()
		}
		b.SetBytes(delivered / int64(b.N))
	}
}

func report(name string, r testing.BenchmarkResult) {
	line := fmt.Sprintf("%-28s %10d ns/op %8d allocs/op", name, r.NsPerOp(), r.AllocsPerOp())
	if r.Bytes > 0 {
		line += fmt.Sprintf(" %8.0f MB/s", float64(r.Bytes)*float64(r.N)/r.T.Seconds()/1e6)
	}
	fmt.Println(line)
}

func main() {
	report("FlushWindow32", testing.Benchmark(flushWindow32))
	report("InputAckDatagram", testing.Benchmark(inputAckDatagram))
	report("CheckIdle", testing.Benchmark(checkIdle))
	report("Transfer/wnd:128", testing.Benchmark(transfer(128)))
	report("Transfer/wnd:1024", testing.Benchmark(transfer(1024)))
}
