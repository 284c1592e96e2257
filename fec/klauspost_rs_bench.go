// Measures klauspost/reedsolomon (Debian 1.9.13, the codec Debian's kcp-go
// 5.6.1 uses, created as kcp-go does: reedsolomon.New(10, 3), no options) on
// the cases of fec_benchmark: 10+3 encode and ReconstructData with 1 and 3
// data shards lost, 1400 B and 64 KiB shards, one core (GOMAXPROCS=1).
// Missing shards are passed as zero-length slices with capacity, as kcp-go's
// decoder does, so nothing is allocated per call.
//
// Time is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID; with GOMAXPROCS=1
// only one thread runs Go code at a time, and klauspost hands 64 KiB shards to
// helper goroutines, so a per-thread clock would undercount), as Google
// Benchmark reports CPU time for fec_benchmark: a busy machine then does not
// distort the comparison. Wall time is shown too.
//
// Output, one line per case: <name> <cpu ns/op> <data MB/s by cpu time>
// <wall ns/op> (data = 10 x shard size per operation, MB = 10^6 bytes).
package main

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/klauspost/reedsolomon"
)

func shards(size int) [][]byte {
	s := make([][]byte, 13)
	rng := rand.New(rand.NewSource(1))
	for i := range s {
		s[i] = make([]byte, size)
		rng.Read(s[i])
	}
	return s
}

func processCPU() int64 {
	var ts syscall.Timespec
	// CLOCK_PROCESS_CPUTIME_ID = 2
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 2, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// measure runs f in batches until 0.5 s of CPU time have passed.
func measure(name string, size int, f func()) {
	for i := 0; i < 100; i++ {
		f() // warm up
	}
	n := 0
	cpu0, wall0 := processCPU(), time.Now()
	for processCPU()-cpu0 < 500e6 {
		for i := 0; i < 100; i++ {
			f()
		}
		n += 100
	}
	cpu := float64(processCPU()-cpu0) / float64(n)
	wall := float64(time.Since(wall0).Nanoseconds()) / float64(n)
	fmt.Printf("%s %.0f %.0f %.0f\n", name, cpu, float64(10*size)/cpu*1e3, wall)
}

func main() {
	runtime.GOMAXPROCS(1)
	enc, err := reedsolomon.New(10, 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, size := range []int{1400, 65536} {
		s := shards(size)
		measure(fmt.Sprintf("klauspost_Encode/%d", size), size, func() {
			if err := enc.Encode(s); err != nil {
				panic(err)
			}
		})
		for _, lost := range []int{1, 3} {
			measure(fmt.Sprintf("klauspost_ReconstructData/%d/%d", size, lost), size, func() {
				for k := 0; k < lost; k++ {
					s[k] = s[k][:0]
				}
				if err := enc.ReconstructData(s); err != nil {
					panic(err)
				}
			})
		}
		if ok, _ := enc.Verify(s); !ok {
			fmt.Fprintln(os.Stderr, "reconstruction produced wrong shards")
			os.Exit(1)
		}
	}
}
