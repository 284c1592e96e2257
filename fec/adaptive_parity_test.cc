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
