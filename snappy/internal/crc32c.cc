#include "snappy/internal/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace kcpp::snappy::internal {
namespace {

// All functions below work on the raw (reflected, not inverted) CRC register;
// the public functions add the standard pre/post inversion.
constexpr uint32_t kPoly = 0x82f63b78;  // reversed Castagnoli polynomial

using Table = std::array<uint32_t, 256>;

constexpr std::array<Table, 8> MakeSlicingTables() {
  std::array<Table, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
    t[0][i] = c;
  }
  for (int s = 1; s < 8; ++s) {
    for (uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr std::array<Table, 8> kSlicing = MakeSlicingTables();

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // x86-64 and aarch64 are little-endian; the CRC is defined on LE words
}

uint32_t RawPortable(uint32_t r, const uint8_t* p, size_t n) {
  while (n >= 8) {
    const uint64_t v = Load64(p) ^ r;
    r = kSlicing[7][v & 0xff] ^ kSlicing[6][(v >> 8) & 0xff] ^ kSlicing[5][(v >> 16) & 0xff] ^
        kSlicing[4][(v >> 24) & 0xff] ^ kSlicing[3][(v >> 32) & 0xff] ^
        kSlicing[2][(v >> 40) & 0xff] ^ kSlicing[1][(v >> 48) & 0xff] ^ kSlicing[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) r = (r >> 8) ^ kSlicing[0][(r ^ *p++) & 0xff];
  return r;
}

#if defined(__x86_64__)

// Bytes per lane in the three-lane loop. The lanes' registers are merged by
// "shifting" the earlier ones over the later lanes' length (appending that
// many zero bytes is linear in the register), done with four table lookups.
constexpr size_t kLane = 512;

struct ShiftTables {
  std::array<Table, 4> by_lane;       // register advanced over kLane zero bytes
  std::array<Table, 4> by_two_lanes;  // ... over 2 * kLane zero bytes
};

ShiftTables MakeShiftTables() {
  ShiftTables t;
  static const uint8_t kZeros[2 * kLane] = {};
  uint32_t one[32], two[32];
  for (int bit = 0; bit < 32; ++bit) {
    one[bit] = RawPortable(1u << bit, kZeros, kLane);
    two[bit] = RawPortable(1u << bit, kZeros, 2 * kLane);
  }
  for (int j = 0; j < 4; ++j) {
    for (uint32_t v = 0; v < 256; ++v) {
      uint32_t a = 0, b = 0;
      for (int i = 0; i < 8; ++i) {
        if (v & (1u << i)) {
          a ^= one[8 * j + i];
          b ^= two[8 * j + i];
        }
      }
      t.by_lane[j][v] = a;
      t.by_two_lanes[j][v] = b;
    }
  }
  return t;
}

inline uint32_t Shift(const std::array<Table, 4>& t, uint32_t r) {
  return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

__attribute__((target("sse4.2"))) uint32_t RawSse42(uint32_t r, const uint8_t* p, size_t n) {
  if (n >= 3 * kLane) {
    static const ShiftTables tables = MakeShiftTables();
    do {
      uint64_t c0 = r, c1 = 0, c2 = 0;
      for (size_t i = 0; i < kLane; i += 8) {
        c0 = _mm_crc32_u64(c0, Load64(p + i));
        c1 = _mm_crc32_u64(c1, Load64(p + kLane + i));
        c2 = _mm_crc32_u64(c2, Load64(p + 2 * kLane + i));
      }
      r = Shift(tables.by_two_lanes, static_cast<uint32_t>(c0)) ^
          Shift(tables.by_lane, static_cast<uint32_t>(c1)) ^ static_cast<uint32_t>(c2);
      p += 3 * kLane;
      n -= 3 * kLane;
    } while (n >= 3 * kLane);
  }
  uint64_t c = r;
  while (n >= 8) {
    c = _mm_crc32_u64(c, Load64(p));
    p += 8;
    n -= 8;
  }
  r = static_cast<uint32_t>(c);
  while (n-- > 0) r = _mm_crc32_u8(r, *p++);
  return r;
}

#endif  // __x86_64__

}  // namespace

bool HasSse42() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
#else
  return false;
#endif
}

uint32_t Crc32cPortable(uint32_t crc, const uint8_t* data, size_t size) {
  return ~RawPortable(~crc, data, size);
}

uint32_t Crc32cSse42(uint32_t crc, const uint8_t* data, size_t size) {
#if defined(__x86_64__)
  return ~RawSse42(~crc, data, size);
#else
  return Crc32cPortable(crc, data, size);
#endif
}

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t size) {
  return HasSse42() ? Crc32cSse42(crc, data, size) : Crc32cPortable(crc, data, size);
}

}  // namespace kcpp::snappy::internal
