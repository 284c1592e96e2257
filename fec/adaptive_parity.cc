#include "fec/adaptive_parity.h"

#include <algorithm>
#include <cmath>

namespace kcpp::fec {

AdaptiveParity::AdaptiveParity(int data_shards, int max_parity)
    : data_shards_(data_shards), max_parity_(max_parity), parity_(max_parity) {}

int AdaptiveParity::ParityFor(int data_shards, int max_parity, double loss) {
  if (loss <= 0) return 0;
  if (loss >= 1) return max_parity;
  for (int k = 0; k < max_parity; ++k) {
    // P(X > k) for X ~ Binomial(n, loss): 1 - sum_{i <= k} P(X = i).
    const int n = data_shards + k;
    double term = std::pow(1 - loss, n);  // P(X = 0)
    double at_most_k = term;
    for (int i = 1; i <= k; ++i) {
      term *= static_cast<double>(n - i + 1) / i * loss / (1 - loss);
      at_most_k += term;
    }
    if (1 - at_most_k <= kTargetGroupFailure) return k;
  }
  return max_parity;
}

void AdaptiveParity::Observe(uint64_t sent, uint64_t retransmitted) {
  window_sent_ += sent;
  window_lost_ += retransmitted;
  if (window_sent_ < kWindowSegments) return;
  const double rate =
      std::min(1.0, static_cast<double>(window_lost_) / static_cast<double>(window_sent_));
  loss_ = loss_ < 0 ? rate : loss_ + (rate - loss_) / 4;
  window_sent_ = window_lost_ = 0;
  parity_ = ParityFor(data_shards_, max_parity_, loss_);
}

}  // namespace kcpp::fec
