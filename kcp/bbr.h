// BbrController: kcpp's model-based congestion controller
// (CongestionControl::kBbr, kcp/congestion.h), in the manner of BBR.
//
// Why: KCP's own window (and kcp-go's nc=1) sends a whole window at line
// rate into the path's bottleneck queue. On a link with a queue of one
// bandwidth-delay product most of that burst is dropped and resent, and on a
// lossy link KCP's window collapses at every random loss. This controller
// instead builds a model of the path — its bottleneck bandwidth and its
// round-trip time without queueing — and sends at the modelled rate:
//
//   bandwidth  the largest delivery rate (RateSample) seen over the last 10
//              round trips; samples taken while the sender had nothing to
//              send count only if they raise it.
//   min RTT    the smallest round trip of a segment sent once, over the last
//              10 s.
//   pacing     pacing_gain x bandwidth, in KCP bytes per second. The
//              embedder turns it into wire bytes (FEC parity and cipher
//              headers included) and holds datagrams back (Kcp::SetPacingGate).
//   window     cwnd_gain x bandwidth x max(min RTT, KCP's interval) plus
//              two pacing quanta (1 ms of data each, the embedder's timer
//              granularity), at least 4 segments, counted in unacknowledged
//              segments in flight. A KCP receiver may hold its ACKs for an
//              interval, so no round trip is shorter than that.
//
// State machine (one round trip = the time until a segment sent now is
// acknowledged; rounds are counted from delivery totals):
//
//   STARTUP   gains 2.885 (2/ln 2: doubles the rate every round). Leaves when
//             the bandwidth has not grown by 25 % in 3 rounds, or when a
//             round lost more than 15 % of what it sent (the queue
//             overflowed; random loss of a few percent does not trigger it).
//   DRAIN     pacing gain 1/2.885 until the data in flight is down to one
//             bandwidth-delay product: the queue STARTUP built is emptied.
//   PROBE_BW  an 8-phase cycle of pacing gains, each at least one min RTT:
//             1.25 (probe for more bandwidth), 0.75 (drain what the probe
//             queued), then 1.0 six times; window gain 2. The cycle starts
//             at a phase drawn from the seed so flows do not probe in step.
//             A probe that measured 15 % more bandwidth probes again at once
//             (so a step up in capacity is found in a few rounds).
//   PROBE_RTT entered when the min RTT is 10 s old: the window drops to 4
//             segments for 200 ms and one round, so a queue (ours or a
//             competitor's) drains and a fresh min RTT is measured; then back
//             to PROBE_BW (or STARTUP if the pipe was never filled).
//
// Congestion signals (random loss is not one; the ARQ resends lost segments
// and the rate stays):
//   - Heavy loss clustered after a rate increase: a 1.25 probe phase whose
//     loss rate exceeds max(2 x the baseline loss rate of the steady phases,
//     the baseline + 5 %) ends at once and the cycle moves to its 0.75 phase.
//   - A persistently growing RTT: when for 2 consecutive rounds even the
//     smallest RTT of the round exceeds min RTT x 1.1 + 2 ms, the queue is
//     standing and the bandwidth estimate is too high (capacity dropped, or
//     another flow now shares the bottleneck): the estimate is restarted from
//     the last round's delivery rate, and the cycle drains (0.75).
//
// Before the first bandwidth sample the window is 32 segments and the pacing
// rate 2.885 x window / max(min RTT, 10 ms).
#ifndef KCPP_KCP_BBR_H_
#define KCPP_KCP_BBR_H_

#include <array>
#include <cstdint>
#include <string>

#include "kcp/congestion.h"

namespace kcpp::kcp {

class BbrController final : public CongestionController {
 public:
  enum class Mode : uint8_t { kStartup, kDrain, kProbeBw, kProbeRtt };

  explicit BbrController(uint64_t seed);

  CongestionControl kind() const override { return CongestionControl::kBbr; }
  void OnAck(const AckEvent& event) override;
  void OnFlush(const FlushEvent& event) override;
  uint32_t window() const override { return cwnd_; }
  bool window_is_span() const override { return false; }
  uint64_t pacing_rate() const override { return pacing_rate_; }
  bool draining() const override { return mode_ == Mode::kDrain; }
  uint64_t path_bytes() const override { return Bdp(1.0); }
  // At least 1.5 x srtt + interval: a probe queues up to a quarter of an RTT
  // more and a receiver may hold its ACKs for an interval, which KCP's fast
  // estimator (srtt + 4 rttvar, 30 ms floor) does not cover; it would resend
  // data that is only queued. Losses are still found in about an RTT by
  // KCP's fast retransmission.
  uint32_t RetransmissionTimeout(uint32_t rto_ms, int32_t srtt_ms,
                                 uint32_t interval_ms) const override;
  bool wants_rate_samples() const override { return true; }
  std::string DebugString() const override;

  Mode mode() const { return mode_; }
  // Bottleneck bandwidth estimate in bytes per second (0 before a sample).
  uint64_t bandwidth() const;
  // Smallest RTT seen in the current window, in µs (-1 before a sample).
  int64_t min_rtt_us() const { return min_rtt_us_; }
  uint64_t round_count() const { return round_count_; }
  double pacing_gain() const { return pacing_gain_; }

 private:
  static constexpr int kBwWindowRounds = 6;
  static constexpr int kCycleLength = 8;

  void StartRound(const AckEvent& event);
  void UpdateBandwidth(const RateSample& sample);
  void UpdateMinRtt(const AckEvent& event);
  void CheckFullPipe(bool round_start, const RateSample& sample);
  void AdvanceMode(const AckEvent& event, bool round_start);
  void EnterProbeBw(int64_t now_us, int phase);
  void SetPhase(int phase, int64_t now_us);
  uint64_t Bdp(double gain) const;
  void Recompute(uint32_t mss);

  // Model.
  std::array<uint64_t, kBwWindowRounds> bw_rounds_{};  // max sample per round
  int64_t min_rtt_us_ = -1;
  int64_t min_rtt_stamp_us_ = 0;
  // Rounds.
  uint64_t round_count_ = 0;
  uint64_t next_round_delivered_ = 0;
  uint64_t round_max_bw_ = 0;        // this round's largest sample
  uint64_t last_round_bw_ = 0;       // the previous round's
  int64_t round_min_rtt_us_ = -1;    // this round's smallest RTT sample
  uint64_t round_delivered_ = 0;     // bytes delivered / lost this round
  uint64_t round_lost_ = 0;
  int standing_queue_rounds_ = 0;
  double baseline_loss_ = 0;         // steady phases' loss rate (EWMA)
  // Startup.
  bool filled_pipe_ = false;
  uint64_t full_bw_ = 0;
  int full_bw_count_ = 0;
  // Mode and gains.
  Mode mode_ = Mode::kStartup;
  double pacing_gain_;
  double cwnd_gain_;
  int phase_ = 0;
  int64_t phase_start_us_ = 0;
  uint64_t phase_delivered_ = 0;  // bytes delivered / lost in this phase
  uint64_t phase_lost_ = 0;
  uint64_t bw_at_probe_ = 0;
  const uint64_t seed_;
  // PROBE_RTT.
  int64_t probe_rtt_done_us_ = -1;
  bool probe_rtt_round_done_ = false;
  Mode mode_before_probe_rtt_ = Mode::kStartup;
  // The last flush's view (inflight_span_ and window_used_ only for
  // DebugString: a span at the window with few segments in flight means a
  // hole at snd_una, not the controller, holds the sender back).
  uint32_t inflight_segments_ = 0;
  int64_t ack_delay_us_ = 0;  // the flush interval (FlushEvent::interval_ms)
  uint32_t inflight_span_ = 0;
  uint32_t window_used_ = 0;
  // Outputs.
  uint32_t mss_ = 1376;
  uint32_t cwnd_;
  uint64_t pacing_rate_;
};

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_BBR_H_
