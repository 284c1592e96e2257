// Word helpers shared by the hand-written ciphers of crypt/internal:
// rotations and XOR of byte ranges. Byte order (LoadLe32, LoadBe32, ...) is
// //base:endian's.
#ifndef KCPP_CRYPT_INTERNAL_BYTES_H_
#define KCPP_CRYPT_INTERNAL_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kcpp::crypt::internal {

inline uint32_t Rotl32(uint32_t v, int n) { return (v << n) | (v >> ((32 - n) & 31)); }
inline uint32_t Rotr32(uint32_t v, int n) { return (v >> n) | (v << ((32 - n) & 31)); }

// dst[i] ^= src[i] for n bytes; word-at-a-time (memcpy keeps it alias-safe).
inline void XorInto(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 64 <= n; i += 64) {
    __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + i));
    __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + i + 16));
    __m128i a2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + i + 32));
    __m128i a3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + i + 48));
    a0 = _mm_xor_si128(a0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    a1 = _mm_xor_si128(a1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16)));
    a2 = _mm_xor_si128(a2, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32)));
    a3 = _mm_xor_si128(a3, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), a0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), a1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 32), a2);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + i));
    a = _mm_xor_si128(a, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), a);
  }
#endif
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, dst + i, 8);
    std::memcpy(&b, src + i, 8);
    a ^= b;
    std::memcpy(dst + i, &a, 8);
  }
  for (; i < n; ++i) dst[i] ^= src[i];
}

// dst[i] ^= src[i] for one cipher block of B bytes (a multiple of 8): whole
// 64-bit words, no loop over sizes the block cannot have.
template <size_t B>
inline void XorBlock(uint8_t* dst, const uint8_t* src) {
  static_assert(B % 8 == 0, "blocks are whole 64-bit words");
  for (size_t i = 0; i < B; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, dst + i, 8);
    std::memcpy(&b, src + i, 8);
    a ^= b;
    std::memcpy(dst + i, &a, 8);
  }
}

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_BYTES_H_
