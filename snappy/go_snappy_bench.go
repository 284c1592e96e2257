// Measures golang/snappy's framing (Debian golang-github-golang-snappy-dev,
// kcptun's) on this machine for bench/README.md: NewBufferedWriter with one
// Write + Flush per frame (kcptun's CompStream) and NewReader, over 4 MiB of
// the same text-like / random data as framing_benchmark.cc.
// Build: bazel build --config=opt //snappy:go_snappy_bench
// Run:   bazel-bin/snappy/go_snappy_bench.bin
package main

import (
	"bytes"
	"fmt"
	"io"
	"io/ioutil"
	"testing"

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

func mbps(r testing.BenchmarkResult) float64 {
	return float64(total) * float64(r.N) / r.T.Seconds() / 1e6
}

func main() {
	names := []string{"text", "random"}
	for kind := 0; kind < 2; kind++ {
		data := makeData(total, kind)
		for _, frame := range []int{1024, 8192, 32768, 65536} {
			enc := testing.Benchmark(func(b *testing.B) {
				w := snappy.NewBufferedWriter(ioutil.Discard)
				for i := 0; i < b.N; i++ {
					for off := 0; off < len(data); off += frame {
						w.Write(data[off : off+frame])
						w.Flush()
					}
				}
			})
			var framed bytes.Buffer
			w := snappy.NewBufferedWriter(&framed)
			for off := 0; off < len(data); off += frame {
				w.Write(data[off : off+frame])
				w.Flush()
			}
			stream := framed.Bytes()
			dec := testing.Benchmark(func(b *testing.B) {
				buf := make([]byte, 65536)
				for i := 0; i < b.N; i++ {
					r := snappy.NewReader(bytes.NewReader(stream))
					if _, err := io.CopyBuffer(ioutil.Discard, struct{ io.Reader }{r}, buf); err != nil {
						panic(err)
					}
				}
			})
			fmt.Printf("%-6s frame %6d: encode %8.1f MB/s  decode %8.1f MB/s  ratio %.3f\n",
				names[kind], frame, mbps(enc), mbps(dec), float64(len(stream))/float64(total))
		}
	}
}
