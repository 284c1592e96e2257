// Scenario "MTU black hole": the path silently drops datagrams larger than
// 1200 bytes, both ways (a tunnel or PPPoE link whose ICMP "fragmentation
// needed" never arrives). kcp-go has no path-MTU discovery and neither does
// kcpp, so:
//   * a session configured above the path MTU must end with a clear error
//     (Unavailable, "dead link") instead of hanging or corrupting;
//   * a session configured at or below it (the remedy, mtu = 1200) is
//     byte-exact through the same path.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

constexpr int kPathMtu = 1200;

Scenario BlackHole(const char* name) {
  Scenario s = Scenario::Base(name);
  s.relay.to_target.max_datagram = s.relay.to_client.max_datagram = kPathMtu;
  return s;
}

TEST(MtuBlackHole, AboveThePathMtuFailsWithDeadLink) {
  Scenario s = BlackHole("mtu_black_hole_1400_over_1200");
  // No RTT sample ever arrives, so the RTO stays at KCP's initial 200 ms and
  // kcp-go's back-off adds 100 ms per retransmission (§2.7): 10
  // transmissions take ~5 s (the default 20, ~21 s).
  s.client.dead_link = 10;
  s.bytes = 256 * 1024;
  const Outcome o = RunEcho(s);
  EXPECT_EQ(o.transfer.code(), absl::StatusCode::kUnavailable) << o.Describe();
  EXPECT_NE(o.transfer.message().find("dead link"), absl::string_view::npos) << o.Describe();
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_EQ(o.client_info->state, transport::SessionInfo::State::kFailed) << o.Describe();
  EXPECT_GT(o.relay.dropped, 0u) << o.Describe();
}

TEST(MtuBlackHole, AtThePathMtuIsByteExact) {
  Scenario s = BlackHole("mtu_black_hole_1200_over_1200");
  s.client.mtu = s.server.session.mtu = kPathMtu;
  s.bytes = 4 << 20;
  const Outcome o = RunEcho(s);
  ASSERT_TRUE(o.transfer.ok()) << o.Describe();
  EXPECT_TRUE(o.acknowledged.ok()) << o.Describe();
  EXPECT_EQ(o.relay.dropped, 0u) << o.Describe();
  EXPECT_EQ(o.listener.sessions_created, 1u) << o.Describe();
}

}  // namespace
}  // namespace kcpp::scenarios
