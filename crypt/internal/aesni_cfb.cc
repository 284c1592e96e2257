#include "crypt/internal/aesni_cfb.h"

#include <cstring>

#include "crypt/internal/bytes.h"
#include "crypt/internal/cfb.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kcpp::crypt::internal {

#if defined(__x86_64__)
namespace {

template <int R>
__attribute__((target("aes,sse2"), always_inline)) inline __m128i AesRounds(__m128i x,
                                                                            const __m128i* k) {
  x = _mm_xor_si128(x, k[0]);
  for (int i = 1; i < R; ++i) x = _mm_aesenc_si128(x, k[i]);
  return _mm_aesenclast_si128(x, k[R]);
}

template <int R>
__attribute__((target("aes,sse2"))) void Encrypt(const uint32_t* rd, uint8_t* p, size_t n) {
  __m128i k[R + 1];
  for (int i = 0; i <= R; ++i) k[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rd + 4 * i));
  __m128i ks = AesRounds<R>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kCfbIv)), k);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i c = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), ks);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), c);
    if (i + 16 < n) ks = AesRounds<R>(c, k);
  }
  if (i < n) {
    alignas(16) uint8_t tail[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tail), ks);
    XorInto(p + i, tail, n - i);
  }
}

}  // namespace

bool AesniUsable(const uint32_t* round_keys, unsigned rounds,
                 void (*aes_encrypt_block)(const uint8_t*, uint8_t*, const void*),
                 const void* aes_key) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse2")) return false;
  if (rounds != 10 && rounds != 12 && rounds != 14) return false;
  // One CFB block of zeros = E(IV): compare with BoringSSL's own result.
  uint8_t mine[16] = {0}, theirs[16];
  AesniCfbEncrypt(round_keys, rounds, mine, 16);
  aes_encrypt_block(kCfbIv, theirs, aes_key);
  return std::memcmp(mine, theirs, 16) == 0;
}

void AesniCfbEncrypt(const uint32_t* round_keys, unsigned rounds, uint8_t* p, size_t n) {
  switch (rounds) {
    case 10:
      return Encrypt<10>(round_keys, p, n);
    case 12:
      return Encrypt<12>(round_keys, p, n);
    default:
      return Encrypt<14>(round_keys, p, n);
  }
}

#else  // !__x86_64__

bool AesniUsable(const uint32_t*, unsigned, void (*)(const uint8_t*, uint8_t*, const void*),
                 const void*) {
  return false;
}
void AesniCfbEncrypt(const uint32_t*, unsigned, uint8_t*, size_t) {}

#endif

}  // namespace kcpp::crypt::internal
