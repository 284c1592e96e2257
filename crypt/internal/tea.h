// TEA and XTEA block ciphers (8-byte blocks, 128-bit keys), written from
// Wheeler & Needham's descriptions. Words and key are loaded big-endian, as
// golang.org/x/crypto/{tea,xtea} (and so kcp-go) do. Encryption only: kcp-go's
// CFB mode never uses the inverse cipher. Immutable after construction, so
// safe to share across threads.
#ifndef KCPP_CRYPT_INTERNAL_TEA_H_
#define KCPP_CRYPT_INTERNAL_TEA_H_

#include <cstddef>
#include <cstdint>

#include "base/endian.h"
#include "crypt/internal/bytes.h"

namespace kcpp::crypt::internal {

inline constexpr uint32_t kTeaDelta = 0x9E3779B9;

class Tea {
 public:
  static constexpr size_t kBlockSize = 8;
  // `key` is 16 bytes. `rounds` counts Feistel rounds (two per cycle): the
  // original TEA uses 64; kcp-go uses 16 (docs/protocol.md §3.3).
  Tea(const uint8_t* key, int rounds) : cycles_(rounds / 2) {
    for (int i = 0; i < 4; ++i) k_[i] = LoadBe32(key + 4 * i);
  }
  void EncryptBlock(const uint8_t* in, uint8_t* out) const {
    uint32_t v0 = LoadBe32(in), v1 = LoadBe32(in + 4), sum = 0;
    for (int i = 0; i < cycles_; ++i) {
      sum += kTeaDelta;
      v0 += ((v1 << 4) + k_[0]) ^ (v1 + sum) ^ ((v1 >> 5) + k_[1]);
      v1 += ((v0 << 4) + k_[2]) ^ (v0 + sum) ^ ((v0 >> 5) + k_[3]);
    }
    StoreBe32(out, v0);
    StoreBe32(out + 4, v1);
  }
  // Independent blocks four at a time in vector lanes (CFB decryption).
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    size_t b = 0;
    for (; b + 4 <= n; b += 4) {
      V4 v0, v1;
      for (int l = 0; l < 4; ++l) {
        v0[l] = LoadBe32(in + 8 * (b + l));
        v1[l] = LoadBe32(in + 8 * (b + l) + 4);
      }
      uint32_t sum = 0;
      for (int i = 0; i < cycles_; ++i) {
        sum += kTeaDelta;
        v0 += ((v1 << 4) + k_[0]) ^ (v1 + sum) ^ ((v1 >> 5) + k_[1]);
        v1 += ((v0 << 4) + k_[2]) ^ (v0 + sum) ^ ((v0 >> 5) + k_[3]);
      }
      for (int l = 0; l < 4; ++l) {
        StoreBe32(out + 8 * (b + l), v0[l]);
        StoreBe32(out + 8 * (b + l) + 4, v1[l]);
      }
    }
    for (; b < n; ++b) EncryptBlock(in + 8 * b, out + 8 * b);
  }

 private:
  typedef uint32_t V4 __attribute__((vector_size(16)));
  uint32_t k_[4];
  int cycles_;
};

class Xtea {
 public:
  static constexpr size_t kBlockSize = 8;
  // `key` is 16 bytes; 64 rounds (32 cycles). The per-round key+sum values
  // are precomputed, which makes each round one add and two xors cheaper.
  explicit Xtea(const uint8_t* key) {
    uint32_t k[4];
    for (int i = 0; i < 4; ++i) k[i] = LoadBe32(key + 4 * i);
    uint32_t sum = 0;
    for (int i = 0; i < 32; ++i) {
      t0_[i] = sum + k[sum & 3];
      sum += kTeaDelta;
      t1_[i] = sum + k[(sum >> 11) & 3];
    }
  }
  void EncryptBlock(const uint8_t* in, uint8_t* out) const {
    uint32_t v0 = LoadBe32(in), v1 = LoadBe32(in + 4);
    for (int i = 0; i < 32; ++i) {
      v0 += (((v1 << 4) ^ (v1 >> 5)) + v1) ^ t0_[i];
      v1 += (((v0 << 4) ^ (v0 >> 5)) + v0) ^ t1_[i];
    }
    StoreBe32(out, v0);
    StoreBe32(out + 4, v1);
  }
  // Independent blocks four at a time in vector lanes (CFB decryption).
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    size_t b = 0;
    for (; b + 4 <= n; b += 4) {
      V4 v0, v1;
      for (int l = 0; l < 4; ++l) {
        v0[l] = LoadBe32(in + 8 * (b + l));
        v1[l] = LoadBe32(in + 8 * (b + l) + 4);
      }
      for (int i = 0; i < 32; ++i) {
        v0 += (((v1 << 4) ^ (v1 >> 5)) + v1) ^ t0_[i];
        v1 += (((v0 << 4) ^ (v0 >> 5)) + v0) ^ t1_[i];
      }
      for (int l = 0; l < 4; ++l) {
        StoreBe32(out + 8 * (b + l), v0[l]);
        StoreBe32(out + 8 * (b + l) + 4, v1[l]);
      }
    }
    for (; b < n; ++b) EncryptBlock(in + 8 * b, out + 8 * b);
  }

 private:
  typedef uint32_t V4 __attribute__((vector_size(16)));
  uint32_t t0_[32];
  uint32_t t1_[32];
};

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_TEA_H_
