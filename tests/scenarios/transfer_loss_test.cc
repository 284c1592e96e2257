// Scenario "transfer loss": 2 % of datagrams lost independently, each way.
// The echo must come back byte-exact, with the losses repaired by KCP's
// retransmissions.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

TEST(TransferLoss, TwoPercentEachWayIsByteExact) {
  Scenario s = Scenario::Base("transfer_loss_2pct");
  s.relay.to_target.loss = s.relay.to_client.loss = 0.02;
  s.relay.seed = 2;
  s.bytes = 8 << 20;
  const Outcome o = RunEcho(s);
  ASSERT_TRUE(o.transfer.ok()) << o.Describe();
  EXPECT_TRUE(o.acknowledged.ok()) << o.Describe();
  EXPECT_GT(o.relay.dropped, 0u) << o.Describe();
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_GT(o.client_info->counters.retransmitted_segments, 0u) << o.Describe();
  EXPECT_EQ(o.client_info->counters.bytes_received, s.bytes);
  EXPECT_EQ(o.listener.sessions_created, 1u) << o.Describe();
}

}  // namespace
}  // namespace kcpp::scenarios
