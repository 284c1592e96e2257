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
// "hits" when an event arrived within the budget. A miss costs the whole
// budget and a hit saves one wake-up, so polling pays only when most polls
// hit: the loop polls while its estimated hit rate (a moving average over
// about the last eight polls) is at least 3/4, and otherwise only probes
// once every kProbeEvery sleeps. A pattern of one hit then one miss (a
// server whose every echo is followed by the client's ACK, then silence)
// therefore stops polling, and a loop whose traffic does not answer fast
// spends almost nothing on it.
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

  // Moves the estimate an eighth of the way towards the outcome.
  void Record(bool hit) {
    const int32_t target = hit ? kScale : 0;
    rate_ += (target - rate_) / 8;
  }

  // The estimated share of polls that hit, 0..1.
  double hit_rate() const { return static_cast<double>(rate_) / kScale; }

 private:
  static constexpr int32_t kScale = 1024;
  static constexpr int32_t kPollAt = kScale * 3 / 4;

  int64_t budget_us_;
  int32_t rate_ = kScale;  // optimistic: a new loop polls until it learns
  uint32_t since_probe_ = 0;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_BUSY_POLL_H_
