#include "transport/internal/creation_guard.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // the listener's creation, Unix ms
constexpr int64_t kSkew = 60'000;

crypt::ReplayStamp At(int64_t ms, uint64_t counter) {
  return crypt::ReplayStamp{static_cast<uint32_t>(ms), counter};
}

TEST(CreationGuardTest, AConversationCreatesOneSessionWhateverItsDatagram) {
  CreationGuard g(kStart, kSkew);
  const int64_t now = kStart + 5000;
  const uint64_t c = uint64_t{1} << 50;
  EXPECT_TRUE(g.Admit(7, At(now - 10, c), now));
  // The same datagram again, and a retransmission of its segment 0 (same
  // sender, a later counter and stamp), from any address.
  EXPECT_FALSE(g.Admit(7, At(now - 10, c), now));
  EXPECT_FALSE(g.Admit(7, At(now, c + 3), now + 200));
  EXPECT_FALSE(g.Admit(7, At(now, c + CreationGuard::kSameSender - 1), now + 200));
  // Another sender with the same conv (two clients drew it, or the peer
  // restarted with it): its counters start elsewhere.
  EXPECT_TRUE(g.Admit(7, At(now, c + (uint64_t{1} << 40)), now + 200));
  // Another conv with a nearby counter.
  EXPECT_TRUE(g.Admit(8, At(now, c), now + 200));
  EXPECT_EQ(g.size(), 3u);
}

TEST(CreationGuardTest, TheClockRefusesOldAndPreRestartStamps) {
  CreationGuard g(kStart, kSkew);
  EXPECT_FALSE(g.Admit(1, At(kStart - 1000, 1), kStart + 1000));  // before the start
  EXPECT_FALSE(g.Admit(1, At(kStart, 1), kStart + 1000));         // its very millisecond
  EXPECT_TRUE(g.Admit(1, At(kStart + 1, 1), kStart + 1000));
  const int64_t later = kStart + 3'600'000;
  EXPECT_FALSE(g.Admit(2, At(later - kSkew - 1, 1), later));  // too old
  EXPECT_FALSE(g.Admit(2, At(later + kSkew + 1, 1), later));  // too far ahead
  EXPECT_TRUE(g.Admit(2, At(later - kSkew, 1), later));
}

TEST(CreationGuardTest, EntriesAreForgottenOnceTheClockRefusesTheirDatagrams) {
  CreationGuard g(kStart, kSkew);
  const int64_t t = kStart + 1000;
  ASSERT_TRUE(g.Admit(7, At(t, 100), t));
  // Twice the skew later the entry goes; a replay of that conversation is
  // too old for the clock by then anyway.
  const int64_t later = t + 2 * kSkew + 1;
  EXPECT_FALSE(g.Admit(7, At(t, 100), later));
  EXPECT_TRUE(g.Admit(9, At(later, 1), later));
  EXPECT_EQ(g.size(), 1u);
}

TEST(CreationGuardTest, WhenFullTheOldestIsForgottenAndTheFloorRises) {
  CreationGuard g(kStart, kSkew, /*capacity=*/2);
  const int64_t t = kStart + 1000;
  ASSERT_TRUE(g.Admit(1, At(t, 1), t));
  ASSERT_TRUE(g.Admit(2, At(t + 10, 1), t + 10));
  ASSERT_TRUE(g.Admit(3, At(t + 20, 1), t + 20));  // forgets conv 1's entry
  EXPECT_EQ(g.size(), 2u);
  // conv 1's datagram is no longer remembered, but the floor refuses it and
  // anything else stamped at or before it.
  EXPECT_FALSE(g.Admit(1, At(t, 1), t + 30));
  EXPECT_FALSE(g.Admit(4, At(t, 1), t + 30));
  EXPECT_TRUE(g.Admit(4, At(t + 1, 1), t + 30));
}

}  // namespace
}  // namespace kcpp::transport::internal
