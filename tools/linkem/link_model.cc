#include "tools/linkem/link_model.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::linkem {
namespace {

constexpr int64_t kMaxRateBps = 1'000'000'000'000;  // 1 Tbit/s
constexpr int64_t kMaxDelayUs = 3'600'000'000;      // one hour

absl::Status CheckProbability(const char* name, double p) {
  if (!(p >= 0 && p <= 1)) {  // also rejects NaN
    return absl::InvalidArgumentError(absl::StrCat(name, " must be in [0, 1], got ", p));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(const char* name, int64_t v, int64_t max) {
  if (v < 0 || v > max) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be in [0, ", max, "], got ", v));
  }
  return absl::OkStatus();
}

// One generator per random decision, each from its own seed sequence
// (std::seed_seq's algorithm is specified by the standard, so streams are
// the same with every library).
std::mt19937_64 Stream(uint64_t seed, uint32_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), stream};
  return std::mt19937_64(seq);
}

}  // namespace

absl::Status LinkConfig::Validate() const {
  absl::Status s;
  s.Update(CheckRange("rate_bps", rate_bps, kMaxRateBps));
  s.Update(CheckRange("queue_bytes", queue_bytes, INT64_MAX / 2));
  s.Update(CheckRange("delay_us", delay_us, kMaxDelayUs));
  s.Update(CheckRange("jitter_us", jitter_us, kMaxDelayUs));
  s.Update(CheckProbability("loss", loss));
  s.Update(CheckProbability("ge_enter_bad", ge_enter_bad));
  s.Update(CheckProbability("ge_exit_bad", ge_exit_bad));
  s.Update(CheckProbability("ge_loss_good", ge_loss_good));
  s.Update(CheckProbability("ge_loss_bad", ge_loss_bad));
  if (s.ok() && ge_enter_bad > 0 && ge_exit_bad == 0) {
    s = absl::InvalidArgumentError(
        "ge_exit_bad must be > 0 when ge_enter_bad > 0 (the link would stay in the bad state "
        "forever)");
  }
  return s;
}

double LinkConfig::ExpectedLossRate() const {
  double ge = 0;
  if (ge_enter_bad > 0) {
    const double pi_bad = ge_enter_bad / (ge_enter_bad + ge_exit_bad);
    ge = pi_bad * ge_loss_bad + (1 - pi_bad) * ge_loss_good;
  }
  return 1 - (1 - loss) * (1 - ge);
}

void LinkModel::SetRate(int64_t rate_bps) {
  // The fraction of a µs left by the old rate is rounded up: the remainder
  // is in units of the old rate.
  if (tx_end_rem_ > 0) {
    tx_end_us_ += 1;
    tx_end_rem_ = 0;
  }
  config_.rate_bps = rate_bps;
}

int64_t BdpBytes(int64_t rate_bps, int64_t rtt_us) {
  if (rate_bps <= 0 || rtt_us <= 0) return 0;
  // rate (<= 1e12) * rtt (<= 7.2e9) would overflow int64; split the rate.
  const int64_t whole = rate_bps / 8'000'000, frac = rate_bps % 8'000'000;
  return whole * rtt_us + frac * rtt_us / 8'000'000;
}

absl::StatusOr<LinkModel> LinkModel::Create(const LinkConfig& config) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return LinkModel(config);
}

LinkModel::LinkModel(const LinkConfig& config)
    : config_(config),
      loss_rng_(Stream(config.seed, 1)),
      ge_rng_(Stream(config.seed, 2)),
      jitter_rng_(Stream(config.seed, 3)),
      ring_(64) {}

bool LinkModel::Chance(std::mt19937_64& rng, double p) {
  // 53 random bits as a double in [0, 1): exact and the same everywhere.
  const double u = static_cast<double>(rng() >> 11) * 0x1p-53;
  return u < p;
}

bool LinkModel::DrawLoss() {
  // Every stream advances once per offered packet whatever the outcome, so
  // one process never shifts the other's sequence.
  bool lost = false;
  if (config_.loss > 0) lost = Chance(loss_rng_, config_.loss);
  if (config_.ge_enter_bad > 0) {
    ge_bad_ =
        ge_bad_ ? !Chance(ge_rng_, config_.ge_exit_bad) : Chance(ge_rng_, config_.ge_enter_bad);
    const bool ge_lost = Chance(ge_rng_, ge_bad_ ? config_.ge_loss_bad : config_.ge_loss_good);
    lost = lost || ge_lost;
  }
  return lost;
}

void LinkModel::AdvanceStarted(int64_t now_us) {
  while (start_cursor_ < count_ && At(start_cursor_).start_us <= now_us) {
    unstarted_bytes_ -= At(start_cursor_).bytes;
    ++start_cursor_;
  }
}

void LinkModel::Push(const Packet& p) {
  if (count_ == ring_.size()) {
    std::vector<Packet> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; ++i) bigger[i] = At(i);
    ring_ = std::move(bigger);
    head_ = 0;
  }
  At(count_) = p;
  ++count_;
}

bool LinkModel::Offer(int64_t now_us, uint32_t bytes, uint64_t tag) {
  now_us = std::max(now_us, last_now_us_);
  last_now_us_ = now_us;
  counters_.offered_packets++;
  counters_.offered_bytes += bytes;

  if (DrawLoss()) {
    counters_.loss_drops++;
    counters_.loss_drop_bytes += bytes;
    return false;
  }

  AdvanceStarted(now_us);  // so unstarted_bytes_ is the queue at now_us
  Packet p{tag, now_us, now_us, bytes};
  int64_t tx_end_us = now_us;  // end of transmission, rounded up
  if (config_.rate_bps > 0) {
    const int64_t rate = config_.rate_bps;
    // Whether the bottleneck is still busy at now_us (exact comparison of
    // tx_end_us_ + tx_end_rem_/rate against now_us).
    const bool busy = tx_end_us_ > now_us || (tx_end_us_ == now_us && tx_end_rem_ > 0);
    if (busy) {
      if (config_.queue_bytes > 0 && unstarted_bytes_ + bytes > config_.queue_bytes) {
        counters_.queue_drops++;
        counters_.queue_drop_bytes += bytes;
        return false;
      }
      p.start_us = tx_end_us_ + (tx_end_rem_ > 0);
    } else {
      tx_end_us_ = now_us;
      tx_end_rem_ = 0;
    }
    // Exact: end += bytes*8e6/rate µs, carried as quotient + remainder.
    const int64_t num = static_cast<int64_t>(bytes) * 8'000'000 + tx_end_rem_;
    tx_end_us_ += num / rate;
    tx_end_rem_ = num % rate;
    tx_end_us = tx_end_us_ + (tx_end_rem_ > 0);
  }

  int64_t deliver = tx_end_us + config_.delay_us;
  if (config_.jitter_us > 0) {
    const uint64_t span = static_cast<uint64_t>(config_.jitter_us) + 1;
    // Uniform in [0, span) by multiply-high (no modulo bias worth the name).
    deliver += static_cast<int64_t>((static_cast<unsigned __int128>(jitter_rng_()) * span) >> 64);
  }
  p.deliver_us = std::max(deliver, last_deliver_us_);
  last_deliver_us_ = p.deliver_us;

  Push(p);
  if (p.start_us > now_us) {
    unstarted_bytes_ += bytes;  // it waits behind the packets counted already
    counters_.peak_queue_bytes = std::max(counters_.peak_queue_bytes, unstarted_bytes_);
  } else {
    // It started at once, so the bottleneck was idle and every earlier
    // packet had started too: the cursor was at the new packet.
    ++start_cursor_;
  }
  return true;
}

std::optional<int64_t> LinkModel::NextDeliveryUs() const {
  if (count_ == 0) return std::nullopt;
  return At(0).deliver_us;
}

bool LinkModel::PopDue(int64_t now_us, uint64_t* tag, uint32_t* bytes) {
  now_us = std::max(now_us, last_now_us_);
  last_now_us_ = now_us;
  if (count_ == 0 || At(0).deliver_us > now_us) return false;
  AdvanceStarted(now_us);  // the popped packet has started, so cursor >= 1
  const Packet& p = At(0);
  *tag = p.tag;
  *bytes = p.bytes;
  counters_.delivered_packets++;
  counters_.delivered_bytes += p.bytes;
  head_ = (head_ + 1) & (ring_.size() - 1);
  --count_;
  --start_cursor_;
  return true;
}

int64_t LinkModel::QueuedBytes(int64_t now_us) const {
  now_us = std::max(now_us, last_now_us_);
  int64_t queued = unstarted_bytes_;
  for (size_t i = start_cursor_; i < count_ && At(i).start_us <= now_us; ++i) {
    queued -= At(i).bytes;
  }
  return queued;
}

}  // namespace kcpp::linkem
