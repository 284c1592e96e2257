// RateSampler: delivery-rate samples for a model-based congestion
// controller (kcp/congestion.h RateSample), from per-segment state kept by
// the engine.
//
// At each transmission the engine stores a SegmentState (how much had been
// delivered, and when, at that moment); when the segment is acknowledged the
// difference is a sample of how fast the path delivered. The newest segment
// an acknowledgement covers gives the sample, and its interval is the longer
// of its send span and its acknowledgement span, so bursts of
// acknowledgements cannot make the path look faster than it is. The idea is
// the one of the Linux kernel's and QUICHE's samplers; this is kcpp's own
// implementation in KCP's terms (segments, a send ring, µs timestamps).
#ifndef KCPP_KCP_INTERNAL_RATE_SAMPLER_H_
#define KCPP_KCP_INTERNAL_RATE_SAMPLER_H_

#include <cstdint>

#include "kcp/congestion.h"

namespace kcpp::kcp::internal {

// Stored per send-ring slot while the segment is unacknowledged.
struct SentState {
  uint64_t delivered = 0;         // total delivered at transmission
  int64_t delivered_time_us = 0;  // when that total was reached
  int64_t first_sent_us = 0;      // start of the send span it belongs to
  int64_t sent_us = 0;
  bool app_limited = false;
  bool retransmitted = false;
};

class RateSampler {
 public:
  using SegmentState = SentState;

  // A segment is (re)transmitted at `now_us`; `nothing_in_flight`: no other
  // segment is unacknowledged (a new send span starts).
  SegmentState OnSent(int64_t now_us, bool nothing_in_flight, bool retransmission) {
    if (nothing_in_flight) {
      first_sent_us_ = now_us;
      delivered_time_us_ = now_us;
    }
    return SegmentState{delivered_, delivered_time_us_, first_sent_us_, now_us,
                        app_limited_until_ != 0, retransmission};
  }

  // A segment of `bytes` is delivered (acknowledged or passed by una) at
  // `now_us`; keeps the newest segment's state for the event's sample.
  void OnDelivered(const SegmentState& s, uint32_t bytes, int64_t now_us) {
    delivered_ += bytes;
    delivered_time_us_ = now_us;
    if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;
    if (!have_newest_ || s.delivered >= newest_.delivered) {
      if (!have_newest_ || s.sent_us >= newest_.sent_us) first_sent_us_ = s.sent_us;
      newest_ = s;
      have_newest_ = true;
    }
  }

  // Ends an acknowledgement event: the sample of the newest delivered
  // segment (invalid if none, or if its interval is shorter than
  // `min_interval_us`, which only a measurement artefact produces).
  RateSample TakeSample(int64_t now_us, int64_t min_interval_us) {
    RateSample r;
    if (!have_newest_) return r;
    have_newest_ = false;
    const int64_t send_span = newest_.sent_us - newest_.first_sent_us;
    const int64_t ack_span = delivered_time_us_ - newest_.delivered_time_us;
    r.interval_us = send_span > ack_span ? send_span : ack_span;
    r.delivered = delivered_ - newest_.delivered;
    r.prior_delivered = newest_.delivered;
    r.app_limited = newest_.app_limited;
    r.rtt_us = newest_.retransmitted ? -1 : now_us - newest_.sent_us;
    r.valid = r.interval_us > 0 && r.interval_us >= min_interval_us && r.delivered > 0;
    return r;
  }

  // The sender has nothing to send: samples until everything now in flight
  // (`inflight_bytes`) is delivered are marked app-limited.
  void MarkAppLimited(uint64_t inflight_bytes) {
    app_limited_until_ = delivered_ + inflight_bytes;
    if (app_limited_until_ == 0) app_limited_until_ = 1;
  }

  uint64_t delivered() const { return delivered_; }

 private:
  uint64_t delivered_ = 0;
  int64_t delivered_time_us_ = 0;
  int64_t first_sent_us_ = 0;
  uint64_t app_limited_until_ = 0;
  SegmentState newest_;
  bool have_newest_ = false;
};

}  // namespace kcpp::kcp::internal

#endif  // KCPP_KCP_INTERNAL_RATE_SAMPLER_H_
