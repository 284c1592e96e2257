// SM4 block cipher (16-byte blocks, 128-bit key), written from GB/T 32907-2016
// (English text: draft-ribose-cfrg-sm4). Encryption only (kcp-go's CFB mode
// never uses the inverse cipher). Rounds use four 1 KiB tables that combine
// the S-box with the linear transform L. Immutable after construction: safe
// to share across threads.
#ifndef KCPP_CRYPT_INTERNAL_SM4_H_
#define KCPP_CRYPT_INTERNAL_SM4_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::crypt::internal {

class Sm4 {
 public:
  static constexpr size_t kBlockSize = 16;
  explicit Sm4(const uint8_t* key);  // 16 bytes
  void EncryptBlock(const uint8_t* in, uint8_t* out) const;
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    for (size_t i = 0; i < n; ++i) EncryptBlock(in + 16 * i, out + 16 * i);
  }

 private:
  uint32_t rk_[32];
};

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_SM4_H_
