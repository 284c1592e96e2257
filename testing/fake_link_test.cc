#include "testing/fake_link.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace kcpp::test {
namespace {

std::vector<uint8_t> Datagram(uint32_t id, size_t size = 8) {
  std::vector<uint8_t> d(size, 0);
  for (int i = 0; i < 4; ++i) d[i] = static_cast<uint8_t>(id >> (8 * i));
  return d;
}

uint32_t IdOf(absl::Span<const uint8_t> d) {
  return d[0] | d[1] << 8 | d[2] << 16 | uint32_t{d[3]} << 24;
}

TEST(FakeClock, AdvancesAndWraps) {
  FakeClock c(0xfffffff0u);
  EXPECT_EQ(c.now_ms32(), 0xfffffff0u);
  c.AdvanceTo32(0x10);  // 32 ms later across the 32-bit wrap
  EXPECT_EQ(c.now_ms(), 0x100000010u);
  c.AdvanceTo32(0x5);  // in the past: unchanged
  EXPECT_EQ(c.now_ms(), 0x100000010u);
  c.AdvanceTo(5);  // in the past: unchanged
  EXPECT_EQ(c.now_ms(), 0x100000010u);
  c.Advance(1);
  EXPECT_EQ(c.now_ms32(), 0x11u);
}

TEST(FakeLink, PerfectLinkDeliversInOrderAfterDelay) {
  FakeLink link({.delay_ms = 10});
  for (uint32_t i = 0; i < 5; ++i) link.Send(Datagram(i), i);
  std::vector<uint32_t> got;
  auto collect = [&](absl::Span<const uint8_t> d) { got.push_back(IdOf(d)); };
  EXPECT_EQ(link.DeliverDue(9, collect), 0u);
  EXPECT_EQ(link.NextDeliveryTime(), 10u);
  EXPECT_EQ(link.DeliverDue(12, collect), 3u);
  EXPECT_EQ(link.DeliverDue(100, collect), 2u);
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(link.NextDeliveryTime().has_value());
  EXPECT_EQ(link.stats().delivered, 5u);
}

TEST(FakeLink, LossRateIsRoughlyAsConfiguredAndSeeded) {
  auto run = [](uint64_t seed) {
    FakeLink link({.loss = 0.3, .seed = seed});
    for (uint32_t i = 0; i < 10000; ++i) link.Send(Datagram(i), 0);
    std::vector<uint32_t> got;
    link.DeliverDue(0, [&](absl::Span<const uint8_t> d) { got.push_back(IdOf(d)); });
    return got;
  };
  const std::vector<uint32_t> a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);  // same seed, same run
  EXPECT_NE(a, c);
  EXPECT_GT(a.size(), 6700u);
  EXPECT_LT(a.size(), 7300u);
}

TEST(FakeLink, BurstLossDropsRuns) {
  FakeLink link({.burst_enter = 0.05, .burst_exit = 0.2, .burst_loss = 1.0, .seed = 3});
  for (uint32_t i = 0; i < 10000; ++i) link.Send(Datagram(i), 0);
  std::vector<uint32_t> got;
  link.DeliverDue(0, [&](absl::Span<const uint8_t> d) { got.push_back(IdOf(d)); });
  // Mean burst length 1/0.2 = 5: there must be gaps of several datagrams.
  uint32_t longest_gap = 0;
  for (size_t i = 1; i < got.size(); ++i) longest_gap = std::max(longest_gap, got[i] - got[i - 1]);
  EXPECT_GE(longest_gap, 10u);
  EXPECT_LT(got.size(), 10000u);
  EXPECT_GT(got.size(), 7000u);
}

TEST(FakeLink, DuplicateReorderAndCorrupt) {
  FakeLink link({.duplicate = 1.0, .seed = 5});
  link.Send(Datagram(1), 0);
  EXPECT_EQ(link.DeliverDue(0, [](absl::Span<const uint8_t>) {}), 2u);

  FakeLink r({.reorder = 0.5, .reorder_delay_ms = 50, .delay_ms = 1, .seed = 5});
  for (uint32_t i = 0; i < 100; ++i) r.Send(Datagram(i), i);
  std::vector<uint32_t> got;
  r.DeliverDue(1000, [&](absl::Span<const uint8_t> d) { got.push_back(IdOf(d)); });
  ASSERT_EQ(got.size(), 100u);
  bool out_of_order = false;
  for (size_t i = 1; i < got.size(); ++i) out_of_order |= got[i] < got[i - 1];
  EXPECT_TRUE(out_of_order);
  EXPECT_GT(r.stats().reordered, 20u);

  FakeLink c({.corrupt = 1.0, .seed = 9});
  const std::vector<uint8_t> zero(64, 0);
  c.Send(zero, 0);
  int changed = 0;
  c.DeliverDue(0, [&](absl::Span<const uint8_t> d) {
    for (uint8_t b : d) changed += b != 0;
  });
  EXPECT_EQ(changed, 1);
}

TEST(FakeLink, SendFromInsideDeliverIsSafe) {
  FakeLink link;
  link.Send(Datagram(1, 100), 0);
  std::vector<uint32_t> got;
  link.DeliverDue(0, [&](absl::Span<const uint8_t> d) {
    got.push_back(IdOf(d));
    if (IdOf(d) < 5) link.Send(Datagram(IdOf(d) + 1, 100), 0);
  });
  EXPECT_EQ(got, (std::vector<uint32_t>{1, 2, 3, 4, 5}));
}

TEST(FakeLink, TailDropBoundsMemory) {
  FakeLink link({.delay_ms = 10, .max_in_flight = 4});
  for (uint32_t i = 0; i < 10; ++i) link.Send(Datagram(i), 0);
  EXPECT_EQ(link.in_flight(), 4u);
  EXPECT_EQ(link.stats().dropped, 6u);
}

}  // namespace
}  // namespace kcpp::test
