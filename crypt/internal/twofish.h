// Twofish block cipher (16-byte blocks; 128/192/256-bit keys), written from
// Schneier et al., "Twofish: A 128-Bit Block Cipher" (1998). Encryption only
// (kcp-go's CFB mode never uses the inverse cipher). The key-dependent S-boxes
// are expanded into four 256-entry tables with the MDS matrix folded in, so
// one g() evaluation is four lookups. Immutable after construction: safe to
// share across threads.
#ifndef KCPP_CRYPT_INTERNAL_TWOFISH_H_
#define KCPP_CRYPT_INTERNAL_TWOFISH_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::crypt::internal {

class Twofish {
 public:
  static constexpr size_t kBlockSize = 16;
  // `key_len` must be 16, 24 or 32 (checked by the caller).
  Twofish(const uint8_t* key, size_t key_len);
  void EncryptBlock(const uint8_t* in, uint8_t* out) const;
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    for (size_t i = 0; i < n; ++i) EncryptBlock(in + 16 * i, out + 16 * i);
  }

 private:
  uint32_t G(uint32_t x) const {
    return s_[0][x & 0xff] ^ s_[1][(x >> 8) & 0xff] ^ s_[2][(x >> 16) & 0xff] ^ s_[3][x >> 24];
  }
  uint32_t k_[40];
  uint32_t s_[4][256];
};

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_TWOFISH_H_
