// Detection of a peer's (data, parity) shard counts from the flags of the FEC
// packets it sends (wire-format.md §4.6, kcp-go HEAD autotune.go): the last
// 258 (flag, seqid) samples, ordered by seqid, contain a run of consecutive
// data packets and one of parity packets whose lengths are the counts.
#ifndef KCPP_FEC_INTERNAL_AUTO_TUNE_H_
#define KCPP_FEC_INTERNAL_AUTO_TUNE_H_

#include <cstdint>

namespace kcpp::fec::internal {

class AutoTune {
 public:
  static constexpr int kMaxSamples = 258;

  // Records one packet: is_data = flag 0xF1 (else parity).
  void Sample(bool is_data, uint32_t seqid);

  // Length of the first complete run of `is_data` packets among the samples
  // sorted by seqid (wrap-aware), or -1: the samples must be consecutive
  // seqids from the oldest up to the run's end, the run must start with a
  // switch to `is_data` and end with a switch away from it.
  int FindPeriod(bool is_data);

  void Reset() { count_ = head_ = 0; }

 private:
  struct Pulse {
    bool is_data;
    uint32_t seqid;
  };
  Pulse pulses_[kMaxSamples];
  Pulse sorted_[kMaxSamples];
  int head_ = 0;   // oldest sample
  int count_ = 0;  // samples held
};

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_AUTO_TUNE_H_
