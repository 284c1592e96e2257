// The congestion controllers on a simulated bottleneck: one direction of a
// link with a rate, a drop-tail queue of one bandwidth-delay product, a
// propagation delay and optional random loss (testing/simulated_path.h).
// Deterministic: simulated time, seeded loss.
#include "kcp/congestion.h"

#include <algorithm>
#include <cmath>

#include "gtest/gtest.h"
#include "kcp/bbr.h"
#include "testing/simulated_path.h"
#include "tools/linkem/link_model.h"

namespace kcpp::kcp {
namespace {

using test::SimFlowOptions;
using test::SimulatedPath;

constexpr int64_t kSecond = 1'000'000;

struct Link {
  int64_t rate_bps;
  int64_t rtt_us;
  double loss = 0;
};

SimulatedPath MakePath(const Link& l) {
  linkem::LinkConfig fwd;
  fwd.rate_bps = l.rate_bps;
  fwd.delay_us = l.rtt_us / 2;
  fwd.queue_bytes = linkem::BdpBytes(l.rate_bps, l.rtt_us);
  fwd.loss = l.loss;
  fwd.seed = 7;
  linkem::LinkConfig rev;
  rev.delay_us = l.rtt_us / 2;
  rev.seed = 8;
  return SimulatedPath(fwd, rev);
}

// The most application bytes per second a flow can get through the link:
// the rate times the payload's share of each full datagram on the wire.
double MaxGoodputBps(int64_t rate_bps) {
  const SimFlowOptions o;
  return static_cast<double>(rate_bps) * (o.kcp_mtu - 24) / (o.kcp_mtu + o.overhead_bytes);
}

TEST(CongestionControl, NamesRoundTrip) {
  for (CongestionControl cc :
       {CongestionControl::kKcpGo, CongestionControl::kNone, CongestionControl::kBbr}) {
    absl::StatusOr<CongestionControl> parsed = ParseCongestionControl(CongestionControlName(cc));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, cc);
  }
  absl::StatusOr<CongestionControl> bad = ParseCongestionControl("cubic");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bbr, kcp-go or none"), std::string::npos);
}

TEST(Bbr, ConvergesToTheBottleneckWithoutOverflowingItsQueue) {
  const Link link{20'000'000, 40'000};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  path.RunUntil(20 * kSecond);
  const double goodput = path.GoodputBps(f, 10 * kSecond, 20 * kSecond);
  const KcpCounters& c = path.sender(f).counters();
  EXPECT_GE(goodput, 0.9 * MaxGoodputBps(link.rate_bps))
      << path.sender(f).congestion_controller().DebugString() << " segs " << c.out_segs << " lost "
      << c.lost_segs << " fast " << c.fast_retrans_segs << " early " << c.early_retrans_segs
      << " drops " << path.forward().queue_drops;
  EXPECT_LE(goodput, MaxGoodputBps(link.rate_bps) * 1.001);
  // Once converged the queue never overflows.
  EXPECT_EQ(path.QueueDropsBefore(20 * kSecond) - path.QueueDropsBefore(5 * kSecond), 0u)
      << "drops in all: " << path.forward().queue_drops;
  const auto& bbr = static_cast<const BbrController&>(path.sender(f).congestion_controller());
  EXPECT_EQ(bbr.mode(), BbrController::Mode::kProbeBw);
  EXPECT_NEAR(static_cast<double>(bbr.min_rtt_us()), 40'000.0, 12'000.0);
}

TEST(Bbr, KeepsItsRateUnderRandomLoss) {
  const Link link{20'000'000, 40'000, 0.03};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  path.RunUntil(20 * kSecond);
  const double goodput = path.GoodputBps(f, 10 * kSecond, 20 * kSecond);
  EXPECT_GE(goodput, 0.8 * (1 - link.loss) * MaxGoodputBps(link.rate_bps))
      << path.sender(f).congestion_controller().DebugString();
}

// A satellite-like path: before the first RTT sample KCP's timer (200 ms)
// fires long before a 600 ms round trip ends; those timeouts must not end
// STARTUP (they did: the flow then crawled up at 1.25x per 8 rounds of 600 ms).
TEST(Bbr, FillsALongFatLossyPath) {
  const Link link{10'000'000, 600'000, 0.005};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  path.RunUntil(40 * kSecond);
  EXPECT_GE(path.GoodputBps(f, 10 * kSecond, 40 * kSecond), 0.7 * MaxGoodputBps(link.rate_bps))
      << path.sender(f).congestion_controller().DebugString();
}

// draining() tells the embedder when losses are the controller's own queue
// overflowing (adaptive FEC parity leaves them out): exactly in DRAIN, which
// a start on a clean one-BDP link must pass through.
TEST(Bbr, DrainingIsExactlyTheDrainState) {
  const Link link{20'000'000, 40'000};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  const auto& bbr = static_cast<const BbrController&>(path.sender(f).congestion_controller());
  int drain_ms = 0;
  for (int64_t t = 1000; t <= 3 * kSecond; t += 1000) {
    path.RunUntil(t);
    const bool in_drain = bbr.mode() == BbrController::Mode::kDrain;
    ASSERT_EQ(bbr.draining(), in_drain) << "at " << t << " us: " << bbr.DebugString();
    drain_ms += in_drain;
  }
  EXPECT_GT(drain_ms, 0);
  EXPECT_EQ(bbr.mode(), BbrController::Mode::kProbeBw);
}

// A path whose round trip is far below KCP's interval (loopback, a LAN): the
// receiver's ACKs wait for its next flush, so the window must cover an
// interval of data. Sized from the min RTT alone it capped every round, the
// bandwidth samples followed it down and the flow crawled at 4 segments
// per interval (0.5 MB/s on loopback, where it should move hundreds).
TEST(Bbr, KeepsItsRateWhenTheRoundTripIsShorterThanTheInterval) {
  const Link link{200'000'000, 400};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  path.RunUntil(3 * kSecond);
  // 30 %: the one-BDP queue here is 7 datagrams, which a whole interval's
  // ACKs released at once overflow (43 % measured); the collapse was 2 %.
  EXPECT_GE(path.GoodputBps(f, 1 * kSecond, 3 * kSecond), 0.3 * MaxGoodputBps(link.rate_bps))
      << path.sender(f).congestion_controller().DebugString();
}

TEST(Bbr, FollowsAStepDownAndAStepUpOfCapacity) {
  const Link link{50'000'000, 40'000};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  path.RunUntil(10 * kSecond);
  path.SetForwardRate(20'000'000);
  path.RunUntil(20 * kSecond);
  path.SetForwardRate(50'000'000);
  path.RunUntil(30 * kSecond);
  // Within a second (25 RTTs) of each step the rate has followed it.
  EXPECT_GE(path.GoodputBps(f, 11 * kSecond, 20 * kSecond), 0.85 * MaxGoodputBps(20'000'000));
  EXPECT_GE(path.GoodputBps(f, 21 * kSecond, 30 * kSecond), 0.85 * MaxGoodputBps(50'000'000))
      << path.sender(f).congestion_controller().DebugString();
  // After a step down the queue that builds is drained, not kept: drops in
  // the second after the step, none later.
  EXPECT_EQ(path.QueueDropsBefore(20 * kSecond) - path.QueueDropsBefore(12 * kSecond), 0u);
}

struct SharingCase {
  Link link;
  int64_t second_start_us;
};

class BbrSharing : public ::testing::TestWithParam<SharingCase> {};

TEST_P(BbrSharing, TwoFlowsShareTheLink) {
  const Link link = GetParam().link;
  SimulatedPath path = MakePath(link);
  const int a = path.AddFlow({});
  const int b = path.AddFlow({.start_us = GetParam().second_start_us});
  path.RunUntil(40 * kSecond);
  const double ga = path.GoodputBps(a, 20 * kSecond, 40 * kSecond);
  const double gb = path.GoodputBps(b, 20 * kSecond, 40 * kSecond);
  EXPECT_LE(std::fabs(ga - gb), 0.2 * std::max(ga, gb)) << ga << " vs " << gb;
  EXPECT_GE(ga + gb, 0.85 * MaxGoodputBps(link.rate_bps));
}

INSTANTIATE_TEST_SUITE_P(
    Links, BbrSharing,
    ::testing::Values(SharingCase{{50'000'000, 40'000}, 2 * kSecond},
                      SharingCase{{50'000'000, 40'000}, 5 * kSecond},
                      SharingCase{{100'000'000, 20'000}, 1 * kSecond}));

// The queueing target: a bulk flow adds at most half a base RTT of queue
// for everyone else on the link once it has converged (a ping's p99 at most
// 1.5x the base RTT), on the 100 Mbit/s, 50 ms link (the peak measured
// here: 186 kB, 15 ms).
TEST(Bbr, QueueStaysUnderHalfTheBaseRttOnceConverged) {
  const Link link{100'000'000, 50'000};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({});
  path.RunUntil(20 * kSecond);
  const int64_t half_rtt_bytes = linkem::BdpBytes(link.rate_bps, link.rtt_us / 2);
  EXPECT_LE(path.PeakQueueBytes(5 * kSecond, 20 * kSecond), half_rtt_bytes)
      << path.sender(f).congestion_controller().DebugString();
}

// Jitter on the ACK path bunches ACKs, so some delivery-rate samples run
// faster than the bottleneck and the estimate creeps above it; the queue
// that builds must be caught as standing and drained. (With the standing
// signal at 1.25 x min RTT for 3 rounds the p99 queue here was 31 ms; now 23.)
TEST(Bbr, QueueStaysShortWhenAckJitterInflatesTheEstimate) {
  const Link link{100'000'000, 50'000};
  linkem::LinkConfig fwd;
  fwd.rate_bps = link.rate_bps;
  fwd.delay_us = link.rtt_us / 2;
  fwd.queue_bytes = linkem::BdpBytes(link.rate_bps, link.rtt_us);
  fwd.seed = 7;
  linkem::LinkConfig rev;
  rev.jitter_us = 2000;
  rev.delay_us = link.rtt_us / 2 - rev.jitter_us / 2;
  rev.seed = 8;
  SimulatedPath path(fwd, rev);
  const int f = path.AddFlow({});
  path.RunUntil(20 * kSecond);
  const int64_t half_rtt_bytes = linkem::BdpBytes(link.rate_bps, link.rtt_us / 2);
  EXPECT_LE(path.QueueBytesPercentile(99, 5 * kSecond, 20 * kSecond), half_rtt_bytes)
      << path.sender(f).congestion_controller().DebugString();
  EXPECT_GE(path.GoodputBps(f, 5 * kSecond, 20 * kSecond), 0.9 * MaxGoodputBps(link.rate_bps));
}

// A path longer than KCP's window (100 Mbit/s x 100 ms is 925 segments,
// the window 512): the window, not the controller, holds the sender back,
// and with it the embedder's send gate (WaitSnd() < snd_wnd), so KCP's own
// queue is empty while the application has plenty to send. Read as an idle
// application, every rate sample was "app-limited", the bandwidth never
// stopped growing in STARTUP's eyes and the flow paced at 2.885x for ever
// (on the real 1 % lossy link: 280 Mbit/s bursts for 2.75 s).
TEST(Bbr, LeavesStartupWhenKcpsWindowIsTheLimit) {
  const Link link{100'000'000, 100'000};
  SimulatedPath path = MakePath(link);
  const int f = path.AddFlow({.window = 512});
  path.RunUntil(3 * kSecond);
  const auto& bbr = static_cast<const BbrController&>(path.sender(f).congestion_controller());
  EXPECT_EQ(bbr.mode(), BbrController::Mode::kProbeBw) << bbr.DebugString();
  EXPECT_LT(bbr.pacing_gain(), 2) << bbr.DebugString();
  // Window-limited, the flow still moves a window per round trip.
  EXPECT_GE(path.GoodputBps(f, 1 * kSecond, 3 * kSecond),
            0.8 * 512 * (SimFlowOptions().kcp_mtu - 24) * 8 / 0.1)
      << bbr.DebugString();
}

// The reason for kBbr: KCP's own window without congestion control (what
// kcptun's modes set) bursts whole windows into the queue.
TEST(Bbr, DropsFarLessThanAWindowLimitedSender) {
  const Link link{20'000'000, 80'000};
  uint64_t drops[2];
  double goodput[2];
  int i = 0;
  for (CongestionControl cc : {CongestionControl::kNone, CongestionControl::kBbr}) {
    SimulatedPath path = MakePath(link);
    const int f = path.AddFlow({.congestion = cc});
    path.RunUntil(20 * kSecond);
    drops[i] = path.forward().queue_drops;
    goodput[i] = path.GoodputBps(f, 5 * kSecond, 20 * kSecond);
    ++i;
  }
  EXPECT_LT(drops[1] * 10, drops[0]) << drops[1] << " vs " << drops[0];
  EXPECT_GE(goodput[1], goodput[0]);
}

}  // namespace
}  // namespace kcpp::kcp
