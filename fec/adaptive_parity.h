// AdaptiveParity: how many of a group's parity shards a sender sends, from
// the loss it measures (FecEncoder::SetParityToSend).
//
// FEC 10/3 adds 30 % to every byte whether the link loses anything or not.
// With adaptive parity the sender estimates the path's loss rate p from its
// own retransmissions (KCP resends a lost segment whether or not the
// receiver's FEC rebuilt it, so retransmissions measure the raw loss, not
// what FEC left over) and sends the fewest parity shards k, at most the
// configured parity_shards, for which a group of data_shards + k packets
// loses more than k (so FEC cannot rebuild it) with probability at most
// kTargetGroupFailure, losses taken as independent:
//
//   P(Binomial(data_shards + k, p) > k) <= 1 %
//
// For 10 data shards: up to 0.1 % loss -> 0 parity; 0.2 % to 1 % -> 1;
// 3 % -> 2; 5 % or more -> 3.
// The embedder leaves out retransmissions found while its congestion
// controller drains a queue it overfilled on purpose (bbr's DRAIN): those
// losses are the sender's own, and a clean link would pay parity for them.
// The estimate is an average over windows of at least kWindowSegments new
// segments (a quarter weight each), so one burst moves it but does not
// decide it. Until the first window closes every parity shard is sent.
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

  // `max_parity` (the configured parity_shards) bounds the answer.
  AdaptiveParity(int data_shards, int max_parity);

  // New segments sent and segments retransmitted since the last call.
  void Observe(uint64_t sent, uint64_t retransmitted);

  // Parity shards to send per group.
  int parity() const { return parity_; }
  // The loss estimate, or -1 before the first window closed.
  double loss() const { return loss_; }

  // The rule above for a given loss rate (exposed for tests and docs).
  static int ParityFor(int data_shards, int max_parity, double loss);

 private:
  const int data_shards_;
  const int max_parity_;
  uint64_t window_sent_ = 0;
  uint64_t window_lost_ = 0;
  double loss_ = -1;
  int parity_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_ADAPTIVE_PARITY_H_
