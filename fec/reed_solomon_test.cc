// ReedSolomon: parity byte-identical to klauspost/reedsolomon (the real Go
// library, run as klauspost_rs_vectors), Appendix A.2 coefficients, every
// erasure pattern up to `parity` lost, Verify, the decode-matrix cache and
// argument checking. The golden comparison runs on every region kernel of
// every compiled Highway target.
//
// Usage: reed_solomon_test <path to klauspost_rs_vectors>
#include "fec/reed_solomon.h"

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fec/internal/gf_kernels.h"
#include "fec/internal/reed_solomon_peer.h"
#include "gtest/gtest.h"

namespace kcpp::fec {
namespace {

const char* g_generator = nullptr;

// Sanitizer builds (asan/tsan configs define KCPP_SANITIZER) run the
// non-default kernels and the all-kernel pattern sweep on less data
// (instrumented SIMD code is ~100x slower).
#ifdef KCPP_SANITIZER
constexpr size_t kSlowKernelWorkLimit = 100000;
constexpr size_t kOtherKernelWorkLimit = 100000;
constexpr size_t kSweepShardSize = 96;
#else
constexpr size_t kSlowKernelWorkLimit = 4000000;
constexpr size_t kOtherKernelWorkLimit = ~size_t{0};
constexpr size_t kSweepShardSize = 1400;
#endif

// The byte stream of klauspost_rs_vectors.go fill().
void Fill(std::vector<std::vector<uint8_t>>& shards, int count, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 1;
  if (state == 0) state = 1;
  for (int i = 0; i < count; ++i) {
    for (uint8_t& b : shards[i]) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      b = static_cast<uint8_t>(state >> 24);
    }
  }
}

struct Shards {
  std::vector<std::vector<uint8_t>> bufs;
  Shards(int n, size_t size) : bufs(n, std::vector<uint8_t>(size)) {}
  std::vector<uint8_t*> ptrs() {
    std::vector<uint8_t*> p;
    for (auto& b : bufs) p.push_back(b.data());
    return p;
  }
  std::vector<const uint8_t*> cptrs(int first, int count) const {
    std::vector<const uint8_t*> p;
    for (int i = first; i < first + count; ++i) p.push_back(bufs[i].data());
    return p;
  }
};

Shards EncodedRandom(ReedSolomon& rs, size_t size, uint32_t seed) {
  Shards s(rs.total_shards(), size);
  Fill(s.bufs, rs.data_shards(), seed);
  std::vector<uint8_t*> p = s.ptrs();
  EXPECT_TRUE(
      rs.Encode(s.cptrs(0, rs.data_shards()), absl::MakeSpan(p).subspan(rs.data_shards()), size)
          .ok());
  return s;
}

TEST(ReedSolomon, CreateChecksShardCounts) {
  for (auto [d, p] :
       std::vector<std::pair<int, int>>{{0, 1}, {1, 0}, {-1, 3}, {200, 57}, {256, 1}}) {
    auto rs = ReedSolomon::Create(d, p);
    EXPECT_EQ(rs.status().code(), absl::StatusCode::kInvalidArgument) << d << "," << p;
  }
  for (auto [d, p] : std::vector<std::pair<int, int>>{{1, 1}, {255, 1}, {1, 255}, {128, 128}}) {
    auto rs = ReedSolomon::Create(d, p);
    ASSERT_TRUE(rs.ok()) << rs.status();
    EXPECT_EQ(rs->total_shards(), d + p);
  }
}

// docs/protocol.md §4.4 / Appendix A.2.
TEST(ReedSolomon, AppendixA2ParityRows) {
  struct Case {
    int data, parity;
    std::vector<std::string> rows;
  };
  const Case cases[] = {
      {10, 3, {"8196afb8d2c4fee80302", "9681b8afc4d2e8fe0203", "bfd6620a066fdfb70504"}},
      {3, 2, {"010101", "0f0806"}},
      {1, 1, {"01"}},
  };
  for (const Case& c : cases) {
    auto rs = ReedSolomon::Create(c.data, c.parity);
    ASSERT_TRUE(rs.ok());
    for (int r = 0; r < c.data; ++r) {
      for (int col = 0; col < c.data; ++col) EXPECT_EQ(rs->matrix(r, col), r == col ? 1 : 0);
    }
    for (int p = 0; p < c.parity; ++p) {
      std::string row;
      for (int col = 0; col < c.data; ++col) row.push_back(rs->matrix(c.data + p, col));
      EXPECT_EQ(absl::BytesToHexString(row), c.rows[p]) << c.data << "+" << c.parity << " P" << p;
    }
  }
}

struct GoldenCase {
  int data, parity;
  size_t size;  // 0: encoding-matrix case
  uint32_t seed;
  std::string parity_hex = {};
};

std::vector<GoldenCase> RunGenerator(const std::vector<GoldenCase>& cases) {
  std::string cmd = g_generator;
  for (const GoldenCase& c : cases) {
    absl::StrAppend(&cmd, " ", c.data, ",", c.parity, ",", c.size, ",", c.seed);
  }
  std::vector<GoldenCase> out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  if (pclose(f) != 0) return {};
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    GoldenCase c;
    if (parts.size() != 5 || !absl::SimpleAtoi(parts[0], &c.data) ||
        !absl::SimpleAtoi(parts[1], &c.parity) || !absl::SimpleAtoi(parts[2], &c.size) ||
        !absl::SimpleAtoi(parts[3], &c.seed)) {
      return {};
    }
    c.parity_hex = parts[4];
    out.push_back(c);
  }
  return out;
}

TEST(ReedSolomon, ParityIdenticalToKlauspostOnEveryKernel) {
  ASSERT_NE(g_generator, nullptr) << "pass the generator path as argv[1]";
  std::vector<GoldenCase> cases = {
      // Encoding matrices.
      {10, 3, 0, 0},
      {3, 2, 0, 0},
      {1, 1, 0, 0},
      {20, 10, 0, 0},
      {128, 128, 0, 0},
      {255, 1, 0, 0},
      {1, 255, 0, 0},
      {200, 56, 0, 0},
      // Data.
      {10, 3, 1400, 1},
      {10, 3, 65536, 2},
      {10, 3, 1, 3},
      {10, 3, 63, 4},
      {3, 2, 36, 5},
      {1, 1, 1400, 6},
      {20, 10, 1400, 7},
      {20, 10, 777, 8},
      {128, 128, 1500, 9},
      {128, 128, 17, 10},
  };
  std::mt19937 rng(4);
  for (int i = 0; i < 16; ++i) {
    const int data = 1 + rng() % 200;
    const int parity = 1 + rng() % std::min(64, 256 - data);
    cases.push_back({data, parity, 1 + rng() % 3000, 100u + i});
  }
  const std::vector<GoldenCase> golden = RunGenerator(cases);
  ASSERT_EQ(golden.size(), cases.size()) << "generator failed";

  std::vector<internal::KernelChoice> kernels = internal::AllKernelsForTesting();
  kernels.insert(kernels.begin(), internal::DefaultMulRegions());
  ASSERT_GE(kernels.size(), 3u);
  for (const GoldenCase& g : golden) {
    SCOPED_TRACE(absl::StrCat(g.data, "+", g.parity, " size ", g.size, " seed ", g.seed));
    const size_t size = g.size == 0 ? g.data : g.size;
    Shards s(g.data + g.parity, size);
    if (g.size == 0) {
      for (int i = 0; i < g.data; ++i) s.bufs[i][i] = 1;
    } else {
      Fill(s.bufs, g.data, g.seed);
    }
    const std::string want = absl::HexStringToBytes(g.parity_hex);
    ASSERT_EQ(want.size(), size * g.parity);
    for (const internal::KernelChoice& k : kernels) {
      // The scalar kernels are slow on the biggest cases; the others run all
      // (the default kernel always does).
      const size_t work = size_t(g.data) * g.parity * size;
      const bool is_default = &k == &kernels[0];
      if (!is_default && ((k.name.rfind("SCALAR", 0) == 0 && work > kSlowKernelWorkLimit) ||
                          work > kOtherKernelWorkLimit)) {
        continue;
      }
      auto rs = internal::ReedSolomonPeer::CreateWithKernel(g.data, g.parity, k);
      ASSERT_TRUE(rs.ok());
      std::vector<uint8_t*> p = s.ptrs();
      for (int i = g.data; i < g.data + g.parity; ++i) memset(p[i], 0xEE, size);
      ASSERT_TRUE(rs->Encode(s.cptrs(0, g.data), absl::MakeSpan(p).subspan(g.data), size).ok());
      std::string got;
      for (int i = g.data; i < g.data + g.parity; ++i) {
        got.append(reinterpret_cast<const char*>(p[i]), size);
      }
      ASSERT_TRUE(got == want) << k.name;
      if (g.size == 0) {
        // Parity of unit vectors = the matrix rows: cross-check matrix().
        for (int r = 0; r < g.parity; ++r) {
          for (int c = 0; c < g.data; ++c) {
            ASSERT_EQ(rs->matrix(g.data + r, c), uint8_t(want[r * size + c]));
          }
        }
      }
    }
  }
}

// Damages the shards not in `present` so a no-op reconstruction cannot pass.
void Erase(Shards& s, const ShardMask& present) {
  for (size_t i = 0; i < s.bufs.size(); ++i) {
    if (!present[i]) memset(s.bufs[i].data(), 0x5A, s.bufs[i].size());
  }
}

// Calls f(present) for every subset of `total` shards with at most
// `max_lost` missing.
template <class F>
void ForEachPattern(int total, int max_lost, F f) {
  std::vector<int> lost;
  std::function<void(int)> rec = [&](int from) {
    ShardMask present;
    for (int i = 0; i < total; ++i) present.set(i);
    for (int i : lost) present.reset(i);
    f(present);
    if (int(lost.size()) == max_lost) return;
    for (int i = from; i < total; ++i) {
      lost.push_back(i);
      rec(i + 1);
      lost.pop_back();
    }
  };
  rec(0);
}

void CheckEveryPattern(ReedSolomon& rs, size_t size, uint32_t seed, int* patterns) {
  const Shards original = EncodedRandom(rs, size, seed);
  const int total = rs.total_shards(), data = rs.data_shards();
  ForEachPattern(total, rs.parity_shards(), [&](const ShardMask& present) {
    ++*patterns;
    Shards s = original;
    Erase(s, present);
    std::vector<uint8_t*> p = s.ptrs();
    ASSERT_TRUE(rs.Reconstruct(p, present, size).ok());
    ASSERT_EQ(s.bufs, original.bufs) << "full " << present.to_string().substr(256 - total);

    s = original;
    Erase(s, present);
    p = s.ptrs();
    for (int i = data; i < total; ++i) {
      if (!present[i]) p[i] = nullptr;  // ignored by ReconstructData
    }
    ASSERT_TRUE(rs.ReconstructData(p, present, size).ok());
    for (int i = 0; i < data; ++i) ASSERT_EQ(s.bufs[i], original.bufs[i]);
    for (int i = data; i < total; ++i) {
      if (!present[i]) {
        ASSERT_EQ(s.bufs[i], std::vector<uint8_t>(size, 0x5A));
      }
    }
  });
}

TEST(ReedSolomon, EveryErasurePatternUpToParityReconstructs) {
  const std::tuple<int, int, size_t> codes[] = {{10, 3, 1400}, {3, 2, 36},  {1, 1, 100}, {4, 4, 65},
                                                {6, 6, 33},    {2, 5, 200}, {12, 2, 7}};
  for (auto [d, p, size] : codes) {
    SCOPED_TRACE(absl::StrCat(d, "+", p));
    auto rs = ReedSolomon::Create(d, p);
    ASSERT_TRUE(rs.ok());
    int patterns = 0;
    CheckEveryPattern(*rs, size, d * 31 + p, &patterns);
    // sum over k <= p of C(d + p, k)
    int want = 0, binom = 1;
    for (int k = 0; k <= p; ++k) {
      want += binom;
      binom = binom * (d + p - k) / (k + 1);
    }
    EXPECT_EQ(patterns, want);
  }
}

TEST(ReedSolomon, EveryPatternOnEveryKernel) {
  for (const internal::KernelChoice& k : internal::AllKernelsForTesting()) {
    auto rs = internal::ReedSolomonPeer::CreateWithKernel(10, 3, k);
    ASSERT_TRUE(rs.ok());
    int patterns = 0;
    CheckEveryPattern(*rs, kSweepShardSize, 77, &patterns);
    EXPECT_EQ(patterns, 378) << k.name;
  }
}

TEST(ReedSolomon, RandomPatternsOnLargeCodes) {
  std::mt19937 rng(99);
  for (auto [d, p] : std::vector<std::pair<int, int>>{{20, 10}, {128, 128}, {200, 56}, {1, 255}}) {
    SCOPED_TRACE(absl::StrCat(d, "+", p));
    auto rs = ReedSolomon::Create(d, p);
    ASSERT_TRUE(rs.ok());
    const size_t size = 1 + rng() % 1500;
    const Shards original = EncodedRandom(*rs, size, d + p);
    for (int iter = 0; iter < 12; ++iter) {
      ShardMask present;
      for (int i = 0; i < d + p; ++i) present.set(i);
      const int lost = iter == 0 ? p : 1 + rng() % p;
      for (int k = 0; k < lost;) {
        const int i = rng() % (d + p);
        if (present[i]) {
          present.reset(i);
          ++k;
        }
      }
      Shards s = original;
      Erase(s, present);
      std::vector<uint8_t*> ptrs = s.ptrs();
      ASSERT_TRUE(rs->Reconstruct(ptrs, present, size).ok());
      ASSERT_EQ(s.bufs, original.bufs) << "lost " << lost;
    }
  }
}

TEST(ReedSolomon, TooManyLostIsDataLossAndWritesNothing) {
  auto rs = ReedSolomon::Create(10, 3);
  ASSERT_TRUE(rs.ok());
  const Shards original = EncodedRandom(*rs, 100, 5);
  ShardMask present;
  for (int i = 0; i < 13; ++i) present.set(i);
  present.reset(0);
  present.reset(4);
  present.reset(11);
  present.reset(12);  // 4 lost > 3 parity
  Shards s = original;
  Erase(s, present);
  const Shards erased = s;
  std::vector<uint8_t*> p = s.ptrs();
  absl::Status st = rs->Reconstruct(p, present, 100);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(std::string(st.message()).find("9 shards present, at least 10 needed"),
            std::string::npos)
      << st;
  EXPECT_EQ(rs->ReconstructData(p, present, 100).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.bufs, erased.bufs);
}

TEST(ReedSolomon, NothingMissingIsANoOp) {
  auto rs = ReedSolomon::Create(3, 2);
  ASSERT_TRUE(rs.ok());
  Shards s = EncodedRandom(*rs, 50, 1);
  const Shards before = s;
  ShardMask all;
  for (int i = 0; i < 5; ++i) all.set(i);
  std::vector<uint8_t*> p = s.ptrs();
  EXPECT_TRUE(rs->Reconstruct(p, all, 50).ok());
  ShardMask data_only = all;
  data_only.reset(3);
  data_only.reset(4);
  p[3] = p[4] = nullptr;
  EXPECT_TRUE(rs->ReconstructData(p, data_only, 50).ok());
  EXPECT_EQ(s.bufs, before.bufs);
  EXPECT_EQ(rs->cache_stats().misses, 0u);
}

TEST(ReedSolomon, VerifyDetectsAnyChangedByte) {
  std::mt19937 rng(3);
  for (auto [d, p, size] : std::vector<std::tuple<int, int, size_t>>{
           {10, 3, 1400}, {3, 2, 40000}, {1, 1, 1}, {100, 150, 300}}) {
    auto rs = ReedSolomon::Create(d, p);
    ASSERT_TRUE(rs.ok());
    Shards s = EncodedRandom(*rs, size, 8);
    auto ok = rs->Verify(s.cptrs(0, d + p), size);
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(*ok);
    for (int trial = 0; trial < 20; ++trial) {
      const int shard = rng() % (d + p);
      const size_t at = rng() % size;
      s.bufs[shard][at] ^= 1 + rng() % 255;
      auto bad = rs->Verify(s.cptrs(0, d + p), size);
      ASSERT_TRUE(bad.ok());
      EXPECT_FALSE(*bad) << "shard " << shard << " byte " << at;
      s = EncodedRandom(*rs, size, 8);
    }
  }
}

TEST(ReedSolomon, DecodeMatricesAreCachedPerPatternAndBounded) {
  auto rs = ReedSolomon::Create(10, 3);
  ASSERT_TRUE(rs.ok());
  const Shards original = EncodedRandom(*rs, 64, 2);
  ShardMask present;
  for (int i = 0; i < 13; ++i) present.set(i);
  present.reset(2);
  for (int i = 0; i < 5; ++i) {
    Shards s = original;
    std::vector<uint8_t*> p = s.ptrs();
    ASSERT_TRUE(rs->ReconstructData(p, present, 64).ok());
  }
  EXPECT_EQ(rs->cache_stats().misses, 1u);
  EXPECT_EQ(rs->cache_stats().hits, 4u);
  // Same decode, different trailing parity present: same pattern.
  ShardMask fewer = present;
  fewer.reset(12);
  Shards s = original;
  std::vector<uint8_t*> p = s.ptrs();
  ASSERT_TRUE(rs->ReconstructData(p, fewer, 64).ok());
  EXPECT_EQ(rs->cache_stats().misses, 1u);

  // Many patterns: the cache stays bounded and still decodes correctly.
  auto big = ReedSolomon::Create(20, 10);
  ASSERT_TRUE(big.ok());
  const Shards orig20 = EncodedRandom(*big, 32, 9);
  std::mt19937 rng(1);
  for (int iter = 0; iter < 300; ++iter) {
    ShardMask pr;
    for (int i = 0; i < 30; ++i) pr.set(i);
    for (int k = 0; k < 4; ++k) pr.reset(rng() % 30);
    Shards t = orig20;
    Erase(t, pr);
    std::vector<uint8_t*> tp = t.ptrs();
    ASSERT_TRUE(big->Reconstruct(tp, pr, 32).ok());
    ASSERT_EQ(t.bufs, orig20.bufs);
  }
  EXPECT_LE(big->cache_stats().entries, 64u);
  EXPECT_GT(big->cache_stats().misses, 64u);
}

TEST(ReedSolomon, ArgumentErrors) {
  auto rs = ReedSolomon::Create(3, 2);
  ASSERT_TRUE(rs.ok());
  Shards s(5, 10);
  std::vector<uint8_t*> p = s.ptrs();
  EXPECT_EQ(rs->Encode(s.cptrs(0, 2), absl::MakeSpan(p).subspan(3), 10).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rs->Encode(s.cptrs(0, 3), absl::MakeSpan(p).subspan(2), 10).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<const uint8_t*> with_null = s.cptrs(0, 3);
  with_null[1] = nullptr;
  EXPECT_EQ(rs->Encode(with_null, absl::MakeSpan(p).subspan(3), 10).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rs->Verify(s.cptrs(0, 4), 10).status().code(), absl::StatusCode::kInvalidArgument);
  ShardMask present;
  present.set(0);
  present.set(1);
  present.set(3);
  EXPECT_EQ(rs->Reconstruct(absl::MakeSpan(p).subspan(1), present, 10).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t*> q = p;
  q[2] = nullptr;  // missing data shard without storage
  EXPECT_EQ(rs->ReconstructData(q, present, 10).code(), absl::StatusCode::kInvalidArgument);
  q = p;
  q[4] = nullptr;  // missing parity: fine for ReconstructData, not for Reconstruct
  EXPECT_TRUE(rs->ReconstructData(q, present, 10).ok());
  EXPECT_EQ(rs->Reconstruct(q, present, 10).code(), absl::StatusCode::kInvalidArgument);
  // Zero-length shards are valid.
  EXPECT_TRUE(rs->Encode(s.cptrs(0, 3), absl::MakeSpan(p).subspan(3), 0).ok());
}

}  // namespace
}  // namespace kcpp::fec

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kcpp::fec::g_generator = argv[1];
  return RUN_ALL_TESTS();
}
