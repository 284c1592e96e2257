// Byte-order helpers shared by the hand-written ciphers of crypt/internal.
#ifndef KCPP_CRYPT_INTERNAL_BYTES_H_
#define KCPP_CRYPT_INTERNAL_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kcpp::crypt::internal {

inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
// Little-endian words: one load or store on a little-endian host (byte
// assignments extracted from a vector lane are not merged by the compiler).
inline uint32_t LoadLe32(const uint8_t* p) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#else
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
#endif
}
inline void StoreLe32(uint8_t* p, uint32_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(p, &v, 4);
#else
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
#endif
}
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
