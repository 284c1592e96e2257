// Measures xtaci/smux 1.5.16 (Debian, kcptun's) on this machine for
// bench/README.md: two sessions over an in-memory full-duplex pipe, one
// stream, the writer sending 32 KiB writes, the reader reading into a 64 KiB
// buffer; MB/s of payload, v1 and v2. The C++ counterpart is BM_Pair in
// smux_benchmark.cc (single-threaded, sans-IO: no goroutine hand-offs).
// Build: bazel build --config=opt //smux:go_smux_bench
// Run:   bazel-bin/smux/go_smux_bench.bin
package main

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/xtaci/smux"
)

func main() {
	for _, version := range []int{1, 2} {
		c1, c2 := net.Pipe()
		cfg := smux.DefaultConfig()
		cfg.Version = version
		client, err := smux.Client(c1, cfg)
		if err != nil {
			panic(err)
		}
		server, err := smux.Server(c2, cfg)
		if err != nil {
			panic(err)
		}
		w, err := client.OpenStream()
		if err != nil {
			panic(err)
		}
		r, err := server.AcceptStream()
		if err != nil {
			panic(err)
		}
		const chunk = 32768
		res := testing.Benchmark(func(b *testing.B) {
			data := make([]byte, chunk)
			done := make(chan struct{})
			go func() {
				buf := make([]byte, 65536)
				total := b.N * chunk
				for got := 0; got < total; {
					n, err := r.Read(buf)
					if err != nil && err != io.EOF {
						panic(err)
					}
					got += n
				}
				close(done)
			}()
			for i := 0; i < b.N; i++ {
				if _, err := w.Write(data); err != nil {
					panic(err)
				}
			}
			<-done
		})
		fmt.Printf("smux v%d, 32 KiB writes over net.Pipe: %.1f MB/s\n", version,
			float64(chunk)*float64(res.N)/res.T.Seconds()/1e6)
		client.Close()
		server.Close()
	}
}
