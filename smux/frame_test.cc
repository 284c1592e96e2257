#include "smux/frame.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kcpp::smux {
namespace {

using testing::HasSubstr;

// Layout from docs/protocol.md §6.2: ver | cmd | length u16 LE | sid u32 LE.
TEST(FrameHeader, EncodesSpecLayout) {
  uint8_t b[kFrameHeaderSize];
  EncodeFrameHeader({2, kCmdPsh, 0x1234, 0x01020304}, b);
  const uint8_t want[] = {0x02, 0x02, 0x34, 0x12, 0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(std::string(b, b + 8), std::string(want, want + 8));
  const FrameHeader h = DecodeFrameHeader(want);
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.command, kCmdPsh);
  EXPECT_EQ(h.length, 0x1234);
  EXPECT_EQ(h.stream_id, 0x01020304u);
}

TEST(FrameHeader, RoundTripsExtremes) {
  for (FrameHeader h : {FrameHeader{1, kCmdSyn, 0, 3}, FrameHeader{2, kCmdUpd, 8, 0xffffffff},
                        FrameHeader{255, 255, 0xffff, 0}}) {
    uint8_t b[kFrameHeaderSize];
    EncodeFrameHeader(h, b);
    EXPECT_EQ(DecodeFrameHeader(b), h);
  }
}

// UPD payload: consumed u32 LE | window u32 LE (smux updHeader).
TEST(WindowUpdate, EncodesSpecLayout) {
  uint8_t b[kWindowUpdateSize];
  EncodeWindowUpdate({0x11223344, 262144}, b);
  const uint8_t want[] = {0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x04, 0x00};
  EXPECT_EQ(std::string(b, b + 8), std::string(want, want + 8));
  const WindowUpdate u = DecodeWindowUpdate(want);
  EXPECT_EQ(u.consumed, 0x11223344u);
  EXPECT_EQ(u.window, 262144u);
}

TEST(ValidateFrameHeader, AcceptsLegalFrames) {
  for (int v : {1, 2}) {
    EXPECT_TRUE(ValidateFrameHeader({static_cast<uint8_t>(v), kCmdSyn, 0, 3}, v).ok());
    EXPECT_TRUE(ValidateFrameHeader({static_cast<uint8_t>(v), kCmdFin, 0, 3}, v).ok());
    EXPECT_TRUE(ValidateFrameHeader({static_cast<uint8_t>(v), kCmdNop, 0, 0}, v).ok());
    EXPECT_TRUE(ValidateFrameHeader({static_cast<uint8_t>(v), kCmdPsh, 0, 3}, v).ok());
    EXPECT_TRUE(ValidateFrameHeader({static_cast<uint8_t>(v), kCmdPsh, 65535, 3}, v).ok());
  }
  EXPECT_TRUE(ValidateFrameHeader({2, kCmdUpd, 8, 3}, 2).ok());
}

void ExpectRejected(const FrameHeader& h, int version, const std::string& fragment) {
  absl::Status s = ValidateFrameHeader(h, version);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(fragment));
}

TEST(ValidateFrameHeader, RejectsEveryRuleOfSection62) {
  ExpectRejected({2, kCmdPsh, 1, 3}, 1, "frame version 2 in a version 1 session");
  ExpectRejected({1, kCmdNop, 0, 0}, 2, "frame version 1 in a version 2 session");
  ExpectRejected({0, kCmdNop, 0, 0}, 1, "frame version 0");
  ExpectRejected({1, kCmdSyn, 1, 3}, 1, "SYN frame (stream 3) with length 1, must be 0");
  ExpectRejected({1, kCmdFin, 4, 5}, 1, "FIN frame (stream 5) with length 4");
  ExpectRejected({2, kCmdNop, 65535, 0}, 2, "NOP frame (stream 0) with length 65535");
  ExpectRejected({1, kCmdUpd, 8, 3}, 1, "UPD frame (stream 3) in a version 1 session");
  ExpectRejected({2, kCmdUpd, 7, 3}, 2, "UPD frame (stream 3) with length 7, must be 8");
  ExpectRejected({2, kCmdUpd, 0, 3}, 2, "with length 0, must be 8");
  ExpectRejected({1, 5, 0, 9}, 1, "unknown command 5 (stream 9)");
  ExpectRejected({2, 255, 0, 9}, 2, "unknown command 255");
}

TEST(CommandName, NamesCommands) {
  EXPECT_EQ(CommandName(kCmdSyn), "SYN");
  EXPECT_EQ(CommandName(kCmdFin), "FIN");
  EXPECT_EQ(CommandName(kCmdPsh), "PSH");
  EXPECT_EQ(CommandName(kCmdNop), "NOP");
  EXPECT_EQ(CommandName(kCmdUpd), "UPD");
  EXPECT_EQ(CommandName(9), "unknown");
}

}  // namespace
}  // namespace kcpp::smux
