#include "transport/internal/busy_poll.h"

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

// How many of `sleeps` sleeps poll when each poll hits with `hit(i)`.
template <typename Hit>
int Polls(BusyPollPolicy& p, int sleeps, Hit hit) {
  int polls = 0;
  for (int i = 0; i < sleeps; ++i) {
    if (!p.ShouldPoll()) continue;
    ++polls;
    p.Record(hit(polls));
  }
  return polls;
}

TEST(BusyPollPolicy, ZeroBudgetNeverPolls) {
  BusyPollPolicy p(0);
  EXPECT_EQ(Polls(p, 10000, [](int) { return true; }), 0);
  BusyPollPolicy negative(-5);
  EXPECT_EQ(negative.budget_us(), 0);
  EXPECT_FALSE(negative.ShouldPoll());
}

TEST(BusyPollPolicy, PollsBeforeEverySleepWhileRepliesComeFast) {
  BusyPollPolicy p(50);
  EXPECT_EQ(Polls(p, 1000, [](int) { return true; }), 1000);
  EXPECT_DOUBLE_EQ(p.hit_rate(), 1.0);
}

TEST(BusyPollPolicy, OnlyProbesWhenPollsKeepMissing) {
  BusyPollPolicy p(50);
  // A new loop starts optimistic, gives up after a few misses, then tries
  // once per kProbeEvery sleeps.
  const int sleeps = 100 * static_cast<int>(BusyPollPolicy::kProbeEvery);
  const int polls = Polls(p, sleeps, [](int) { return false; });
  EXPECT_LT(polls, 10 + sleeps / static_cast<int>(BusyPollPolicy::kProbeEvery) + 1);
  EXPECT_GE(polls, sleeps / static_cast<int>(BusyPollPolicy::kProbeEvery));
  EXPECT_LT(p.hit_rate(), 0.5);
}

TEST(BusyPollPolicy, ProbesThatKeepHittingResumePolling) {
  BusyPollPolicy p(50);
  for (int i = 0; i < 40; ++i) p.Record(false);
  ASSERT_LT(p.hit_rate(), 0.75);
  int sleeps_until_probe = 0;
  while (!p.ShouldPoll()) ++sleeps_until_probe;
  EXPECT_EQ(sleeps_until_probe + 1, static_cast<int>(BusyPollPolicy::kProbeEvery));
  // Traffic turned request/response: every probe hits, and within a few
  // dozen probes the loop polls before every sleep again.
  int sleeps = 0;
  int polls_in_a_row = 0;
  p.Record(true);
  while (polls_in_a_row < 100 && sleeps < 40 * static_cast<int>(BusyPollPolicy::kProbeEvery)) {
    ++sleeps;
    if (p.ShouldPoll()) {
      p.Record(true);
      ++polls_in_a_row;
    } else {
      polls_in_a_row = 0;
    }
  }
  EXPECT_EQ(polls_in_a_row, 100);
}

TEST(BusyPollPolicy, KeepsPollingThroughOccasionalMisses) {
  BusyPollPolicy p(50);
  // Nine hits in ten: polling never stops.
  EXPECT_EQ(Polls(p, 4000, [](int n) { return n % 10 != 0; }), 4000);
}

TEST(BusyPollPolicy, StopsWhenEveryHitIsFollowedByAMiss) {
  // An echo server of many sparse sessions: the client's ACK comes fast
  // (a hit), then nothing (a miss that costs the whole budget).
  BusyPollPolicy p(50);
  const int sleeps = 64 * static_cast<int>(BusyPollPolicy::kProbeEvery);
  EXPECT_LT(Polls(p, sleeps, [](int n) { return n % 2 == 1; }), sleeps / 16);
}

}  // namespace
}  // namespace kcpp::transport::internal
