// GF(2^8) region kernels: the inner loop of Reed-Solomon encoding and
// decoding (docs/protocol.md §4.4). One call computes, for every byte j,
//
//   out[r][j] = XOR over c of  coef(r, c) * in[c][j]      (r < rows, c < cols)
//
// i.e. a rows x cols matrix applied to cols input regions, writing rows output
// regions. Each input byte is loaded once per group of up to kMaxGroupRows
// outputs, which is what makes a 10+3 encode one pass over the data.
//
// Implementations (all produce identical bytes; tests check each against the
// portable reference on every compiled target):
//   * "table":     split-nibble lookups (Highway TableLookupBytes = PSHUFB):
//                  c*x = T_lo[x & 15] ^ T_hi[x >> 4].
//   * "shift_xor": no table lookups: x, 2x, 4x, ... 128x by shift and
//                  conditional XOR of 0x1D, then XOR of the powers selected
//                  by the bits of c.
//   * "gfni":      GF2P8AFFINEQB with the 8x8 bit matrix of "multiply by c"
//                  (AVX-512 and AVX2 targets, when the CPU has GFNI).
// Highway compiles table and shift_xor for every x86 target (SSSE3, SSE4,
// AVX2, AVX-512) plus its scalar fallback and picks the best one the CPU
// supports at run time. DefaultMulRegions() prefers gfni when available,
// then table, unless built with --define=kcpp_fec_no_table_lookup=1
// (KCPP_FEC_NO_TABLE_LOOKUP), which drops the byte-shuffle path in favour of
// shift_xor.
#ifndef KCPP_FEC_INTERNAL_GF_KERNELS_H_
#define KCPP_FEC_INTERNAL_GF_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kcpp::fec::internal {

// A coefficient matrix in the forms the kernels consume. Reusable: Assign
// keeps its capacity, so a warm instance never allocates.
class KernelMatrix {
 public:
  // Copies rows x cols row-major coefficients and precomputes their lookup
  // tables and affine matrices.
  void Assign(int rows, int cols, const uint8_t* coefficients);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  uint8_t coef(int r, int c) const { return coef_[size_t(r) * cols_ + c]; }
  // 32 bytes: products of coef(r, c) with 0x00..0x0F, then with 0x00..0xF0
  // (step 0x10). 16-byte aligned.
  const uint8_t* nibble_tables(int r, int c) const {
    return tables_.data() + (size_t(r) * cols_ + c) * 32;
  }
  // GF2P8AFFINEQB matrix of "multiply by coef(r, c)".
  uint64_t affine(int r, int c) const { return affine_[size_t(r) * cols_ + c]; }
  const uint64_t* affine_row(int r) const { return affine_.data() + size_t(r) * cols_; }
  // Heap bytes held (for cache accounting).
  size_t memory_bytes() const {
    return coef_.capacity() + tables_.capacity() + affine_.capacity() * sizeof(uint64_t);
  }

 private:
  int rows_ = 0;
  int cols_ = 0;
  std::vector<uint8_t> coef_;
  std::vector<uint8_t> tables_;  // operator new memory: 16-byte aligned
  std::vector<uint64_t> affine_;
};

// The GF2P8AFFINEQB matrix for multiplication by c in GF(2^8)/0x11D.
uint64_t AffineMatrixFor(uint8_t c);

// out[r] = m * in over len bytes. in has m.cols() regions, out has m.rows();
// outputs must not overlap inputs or each other. len may be anything,
// including 0.
using MulRegionsFn = void (*)(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                              size_t len);

// Portable scalar reference (log/exp tables), used by tests.
void MulRegionsReference(const KernelMatrix& m, const uint8_t* const* in, uint8_t* const* out,
                         size_t len);

// The kernels Highway compiled for one target.
struct TargetKernels {
  int64_t target;           // HWY_* bit
  const char* target_name;  // "AVX3", "AVX2", "SSE4", "SSSE3", "SCALAR", ...
  MulRegionsFn table;       // split-nibble TableLookupBytes
  MulRegionsFn shift_xor;   // no table lookups
  MulRegionsFn gfni;        // nullptr unless this target has a GFNI variant
};

// Kernels of the target Highway's dispatch currently selects (the best one
// the CPU supports, or the one forced by hwy::SetSupportedTargetsForTest).
const TargetKernels& ChosenTargetKernels();

// Whether the CPU executes GFNI instructions (CPUID.7.0:ECX bit 8).
bool CpuHasGfni();

// The kernel the codec uses: gfni if compiled for the chosen target and the
// CPU has it, else table (or shift_xor under KCPP_FEC_NO_TABLE_LOOKUP).
struct KernelChoice {
  MulRegionsFn fn;
  std::string name;  // e.g. "AVX3/gfni"
};
KernelChoice DefaultMulRegions();

// Every kernel variant usable on this CPU for every target Highway compiled
// (e.g. "AVX3/table", "AVX3/shift_xor", "AVX3/gfni", "SSSE3/table", ...), for
// tests and benchmarks. Temporarily overrides Highway's target choice
// (hwy::SetSupportedTargetsForTest) and restores it; not thread-safe.
std::vector<KernelChoice> AllKernelsForTesting();

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_GF_KERNELS_H_
