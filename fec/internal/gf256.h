// GF(2^8) arithmetic in the field kcp-go's Reed-Solomon codec uses
// (docs/protocol.md §4.4): reducing polynomial x^8 + x^4 + x^3 + x^2 + 1
// (0x11D), generator 2, addition = XOR. Scalar, table driven; the region
// kernels (gf_kernels.h) do the bulk work.
#ifndef KCPP_FEC_INTERNAL_GF256_H_
#define KCPP_FEC_INTERNAL_GF256_H_

#include <cstdint>

namespace kcpp::fec::internal {

inline constexpr unsigned kGfPolynomial = 0x11D;

struct GfTables {
  // exp[i] = 2^i for i in [0, 510): doubled so exp[log a + log b] needs no
  // modulo.
  uint8_t exp[510];
  // log[a] for a != 0; log[0] is unused (0).
  uint8_t log[256];
};

constexpr GfTables MakeGfTables() {
  GfTables t{};
  unsigned x = 1;
  for (int i = 0; i < 255; ++i) {
    t.exp[i] = static_cast<uint8_t>(x);
    t.exp[i + 255] = static_cast<uint8_t>(x);
    t.log[x] = static_cast<uint8_t>(i);
    x <<= 1;
    if (x & 0x100) x ^= kGfPolynomial;
  }
  return t;
}

inline constexpr GfTables kGf = MakeGfTables();

// a * b in GF(2^8).
inline uint8_t GfMul(uint8_t a, uint8_t b) {
  if (a == 0 || b == 0) return 0;
  return kGf.exp[kGf.log[a] + kGf.log[b]];
}

// Multiplicative inverse; a must not be 0.
inline uint8_t GfInverse(uint8_t a) { return kGf.exp[255 - kGf.log[a]]; }

// a^n with 0^0 = 1 and 0^n = 0 for n > 0 (klauspost's galExp, which builds
// the Vandermonde matrix of §4.4).
inline uint8_t GfPow(uint8_t a, int n) {
  if (n == 0) return 1;
  if (a == 0) return 0;
  return kGf.exp[(kGf.log[a] * n) % 255];
}

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_GF256_H_
