// Latch: a count that threads bring down and other threads wait to see
// reach zero, like C++20's std::latch. With a count of 1 it is a one-shot
// notification.
//
//   Latch done(shards.size());
//   for (Shard& s : shards) s.Post([&] { s.Stop(); done.CountDown(); });
//   done.Wait();     // every shard has stopped; what they wrote is visible
//
// absl::BlockingCounter and absl::Notification do the same, but Debian's
// Abseil is not built with ThreadSanitizer, so TSan cannot see their
// synchronization: a plain write before absl::Notification::Notify() and a
// read after WaitForNotification() are reported as a data race (checked
// with gcc -fsanitize=thread against libabsl_synchronization 20220623).
// Latch is a std::mutex and a std::condition_variable, which TSan sees, so
// code and tests that run under --config=tsan use it.
//
// Counting down below zero does nothing, so a callback that may run more
// than once can count down without keeping track.
//
// Thread safety: every method may be called from any thread.
#ifndef KCPP_BASE_LATCH_H_
#define KCPP_BASE_LATCH_H_

#include <condition_variable>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kcpp {

class Latch {
 public:
  explicit Latch(int count = 1) : count_(count) {}
  Latch(const Latch&) = delete;
  Latch& operator=(const Latch&) = delete;

  // Brings the count down by one; at zero, wakes every waiter.
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_ > 0 && --count_ == 0) zero_.notify_all();
  }
  // Whether the count has reached zero.
  bool IsDone() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_ == 0;
  }
  // Blocks until the count is zero.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    zero_.wait(lock, [&] { return count_ == 0; });
  }
  // As Wait, but gives up at `deadline`; true if the count reached zero.
  bool WaitUntil(absl::Time deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return zero_.wait_until(lock, absl::ToChronoTime(deadline), [&] { return count_ == 0; });
  }
  bool WaitFor(absl::Duration timeout) { return WaitUntil(absl::Now() + timeout); }

 private:
  mutable std::mutex mu_;
  std::condition_variable zero_;
  int count_;  // guarded by mu_
};

}  // namespace kcpp

#endif  // KCPP_BASE_LATCH_H_
