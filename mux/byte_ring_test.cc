#include "mux/byte_ring.h"

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

std::vector<uint8_t> Drain(ByteRing& ring) {
  std::vector<uint8_t> out;
  while (!ring.empty()) {
    absl::Span<const uint8_t> f = ring.Front();
    EXPECT_FALSE(f.empty());
    out.insert(out.end(), f.begin(), f.end());
    ring.Consume(f.size());
  }
  return out;
}

TEST(ByteRing, EmptyRingHasNothingInFront) {
  ByteRing ring;
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.Front().empty());
  EXPECT_EQ(ring.capacity(), 0u);
  ring.Append({});
  EXPECT_EQ(ring.capacity(), 0u);  // nothing appended, nothing allocated
}

TEST(ByteRing, WrapsAroundAndKeepsOrder) {
  ByteRing ring;
  std::vector<uint8_t> a(3000, 1), b(3000, 2);
  ring.Append(a);
  ASSERT_EQ(ring.capacity(), 4096u);
  ring.Consume(2500);
  ring.Append(b);  // 500 + 3000 bytes: wraps at 4096
  EXPECT_EQ(ring.capacity(), 4096u);
  EXPECT_EQ(ring.size(), 3500u);
  EXPECT_EQ(ring.Front().size(), 4096u - 2500u);  // contiguous up to the end
  std::vector<uint8_t> want(500, 1);
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(Drain(ring), want);
}

TEST(ByteRing, GrowsWhileWrappedWithoutReordering) {
  ByteRing ring;
  std::vector<uint8_t> first(4000);
  for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<uint8_t>(i);
  ring.Append(first);
  ring.Consume(3900);
  std::vector<uint8_t> second(200);
  for (size_t i = 0; i < second.size(); ++i) second[i] = static_cast<uint8_t>(100 + i);
  ring.Append(second);  // wrapped now
  std::vector<uint8_t> third(10000, 7);
  ring.Append(third);  // grows from a wrapped state
  EXPECT_EQ(ring.capacity(), 16384u);
  std::vector<uint8_t> want(first.begin() + 3900, first.end());
  want.insert(want.end(), second.begin(), second.end());
  want.insert(want.end(), third.begin(), third.end());
  EXPECT_EQ(Drain(ring), want);
}

TEST(ByteRing, MatchesADequeUnderRandomOperations) {
  std::mt19937 rng(7);
  ByteRing ring;
  std::deque<uint8_t> model;
  uint8_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 2 == 0) {
      std::vector<uint8_t> data(rng() % 3000);
      for (uint8_t& b : data) b = next++;
      ring.Append(data);
      model.insert(model.end(), data.begin(), data.end());
    } else {
      const size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
      absl::Span<const uint8_t> f = ring.Front();
      const size_t check = std::min(n, f.size());
      for (size_t i = 0; i < check; ++i) ASSERT_EQ(f[i], model[i]);
      ring.Consume(n);
      model.erase(model.begin(), model.begin() + n);
    }
    ASSERT_EQ(ring.size(), model.size());
  }
  std::vector<uint8_t> rest = Drain(ring);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), model.begin(), model.end()));
}

TEST(ByteRing, ClearKeepsMemoryReleaseFreesIt) {
  ByteRing ring;
  ring.Append(std::vector<uint8_t>(5000, 3));
  ring.Clear();
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.capacity(), 8192u);
  ring.Release();
  EXPECT_EQ(ring.capacity(), 0u);
  ring.Append(std::vector<uint8_t>(10, 4));
  EXPECT_EQ(Drain(ring), std::vector<uint8_t>(10, 4));
}

}  // namespace
}  // namespace kcpp::service::internal
