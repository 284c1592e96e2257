// Measures xtaci/smux 1.5.16 (Debian, kcptun's) on this machine for
// bench/README.md: two sessions over an in-memory full-duplex pipe
// (net.Pipe), one stream, the writer sending 32 KiB writes, the reader
// reading into a 64 KiB buffer; MB of payload per wall-clock second and per
// CPU-second of the process (getrusage: every goroutine's work, which is
// what BM_Pair in smux_benchmark.cc reports for the single-threaded sans-IO
// sessions), v1 and v2.
// Build: bazel build --config=opt //smux:go_smux_bench
// Run:   bazel-bin/smux/go_smux_bench.bin
package main

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/xtaci/smux"
)

func cpuSeconds() float64 {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
}

// measure runs f (which returns bytes moved) for about two seconds.
func measure(f func() int) (wallMBs, cpuMBs float64) {
	f()
	c0, t0 := cpuSeconds(), time.Now()
	total := 0
	for time.Since(t0) < 2*time.Second {
		total += f()
	}
	wall, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
	return float64(total) / wall / 1e6, float64(total) / cpu / 1e6
}

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
		const chunk, per = 32768, 16 << 20
		data := make([]byte, chunk)
		buf := make([]byte, 65536)
		wall, cpu := measure(func() int {
			done := make(chan struct{})
			go func() {
				for got := 0; got < per; {
					n, err := r.Read(buf)
					if err != nil && err != io.EOF {
						panic(err)
					}
					got += n
				}
				close(done)
			}()
			for sent := 0; sent < per; sent += chunk {
				if _, err := w.Write(data); err != nil {
					panic(err)
				}
			}
			<-done
			return per
		})
		fmt.Printf("smux v%d, 32 KiB writes over net.Pipe: %.1f MB/s wall, %.1f MB/CPU-s\n",
			version, wall, cpu)
		client.Close()
		server.Close()
	}
}
