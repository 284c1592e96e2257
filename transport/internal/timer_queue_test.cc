#include "transport/internal/timer_queue.h"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

TEST(TimerQueue, PopsInDeadlineOrderOnlyWhenDue) {
  TimerQueue q;
  const auto a = q.Create(), b = q.Create(), c = q.Create();
  q.Schedule(a, 30);
  q.Schedule(b, 10);
  q.Schedule(c, 20);
  EXPECT_EQ(q.NextDeadline(), 10);
  TimerQueue::Id id;
  EXPECT_FALSE(q.PopExpired(9, &id));
  ASSERT_TRUE(q.PopExpired(25, &id));
  EXPECT_EQ(id, b);
  ASSERT_TRUE(q.PopExpired(25, &id));
  EXPECT_EQ(id, c);
  EXPECT_FALSE(q.PopExpired(25, &id));
  EXPECT_FALSE(q.IsScheduled(b));
  EXPECT_TRUE(q.IsScheduled(a));
}

TEST(TimerQueue, RescheduleMovesInPlaceAndCancelRemoves) {
  TimerQueue q;
  const auto a = q.Create(), b = q.Create();
  q.Schedule(a, 100);
  q.Schedule(b, 200);
  q.Schedule(b, 50);  // earlier
  EXPECT_EQ(q.NextDeadline(), 50);
  EXPECT_EQ(q.scheduled(), 2u);  // moved, not duplicated
  q.Schedule(b, 500);            // later
  EXPECT_EQ(q.NextDeadline(), 100);
  q.Cancel(a);
  EXPECT_EQ(q.NextDeadline(), 500);
  q.Release(b);
  EXPECT_EQ(q.NextDeadline(), TimerQueue::kNever);
  EXPECT_EQ(q.Create(), b);  // ids are reused
}

// Against a reference model under random operations.
TEST(TimerQueue, MatchesReferenceModelUnderRandomOperations) {
  std::mt19937 rng(7);
  TimerQueue q;
  std::vector<TimerQueue::Id> ids;
  std::map<TimerQueue::Id, int64_t> model;
  for (int i = 0; i < 64; ++i) ids.push_back(q.Create());
  int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const auto id = ids[rng() % ids.size()];
    switch (rng() % 4) {
      case 0:
      case 1: {
        const int64_t d = now + static_cast<int64_t>(rng() % 1000);
        q.Schedule(id, d);
        model[id] = d;
        break;
      }
      case 2:
        q.Cancel(id);
        model.erase(id);
        break;
      case 3: {
        now += rng() % 50;
        TimerQueue::Id popped;
        while (q.PopExpired(now, &popped)) {
          ASSERT_TRUE(model.count(popped));
          const int64_t d = model[popped];
          ASSERT_LE(d, now);
          for (const auto& [other, od] : model) ASSERT_GE(od, d) << "popped out of order";
          model.erase(popped);
        }
        for (const auto& [other, od] : model) ASSERT_GT(od, now);
        break;
      }
    }
    ASSERT_EQ(q.scheduled(), model.size());
    int64_t min = TimerQueue::kNever;
    for (const auto& [other, od] : model) min = std::min(min, od);
    ASSERT_EQ(q.NextDeadline(), min);
  }
}

}  // namespace
}  // namespace kcpp::transport::internal
