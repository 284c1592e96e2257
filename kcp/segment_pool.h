// SegmentPool: fixed-size payload blocks for KCP segments.
//
// Every payload byte a Kcp engine holds (queued for sending, in flight,
// received out of order, waiting to be read) lives in blocks from a
// SegmentPool. A segment longer than a block uses a chain of blocks, so any
// MTU works; with the default block size (1476 = 1500 - 24, the largest
// segment a kcp-go peer ever sends, docs/protocol.md §5.8) every segment of the
// usual MTUs fits in one block.
//
// Blocks come back to the pool's free list when segments are acknowledged or
// read, and are reused: once a session has reached its working-set size it
// allocates nothing per segment. A pool can be private to one engine (the
// default; Kcp then returns its free blocks to the allocator after an idle
// period) or shared by all engines of one thread (an event loop), which then
// calls Trim() when it wants memory back:
//
//   kcpp::kcp::SegmentPool pool;            // one per event loop
//   kcpp::kcp::Kcp a(conv1, &sink, Flavor::kKcpGo, &pool);
//   kcpp::kcp::Kcp b(conv2, &sink, Flavor::kKcpGo, &pool);
//   ...
//   pool.Trim(/*keep_free_blocks=*/256);
//
// Not thread-safe: a pool and every engine using it belong to one thread.
// The pool must outlive the engines that use it.
#ifndef KCPP_KCP_SEGMENT_POOL_H_
#define KCPP_KCP_SEGMENT_POOL_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::kcp {

class SegmentPool {
 public:
  // Holds one segment of MTU 1500 (kcp-go's maximum) in one block.
  static constexpr size_t kDefaultBlockSize = 1476;
  // Bytes of bookkeeping in front of each block's payload.
  static constexpr size_t kBlockOverhead = 16;

  // One block: a link and then block_size() bytes of payload.
  struct Block {
    Block* next;
    uint64_t reserved;  // keeps the payload 16-byte aligned
    uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
    const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(this + 1); }
  };
  static_assert(sizeof(Block) == kBlockOverhead, "block header size");

  explicit SegmentPool(size_t block_size = kDefaultBlockSize);
  ~SegmentPool();
  SegmentPool(const SegmentPool&) = delete;
  SegmentPool& operator=(const SegmentPool&) = delete;

  size_t block_size() const { return block_size_; }
  // Blocks handed out and not yet returned.
  size_t blocks_in_use() const { return in_use_; }
  // Blocks on the free list, ready for reuse without allocating.
  size_t free_blocks() const { return free_count_; }
  // Heap bytes held by the pool's blocks (in use + free).
  size_t bytes_reserved() const { return (in_use_ + free_count_) * (block_size_ + kBlockOverhead); }
  // Blocks taken from the allocator since the pool was made. A warm pool
  // stops counting until its working set reaches a new peak (or it was
  // trimmed below it).
  uint64_t allocations() const { return allocations_; }

  // Frees free-list blocks until at most `keep_free_blocks` remain.
  void Trim(size_t keep_free_blocks = 0);

  // Changes the block size. Only possible while no block is in use; frees
  // the free list. Returns false (and changes nothing) otherwise.
  bool SetBlockSize(size_t block_size);

  // A block of block_size() payload bytes (contents unspecified), with
  // next == nullptr. Allocates only when the free list is empty.
  Block* Allocate() {
    Block* b = free_;
    if (b != nullptr) {
      free_ = b->next;
      --free_count_;
      b->next = nullptr;
    } else {
      b = AllocateNew();
    }
    ++in_use_;
    return b;
  }
  // Returns one block (its `next` is ignored).
  void Release(Block* b) {
    b->next = free_;
    free_ = b;
    ++free_count_;
    --in_use_;
  }
  // Returns a whole chain linked through `next`.
  void ReleaseChain(Block* b) {
    while (b != nullptr) {
      Block* next = b->next;
      Release(b);
      b = next;
    }
  }

 private:
  Block* AllocateNew();

  size_t block_size_;
  Block* free_ = nullptr;
  size_t free_count_ = 0;
  size_t in_use_ = 0;
  uint64_t allocations_ = 0;
};

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_SEGMENT_POOL_H_
