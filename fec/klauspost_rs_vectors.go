// Prints Reed-Solomon parity computed by the real klauspost/reedsolomon
// (Debian 1.9.13, the codec kcp-go uses: reedsolomon.New(data, parity) with no
// options, docs/protocol.md §4.4) for the cases given on the command line.
//
// Arguments: cases "data,parity,size,seed". Data shard bytes come from the
// xorshift32 stream described at fill() (reproduced in reed_solomon_test.cc).
// A size of 0 asks for the encoding matrix instead: data shard i is the unit
// vector e_i (size = data), so parity shard p is row data+p of the matrix.
//
// Output, one line per case: <data> <parity> <size> <seed> <hex of parity
// shards 0..parity-1 concatenated>
package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/reedsolomon"
)

// fill writes the byte stream of (seed): state = seed*2654435761 + 1 (mod
// 2^32, 0 replaced by 1); per byte: xorshift32 (13, 17, 5), output state>>24.
// Shards are filled in order 0..data-1, each completely.
func fill(shards [][]byte, seed uint32) {
	state := seed*2654435761 + 1
	if state == 0 {
		state = 1
	}
	for _, s := range shards {
		for j := range s {
			state ^= state << 13
			state ^= state >> 17
			state ^= state << 5
			s[j] = byte(state >> 24)
		}
	}
}

func main() {
	for _, arg := range os.Args[1:] {
		f := strings.Split(arg, ",")
		if len(f) != 4 {
			fmt.Fprintln(os.Stderr, "bad case", arg)
			os.Exit(2)
		}
		var v [4]int
		for i := range f {
			n, err := strconv.Atoi(f[i])
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad case", arg)
				os.Exit(2)
			}
			v[i] = n
		}
		data, parity, size, seed := v[0], v[1], v[2], v[3]
		enc, err := reedsolomon.New(data, parity)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		n := size
		if size == 0 {
			n = data
		}
		shards := make([][]byte, data+parity)
		for i := range shards {
			shards[i] = make([]byte, n)
		}
		if size == 0 {
			for i := 0; i < data; i++ {
				shards[i][i] = 1
			}
		} else {
			fill(shards[:data], uint32(seed))
		}
		if err := enc.Encode(shards); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var out []byte
		for _, p := range shards[data:] {
			out = append(out, p...)
		}
		fmt.Printf("%d %d %d %d %s\n", data, parity, size, seed, hex.EncodeToString(out))
	}
}
