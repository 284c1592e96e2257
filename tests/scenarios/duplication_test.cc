// Scenario "duplication": a fifth of the datagrams, each way, arrive twice.
// Duplicate segments are recognised (RepeatSegs) and delivered once; the
// echo is byte-exact.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

TEST(Duplication, AFifthDeliveredTwiceIsByteExact) {
  Scenario s = Scenario::Base("duplication_20pct");
  s.relay.to_target.duplicate = s.relay.to_client.duplicate = 0.2;
  s.relay.seed = 20;
  s.bytes = 4 << 20;
  const Outcome o = RunEcho(s);
  ASSERT_TRUE(o.transfer.ok()) << o.Describe();
  EXPECT_TRUE(o.acknowledged.ok()) << o.Describe();
  EXPECT_GT(o.relay.duplicated, 0u) << o.Describe();
  ASSERT_TRUE(o.server_info.has_value());
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_GT(o.server_info->counters.repeat_segments, 0u) << o.Describe();
  EXPECT_GT(o.client_info->counters.repeat_segments, 0u) << o.Describe();
  EXPECT_EQ(o.server_info->counters.bytes_received, s.bytes) << o.Describe();
  EXPECT_EQ(o.listener.sessions_created, 1u) << o.Describe();
}

}  // namespace
}  // namespace kcpp::scenarios
