// ShardPool: the memory of kcp-go's FEC layer (docs/protocol.md §4.3, §4.5) for
// every FecEncoder and FecDecoder of one thread.
//
// The FEC layer keeps copies of the shards of incomplete groups: the encoder
// the data packets of the group it is filling, the decoder the packets of the
// last few groups it has seen, until they can be decoded. A ShardPool holds
// that storage, sized to each shard's real length, so a session sending one
// small packet a second holds a few small blocks rather than a full group of
// MTU-sized slots, and a session with no incomplete group holds none:
//
//   * Blocks: each shard is copied into a block of the smallest size class
//     that holds it (16-byte steps up to 120 bytes, then 4 classes per
//     power of two: at most 16 bytes or 25 % above the request; 8 bytes short of a multiple of 16,
//     so that glibc's malloc, which adds an 8-byte header and rounds to 16, wastes nothing). Freed
//     blocks go to per-class free lists and are reused: once warm, no allocation per packet.
//   * Scratch: Reed-Solomon needs equal-length shards, so when a group is
//     encoded or decoded, shards whose block is shorter than the group's
//     longest are copied, zero-padded, into a scratch area owned by the pool
//     (one per thread, not one per session); recovered packets are written to
//     a second scratch area and returned as views into it.
//   * Codecs: one ReedSolomon per (data, parity) used on the thread, shared
//     by its encoders and decoders, so the decode-matrix cache is per thread
//     and per code (bounded by ShardPoolOptions), not per session. The
//     encoding matrices are shared process-wide (reed_solomon.h).
//
// An event loop owns one pool, passes it to every encoder and decoder it
// creates (FecEncoderOptions::pool, FecDecoderOptions::pool) and calls Trim()
// when it wants memory back. Without a pool, an encoder or decoder creates a
// private one and gives its blocks and scratch back to the allocator whenever
// it holds no shard (then every stored shard is an allocation).
//
//   kcpp::fec::ShardPool pool;              // one per event loop
//   FecEncoderOptions eo;  eo.pool = &pool;
//   FecDecoderOptions dopt; dopt.pool = &pool;
//   ...
//   pool.Trim(/*keep_free_bytes=*/1 << 20);  // e.g. at the end of an iteration
//
// Not thread-safe: a pool and every encoder and decoder using it belong to
// one thread. The pool must outlive them.
#ifndef KCPP_FEC_SHARD_POOL_H_
#define KCPP_FEC_SHARD_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/config.h"
#include "absl/status/statusor.h"
#include "fec/reed_solomon.h"

#ifdef ABSL_HAVE_ADDRESS_SANITIZER
#include <sanitizer/asan_interface.h>
#endif

namespace kcpp::fec {

class FecEncoder;
class FecDecoder;

struct ShardPoolOptions {
  // Bounds of each code's decode-matrix cache (one ReedSolomon per
  // (data, parity) in use on the pool's thread). 64 patterns of 10+3 take
  // ~100 KB; an entry of a code with 128 data shards, up to ~700 KB.
  ReedSolomon::CacheLimits decode_cache = {64, size_t{1} << 20};
};

class ShardPool {
 public:
  // Largest block: a shard is at most 65535 bytes (the FEC size field, §4.2).
  static constexpr size_t kMaxBlockBytes = 0xFFFF;
  // Number of size classes (24 bytes up to 81912 bytes).
  static constexpr int kClasses = 44;

  ShardPool();
  explicit ShardPool(const ShardPoolOptions& options);
  ~ShardPool();
  ShardPool(const ShardPool&) = delete;
  ShardPool& operator=(const ShardPool&) = delete;

  // Usable bytes of the block Allocate(bytes) returns: the smallest size
  // class >= bytes. 1 <= bytes <= kMaxBlockBytes.
  static size_t BlockCapacity(size_t bytes) { return kClassBytes[ClassOf(bytes)]; }

  // A block of BlockCapacity(bytes) writable bytes (contents unspecified,
  // 16-byte aligned). Allocates only when that class has no free block.
  // 1 <= bytes <= kMaxBlockBytes.
  uint8_t* Allocate(size_t bytes) { return AllocateInClass(ClassOf(bytes)); }
  // Returns a block from Allocate(bytes) (any `bytes` of the same class).
  void Release(uint8_t* block, size_t bytes) { ReleaseToClass(block, ClassOf(bytes)); }

  // Block bytes handed out and not yet returned (by capacity).
  size_t bytes_in_use() const { return in_use_bytes_; }
  // Block bytes on the free lists, ready for reuse without allocating.
  size_t bytes_free() const { return block_bytes_ - in_use_bytes_; }
  // Bytes of the padding and output scratch areas.
  size_t scratch_bytes() const { return pad_.size + out_.size; }
  // Heap held by the pool's codecs: their instances and decode-matrix caches
  // (the encoding matrices are shared process-wide and not counted).
  size_t codec_bytes() const;
  // Codecs held (one per (data, parity) in use or not yet trimmed).
  size_t codecs() const { return codecs_.size(); }
  // Everything above: in use + free + scratch + codecs.
  size_t bytes_reserved() const { return block_bytes_ + scratch_bytes() + codec_bytes(); }
  // Blocks and scratch areas taken from the allocator since the pool was
  // made (codecs not counted: one per code in use). A warm pool stops
  // counting until the shards it holds reach a new peak.
  uint64_t allocations() const { return allocations_; }

  // Gives memory not in use back to the allocator: free blocks (largest
  // classes first) and then the scratch areas, until at most
  // `keep_free_bytes` of the two remain; and every codec no encoder or
  // decoder holds. Allocation-free and cheap when there is nothing to free.
  void Trim(size_t keep_free_bytes = 0);

 private:
  friend class FecEncoder;
  friend class FecDecoder;

  struct FreeBlock {
    FreeBlock* next;
  };
  struct Scratch {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
  };
  struct Codec;

  // Block sizes: malloc chunks of 32..128 bytes in steps of 16, then four
  // per power of two, minus glibc's 8-byte chunk header.
  static constexpr size_t kClassBytes[kClasses] = {
      24,    40,    56,    72,    88,    104,   120,   152,   184,   216,   248,
      312,   376,   440,   504,   632,   760,   888,   1016,  1272,  1528,  1784,
      2040,  2552,  3064,  3576,  4088,  5112,  6136,  7160,  8184,  10232, 12280,
      14328, 16376, 20472, 24568, 28664, 32760, 40952, 49144, 57336, 65528, 81912};
  static int ClassOf(size_t bytes) {
    const size_t chunk = bytes + 8;
    if (chunk <= 128) return chunk <= 32 ? 0 : static_cast<int>((chunk + 15) / 16 - 2);
    // 2^k < chunk <= 2^(k+1): class 7 + 4 (k - 7) + (quarter of the octave - 1).
    const int k = 63 - __builtin_clzll(chunk - 1);
    const size_t step = size_t{1} << (k - 2);
    const size_t quarter = (chunk - (size_t{1} << k) + step - 1) / step;
    return 7 + 4 * (k - 7) + static_cast<int>(quarter) - 1;
  }

  uint8_t* AllocateInClass(int c) {
    FreeBlock* b = free_[c];
    if (b == nullptr) return AllocateNew(c);
    Unpoison(b, kClassBytes[c]);
    free_[c] = b->next;
    in_use_bytes_ += kClassBytes[c];
    return reinterpret_cast<uint8_t*>(b);
  }
  void ReleaseToClass(uint8_t* block, int c) {
    FreeBlock* b = reinterpret_cast<FreeBlock*>(block);
    b->next = free_[c];
    free_[c] = b;
    in_use_bytes_ -= kClassBytes[c];
    Poison(b, kClassBytes[c]);
  }
  // Releases blocks[i] of lengths[i] bytes, i < n.
  void ReleaseBlocks(uint8_t* const* blocks, const uint16_t* lengths, int n) {
    size_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      const int c = ClassOf(lengths[i]);
      FreeBlock* b = reinterpret_cast<FreeBlock*>(blocks[i]);
      b->next = free_[c];
      free_[c] = b;
      bytes += kClassBytes[c];
      Poison(b, kClassBytes[c]);
    }
    in_use_bytes_ -= bytes;
  }
  uint8_t* AllocateNew(int c);
  // Under ASan, a free block (but its link) is poisoned, so a stale pointer
  // into it is reported; no code otherwise.
  static void Poison(void* p, size_t n) {
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
    __asan_poison_memory_region(static_cast<uint8_t*>(p) + sizeof(FreeBlock),
                                n - sizeof(FreeBlock));
#else
    (void)p;
    (void)n;
#endif
  }
  static void Unpoison(void* p, size_t n) {
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
    __asan_unpoison_memory_region(p, n);
#else
    (void)p;
    (void)n;
#endif
  }

  // The shared codec for (data, parity), created on first use; every
  // Acquire is paired with a Release.
  absl::StatusOr<ReedSolomon*> AcquireCodec(int data_shards, int parity_shards);
  void ReleaseCodec(ReedSolomon* codec);
  // Scratch of at least `bytes` bytes (16-byte aligned), valid until the
  // next call asking for the same area or Trim(). The pad area is for one
  // operation; the out area holds recovered packets between decoder calls.
  uint8_t* PadScratch(size_t bytes) {
    return bytes <= pad_.size ? pad_.data.get() : Grow(pad_, bytes);
  }
  uint8_t* OutScratch(size_t bytes) {
    return bytes <= out_.size ? out_.data.get() : Grow(out_, bytes);
  }
  uint8_t* Grow(Scratch& s, size_t bytes);

  ShardPoolOptions options_;
  FreeBlock* free_[kClasses] = {};
  size_t block_bytes_ = 0;   // every block allocated and not freed
  size_t in_use_bytes_ = 0;  // of which handed out
  uint64_t allocations_ = 0;
  Scratch pad_;
  Scratch out_;
  std::vector<std::unique_ptr<Codec>> codecs_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_SHARD_POOL_H_
