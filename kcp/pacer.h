// Pacer: a token bucket that spaces a session's datagrams out in time, and
// the PacingGate a pacing engine consults (kcp/kcp.h, kcp/congestion.h).
//
// Bytes are charged when a datagram really leaves (OnSent, with its size on
// the wire: FEC parity, cipher headers and ACK-only datagrams included), and
// the gate opens while the bucket holds any credit, so the bucket may go
// into debt by one datagram; the debt is paid before the next one. The
// bucket holds at most one quantum: `quantum_us` of credit at the current
// rate (at least two 1500-byte datagrams), which bounds the burst after a
// pause and matches the embedder's timer granularity (an embedder that can
// only wake once a millisecond needs a millisecond of credit per wake-up).
//
//   kcp::Pacer pacer;
//   kcp.SetPacingGate(&pacer);
//   pacer.SetRate(rate_bytes_per_second, now_us);   // after every event
//   pacer.OnSent(now_us, wire_bytes);               // per datagram sent
//   if (!pacer.MaySend(now_us)) wake_at = pacer.ReadyAtUs(now_us);
//
// Sans-IO: time is passed in (µs). A rate of 0 is unlimited.
#ifndef KCPP_KCP_PACER_H_
#define KCPP_KCP_PACER_H_

#include <algorithm>
#include <cstdint>

#include "kcp/kcp.h"

namespace kcpp::kcp {

class Pacer final : public PacingGate {
 public:
  static constexpr int64_t kDefaultQuantumUs = 1000;
  static constexpr int64_t kMinBurstBytes = 2 * 1500;

  explicit Pacer(int64_t quantum_us = kDefaultQuantumUs) : quantum_us_(quantum_us) {}

  // Bytes per second on the wire; 0: unlimited. Credit earned so far at the
  // old rate is kept (up to the new burst).
  void SetRate(uint64_t bytes_per_second, int64_t now_us) {
    Refill(now_us);
    rate_ = std::min<uint64_t>(bytes_per_second, kMaxRate);
    burst_ = std::max<int64_t>(static_cast<int64_t>(rate_) * quantum_us_, kMinBurstBytes * kUnit);
    credit_ = std::min(credit_, burst_);
  }
  uint64_t rate() const { return rate_; }

  bool MaySend(int64_t now_us) override {
    if (rate_ == 0) return true;
    Refill(now_us);
    return credit_ > 0;
  }
  // A datagram of `bytes` left at `now_us`.
  void OnSent(int64_t now_us, uint64_t bytes) {
    if (rate_ == 0) return;
    Refill(now_us);
    credit_ -= static_cast<int64_t>(bytes) * kUnit;
  }
  // When MaySend will next say yes (now_us if it does already).
  int64_t ReadyAtUs(int64_t now_us) {
    if (rate_ == 0) return now_us;
    Refill(now_us);
    if (credit_ > 0) return now_us;
    // The first µs at which the credit is positive (rate_ is credit per µs).
    return now_us + (-credit_) / static_cast<int64_t>(rate_) + 1;
  }

 private:
  // Credit is kept in millionths of a byte, so a rate in bytes per second
  // is exactly the credit earned per µs and nothing is lost to rounding.
  static constexpr int64_t kUnit = 1'000'000;
  static constexpr uint64_t kMaxRate = uint64_t{1} << 40;  // 1 TB/s

  void Refill(int64_t now_us) {
    if (now_us <= last_us_) return;
    if (last_us_ != INT64_MIN && rate_ != 0) {
      const int64_t elapsed = std::min<int64_t>(now_us - last_us_, 1'000'000);
      credit_ = std::min(burst_, credit_ + elapsed * static_cast<int64_t>(rate_));
    }
    last_us_ = now_us;
  }

  const int64_t quantum_us_;
  uint64_t rate_ = 0;
  int64_t burst_ = kMinBurstBytes * kUnit;
  int64_t credit_ = kMinBurstBytes * kUnit;
  int64_t last_us_ = INT64_MIN;
};

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_PACER_H_
