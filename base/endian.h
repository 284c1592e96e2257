// Fixed-width unsigned integers read from and written to byte buffers in a
// given byte order, at any alignment: the one place kcpp spells out byte
// order. Every wire format kcpp speaks is little-endian (KCP segment
// headers, kcp-go's FEC and crypt headers, smux frames, snappy framing);
// some ciphers (TEA, XTEA, SM4) are defined on big-endian words.
//
//   uint8_t header[8];
//   kcpp::StoreLe32(header, conv);            // header[0] = conv & 0xff, ...
//   kcpp::StoreLe16(header + 4, 0x00F1);
//   const uint32_t sn = kcpp::LoadLe32(packet + 12);
//
// The little-endian functions are one load or store of the whole word
// (memcpy, which the compiler turns into a single unaligned access), plus a
// byte swap on a big-endian host: on x86-64 a LoadLe32 is one `mov`. Hot
// loops (Salsa20's keystream, the CRC field of every packet) rely on that;
// byte-by-byte assembly is not always merged by the compiler, e.g. for bytes
// taken out of a vector lane.
//
// The pointer must have room for the word's bytes; nothing is checked.
// Thread safety: pure functions.
#ifndef KCPP_BASE_ENDIAN_H_
#define KCPP_BASE_ENDIAN_H_

#include <cstdint>
#include <cstring>

namespace kcpp {
namespace endian_internal {

inline uint16_t Swap(uint16_t v) { return __builtin_bswap16(v); }
inline uint32_t Swap(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t Swap(uint64_t v) { return __builtin_bswap64(v); }

template <typename T>
inline T LoadLittle(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? v : Swap(v);
}

template <typename T>
inline void StoreLittle(uint8_t* p, T v) {
  if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) v = Swap(v);
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace endian_internal

// Little-endian: p[0] is the least significant byte.
inline uint16_t LoadLe16(const uint8_t* p) { return endian_internal::LoadLittle<uint16_t>(p); }
inline uint32_t LoadLe32(const uint8_t* p) { return endian_internal::LoadLittle<uint32_t>(p); }
inline uint64_t LoadLe64(const uint8_t* p) { return endian_internal::LoadLittle<uint64_t>(p); }
inline void StoreLe16(uint8_t* p, uint16_t v) { endian_internal::StoreLittle(p, v); }
inline void StoreLe32(uint8_t* p, uint32_t v) { endian_internal::StoreLittle(p, v); }
inline void StoreLe64(uint8_t* p, uint64_t v) { endian_internal::StoreLittle(p, v); }

// Big-endian (network order): p[0] is the most significant byte. Written
// byte by byte, which GCC merges into one load or store and a byte swap;
// the memcpy + __builtin_bswap32 form made it lay out TEA's CFB loop
// differently and run up to 4% slower (crypt_benchmark RawBench/TEA_Encrypt).
inline uint32_t LoadBe32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace kcpp

#endif  // KCPP_BASE_ENDIAN_H_
