// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum of the
// snappy framing format (docs/protocol.md §6.1; google/snappy
// framing_format.txt §3). No Debian library offers CRC-32C as a C API, so it
// is written here: the SSE4.2 `crc32` instruction (three independent lanes so
// the instruction's 3-cycle latency is hidden) when the CPU has it, checked
// once at run time, else a portable slicing-by-8 table implementation. Both
// give identical results for every input.
#ifndef KCPP_SNAPPY_INTERNAL_CRC32C_H_
#define KCPP_SNAPPY_INTERNAL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::snappy::internal {

// Extends a CRC-32C: `crc` is the CRC-32C of some prefix (0 for the empty
// prefix), the result is the CRC-32C of prefix || data[0, size). Standard
// pre/post inversion, so Crc32c(0, "123456789", 9) == 0xe3069283.
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t size);

// The two implementations behind Crc32c, exposed for tests and benchmarks.
// Crc32cSse42 must only be called when HasSse42() is true.
uint32_t Crc32cPortable(uint32_t crc, const uint8_t* data, size_t size);
uint32_t Crc32cSse42(uint32_t crc, const uint8_t* data, size_t size);
bool HasSse42();

}  // namespace kcpp::snappy::internal

#endif  // KCPP_SNAPPY_INTERNAL_CRC32C_H_
