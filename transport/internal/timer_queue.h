// TimerQueue: an indexed binary min-heap of deadlines (milliseconds).
//
// Each session owns one timer id for its whole life and re-arms it after
// every flush with KCP's next deadline, so the operation that matters is
// "move this timer": O(log n) in place, no allocation, no stale entries (a
// lazy-deletion heap would grow by one entry per re-arm). Idle sessions sit
// in the heap and cost nothing until their deadline.
//
// Not thread-safe: owned by one event loop.
#ifndef KCPP_TRANSPORT_INTERNAL_TIMER_QUEUE_H_
#define KCPP_TRANSPORT_INTERNAL_TIMER_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace kcpp::transport::internal {

class TimerQueue {
 public:
  using Id = uint32_t;
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // A new, unscheduled timer. Ids are reused after Release.
  Id Create();
  // Frees `id` (unscheduling it first).
  void Release(Id id);
  // Arms or moves `id` to fire at `deadline_ms`.
  void Schedule(Id id, int64_t deadline_ms);
  // Disarms `id` (no-op if not armed).
  void Cancel(Id id);
  bool IsScheduled(Id id) const { return pos_[id] != kNotQueued; }

  // Earliest deadline, or kNever.
  int64_t NextDeadline() const { return heap_.empty() ? kNever : heap_[0].deadline; }
  size_t scheduled() const { return heap_.size(); }

  // Removes and returns the earliest timer if it is due at `now_ms`, else
  // returns false. The popped timer is unscheduled (its callback re-arms it).
  bool PopExpired(int64_t now_ms, Id* id);

 private:
  struct Entry {
    int64_t deadline;
    Id id;
  };
  static constexpr uint32_t kNotQueued = std::numeric_limits<uint32_t>::max();
  void SiftUp(uint32_t i);
  void SiftDown(uint32_t i);
  void Place(uint32_t i, const Entry& e) {
    heap_[i] = e;
    pos_[e.id] = i;
  }
  void RemoveAt(uint32_t i);

  std::vector<Entry> heap_;
  std::vector<uint32_t> pos_;  // id -> heap index or kNotQueued
  std::vector<Id> free_;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_TIMER_QUEUE_H_
