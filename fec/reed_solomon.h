// Systematic Reed-Solomon erasure code over GF(2^8), byte-identical to
// klauspost/reedsolomon's default codec and therefore to kcp-go's FEC parity
// (docs/protocol.md §4.4, Appendix A.2).
//
// Field: GF(2^8) with polynomial 0x11D and generator 2. Encoding matrix:
// the (data + parity) x data Vandermonde matrix V[r][c] = r^c multiplied by
// the inverse of its top square, so data shards pass through unchanged and
// parity row p is row data + p of that product. Any data_shards of the
// data + parity shards recover all of them. data + parity <= 256
// (klauspost switches to an incompatible GF(2^16) code above that).
//
// The byte loops run on SIMD kernels chosen at run time (GF2P8AFFINEQB on
// AVX-512 or AVX2 where the CPU has GFNI, else AVX-512 / AVX2 / SSE4 / SSSE3
// split-nibble table lookups, else scalar); every kernel gives the same
// bytes (speeds: bench/README.md "fec").
//
// Usage:
//   KCPP_ASSIGN_OR_RETURN(ReedSolomon rs, ReedSolomon::Create(10, 3));
//   const uint8_t* data[10] = {...};   // 10 regions of `len` bytes
//   uint8_t* parity[3] = {...};        // 3 regions of `len` bytes
//   KCPP_RETURN_IF_ERROR(rs.Encode(data, parity, len));
//   ...
//   uint8_t* shards[13] = {...};       // every slot points at len bytes
//   ShardMask present;                 // which slots hold received shards
//   present.set(0); ...
//   KCPP_RETURN_IF_ERROR(rs.ReconstructData(shards, present, len));
//
// Shards are caller-owned regions of equal length, passed as spans of
// pointers; the codec never allocates for Encode or Verify and, once an
// erasure pattern has been seen, not for Reconstruct either: the inverted
// decode matrix of every pattern (which shards are present) is cached, up to
// a bounded number of patterns and bytes (least recently used evicted;
// CacheLimits).
//
// Memory: the encoding matrix and its kernel tables (code_bytes(): 1,528
// bytes for 10+3, 688 KiB for 128+128) are immutable and shared by every
// instance with the same (data, parity) in the process: creating a second
// 10+3 codec costs sizeof(ReedSolomon) = 40 bytes. The decode-matrix cache
// is per instance, allocated on the first reconstruction with data missing
// and bounded by CacheLimits (default 64 patterns / 8 MiB; a 10+3 pattern
// takes ~1.1-2.0 KB). Share one instance per thread rather than one per
// session where many sessions use the same code (fec::ShardPool does that
// for the FEC layer).
//
// Thread safety: Encode, Verify and the accessors are const and may run
// concurrently on one instance. Reconstruct and ReconstructData update the
// decode-matrix cache: one thread at a time per instance. Instances sharing
// an encoding matrix may be used from different threads freely.
#ifndef KCPP_FEC_REED_SOLOMON_H_
#define KCPP_FEC_REED_SOLOMON_H_

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kcpp::fec {

namespace internal {
class ReedSolomonPeer;
struct RsCode;
struct DecodeCache;
}  // namespace internal

// Bit i set = shard i is present (holds valid bytes). Shard indices are
// 0..data-1 for data, data..data+parity-1 for parity.
using ShardMask = std::bitset<256>;

class ReedSolomon {
 public:
  // klauspost/reedsolomon's limit for its GF(2^8) codec.
  static constexpr int kMaxTotalShards = 256;

  // Bounds of the decode-matrix cache. The entry just built is always kept,
  // so at least one pattern is cached whatever the limits.
  struct CacheLimits {
    size_t max_entries = 64;
    // Bytes of cached entries (their struct and prepared rows).
    size_t max_bytes = size_t{8} << 20;
  };

  // Builds the codec for `data_shards` data and `parity_shards` parity
  // shards (sharing the encoding matrix of any live instance with the same
  // counts). InvalidArgument unless data_shards >= 1, parity_shards >= 1 and
  // data_shards + parity_shards <= 256.
  static absl::StatusOr<ReedSolomon> Create(int data_shards, int parity_shards);
  static absl::StatusOr<ReedSolomon> Create(int data_shards, int parity_shards,
                                            const CacheLimits& cache_limits);

  ReedSolomon(ReedSolomon&&) noexcept;
  ReedSolomon& operator=(ReedSolomon&&) noexcept;
  ~ReedSolomon();

  int data_shards() const;
  int parity_shards() const;
  int total_shards() const;

  // Coefficient (row, col) of the encoding matrix, row < total_shards(),
  // col < data_shards(). Rows below data_shards() are the identity.
  uint8_t matrix(int row, int col) const;

  // The region kernel in use, e.g. "AVX3/gfni" or "AVX2/table".
  absl::string_view kernel_name() const;

  // Heap bytes of the encoding matrix and its kernel tables, shared with
  // every other live instance of the same (data, parity) in the process.
  size_t code_bytes() const;

  // Computes the parity shards of `data` (data_shards() regions of
  // `shard_size` bytes) into `parity` (parity_shards() regions of
  // `shard_size` bytes, not overlapping the inputs or each other).
  // InvalidArgument on a wrong shard count or a null pointer.
  absl::Status Encode(absl::Span<const uint8_t* const> data, absl::Span<uint8_t* const> parity,
                      size_t shard_size) const;

  // Whether the parity shards of `shards` (total_shards() regions) are the
  // encoding of its data shards. Allocation-free.
  absl::StatusOr<bool> Verify(absl::Span<const uint8_t* const> shards, size_t shard_size) const;

  // Recomputes every shard not in `present`, data and parity, in place.
  // `shards` has total_shards() pointers; present ones are read, missing
  // ones must point at writable `shard_size`-byte regions. Uses the first
  // data_shards() present shards (in index order), as klauspost does.
  // DataLoss if fewer than data_shards() shards are present (nothing is
  // written); InvalidArgument on a wrong count or a null pointer that is
  // needed.
  absl::Status Reconstruct(absl::Span<uint8_t* const> shards, const ShardMask& present,
                           size_t shard_size);

  // As Reconstruct, but recomputes only the missing data shards; pointers of
  // missing parity shards are ignored (may be null).
  absl::Status ReconstructData(absl::Span<uint8_t* const> shards, const ShardMask& present,
                               size_t shard_size);

  // Decode-matrix cache statistics. `bytes` is the heap held by the cache
  // (entries and the cache's own index), 0 before the first reconstruction
  // with data missing.
  struct CacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t entries = 0;
    size_t bytes = 0;
  };
  CacheStats cache_stats() const;

 private:
  friend class internal::ReedSolomonPeer;
  ReedSolomon(std::shared_ptr<const internal::RsCode> code, const CacheLimits& limits);
  absl::Status ReconstructImpl(absl::Span<uint8_t* const> shards, const ShardMask& present,
                               size_t shard_size, bool data_only);

  std::shared_ptr<const internal::RsCode> code_;  // never null (except moved-from)
  std::unique_ptr<internal::DecodeCache> cache_;  // created on first use
  CacheLimits limits_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_REED_SOLOMON_H_
