#include "kcp/pacer.h"

#include "gtest/gtest.h"

namespace kcpp::kcp {
namespace {

TEST(Pacer, UnlimitedByDefault) {
  Pacer p;
  for (int i = 0; i < 1000; ++i) {
    p.OnSent(0, 1 << 20);
    EXPECT_TRUE(p.MaySend(0));
  }
  EXPECT_EQ(p.ReadyAtUs(5), 5);
}

TEST(Pacer, DebtOfOneDatagramThenRate) {
  Pacer p;  // 1 ms quantum
  p.SetRate(1'000'000, 0);  // 1 MB/s: 1 byte per µs; burst max(1000, 3000) B
  // The initial credit (3000 B) lets two 1500-byte datagrams go, the second
  // ends at zero credit: the gate closes.
  EXPECT_TRUE(p.MaySend(0));
  p.OnSent(0, 1500);
  EXPECT_TRUE(p.MaySend(0));
  p.OnSent(0, 1500);
  EXPECT_FALSE(p.MaySend(0));
  EXPECT_EQ(p.ReadyAtUs(0), 1);
  EXPECT_TRUE(p.MaySend(1));
  p.OnSent(1, 1500);  // 1499 B of debt
  EXPECT_EQ(p.ReadyAtUs(1), 1501);
  EXPECT_FALSE(p.MaySend(1500));
  EXPECT_TRUE(p.MaySend(1501));
}

TEST(Pacer, BurstAfterIdleIsOneQuantum) {
  Pacer p(/*quantum_us=*/2000);
  p.SetRate(10'000'000, 0);  // 10 B/µs: a 2 ms quantum is 20000 B
  p.OnSent(0, 3000);
  // A long pause earns no more than the quantum.
  int sent = 0;
  while (p.MaySend(1'000'000)) {
    p.OnSent(1'000'000, 1000);
    ++sent;
  }
  EXPECT_EQ(sent, 20);
}

TEST(Pacer, LongRunAverageMatchesRateWithoutRoundingLoss) {
  Pacer p;
  p.SetRate(1'250'000, 0);  // 10 Mbit/s: 1.25 B/µs, fractional per µs
  uint64_t sent = 0;
  // Asked every µs for 10 s: rounding per call must not lose credit.
  for (int64_t now = 0; now < 10'000'000; ++now) {
    while (p.MaySend(now)) {
      p.OnSent(now, 1350);
      sent += 1350;
    }
  }
  EXPECT_GE(sent, 12'500'000u - 1350);
  EXPECT_LE(sent, 12'500'000u + 3000 + 1350);
}

TEST(Pacer, RateChangeKeepsEarnedCreditUpToTheNewBurst) {
  Pacer p;
  p.SetRate(1'000'000, 0);
  p.OnSent(0, 3000);            // credit 0
  p.SetRate(100'000'000, 500);  // 500 µs at 1 B/µs earned 500 B
  p.OnSent(500, 500);
  EXPECT_FALSE(p.MaySend(500));
  EXPECT_TRUE(p.MaySend(501));  // 100 B/µs now
}

}  // namespace
}  // namespace kcpp::kcp
