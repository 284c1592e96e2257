#include "kcp/bbr.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace kcpp::kcp {
namespace {

constexpr double kHighGain = 2.885;  // 2 / ln 2
constexpr double kDrainGain = 1.0 / kHighGain;
constexpr double kCwndGain = 2.0;
constexpr double kCycleGains[8] = {1.25, 0.75, 1, 1, 1, 1, 1, 1};
constexpr uint32_t kInitialWindow = 32;
constexpr uint32_t kMinWindow = 4;
constexpr int64_t kMinRttWindowUs = 10'000'000;
constexpr int64_t kProbeRttUs = 200'000;
constexpr int64_t kDefaultRttUs = 10'000;
// The embedder's pacing quantum: about one timer tick of data.
constexpr int64_t kQuantumUs = 1000;
// STARTUP: the pipe is full after this many rounds without 25 % growth, or
// after a round that lost this share of its bytes (at least kMinLossSegments).
constexpr int kFullBwRounds = 3;
constexpr double kFullBwGrowth = 1.25;
constexpr double kStartupLossRate = 0.15;
constexpr uint64_t kMinLossSegments = 8;
// PROBE_BW: a probe whose loss rate exceeds max(2 x baseline, baseline +
// this) failed; one that found this much more bandwidth probes again.
constexpr double kProbeExtraLoss = 0.05;
constexpr double kReprobeGrowth = 1.15;
// Standing-queue signal: the round's smallest RTT above min RTT x this + the
// slack, for kStandingRounds rounds in a row. Jitter on the ACK path (real
// paths, and a busy sender reading ACKs in batches) makes some rate samples
// faster than the bottleneck, so the estimate creeps above it and a queue
// stands; caught at 1.25 x and 3 rounds it stood at up to 0.6 of a base RTT
// (kcp/congestion_test.cc, QueueStaysShortWhenAckJitterInflatesTheEstimate;
// ping p99 88 ms on a 100 Mbit/s, 50 ms link), at 1.1 x and 2 rounds under
// half (74 ms), for the same goodput.
constexpr double kStandingRttFactor = 1.1;
constexpr int64_t kStandingRttSlackUs = 2000;
constexpr int kStandingRounds = 2;
// ... and the estimate restarts from this share of the last round's rate:
// a multiplicative decrease, which (with the additive share of each probe)
// moves competing flows towards equal shares.
constexpr double kStandingBackoff = 1.0;

double LossRate(uint64_t lost, uint64_t delivered) {
  const uint64_t total = lost + delivered;
  return total == 0 ? 0.0 : static_cast<double>(lost) / static_cast<double>(total);
}

}  // namespace

BbrController::BbrController(uint64_t seed)
    : pacing_gain_(kHighGain), cwnd_gain_(kHighGain), seed_(seed), cwnd_(kInitialWindow) {
  pacing_rate_ =
      static_cast<uint64_t>(kHighGain * kInitialWindow * mss_ * 1e6 / kDefaultRttUs);
}

uint64_t BbrController::bandwidth() const {
  return *std::max_element(bw_rounds_.begin(), bw_rounds_.end());
}

uint64_t BbrController::Bdp(double gain) const {
  const uint64_t bw = bandwidth();
  if (bw == 0 || min_rtt_us_ < 0) return 0;
  // A KCP receiver holds its ACKs until its next flush, up to one interval:
  // a round trip lasts at least that long whatever the path's min RTT. Sized
  // from a min RTT far below the interval (loopback, a LAN: one ACK sent at
  // once sets it) the window capped each round, the bandwidth samples
  // followed the window down, and both shrank together to 4 segments.
  const int64_t rtt = std::max(min_rtt_us_, ack_delay_us_);
  return static_cast<uint64_t>(gain * static_cast<double>(bw) * static_cast<double>(rtt) / 1e6);
}

void BbrController::OnAck(const AckEvent& event) {
  if (event.mss != 0) mss_ = event.mss;
  inflight_segments_ = event.inflight_segments;
  round_delivered_ += event.delivered_bytes;
  phase_delivered_ += event.delivered_bytes;
  const RateSample& s = event.sample;
  bool round_start = false;
  if (s.valid && s.prior_delivered >= next_round_delivered_) {
    round_start = true;
    StartRound(event);
  }
  UpdateMinRtt(event);
  if (s.valid) UpdateBandwidth(s);
  CheckFullPipe(round_start, s);
  AdvanceMode(event, round_start);
  Recompute(mss_);
}

void BbrController::StartRound(const AckEvent& event) {
  ++round_count_;
  next_round_delivered_ = event.total_delivered;
  // The standing-queue signal, judged on the round that just ended.
  if (mode_ == Mode::kProbeBw && min_rtt_us_ > 0 && round_min_rtt_us_ > 0 &&
      round_min_rtt_us_ > static_cast<int64_t>(min_rtt_us_ * kStandingRttFactor) +
                              kStandingRttSlackUs) {
    ++standing_queue_rounds_;
  } else {
    standing_queue_rounds_ = 0;
  }
  // Random loss sets the baseline that a failed probe must exceed.
  if (mode_ == Mode::kProbeBw && pacing_gain_ == 1.0 &&
      round_delivered_ + round_lost_ >= kMinLossSegments * mss_) {
    baseline_loss_ += (LossRate(round_lost_, round_delivered_) - baseline_loss_) / 8;
  }
  // STARTUP's overflow exit.
  if (mode_ == Mode::kStartup && round_lost_ >= kMinLossSegments * mss_ &&
      LossRate(round_lost_, round_delivered_) > kStartupLossRate) {
    filled_pipe_ = true;
    full_bw_ = bandwidth();
  }
  last_round_bw_ = round_max_bw_;
  round_max_bw_ = 0;
  round_min_rtt_us_ = -1;
  round_delivered_ = 0;
  round_lost_ = 0;
  bw_rounds_[round_count_ % kBwWindowRounds] = 0;
  if (standing_queue_rounds_ >= kStandingRounds) {
    // The model overestimates the path: start it again from what the path
    // delivered in the last round, and drain the queue.
    standing_queue_rounds_ = 0;
    bw_rounds_.fill(0);
    bw_rounds_[round_count_ % kBwWindowRounds] =
        static_cast<uint64_t>(static_cast<double>(last_round_bw_) * kStandingBackoff);
    if (mode_ == Mode::kProbeBw) SetPhase(1, event.now_us);
  }
}

void BbrController::UpdateBandwidth(const RateSample& s) {
  const uint64_t bw = static_cast<uint64_t>(static_cast<double>(s.delivered) * 1e6 /
                                            static_cast<double>(s.interval_us));
  round_max_bw_ = std::max(round_max_bw_, bw);
  uint64_t& slot = bw_rounds_[round_count_ % kBwWindowRounds];
  if (!s.app_limited || bw >= bandwidth()) slot = std::max(slot, bw);
}

void BbrController::UpdateMinRtt(const AckEvent& event) {
  const int64_t rtt = event.sample.rtt_us;
  if (rtt <= 0) return;
  if (round_min_rtt_us_ < 0 || rtt < round_min_rtt_us_) round_min_rtt_us_ = rtt;
  const bool expired = event.now_us - min_rtt_stamp_us_ > kMinRttWindowUs;
  if (min_rtt_us_ < 0 || rtt <= min_rtt_us_ || (expired && mode_ == Mode::kProbeRtt)) {
    min_rtt_us_ = rtt;
    min_rtt_stamp_us_ = event.now_us;
  }
}

void BbrController::CheckFullPipe(bool round_start, const RateSample& s) {
  if (filled_pipe_ || !round_start || s.app_limited) return;
  const uint64_t bw = bandwidth();
  if (static_cast<double>(bw) >= static_cast<double>(full_bw_) * kFullBwGrowth) {
    full_bw_ = bw;
    full_bw_count_ = 0;
    return;
  }
  if (++full_bw_count_ >= kFullBwRounds) filled_pipe_ = true;
}

void BbrController::SetPhase(int phase, int64_t now_us) {
  phase_ = phase % kCycleLength;
  phase_start_us_ = now_us;
  phase_delivered_ = 0;
  phase_lost_ = 0;
  pacing_gain_ = kCycleGains[phase_];
  if (phase_ == 0) bw_at_probe_ = bandwidth();
}

void BbrController::EnterProbeBw(int64_t now_us, int phase) {
  mode_ = Mode::kProbeBw;
  cwnd_gain_ = kCwndGain;
  SetPhase(phase, now_us);
}

void BbrController::AdvanceMode(const AckEvent& event, bool round_start) {
  const int64_t now = event.now_us;
  const uint64_t inflight = uint64_t{inflight_segments_} * mss_;
  if (mode_ == Mode::kStartup && filled_pipe_) {
    mode_ = Mode::kDrain;
    pacing_gain_ = kDrainGain;
    cwnd_gain_ = kHighGain;
  }
  if (mode_ == Mode::kDrain && inflight <= Bdp(1.0)) {
    // Start in a steady phase drawn from the seed (2..7), never in step with
    // other flows that started at the same moment.
    EnterProbeBw(now, 2 + static_cast<int>(seed_ % 6));
  }
  if (mode_ == Mode::kProbeBw) {
    const int64_t rtt = std::max<int64_t>(min_rtt_us_, 1000);
    const bool full_length = now - phase_start_us_ >= rtt;
    if (phase_ == 0) {
      const double loss = LossRate(phase_lost_, phase_delivered_);
      const bool failed = phase_lost_ >= kMinLossSegments * mss_ / 2 &&
                          loss > std::max(2 * baseline_loss_, baseline_loss_ + kProbeExtraLoss);
      if (failed) {
        SetPhase(1, now);
      } else if (full_length) {
        SetPhase(1, now);
      }
    } else if (phase_ == 1) {
      if (full_length || inflight <= Bdp(1.0)) {
        // A probe that found more bandwidth is followed by another one.
        const bool grew = static_cast<double>(bandwidth()) >
                          static_cast<double>(bw_at_probe_) * kReprobeGrowth;
        SetPhase(grew ? 0 : 2, now);
      }
    } else if (full_length) {
      SetPhase(phase_ + 1, now);
    }
  }
  // PROBE_RTT: entered when the min RTT has not been refreshed for 10 s.
  if (mode_ != Mode::kProbeRtt && min_rtt_us_ > 0 &&
      now - min_rtt_stamp_us_ > kMinRttWindowUs) {
    mode_before_probe_rtt_ = filled_pipe_ ? Mode::kProbeBw : Mode::kStartup;
    mode_ = Mode::kProbeRtt;
    pacing_gain_ = 1.0;
    cwnd_gain_ = 1.0;
    probe_rtt_done_us_ = -1;
  }
  if (mode_ == Mode::kProbeRtt) {
    if (probe_rtt_done_us_ < 0 && inflight_segments_ <= kMinWindow) {
      probe_rtt_done_us_ = now + kProbeRttUs;
      probe_rtt_round_done_ = false;
      next_round_delivered_ = event.total_delivered;
    } else if (probe_rtt_done_us_ >= 0) {
      if (round_start) probe_rtt_round_done_ = true;
      if (probe_rtt_round_done_ && now >= probe_rtt_done_us_) {
        min_rtt_stamp_us_ = now;
        if (mode_before_probe_rtt_ == Mode::kProbeBw) {
          EnterProbeBw(now, 2 + static_cast<int>((seed_ + round_count_) % 6));
        } else {
          mode_ = Mode::kStartup;
          pacing_gain_ = kHighGain;
          cwnd_gain_ = kHighGain;
        }
      }
    }
  }
}

void BbrController::OnFlush(const FlushEvent& event) {
  if (event.mss != 0) mss_ = event.mss;
  ack_delay_us_ = int64_t{event.interval_ms} * 1000;
  inflight_segments_ = event.inflight_segments;
  inflight_span_ = event.inflight_span;
  window_used_ = event.window_used;
  // Timeouts and fast retransmissions are losses; kcp-go's early
  // retransmissions are guesses and do not count. Before the first RTT
  // sample the retransmission timer runs on KCP's default (200 ms), which a
  // longer path outlasts: those timeouts say nothing about the path.
  const uint64_t lost = min_rtt_us_ < 0 ? 0
                                       : uint64_t{event.timeouts + event.fast} * (event.mss + 24);
  round_lost_ += lost;
  phase_lost_ += lost;
  Recompute(mss_);
}

void BbrController::Recompute(uint32_t mss) {
  const uint64_t bw = bandwidth();
  if (bw == 0) {
    // No sample yet: the initial window, paced over the RTT if known.
    const int64_t rtt = min_rtt_us_ > 0 ? std::max(min_rtt_us_, kDefaultRttUs) : kDefaultRttUs;
    pacing_rate_ = static_cast<uint64_t>(kHighGain * cwnd_ * mss * 1e6 / static_cast<double>(rtt));
    return;
  }
  pacing_rate_ = std::max<uint64_t>(static_cast<uint64_t>(pacing_gain_ * static_cast<double>(bw)),
                                    uint64_t{mss} * 10);
  if (mode_ == Mode::kProbeRtt) {
    cwnd_ = kMinWindow;
    return;
  }
  const uint64_t quanta = 2 * bw * kQuantumUs / 1'000'000;
  const uint64_t bytes = Bdp(cwnd_gain_) + quanta;
  const uint64_t segments = (bytes + mss - 1) / std::max<uint32_t>(mss, 1);
  cwnd_ = static_cast<uint32_t>(
      std::min<uint64_t>(std::max<uint64_t>(segments, kMinWindow), kUnlimited - 1));
  if (!filled_pipe_) cwnd_ = std::max(cwnd_, kInitialWindow);
}

uint32_t BbrController::RetransmissionTimeout(uint32_t rto_ms, int32_t srtt_ms,
                                             uint32_t interval_ms) const {
  const uint32_t srtt = srtt_ms > 0 ? static_cast<uint32_t>(srtt_ms) : 0;
  return std::max(rto_ms, srtt + srtt / 2 + interval_ms);
}

std::string BbrController::DebugString() const {
  static constexpr const char* kModes[] = {"startup", "drain", "probe_bw", "probe_rtt"};
  return absl::StrCat("bbr ", kModes[static_cast<int>(mode_)], " bw=", bandwidth(),
                      "B/s min_rtt=", min_rtt_us_, "us gain=", pacing_gain_, " phase=", phase_,
                      " cwnd=", cwnd_, " rate=", pacing_rate_, "B/s round=", round_count_,
                      " baseline_loss=", baseline_loss_, " inflight=", inflight_segments_,
                      " span=", inflight_span_, " window=", window_used_);
}

}  // namespace kcpp::kcp
