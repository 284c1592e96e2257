#include "fec/adaptive_parity.h"

#include <algorithm>
#include <cmath>

namespace kcpp::fec {
namespace {

// P(X > k) for X ~ Binomial(n, p): a group of n packets loses more than the
// k its parity can rebuild.
double GroupFailure(int n, int k, double p) {
  double term = std::pow(1 - p, n);  // P(X = 0)
  double at_most_k = term;
  for (int i = 1; i <= k; ++i) {
    term *= static_cast<double>(n - i + 1) / i * p / (1 - p);
    at_most_k += term;
  }
  return std::max(0.0, 1 - at_most_k);
}

}  // namespace

AdaptiveParity::AdaptiveParity(int data_shards, int max_parity)
    : data_shards_(data_shards), max_parity_(max_parity), parity_(max_parity) {}

int AdaptiveParity::ParityFor(int data_shards, int max_parity, double loss,
                              uint32_t window_segments, double path_packets) {
  if (loss <= 0) return 0;
  if (loss >= 1) return max_parity;
  int floor = max_parity;
  for (int k = 0; k < max_parity; ++k) {
    if (GroupFailure(data_shards + k, k, loss) <= kTargetGroupFailure) {
      floor = k;
      break;
    }
  }
  if (window_segments == 0 || path_packets <= 0) return floor;
  int best = floor;
  double best_goodput = -1;
  for (int k = floor; k <= max_parity; ++k) {
    const int group = data_shards + k;
    // The window against the path in data segments, which k parity shards
    // per group leave fewer of.
    const double r = window_segments * group / (path_packets * data_shards);
    const double clean = std::max(r, 1.0);
    const double holed = std::max(r, 2.0);
    const double window_fails =
        1 - std::pow(1 - GroupFailure(group, k, loss),
                     static_cast<double>(window_segments) / group);
    const double goodput = static_cast<double>(data_shards) / group * clean /
                           (clean + window_fails * (holed - clean));
    if (goodput > best_goodput) {
      best = k;
      best_goodput = goodput;
    }
  }
  return best;
}

void AdaptiveParity::SetWindow(uint32_t window_segments, double path_segments) {
  window_segments_ = window_segments;
  // Measured while parity_ shards per group were sent: in packets.
  path_packets_ = path_segments * (data_shards_ + parity_) / data_shards_;
}

void AdaptiveParity::Observe(uint64_t sent, uint64_t lost) {
  window_sent_ += sent;
  window_lost_ += lost;
  if (window_sent_ < kWindowSegments) return;
  const double rate =
      std::min(1.0, static_cast<double>(window_lost_) / static_cast<double>(window_sent_));
  loss_ = loss_ < 0 ? rate : loss_ + (rate - loss_) / 4;
  window_sent_ = window_lost_ = 0;
  const int k = ParityFor(data_shards_, max_parity_, loss_, window_segments_, path_packets_);
  parity_ = k >= parity_ ? k
                         : std::min(parity_, ParityFor(data_shards_, max_parity_,
                                                       loss_ * kStepDownMargin, window_segments_,
                                                       path_packets_));
}

}  // namespace kcpp::fec
