// Detection of a peer's (data, parity) shard counts from the flags of the FEC
// packets it sends (docs/protocol.md §4.6, kcp-go HEAD autotune.go): the last
// 258 (flag, seqid) samples, ordered by seqid, contain a run of consecutive
// data packets and one of parity packets whose lengths are the counts.
//
// kcp-go copies and sorts the samples on every attempt. Here they are kept
// sorted as they arrive (one insertion and one removal per sample), so an
// attempt is a linear scan: a peer whose flags never settle costs O(258) per
// packet, not a sort. Every session with FEC holds one: 6 bytes per sample
// (1,560 bytes in all).
#ifndef KCPP_FEC_INTERNAL_AUTO_TUNE_H_
#define KCPP_FEC_INTERNAL_AUTO_TUNE_H_

#include <cstdint>

namespace kcpp::fec::internal {

class AutoTune {
 public:
  static constexpr int kMaxSamples = 258;

  // Records one packet: is_data = flag 0xF1 (else parity). Replaces the
  // oldest sample once kMaxSamples are held.
  void Sample(bool is_data, uint32_t seqid);

  // Length of the first complete run of `is_data` packets among the samples
  // in wrap-aware seqid order, or -1: the samples must be consecutive seqids
  // from the first one up to the run's end, the run must start with a switch
  // to `is_data` and end with a switch away from it.
  int FindPeriod(bool is_data) const;

  int samples() const { return count_; }

 private:
  // Tag of a sample: bit 15 = is_data, bits 0..14 = arrival number modulo
  // 2^15 (unique among kMaxSamples samples), to find the oldest.
  static constexpr uint16_t kDataBit = 0x8000;
  static constexpr uint16_t kSerialMask = 0x7FFF;
  bool is_data(int i) const { return (tag_[i] & kDataBit) != 0; }

  // Samples sorted by seqid as an unsigned number (ties in arrival order),
  // as two arrays: no padding.
  uint32_t seqid_[kMaxSamples];
  uint16_t tag_[kMaxSamples];
  int16_t count_ = 0;
  uint16_t next_serial_ = 0;  // modulo 2^15
  uint32_t newest_seqid_ = 0;
};

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_AUTO_TUNE_H_
