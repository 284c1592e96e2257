// Measures golang/snappy's framing (Debian golang-github-golang-snappy-dev,
// kcptun's) on this machine for bench/README.md: NewBufferedWriter with one
// Write + Flush per frame (kcptun's CompStream) and NewReader, over 4 MiB of
// the same text-like / random data as framing_benchmark.cc (the writer's
// output goes to a reused bytes.Buffer, the reader's to ioutil.Discard
// through a 64 KiB buffer). Reports MB of
// uncompressed data per wall-clock second and per CPU-second of the process
// (getrusage), the unit of the C++ benchmark.
// Build: bazel build --config=opt //snappy:go_snappy_bench
// Run:   bazel-bin/snappy/go_snappy_bench.bin
package main

import (
	"bytes"
	"fmt"
	"io"
	"io/ioutil"
	"syscall"
	"time"

	"github.com/golang/snappy"
)

const total = 4 << 20

func makeData(n, kind int) []byte {
	words := []string{"the ", "kcptun ", "stream ", "of ", "frames ", "window ", "smux ", "data\n"}
	b := make([]byte, 0, n+16)
	x := uint32(1)
	for len(b) < n {
		x = x*1103515245 + 12345
		if kind == 0 {
			b = append(b, words[(x>>16)%8]...)
		} else {
			b = append(b, byte(x>>24))
		}
	}
	return b[:n]
}

func cpuSeconds() float64 {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
}

// measure runs f (one pass over `total` bytes) for about a second.
func measure(f func()) (wallMBs, cpuMBs float64) {
	f()
	c0, t0 := cpuSeconds(), time.Now()
	n := 0
	for time.Since(t0) < time.Second {
		f()
		n++
	}
	wall, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
	return float64(n*total) / wall / 1e6, float64(n*total) / cpu / 1e6
}

func main() {
	names := []string{"text", "random"}
	for kind := 0; kind < 2; kind++ {
		data := makeData(total, kind)
		for _, frame := range []int{1024, 8192, 32768, 65536} {
			// The framed bytes land in memory, as they do in the C++
			// encoder's output buffer (and in kcp-go's send queue).
			var sink bytes.Buffer
			w := snappy.NewBufferedWriter(&sink)
			encWall, encCPU := measure(func() {
				sink.Reset()
				for off := 0; off < len(data); off += frame {
					w.Write(data[off : off+frame])
					w.Flush()
				}
			})
			var framed bytes.Buffer
			fw := snappy.NewBufferedWriter(&framed)
			for off := 0; off < len(data); off += frame {
				fw.Write(data[off : off+frame])
				fw.Flush()
			}
			stream := framed.Bytes()
			buf := make([]byte, 65536)
			decWall, decCPU := measure(func() {
				r := snappy.NewReader(bytes.NewReader(stream))
				if _, err := io.CopyBuffer(ioutil.Discard, struct{ io.Reader }{r}, buf); err != nil {
					panic(err)
				}
			})
			fmt.Printf("%-6s frame %6d: encode %7.1f MB/s wall %7.1f MB/CPU-s   decode %7.1f MB/s wall %7.1f MB/CPU-s   ratio %.3f\n",
				names[kind], frame, encWall, encCPU, decWall, decCPU, float64(len(stream))/float64(total))
		}
	}
}
