#include "testing/fake_link.h"

#include <utility>

namespace kcpp::test {

FakeLink::FakeLink(const FakeLinkOptions& options) : options_(options), rng_(options.seed) {}

bool FakeLink::Chance(double p) {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  // 53 random bits -> [0, 1); independent of the standard library's
  // distribution implementations so runs replay across toolchains.
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
  return u < p;
}

void FakeLink::Schedule(absl::Span<const uint8_t> datagram, uint64_t due_ms) {
  if (queue_.size() >= options_.max_in_flight) {
    ++stats_.dropped;
    return;
  }
  size_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = storage_.size();
    storage_.emplace_back();
  }
  storage_[slot].assign(datagram.begin(), datagram.end());
  if (Chance(options_.corrupt) && !datagram.empty()) {
    std::vector<uint8_t>& d = storage_[slot];
    d[rng_() % d.size()] ^= static_cast<uint8_t>(1 + rng_() % 255);
    ++stats_.corrupted;
  }
  queue_.push(Pending{due_ms, next_order_++, slot});
}

void FakeLink::Send(absl::Span<const uint8_t> datagram, uint64_t now_ms) {
  ++stats_.sent;
  if (options_.burst_enter > 0.0) {
    bad_state_ = bad_state_ ? !Chance(options_.burst_exit) : Chance(options_.burst_enter);
  }
  if (Chance(options_.loss) || (bad_state_ && Chance(options_.burst_loss))) {
    ++stats_.dropped;
    return;
  }
  const int copies = Chance(options_.duplicate) ? 2 : 1;
  if (copies == 2) ++stats_.duplicated;
  for (int i = 0; i < copies; ++i) {
    uint64_t due = now_ms + options_.delay_ms;
    if (options_.jitter_ms > 0) due += rng_() % (uint64_t{options_.jitter_ms} + 1);
    if (Chance(options_.reorder)) {
      due += options_.reorder_delay_ms;
      ++stats_.reordered;
    }
    Schedule(datagram, due);
  }
}

size_t FakeLink::DeliverDue(uint64_t now_ms,
                            absl::FunctionRef<void(absl::Span<const uint8_t>)> deliver) {
  size_t n = 0;
  std::vector<uint8_t> current;
  while (!queue_.empty() && queue_.top().due_ms <= now_ms) {
    const Pending p = queue_.top();
    queue_.pop();
    // The slot is released only after `deliver` returns: it may Send().
    current.swap(storage_[p.slot]);
    ++stats_.delivered;
    stats_.bytes_delivered += current.size();
    deliver(absl::MakeConstSpan(current));
    storage_[p.slot].swap(current);
    free_slots_.push_back(p.slot);
    ++n;
  }
  return n;
}

std::optional<uint64_t> FakeLink::NextDeliveryTime() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().due_ms;
}

}  // namespace kcpp::test
