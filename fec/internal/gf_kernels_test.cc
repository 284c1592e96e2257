// GF(2^8) arithmetic and region kernels: every kernel of every Highway target
// compiled into this binary (and supported by this CPU) must give exactly the
// bytes of the scalar reference, which is itself checked against a
// bit-by-bit multiplication written here from the field's definition.
#include "fec/internal/gf_kernels.h"

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fec/internal/gf256.h"
#include "fec/internal/gf_matrix.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"

namespace kcpp::fec::internal {
namespace {

// Carry-less multiply then reduce by x^8 + x^4 + x^3 + x^2 + 1.
uint8_t SlowMul(uint8_t a, uint8_t b) {
  unsigned r = 0;
  for (int i = 0; i < 8; ++i) {
    if (b & (1u << i)) r ^= unsigned(a) << i;
  }
  for (int i = 15; i >= 8; --i) {
    if (r & (1u << i)) r ^= 0x11Du << (i - 8);
  }
  return static_cast<uint8_t>(r);
}

TEST(Gf256, MultiplicationMatchesDefinition) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      ASSERT_EQ(GfMul(a, b), SlowMul(a, b)) << a << " * " << b;
    }
  }
}

TEST(Gf256, InverseAndPow) {
  for (int a = 1; a < 256; ++a) EXPECT_EQ(GfMul(a, GfInverse(a)), 1) << a;
  EXPECT_EQ(GfPow(0, 0), 1);
  EXPECT_EQ(GfPow(0, 3), 0);
  for (int a = 0; a < 256; ++a) {
    uint8_t p = 1;
    for (int n = 0; n < 300; ++n) {
      ASSERT_EQ(GfPow(a, n), p) << a << "^" << n;
      p = SlowMul(p, a);
    }
  }
  // 2 generates the multiplicative group: 2^255 = 1 and no earlier power is.
  std::set<int> seen;
  for (int n = 0; n < 255; ++n) seen.insert(GfPow(2, n));
  EXPECT_EQ(seen.size(), 255u);
}

TEST(GfMatrix, InvertTimesOriginalIsIdentity) {
  std::mt19937 rng(7);
  int inverted = 0;
  for (int n = 1; n <= 40; ++n) {
    GfMatrix m(n, n);
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) m.at(r, c) = static_cast<uint8_t>(rng());
    }
    GfMatrix inv;
    if (!m.Invert(&inv)) continue;
    ++inverted;
    EXPECT_EQ(m.Multiply(inv), GfMatrix::Identity(n)) << n;
    EXPECT_EQ(inv.Multiply(m), GfMatrix::Identity(n)) << n;
  }
  EXPECT_GT(inverted, 30);
  GfMatrix singular(2, 2);
  singular.at(0, 0) = 3;
  singular.at(0, 1) = 5;
  singular.at(1, 0) = 3;
  singular.at(1, 1) = 5;
  GfMatrix out;
  EXPECT_FALSE(singular.Invert(&out));
}

TEST(GfKernels, AffineMatrixMultipliesEveryByte) {
  // Apply the affine transform bit by bit as GF2P8AFFINEQB defines it.
  for (int c = 0; c < 256; ++c) {
    const uint64_t a = AffineMatrixFor(c);
    for (int x = 0; x < 256; ++x) {
      unsigned y = 0;
      for (int i = 0; i < 8; ++i) {
        const unsigned row = (a >> (8 * (7 - i))) & 0xFF;
        y |= (__builtin_popcount(row & x) & 1u) << i;
      }
      ASSERT_EQ(y, SlowMul(c, x)) << c << " * " << x;
    }
  }
}

TEST(GfKernels, EveryCompiledTargetIsTested) {
  const std::vector<KernelChoice> all = AllKernelsForTesting();
  std::set<std::string> names;
  for (const KernelChoice& k : all) names.insert(k.name);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    const std::string t = hwy::TargetName(target);
    EXPECT_TRUE(names.count(t + "/table")) << t;
    EXPECT_TRUE(names.count(t + "/shift_xor")) << t;
  }
  // This x86-64 build always has the scalar fallback plus SSSE3 or better.
  EXPECT_GE(hwy::SupportedAndGeneratedTargets().size(), 2u);
  if (CpuHasGfni()) {
    bool any_gfni = false;
    for (const std::string& n : names) any_gfni |= n.find("/gfni") != std::string::npos;
    EXPECT_TRUE(any_gfni);
  }
  // The override is undone: the default kernel is the chosen target's.
  EXPECT_EQ(DefaultMulRegions().name.substr(0, DefaultMulRegions().name.find('/')),
            std::string(ChosenTargetKernels().target_name));
  for (const KernelChoice& k : all) std::printf("kernel %s\n", k.name.c_str());
  std::printf("default %s\n", DefaultMulRegions().name.c_str());
}

// The codec's choice on every target: GFNI where compiled and supported,
// else the split-nibble tables, or no tables at all when built with
// --define=kcpp_fec_no_table_lookup=1.
TEST(GfKernels, DefaultChoicePerTarget) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    const std::string name = DefaultMulRegions().name;
    const TargetKernels& k = ChosenTargetKernels();
    EXPECT_EQ(k.target, target);
    if (k.gfni != nullptr && CpuHasGfni()) {
      EXPECT_EQ(name, std::string(k.target_name) + "/gfni");
    } else {
#ifdef KCPP_FEC_NO_TABLE_LOOKUP
      EXPECT_EQ(name, std::string(k.target_name) + "/shift_xor");
#else
      EXPECT_EQ(name, std::string(k.target_name) + "/table");
#endif
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// Exactly sized heap regions, so ASan flags any access past `len`.
struct Regions {
  std::vector<std::unique_ptr<uint8_t[]>> bufs;
  std::vector<uint8_t*> ptrs;
  Regions(int n, size_t len) {
    for (int i = 0; i < n; ++i) {
      bufs.emplace_back(new uint8_t[len == 0 ? 1 : len]);
      ptrs.push_back(bufs.back().get());
    }
  }
};

TEST(GfKernels, ReferenceMatchesSlowMultiply) {
  std::mt19937 rng(11);
  const int rows = 3, cols = 5;
  const size_t len = 100;
  std::vector<uint8_t> coef(rows * cols);
  for (auto& c : coef) c = static_cast<uint8_t>(rng());
  KernelMatrix m;
  m.Assign(rows, cols, coef.data());
  Regions in(cols, len), out(rows, len);
  for (int c = 0; c < cols; ++c) {
    for (size_t j = 0; j < len; ++j) in.ptrs[c][j] = static_cast<uint8_t>(rng());
  }
  MulRegionsReference(m, in.ptrs.data(), out.ptrs.data(), len);
  for (int r = 0; r < rows; ++r) {
    for (size_t j = 0; j < len; ++j) {
      uint8_t want = 0;
      for (int c = 0; c < cols; ++c) want ^= SlowMul(coef[r * cols + c], in.ptrs[c][j]);
      ASSERT_EQ(out.ptrs[r][j], want);
    }
  }
}

TEST(GfKernels, EveryKernelMatchesReference) {
  const std::vector<KernelChoice> kernels = AllKernelsForTesting();
  ASSERT_FALSE(kernels.empty());
  std::mt19937 rng(2024);
  const size_t lengths[] = {0,   1,   2,  7,  15,  16,  17,   31,   32,   33,  47,
                            48,  63,  64, 65, 95,  127, 128,  129,  191,  255, 256,
                            257, 300, 26, 36, 500, 777, 1400, 1472, 1500, 4099};
  const int shapes[][2] = {{1, 1}, {1, 2}, {2, 1}, {3, 10}, {4, 4},  {5, 3},
                           {6, 7}, {8, 9}, {9, 1}, {1, 20}, {13, 2}, {3, 3}};
  KernelMatrix m;
  for (const auto& shape : shapes) {
    const int rows = shape[0], cols = shape[1];
    std::vector<uint8_t> coef(rows * cols);
    for (auto& c : coef) {
      const unsigned pick = rng() % 8;
      c = pick == 0 ? 0 : pick == 1 ? 1 : static_cast<uint8_t>(rng());
    }
    m.Assign(rows, cols, coef.data());
    for (size_t len : lengths) {
      Regions in(cols, len), want(rows, len), got(rows, len);
      for (int c = 0; c < cols; ++c) {
        for (size_t j = 0; j < len; ++j) in.ptrs[c][j] = static_cast<uint8_t>(rng());
      }
      MulRegionsReference(m, in.ptrs.data(), want.ptrs.data(), len);
      for (const KernelChoice& k : kernels) {
        for (int r = 0; r < rows; ++r) {
          for (size_t j = 0; j < len; ++j) got.ptrs[r][j] = 0xA5;
        }
        k.fn(m, in.ptrs.data(), got.ptrs.data(), len);
        for (int r = 0; r < rows; ++r) {
          ASSERT_EQ(0, memcmp(got.ptrs[r], want.ptrs[r], len))
              << k.name << " rows=" << rows << " cols=" << cols << " len=" << len << " row " << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kcpp::fec::internal
