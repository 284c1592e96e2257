// kcpgo_peer: the real kcp-go (Debian's 5.6.1) as a peer for kcpp's interop
// tests and side-by-side benchmarks. Written for kcpp; built in GOPATH mode by
// //tools/build_defs:go.bzl.
//
// Server: kcpgo_peer -role server -addr 127.0.0.1:0 [session flags] [-sink]
//   prints "LISTENING <addr>" once bound, then serves every session: reads an
//   8-byte little-endian length N, then N bytes, and echoes the N bytes back
//   (or, with -sink, answers with the 32-byte SHA-256 of the N bytes).
// Client: kcpgo_peer -role client -addr HOST:PORT -bytes N [session flags] [-sink]
//   sends the length, then N bytes of the shared pattern, reads the echo (or
//   digest) and checks it; prints "OK <bytes> <seconds> <MB/s>" or exits 1.
//
// The pattern byte i = (i*7 + i>>8) & 0xff; kcpp's side uses the same formula.
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
)

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
	// No FIN in KCP: give the last bytes time to be acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var probe [1]byte
		s.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := s.Read(probe[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return nil
		}
	}
	return nil
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
		go func() { done <- serve(s) }()
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

func main() {
	flag.Parse()
	if *role == "server" {
		server()
	} else {
		client()
	}
}
