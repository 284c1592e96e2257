// SimulatedPath: KCP flows through a simulated bottleneck, for deterministic
// tests of congestion control.
//
// The forward direction (senders to receivers) is one LinkModel shared by
// every flow (tools/linkem/link_model.h: rate, drop-tail queue, delay, loss);
// the reverse direction carries the receivers' ACKs through another. Each
// flow is a bulk sender (a kcp::Kcp with the flow's congestion control and a
// kcp::Pacer as its pacing gate, driven as the transport drives it: flushes
// at KCP's deadlines on a millisecond timer grid, the pacer's wake-ups, input
// flushes deferred to the end of each batch) and a receiver that reads
// everything at once. Time is simulated in microseconds; the same options
// always give the same run.
//
//   linkem::LinkConfig fwd;  fwd.rate_bps = 20'000'000;  fwd.delay_us = 20'000;
//   fwd.queue_bytes = linkem::BdpBytes(fwd.rate_bps, 40'000);
//   linkem::LinkConfig rev;  rev.delay_us = 20'000;
//   test::SimulatedPath path(fwd, rev);
//   int f = path.AddFlow({.congestion = kcp::CongestionControl::kBbr});
//   path.RunUntil(10'000'000);                     // 10 simulated seconds
//   double mbps = path.GoodputBps(f, 5'000'000, 10'000'000) / 1e6;
//
// Not thread-safe. Copies every datagram (tests only).
#ifndef KCPP_TESTING_SIMULATED_PATH_H_
#define KCPP_TESTING_SIMULATED_PATH_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "kcp/congestion.h"
#include "kcp/kcp.h"
#include "kcp/pacer.h"
#include "tools/linkem/link_model.h"

namespace kcpp::test {

struct SimFlowOptions {
  kcp::CongestionControl congestion = kcp::CongestionControl::kBbr;
  // KCP settings as kcptun users run them: fast3, windows 1024.
  int window = 1024;
  uint32_t kcp_mtu = 1350 - 28;
  // Bytes each datagram costs on the wire beyond its KCP bytes (IP and UDP
  // headers, FEC and cipher headers).
  uint32_t overhead_bytes = 28 + 8 + 20;
  // When the flow starts and how much it sends (0: sends for ever).
  int64_t start_us = 0;
  uint64_t bytes = 0;
};

class SimulatedPath {
 public:
  SimulatedPath(const linkem::LinkConfig& forward, const linkem::LinkConfig& reverse);
  ~SimulatedPath();

  // Adds a flow; returns its index.
  int AddFlow(const SimFlowOptions& options);
  // Runs the simulation up to `until_us`.
  void RunUntil(int64_t until_us);
  // Changes the forward bottleneck's rate (a capacity step) at the current
  // simulated time.
  void SetForwardRate(int64_t rate_bps) { forward_.SetRate(rate_bps); }

  int64_t now_us() const { return now_us_; }
  // Application bytes flow `f` delivered in order, in total and during
  // [from_us, to_us) (sampled every millisecond of simulated time).
  uint64_t delivered(int f) const;
  double GoodputBps(int f, int64_t from_us, int64_t to_us) const;
  // Wire bytes flow `f` offered to the forward link.
  uint64_t wire_bytes_sent(int f) const;
  const linkem::LinkCounters& forward() const { return forward_.counters(); }
  // The forward queue's largest size in [from_us, to_us) and its `pct`
  // percentile there (sampled every millisecond), and its queue drops so far.
  int64_t PeakQueueBytes(int64_t from_us, int64_t to_us) const;
  int64_t QueueBytesPercentile(double pct, int64_t from_us, int64_t to_us) const;
  uint64_t QueueDropsBefore(int64_t us) const;
  const kcp::Kcp& sender(int f) const;

 private:
  struct Flow;
  struct Sample {
    int64_t at_us;
    int64_t queue_bytes;
    uint64_t queue_drops;
    std::vector<uint64_t> delivered;
  };
  // Hands a datagram to a link; `to_receiver` picks the direction.
  void Transmit(int flow, bool to_receiver, const uint8_t* data, size_t size);
  void Deliver(int64_t now_us);
  void Service(Flow& flow);
  int64_t NextEventUs() const;
  void TakeSample();

  linkem::LinkModel forward_;
  linkem::LinkModel reverse_;
  std::vector<std::unique_ptr<Flow>> flows_;
  // Datagrams in the links, by tag.
  std::vector<std::vector<uint8_t>> in_flight_;
  std::vector<uint64_t> free_tags_;
  int64_t now_us_ = 0;
  int64_t next_sample_us_ = 0;
  std::vector<Sample> samples_;
};

}  // namespace kcpp::test

#endif  // KCPP_TESTING_SIMULATED_PATH_H_
