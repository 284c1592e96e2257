#include "base/log.h"

#include "gtest/gtest.h"

namespace kcpp {
namespace {

TEST(LogRateLimiter, LetsThroughTheQuotaPerPeriodAndCountsTheRest) {
  LogRateLimiter limiter(3, absl::Seconds(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 3; ++i) {
    const LogRateLimiter::Decision d = limiter.Admit(t0 + absl::Milliseconds(i));
    EXPECT_TRUE(d.write);
    EXPECT_EQ(d.suppressed, 0);
  }
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.Admit(t0 + absl::Milliseconds(500)).write);
  EXPECT_EQ(limiter.total_suppressed(), 1000);

  // Next period: the first line through reports what was held back.
  LogRateLimiter::Decision d = limiter.Admit(t0 + absl::Seconds(1));
  EXPECT_TRUE(d.write);
  EXPECT_EQ(d.suppressed, 1000);
  d = limiter.Admit(t0 + absl::Seconds(1) + absl::Milliseconds(1));
  EXPECT_TRUE(d.write);
  EXPECT_EQ(d.suppressed, 0);
}

TEST(LogRateLimiter, AClockThatGoesBackStartsANewPeriod) {
  LogRateLimiter limiter(1, absl::Seconds(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Admit(t0).write);
  EXPECT_FALSE(limiter.Admit(t0).write);
  EXPECT_TRUE(limiter.Admit(t0 - absl::Seconds(5)).write);
}

}  // namespace
}  // namespace kcpp
