// golang/snappy (Debian golang-github-golang-snappy-dev, the library kcptun
// links) as a stdin -> stdout filter for snappy/go_interop_test.cc.
//
//	go_snappy_peer encode SIZES   frame stdin with snappy.NewBufferedWriter,
//	                              writing it in pieces of the given sizes
//	                              (comma-separated, cycled) and calling Flush
//	                              after every piece, exactly as kcptun's
//	                              CompStream.Write does
//	go_snappy_peer decode         unframe stdin with snappy.NewReader
//
// Exit status: 0 on success; 2 with "corrupt" or "unsupported" (or another
// error text) on stderr when NewReader rejects the stream.
package main

import (
	"bufio"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"strconv"
	"strings"

	"github.com/golang/snappy"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_snappy_peer encode SIZES | decode")
		os.Exit(1)
	}
	switch os.Args[1] {
	case "encode":
		var sizes []int
		for _, f := range strings.Split(os.Args[2], ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n <= 0 {
				fmt.Fprintln(os.Stderr, "bad size", f)
				os.Exit(1)
			}
			sizes = append(sizes, n)
		}
		data, err := ioutil.ReadAll(os.Stdin)
		if err != nil {
			panic(err)
		}
		out := bufio.NewWriter(os.Stdout)
		w := snappy.NewBufferedWriter(out)
		for i := 0; len(data) > 0; i++ {
			n := sizes[i%len(sizes)]
			if n > len(data) {
				n = len(data)
			}
			if _, err := w.Write(data[:n]); err != nil {
				panic(err)
			}
			if err := w.Flush(); err != nil {
				panic(err)
			}
			data = data[n:]
		}
		if err := out.Flush(); err != nil {
			panic(err)
		}
	case "decode":
		r := snappy.NewReader(bufio.NewReader(os.Stdin))
		out := bufio.NewWriter(os.Stdout)
		if _, err := io.Copy(out, r); err != nil {
			switch err {
			case snappy.ErrCorrupt:
				fmt.Fprintln(os.Stderr, "corrupt")
			case snappy.ErrUnsupported:
				fmt.Fprintln(os.Stderr, "unsupported")
			default:
				fmt.Fprintln(os.Stderr, err)
			}
			os.Exit(2)
		}
		if err := out.Flush(); err != nil {
			panic(err)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(1)
	}
}
