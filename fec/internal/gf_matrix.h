// Small dense matrices over GF(2^8) (gf256.h): what the Reed-Solomon codec
// needs to build klauspost/reedsolomon's default encoding matrix
// (docs/protocol.md §4.4) and to invert sub-matrices for decoding.
#ifndef KCPP_FEC_INTERNAL_GF_MATRIX_H_
#define KCPP_FEC_INTERNAL_GF_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kcpp::fec::internal {

// Row-major rows x cols matrix.
class GfMatrix {
 public:
  GfMatrix() = default;
  GfMatrix(int rows, int cols) : rows_(rows), cols_(cols), m_(size_t(rows) * cols) {}

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  uint8_t& at(int r, int c) { return m_[size_t(r) * cols_ + c]; }
  uint8_t at(int r, int c) const { return m_[size_t(r) * cols_ + c]; }
  const uint8_t* row(int r) const { return &m_[size_t(r) * cols_]; }
  uint8_t* row(int r) { return &m_[size_t(r) * cols_]; }

  static GfMatrix Identity(int n);
  // rows x cols matrix with V[r][c] = r^c (0^0 = 1): klauspost's vandermonde().
  static GfMatrix Vandermonde(int rows, int cols);

  // this x other; cols() must equal other.rows().
  GfMatrix Multiply(const GfMatrix& other) const;
  // Rows [first, first + count) as a new matrix.
  GfMatrix SubRows(int first, int count) const;
  // Inverse of a square matrix by Gauss-Jordan elimination. Returns false
  // (and leaves *out unspecified) when the matrix is singular.
  bool Invert(GfMatrix* out) const;

  bool operator==(const GfMatrix& o) const {
    return rows_ == o.rows_ && cols_ == o.cols_ && m_ == o.m_;
  }

 private:
  int rows_ = 0;
  int cols_ = 0;
  std::vector<uint8_t> m_;
};

// klauspost/reedsolomon's default systematic encoding matrix for
// (data_shards, parity_shards): V x inverse(top square of V), where V is the
// (data + parity) x data Vandermonde matrix (RS buildMatrix, §4.4). The top
// data_shards rows are the identity.
GfMatrix BuildEncodingMatrix(int data_shards, int parity_shards);

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_GF_MATRIX_H_
