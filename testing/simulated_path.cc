#include "testing/simulated_path.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace kcpp::test {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int64_t kSampleUs = 1000;

// The transport's timers are milliseconds: the first grid point after
// `us`, and never the current millisecond again (event_loop.h).
int64_t NextTick(int64_t now_us, int64_t at_us) {
  const int64_t ms = std::max((at_us + 999) / 1000, now_us / 1000 + 1);
  return ms * 1000;
}

}  // namespace

struct SimulatedPath::Flow {
  SimFlowOptions options;
  std::unique_ptr<kcp::Kcp> sender;
  std::unique_ptr<kcp::Kcp> receiver;
  kcp::Pacer pacer;
  int64_t sender_at_us = kNever;
  int64_t receiver_at_us = kNever;
  bool started = false;
  bool touched = false;
  uint64_t queued = 0;
  uint64_t delivered = 0;
  uint64_t wire_sent = 0;
  std::vector<uint8_t> chunk;
  std::vector<uint8_t> read_buffer;
};

SimulatedPath::SimulatedPath(const linkem::LinkConfig& forward, const linkem::LinkConfig& reverse)
    : forward_(forward), reverse_(reverse) {}

SimulatedPath::~SimulatedPath() = default;

int SimulatedPath::AddFlow(const SimFlowOptions& options) {
  const int index = static_cast<int>(flows_.size());
  auto flow = std::make_unique<Flow>();
  flow->options = options;
  const uint32_t conv = 0x1000 + static_cast<uint32_t>(index);
  auto configure = [&](kcp::Kcp& k) {
    if (!k.SetMtu(options.kcp_mtu).ok() || !k.SetWindowSize(options.window, options.window).ok()) {
      std::abort();  // a test's own options are wrong
    }
    k.SetNoDelay(1, 10, 2, 1);  // fast3
    k.SetStreamMode(true);
    k.SetDeferInputFlush(true);
  };
  flow->sender = std::make_unique<kcp::Kcp>(conv, [this, index](absl::Span<const uint8_t> d) {
    Transmit(index, /*to_receiver=*/true, d.data(), d.size());
  });
  flow->receiver = std::make_unique<kcp::Kcp>(conv, [this, index](absl::Span<const uint8_t> d) {
    Transmit(index, /*to_receiver=*/false, d.data(), d.size());
  });
  configure(*flow->sender);
  configure(*flow->receiver);
  if (!flow->sender->SetCongestionControl(options.congestion, conv).ok()) std::abort();
  flow->sender->SetPacingGate(&flow->pacer);
  flow->chunk.assign(flow->sender->mss(), 0x5A);
  flow->read_buffer.resize(1 << 16);
  flow->sender_at_us = options.start_us;
  flows_.push_back(std::move(flow));
  return index;
}

void SimulatedPath::Transmit(int index, bool to_receiver, const uint8_t* data, size_t size) {
  Flow& f = *flows_[index];
  const uint32_t wire = static_cast<uint32_t>(size) + f.options.overhead_bytes;
  uint64_t tag;
  if (!free_tags_.empty()) {
    tag = free_tags_.back();
    free_tags_.pop_back();
  } else {
    tag = in_flight_.size();
    in_flight_.emplace_back();
  }
  // The datagram, prefixed by its flow and direction.
  std::vector<uint8_t>& slot = in_flight_[tag];
  slot.resize(size + 2);
  slot[0] = static_cast<uint8_t>(index);
  slot[1] = to_receiver ? 1 : 0;
  std::memcpy(slot.data() + 2, data, size);
  bool accepted;
  if (to_receiver) {
    f.wire_sent += wire;
    f.pacer.OnSent(now_us_, wire);
    accepted = forward_.Offer(now_us_, wire, tag);
  } else {
    accepted = reverse_.Offer(now_us_, wire, tag);
  }
  if (!accepted) free_tags_.push_back(tag);
}

void SimulatedPath::Deliver(int64_t now_us) {
  for (linkem::LinkModel* link : {&forward_, &reverse_}) {
    uint64_t tag;
    uint32_t bytes;
    while (link->PopDue(now_us, &tag, &bytes)) {
      std::vector<uint8_t>& d = in_flight_[tag];
      Flow& f = *flows_[d[0]];
      kcp::Kcp& k = d[1] ? *f.receiver : *f.sender;
      k.SetClockMicros(now_us);
      k.Input(absl::MakeConstSpan(d.data() + 2, d.size() - 2), static_cast<uint32_t>(now_us / 1000));
      f.touched = true;
      free_tags_.push_back(tag);
    }
  }
}

// One event of a flow at now_us_: what the transport does on a datagram
// batch's end or a timer (session_core.cc).
void SimulatedPath::Service(Flow& f) {
  const uint32_t now_ms = static_cast<uint32_t>(now_us_ / 1000);
  kcp::Kcp& s = *f.sender;
  kcp::Kcp& r = *f.receiver;
  s.SetClockMicros(now_us_);
  r.SetClockMicros(now_us_);
  r.FlushDeferred(now_ms);
  for (int n; (n = r.Recv(absl::MakeSpan(f.read_buffer))) > 0;) f.delivered += n;
  // The application always has more to write (up to `bytes`). It writes
  // before the flush the acknowledgements asked for, as the transport does
  // (SessionCore drains its channel after Input, the deferred flush runs at
  // the loop iteration's end): a flush that found KCP's queue empty with
  // data still to come would read as an idle application.
  bool wrote = false;
  while (s.WaitSnd() < s.snd_wnd() && (f.options.bytes == 0 || f.queued < f.options.bytes)) {
    s.Send(f.chunk);
    f.queued += f.chunk.size();
    wrote = true;
  }
  s.FlushDeferred(now_ms);
  if (wrote || now_us_ >= f.sender_at_us) s.Flush(now_ms);
  if (now_us_ >= f.receiver_at_us) r.Flush(now_ms);
  // Pacing rate in wire bytes (the transport's UpdatePacing).
  const uint64_t rate = s.pacing_rate();
  const double per_kcp_byte =
      1.0 + static_cast<double>(f.options.overhead_bytes) / static_cast<double>(s.mtu());
  f.pacer.SetRate(static_cast<uint64_t>(static_cast<double>(rate) * per_kcp_byte), now_us_);
  // Next timers.
  uint32_t at;
  f.sender_at_us = kNever;
  if (s.NextFlush(now_ms, &at)) {
    int64_t due = now_us_ + static_cast<int32_t>(at - now_ms) * int64_t{1000};
    if (due <= now_us_ && !f.pacer.MaySend(now_us_)) due = f.pacer.ReadyAtUs(now_us_);
    f.sender_at_us = NextTick(now_us_, due);
  }
  f.receiver_at_us = kNever;
  if (r.NextFlush(now_ms, &at)) {
    f.receiver_at_us = NextTick(now_us_, now_us_ + static_cast<int32_t>(at - now_ms) * int64_t{1000});
  }
}

int64_t SimulatedPath::NextEventUs() const {
  int64_t t = next_sample_us_;
  for (const linkem::LinkModel* link : {&forward_, &reverse_}) {
    if (std::optional<int64_t> d = link->NextDeliveryUs()) t = std::min(t, *d);
  }
  for (const auto& f : flows_) t = std::min({t, f->sender_at_us, f->receiver_at_us});
  return t;
}

void SimulatedPath::TakeSample() {
  Sample s;
  s.at_us = now_us_;
  s.queue_bytes = forward_.QueuedBytes(now_us_);
  s.queue_drops = forward_.counters().queue_drops;
  for (const auto& f : flows_) s.delivered.push_back(f->delivered);
  samples_.push_back(std::move(s));
  next_sample_us_ = now_us_ + kSampleUs;
}

void SimulatedPath::RunUntil(int64_t until_us) {
  for (;;) {
    const int64_t t = NextEventUs();
    if (t > until_us) {
      now_us_ = until_us;
      return;
    }
    now_us_ = std::max(now_us_, t);
    Deliver(now_us_);
    for (auto& f : flows_) {
      if (!f->started && now_us_ >= f->options.start_us) f->started = f->touched = true;
      if (!f->started) continue;
      if (f->touched || now_us_ >= f->sender_at_us || now_us_ >= f->receiver_at_us) {
        f->touched = false;
        Service(*f);
      }
    }
    if (now_us_ >= next_sample_us_) TakeSample();
  }
}

uint64_t SimulatedPath::delivered(int f) const { return flows_[f]->delivered; }

uint64_t SimulatedPath::wire_bytes_sent(int f) const { return flows_[f]->wire_sent; }

const kcp::Kcp& SimulatedPath::sender(int f) const { return *flows_[f]->sender; }

double SimulatedPath::GoodputBps(int f, int64_t from_us, int64_t to_us) const {
  const Sample* first = nullptr;
  const Sample* last = nullptr;
  for (const Sample& s : samples_) {
    if (s.at_us >= from_us && first == nullptr) first = &s;
    if (s.at_us < to_us) last = &s;
  }
  if (first == nullptr || last == nullptr || last->at_us <= first->at_us) return 0;
  return static_cast<double>(last->delivered[f] - first->delivered[f]) * 8e6 /
         static_cast<double>(last->at_us - first->at_us);
}

int64_t SimulatedPath::PeakQueueBytes(int64_t from_us, int64_t to_us) const {
  int64_t peak = 0;
  for (const Sample& s : samples_) {
    if (s.at_us >= from_us && s.at_us < to_us) peak = std::max(peak, s.queue_bytes);
  }
  return peak;
}

int64_t SimulatedPath::QueueBytesPercentile(double pct, int64_t from_us, int64_t to_us) const {
  std::vector<int64_t> sizes;
  for (const Sample& s : samples_) {
    if (s.at_us >= from_us && s.at_us < to_us) sizes.push_back(s.queue_bytes);
  }
  if (sizes.empty()) return 0;
  const size_t k = std::min(sizes.size() - 1, static_cast<size_t>(pct / 100 * sizes.size()));
  std::nth_element(sizes.begin(), sizes.begin() + static_cast<ptrdiff_t>(k), sizes.end());
  return sizes[k];
}

uint64_t SimulatedPath::QueueDropsBefore(int64_t us) const {
  uint64_t drops = 0;
  for (const Sample& s : samples_) {
    if (s.at_us < us) drops = s.queue_drops;
  }
  return drops;
}

}  // namespace kcpp::test
