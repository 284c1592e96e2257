// BufferPool: fixed-size packet buffers for one event loop.
//
// Every datagram kcpp builds or receives lives in one of these: MTU-sized
// (1500-byte payload limit, as kcp-go, docs/protocol.md §5.8) plus headroom so
// the FEC and crypt layers write their headers in place in front of the KCP
// bytes. Buffers come from slabs that are never returned to the allocator
// while the pool lives, so a warm loop allocates nothing per packet.
//
// Not thread-safe: owned by one event loop.
#ifndef KCPP_TRANSPORT_INTERNAL_BUFFER_POOL_H_
#define KCPP_TRANSPORT_INTERNAL_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace kcpp::transport::internal {

class BufferPool {
 public:
  // Room for the largest datagram kcp-go accepts or builds.
  static constexpr size_t kBufferBytes = 1536;

  explicit BufferPool(size_t buffers_per_slab = 256) : per_slab_(buffers_per_slab) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of kBufferBytes, 64-byte aligned. Never fails (grows by a slab).
  uint8_t* Get() {
    if (free_.empty()) Grow();
    uint8_t* b = free_.back();
    free_.pop_back();
    return b;
  }
  void Put(uint8_t* buffer) { free_.push_back(buffer); }

  size_t capacity() const { return slabs_.size() * per_slab_; }
  size_t available() const { return free_.size(); }
  // Heap bytes of the slabs (every buffer, in use or free).
  size_t bytes_reserved() const { return capacity() * sizeof(Block); }
  // Slabs taken from the allocator: one per growth, none once warm.
  uint64_t allocations() const { return slabs_.size(); }

 private:
  struct alignas(64) Block {
    uint8_t bytes[kBufferBytes];
  };
  void Grow() {
    slabs_.emplace_back(new Block[per_slab_]);
    free_.reserve(capacity());
    for (size_t i = 0; i < per_slab_; ++i) free_.push_back(slabs_.back()[i].bytes);
  }

  size_t per_slab_;
  std::vector<std::unique_ptr<Block[]>> slabs_;
  std::vector<uint8_t*> free_;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_BUFFER_POOL_H_
