#include "fec/adaptive_parity.h"

#include "gtest/gtest.h"

namespace kcpp::fec {
namespace {

TEST(AdaptiveParity, RuleCoversTheLossWithinTheConfiguredMaximum) {
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0), 0);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.001), 0);  // 1 % of groups lose one
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.002), 1);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.01), 1);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.03), 2);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.05), 3);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.3), 3);  // never above the maximum
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 1, 0.03), 1);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 1.0), 3);
}

// Windows of 1024 on a 100 Mbit/s, 100 ms path of 1378-byte packets (907
// of them per round trip, parity included): a hole FEC leaves stalls the
// sender for most of a round trip, so the rule pays for another parity
// shard (2 at 1 %, 3 at 3 %, where the floor alone takes 1 and 2). With
// twice the path in the window, or an unknown path, the floor stands.
TEST(AdaptiveParity, PaysForMoreParityWhenTheWindowIsShortOfThePath) {
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.01, 1024, 907), 2);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.03, 1024, 907), 3);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.001, 1024, 907), 1);
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0, 1024, 907), 0);  // a clean link pays nothing
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 2, 0.03, 1024, 907), 2);  // never above the maximum
  for (double loss : {0.001, 0.01, 0.03}) {
    const int floor = AdaptiveParity::ParityFor(10, 3, loss);
    EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, loss, 1024, 0), floor);    // path unknown
    EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, loss, 2048, 907), floor);  // two paths
    EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, loss, 1024, 148), floor);  // 20 Mbit/s, 80 ms
  }
  // The satellite-like path (10 Mbit/s, 600 ms: 544 packets): a hole stalls
  // for a fraction of a round trip, not worth another shard at 0.5 %.
  EXPECT_EQ(AdaptiveParity::ParityFor(10, 3, 0.005, 1024, 544), 1);
}

TEST(AdaptiveParity, SetWindowTakesEffectAtTheNextWindow) {
  AdaptiveParity a(10, 3);
  a.Observe(1000, 10);  // 1 %
  ASSERT_EQ(a.parity(), 1);
  // The same path in data segments, with 1 parity shard per group sent.
  a.SetWindow(1024, 907 * 10 / 11);
  EXPECT_EQ(a.parity(), 1);
  a.Observe(1000, 10);
  EXPECT_EQ(a.parity(), 2);
  a.SetWindow(4096, 907 * 10 / 12);
  a.Observe(1000, 10);
  EXPECT_EQ(a.parity(), 1);
}

// Too little parity costs stalls, too much a few percent: the count goes up
// at once but comes down only when a quarter more loss would still ask for
// less, so an estimate wandering around a boundary does not flip it.
TEST(AdaptiveParity, StepsDownOnlyWellBelowTheBoundary) {
  AdaptiveParity a(10, 3);
  a.SetWindow(1024, 790);
  a.Observe(1000, 10);  // 1 %
  ASSERT_EQ(a.parity(), 2);
  bool held = false;
  for (int window = 0; window < 40 && a.parity() == 2; ++window) {
    a.Observe(1000, 3);  // the estimate sinks towards 0.3 %
    const double loss = a.loss();
    if (AdaptiveParity::ParityFor(10, 3, loss * AdaptiveParity::kStepDownMargin, 1024, 790) == 2) {
      EXPECT_EQ(a.parity(), 2) << "at " << loss;
      held |= AdaptiveParity::ParityFor(10, 3, loss, 1024, 790) == 1;
    }
  }
  EXPECT_TRUE(held) << "the estimate never sat between the boundary and the margin";
  EXPECT_EQ(a.parity(), 1);
  a.Observe(1000, 10);  // back up at once
  a.Observe(1000, 10);
  EXPECT_EQ(a.parity(), 2) << a.loss();
}

TEST(AdaptiveParity, SendsEverythingUntilItHasMeasured) {
  AdaptiveParity a(10, 3);
  EXPECT_EQ(a.parity(), 3);
  EXPECT_LT(a.loss(), 0);
  a.Observe(AdaptiveParity::kWindowSegments - 1, 0);
  EXPECT_EQ(a.parity(), 3);  // the window is not complete yet
  a.Observe(1, 0);
  EXPECT_EQ(a.loss(), 0);
  EXPECT_EQ(a.parity(), 0);  // a clean link sends no parity
}

TEST(AdaptiveParity, FollowsTheLossUpAndDownGradually) {
  AdaptiveParity a(10, 3);
  a.Observe(1000, 0);
  ASSERT_EQ(a.parity(), 0);
  // 5 % loss: a quarter weight per window, so it takes a few windows.
  int windows = 0;
  while (a.parity() < 3 && windows < 50) {
    a.Observe(1000, 50);
    ++windows;
  }
  EXPECT_EQ(a.parity(), 3);
  EXPECT_GT(windows, 1);
  EXPECT_NEAR(a.loss(), 0.05, 0.02);
  windows = 0;
  while (a.parity() > 0 && windows < 200) {
    a.Observe(1000, 0);
    ++windows;
  }
  EXPECT_EQ(a.parity(), 0);
  EXPECT_GT(windows, 1);
}

}  // namespace
}  // namespace kcpp::fec
