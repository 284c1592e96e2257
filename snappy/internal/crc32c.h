// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum of the
// snappy framing format (docs/protocol.md §6.1; google/snappy
// framing_format.txt §3), computed by ISA-L's crc32_iscsi (Debian
// libisal-dev), which picks its fastest kernel for the CPU at run time
// (AVX-512 VPCLMULQDQ folding, PCLMULQDQ, or a table).
//
// ISA-L's function neither inverts its initial value nor its result; the
// standard CRC-32C inverts both, so Crc32c passes ~crc in and inverts what
// comes out. crc32c_test checks the convention against the catalogue's
// CRC-32C("123456789") = 0xe3069283 and RFC 3720's vectors.
#ifndef KCPP_SNAPPY_INTERNAL_CRC32C_H_
#define KCPP_SNAPPY_INTERNAL_CRC32C_H_

#include <isa-l/crc.h>

#include <climits>
#include <cstddef>
#include <cstdint>

namespace kcpp::snappy_framing::internal {

// Extends a CRC-32C: `crc` is the CRC-32C of some prefix (0 for the empty
// prefix), the result is the CRC-32C of prefix || data[0, size).
inline uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t size) {
  uint32_t raw = ~crc;
  while (size > 0) {  // ISA-L takes an int length
    const int n = size > INT_MAX ? INT_MAX : static_cast<int>(size);
    // crc32_iscsi only reads the buffer; its prototype lacks the const.
    raw = crc32_iscsi(const_cast<uint8_t*>(data), n, raw);
    data += n;
    size -= static_cast<size_t>(n);
  }
#if defined(__x86_64__)
  // ISA-L 2.30's AVX-512 kernel returns without VZEROUPPER. The upper halves
  // of the vector registers it leaves dirty slow down all the SSE code that
  // follows (ours and libsnappy's): the framing benchmark's 1 KiB frames
  // of random data decode at 5.3 GB/s without this line, 20 GB/s with it.
  static const bool has_avx = __builtin_cpu_supports("avx");
  if (has_avx) asm volatile("vzeroupper" ::: "memory");
#endif
  return ~raw;
}

}  // namespace kcpp::snappy_framing::internal

#endif  // KCPP_SNAPPY_INTERNAL_CRC32C_H_
