// BusyPollPolicy: whether an event loop that is about to sleep should first
// poll its epoll set for a while (EngineOptions::busy_poll_us).
//
// Waking a sleeping thread costs tens of microseconds on a virtual machine
// (an inter-processor interrupt, a VM exit, the scheduler) — most of a
// loopback round trip. A loop that polls a little before it sleeps catches
// the next datagram without that cost, which pays when replies come fast
// (request/response, interactive traffic) and wastes the budget when they
// do not (thousands of sessions each sending now and then). The policy
// learns which case it is in from the outcome of its own polls: a poll
// "hits" when an event arrived within the budget. It polls while hits are
// common, and otherwise only probes now and then (every kProbeEvery-th
// sleep), so a loop whose traffic does not answer fast spends almost
// nothing on polling.
//
// Pure state, no clock: the loop measures, the policy decides. Loop thread
// only.
#ifndef KCPP_TRANSPORT_INTERNAL_BUSY_POLL_H_
#define KCPP_TRANSPORT_INTERNAL_BUSY_POLL_H_

#include <cstdint>

namespace kcpp::transport::internal {

class BusyPollPolicy {
 public:
  // A loop that is not polling tries once every this many sleeps.
  static constexpr uint32_t kProbeEvery = 128;

  // `budget_us` 0 never polls.
  explicit BusyPollPolicy(int64_t budget_us = 0) : budget_us_(budget_us < 0 ? 0 : budget_us) {}

  int64_t budget_us() const { return budget_us_; }

  // Asked before each sleep that follows work; true: poll for budget_us()
  // first, then Record the outcome.
  bool ShouldPoll() {
    if (budget_us_ == 0) return false;
    if (rate_ >= kPollAt) return true;
    if (++since_probe_ < kProbeEvery) return false;
    since_probe_ = 0;
    return true;
  }

  // A hit moves the estimate halfway to "always" (one fast answer is
  // enough to start polling again); a miss takes an eighth off (a loop
  // that was polling keeps at it through a few misses).
  void Record(bool hit) {
    if (hit) {
      rate_ = (rate_ + kScale) / 2;
    } else {
      rate_ -= rate_ / 8;
    }
  }

  // The estimated share of polls that hit, 0..1.
  double hit_rate() const { return static_cast<double>(rate_) / kScale; }

 private:
  static constexpr uint32_t kScale = 1024;
  static constexpr uint32_t kPollAt = kScale / 2;

  int64_t budget_us_;
  uint32_t rate_ = kScale;  // optimistic: a new loop polls until it learns
  uint32_t since_probe_ = 0;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_BUSY_POLL_H_
