// kcp-go's FEC packet header (docs/protocol.md §4.1, §4.2, §4.8): constants
// and small helpers shared by FecEncoder and FecDecoder, and usable by a
// transport that only needs to tell FEC packets from raw KCP.
//
// After the crypt header (if any) every FEC packet starts with
//
//   | seqid u32 LE | flag u16 LE | size u16 LE | KCP bytes ... |   data   (0xF1)
//   | seqid u32 LE | flag u16 LE | Reed-Solomon parity ...    |   parity (0xF2)
//   | 0xFFFFFFFF   | 0x00F3      | size u16 LE | conv u32 | payload | OOB (0xF3)
//
// `size` = number of KCP bytes + 2. Raw KCP packets (no FEC) have a KCP
// command (81..84) and fragment count at offset 4, which never reads as
// 0x00F1..0x00F3 (§1).
#ifndef KCPP_FEC_FEC_PACKET_H_
#define KCPP_FEC_FEC_PACKET_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "base/endian.h"

namespace kcpp::fec {

// seqid (4) + flag (2): kcp-go fecHeaderSize.
inline constexpr size_t kFecHeaderSize = 6;
// seqid + flag + size: kcp-go fecHeaderSizePlus2. KCP bytes start here.
inline constexpr size_t kFecDataHeaderSize = 8;
// OOB packets carry a 4-byte conv after the 8-byte header (§4.8).
inline constexpr size_t kFecOobHeaderSize = 12;

inline constexpr uint16_t kFlagData = 0x00F1;
inline constexpr uint16_t kFlagParity = 0x00F2;
inline constexpr uint16_t kFlagOob = 0x00F3;
inline constexpr uint32_t kOobSeqid = 0xFFFFFFFF;

// kcp-go's mtuLimit: no datagram it builds or accepts is longer.
inline constexpr size_t kMtuLimit = 1500;

// What the bytes after the crypt header are, judged by the flag at offset 4
// as kcp-go does (§1). Packets shorter than 6 bytes are kRawKcp (too short
// to carry a flag; KCP itself rejects them).
enum class FecPacketType : uint8_t { kRawKcp, kData, kParity, kOob };

// The header's fields are read and written with //base:endian's
// LoadLe16 / LoadLe32 / StoreLe16 / StoreLe32.

inline FecPacketType ClassifyFecPacket(absl::Span<const uint8_t> packet) {
  if (packet.size() < kFecHeaderSize) return FecPacketType::kRawKcp;
  switch (LoadLe16(packet.data() + 4)) {
    case kFlagData:
      return FecPacketType::kData;
    case kFlagParity:
      return FecPacketType::kParity;
    case kFlagOob:
      return FecPacketType::kOob;
    default:
      return FecPacketType::kRawKcp;
  }
}

// The seqid modulus for a (data, parity) code: the largest multiple of
// data + parity not above 0xFFFFFFFF (kcp-go paws, §4.2). Groups never
// straddle the wrap.
inline constexpr uint32_t SeqidSpace(int data_shards, int parity_shards) {
  const uint32_t shards = static_cast<uint32_t>(data_shards + parity_shards);
  return 0xFFFFFFFFu / shards * shards;
}

}  // namespace kcpp::fec

#endif  // KCPP_FEC_FEC_PACKET_H_
