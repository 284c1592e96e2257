// The engine allocates nothing per segment once warm (kcp.h): two engines
// exchange data in memory, every 7th datagram dropped so retransmissions,
// out-of-order storage and fast-ack paths run too; after a warm-up, the
// number of heap allocations must stay at zero. Counted by replacing
// operator new in this test binary.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "kcp/kcp.h"

namespace {
std::atomic<uint64_t> g_allocs{0};
}  // namespace

void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace kcpp::kcp {
namespace {

class RingSink : public OutputSink {
 public:
  RingSink() : storage_(kBuffers * kSize) {
    for (size_t i = 0; i < kBuffers; ++i) free_.push_back(storage_.data() + i * kSize);
    pending_.reserve(kBuffers);
    free_.reserve(kBuffers);
  }
  absl::Span<uint8_t> AcquireBuffer() override {
    if (free_.empty()) return {};
    uint8_t* b = free_.back();
    free_.pop_back();
    return absl::MakeSpan(b, kSize);
  }
  void Emit(absl::Span<uint8_t> buffer, size_t length) override {
    if (length == 0) {
      free_.push_back(buffer.data());
      return;
    }
    pending_.push_back({buffer.data(), length});
  }
  // Hands every pending datagram to `to` (dropping every 7th).
  void DeliverTo(Kcp& to, uint32_t now) {
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (++count_ % 7 != 0)
        (void)to.Input(absl::MakeConstSpan(pending_[i].first, pending_[i].second), now);
      free_.push_back(pending_[i].first);
    }
    pending_.clear();
  }
  bool empty() const { return pending_.empty(); }

 private:
  static constexpr size_t kBuffers = 4096, kSize = 1500;
  std::vector<uint8_t> storage_;
  std::vector<uint8_t*> free_;
  std::vector<std::pair<uint8_t*, size_t>> pending_;
  uint64_t count_ = 0;
};

class AllocTest : public ::testing::TestWithParam<Flavor> {};

TEST_P(AllocTest, NoAllocationsPerSegmentOnceWarm) {
  RingSink sa, sb;
  Kcp a(0x11223344, &sa, GetParam()), b(0x11223344, &sb, GetParam());
  for (Kcp* k : {&a, &b}) {
    k->SetNoDelay(1, 10, 2, 1);
    k->SetStreamMode(true);
    ASSERT_TRUE(k->SetWindowSize(256, 256).ok());
  }
  std::vector<uint8_t> chunk(50000, 7), buf(2048);
  uint32_t now = 0;
  uint64_t received = 0;
  auto run = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      while (a.WaitSnd() < 256) a.Send(chunk);
      a.Update(now);
      b.Update(now);
      for (int spin = 0; spin < 16 && !(sa.empty() && sb.empty()); ++spin) {
        sa.DeliverTo(b, now);
        for (int n; (n = b.Recv(absl::MakeSpan(buf))) > 0;) received += n;
        sb.DeliverTo(a, now);
      }
      now += 5;
    }
  };
  run(2000);  // warm-up: rings, pools, ACK lists reach their working size
  const uint64_t before_bytes = received;
  const uint64_t before = g_allocs.load();
  run(2000);
  const uint64_t allocs = g_allocs.load() - before;
  const uint64_t segments = (received - before_bytes) / a.mss();
  EXPECT_GT(segments, 10000u);
  EXPECT_GT(a.counters().retrans_segs, 100u);
  EXPECT_EQ(allocs, 0u) << "over " << segments << " segments";
}

INSTANTIATE_TEST_SUITE_P(Kcp, AllocTest, ::testing::Values(Flavor::kIkcp, Flavor::kKcpGo));

}  // namespace
}  // namespace kcpp::kcp
