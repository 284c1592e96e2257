#include "kcp/segment.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace kcpp::kcp {
namespace {

std::vector<uint8_t> Hex(const std::string& hex) {
  std::string clean;
  for (char c : hex) {
    if (c != ' ' && c != '|') clean.push_back(c);
  }
  const std::string bytes = absl::HexStringToBytes(clean);
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

TEST(SegmentHeader, EncodesLittleEndianAtSpecOffsets) {
  SegmentHeader h;
  h.conv = 0x11223344;
  h.cmd = kCmdPush;
  h.frg = 0x05;
  h.wnd = 0x0120;
  h.ts = 0xa1a2a3a4;
  h.sn = 0xb1b2b3b4;
  h.una = 0xc1c2c3c4;
  h.len = 0x00000102;
  uint8_t out[kSegmentHeaderSize];
  EncodeSegmentHeader(h, out);
  // docs/protocol.md §2.1: conv@0 cmd@4 frg@5 wnd@6 ts@8 sn@12 una@16 len@20.
  EXPECT_EQ(std::vector<uint8_t>(out, out + 24),
            Hex("44332211 51 05 2001 a4a3a2a1 b4b3b2b1 c4c3c2c1 02010000"));
  EXPECT_EQ(DecodeSegmentHeader(out), h);
}

TEST(SegmentHeader, RandomRoundTrips) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    SegmentHeader h;
    h.conv = static_cast<uint32_t>(rng());
    h.cmd = static_cast<uint8_t>(rng());
    h.frg = static_cast<uint8_t>(rng());
    h.wnd = static_cast<uint16_t>(rng());
    h.ts = static_cast<uint32_t>(rng());
    h.sn = static_cast<uint32_t>(rng());
    h.una = static_cast<uint32_t>(rng());
    h.len = static_cast<uint32_t>(rng());
    uint8_t out[kSegmentHeaderSize];
    EncodeSegmentHeader(h, out);
    ASSERT_EQ(DecodeSegmentHeader(out), h);
  }
}

// docs/protocol.md Appendix A.3: datagrams captured from kcp-go 5.6.1
// (NewConn3, conv 0x11223344, SetNoDelay(1,10,2,1), window 32). The FEC
// packets carry an 8-byte header (seqid u32, flag u16, size u16) before the
// KCP segment.
struct Capture {
  const char* hex;
  uint32_t ts, sn, len;
  std::string data;
};

TEST(SegmentHeader, DecodesCapturedKcpGoDatagramsFieldByField) {
  const Capture captures[] = {
      {"00000000 f100 1b00 | 44332211 51 00 2000 00000000 00000000 00000000 01000000 | 41", 0, 0, 1,
       "A"},
      {"01000000 f100 2400 | 44332211 51 00 2000 05000000 01000000 00000000 0a000000 | "
       "42424242424242424242",
       5, 1, 10, "BBBBBBBBBB"},
      {"02000000 f100 1f00 | 44332211 51 00 2000 0b000000 02000000 00000000 05000000 | "
       "4343434343",
       11, 2, 5, "CCCCC"},
  };
  for (const Capture& c : captures) {
    SCOPED_TRACE(c.hex);
    const std::vector<uint8_t> pkt = Hex(c.hex);
    ASSERT_EQ(pkt.size(), 8 + 24 + c.len);
    // FEC "size" = KCP bytes + 2 (docs/protocol.md §4.1).
    EXPECT_EQ(pkt[6] | pkt[7] << 8, static_cast<int>(24 + c.len + 2));
    SegmentReader reader(absl::MakeConstSpan(pkt).subspan(8), 0x11223344u);
    SegmentHeader h;
    absl::Span<const uint8_t> payload;
    ASSERT_EQ(reader.Next(&h, &payload), SegmentReader::kOk);
    EXPECT_EQ(h.conv, 0x11223344u);
    EXPECT_EQ(h.cmd, kCmdPush);
    EXPECT_EQ(h.frg, 0);
    EXPECT_EQ(h.wnd, 32);
    EXPECT_EQ(h.ts, c.ts);
    EXPECT_EQ(h.sn, c.sn);
    EXPECT_EQ(h.una, 0u);
    EXPECT_EQ(h.len, c.len);
    EXPECT_EQ(std::string(payload.begin(), payload.end()), c.data);
    EXPECT_EQ(reader.Next(&h, &payload), SegmentReader::kEnd);
  }
  // Same session without FEC, and the decrypted AES-128 + FEC capture.
  for (const auto& [hex, ts] : std::vector<std::pair<std::string, uint32_t>>{
           {"44332211 51 00 2000 44000000 00000000 00000000 04000000 6d736730", 0x44},
           {"44332211 51 00 2000 7f000000 00000000 00000000 04000000 6d736730", 0x7f}}) {
    const std::vector<uint8_t> pkt = Hex(hex);
    SegmentReader reader(pkt);
    SegmentHeader h;
    absl::Span<const uint8_t> payload;
    ASSERT_EQ(reader.Next(&h, &payload), SegmentReader::kOk);
    EXPECT_EQ(h.conv, 0x11223344u);
    EXPECT_EQ(h.cmd, kCmdPush);
    EXPECT_EQ(h.ts, ts);
    EXPECT_EQ(h.sn, 0u);
    EXPECT_EQ(h.len, 4u);
    EXPECT_EQ(std::string(payload.begin(), payload.end()), "msg0");
  }
}

TEST(SegmentReader, WalksConcatenatedSegmentsAndIgnoresShortTail) {
  std::vector<uint8_t> d;
  for (uint32_t i = 0; i < 3; ++i) {
    SegmentHeader h;
    h.conv = 7;
    h.cmd = i == 1 ? kCmdAck : kCmdPush;
    h.sn = i;
    h.len = i;
    uint8_t hdr[24];
    EncodeSegmentHeader(h, hdr);
    d.insert(d.end(), hdr, hdr + 24);
    for (uint32_t k = 0; k < i; ++k) d.push_back(static_cast<uint8_t>(0xa0 + k));
  }
  d.insert(d.end(), 23, 0xff);  // fewer than 24 bytes: ignored
  SegmentReader reader(d, 7u);
  SegmentHeader h;
  absl::Span<const uint8_t> payload;
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(reader.Next(&h, &payload), SegmentReader::kOk);
    EXPECT_EQ(h.sn, i);
    ASSERT_EQ(payload.size(), i);
    for (uint32_t k = 0; k < i; ++k) EXPECT_EQ(payload[k], 0xa0 + k);
  }
  EXPECT_EQ(reader.Next(&h, &payload), SegmentReader::kEnd);
  EXPECT_EQ(reader.rest().size(), 23u);
}

TEST(SegmentReader, RejectsInIkcpOrderConvLenCmd) {
  SegmentHeader h;
  h.conv = 1;
  h.cmd = 99;       // bad command
  h.len = 1000000;  // and longer than the datagram
  uint8_t d[24];
  EncodeSegmentHeader(h, d);
  SegmentHeader out;
  absl::Span<const uint8_t> payload;
  EXPECT_EQ(SegmentReader(d, 2u).Next(&out, &payload), SegmentReader::kConvMismatch);
  EXPECT_EQ(SegmentReader(d, 1u).Next(&out, &payload), SegmentReader::kTruncated);
  EXPECT_EQ(SegmentReader(d).Next(&out, &payload), SegmentReader::kTruncated);
  h.len = 0;
  EncodeSegmentHeader(h, d);
  SegmentReader r(d, 1u);
  EXPECT_EQ(r.Next(&out, &payload), SegmentReader::kUnknownCommand);
  EXPECT_EQ(r.Next(&out, &payload), SegmentReader::kUnknownCommand);  // stays put
  h.len = 0xffffffffu;  // would wrap a careless 32-bit bound check
  h.cmd = kCmdPush;
  EncodeSegmentHeader(h, d);
  EXPECT_EQ(SegmentReader(d, 1u).Next(&out, &payload), SegmentReader::kTruncated);
}

TEST(SegmentHeader, PeekConv) {
  const std::vector<uint8_t> d = Hex("44332211 51 00 2000 44000000 00000000 00000000 00000000");
  EXPECT_EQ(PeekConv(d), 0x11223344u);
  EXPECT_FALSE(PeekConv(absl::MakeConstSpan(d).first(23)).has_value());
}

}  // namespace
}  // namespace kcpp::kcp
