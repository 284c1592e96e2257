#include "tools/linkem/link_model.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kcpp::linkem {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

// Pops every packet due at `now_us` into `tags`.
void Drain(LinkModel& link, int64_t now_us, std::vector<uint64_t>* tags = nullptr) {
  uint64_t tag;
  uint32_t bytes;
  while (link.PopDue(now_us, &tag, &bytes)) {
    if (tags) tags->push_back(tag);
  }
}

// ceil(a / b)
int64_t CeilDiv(int64_t a, int64_t b) { return a / b + (a % b != 0); }

TEST(LinkConfigTest, DefaultsAreValidAndLossless) {
  LinkConfig c;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.ExpectedLossRate(), 0);
}

TEST(LinkConfigTest, RejectsOutOfRangeWithFieldName) {
  LinkConfig c;
  c.loss = 1.5;
  EXPECT_THAT(c.Validate().message(), HasSubstr("loss must be in [0, 1], got 1.5"));
  c = {};
  c.loss = std::nan("");
  EXPECT_THAT(c.Validate().message(), HasSubstr("loss"));
  c = {};
  c.rate_bps = -1;
  EXPECT_THAT(c.Validate().message(), HasSubstr("rate_bps"));
  c = {};
  c.delay_us = -5;
  EXPECT_THAT(c.Validate().message(), HasSubstr("delay_us"));
  c = {};
  c.ge_enter_bad = 0.1;
  c.ge_exit_bad = 0;
  EXPECT_THAT(c.Validate().message(), HasSubstr("ge_exit_bad must be > 0"));
  EXPECT_FALSE(LinkModel::Create(c).ok());
}

TEST(LinkConfigTest, ExpectedLossRateCombinesBothProcesses) {
  LinkConfig c;
  c.loss = 0.1;
  c.ge_enter_bad = 0.01;
  c.ge_exit_bad = 0.09;
  c.ge_loss_bad = 0.5;
  c.ge_loss_good = 0;
  // pi_bad = 0.1, GE rate 0.05; combined 1 - 0.9 * 0.95.
  EXPECT_NEAR(c.ExpectedLossRate(), 0.145, 1e-12);
}

TEST(BdpBytesTest, RateTimesRtt) {
  EXPECT_EQ(BdpBytes(100'000'000, 50'000), 625'000);
  EXPECT_EQ(BdpBytes(1'000'000'000, 1'000), 125'000);
  EXPECT_EQ(BdpBytes(10'000'000, 600'000), 750'000);
  EXPECT_EQ(BdpBytes(0, 50'000), 0);
  EXPECT_EQ(BdpBytes(1'000'000'000'000, 3'600'000'000), 450'000'000'000'000);
}

TEST(LinkModelTest, UnlimitedLinkDeliversAfterDelayOnly) {
  LinkConfig c;
  c.delay_us = 1500;
  LinkModel link(c);
  EXPECT_EQ(link.NextDeliveryUs(), std::nullopt);
  EXPECT_TRUE(link.Offer(100, 1350, 7));
  EXPECT_TRUE(link.Offer(100, 1350, 8));
  EXPECT_THAT(link.NextDeliveryUs(), Optional(1600));
  uint64_t tag;
  uint32_t bytes;
  EXPECT_FALSE(link.PopDue(1599, &tag, &bytes));
  ASSERT_TRUE(link.PopDue(1600, &tag, &bytes));
  EXPECT_EQ(tag, 7u);
  EXPECT_EQ(bytes, 1350u);
  ASSERT_TRUE(link.PopDue(1600, &tag, &bytes));
  EXPECT_EQ(tag, 8u);
  EXPECT_FALSE(link.PopDue(1600, &tag, &bytes));
  EXPECT_EQ(link.QueuedBytes(1600), 0);
}

TEST(LinkModelTest, SerialisesBackToBackExactly) {
  LinkConfig c;
  c.rate_bps = 1'000'000;  // 1250 bytes take exactly 10 ms
  c.delay_us = 5000;
  LinkModel link(c);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(link.Offer(0, 1250, i));
  EXPECT_THAT(link.NextDeliveryUs(), Optional(15'000));
  EXPECT_EQ(link.QueuedBytes(0), 2500);  // the first is transmitting
  EXPECT_EQ(link.QueuedBytes(9'999), 2500);
  EXPECT_EQ(link.QueuedBytes(10'000), 1250);  // the second started
  EXPECT_EQ(link.QueuedBytes(20'000), 0);
  uint64_t tag;
  uint32_t bytes;
  for (int64_t due : {15'000, 25'000, 35'000}) {
    EXPECT_THAT(link.NextDeliveryUs(), Optional(due));
    EXPECT_FALSE(link.PopDue(due - 1, &tag, &bytes));
    EXPECT_TRUE(link.PopDue(due, &tag, &bytes));
  }
  // The bottleneck went idle at 30 ms; a packet at 40 ms starts at once.
  ASSERT_TRUE(link.Offer(40'000, 125, 9));
  EXPECT_THAT(link.NextDeliveryUs(), Optional(40'000 + 1000 + 5000));
}

TEST(LinkModelTest, NoDriftOverAMillionPackets) {
  // 1350 bytes at 7 Mbit/s take 1542.857... µs: a per-packet rounding would
  // be off by ~0.14 s after 10^6 packets. Packets arrive faster than the
  // bottleneck drains, so it never idles; each delivery must equal the
  // rounded-up exact end of its transmission.
  LinkConfig c;
  c.rate_bps = 7'000'000;
  LinkModel link(c);
  const int64_t kBits = 1350 * 8'000'000LL;
  int64_t popped = 0;
  uint64_t tag;
  uint32_t bytes;
  for (int64_t i = 0; i < 1'000'000; ++i) {
    const int64_t now = i * 1000;
    while (link.PopDue(now, &tag, &bytes)) {
      ASSERT_EQ(static_cast<int64_t>(tag), popped);
      ++popped;
    }
    ASSERT_TRUE(link.Offer(now, 1350, i));
  }
  while (auto next = link.NextDeliveryUs()) {
    ASSERT_EQ(*next, CeilDiv((popped + 1) * kBits, c.rate_bps)) << "packet " << popped;
    ASSERT_TRUE(link.PopDue(*next, &tag, &bytes));
    ++popped;
  }
  EXPECT_EQ(popped, 1'000'000);
  EXPECT_EQ(link.counters().delivered_bytes, 1'350'000'000u);
}

TEST(LinkModelTest, DropTailAtConfiguredBytes) {
  LinkConfig c;
  c.rate_bps = 8'000'000;  // 1000 bytes per ms
  c.queue_bytes = 5000;
  LinkModel link(c);
  EXPECT_TRUE(link.Offer(0, 1000, 0));  // transmitting, not queued
  for (uint64_t i = 1; i <= 5; ++i) EXPECT_TRUE(link.Offer(0, 1000, i)) << i;
  EXPECT_EQ(link.QueuedBytes(0), 5000);
  EXPECT_FALSE(link.Offer(0, 1000, 6));
  EXPECT_FALSE(link.Offer(0, 1, 7));  // even one byte over is dropped
  EXPECT_EQ(link.counters().queue_drops, 2u);
  EXPECT_EQ(link.counters().queue_drop_bytes, 1001u);
  EXPECT_EQ(link.counters().peak_queue_bytes, 5000);
  // At 1 ms the second packet starts: room for exactly one more.
  EXPECT_EQ(link.QueuedBytes(1000), 4000);
  EXPECT_TRUE(link.Offer(1000, 1000, 8));
  EXPECT_FALSE(link.Offer(1000, 1000, 9));
  EXPECT_EQ(link.counters().queue_drops, 3u);
  EXPECT_EQ(link.counters().peak_queue_bytes, 5000);
}

TEST(LinkModelTest, IdleBottleneckAcceptsAPacketLargerThanTheQueue) {
  LinkConfig c;
  c.rate_bps = 1'000'000;
  c.queue_bytes = 100;
  LinkModel link(c);
  EXPECT_TRUE(link.Offer(0, 1500, 1));
  EXPECT_FALSE(link.Offer(0, 1500, 2));
  EXPECT_TRUE(link.Offer(0, 100, 3));
  EXPECT_EQ(link.counters().peak_queue_bytes, 100);
}

TEST(LinkModelTest, LostPacketsTakeNoQueueSpace) {
  LinkConfig c;
  c.rate_bps = 1'000'000;
  c.queue_bytes = 1000;
  c.loss = 1;
  LinkModel link(c);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(link.Offer(0, 1000, i));
  EXPECT_EQ(link.counters().loss_drops, 100u);
  EXPECT_EQ(link.counters().queue_drops, 0u);
  EXPECT_EQ(link.counters().peak_queue_bytes, 0);
  EXPECT_EQ(link.QueuedBytes(0), 0);
}

TEST(LinkModelTest, JitterStaysInBoundsAndNeverReorders) {
  LinkConfig c;
  c.delay_us = 10'000;
  c.jitter_us = 2'000;
  c.seed = 42;
  LinkModel link(c);
  // Sparse packets (one per 5 ms, more than the jitter): nothing to clamp,
  // so the draws themselves must cover [delay, delay + jitter].
  std::vector<int64_t> sent;
  int64_t min_delay = INT64_MAX, max_delay = 0, last = 0;
  uint64_t tag;
  uint32_t bytes;
  for (int64_t i = 0; i < 100'000; ++i) {
    const int64_t now = i * 5'000;
    sent.push_back(now);
    ASSERT_TRUE(link.Offer(now, 100, i));
    while (auto next = link.NextDeliveryUs()) {
      if (*next > now + 5'000) break;
      ASSERT_TRUE(link.PopDue(*next, &tag, &bytes));
      const int64_t d = *next - sent[tag];
      min_delay = std::min(min_delay, d);
      max_delay = std::max(max_delay, d);
      ASSERT_GE(*next, last);
      last = *next;
    }
  }
  EXPECT_EQ(min_delay, 10'000);
  EXPECT_EQ(max_delay, 12'000);

  // Dense packets (10 per jitter span): delivery is FIFO and the clamp keeps
  // the delay within the bounds.
  LinkModel dense(c);
  std::vector<uint64_t> order;
  last = 0;
  for (int64_t i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(dense.Offer(i * 200, 100, i));
    while (auto next = dense.NextDeliveryUs()) {
      if (*next > i * 200) break;
      ASSERT_GE(*next, last);
      last = *next;
      ASSERT_TRUE(dense.PopDue(*next, &tag, &bytes));
      const int64_t d = *next - static_cast<int64_t>(tag) * 200;
      ASSERT_GE(d, 10'000);
      ASSERT_LE(d, 12'000);
      order.push_back(tag);
    }
  }
  for (size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i);
}

// Offers `n` packets at 1 µs intervals on an unlimited link and returns the
// per-packet loss outcomes.
std::vector<bool> LossPattern(const LinkConfig& c, int n) {
  LinkModel link(c);
  std::vector<bool> lost(n);
  for (int i = 0; i < n; ++i) {
    lost[i] = !link.Offer(i, 100, i);
    Drain(link, i);
  }
  return lost;
}

TEST(LinkModelTest, BernoulliLossRate) {
  for (double p : {0.005, 0.01, 0.03, 0.3}) {
    LinkConfig c;
    c.loss = p;
    LinkModel link(c);
    const int kN = 1'000'000;
    for (int i = 0; i < kN; ++i) link.Offer(i, 100, i);
    const double sd = std::sqrt(kN * p * (1 - p));
    // Five standard deviations: a fixed seed, so this is exact and stable.
    EXPECT_NEAR(static_cast<double>(link.counters().loss_drops), kN * p, 5 * sd) << p;
    EXPECT_EQ(link.counters().queue_drops, 0u);
  }
}

TEST(LinkModelTest, GilbertElliottLongRunRateAndBurstLength) {
  LinkConfig c;
  c.ge_enter_bad = 0.005;
  c.ge_exit_bad = 0.25;  // mean bad period 4 packets
  c.ge_loss_good = 0;
  c.ge_loss_bad = 1;
  c.seed = 3;
  const int kN = 1'000'000;
  const std::vector<bool> lost = LossPattern(c, kN);
  int64_t losses = 0, runs = 0;
  for (int i = 0; i < kN; ++i) {
    losses += lost[i];
    runs += lost[i] && (i == 0 || !lost[i - 1]);
  }
  const double expected = c.ExpectedLossRate();  // 0.005 / 0.255 = 1.96 %
  EXPECT_NEAR(expected, 0.0196, 1e-4);
  EXPECT_NEAR(static_cast<double>(losses) / kN, expected, 0.05 * expected);
  // With loss_bad = 1 and loss_good = 0, a run of losses is a bad period:
  // geometric with mean 1 / exit.
  EXPECT_NEAR(static_cast<double>(losses) / runs, 1 / c.ge_exit_bad, 0.05 / c.ge_exit_bad);

  // Partial loss in both states.
  c.ge_enter_bad = 0.01;
  c.ge_exit_bad = 0.3;
  c.ge_loss_good = 0.001;
  c.ge_loss_bad = 0.7;
  LinkModel link(c);
  for (int i = 0; i < kN; ++i) link.Offer(i, 100, i);
  const double pi_bad = 0.01 / 0.31;
  const double rate = pi_bad * 0.7 + (1 - pi_bad) * 0.001;
  EXPECT_NEAR(c.ExpectedLossRate(), rate, 1e-12);
  EXPECT_NEAR(static_cast<double>(link.counters().loss_drops) / kN, rate, 0.05 * rate);
}

TEST(LinkModelTest, SameSeedSamePatternAndJitterDoesNotShiftLosses) {
  LinkConfig c;
  c.loss = 0.02;
  c.ge_enter_bad = 0.01;
  c.ge_exit_bad = 0.5;
  c.seed = 99;
  const std::vector<bool> a = LossPattern(c, 100'000);
  EXPECT_EQ(a, LossPattern(c, 100'000));
  c.jitter_us = 700;
  c.delay_us = 300;
  EXPECT_EQ(a, LossPattern(c, 100'000));
  c.seed = 100;
  EXPECT_NE(a, LossPattern(c, 100'000));
}

TEST(LinkModelTest, CountersAddUp) {
  LinkConfig c;
  c.rate_bps = 10'000'000;
  c.queue_bytes = 20'000;
  c.delay_us = 3'000;
  c.jitter_us = 500;
  c.loss = 0.02;
  c.ge_enter_bad = 0.01;
  c.ge_exit_bad = 0.3;
  c.seed = 5;
  LinkModel link(c);
  uint64_t in_bytes = 0;
  int64_t now = 0;
  for (int i = 0; i < 200'000; ++i) {
    // Bursts of 20 packets every 10 ms: twice the bottleneck's rate.
    if (i % 20 == 0) now += 10'000;
    const uint32_t size = 100 + (i * 37) % 1300;
    in_bytes += size;
    link.Offer(now, size, i);
    ASSERT_LE(link.QueuedBytes(now), c.queue_bytes);
    Drain(link, now);
    const LinkCounters& k = link.counters();
    ASSERT_EQ(k.offered_packets,
              k.queue_drops + k.loss_drops + k.delivered_packets + link.InFlightPackets());
  }
  Drain(link, now + 10'000'000);
  const LinkCounters& k = link.counters();
  EXPECT_EQ(link.InFlightPackets(), 0u);
  EXPECT_EQ(k.offered_packets, 200'000u);
  EXPECT_EQ(k.offered_bytes, in_bytes);
  EXPECT_EQ(k.offered_packets, k.queue_drops + k.loss_drops + k.delivered_packets);
  EXPECT_EQ(k.offered_bytes, k.queue_drop_bytes + k.loss_drop_bytes + k.delivered_bytes);
  EXPECT_GT(k.queue_drops, 0u);
  EXPECT_GT(k.loss_drops, 0u);
  EXPECT_LE(k.peak_queue_bytes, c.queue_bytes);
  EXPECT_GT(k.peak_queue_bytes, c.queue_bytes - 1400);
}

TEST(LinkModelTest, TimeRunningBackwardsIsTreatedAsTheLatestTime) {
  LinkConfig c;
  c.delay_us = 100;
  LinkModel link(c);
  ASSERT_TRUE(link.Offer(1000, 10, 1));
  ASSERT_TRUE(link.Offer(500, 10, 2));  // as if at 1000
  EXPECT_THAT(link.NextDeliveryUs(), Optional(1100));
  std::vector<uint64_t> tags;
  Drain(link, 1100, &tags);
  EXPECT_EQ(tags, (std::vector<uint64_t>{1, 2}));
}

TEST(LinkModelRate, SetRateAppliesToLaterPacketsOnly) {
  LinkConfig c;
  c.rate_bps = 8'000'000;  // 1 byte per µs
  LinkModel link(c);
  ASSERT_TRUE(link.Offer(0, 1000, 1));  // transmitted over [0, 1000)
  link.SetRate(16'000'000);             // 2 bytes per µs from now on
  ASSERT_TRUE(link.Offer(0, 1000, 2));  // waits, then [1000, 1500)
  uint64_t tag;
  uint32_t bytes;
  EXPECT_FALSE(link.PopDue(999, &tag, &bytes));
  ASSERT_TRUE(link.PopDue(1000, &tag, &bytes));
  EXPECT_EQ(tag, 1u);
  EXPECT_FALSE(link.PopDue(1499, &tag, &bytes));
  ASSERT_TRUE(link.PopDue(1500, &tag, &bytes));
  EXPECT_EQ(tag, 2u);
}

}  // namespace
}  // namespace kcpp::linkem
