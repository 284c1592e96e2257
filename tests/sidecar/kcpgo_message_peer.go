// kcpgo_message_peer: the real kcp-go (Debian's 5.6.1) in MESSAGE mode
// (SetStreamMode(false)), for kcpd's raw message-mode sessions
// (SOCK_SEQPACKET). Written for kcpp; built by //tools/build_defs:go.bzl.
//
//	kcpgo_message_peer -addr 127.0.0.1:0 -crypt aes -key K
//
// Prints "LISTENING <addr>" once bound, then serves one session: for every
// message it reads (kcp-go's Read returns exactly one KCP message, however
// many fragments it had), it answers with one message of 40 bytes: the
// message's length (8 bytes, little-endian) and its SHA-256. A message of
// length 0 is never sent by KCP. After -messages messages it prints "DONE"
// and keeps the session up until it is killed.
//
// Answers are single messages because kcp-go's Write splits what it is given
// at the MSS into separate KCP messages; 40 bytes always fit in one.
package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/xtaci/kcp-go"
	"golang.org/x/crypto/pbkdf2"
)

var (
	addr     = flag.String("addr", "127.0.0.1:0", "listen address")
	crypt    = flag.String("crypt", "aes", "aes or none")
	key      = flag.String("key", "it's a secrect", "passphrase (PBKDF2 as kcptun)")
	messages = flag.Int("messages", 100, "messages to answer before exiting")
)

func main() {
	flag.Parse()
	pass := pbkdf2.Key([]byte(*key), []byte("kcp-go"), 4096, 32, sha1.New)
	var block kcp.BlockCrypt
	var err error
	switch *crypt {
	case "aes":
		block, err = kcp.NewAESBlockCrypt(pass)
	case "none":
		block, err = kcp.NewNoneBlockCrypt(pass)
	default:
		fmt.Fprintf(os.Stderr, "unknown -crypt %q\n", *crypt)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cipher:", err)
		os.Exit(2)
	}
	l, err := kcp.ListenWithOptions(*addr, block, 0, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %s\n", l.Addr())
	s, err := l.AcceptKCP()
	if err != nil {
		fmt.Fprintln(os.Stderr, "accept:", err)
		os.Exit(1)
	}
	s.SetNoDelay(1, 10, 2, 1)
	s.SetStreamMode(false)
	s.SetWindowSize(1024, 1024)
	s.SetWriteDelay(false)
	s.SetACKNoDelay(true)
	s.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 1<<20)
	for i := 0; i < *messages; i++ {
		n, err := s.Read(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(1)
		}
		var answer [40]byte
		binary.LittleEndian.PutUint64(answer[:8], uint64(n))
		sum := sha256.Sum256(buf[:n])
		copy(answer[8:], sum[:])
		if _, err := s.Write(answer[:]); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
	}
	// The session stays up (its last answers may still be in flight) until
	// the test ends the process.
	fmt.Println("DONE")
	select {}
}
