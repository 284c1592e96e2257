// AutoTune against a direct transcription of kcp-go HEAD's FindPeriod (copy
// the last 258 samples, sort by int32(a - b) < 0, scan for edges) on periodic
// flag streams with loss, duplicates, reordering and seqid wrap.
#include "fec/internal/auto_tune.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::fec::internal {
namespace {

struct Pulse {
  bool bit;
  uint32_t seq;
};

int ReferenceFindPeriod(const std::deque<Pulse>& samples, bool bit) {
  if (samples.size() < 3) return -1;
  std::vector<Pulse> s(samples.begin(), samples.end());
  std::stable_sort(s.begin(), s.end(), [](const Pulse& a, const Pulse& b) {
    return static_cast<int32_t>(a.seq - b.seq) < 0;
  });
  int left = -1;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i - 1].seq + 1 != s[i].seq) return -1;
    if (s[i - 1].bit != bit && s[i].bit == bit) {
      left = i;
      break;
    }
  }
  if (left < 0) return -1;
  for (size_t i = left + 1; i < s.size(); ++i) {
    if (s[i - 1].seq + 1 != s[i].seq) return -1;
    if (s[i - 1].bit == bit && s[i].bit != bit) return i - left;
  }
  return -1;
}

TEST(AutoTune, MatchesKcpGoOnNoisyPeriodicStreams) {
  std::mt19937 rng(17);
  int found = 0, compared = 0;
  for (int trial = 0; trial < 48; ++trial) {
    const int ds = 1 + rng() % 20, ps = 1 + rng() % 10;
    const uint32_t start = trial % 3 == 0 ? 0xFFFFFF00u : rng() % 1000;
    const int loss = trial % 4 == 0 ? 0 : 1 + rng() % 20;  // per mille-ish
    AutoTune tune;
    std::deque<Pulse> ref;
    std::vector<Pulse> stream;
    for (uint32_t i = 0; i < 400; ++i) {
      const uint32_t seq = start + i;
      stream.push_back({(seq - start) % (ds + ps) < uint32_t(ds), seq});
    }
    for (size_t i = 1; i < stream.size(); ++i) {
      if (rng() % 50 == 0) std::swap(stream[i - 1], stream[i]);
    }
    for (const Pulse& p : stream) {
      if (int(rng() % 1000) < loss) continue;
      const int copies = rng() % 100 == 0 ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        tune.Sample(p.bit, p.seq);
        ref.push_back(p);
        if (ref.size() > AutoTune::kMaxSamples) ref.pop_front();
        for (bool bit : {true, false}) {
          const int want = ReferenceFindPeriod(ref, bit);
          ASSERT_EQ(tune.FindPeriod(bit), want) << "trial " << trial << " seq " << p.seq;
          ++compared;
          if (want > 0) ++found;
        }
      }
    }
  }
  EXPECT_GT(found, compared / 10);  // detection does happen
}

TEST(AutoTune, FindsCountsOfACleanStream) {
  AutoTune tune;
  for (uint32_t s = 0; s < 30; ++s) tune.Sample(s % 13 < 10, s);
  EXPECT_EQ(tune.FindPeriod(true), 10);
  EXPECT_EQ(tune.FindPeriod(false), 3);
  AutoTune few;
  few.Sample(true, 1);
  few.Sample(false, 2);
  EXPECT_EQ(few.FindPeriod(true), -1);
}

TEST(AutoTune, HostileSeqidsAreHandled) {
  // Seqids spread over the whole space (the wrap-aware order is not a valid
  // sort order there); must not crash and must not invent a period from a
  // non-consecutive set.
  std::mt19937 rng(3);
  AutoTune tune;
  for (int i = 0; i < 5000; ++i) {
    tune.Sample(rng() & 1, rng());
    EXPECT_EQ(tune.FindPeriod(true), -1);
  }
  EXPECT_EQ(tune.samples(), AutoTune::kMaxSamples);
}

}  // namespace
}  // namespace kcpp::fec::internal
