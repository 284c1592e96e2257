#include "fec/internal/auto_tune.h"

#include <algorithm>
#include <cstring>

namespace kcpp::fec::internal {

void AutoTune::Sample(bool is_data, uint32_t seqid) {
  if (count_ == kMaxSamples) {
    // Drop the oldest sample: serials are consecutive, so it is the one
    // kMaxSamples arrivals back.
    const uint16_t oldest = (next_serial_ - kMaxSamples) & kSerialMask;
    int i = 0;
    while ((tag_[i] & kSerialMask) != oldest) ++i;
    memmove(&seqid_[i], &seqid_[i + 1], sizeof(seqid_[0]) * (count_ - i - 1));
    memmove(&tag_[i], &tag_[i + 1], sizeof(tag_[0]) * (count_ - i - 1));
    --count_;
  }
  // After equal seqids, so ties keep arrival order.
  const int at = static_cast<int>(std::upper_bound(seqid_, seqid_ + count_, seqid) - seqid_);
  memmove(&seqid_[at + 1], &seqid_[at], sizeof(seqid_[0]) * (count_ - at));
  memmove(&tag_[at + 1], &tag_[at], sizeof(tag_[0]) * (count_ - at));
  seqid_[at] = seqid;
  tag_[at] = static_cast<uint16_t>(next_serial_ | (is_data ? kDataBit : 0));
  next_serial_ = (next_serial_ + 1) & kSerialMask;
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
  const int start = static_cast<int>(std::lower_bound(seqid_, seqid_ + count_, base) - seqid_);
  const auto at = [&](int i) { return (start + i) % count_; };
  // Left edge: the first switch to `is_data`, every step so far consecutive.
  int left = -1;
  for (int i = 1; i < count_; ++i) {
    if (seqid_[at(i - 1)] + 1 != seqid_[at(i)]) return -1;
    if (this->is_data(at(i - 1)) != is_data && this->is_data(at(i)) == is_data) {
      left = i;
      break;
    }
  }
  if (left < 0) return -1;
  // Right edge: the next switch away from it, still consecutive.
  for (int i = left + 1; i < count_; ++i) {
    if (seqid_[at(i - 1)] + 1 != seqid_[at(i)]) return -1;
    if (this->is_data(at(i - 1)) == is_data && this->is_data(at(i)) != is_data) return i - left;
  }
  return -1;
}

}  // namespace kcpp::fec::internal
