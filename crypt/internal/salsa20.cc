#include "crypt/internal/salsa20.h"

#include "base/endian.h"
#include "crypt/internal/bytes.h"

namespace kcpp::crypt::internal {
namespace {

#define KCPP_QR(a, b, c, d) \
  b ^= Rotl32(a + d, 7);    \
  c ^= Rotl32(b + a, 9);    \
  d ^= Rotl32(c + b, 13);   \
  a ^= Rotl32(d + c, 18)

// One 64-byte keystream block for the input words `in`.
inline void Block(const uint32_t in[16], uint8_t out[64]) {
  uint32_t x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3], x4 = in[4], x5 = in[5], x6 = in[6],
           x7 = in[7], x8 = in[8], x9 = in[9], x10 = in[10], x11 = in[11], x12 = in[12],
           x13 = in[13], x14 = in[14], x15 = in[15];
  for (int i = 0; i < 10; ++i) {
    // Column round.
    KCPP_QR(x0, x4, x8, x12);
    KCPP_QR(x5, x9, x13, x1);
    KCPP_QR(x10, x14, x2, x6);
    KCPP_QR(x15, x3, x7, x11);
    // Row round.
    KCPP_QR(x0, x1, x2, x3);
    KCPP_QR(x5, x6, x7, x4);
    KCPP_QR(x10, x11, x8, x9);
    KCPP_QR(x15, x12, x13, x14);
  }
  const uint32_t x[16] = {x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15};
  for (int i = 0; i < 16; ++i) StoreLe32(out + 4 * i, x[i] + in[i]);
}

#undef KCPP_QR

// L consecutive blocks at once: every state word is an L-lane vector (one
// lane per block). With L = 4 the quarter rounds run on SSE2 (the x86-64
// baseline); with L = 8 on AVX2 where the CPU has it (BlocksAvx2). `ks`
// receives 64 * L keystream bytes.
typedef uint32_t V4 __attribute__((vector_size(16)));
typedef uint32_t V8 __attribute__((vector_size(32)));

// A macro, not a function: a function taking or returning V8 outside an
// AVX2 target would have an ABI of its own (gcc's -Wpsabi).
#define KCPP_ROTLV(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define KCPP_QRV(a, b, c, d)  \
  b ^= KCPP_ROTLV(a + d, 7);  \
  c ^= KCPP_ROTLV(b + a, 9);  \
  d ^= KCPP_ROTLV(c + b, 13); \
  a ^= KCPP_ROTLV(d + c, 18)

template <typename V, int L>
__attribute__((always_inline)) inline void Blocks(const uint32_t in[16], uint64_t counter,
                                                  uint8_t* ks) {
  V s[16];
  for (int i = 0; i < 16; ++i) {
    for (int lane = 0; lane < L; ++lane) s[i][lane] = in[i];
  }
  for (int lane = 0; lane < L; ++lane) {
    const uint64_t c = counter + static_cast<uint64_t>(lane);
    s[8][lane] = static_cast<uint32_t>(c);
    s[9][lane] = static_cast<uint32_t>(c >> 32);
  }
  V x[16];
  for (int i = 0; i < 16; ++i) x[i] = s[i];
  for (int i = 0; i < 10; ++i) {
    KCPP_QRV(x[0], x[4], x[8], x[12]);
    KCPP_QRV(x[5], x[9], x[13], x[1]);
    KCPP_QRV(x[10], x[14], x[2], x[6]);
    KCPP_QRV(x[15], x[3], x[7], x[11]);
    KCPP_QRV(x[0], x[1], x[2], x[3]);
    KCPP_QRV(x[5], x[6], x[7], x[4]);
    KCPP_QRV(x[10], x[11], x[8], x[9]);
    KCPP_QRV(x[15], x[12], x[13], x[14]);
  }
  for (int i = 0; i < 16; ++i) {
    const V v = x[i] + s[i];
    for (int lane = 0; lane < L; ++lane) StoreLe32(ks + 64 * lane + 4 * i, v[lane]);
  }
}

#undef KCPP_QRV
#undef KCPP_ROTLV

void Blocks4(const uint32_t in[16], uint64_t counter, uint8_t ks[256]) {
  Blocks<V4, 4>(in, counter, ks);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void BlocksAvx2(const uint32_t in[16], uint64_t counter,
                                                uint8_t ks[512]) {
  Blocks<V8, 8>(in, counter, ks);
}

bool HasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
#endif

}  // namespace

void Salsa20XorKeyStream(uint8_t* data, size_t n, const uint8_t nonce[8], const uint8_t key[32]) {
  uint32_t in[16];
  in[0] = 0x61707865;  // "expand 32-byte k"
  in[5] = 0x3320646e;
  in[10] = 0x79622d32;
  in[15] = 0x6b206574;
  for (int i = 0; i < 4; ++i) {
    in[1 + i] = LoadLe32(key + 4 * i);
    in[11 + i] = LoadLe32(key + 16 + 4 * i);
  }
  in[6] = LoadLe32(nonce);
  in[7] = LoadLe32(nonce + 4);
  in[8] = in[9] = 0;
  uint64_t counter = 0;
  alignas(32) uint8_t ks[512];
  // Groups of `lanes` blocks from `blocks` while more than `after` bytes
  // are left.
  auto groups = [&](void (*blocks)(const uint32_t*, uint64_t, uint8_t*), size_t lanes,
                    size_t after) {
    while (n > after) {
      blocks(in, counter, ks);
      const size_t take = n < 64 * lanes ? n : 64 * lanes;
      XorInto(data, ks, take);
      data += take;
      n -= take;
      counter += lanes;
    }
  };
#if defined(__x86_64__)
  static const bool avx2 = HasAvx2();
  if (avx2) groups(BlocksAvx2, 8, 256);
#endif
  groups(Blocks4, 4, 64);
  if (n > 0) {  // at most one block left: the scalar core is cheaper
    in[8] = static_cast<uint32_t>(counter);
    in[9] = static_cast<uint32_t>(counter >> 32);
    Block(in, ks);
    XorInto(data, ks, n);
  }
}

}  // namespace kcpp::crypt::internal
