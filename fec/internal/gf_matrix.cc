#include "fec/internal/gf_matrix.h"

#include <cstdlib>
#include <utility>

#include "fec/internal/gf256.h"

namespace kcpp::fec::internal {

GfMatrix GfMatrix::Identity(int n) {
  GfMatrix m(n, n);
  for (int i = 0; i < n; ++i) m.at(i, i) = 1;
  return m;
}

GfMatrix GfMatrix::Vandermonde(int rows, int cols) {
  GfMatrix m(rows, cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) m.at(r, c) = GfPow(static_cast<uint8_t>(r), c);
  }
  return m;
}

GfMatrix GfMatrix::Multiply(const GfMatrix& other) const {
  if (cols_ != other.rows_) std::abort();  // programming error
  GfMatrix out(rows_, other.cols_);
  for (int r = 0; r < rows_; ++r) {
    for (int c = 0; c < other.cols_; ++c) {
      uint8_t v = 0;
      for (int k = 0; k < cols_; ++k) v ^= GfMul(at(r, k), other.at(k, c));
      out.at(r, c) = v;
    }
  }
  return out;
}

GfMatrix GfMatrix::SubRows(int first, int count) const {
  GfMatrix out(count, cols_);
  for (int r = 0; r < count; ++r) {
    for (int c = 0; c < cols_; ++c) out.at(r, c) = at(first + r, c);
  }
  return out;
}

bool GfMatrix::Invert(GfMatrix* out) const {
  if (rows_ != cols_) return false;
  const int n = rows_;
  GfMatrix work = *this;
  GfMatrix inv = Identity(n);
  for (int col = 0; col < n; ++col) {
    // Find a pivot at or below the diagonal and move it up.
    int pivot = col;
    while (pivot < n && work.at(pivot, col) == 0) ++pivot;
    if (pivot == n) return false;
    if (pivot != col) {
      for (int c = 0; c < n; ++c) {
        std::swap(work.at(pivot, c), work.at(col, c));
        std::swap(inv.at(pivot, c), inv.at(col, c));
      }
    }
    // Scale the pivot row to 1.
    const uint8_t scale = GfInverse(work.at(col, col));
    for (int c = 0; c < n; ++c) {
      work.at(col, c) = GfMul(work.at(col, c), scale);
      inv.at(col, c) = GfMul(inv.at(col, c), scale);
    }
    // Clear the column in every other row.
    for (int r = 0; r < n; ++r) {
      const uint8_t f = work.at(r, col);
      if (r == col || f == 0) continue;
      for (int c = 0; c < n; ++c) {
        work.at(r, c) ^= GfMul(f, work.at(col, c));
        inv.at(r, c) ^= GfMul(f, inv.at(col, c));
      }
    }
  }
  *out = std::move(inv);
  return true;
}

GfMatrix BuildEncodingMatrix(int data_shards, int parity_shards) {
  const GfMatrix v = GfMatrix::Vandermonde(data_shards + parity_shards, data_shards);
  GfMatrix top_inverse;
  // The top square of a Vandermonde matrix with distinct row values 0..d-1
  // is always invertible.
  if (!v.SubRows(0, data_shards).Invert(&top_inverse)) std::abort();
  return v.Multiply(top_inverse);
}

}  // namespace kcpp::fec::internal
