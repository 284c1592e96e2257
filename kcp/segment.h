// The KCP segment header: 24 bytes, little-endian, identical in ikcp.c and
// kcp-go (docs/protocol.md §2.1).
//
//   offset 0  conv u32   conversation id
//          4  cmd  u8    81 PUSH, 82 ACK, 83 WASK, 84 WINS
//          5  frg  u8    fragments still to come (message mode), else 0
//          6  wnd  u16   sender's free receive window, in segments
//          8  ts   u32   PUSH: send time; ACK: echo of the PUSH's ts
//         12  sn   u32   sequence number (ACK: the sn acknowledged)
//         16  una  u32   every sn below this was received
//         20  len  u32   payload bytes that follow the header
//
// A datagram is a concatenation of segments; a parser stops when fewer than
// 24 bytes remain (docs/protocol.md §2.1). SegmentReader walks a datagram with
// every bound checked, so hostile bytes can never make it read outside the
// span it was given.
//
//   SegmentReader reader(datagram);
//   SegmentHeader h;
//   absl::Span<const uint8_t> payload;
//   while (reader.Next(&h, &payload) == SegmentReader::kOk) { ... }
#ifndef KCPP_KCP_SEGMENT_H_
#define KCPP_KCP_SEGMENT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/types/span.h"
#include "base/endian.h"

namespace kcpp::kcp {

// Bytes of one segment header (IKCP_OVERHEAD).
inline constexpr size_t kSegmentHeaderSize = 24;
// Offset of `sn` in the header (kcp-go's IKCP_SN_OFFSET), used by listeners
// to recognise a first packet (docs/protocol.md §5.2).
inline constexpr size_t kSnOffset = 12;

// Segment commands (docs/protocol.md §2.1).
enum Command : uint8_t {
  kCmdPush = 81,  // data
  kCmdAck = 82,   // acknowledges one sn
  kCmdWask = 83,  // window probe: "tell me your window"
  kCmdWins = 84,  // window size answer (the window is in `wnd`)
};

// True for the four commands above.
constexpr bool IsValidCommand(uint8_t cmd) { return cmd >= kCmdPush && cmd <= kCmdWins; }

struct SegmentHeader {
  uint32_t conv = 0;
  uint8_t cmd = 0;
  uint8_t frg = 0;
  uint16_t wnd = 0;
  uint32_t ts = 0;
  uint32_t sn = 0;
  uint32_t una = 0;
  uint32_t len = 0;

  friend bool operator==(const SegmentHeader& a, const SegmentHeader& b) {
    return a.conv == b.conv && a.cmd == b.cmd && a.frg == b.frg && a.wnd == b.wnd && a.ts == b.ts &&
           a.sn == b.sn && a.una == b.una && a.len == b.len;
  }
};

// Writes `h` into out[0, 24). The caller guarantees 24 writable bytes.
inline void EncodeSegmentHeader(const SegmentHeader& h, uint8_t* out) {
  StoreLe32(out, h.conv);
  out[4] = h.cmd;
  out[5] = h.frg;
  StoreLe16(out + 6, h.wnd);
  StoreLe32(out + 8, h.ts);
  StoreLe32(out + 12, h.sn);
  StoreLe32(out + 16, h.una);
  StoreLe32(out + 20, h.len);
}

// Reads a header from in[0, 24). The caller guarantees 24 readable bytes.
inline SegmentHeader DecodeSegmentHeader(const uint8_t* in) {
  SegmentHeader h;
  h.conv = LoadLe32(in);
  h.cmd = in[4];
  h.frg = in[5];
  h.wnd = LoadLe16(in + 6);
  h.ts = LoadLe32(in + 8);
  h.sn = LoadLe32(in + 12);
  h.una = LoadLe32(in + 16);
  h.len = LoadLe32(in + 20);
  return h;
}

// The conv of a datagram (ikcp_getconv), or nullopt if it is shorter than a
// header.
inline std::optional<uint32_t> PeekConv(absl::Span<const uint8_t> datagram) {
  if (datagram.size() < kSegmentHeaderSize) return std::nullopt;
  return LoadLe32(datagram.data());
}

// Walks the segments of one datagram without copying.
class SegmentReader {
 public:
  enum Result {
    kOk,              // *header and *payload describe the next segment
    kEnd,             // fewer than 24 bytes left (trailing bytes are ignored)
    kConvMismatch,    // conv differs from the expected one (ikcp_input's -1)
    kTruncated,       // header's len exceeds the bytes left (ikcp_input's -2)
    kUnknownCommand,  // cmd is not PUSH/ACK/WASK/WINS (ikcp_input's -3)
  };

  // With `expected_conv`, a segment of another conversation stops the walk
  // with kConvMismatch. Checks run in ikcp_input's order: conv, len, cmd.
  explicit SegmentReader(absl::Span<const uint8_t> datagram,
                         std::optional<uint32_t> expected_conv = std::nullopt)
      : rest_(datagram), expected_conv_(expected_conv) {}

  // Decodes the next segment. After anything but kOk the reader stays put
  // and keeps returning the same result. The payload aliases the datagram.
  Result Next(SegmentHeader* header, absl::Span<const uint8_t>* payload) {
    if (rest_.size() < kSegmentHeaderSize) return kEnd;
    *header = DecodeSegmentHeader(rest_.data());
    if (expected_conv_.has_value() && header->conv != *expected_conv_) return kConvMismatch;
    const size_t left = rest_.size() - kSegmentHeaderSize;
    if (header->len > left) return kTruncated;
    if (!IsValidCommand(header->cmd)) return kUnknownCommand;
    *payload = rest_.subspan(kSegmentHeaderSize, header->len);
    rest_.remove_prefix(kSegmentHeaderSize + header->len);
    return kOk;
  }

  // Bytes not yet consumed.
  absl::Span<const uint8_t> rest() const { return rest_; }

 private:
  absl::Span<const uint8_t> rest_;
  std::optional<uint32_t> expected_conv_;
};

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_SEGMENT_H_
