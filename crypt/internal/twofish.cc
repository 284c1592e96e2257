#include "crypt/internal/twofish.h"

#include "base/endian.h"
#include "crypt/internal/bytes.h"

namespace kcpp::crypt::internal {
namespace {

// The 4-bit permutations t0..t3 that define q0 and q1 (paper §4.3.5).
constexpr uint8_t kQt[2][4][16] = {
    {{0x8, 0x1, 0x7, 0xD, 0x6, 0xF, 0x3, 0x2, 0x0, 0xB, 0x5, 0x9, 0xE, 0xC, 0xA, 0x4},
     {0xE, 0xC, 0xB, 0x8, 0x1, 0x2, 0x3, 0x5, 0xF, 0x4, 0xA, 0x6, 0x7, 0x0, 0x9, 0xD},
     {0xB, 0xA, 0x5, 0xE, 0x6, 0xD, 0x9, 0x0, 0xC, 0x8, 0xF, 0x3, 0x2, 0x4, 0x7, 0x1},
     {0xD, 0x7, 0xF, 0x4, 0x1, 0x2, 0x6, 0xE, 0x9, 0xB, 0x3, 0x0, 0x8, 0x5, 0xC, 0xA}},
    {{0x2, 0x8, 0xB, 0xD, 0xF, 0x7, 0x6, 0xE, 0x3, 0x1, 0x9, 0x4, 0x0, 0xA, 0xC, 0x5},
     {0x1, 0xE, 0x2, 0xB, 0x4, 0xC, 0x3, 0x7, 0x6, 0xD, 0xA, 0x5, 0xF, 0x9, 0x0, 0x8},
     {0x4, 0xC, 0x7, 0x5, 0x1, 0x6, 0x9, 0xA, 0x0, 0xE, 0xD, 0x8, 0x2, 0xB, 0x3, 0xF},
     {0xB, 0x9, 0x5, 0x1, 0xC, 0x3, 0xD, 0xE, 0x6, 0x4, 0x7, 0xF, 0x2, 0x0, 0x8, 0xA}}};

constexpr uint8_t kMds[4][4] = {{0x01, 0xEF, 0x5B, 0x5B},
                                {0x5B, 0xEF, 0xEF, 0x01},
                                {0xEF, 0x5B, 0x01, 0xEF},
                                {0xEF, 0x01, 0xEF, 0x5B}};

constexpr uint8_t kRs[4][8] = {{0x01, 0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E},
                               {0xA4, 0x56, 0x82, 0xF3, 0x1E, 0xC6, 0x68, 0xE5},
                               {0x02, 0xA1, 0xFC, 0xC1, 0x47, 0xAE, 0x3D, 0x19},
                               {0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E, 0x03}};

constexpr uint32_t kMdsPoly = 0x169;  // x^8+x^6+x^5+x^3+1
constexpr uint32_t kRsPoly = 0x14D;   // x^8+x^6+x^3+x^2+1

uint8_t GfMul(uint8_t a, uint8_t b, uint32_t poly) {
  uint32_t x = a, r = 0;
  for (; b != 0; b >>= 1) {
    if (b & 1) r ^= x;
    x <<= 1;
    if (x & 0x100) x ^= poly;
  }
  return static_cast<uint8_t>(r);
}

uint8_t Ror4(uint8_t v) { return static_cast<uint8_t>(((v >> 1) | (v << 3)) & 15); }

uint8_t QPermute(int which, uint8_t x) {
  const auto& t = kQt[which];
  uint8_t a0 = x >> 4, b0 = x & 15;
  uint8_t a1 = a0 ^ b0, b1 = (a0 ^ Ror4(b0) ^ (8 * a0)) & 15;
  uint8_t a2 = t[0][a1], b2 = t[1][b1];
  uint8_t a3 = a2 ^ b2, b3 = (a2 ^ Ror4(b2) ^ (8 * a2)) & 15;
  uint8_t a4 = t[2][a3], b4 = t[3][b3];
  return static_cast<uint8_t>(16 * b4 + a4);
}

struct QTables {
  uint8_t q[2][256];
  QTables() {
    for (int i = 0; i < 256; ++i) {
      q[0][i] = QPermute(0, static_cast<uint8_t>(i));
      q[1][i] = QPermute(1, static_cast<uint8_t>(i));
    }
  }
};

const QTables& Q() {
  static const QTables tables;
  return tables;
}

uint8_t Byte(uint32_t w, int i) { return static_cast<uint8_t>(w >> (8 * i)); }

// The q-box chain of h() for byte position `pos`, without the MDS step.
// `l` holds the k words L_0..L_{k-1}.
uint8_t HChain(int pos, uint8_t y, const uint32_t* l, int k) {
  const auto& q = Q().q;
  // Which q box is used at each stage for each byte position (paper fig. 2).
  static constexpr int kStage4[4] = {1, 0, 0, 1};
  static constexpr int kStage3[4] = {1, 1, 0, 0};
  static constexpr int kStage2[4] = {0, 1, 0, 1};
  static constexpr int kStage1[4] = {0, 0, 1, 1};
  static constexpr int kStage0[4] = {1, 0, 1, 0};
  if (k == 4) y = q[kStage4[pos]][y] ^ Byte(l[3], pos);
  if (k >= 3) y = q[kStage3[pos]][y] ^ Byte(l[2], pos);
  y = q[kStage2[pos]][y] ^ Byte(l[1], pos);
  y = q[kStage1[pos]][y] ^ Byte(l[0], pos);
  return q[kStage0[pos]][y];
}

uint32_t MdsColumn(int col, uint8_t y) {
  uint32_t z = 0;
  for (int row = 0; row < 4; ++row) {
    z |= uint32_t{GfMul(kMds[row][col], y, kMdsPoly)} << (8 * row);
  }
  return z;
}

uint32_t H(uint32_t x, const uint32_t* l, int k) {
  uint32_t z = 0;
  for (int pos = 0; pos < 4; ++pos) {
    z ^= MdsColumn(pos, HChain(pos, Byte(x, pos), l, k));
  }
  return z;
}

}  // namespace

Twofish::Twofish(const uint8_t* key, size_t key_len) {
  const int k = static_cast<int>(key_len / 8);
  uint32_t me[4], mo[4], sbox_key[4];
  for (int i = 0; i < k; ++i) {
    me[i] = LoadLe32(key + 8 * i);
    mo[i] = LoadLe32(key + 8 * i + 4);
    uint32_t s = 0;
    for (int row = 0; row < 4; ++row) {
      uint8_t acc = 0;
      for (int c = 0; c < 8; ++c) acc ^= GfMul(kRs[row][c], key[8 * i + c], kRsPoly);
      s |= uint32_t{acc} << (8 * row);
    }
    sbox_key[k - 1 - i] = s;  // S = (S_{k-1}, ..., S_0)
  }
  constexpr uint32_t kRho = 0x01010101;
  for (int i = 0; i < 20; ++i) {
    uint32_t a = H(2 * i * kRho, me, k);
    uint32_t b = Rotl32(H((2 * i + 1) * kRho, mo, k), 8);
    k_[2 * i] = a + b;
    k_[2 * i + 1] = Rotl32(a + 2 * b, 9);
  }
  for (int pos = 0; pos < 4; ++pos) {
    for (int x = 0; x < 256; ++x) {
      s_[pos][x] = MdsColumn(pos, HChain(pos, static_cast<uint8_t>(x), sbox_key, k));
    }
  }
}

void Twofish::EncryptBlock(const uint8_t* in, uint8_t* out) const {
  uint32_t a = LoadLe32(in) ^ k_[0];
  uint32_t b = LoadLe32(in + 4) ^ k_[1];
  uint32_t c = LoadLe32(in + 8) ^ k_[2];
  uint32_t d = LoadLe32(in + 12) ^ k_[3];
  for (int r = 0; r < 16; r += 2) {
    const uint32_t* rk = k_ + 8 + 2 * r;
    uint32_t t0 = G(a), t1 = G(Rotl32(b, 8));
    c = Rotr32(c ^ (t0 + t1 + rk[0]), 1);
    d = Rotl32(d, 1) ^ (t0 + 2 * t1 + rk[1]);
    t0 = G(c);
    t1 = G(Rotl32(d, 8));
    a = Rotr32(a ^ (t0 + t1 + rk[2]), 1);
    b = Rotl32(b, 1) ^ (t0 + 2 * t1 + rk[3]);
  }
  StoreLe32(out, c ^ k_[4]);
  StoreLe32(out + 4, d ^ k_[5]);
  StoreLe32(out + 8, a ^ k_[6]);
  StoreLe32(out + 12, b ^ k_[7]);
}

}  // namespace kcpp::crypt::internal
