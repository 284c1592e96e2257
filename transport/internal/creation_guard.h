// CreationGuard: with replay protection (SessionOptions::replay_protection,
// docs/protocol.md §11.10), decides whether an authenticated datagram that
// would create a session of a listener is fresh — not a replay of any
// datagram of a conversation that created a session here before.
//
// A per-session window cannot answer this: the session the datagram would
// create does not exist yet, and the one a replay belongs to may live on
// another loop or have ended. So a listener remembers, for each session it
// created, the conv and the counter of the datagram that created it. The
// peer's session numbers all its datagrams upwards from a random start below
// 2^62, so any datagram of that conversation — the original, or any
// retransmission of its segment 0 — carries the same conv and a counter
// within 2^32 of the remembered one, while a new session of any peer starts
// elsewhere (the chance that a new start falls within 2^32 of a remembered
// one is 2^-29 per entry). Entries are kept for twice the clock skew; older
// datagrams are refused by the clock alone. The memory is bounded by
// `capacity`: when it is full the oldest entry is forgotten and nothing
// stamped at or before it may create a session from then on (a legitimate
// peer re-stamps every retransmission, so it only waits for its next one).
// Sans-IO: the caller passes the clock. Thread-safe (a listener's loops
// share one).
#ifndef KCPP_TRANSPORT_INTERNAL_CREATION_GUARD_H_
#define KCPP_TRANSPORT_INTERNAL_CREATION_GUARD_H_

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "crypt/replay_window.h"

namespace kcpp::transport::internal {

class CreationGuard {
 public:
  // 65536 creations within twice the skew (over 500 a second at the default
  // minute) before the floor starts to rise: about 4 MiB at most.
  static constexpr size_t kDefaultCapacity = 65536;
  // Counters this close to a remembered one belong to the same sender.
  static constexpr uint64_t kSameSender = uint64_t{1} << 32;

  // `start_ms`: when the listener was created (Unix ms); nothing stamped
  // at or before it creates a session (crypt::StampIsFresh).
  CreationGuard(int64_t start_ms, int64_t max_skew_ms, size_t capacity = kDefaultCapacity)
      : start_ms_(start_ms), max_skew_ms_(max_skew_ms), capacity_(capacity) {}

  // True, and remembered, if a datagram of `conv` stamped `stamp` arriving
  // at `now_ms` (Unix ms) may create a session.
  bool Admit(uint32_t conv, const crypt::ReplayStamp& stamp, int64_t now_ms) {
    if (!crypt::StampIsFresh(stamp.milliseconds, now_ms, start_ms_, max_skew_ms_)) return false;
    // Within the skew, so the 32-bit stamp expands to Unix ms unambiguously.
    const int64_t stamp_ms =
        now_ms + static_cast<int32_t>(stamp.milliseconds - static_cast<uint32_t>(now_ms));
    std::lock_guard<std::mutex> lock(mu_);
    if (stamp_ms <= floor_ms_) return false;
    // Forget what the clock refuses anyway.
    while (!order_.empty() && order_.front().stamp_ms < now_ms - 2 * max_skew_ms_) Forget();
    auto it = convs_.find(conv);
    if (it != convs_.end()) {
      for (uint64_t c : it->second) {
        const uint64_t distance = c > stamp.counter ? c - stamp.counter : stamp.counter - c;
        if (distance < kSameSender) return false;
      }
    }
    convs_[conv].push_back(stamp.counter);
    order_.push_back(Entry{conv, stamp.counter, stamp_ms});
    if (order_.size() > capacity_) {
      floor_ms_ = std::max(floor_ms_, order_.front().stamp_ms);
      Forget();
    }
    return true;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return order_.size();
  }

 private:
  struct Entry {
    uint32_t conv;
    uint64_t counter;
    int64_t stamp_ms;
  };
  // Drops the oldest entry. mu_ held.
  void Forget() {
    const Entry& e = order_.front();
    auto it = convs_.find(e.conv);
    if (it != convs_.end()) {
      auto& v = it->second;
      v.erase(std::find(v.begin(), v.end(), e.counter));
      if (v.empty()) convs_.erase(it);
    }
    order_.pop_front();
  }

  const int64_t start_ms_;
  const int64_t max_skew_ms_;
  const size_t capacity_;
  mutable std::mutex mu_;
  int64_t floor_ms_ = INT64_MIN;  // guarded by mu_; rises once full
  // conv -> the creating counters remembered for it (usually one).
  absl::flat_hash_map<uint32_t, absl::InlinedVector<uint64_t, 1>> convs_;  // guarded by mu_
  std::deque<Entry> order_;  // guarded by mu_, in arrival order
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_CREATION_GUARD_H_
