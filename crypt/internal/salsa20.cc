#include "crypt/internal/salsa20.h"

#include "crypt/internal/bytes.h"

namespace kcpp::crypt::internal {
namespace {

#define KCPP_QR(a, b, c, d)  \
  b ^= Rotl32(a + d, 7);     \
  c ^= Rotl32(b + a, 9);     \
  d ^= Rotl32(c + b, 13);    \
  a ^= Rotl32(d + c, 18)

// One 64-byte keystream block for the input words `in`.
inline void Block(const uint32_t in[16], uint8_t out[64]) {
  uint32_t x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3], x4 = in[4], x5 = in[5],
           x6 = in[6], x7 = in[7], x8 = in[8], x9 = in[9], x10 = in[10], x11 = in[11],
           x12 = in[12], x13 = in[13], x14 = in[14], x15 = in[15];
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

}  // namespace

void Salsa20XorKeyStream(uint8_t* data, size_t n, const uint8_t nonce[8],
                         const uint8_t key[32]) {
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
  uint64_t counter = 0;
  alignas(16) uint8_t ks[64];
  while (n > 0) {
    in[8] = static_cast<uint32_t>(counter);
    in[9] = static_cast<uint32_t>(counter >> 32);
    Block(in, ks);
    size_t take = n < 64 ? n : 64;
    XorInto(data, ks, take);
    data += take;
    n -= take;
    ++counter;
  }
}

}  // namespace kcpp::crypt::internal
