// Measures kcp-go 5.6.1's own ciphers (Debian package) on this machine for
// the side-by-side column of bench/README.md: Encrypt, Decrypt and
// Encrypt+Decrypt (the last is what kcp-go's crypt_test.go benchmarks report)
// of a 1500-byte buffer, plus CRC-32 of 1024 bytes and the 16-byte nonce
// generator kcp-go uses. Build: bazel build //crypt:kcpgo_crypt_bench
// Run: bazel-bin/crypt/kcpgo_crypt_bench.bin
package main

import (
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/xtaci/kcp-go"
	"golang.org/x/crypto/pbkdf2"
)

func mbps(r testing.BenchmarkResult, bytesPerOp int) float64 {
	return float64(bytesPerOp) * float64(r.N) / r.T.Seconds() / 1e6
}

func main() {
	pass := pbkdf2.Key([]byte("benchmark"), []byte("kcp-go"), 4096, 32, sha1.New)
	type ctor struct {
		name string
		make func() (kcp.BlockCrypt, error)
	}
	ciphers := []ctor{
		{"SM4", func() (kcp.BlockCrypt, error) { return kcp.NewSM4BlockCrypt(pass[:16]) }},
		{"AES128", func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(pass[:16]) }},
		{"AES192", func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(pass[:24]) }},
		{"AES256", func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(pass) }},
		{"TEA", func() (kcp.BlockCrypt, error) { return kcp.NewTEABlockCrypt(pass[:16]) }},
		{"XOR", func() (kcp.BlockCrypt, error) { return kcp.NewSimpleXORBlockCrypt(pass) }},
		{"Blowfish", func() (kcp.BlockCrypt, error) { return kcp.NewBlowfishBlockCrypt(pass) }},
		{"None", func() (kcp.BlockCrypt, error) { return kcp.NewNoneBlockCrypt(pass) }},
		{"Cast5", func() (kcp.BlockCrypt, error) { return kcp.NewCast5BlockCrypt(pass[:16]) }},
		{"3DES", func() (kcp.BlockCrypt, error) { return kcp.NewTripleDESBlockCrypt(pass[:24]) }},
		{"Twofish", func() (kcp.BlockCrypt, error) { return kcp.NewTwofishBlockCrypt(pass) }},
		{"XTEA", func() (kcp.BlockCrypt, error) { return kcp.NewXTEABlockCrypt(pass[:16]) }},
		{"Salsa20", func() (kcp.BlockCrypt, error) { return kcp.NewSalsa20BlockCrypt(pass) }},
	}
	const mtu = 1500
	fmt.Printf("%-10s %12s %12s %12s   (MB/s, 1 MB = 1e6 bytes)\n", "cipher", "encrypt", "decrypt", "enc+dec")
	for _, c := range ciphers {
		bc, err := c.make()
		if err != nil {
			panic(err)
		}
		data := make([]byte, mtu)
		rand.Read(data)
		enc := make([]byte, mtu)
		dec := make([]byte, mtu)
		re := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bc.Encrypt(enc, data)
			}
		})
		rd := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bc.Decrypt(dec, enc)
			}
		})
		rb := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bc.Encrypt(enc, data)
				bc.Decrypt(dec, enc)
			}
		})
		fmt.Printf("%-10s %12.0f %12.0f %12.0f\n", c.name, mbps(re, mtu), mbps(rd, mtu), mbps(rb, 2*mtu))
	}
	content := make([]byte, 1024)
	rc := testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			crc32.ChecksumIEEE(content)
		}
	})
	fmt.Printf("%-10s %12.0f\n", "CRC32", mbps(rc, 1024))
}
