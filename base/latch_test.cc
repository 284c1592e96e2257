#include "base/latch.h"

#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace kcpp {
namespace {

TEST(Latch, WaitReturnsOnceEveryThreadCountedDown) {
  constexpr int kThreads = 4;
  Latch done(kThreads);
  std::vector<int> written(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      written[i] = i + 1;  // handed over by the latch (TSan checks)
      done.CountDown();
    });
  }
  done.Wait();
  EXPECT_TRUE(done.IsDone());
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(written[i], i + 1);
  for (std::thread& t : threads) t.join();
}

TEST(Latch, WaitUntilGivesUpAtTheDeadline) {
  Latch never(1);
  EXPECT_FALSE(never.WaitFor(absl::Milliseconds(1)));
  EXPECT_FALSE(never.IsDone());
}

TEST(Latch, CountingDownPastZeroIsHarmless) {
  Latch once(1);
  once.CountDown();
  once.CountDown();
  EXPECT_TRUE(once.WaitUntil(absl::InfinitePast()));
}

}  // namespace
}  // namespace kcpp
