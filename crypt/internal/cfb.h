// kcp-go's whole-datagram CFB mode (docs/protocol.md §3.2): standard full-block
// CFB with a fixed IV, no padding, ciphertext length = plaintext length.
//
// `Block` is any type with `static constexpr size_t kBlockSize` (8 or 16),
//   void EncryptBlock(const uint8_t* in, uint8_t* out) const;
//   void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const;
// (EncryptBlocks: n independent blocks, in == out allowed). Everything here is
// stateless apart from stack scratch, so one Block may serve many threads.
#ifndef KCPP_CRYPT_INTERNAL_CFB_H_
#define KCPP_CRYPT_INTERNAL_CFB_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypt/internal/bytes.h"

namespace kcpp::crypt::internal {

// kcp-go crypt.go `initialVector`; 8-byte ciphers use its first 8 bytes.
inline constexpr uint8_t kCfbIv[16] = {167, 115, 79,  156, 18,  172, 27,  1,
                                       164, 21,  242, 193, 252, 120, 230, 107};

// Encrypts `n` bytes at `p` in place. Inherently serial: each keystream block
// is the encryption of the previous ciphertext block.
template <class Block>
void CfbEncrypt(const Block& block, uint8_t* p, size_t n) {
  constexpr size_t B = Block::kBlockSize;
  alignas(16) uint8_t k[B];
  block.EncryptBlock(kCfbIv, k);
  size_t i = 0;
  if (n >= B) {
    for (;;) {
      XorBlock<B>(p + i, k);
      if (i + B == n) return;  // no keystream needed past the last block
      block.EncryptBlock(p + i, k);
      i += B;
      if (i + B > n) break;
    }
  }
  for (size_t j = 0; i + j < n; ++j) p[i + j] ^= k[j];  // the last, partial block
}

// Decrypts `n` bytes at `p` in place. Keystream block j is E(C_{j-1}) (C_{-1}
// = IV) and every C is known up front, so the keystream is produced with one
// multi-block EncryptBlocks call per chunk, letting a pipelined implementation
// (AES-NI) run at full width. Chunks are processed from the end backwards so
// the ciphertext they read is still intact.
template <class Block>
void CfbDecrypt(const Block& block, uint8_t* p, size_t n) {
  constexpr size_t B = Block::kBlockSize;
  constexpr size_t kChunkBlocks = 64;
  alignas(16) uint8_t ks[kChunkBlocks * B];
  size_t end = (n + B - 1) / B;  // keystream blocks needed
  while (end > 0) {
    const size_t start = end > kChunkBlocks ? end - kChunkBlocks : 0;
    const size_t count = end - start;
    if (start == 0) {
      std::memcpy(ks, kCfbIv, B);
      std::memcpy(ks + B, p, (count - 1) * B);
    } else {
      std::memcpy(ks, p + (start - 1) * B, count * B);
    }
    block.EncryptBlocks(ks, ks, count);
    const size_t off = start * B;
    const size_t stop = end * B < n ? end * B : n;
    XorInto(p + off, ks, stop - off);
    end = start;
  }
}

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_CFB_H_
