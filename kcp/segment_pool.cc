#include "kcp/segment_pool.h"

#include <cstdlib>
#include <new>

namespace kcpp::kcp {

SegmentPool::SegmentPool(size_t block_size) : block_size_(block_size == 0 ? 1 : block_size) {}

SegmentPool::~SegmentPool() {
  // Blocks still in use belong to engines that outlived their pool, a
  // programming error the sanitizers report as a leak.
  Trim(0);
}

SegmentPool::Block* SegmentPool::AllocateNew() {
  ++allocations_;
  void* p = ::operator new(kBlockOverhead + block_size_);
  Block* b = static_cast<Block*>(p);
  b->next = nullptr;
  b->reserved = 0;
  return b;
}

void SegmentPool::Trim(size_t keep_free_blocks) {
  while (free_count_ > keep_free_blocks) {
    Block* b = free_;
    free_ = b->next;
    --free_count_;
    ::operator delete(static_cast<void*>(b));
  }
}

bool SegmentPool::SetBlockSize(size_t block_size) {
  if (in_use_ != 0) return false;
  Trim(0);
  block_size_ = block_size == 0 ? 1 : block_size;
  return true;
}

}  // namespace kcpp::kcp
