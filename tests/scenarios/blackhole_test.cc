// Scenario "blackhole": after 1 s the link drops everything, both ways, for
// 5 s, passes for 2 s, drops for 5 s, and so on. The client is paced at
// 512 KiB/s, so its 2 MiB need more than one pass window: the session lives
// through at least two blackouts and the echo comes back byte-exact.
//
// A 5 s outage is well inside what fast3 tolerates before declaring the link
// dead (20 transmissions of one segment, RTO x1.5 each from 30 ms: > 100 s).
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

TEST(Blackhole, FiveSecondsOnTwoOffIsByteExact) {
  Scenario s = Scenario::Base("blackhole_5s_on_2s_off");
  for (tools::LossyRelay::Impairment* d : {&s.relay.to_target, &s.relay.to_client}) {
    d->blackhole_after_ms = 1000;
    d->blackhole_on_ms = 5000;
    d->blackhole_off_ms = 2000;
  }
  s.client.rate_limit_bytes_per_second = 512 * 1024;
  s.bytes = 2 << 20;
  const Outcome o = RunEcho(s);
  ASSERT_TRUE(o.transfer.ok()) << o.Describe();
  EXPECT_TRUE(o.acknowledged.ok()) << o.Describe();
  EXPECT_GT(o.relay.dropped, 0u) << o.Describe();
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_GT(o.client_info->counters.lost_segments, 0u) << o.Describe();
  EXPECT_EQ(o.client_info->state, transport::SessionInfo::State::kActive) << o.Describe();
  EXPECT_EQ(o.listener.sessions_created, 1u) << o.Describe();
}

}  // namespace
}  // namespace kcpp::scenarios
