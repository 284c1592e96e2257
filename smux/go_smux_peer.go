// A real xtaci/smux endpoint (Debian golang-github-xtaci-smux-dev 1.5.16, the
// smux kcptun links) for smux/go_interop_test.cc. The transport is
// stdin/stdout; with -snappy it is wrapped exactly like kcptun's CompStream:
// golang/snappy NewReader for input, NewBufferedWriter with Flush after
// every write for output (docs/protocol.md §6.1).
//
// Modes (-mode):
//
//	echo           accept streams and echo each (io.Copy back, Close at EOF);
//	               also open -open streams that each send an 8-byte LE length
//	               M (-size) then M pattern bytes, read M bytes back, check
//	               them, then expect EOF (the C++ side's FIN) and Close.
//	window-reader  accept two streams A then B; read B to EOF first, then A;
//	               after each, write back "count u64 LE | ok u8" (ok = pattern
//	               matched) and Close it. While B is read, A's writer must be
//	               held by the v2 window.
//	writer         open -open streams and write -size pattern bytes on each
//	               concurrently, then Close.
//
// pattern(seed, i) = byte((uint32(i)*2654435761 + seed*40503) >> 13), seed =
// stream id; the same formula is in go_interop_test.cc.
//
// The process ends when the C++ side closes stdin (the session dies), or at
// the first failed check (exit status 1). Progress goes to stderr.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/xtaci/smux"
)

func pattern(seed uint32, i uint64) byte {
	return byte((uint32(i)*2654435761 + seed*40503) >> 13)
}

type stdio struct {
	r io.Reader
	w io.Writer
}

func (s *stdio) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *stdio) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *stdio) Close() error                { return os.Stdout.Close() }

// compWriter is kcptun's CompStream.Write: write, then Flush.
type compWriter struct{ w *snappy.Writer }

func (c *compWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(p); err != nil {
		return 0, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

var failures int32

// fail reports a failed check and exits at once, so the C++ side sees EOF
// instead of waiting for streams that will never finish.
func fail(format string, args ...interface{}) {
	atomic.AddInt32(&failures, 1)
	fmt.Fprintf(os.Stderr, "go peer: FAIL "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go peer: "+format+"\n", args...)
}

// readAll reads s to EOF, checking the pattern; returns count and match.
func readAll(s *smux.Stream) (uint64, bool) {
	buf := make([]byte, 65536)
	var n uint64
	ok := true
	for {
		k, err := s.Read(buf)
		for i := 0; i < k; i++ {
			if buf[i] != pattern(s.ID(), n+uint64(i)) && ok {
				ok = false
				fail("stream %d: byte %d differs", s.ID(), n+uint64(i))
			}
		}
		n += uint64(k)
		if err == io.EOF {
			return n, ok
		}
		if err != nil {
			fail("stream %d: read: %v", s.ID(), err)
			return n, false
		}
	}
}

func writePattern(s *smux.Stream, size uint64) error {
	buf := make([]byte, 32768)
	for off := uint64(0); off < size; {
		k := uint64(len(buf))
		if size-off < k {
			k = size - off
		}
		for i := uint64(0); i < k; i++ {
			buf[i] = pattern(s.ID(), off+i)
		}
		if _, err := s.Write(buf[:k]); err != nil {
			return err
		}
		off += k
	}
	return nil
}

// echoClient: length header, data, read back, expect EOF, Close.
func echoClient(s *smux.Stream, size uint64) {
	defer s.Close()
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], size)
	done := make(chan error, 1)
	go func() {
		if _, err := s.Write(hdr[:]); err != nil {
			done <- err
			return
		}
		done <- writePattern(s, size)
	}()
	buf := make([]byte, 65536)
	var got uint64
	for got < size {
		k, err := s.Read(buf)
		for i := 0; i < k; i++ {
			if buf[i] != pattern(s.ID(), got+uint64(i)) {
				fail("stream %d: echoed byte %d differs", s.ID(), got+uint64(i))
				return
			}
		}
		got += uint64(k)
		if err != nil {
			fail("stream %d: read after %d of %d bytes: %v", s.ID(), got, size, err)
			return
		}
	}
	if err := <-done; err != nil {
		fail("stream %d: write: %v", s.ID(), err)
		return
	}
	if k, err := s.Read(buf); err != io.EOF {
		fail("stream %d: want EOF after the echo, got %d bytes, %v", s.ID(), k, err)
		return
	}
	logf("stream %d: %d bytes echoed byte-exact, EOF seen", s.ID(), size)
}

func main() {
	role := flag.String("role", "server", "client or server")
	version := flag.Int("version", 1, "smux version")
	comp := flag.Bool("snappy", false, "wrap the transport in snappy framing (kcptun default)")
	mode := flag.String("mode", "echo", "echo, window-reader or writer")
	open := flag.Int("open", 0, "streams to open")
	size := flag.Uint64("size", 1<<20, "bytes per opened stream")
	kaInterval := flag.Int("ka-interval-ms", 10000, "KeepAliveInterval")
	kaTimeout := flag.Int("ka-timeout-ms", 30000, "KeepAliveTimeout")
	kaOff := flag.Bool("ka-off", false, "KeepAliveDisabled")
	streamBuf := flag.Int("streambuf", 65536, "MaxStreamBuffer")
	recvBuf := flag.Int("recvbuf", 4194304, "MaxReceiveBuffer")
	frameSize := flag.Int("framesize", 32768, "MaxFrameSize")
	flag.Parse()

	conn := &stdio{r: os.Stdin, w: os.Stdout}
	if *comp {
		conn.r = snappy.NewReader(os.Stdin)
		conn.w = &compWriter{snappy.NewBufferedWriter(os.Stdout)}
	}
	cfg := smux.DefaultConfig()
	cfg.Version = *version
	cfg.KeepAliveInterval = time.Duration(*kaInterval) * time.Millisecond
	cfg.KeepAliveTimeout = time.Duration(*kaTimeout) * time.Millisecond
	cfg.KeepAliveDisabled = *kaOff
	cfg.MaxStreamBuffer = *streamBuf
	cfg.MaxReceiveBuffer = *recvBuf
	cfg.MaxFrameSize = *frameSize
	var sess *smux.Session
	var err error
	if *role == "client" {
		sess, err = smux.Client(conn, cfg)
	} else {
		sess, err = smux.Server(conn, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go peer:", err)
		os.Exit(1)
	}

	var wg sync.WaitGroup
	switch *mode {
	case "echo":
		for i := 0; i < *open; i++ {
			s, err := sess.OpenStream()
			if err != nil {
				fail("open: %v", err)
				break
			}
			wg.Add(1)
			go func() { defer wg.Done(); echoClient(s, *size) }()
		}
		for {
			s, err := sess.AcceptStream()
			if err != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, _ := io.Copy(s, s)
				s.Close()
				logf("stream %d: echoed %d bytes, closed at EOF", s.ID(), n)
			}()
		}
	case "window-reader":
		a, err1 := sess.AcceptStream()
		b, err2 := sess.AcceptStream()
		if err1 != nil || err2 != nil {
			fail("accept: %v %v", err1, err2)
			break
		}
		for _, s := range []*smux.Stream{b, a} {
			n, ok := readAll(s)
			var reply [9]byte
			binary.LittleEndian.PutUint64(reply[:], n)
			if ok {
				reply[8] = 1
			}
			if _, err := s.Write(reply[:]); err != nil {
				fail("stream %d: reply: %v", s.ID(), err)
			}
			s.Close()
			logf("stream %d: read %d bytes (pattern ok %v)", s.ID(), n, ok)
		}
		for {
			if _, err := sess.AcceptStream(); err != nil {
				break
			}
		}
	case "writer":
		for i := 0; i < *open; i++ {
			s, err := sess.OpenStream()
			if err != nil {
				fail("open: %v", err)
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := writePattern(s, *size); err != nil {
					fail("stream %d: write: %v", s.ID(), err)
				}
				s.Close()
				logf("stream %d: wrote %d bytes", s.ID(), *size)
			}()
		}
		for {
			if _, err := sess.AcceptStream(); err != nil {
				break
			}
		}
	default:
		fail("unknown mode %s", *mode)
	}
	wg.Wait()
	sess.Close()
	if atomic.LoadInt32(&failures) > 0 {
		os.Exit(1)
	}
	logf("done")
}
