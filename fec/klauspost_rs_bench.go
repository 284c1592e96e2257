// Measures klauspost/reedsolomon (Debian 1.9.13, the codec Debian's kcp-go
// 5.6.1 uses, created as kcp-go does: reedsolomon.New(10, 3), no options) on
// the cases of fec_benchmark: 10+3 encode and ReconstructData with 1 and 3
// data shards lost, 1400 B and 64 KiB shards, one core (GOMAXPROCS=1).
// Missing shards are passed as zero-length slices with capacity, as kcp-go's
// decoder does, so nothing is allocated per call.
//
// Output, one line per case: <name> <ns/op> <data MB/s> (data = 10 x shard
// size per operation, MB = 10^6 bytes).
package main

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"testing"

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

func report(name string, size int, r testing.BenchmarkResult) {
	ns := float64(r.T.Nanoseconds()) / float64(r.N)
	fmt.Printf("%s %.0f %.0f\n", name, ns, float64(10*size)/ns*1e3)
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
		r := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := enc.Encode(s); err != nil {
					b.Fatal(err)
				}
			}
		})
		report(fmt.Sprintf("klauspost_Encode/%d", size), size, r)
		for _, lost := range []int{1, 3} {
			r := testing.Benchmark(func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					for k := 0; k < lost; k++ {
						s[k] = s[k][:0]
					}
					if err := enc.ReconstructData(s); err != nil {
						b.Fatal(err)
					}
				}
			})
			report(fmt.Sprintf("klauspost_ReconstructData/%d/%d", size, lost), size, r)
		}
		if ok, _ := enc.Verify(s); !ok {
			fmt.Fprintln(os.Stderr, "reconstruction produced wrong shards")
			os.Exit(1)
		}
	}
}
