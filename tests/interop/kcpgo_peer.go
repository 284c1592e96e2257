// kcpgo_peer: the real kcp-go (Debian's 5.6.1) as a peer for kcpp's interop
// tests and side-by-side benchmarks. Written for kcpp; built in GOPATH mode by
// //tools/build_defs:go.bzl.
//
// Server: kcpgo_peer -role server -addr 127.0.0.1:0 [session flags] [-sink]
//
//	prints "LISTENING <addr>" once bound, then serves every session: reads an
//	8-byte little-endian length N, then N bytes, and echoes the N bytes back
//	(or, with -sink, answers with the 32-byte SHA-256 of the N bytes).
//
// Client: kcpgo_peer -role client -addr HOST:PORT -bytes N [session flags] [-sink]
//
//	sends the length, then N bytes of the shared pattern, reads the echo (or
//	digest) and checks it; prints "OK <bytes> <seconds> <MB/s>" or exits 1.
//
// The pattern byte i = (i*7 + i>>8) & 0xff; kcpp's side uses the same formula.
//
// Benchmark modes (-bench; bench/kcpp_peer.cc speaks the same, flag for flag;
// see bench/README.md "transport"):
//
//	server -bench bulk   reads an 8-byte little-endian length N, then N bytes,
//	                     compares them with the pattern (64 KiB period, so a
//	                     table and memcmp, cheap next to the transport), and
//	                     answers with 8 bytes: how many bytes matched (N = ok).
//	server -bench echo   echoes whatever each Read returns, at once (no
//	                     length header): for round trips and many sessions.
//	client -bench bulk   -bytes N against "-bench bulk": prints
//	                     "OK <bytes> <seconds> <MB/s>", timed from the first
//	                     write to the server's answer.
//	client -bench rtt    -count C -warmup W -size S against "-bench echo":
//	                     sends S bytes, waits for the S-byte echo, C+W times;
//	                     prints "RTT <count> <p50> <p90> <p99> <max> <mean>"
//	                     in microseconds over the last C.
package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"time"

	"github.com/xtaci/kcp-go"
	"golang.org/x/crypto/pbkdf2"
)

var (
	role     = flag.String("role", "server", "server or client")
	addr     = flag.String("addr", "127.0.0.1:0", "listen or dial address")
	crypt    = flag.String("crypt", "none", "kcptun cipher name, or null for no crypt layer")
	key      = flag.String("key", "it's a secrect", "passphrase (PBKDF2 as kcptun)")
	ds       = flag.Int("ds", 0, "FEC data shards")
	ps       = flag.Int("ps", 0, "FEC parity shards")
	mode     = flag.String("mode", "fast3", "normal, fast, fast2, fast3")
	sndwnd   = flag.Int("sndwnd", 1024, "send window (segments)")
	rcvwnd   = flag.Int("rcvwnd", 1024, "receive window (segments)")
	mtu      = flag.Int("mtu", 1400, "MTU")
	nbytes   = flag.Int64("bytes", 1<<20, "client: bytes to send")
	sink     = flag.Bool("sink", false, "answer with a SHA-256 digest instead of echoing")
	sessions = flag.Int("sessions", 0, "server: exit after serving this many sessions (0 = forever)")
	bench    = flag.String("bench", "", "benchmark mode: server bulk|echo, client bulk|rtt (see header)")
	count    = flag.Int("count", 2000, "client -bench rtt: round trips measured")
	warmup   = flag.Int("warmup", 200, "client -bench rtt: round trips before measuring")
	size     = flag.Int("size", 1024, "client -bench rtt: message size in bytes")
)

// patternTable holds two periods of the pattern, so any 64 KiB window of the
// stream starting at offset o is patternTable[o%65536:][:64 KiB].
var patternTable = func() []byte {
	t := make([]byte, 2<<16)
	pattern(t, 0)
	return t
}()

func patternAt(offset int64, n int) []byte {
	o := int(offset & 0xffff)
	return patternTable[o : o+n]
}

func pattern(buf []byte, offset int64) {
	for i := range buf {
		j := offset + int64(i)
		buf[i] = byte(j*7 + j>>8)
	}
}

func block() kcp.BlockCrypt {
	pass := pbkdf2.Key([]byte(*key), []byte("kcp-go"), 4096, 32, sha1.New)
	var b kcp.BlockCrypt
	var err error
	switch *crypt {
	case "null":
		return nil
	case "none":
		b, err = kcp.NewNoneBlockCrypt(pass)
	case "aes":
		b, err = kcp.NewAESBlockCrypt(pass)
	case "aes-128":
		b, err = kcp.NewAESBlockCrypt(pass[:16])
	case "aes-192":
		b, err = kcp.NewAESBlockCrypt(pass[:24])
	case "salsa20":
		b, err = kcp.NewSalsa20BlockCrypt(pass)
	case "blowfish":
		b, err = kcp.NewBlowfishBlockCrypt(pass)
	case "twofish":
		b, err = kcp.NewTwofishBlockCrypt(pass)
	case "cast5":
		b, err = kcp.NewCast5BlockCrypt(pass[:16])
	case "3des":
		b, err = kcp.NewTripleDESBlockCrypt(pass[:24])
	case "tea":
		b, err = kcp.NewTEABlockCrypt(pass[:16])
	case "xtea":
		b, err = kcp.NewXTEABlockCrypt(pass[:16])
	case "xor":
		b, err = kcp.NewSimpleXORBlockCrypt(pass)
	case "sm4":
		b, err = kcp.NewSM4BlockCrypt(pass[:16])
	default:
		fmt.Fprintf(os.Stderr, "unknown -crypt %q\n", *crypt)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cipher:", err)
		os.Exit(2)
	}
	return b
}

func tune(s *kcp.UDPSession) {
	switch *mode {
	case "normal":
		s.SetNoDelay(0, 40, 2, 1)
	case "fast":
		s.SetNoDelay(0, 30, 2, 1)
	case "fast2":
		s.SetNoDelay(1, 20, 2, 1)
	default:
		s.SetNoDelay(1, 10, 2, 1)
	}
	s.SetStreamMode(true)
	s.SetWindowSize(*sndwnd, *rcvwnd)
	s.SetMtu(*mtu)
	s.SetWriteDelay(false)
	s.SetACKNoDelay(true)
}

func serve(s *kcp.UDPSession) error {
	defer s.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		return err
	}
	n := int64(binary.LittleEndian.Uint64(hdr[:]))
	buf := make([]byte, 64<<10)
	h := sha256.New()
	for left := n; left > 0; {
		chunk := buf
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
		}
		got, err := io.ReadFull(s, chunk)
		if err != nil {
			return err
		}
		left -= int64(got)
		if *sink {
			h.Write(chunk[:got])
		} else if _, err := s.Write(chunk[:got]); err != nil {
			return err
		}
	}
	if *sink {
		if _, err := s.Write(h.Sum(nil)); err != nil {
			return err
		}
	}
	lingerUntilGone(s)
	return nil
}

// lingerUntilGone keeps a session open until the peer goes quiet (no FIN in
// KCP): the last bytes get time to be acknowledged.
func lingerUntilGone(s *kcp.UDPSession) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var probe [1]byte
		s.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := s.Read(probe[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
	}
}

// serveBulk: -bench bulk (see header).
func serveBulk(s *kcp.UDPSession) error {
	defer s.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		return err
	}
	n := int64(binary.LittleEndian.Uint64(hdr[:]))
	buf := make([]byte, 64<<10)
	var off, good int64
	for off < n {
		chunk := buf
		if int64(len(chunk)) > n-off {
			chunk = chunk[:n-off]
		}
		got, err := s.Read(chunk)
		if err != nil {
			return err
		}
		if string(chunk[:got]) == string(patternAt(off, got)) {
			good += int64(got)
		}
		off += int64(got)
	}
	binary.LittleEndian.PutUint64(hdr[:], uint64(good))
	if _, err := s.Write(hdr[:]); err != nil {
		return err
	}
	lingerUntilGone(s)
	return nil
}

// serveEcho: -bench echo (see header).
func serveEcho(s *kcp.UDPSession) error {
	defer s.Close()
	buf := make([]byte, 16<<10)
	for {
		got, err := s.Read(buf)
		if err != nil {
			return err
		}
		if _, err := s.Write(buf[:got]); err != nil {
			return err
		}
	}
}

func server() {
	l, err := kcp.ListenWithOptions(*addr, block(), *ds, *ps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	l.SetReadBuffer(4 << 20)
	l.SetWriteBuffer(4 << 20)
	fmt.Printf("LISTENING %s\n", l.Addr())
	done := make(chan error)
	for served := 0; *sessions == 0 || served < *sessions; served++ {
		s, err := l.AcceptKCP()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accept:", err)
			os.Exit(1)
		}
		tune(s)
		switch *bench {
		case "":
			go func() { done <- serve(s) }()
		case "bulk":
			go func() { done <- serveBulk(s) }()
		case "echo":
			go func() { done <- serveEcho(s) }()
		default:
			fmt.Fprintf(os.Stderr, "unknown server -bench %q\n", *bench)
			os.Exit(2)
		}
	}
	for i := 0; i < *sessions; i++ {
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "session:", err)
		}
	}
}

func client() {
	s, err := kcp.DialWithOptions(*addr, block(), *ds, *ps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	tune(s)
	s.SetReadBuffer(4 << 20)
	s.SetWriteBuffer(4 << 20)
	start := time.Now()
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(*nbytes))
	errc := make(chan error, 1)
	go func() {
		if _, err := s.Write(hdr[:]); err != nil {
			errc <- err
			return
		}
		buf := make([]byte, 64<<10)
		for off := int64(0); off < *nbytes; {
			chunk := buf
			if int64(len(chunk)) > *nbytes-off {
				chunk = chunk[:*nbytes-off]
			}
			pattern(chunk, off)
			if _, err := s.Write(chunk); err != nil {
				errc <- err
				return
			}
			off += int64(len(chunk))
		}
		errc <- nil
	}()
	s.SetReadDeadline(time.Now().Add(120 * time.Second))
	if *sink {
		want := sha256.New()
		buf := make([]byte, 64<<10)
		for off := int64(0); off < *nbytes; {
			chunk := buf
			if int64(len(chunk)) > *nbytes-off {
				chunk = chunk[:*nbytes-off]
			}
			pattern(chunk, off)
			want.Write(chunk)
			off += int64(len(chunk))
		}
		var got [32]byte
		if _, err := io.ReadFull(s, got[:]); err != nil {
			fmt.Fprintln(os.Stderr, "read digest:", err)
			os.Exit(1)
		}
		if string(got[:]) != string(want.Sum(nil)) {
			fmt.Fprintln(os.Stderr, "digest mismatch")
			os.Exit(1)
		}
	} else {
		buf := make([]byte, 64<<10)
		expect := make([]byte, 64<<10)
		for off := int64(0); off < *nbytes; {
			n, err := s.Read(buf)
			if err != nil {
				fmt.Fprintf(os.Stderr, "read at %d: %v\n", off, err)
				os.Exit(1)
			}
			if off+int64(n) > *nbytes {
				fmt.Fprintln(os.Stderr, "peer sent more than it was sent")
				os.Exit(1)
			}
			pattern(expect[:n], off)
			if string(buf[:n]) != string(expect[:n]) {
				fmt.Fprintf(os.Stderr, "echo mismatch near byte %d\n", off)
				os.Exit(1)
			}
			off += int64(n)
		}
	}
	if err := <-errc; err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("OK %d %.3f %.1f\n", *nbytes, secs, float64(*nbytes)/secs/1e6)
	s.Close()
}

func dial() *kcp.UDPSession {
	s, err := kcp.DialWithOptions(*addr, block(), *ds, *ps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	tune(s)
	s.SetReadBuffer(4 << 20)
	s.SetWriteBuffer(4 << 20)
	return s
}

// clientBulk: -bench bulk (see header).
func clientBulk() {
	s := dial()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		var hdr [8]byte
		binary.LittleEndian.PutUint64(hdr[:], uint64(*nbytes))
		if _, err := s.Write(hdr[:]); err != nil {
			errc <- err
			return
		}
		for off := int64(0); off < *nbytes; {
			n := int64(64 << 10)
			if n > *nbytes-off {
				n = *nbytes - off
			}
			if _, err := s.Write(patternAt(off, int(n))); err != nil {
				errc <- err
				return
			}
			off += n
		}
		errc <- nil
	}()
	s.SetReadDeadline(time.Now().Add(300 * time.Second))
	var reply [8]byte
	if _, err := io.ReadFull(s, reply[:]); err != nil {
		fmt.Fprintln(os.Stderr, "read answer:", err)
		os.Exit(1)
	}
	secs := time.Since(start).Seconds()
	if err := <-errc; err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
	if good := int64(binary.LittleEndian.Uint64(reply[:])); good != *nbytes {
		fmt.Fprintf(os.Stderr, "server matched %d of %d bytes\n", good, *nbytes)
		os.Exit(1)
	}
	fmt.Printf("OK %d %.3f %.1f\n", *nbytes, secs, float64(*nbytes)/secs/1e6)
	s.Close()
}

// clientRtt: -bench rtt (see header).
func clientRtt() {
	s := dial()
	s.SetReadDeadline(time.Now().Add(300 * time.Second))
	got := make([]byte, *size)
	samples := make([]float64, 0, *count)
	msg := make([]byte, *size)
	var off int64
	for i := 0; i < *warmup+*count; i++ {
		pattern(msg, off)
		off += int64(*size)
		start := time.Now()
		if _, err := s.Write(msg); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
		if _, err := io.ReadFull(s, got); err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(1)
		}
		rtt := time.Since(start)
		if string(got) != string(msg) {
			fmt.Fprintf(os.Stderr, "echo mismatch in message %d\n", i)
			os.Exit(1)
		}
		if i >= *warmup {
			samples = append(samples, float64(rtt.Nanoseconds())/1e3)
		}
	}
	sort.Float64s(samples)
	rank := func(p float64) float64 {
		i := int(p*float64(len(samples))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return samples[i]
	}
	var sum float64
	for _, v := range samples {
		sum += v
	}
	fmt.Printf("RTT %d %.1f %.1f %.1f %.1f %.1f\n", len(samples), rank(0.50), rank(0.90), rank(0.99),
		samples[len(samples)-1], sum/float64(len(samples)))
	s.Close()
}

func main() {
	flag.Parse()
	switch {
	case *role == "server":
		server()
	case *bench == "":
		client()
	case *bench == "bulk":
		clientBulk()
	case *bench == "rtt":
		clientRtt()
	default:
		fmt.Fprintf(os.Stderr, "unknown client -bench %q\n", *bench)
		os.Exit(2)
	}
}
