// SendScan against a one-slot-at-a-time reference: the same slots need
// attention and the same nearest timer, for random states, timers around
// `now` (wrapping uint32 included), every ring position and length.
#include "kcp/internal/send_scan.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace kcpp::kcp::internal {
namespace {

struct Reference {
  std::set<uint32_t> attention;  // slots that must be visited
  int32_t min_quiet = SendScan::kNoTimer;
};

Reference Expected(const SendScan& scan, uint32_t head, uint32_t count, uint32_t now) {
  Reference r;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t slot = (head + i) & (scan.capacity() - 1);
    const int32_t d = static_cast<int32_t>(scan.resend(slot) - now);
    if (scan.state(slot) == SendScan::kSkip) continue;
    if (scan.state(slot) == SendScan::kQuiet && d > 0) {
      r.min_quiet = std::min(r.min_quiet, d);
    } else {
      r.attention.insert(slot);
    }
  }
  return r;
}

TEST(SendScan, MatchesTheOneSlotReference) {
  std::mt19937 rng(5);
  for (uint32_t capacity : {4u, 8u, 64u, 1024u}) {
    SendScan scan;
    scan.Resize(capacity);
    for (int round = 0; round < 300; ++round) {
      const uint32_t now = rng();  // any point of the uint32 clock
      for (uint32_t slot = 0; slot < capacity; ++slot) {
        const uint32_t pick = rng() % 10;
        const uint32_t state = pick < 7 ? SendScan::kQuiet
                               : pick < 9 ? SendScan::kSkip
                                          : SendScan::kAttention;
        scan.Set(slot, state, now + static_cast<uint32_t>(static_cast<int32_t>(rng() % 2001) - 100));
      }
      const uint32_t head = rng() % capacity;
      const uint32_t count = rng() % (capacity + 1);
      const Reference want = Expected(scan, head, count, now);
      std::set<uint32_t> visited;
      int32_t visited_quiet_min = SendScan::kNoTimer;
      const int32_t got = scan.Scan(head, count, now, [&](uint32_t slot) {
        visited.insert(slot);
        // A visited quiet slot reports its own timer (as Kcp's visitor does).
        const int32_t d = static_cast<int32_t>(scan.resend(slot) - now);
        if (scan.state(slot) == SendScan::kQuiet && d > 0) {
          visited_quiet_min = std::min(visited_quiet_min, d);
        }
      });
      for (uint32_t slot : want.attention) EXPECT_TRUE(visited.count(slot)) << slot;
      // Only slots within the range are visited.
      for (uint32_t slot : visited) {
        EXPECT_LT((slot - head) & (capacity - 1), count) << slot;
      }
      EXPECT_EQ(std::min(got, visited_quiet_min), want.min_quiet);
    }
  }
}

TEST(SendScan, EmptyRangeVisitsNothing) {
  SendScan scan;
  scan.Resize(8);
  int visits = 0;
  EXPECT_EQ(scan.Scan(3, 0, 0, [&](uint32_t) { ++visits; }), SendScan::kNoTimer);
  EXPECT_EQ(visits, 0);
}

}  // namespace
}  // namespace kcpp::kcp::internal
