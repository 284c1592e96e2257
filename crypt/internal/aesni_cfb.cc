#include "crypt/internal/aesni_cfb.h"

#include <algorithm>
#include <cstring>

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
#pragma GCC unroll 16
  for (int i = 1; i < R; ++i) x = _mm_aesenc_si128(x, k[i]);
  return _mm_aesenclast_si128(x, k[R]);
}

// Continues one chain: `ks` is the keystream for the block at `p + i`.
template <int R>
__attribute__((target("aes,sse2"), always_inline)) inline void EncryptFrom(const __m128i* k,
                                                                           __m128i ks, uint8_t* p,
                                                                           size_t i, size_t n) {
  for (; i + 16 <= n; i += 16) {
    __m128i c = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), ks);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), c);
    if (i + 16 < n) ks = AesRounds<R>(c, k);
  }
  if (i < n) {
    alignas(16) uint8_t tail[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tail), ks);
    for (size_t j = 0; i + j < n; ++j) p[i + j] ^= tail[j];
  }
}

template <int R>
__attribute__((target("aes,sse2"), always_inline)) inline void LoadKeys(const uint32_t* rd,
                                                                        __m128i* k) {
  for (int i = 0; i <= R; ++i) k[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rd + 4 * i));
}

template <int R>
__attribute__((target("aes,sse2"))) void Encrypt(const uint32_t* rd, uint8_t* p, size_t n) {
  __m128i k[R + 1];
  LoadKeys<R>(rd, k);
  EncryptFrom<R>(k, AesRounds<R>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kCfbIv)), k), p,
                 0, n);
}

// M chains in lock step for as many whole blocks as the shortest has, the
// round loop outside the lane loop so the M aesenc of a round are
// independent; then each chain finishes alone.
template <int R, int M>
__attribute__((target("aes,sse2"))) void EncryptLanes(const __m128i* k, __m128i ks0,
                                                      uint8_t* const* p, const size_t* n) {
  size_t blocks = n[0] / 16;
  for (int j = 1; j < M; ++j) blocks = std::min(blocks, n[j] / 16);
  __m128i ks[M];
  for (int j = 0; j < M; ++j) ks[j] = ks0;
  for (size_t b = 0; b < blocks; ++b) {
    const size_t at = 16 * b;
    __m128i x[M];
#pragma GCC unroll 8
    for (int j = 0; j < M; ++j) {
      const __m128i c =
          _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p[j] + at)), ks[j]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p[j] + at), c);
      x[j] = _mm_xor_si128(c, k[0]);
    }
    // The next keystream block (one more than the last block needs: cheaper
    // than a branch per lane, and harmless).
#pragma GCC unroll 16
    for (int r = 1; r < R; ++r) {
#pragma GCC unroll 8
      for (int j = 0; j < M; ++j) x[j] = _mm_aesenc_si128(x[j], k[r]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < M; ++j) ks[j] = _mm_aesenclast_si128(x[j], k[R]);
  }
  for (int j = 0; j < M; ++j) EncryptFrom<R>(k, ks[j], p[j], 16 * blocks, n[j]);
}

template <int R>
__attribute__((target("aes,sse2"))) void EncryptMany(const uint32_t* rd, uint8_t* const* p,
                                                     const size_t* n, size_t count) {
  __m128i k[R + 1];
  LoadKeys<R>(rd, k);
  const __m128i ks0 = AesRounds<R>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kCfbIv)), k);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) EncryptLanes<R, 8>(k, ks0, p + i, n + i);
  if (i + 4 <= count) {
    EncryptLanes<R, 4>(k, ks0, p + i, n + i);
    i += 4;
  }
  if (i + 2 <= count) {
    EncryptLanes<R, 2>(k, ks0, p + i, n + i);
    i += 2;
  }
  if (i < count) EncryptFrom<R>(k, ks0, p[i], 0, n[i]);
}

// AES rounds for BoringSSL's AES_KEY.rounds, which counts them as 10, 12, 14
// in its C key schedule but as 9, 11, 13 (the aesenc before the last round)
// in its AES-NI one; 0 if neither.
int RoundsOf(unsigned field) {
  switch (field) {
    case 9:
    case 10:
      return 10;
    case 11:
    case 12:
      return 12;
    case 13:
    case 14:
      return 14;
    default:
      return 0;
  }
}

}  // namespace

bool AesniUsable(const uint32_t* round_keys, unsigned rounds,
                 void (*aes_encrypt_block)(const uint8_t*, uint8_t*, const void*),
                 const void* aes_key) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse2")) return false;
  if (RoundsOf(rounds) == 0) return false;
  // One CFB block of zeros = E(IV): compare with BoringSSL's own result.
  uint8_t mine[16] = {0}, theirs[16];
  AesniCfbEncrypt(round_keys, rounds, mine, 16);
  aes_encrypt_block(kCfbIv, theirs, aes_key);
  return std::memcmp(mine, theirs, 16) == 0;
}

void AesniCfbEncrypt(const uint32_t* round_keys, unsigned rounds, uint8_t* p, size_t n) {
  switch (RoundsOf(rounds)) {
    case 10:
      return Encrypt<10>(round_keys, p, n);
    case 12:
      return Encrypt<12>(round_keys, p, n);
    default:
      return Encrypt<14>(round_keys, p, n);
  }
}

void AesniCfbEncryptMany(const uint32_t* round_keys, unsigned rounds, uint8_t* const* packets,
                         const size_t* lengths, size_t count) {
  switch (RoundsOf(rounds)) {
    case 10:
      return EncryptMany<10>(round_keys, packets, lengths, count);
    case 12:
      return EncryptMany<12>(round_keys, packets, lengths, count);
    default:
      return EncryptMany<14>(round_keys, packets, lengths, count);
  }
}

#else  // !__x86_64__

bool AesniUsable(const uint32_t*, unsigned, void (*)(const uint8_t*, uint8_t*, const void*),
                 const void*) {
  return false;
}
void AesniCfbEncrypt(const uint32_t*, unsigned, uint8_t*, size_t) {}
void AesniCfbEncryptMany(const uint32_t*, unsigned, uint8_t* const*, const size_t*, size_t) {}

#endif

}  // namespace kcpp::crypt::internal
