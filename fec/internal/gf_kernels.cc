// GF(2^8) region kernels (gf_kernels.h), compiled once per Highway target.
//
// This file is included by hwy/foreach_target.h once per target (SSSE3, SSE4,
// AVX2, AVX3, scalar fallback); the code between HWY_BEFORE_NAMESPACE and
// HWY_AFTER_NAMESPACE is compiled with that target's instruction set. The
// GFNI kernels use intrinsics with their own target attribute because
// Highway 1.0.3 has no GF2P8AFFINEQB op.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fec/internal/gf_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target.h must come first.
#if HWY_ARCH_X86
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "fec/internal/gf256.h"
#include "fec/internal/gf_kernels.h"
#include "hwy/highway.h"

// Fully unrolls the small loops over accumulators so they live in registers
// (without it gcc keeps acc[U][G] on the stack).
#ifndef KCPP_FEC_UNROLL
#define KCPP_FEC_UNROLL _Pragma("GCC unroll 16")
#endif

HWY_BEFORE_NAMESPACE();
namespace kcpp {
namespace fec {
namespace internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Outputs computed per pass over the inputs. Four keeps every target's
// accumulators plus temporaries in registers (16 on AVX2, 32 on AVX-512).
constexpr int kMaxGroupRows = 4;

// Plain loop over the nibble tables: the tail of every kernel for regions
// shorter than one 16-byte vector, and the whole "table" kernel on the scalar
// target (whose 1-byte vectors cannot hold a 16-entry table).
HWY_INLINE void TableScalar(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                            size_t begin, size_t end) {
  for (int r = 0; r < m.rows(); ++r) {
    uint8_t* dst = out[r];
    for (size_t j = begin; j < end; ++j) dst[j] = 0;
    for (int c = 0; c < m.cols(); ++c) {
      const uint8_t* t = m.nibble_tables(r, c);
      const uint8_t* src = in[c];
      for (size_t j = begin; j < end; ++j) dst[j] ^= t[src[j] & 15] ^ t[16 + (src[j] >> 4)];
    }
  }
}

// c * x = T_lo[x & 15] ^ T_hi[x >> 4], with PSHUFB-style lookups.
struct TablePolicy {
  template <class D>
  struct Input {
    hn::Vec<D> lo, hi;
  };
  template <class D>
  static HWY_INLINE Input<D> Prepare(D d, hn::Vec<D> x) {
    return {hn::And(x, hn::Set(d, uint8_t{0x0F})), hn::ShiftRight<4>(x)};
  }
  template <class D>
  static HWY_INLINE hn::Vec<D> MulAdd(D d, hn::Vec<D> acc, const Input<D>& x, const KernelMatrix& m,
                                      int r, int c) {
    const uint8_t* t = m.nibble_tables(r, c);
    const hn::Vec<D> t_lo = hn::LoadDup128(d, t);
    const hn::Vec<D> t_hi = hn::LoadDup128(d, t + 16);
    return hn::Xor3(acc, hn::TableLookupBytes(t_lo, x.lo), hn::TableLookupBytes(t_hi, x.hi));
  }
};

// c * x = XOR of (2^b * x) over the set bits b of c; 2x = (x << 1) ^ (0x1D if
// the top bit of x was set). No table lookups at all.
struct ShiftXorPolicy {
  template <class D>
  struct Input {
    hn::Vec<D> pow[8];
  };
  template <class D>
  static HWY_INLINE hn::Vec<D> Double(D d, hn::Vec<D> x) {
    const hn::RebindToSigned<D> di;
    const hn::Vec<D> carry = hn::BitCast(d, hn::BroadcastSignBit(hn::BitCast(di, x)));
    return hn::Xor(hn::Add(x, x), hn::And(carry, hn::Set(d, uint8_t{0x1D})));
  }
  template <class D>
  static HWY_INLINE Input<D> Prepare(D d, hn::Vec<D> x) {
    Input<D> in;
    in.pow[0] = x;
    KCPP_FEC_UNROLL
    for (int b = 1; b < 8; ++b) in.pow[b] = Double(d, in.pow[b - 1]);
    return in;
  }
  template <class D>
  static HWY_INLINE hn::Vec<D> MulAdd(D /*d*/, hn::Vec<D> acc, const Input<D>& x,
                                      const KernelMatrix& m, int r, int c) {
    const unsigned k = m.coef(r, c);
    KCPP_FEC_UNROLL
    for (int b = 0; b < 8; ++b) {
      if (k & (1u << b)) acc = hn::Xor(acc, x.pow[b]);
    }
    return acc;
  }
};

// Rows [r0, r0 + G) of U consecutive vectors starting at byte `off`.
template <class P, int G, int U, class D>
HWY_INLINE void Block(D d, const KernelMatrix& m, int r0, const uint8_t* const* in,
                      uint8_t* const* out, size_t off) {
  const size_t n = hn::Lanes(d);
  hn::Vec<D> acc[U][G];
  KCPP_FEC_UNROLL
  for (int u = 0; u < U; ++u) {
    KCPP_FEC_UNROLL
    for (int g = 0; g < G; ++g) acc[u][g] = hn::Zero(d);
  }
  const int cols = m.cols();
  for (int c = 0; c < cols; ++c) {
    const uint8_t* src = in[c] + off;
    typename P::template Input<D> x[U];
    KCPP_FEC_UNROLL
    for (int u = 0; u < U; ++u) x[u] = P::Prepare(d, hn::LoadU(d, src + u * n));
    KCPP_FEC_UNROLL
    for (int g = 0; g < G; ++g) {
      KCPP_FEC_UNROLL
      for (int u = 0; u < U; ++u) acc[u][g] = P::MulAdd(d, acc[u][g], x[u], m, r0 + g, c);
    }
  }
  KCPP_FEC_UNROLL
  for (int g = 0; g < G; ++g) {
    KCPP_FEC_UNROLL
    for (int u = 0; u < U; ++u) hn::StoreU(acc[u][g], d, out[r0 + g] + off + u * n);
  }
}

// Rows [r0, r0 + G) over the whole region; requires len >= Lanes(d). The last
// partial vector is recomputed over the final Lanes(d) bytes (the bytes it
// shares with the previous vector get the same values again).
template <class P, int G, int U, class D>
HWY_INLINE void RowGroup(D d, const KernelMatrix& m, int r0, const uint8_t* const* in,
                         uint8_t* const* out, size_t len) {
  const size_t n = hn::Lanes(d);
  size_t off = 0;
  if (U > 1) {
    for (; off + U * n <= len; off += U * n) Block<P, G, U>(d, m, r0, in, out, off);
  }
  for (; off + n <= len; off += n) Block<P, G, 1>(d, m, r0, in, out, off);
  if (off < len) Block<P, G, 1>(d, m, r0, in, out, len - n);
}

template <class P, class D>
HWY_INLINE void AllRows(D d, const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                        size_t len) {
  int r = 0;
  for (; m.rows() - r >= kMaxGroupRows; r += kMaxGroupRows) {
    RowGroup<P, kMaxGroupRows, 2>(d, m, r, in, out, len);
  }
  switch (m.rows() - r) {
    case 3:
      RowGroup<P, 3, 2>(d, m, r, in, out, len);
      break;
    case 2:
      RowGroup<P, 2, 2>(d, m, r, in, out, len);
      break;
    case 1:
      RowGroup<P, 1, 4>(d, m, r, in, out, len);
      break;
    default:
      break;
  }
}

template <class P>
HWY_INLINE void MulRegionsWith(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                               size_t len) {
  const hn::ScalableTag<uint8_t> d;
  if (len >= hn::Lanes(d)) return AllRows<P>(d, m, in, out, len);
#if HWY_TARGET != HWY_SCALAR
  const hn::CappedTag<uint8_t, 16> d16;
  if (len >= hn::Lanes(d16)) return AllRows<P>(d16, m, in, out, len);
#endif
  TableScalar(m, in, out, 0, len);
}

void MulRegionsTable(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                     size_t len) {
#if HWY_TARGET == HWY_SCALAR
  TableScalar(m, in, out, 0, len);
#else
  MulRegionsWith<TablePolicy>(m, in, out, len);
#endif
}

void MulRegionsShiftXor(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                        size_t len) {
  const hn::ScalableTag<uint8_t> d;
  if (len >= hn::Lanes(d)) return AllRows<ShiftXorPolicy>(d, m, in, out, len);
#if HWY_TARGET != HWY_SCALAR
  const hn::CappedTag<uint8_t, 16> d16;
  if (len >= hn::Lanes(d16)) return AllRows<ShiftXorPolicy>(d16, m, in, out, len);
#endif
  // Shorter than one vector: scalar shift-xor, still without tables.
  for (int r = 0; r < m.rows(); ++r) {
    for (size_t j = 0; j < len; ++j) {
      unsigned acc = 0;
      for (int c = 0; c < m.cols(); ++c) {
        unsigned x = in[c][j];
        const unsigned k = m.coef(r, c);
        KCPP_FEC_UNROLL
        for (int b = 0; b < 8; ++b) {
          if (k & (1u << b)) acc ^= x;
          x = (x << 1) ^ ((x & 0x80) ? kGfPolynomial : 0);
        }
      }
      out[r][j] = static_cast<uint8_t>(acc);
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace internal
}  // namespace fec
}  // namespace kcpp
HWY_AFTER_NAMESPACE();

// ---------------------------------------------------------------------------
// GFNI kernels: AVX-512 (512-bit) in the AVX3 targets, 256-bit in AVX2. Outside
// HWY_BEFORE_NAMESPACE so the target attribute below is the only one applied.
#undef KCPP_FEC_GFNI_WIDTH
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define KCPP_FEC_GFNI_WIDTH 512
#elif HWY_TARGET == HWY_AVX2
#define KCPP_FEC_GFNI_WIDTH 256
#endif

#ifdef KCPP_FEC_GFNI_WIDTH
#undef KCPP_FEC_GFNI_ATTR
#define KCPP_FEC_GFNI_ATTR __attribute__((target(HWY_TARGET_STR ",gfni")))
#undef KCPP_FEC_GFNI_INLINE
#define KCPP_FEC_GFNI_INLINE inline __attribute__((always_inline, target(HWY_TARGET_STR ",gfni")))

namespace kcpp {
namespace fec {
namespace internal {
namespace HWY_NAMESPACE {

struct Gfni128 {
  using V = __m128i;
  static constexpr size_t kBytes = 16;
  static KCPP_FEC_GFNI_INLINE V Zero() { return _mm_setzero_si128(); }
  static KCPP_FEC_GFNI_INLINE V Load(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  static KCPP_FEC_GFNI_INLINE void Store(uint8_t* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
  }
  static KCPP_FEC_GFNI_INLINE V Mul(V x, uint64_t a) {
    return _mm_gf2p8affine_epi64_epi8(x, _mm_set1_epi64x(static_cast<long long>(a)), 0);
  }
  static KCPP_FEC_GFNI_INLINE V Xor3(V a, V b, V c) {
    return _mm_xor_si128(a, _mm_xor_si128(b, c));
  }
};

struct Gfni256 {
  using V = __m256i;
  static constexpr size_t kBytes = 32;
  static KCPP_FEC_GFNI_INLINE V Zero() { return _mm256_setzero_si256(); }
  static KCPP_FEC_GFNI_INLINE V Load(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static KCPP_FEC_GFNI_INLINE void Store(uint8_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static KCPP_FEC_GFNI_INLINE V Mul(V x, uint64_t a) {
    return _mm256_gf2p8affine_epi64_epi8(x, _mm256_set1_epi64x(static_cast<long long>(a)), 0);
  }
  static KCPP_FEC_GFNI_INLINE V Xor3(V a, V b, V c) {
#if KCPP_FEC_GFNI_WIDTH == 512
    return _mm256_ternarylogic_epi64(a, b, c, 0x96);
#else
    return _mm256_xor_si256(a, _mm256_xor_si256(b, c));
#endif
  }
};

#if KCPP_FEC_GFNI_WIDTH == 512
struct Gfni512 {
  using V = __m512i;
  static constexpr size_t kBytes = 64;
  static KCPP_FEC_GFNI_INLINE V Zero() { return _mm512_setzero_si512(); }
  static KCPP_FEC_GFNI_INLINE V Load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static KCPP_FEC_GFNI_INLINE void Store(uint8_t* p, V v) { _mm512_storeu_si512(p, v); }
  static KCPP_FEC_GFNI_INLINE V Mul(V x, uint64_t a) {
    return _mm512_gf2p8affine_epi64_epi8(x, _mm512_set1_epi64(static_cast<long long>(a)), 0);
  }
  static KCPP_FEC_GFNI_INLINE V Xor3(V a, V b, V c) {
    return _mm512_ternarylogic_epi64(a, b, c, 0x96);
  }
};
using GfniWide = Gfni512;
#else
using GfniWide = Gfni256;
#endif

// Same structure as Block above; inputs are taken in pairs so each pair of
// products costs one three-way XOR.
template <class W, int G, int U>
KCPP_FEC_GFNI_INLINE void GfniBlock(const KernelMatrix& m, int r0, const uint8_t* const* in,
                                    uint8_t* const* out, size_t off) {
  using V = typename W::V;
  V acc[U][G];
  KCPP_FEC_UNROLL
  for (int u = 0; u < U; ++u) {
    KCPP_FEC_UNROLL
    for (int g = 0; g < G; ++g) acc[u][g] = W::Zero();
  }
  const int cols = m.cols();
  int c = 0;
  for (; c + 2 <= cols; c += 2) {
    V x0[U], x1[U];
    KCPP_FEC_UNROLL
    for (int u = 0; u < U; ++u) {
      x0[u] = W::Load(in[c] + off + u * W::kBytes);
      x1[u] = W::Load(in[c + 1] + off + u * W::kBytes);
    }
    KCPP_FEC_UNROLL
    for (int g = 0; g < G; ++g) {
      const uint64_t* a = m.affine_row(r0 + g) + c;
      KCPP_FEC_UNROLL
      for (int u = 0; u < U; ++u) {
        acc[u][g] = W::Xor3(acc[u][g], W::Mul(x0[u], a[0]), W::Mul(x1[u], a[1]));
      }
    }
  }
  if (c < cols) {
    V x[U];
    KCPP_FEC_UNROLL
    for (int u = 0; u < U; ++u) x[u] = W::Load(in[c] + off + u * W::kBytes);
    KCPP_FEC_UNROLL
    for (int g = 0; g < G; ++g) {
      const uint64_t a = m.affine(r0 + g, c);
      KCPP_FEC_UNROLL
      for (int u = 0; u < U; ++u) acc[u][g] = W::Xor3(acc[u][g], W::Mul(x[u], a), W::Zero());
    }
  }
  KCPP_FEC_UNROLL
  for (int g = 0; g < G; ++g) {
    KCPP_FEC_UNROLL
    for (int u = 0; u < U; ++u) W::Store(out[r0 + g] + off + u * W::kBytes, acc[u][g]);
  }
}

template <class W, int G, int U>
KCPP_FEC_GFNI_INLINE void GfniRowGroup(const KernelMatrix& m, int r0, const uint8_t* const* in,
                                       uint8_t* const* out, size_t len) {
  constexpr size_t n = W::kBytes;
  size_t off = 0;
  if (U > 1) {
    for (; off + U * n <= len; off += U * n) GfniBlock<W, G, U>(m, r0, in, out, off);
  }
  for (; off + n <= len; off += n) GfniBlock<W, G, 1>(m, r0, in, out, off);
  if (off < len) GfniBlock<W, G, 1>(m, r0, in, out, len - n);
}

template <class W>
KCPP_FEC_GFNI_INLINE void GfniAllRows(const KernelMatrix& m, const uint8_t* const* in,
                                      uint8_t* const* out, size_t len) {
  int r = 0;
  for (; m.rows() - r >= kMaxGroupRows; r += kMaxGroupRows) {
    GfniRowGroup<W, kMaxGroupRows, 2>(m, r, in, out, len);
  }
  switch (m.rows() - r) {
    case 3:
      GfniRowGroup<W, 3, 2>(m, r, in, out, len);
      break;
    case 2:
      GfniRowGroup<W, 2, 2>(m, r, in, out, len);
      break;
    case 1:
      GfniRowGroup<W, 1, 4>(m, r, in, out, len);
      break;
    default:
      break;
  }
}

KCPP_FEC_GFNI_ATTR void MulRegionsGfni(const KernelMatrix& m, const uint8_t* const* in,
                                       uint8_t* const* out, size_t len) {
  if (len >= GfniWide::kBytes) return GfniAllRows<GfniWide>(m, in, out, len);
  if (len >= Gfni128::kBytes) return GfniAllRows<Gfni128>(m, in, out, len);
  TableScalar(m, in, out, 0, len);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace internal
}  // namespace fec
}  // namespace kcpp
#endif  // KCPP_FEC_GFNI_WIDTH

namespace kcpp {
namespace fec {
namespace internal {
namespace HWY_NAMESPACE {

const TargetKernels* GetTargetKernels() {
  static const TargetKernels kKernels = {
      HWY_TARGET,      hwy::TargetName(HWY_TARGET), &MulRegionsTable, &MulRegionsShiftXor,
#ifdef KCPP_FEC_GFNI_WIDTH
      &MulRegionsGfni,
#else
      nullptr,
#endif
  };
  return &kKernels;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace internal
}  // namespace fec
}  // namespace kcpp

#if HWY_ONCE
namespace kcpp {
namespace fec {
namespace internal {

HWY_EXPORT(GetTargetKernels);

const TargetKernels& ChosenTargetKernels() { return *HWY_DYNAMIC_DISPATCH(GetTargetKernels)(); }

bool CpuHasGfni() {
#if HWY_ARCH_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (c & (1u << 8)) != 0;
#else
  return false;
#endif
}

KernelChoice DefaultMulRegions() {
  const TargetKernels& k = ChosenTargetKernels();
  const std::string target = k.target_name;
  if (k.gfni != nullptr && CpuHasGfni()) return {k.gfni, target + "/gfni"};
#ifdef KCPP_FEC_NO_TABLE_LOOKUP
  return {k.shift_xor, target + "/shift_xor"};
#else
  return {k.table, target + "/table"};
#endif
}

std::vector<KernelChoice> AllKernelsForTesting() {
  std::vector<KernelChoice> all;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    const TargetKernels& k = ChosenTargetKernels();
    const std::string name = k.target_name;
    all.push_back({k.table, name + "/table"});
    all.push_back({k.shift_xor, name + "/shift_xor"});
    if (k.gfni != nullptr && CpuHasGfni()) all.push_back({k.gfni, name + "/gfni"});
  }
  hwy::SetSupportedTargetsForTest(0);
  return all;
}

uint64_t AffineMatrixFor(uint8_t c) {
  // Bit j of row i says whether input bit j contributes to output bit i, i.e.
  // bit i of c * 2^j. GF2P8AFFINEQB takes output bit i's row from byte 7 - i.
  uint64_t matrix = 0;
  for (int i = 0; i < 8; ++i) {
    uint64_t row = 0;
    for (int j = 0; j < 8; ++j) {
      if (GfMul(c, static_cast<uint8_t>(1u << j)) & (1u << i)) row |= uint64_t{1} << j;
    }
    matrix |= row << (8 * (7 - i));
  }
  return matrix;
}

void KernelMatrix::Assign(int rows, int cols, const uint8_t* coefficients) {
  rows_ = rows;
  cols_ = cols;
  const size_t n = size_t(rows) * cols;
  coef_.assign(coefficients, coefficients + n);
  tables_.resize(n * 32);
  affine_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = coef_[i];
    uint8_t* t = &tables_[i * 32];
    for (unsigned x = 0; x < 16; ++x) {
      t[x] = GfMul(c, static_cast<uint8_t>(x));
      t[16 + x] = GfMul(c, static_cast<uint8_t>(x << 4));
    }
    affine_[i] = AffineMatrixFor(c);
  }
}

void MulRegionsReference(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                         size_t len) {
  for (int r = 0; r < m.rows(); ++r) {
    for (size_t j = 0; j < len; ++j) {
      uint8_t acc = 0;
      for (int c = 0; c < m.cols(); ++c) acc ^= GfMul(m.coef(r, c), in[c][j]);
      out[r][j] = acc;
    }
  }
}

}  // namespace internal
}  // namespace fec
}  // namespace kcpp
#endif  // HWY_ONCE
