// Scenario "reordering": a quarter of the datagrams, each way, are held back
// 10 ms and overtaken by later ones, on top of 0..2 ms jitter. KCP reorders
// by sn; the echo is byte-exact.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

TEST(Reordering, AQuarterHeldBackIsByteExact) {
  Scenario s = Scenario::Base("reordering_25pct");
  for (tools::LossyRelay::Impairment* d : {&s.relay.to_target, &s.relay.to_client}) {
    d->reorder = 0.25;
    d->reorder_delay_ms = 10;
    d->jitter_ms = 2;
  }
  s.relay.seed = 25;
  s.bytes = 4 << 20;
  const Outcome o = RunEcho(s);
  ASSERT_TRUE(o.transfer.ok()) << o.Describe();
  EXPECT_TRUE(o.acknowledged.ok()) << o.Describe();
  EXPECT_GT(o.relay.reordered, 0u) << o.Describe();
  EXPECT_EQ(o.relay.dropped, 0u) << o.Describe();
  EXPECT_EQ(o.listener.sessions_created, 1u) << o.Describe();
}

}  // namespace
}  // namespace kcpp::scenarios
