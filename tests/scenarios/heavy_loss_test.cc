// Scenario "heavy loss": 30 % of datagrams lost each way, in bursts of 3
// consecutive datagrams (a burst starts at a datagram with probability
// p = 0.125, and 3p / (1 + 2p) = 0.3). With and without FEC 10/3: KCP alone
// must still deliver every byte; with FEC, parity repairs part of it.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

class HeavyLoss : public ::testing::TestWithParam<bool> {};

TEST_P(HeavyLoss, ThirtyPercentInBurstsOfThreeIsByteExact) {
  const bool fec = GetParam();
  Scenario s = Scenario::Base("heavy_loss_30pct_bursts_of_3");
  for (tools::LossyRelay::Impairment* d : {&s.relay.to_target, &s.relay.to_client}) {
    d->loss = 0.125;
    d->loss_burst = 3;
  }
  s.relay.seed = 30;
  if (fec) {
    for (transport::SessionOptions* o : {&s.client, &s.server.session}) {
      o->data_shards = 10;
      o->parity_shards = 3;
    }
  }
  s.bytes = 4 << 20;
  const Outcome o = RunEcho(s);
  ASSERT_TRUE(o.transfer.ok()) << o.Describe();
  EXPECT_TRUE(o.acknowledged.ok()) << o.Describe();
  // The relay really was that bad (a wide band: the count of datagrams, not
  // the seed, decides the exact fraction).
  EXPECT_GT(DropFraction(o.relay), 0.2) << o.Describe();
  EXPECT_LT(DropFraction(o.relay), 0.4) << o.Describe();
  ASSERT_TRUE(o.client_info.has_value());
  EXPECT_GT(o.client_info->counters.lost_segments, 0u) << o.Describe();
  if (fec) {
    EXPECT_GT(o.client_info->counters.fec_recovered, 0u) << o.Describe();
  }
  EXPECT_EQ(o.listener.sessions_created, 1u) << o.Describe();
}

INSTANTIATE_TEST_SUITE_P(Fec, HeavyLoss, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "fec_10_3" : "no_fec"; });

}  // namespace
}  // namespace kcpp::scenarios
