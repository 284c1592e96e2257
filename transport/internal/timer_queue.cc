#include "transport/internal/timer_queue.h"

namespace kcpp::transport::internal {

TimerQueue::Id TimerQueue::Create() {
  if (!free_.empty()) {
    const Id id = free_.back();
    free_.pop_back();
    return id;
  }
  pos_.push_back(kNotQueued);
  return static_cast<Id>(pos_.size() - 1);
}

void TimerQueue::Release(Id id) {
  Cancel(id);
  free_.push_back(id);
}

void TimerQueue::Schedule(Id id, int64_t deadline_ms) {
  uint32_t i = pos_[id];
  if (i == kNotQueued) {
    heap_.push_back({deadline_ms, id});
    i = static_cast<uint32_t>(heap_.size() - 1);
    pos_[id] = i;
    SiftUp(i);
    return;
  }
  const int64_t old = heap_[i].deadline;
  heap_[i].deadline = deadline_ms;
  if (deadline_ms < old) {
    SiftUp(i);
  } else {
    SiftDown(i);
  }
}

void TimerQueue::Cancel(Id id) {
  const uint32_t i = pos_[id];
  if (i != kNotQueued) RemoveAt(i);
}

bool TimerQueue::PopExpired(int64_t now_ms, Id* id) {
  if (heap_.empty() || heap_[0].deadline > now_ms) return false;
  *id = heap_[0].id;
  RemoveAt(0);
  return true;
}

void TimerQueue::RemoveAt(uint32_t i) {
  pos_[heap_[i].id] = kNotQueued;
  const Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  const int64_t removed_deadline = heap_[i].deadline;
  Place(i, last);
  if (last.deadline < removed_deadline) {
    SiftUp(i);
  } else {
    SiftDown(i);
  }
}

void TimerQueue::SiftUp(uint32_t i) {
  const Entry e = heap_[i];
  while (i > 0) {
    const uint32_t parent = (i - 1) / 2;
    if (heap_[parent].deadline <= e.deadline) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, e);
}

void TimerQueue::SiftDown(uint32_t i) {
  const Entry e = heap_[i];
  const uint32_t n = static_cast<uint32_t>(heap_.size());
  while (true) {
    uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].deadline < heap_[child].deadline) ++child;
    if (heap_[child].deadline >= e.deadline) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, e);
}

}  // namespace kcpp::transport::internal
