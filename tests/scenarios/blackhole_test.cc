// Scenario "blackhole": 100 ms into the echo the link starts dropping
// everything, both ways, for 5 s, then passes for 2 s, drops for 5 s, and so
// on — a Wi-Fi roam, a route flap. The client echoes 32 MiB in 16 KiB
// ping-pongs (~2,000 round trips of ~100 µs or more: they cannot fit in the
// first 100 ms; segments lost on either side prove the outage hit the
// transfer — which side depends on whose datagrams were in flight when it
// began), which keep the RTT estimate at the path's own (a loopback's: the
// RTO at its 30 ms floor), so the session must live through at least one
// 5 s outage on a fast path, and the echo must come back byte-exact. kcp-go
// never gives up on a session (docs/protocol.md §2.14), so a kcp-go peer rides
// this out; a kcpp session should too.
//
// Whatever a stack decides about giving up, both ends must learn of it: the
// second test gives the client kcptun's "normal" mode (RTO floor 100 ms,
// slower back-off) and the server fast3, so the server gives up first if it
// gives up at all. The client must then see a clear error (or finish), not
// wait until the guard while a new server session acknowledges bytes it can
// never deliver, and the listener must not make a second session out of the
// client's mid-conversation retransmissions.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

// Segments either end had to retransmit after a timeout.
uint64_t LostSegments(const Outcome& o) {
  uint64_t lost = 0;
  if (o.client_info.has_value()) lost += o.client_info->counters.lost_segments;
  if (o.server_info.has_value()) lost += o.server_info->counters.lost_segments;
  return lost;
}

TEST(Blackhole, FiveSecondsOnTwoOffIsByteExact) {
  Scenario s = Scenario::Base("blackhole_5s_on_2s_off");
  for (tools::LossyRelay::Impairment* d : {&s.relay.to_target, &s.relay.to_client}) {
    d->blackhole_after_ms = 100;
    d->blackhole_on_ms = 5000;
    d->blackhole_off_ms = 2000;
  }
  s.bytes = 32 << 20;
  s.ping_pong_bytes = 16 * 1024;
  const Outcome o = RunEcho(s);
  SCOPED_TRACE(o.Describe());
  ASSERT_TRUE(o.transfer.ok());
  EXPECT_TRUE(o.acknowledged.ok());
  EXPECT_GT(o.relay.dropped, 0u);
  EXPECT_GT(LostSegments(o), 0u);
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_EQ(o.client_info->state, transport::SessionInfo::State::kActive);
  ASSERT_TRUE(o.server_info.has_value());
  EXPECT_EQ(o.server_info->state, transport::SessionInfo::State::kActive);
  EXPECT_EQ(o.listener.sessions_created, 1u);
}

TEST(Blackhole, WhenOneEndGivesUpTheOtherLearnsOfIt) {
  Scenario s = Scenario::Base("blackhole_fast3_server_normal_client");
  for (tools::LossyRelay::Impairment* d : {&s.relay.to_target, &s.relay.to_client}) {
    d->blackhole_after_ms = 100;
    d->blackhole_on_ms = 5000;
    d->blackhole_off_ms = 2000;
  }
  s.client.nodelay = transport::NoDelay::Normal();
  // A receive window wider than what the client sends before the outage, so
  // a second server session would take (and acknowledge) its retransmissions.
  s.server.session.receive_window = 4096;
  s.bytes = 32 << 20;
  s.ping_pong_bytes = 16 * 1024;
  s.guard = absl::Seconds(60);
  const Outcome o = RunEcho(s);
  SCOPED_TRACE(o.Describe());
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_GT(LostSegments(o), 0u);
  if (!o.transfer.ok()) {
    // An error from the session, not the guard deadline.
    EXPECT_NE(o.transfer.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(o.client_info->state, transport::SessionInfo::State::kFailed);
  }
  EXPECT_EQ(o.listener.sessions_created, 1u);
}

}  // namespace
}  // namespace kcpp::scenarios
