#include "transport/internal/pacer.h"

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

TEST(Pacer, UnlimitedByDefault) {
  Pacer p;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(p.TryConsume(1 << 20, 0));
}

TEST(Pacer, BurstThenRate) {
  Pacer p(/*bytes_per_second=*/100000, /*burst_bytes=*/3000);
  EXPECT_TRUE(p.TryConsume(1500, 0));
  EXPECT_TRUE(p.TryConsume(1500, 0));
  EXPECT_FALSE(p.TryConsume(1500, 0));  // burst spent
  EXPECT_EQ(p.ReadyAt(1500, 0), 15);    // 1500 B at 100 KB/s = 15 ms
  EXPECT_FALSE(p.TryConsume(1500, 14));
  EXPECT_TRUE(p.TryConsume(1500, 15));
  // Over a long idle period tokens never exceed the burst.
  EXPECT_TRUE(p.TryConsume(3000, 100000));
  EXPECT_FALSE(p.TryConsume(1, 100000));
}

TEST(Pacer, LongRunAverageMatchesRate) {
  Pacer p(1000000, 1500);
  int64_t sent = 0;
  for (int64_t now = 0; now < 10000; ++now) {
    while (p.TryConsume(1000, now)) sent += 1000;
  }
  // 10 s at 1 MB/s, plus at most one burst.
  EXPECT_GE(sent, 9990000);
  EXPECT_LE(sent, 10000000 + 1500);
}

}  // namespace
}  // namespace kcpp::transport::internal
