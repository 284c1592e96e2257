// Prints kcp-go's AES-128 encryption of bytes 0x00..0x2c with the key
// PBKDF2-HMAC-SHA1("it's a secrect", "kcp-go", 4096, 32)[:16], as kcptun
// derives it. Used to prove the Go toolchain + Debian's kcp-go build here.
package main

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	"github.com/xtaci/kcp-go"
	"golang.org/x/crypto/pbkdf2"
)

func main() {
	pass := pbkdf2.Key([]byte("it's a secrect"), []byte("kcp-go"), 4096, 32, sha1.New)
	block, err := kcp.NewAESBlockCrypt(pass[:16])
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 45)
	for i := range buf {
		buf[i] = byte(i)
	}
	block.Encrypt(buf, buf)
	fmt.Println(hex.EncodeToString(buf))
}
