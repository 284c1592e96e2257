// Pacer: a token bucket limiting bytes per second on a session's output
// (kcp-go's SetRateLimit, wire-format.md §5.5: burst 64 x 1500 bytes).
//
// Time is passed in (ms), so the pacer is deterministic under test. A rate of
// 0 means unlimited.
#ifndef KCPP_TRANSPORT_INTERNAL_PACER_H_
#define KCPP_TRANSPORT_INTERNAL_PACER_H_

#include <algorithm>
#include <cstdint>

namespace kcpp::transport::internal {

class Pacer {
 public:
  static constexpr int64_t kDefaultBurstBytes = 64 * 1500;

  explicit Pacer(int64_t bytes_per_second = 0, int64_t burst_bytes = kDefaultBurstBytes)
      : rate_(bytes_per_second), burst_(burst_bytes), tokens_(burst_bytes) {}

  void SetRate(int64_t bytes_per_second) { rate_ = bytes_per_second; }
  int64_t rate() const { return rate_; }

  // Whether `bytes` may be sent at `now_ms`; if so they are consumed.
  bool TryConsume(int64_t bytes, int64_t now_ms) {
    if (rate_ <= 0) return true;
    Refill(now_ms);
    if (tokens_ < bytes) return false;
    tokens_ -= bytes;
    return true;
  }

  // The earliest time at which `bytes` will be available (now if already).
  int64_t ReadyAt(int64_t bytes, int64_t now_ms) {
    if (rate_ <= 0) return now_ms;
    Refill(now_ms);
    if (tokens_ >= bytes) return now_ms;
    const int64_t missing = std::min(bytes, burst_) - tokens_;
    return now_ms + (missing * 1000 + rate_ - 1) / rate_;
  }

 private:
  void Refill(int64_t now_ms) {
    if (last_ms_ < 0) last_ms_ = now_ms;
    if (now_ms > last_ms_) {
      tokens_ = std::min(burst_, tokens_ + (now_ms - last_ms_) * rate_ / 1000);
      last_ms_ = now_ms;
    }
  }

  int64_t rate_;
  int64_t burst_;
  int64_t tokens_;
  int64_t last_ms_ = -1;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_PACER_H_
