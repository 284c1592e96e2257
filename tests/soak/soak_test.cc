// The soak's short CI version: 1,000 session pairs echo a 256-byte message
// per round, byte-checked, for 10 warm-up rounds and then 80 more. After
// the warm-up every pool, ring and queue a session uses has reached its
// working set, so the process must not grow: resident memory may rise by at
// most 8 MiB over the 80 rounds (~10 % of what the 2,000 sessions hold;
// room for allocator noise). A leak of ~100 bytes or more per echoed
// message (80,000 of them) breaks it. A memory bound, not a timing one: no
// assertion depends on how long a round takes.
//
// Not run under the sanitizers (tools/test.sh): their allocators keep freed
// memory in quarantine on purpose, so RSS says nothing there.
#include "tests/soak/soak.h"

#include "gtest/gtest.h"

namespace kcpp::soak {
namespace {

constexpr int kSessions = 1000;
constexpr int kWarmupRounds = 10;
constexpr int kRounds = 80;
constexpr int64_t kMaxGrowthBytes = 8 << 20;

absl::Time Guard() { return absl::Now() + absl::Seconds(60); }

TEST(Soak, AThousandSessionsEchoByteExactWithoutGrowingAfterWarmUp) {
  SoakOptions o;
  o.sessions = kSessions;
  auto soak = Soak::Start(o);
  ASSERT_TRUE(soak.ok()) << soak.status();
  for (int r = 0; r < kWarmupRounds; ++r) ASSERT_TRUE((*soak)->Round(Guard()).ok());
  const ProcessUsage warm = ProcessUsage::Now();
  for (int r = 0; r < kRounds; ++r) {
    const absl::Status s = (*soak)->Round(Guard());
    ASSERT_TRUE(s.ok()) << "round " << r << ": " << s;
  }
  const ProcessUsage end = ProcessUsage::Now();
  EXPECT_EQ((*soak)->bytes_echoed(),
            uint64_t{kSessions} * (kWarmupRounds + kRounds) * o.message_bytes);
  EXPECT_EQ((*soak)->engine_stats().current_sessions, 2u * kSessions);
  EXPECT_LE(end.rss_bytes - warm.rss_bytes, kMaxGrowthBytes)
      << "RSS after warm-up " << warm.rss_bytes << ", after " << kRounds << " rounds "
      << end.rss_bytes;
  RecordProperty("rss_after_warmup", std::to_string(warm.rss_bytes));
  RecordProperty("rss_at_end", std::to_string(end.rss_bytes));
}

}  // namespace
}  // namespace kcpp::soak
