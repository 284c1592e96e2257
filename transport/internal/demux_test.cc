#include "transport/internal/demux.h"

#include <vector>

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

void Put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + i] = static_cast<uint8_t>(x >> (8 * i));
}

// A raw KCP PUSH header (docs/protocol.md §2.1).
std::vector<uint8_t> Kcp(uint32_t conv, uint32_t sn) {
  std::vector<uint8_t> v(24, 0);
  Put32(v, 0, conv);
  v[4] = 81;
  Put32(v, 12, sn);
  return v;
}

std::vector<uint8_t> Fec(uint16_t flag, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> v(8, 0);
  v[4] = static_cast<uint8_t>(flag);
  v[5] = static_cast<uint8_t>(flag >> 8);
  v.insert(v.end(), body.begin(), body.end());
  return v;
}

TEST(Identify, RawKcpFecDataParityAndOob) {
  auto raw = Identify(Kcp(0x11223344, 7));
  EXPECT_TRUE(raw.has_conv && raw.has_sn);
  EXPECT_EQ(raw.conv, 0x11223344u);
  EXPECT_EQ(raw.sn, 7u);

  auto data = Identify(Fec(kFecTypeData, Kcp(0xAABBCCDD, 0)));
  EXPECT_TRUE(data.has_conv && data.has_sn);
  EXPECT_EQ(data.conv, 0xAABBCCDDu);
  EXPECT_EQ(data.sn, 0u);

  auto parity = Identify(Fec(kFecTypeParity, std::vector<uint8_t>(40, 0x55)));
  EXPECT_FALSE(parity.has_conv);

  std::vector<uint8_t> oob_body(4);
  Put32(oob_body, 0, 0x01020304);
  auto oob = Identify(Fec(kFecTypeOob, oob_body));
  EXPECT_TRUE(oob.has_conv);
  EXPECT_FALSE(oob.has_sn);
  EXPECT_EQ(oob.conv, 0x01020304u);
}

TEST(Identify, ShortOrTruncatedInputIdentifiesNothing) {
  for (size_t n = 0; n < 24; ++n) {
    auto v = Kcp(1, 1);
    v.resize(n);
    EXPECT_FALSE(Identify(v).has_conv) << n;
  }
  auto data = Fec(kFecTypeData, Kcp(5, 5));
  data.resize(8 + 23);  // FEC data whose KCP header is cut short
  EXPECT_FALSE(Identify(data).has_conv);
}

TEST(Identify, CapturedKcpGoDatagram) {
  // docs/protocol.md Appendix A.3, pkt0 (FEC 3/2, no crypt).
  const std::vector<uint8_t> pkt0 = {0x00, 0x00, 0x00, 0x00, 0xf1, 0x00, 0x1b, 0x00, 0x44,
                                     0x33, 0x22, 0x11, 0x51, 0x00, 0x20, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x01, 0x00, 0x00, 0x00, 0x41};
  auto id = Identify(pkt0);
  EXPECT_TRUE(id.has_conv);
  EXPECT_EQ(id.conv, 0x11223344u);
  EXPECT_EQ(id.sn, 0u);
}

TEST(DemuxTable, FollowsKcpGoRules) {
  DemuxTable<int> table({/*max_sessions=*/2, /*accept_backlog=*/1});
  const auto a = *SocketAddress::Parse("10.0.0.1:1000");
  const auto b = *SocketAddress::Parse("10.0.0.2:1000");
  const auto c = *SocketAddress::Parse("10.0.0.3:1000");
  constexpr uint8_t kPush = 81, kWins = 84;
  PacketIdentity conv1{true, 1, true, 0, kPush, 0};
  PacketIdentity conv1_sn5{true, 1, true, 5, kPush, 3};       // the peer has received 3
  PacketIdentity conv1_sn5_una0{true, 1, true, 5, kPush, 0};  // its sn 0..4 were lost
  PacketIdentity conv2_sn0{true, 2, true, 0, kPush, 0};
  PacketIdentity conv2_sn9{true, 2, true, 9, kPush, 0};
  PacketIdentity conv2_wins{true, 2, true, 0, kWins, 0};
  PacketIdentity parity{};

  EXPECT_EQ(table.Decide(a, parity, 0), DemuxAction::kDropNoConv);
  // Only a PUSH from a peer that has received nothing creates (kcp-go: any
  // conv does).
  EXPECT_EQ(table.Decide(a, conv1_sn5, 0), DemuxAction::kDropMidConversation);
  EXPECT_EQ(table.Decide(a, conv2_wins, 0), DemuxAction::kDropMidConversation);
  EXPECT_EQ(table.Decide(a, conv1_sn5_una0, 0), DemuxAction::kCreate);
  EXPECT_EQ(table.Decide(a, conv1, 0), DemuxAction::kCreate);
  table.Insert(a, 1, 100);
  EXPECT_EQ(table.Decide(a, conv1, 1), DemuxAction::kFeed);
  EXPECT_EQ(table.Decide(a, conv1_sn5, 1), DemuxAction::kFeed);
  EXPECT_EQ(table.Decide(a, parity, 1), DemuxAction::kFeed);  // no conv: belongs to the address
  EXPECT_EQ(table.Decide(a, conv2_sn9, 1), DemuxAction::kDropConvMismatch);
  EXPECT_EQ(table.Decide(a, conv2_wins, 0), DemuxAction::kDropConvMismatch);
  EXPECT_EQ(table.Decide(a, conv2_sn0, 0), DemuxAction::kReplace);
  // A replacement waits for Accept too: not while the backlog is full.
  EXPECT_EQ(table.Decide(a, conv2_sn0, 1), DemuxAction::kDropBacklogFull);
  EXPECT_EQ(table.Decide(b, conv1, 1), DemuxAction::kDropBacklogFull);
  EXPECT_EQ(table.Decide(b, conv1, 0), DemuxAction::kCreate);
  table.Insert(b, 1, 200);
  EXPECT_EQ(table.Decide(c, conv1, 0), DemuxAction::kDropSessionLimit);
  ASSERT_NE(table.Find(b), nullptr);
  EXPECT_EQ(*table.Find(b), 200);
  table.Erase(a);  // local close forgets the address
  EXPECT_EQ(table.Find(a), nullptr);
  EXPECT_EQ(table.Decide(a, conv1, 0), DemuxAction::kCreate);
}

}  // namespace
TEST(Identify, RecognisesTheFirstDatagramOfAConversation) {
  uint8_t raw[24] = {};
  raw[0] = 9;   // conv
  raw[4] = 81;  // PUSH
  EXPECT_TRUE(Identify(raw).StartsConversation());
  EXPECT_TRUE(Identify(raw).MayStartConversation());
  raw[16] = 2;  // una 2: the peer has received from us
  EXPECT_EQ(Identify(raw).una, 2u);
  EXPECT_FALSE(Identify(raw).MayStartConversation());
  raw[16] = 0;
  raw[12] = 1;  // sn 1
  EXPECT_FALSE(Identify(raw).StartsConversation());
  raw[12] = 0;
  raw[4] = 84;  // WINS with sn 0: a keepalive, not a new conversation
  EXPECT_FALSE(Identify(raw).StartsConversation());
  EXPECT_EQ(Identify(raw).cmd, 84);
  uint8_t fec[8 + 24] = {};
  fec[4] = 0xF1;
  fec[8] = 9;
  fec[8 + 4] = 81;
  EXPECT_TRUE(Identify(fec).StartsConversation());
  EXPECT_EQ(Identify(fec).conv, 9u);
}

}  // namespace kcpp::transport::internal
