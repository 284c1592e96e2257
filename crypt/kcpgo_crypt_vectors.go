// Prints sealed datagrams produced by the real kcp-go (Debian 5.6.1) for every
// kcptun cipher name at several datagram sizes, with a fixed nonce, exactly as
// kcp-go's UDPSession.output builds them: nonce(16) | crc32 LE of bytes 20.. |
// payload, then BlockCrypt.Encrypt over the whole datagram
// (docs/protocol.md §3.1). AEAD lines use the kcp-go >= v5.6.49 layout
// (nonce(12) | AEAD.Seal(payload, no AAD)) built with Go's crypto/cipher GCM
// (what kcp-go's NewAESGCMCrypt wraps) and x/crypto's ChaCha20-Poly1305.
//
// Output, one line per vector: <cipher> <datagram size> <hex>
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"

	"github.com/xtaci/kcp-go"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/pbkdf2"
)

// Same plaintext recipe as kcpgo_interop_test.cc.
func payloadByte(i, size int) byte { return byte(i*7 + size*13 + 1) }

func main() {
	pass := pbkdf2.Key([]byte("it's a secrect"), []byte("kcp-go"), 4096, 32, sha1.New)
	type ctor struct {
		name string
		make func() (kcp.BlockCrypt, error)
	}
	ciphers := []ctor{
		{"aes", func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(pass) }},
		{"aes-128", func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(pass[:16]) }},
		{"aes-192", func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(pass[:24]) }},
		{"tea", func() (kcp.BlockCrypt, error) { return kcp.NewTEABlockCrypt(pass[:16]) }},
		{"xtea", func() (kcp.BlockCrypt, error) { return kcp.NewXTEABlockCrypt(pass[:16]) }},
		{"blowfish", func() (kcp.BlockCrypt, error) { return kcp.NewBlowfishBlockCrypt(pass) }},
		{"cast5", func() (kcp.BlockCrypt, error) { return kcp.NewCast5BlockCrypt(pass[:16]) }},
		{"3des", func() (kcp.BlockCrypt, error) { return kcp.NewTripleDESBlockCrypt(pass[:24]) }},
		{"twofish", func() (kcp.BlockCrypt, error) { return kcp.NewTwofishBlockCrypt(pass) }},
		{"sm4", func() (kcp.BlockCrypt, error) { return kcp.NewSM4BlockCrypt(pass[:16]) }},
		{"salsa20", func() (kcp.BlockCrypt, error) { return kcp.NewSalsa20BlockCrypt(pass) }},
		{"xor", func() (kcp.BlockCrypt, error) { return kcp.NewSimpleXORBlockCrypt(pass) }},
		{"none", func() (kcp.BlockCrypt, error) { return kcp.NewNoneBlockCrypt(pass) }},
	}
	sizes := []int{20, 21, 27, 28, 36, 45, 64, 100, 1350, 1400, 1500}
	for _, c := range ciphers {
		block, err := c.make()
		if err != nil {
			panic(err)
		}
		for _, size := range sizes {
			buf := make([]byte, size)
			for i := 0; i < 16; i++ {
				buf[i] = byte(0xa0 + i)
			}
			for i := 20; i < size; i++ {
				buf[i] = payloadByte(i-20, size)
			}
			binary.LittleEndian.PutUint32(buf[16:], crc32.ChecksumIEEE(buf[20:]))
			block.Encrypt(buf, buf)
			fmt.Printf("%s %d %s\n", c.name, size, hex.EncodeToString(buf))
		}
	}

	aeadOf := func(name string) cipher.AEAD {
		var a cipher.AEAD
		var err error
		switch name {
		case "aes-128-gcm", "aes-192-gcm", "aes-256-gcm":
			n := map[string]int{"aes-128-gcm": 16, "aes-192-gcm": 24, "aes-256-gcm": 32}[name]
			var b cipher.Block
			if b, err = aes.NewCipher(pass[:n]); err == nil {
				a, err = cipher.NewGCM(b)
			}
		case "chacha20-poly1305":
			a, err = chacha20poly1305.New(pass)
		}
		if err != nil {
			panic(err)
		}
		return a
	}
	for _, name := range []string{"aes-128-gcm", "aes-192-gcm", "aes-256-gcm", "chacha20-poly1305"} {
		a := aeadOf(name)
		for _, size := range []int{28, 29, 45, 100, 1400, 1500} {
			nonce := make([]byte, 12)
			for i := range nonce {
				nonce[i] = byte(0xa0 + i)
			}
			plain := make([]byte, size-28)
			for i := range plain {
				plain[i] = payloadByte(i, size)
			}
			out := a.Seal(append([]byte{}, nonce...), nonce, plain, nil)
			fmt.Printf("%s %d %s\n", name, size, hex.EncodeToString(out))
		}
	}
}
