#include "fec/internal/auto_tune.h"

#include <algorithm>
#include <cstring>

namespace kcpp::fec::internal {

void AutoTune::Sample(bool is_data, uint32_t seqid) {
  if (count_ == kMaxSamples) {
    // Drop the oldest sample: serials are consecutive, so it is the one
    // kMaxSamples arrivals back.
    const uint32_t oldest = next_serial_ - kMaxSamples;
    int i = 0;
    while (sorted_[i].serial != oldest) ++i;
    memmove(&sorted_[i], &sorted_[i + 1], sizeof(Pulse) * (count_ - i - 1));
    --count_;
  }
  // After equal seqids, so ties keep arrival order.
  Pulse* at = std::upper_bound(sorted_, sorted_ + count_, seqid,
                               [](uint32_t s, const Pulse& p) { return s < p.seqid; });
  memmove(at + 1, at, sizeof(Pulse) * (sorted_ + count_ - at));
  *at = {seqid, next_serial_++, is_data};
  ++count_;
  newest_seqid_ = seqid;
}

int AutoTune::FindPeriod(bool is_data) const {
  if (count_ < 3) return -1;
  // kcp-go orders samples by int32(a - b) < 0. Relative to the newest sample
  // that is the unsigned order of (seqid - base) with base half the space
  // behind it, i.e. the sorted array rotated to start at the first seqid >=
  // base. (Unlike a comparison sort with that intransitive order, this is
  // well defined for any seqids.)
  const uint32_t base = newest_seqid_ - 0x80000000u;
  const int start =
      static_cast<int>(std::lower_bound(sorted_, sorted_ + count_, base,
                                        [](const Pulse& p, uint32_t s) { return p.seqid < s; }) -
                       sorted_);
  const auto at = [&](int i) -> const Pulse& { return sorted_[(start + i) % count_]; };
  // Left edge: the first switch to `is_data`, every step so far consecutive.
  int left = -1;
  for (int i = 1; i < count_; ++i) {
    if (at(i - 1).seqid + 1 != at(i).seqid) return -1;
    if (at(i - 1).is_data != is_data && at(i).is_data == is_data) {
      left = i;
      break;
    }
  }
  if (left < 0) return -1;
  // Right edge: the next switch away from it, still consecutive.
  for (int i = left + 1; i < count_; ++i) {
    if (at(i - 1).seqid + 1 != at(i).seqid) return -1;
    if (at(i - 1).is_data == is_data && at(i).is_data != is_data) return i - left;
  }
  return -1;
}

}  // namespace kcpp::fec::internal
