// AdaptiveParity: how many of a group's parity shards a sender sends, from
// the loss it measures (FecEncoder::SetParityToSend).
//
// FEC 10/3 adds 30 % to every byte whether the link loses anything or not.
// With adaptive parity the sender estimates the path's loss rate p from the
// segments it lost: those it resent and those the receiver's FEC rebuilt
// before any resend (acknowledged out of order, kcp::KcpCounters::
// late_acked_segs). Resends alone miss every loss FEC repaired in time, so
// the more parity worked the less loss they showed, and the estimate sank
// until parity was too little again.
//
// The floor: the fewest parity shards k, at most the configured
// parity_shards, for which a group of data_shards + k packets loses more
// than k (so FEC cannot rebuild it) with probability at most
// kTargetGroupFailure, losses taken as independent:
//
//   P(Binomial(data_shards + k, p) > k) <= 1 %
//
// For 10 data shards: up to 0.1 % loss -> 0 parity; 0.2 % to 1 % -> 1;
// 3 % -> 2; 5 % or more -> 3. It keeps most losses from waiting a round
// trip for their resend.
//
// Where KCP's window is short of the path an unrebuilt group costs more
// than its resend. KCP sends at most a window past the oldest
// unacknowledged segment, and a hole holds that segment about two round
// trips (found by later ACKs after one, resent, acknowledged after a
// second). With a window of r path lengths (r = window / bandwidth-delay
// product, both in data segments, from SetWindow) a window takes max(r, 1)
// round trips to deliver without a hole and max(r, 2) with one. If r < 2
// the sender takes the k, from the floor up to the maximum, with the most
// expected goodput (d = data_shards):
//
//   d / (d + k) x T / (T + P_w(k) x (max(r, 2) - T)),   T = max(r, 1),
//   P_w(k) = 1 - (1 - P(Binomial(d + k, p) > k)) ^ (window / (d + k))
//
// (P_w: some group of the window is beyond repair). Windows of 1024 on a
// 100 Mbit/s, 100 ms path (r = 1.2-1.5 with parity paid) take 2 parity
// shards from about 0.8 % loss and 3 from about 2.5 %, where the floor
// takes 1 and 2. Measured on those links (bench/README.md "WAN") the
// stalls cost far more than the parity: 57-59 Mbit/s with 1 parity shard
// against 66-69 with 2 at 1 % loss.
//
// The estimate is an average over windows of at least kWindowSegments new
// segments (a quarter weight each), so one burst moves it but does not
// decide it; at 1 % loss that is a handful of losses per window. So the
// count goes up as soon as the estimate asks for more, and down only when
// kStepDownMargin times the estimate would still ask for less: too little
// parity costs stalls, too much a few percent of the rate. The embedder
// leaves out losses found while its congestion controller drains a queue
// it overfilled on purpose (bbr's DRAIN): those losses are the sender's
// own, and a clean link would pay parity for them. Until the first window
// closes every parity shard is sent.
//
// Sans-IO and deterministic: the caller reports counts.
#ifndef KCPP_FEC_ADAPTIVE_PARITY_H_
#define KCPP_FEC_ADAPTIVE_PARITY_H_

#include <cstdint>

namespace kcpp::fec {

class AdaptiveParity {
 public:
  static constexpr uint64_t kWindowSegments = 256;
  static constexpr double kTargetGroupFailure = 0.01;
  static constexpr double kStepDownMargin = 1.25;

  // `max_parity` (the configured parity_shards) bounds the answer.
  AdaptiveParity(int data_shards, int max_parity);

  // New segments sent and segments lost (resent or rebuilt) since the last
  // call.
  void Observe(uint64_t sent, uint64_t lost);
  // KCP's window span (min(snd_wnd, rmt_wnd)) and the path's
  // bandwidth-delay product in data segments as measured now, with
  // parity() shards per group (0: unknown, the floor rule alone). Used from
  // the next window on.
  void SetWindow(uint32_t window_segments, double path_segments);

  // Parity shards to send per group.
  int parity() const { return parity_; }
  // The loss estimate, or -1 before the first window closed.
  double loss() const { return loss_; }

  // The rule above for a given loss rate, window (segments) and path
  // (bandwidth-delay product in packets, parity included), exposed for
  // tests and docs.
  static int ParityFor(int data_shards, int max_parity, double loss,
                       uint32_t window_segments = 0, double path_packets = 0);

 private:
  const int data_shards_;
  const int max_parity_;
  uint64_t window_sent_ = 0;
  uint64_t window_lost_ = 0;
  double loss_ = -1;
  uint32_t window_segments_ = 0;
  double path_packets_ = 0;
  int parity_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_ADAPTIVE_PARITY_H_
