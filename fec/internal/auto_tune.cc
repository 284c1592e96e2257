#include "fec/internal/auto_tune.h"

#include <algorithm>

namespace kcpp::fec::internal {

void AutoTune::Sample(bool is_data, uint32_t seqid) {
  pulses_[(head_ + count_) % kMaxSamples] = {is_data, seqid};
  if (count_ < kMaxSamples) {
    ++count_;
  } else {
    head_ = (head_ + 1) % kMaxSamples;
  }
}

int AutoTune::FindPeriod(bool is_data) {
  if (count_ < 3) return -1;
  for (int i = 0; i < count_; ++i) sorted_[i] = pulses_[(head_ + i) % kMaxSamples];
  // kcp-go sorts with the wrap-aware order int32(a - b) < 0. That order is
  // not transitive over arbitrary (hostile) seqids, so sort by the distance
  // from a point half the space behind the newest sample instead: the same
  // order for every sample within 2^31 of the newest, and always a valid
  // strict weak order.
  const uint32_t base = pulses_[(head_ + count_ - 1) % kMaxSamples].seqid - 0x80000000u;
  std::stable_sort(sorted_, sorted_ + count_, [base](const Pulse& a, const Pulse& b) {
    return a.seqid - base < b.seqid - base;
  });
  // Left edge: the first switch to `is_data`, every step so far consecutive.
  int left = -1;
  for (int i = 1; i < count_; ++i) {
    if (sorted_[i - 1].seqid + 1 != sorted_[i].seqid) return -1;
    if (sorted_[i - 1].is_data != is_data && sorted_[i].is_data == is_data) {
      left = i;
      break;
    }
  }
  if (left < 0) return -1;
  // Right edge: the next switch away from it, still consecutive.
  for (int i = left + 1; i < count_; ++i) {
    if (sorted_[i - 1].seqid + 1 != sorted_[i].seqid) return -1;
    if (sorted_[i - 1].is_data == is_data && sorted_[i].is_data != is_data) return i - left;
  }
  return -1;
}

}  // namespace kcpp::fec::internal
