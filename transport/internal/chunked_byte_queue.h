// ChunkedByteQueue: a FIFO of bytes (or of whole messages) between
// application threads and an event loop, built from fixed 4 KiB chunks.
// (smux's ContiguousByteQueue keeps one growable buffer read as a single
// span; kcpd's ByteRing one circular buffer.)
//
// An empty queue holds no chunk, so 10K idle sessions cost ~nothing; a busy
// one borrows chunks from a process-wide ChunkPool that keeps a bounded free
// list, so a warm transfer allocates nothing. Message mode stores a 4-byte
// length before each message, so boundaries survive (SOCK_SEQPACKET-like).
//
// Not thread-safe: the session's mutex guards it. ChunkPool is thread-safe.
#ifndef KCPP_TRANSPORT_INTERNAL_CHUNKED_BYTE_QUEUE_H_
#define KCPP_TRANSPORT_INTERNAL_CHUNKED_BYTE_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/types/span.h"

namespace kcpp::transport::internal {

class ChunkPool {
 public:
  // Small enough that a session holding one short unread message costs
  // little (thousands of sessions), large enough that bulk transfers touch
  // the pool rarely.
  static constexpr size_t kChunkBytes = 4 * 1024;

  // Keeps at most `max_free` idle chunks (4 MiB by default).
  explicit ChunkPool(size_t max_free = 1024) : max_free_(max_free) {}
  ~ChunkPool() {
    for (uint8_t* c : free_) delete[] c;
  }

  static ChunkPool& Default() {
    static ChunkPool* pool = new ChunkPool();
    return *pool;
  }

  uint8_t* Get() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        uint8_t* c = free_.back();
        free_.pop_back();
        return c;
      }
    }
    allocations_.fetch_add(1, std::memory_order_relaxed);
    return new uint8_t[kChunkBytes];
  }

  void Put(uint8_t* chunk) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.size() < max_free_) {
        free_.push_back(chunk);
        return;
      }
    }
    delete[] chunk;
  }

  // Chunks taken from the allocator so far: a warm pool stops counting
  // until the bytes queued reach a new peak (beyond what its free list
  // kept). Any thread.
  uint64_t allocations() const { return allocations_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  size_t max_free_;
  std::vector<uint8_t*> free_;
  std::atomic<uint64_t> allocations_{0};
};

// The chunks of one ChunkedByteQueue, oldest first: a vector used as a FIFO, so an
// empty queue owns no memory at all (std::deque allocates on construction).
class ChunkFifo {
 public:
  bool empty() const { return head_ == v_.size(); }
  size_t size() const { return v_.size() - head_; }
  uint8_t* front() const { return v_[head_]; }
  uint8_t* back() const { return v_.back(); }
  uint8_t* operator[](size_t i) const { return v_[head_ + i]; }
  void push_back(uint8_t* c) {
    if (head_ > 0 && head_ * 2 >= v_.size()) {  // reclaim consumed slots first
      v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    v_.push_back(c);
  }
  void pop_front() {
    if (++head_ == v_.size()) {
      v_.clear();  // keeps the (few pointers of) capacity: no allocation per cycle
      head_ = 0;
    }
  }
  // Empties and frees the pointer array.
  void clear() {
    v_.clear();
    v_.shrink_to_fit();
    head_ = 0;
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = head_; i < v_.size(); ++i) fn(v_[i]);
  }

 private:
  std::vector<uint8_t*> v_;
  size_t head_ = 0;
};

class ChunkedByteQueue {
 public:
  explicit ChunkedByteQueue(ChunkPool* pool = &ChunkPool::Default()) : pool_(pool) {}
  ~ChunkedByteQueue() { Clear(); }
  ChunkedByteQueue(const ChunkedByteQueue&) = delete;
  ChunkedByteQueue& operator=(const ChunkedByteQueue&) = delete;

  // Bytes stored (message mode: including the 4-byte length prefixes).
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t chunks() const { return chunks_.size(); }

  // Stream mode: appends bytes.
  void Append(absl::Span<const uint8_t> data) {
    while (!data.empty()) {
      if (chunks_.empty() || tail_ == ChunkPool::kChunkBytes) {
        chunks_.push_back(pool_->Get());
        tail_ = 0;
      }
      const size_t n = std::min(data.size(), ChunkPool::kChunkBytes - tail_);
      std::memcpy(chunks_.back() + tail_, data.data(), n);
      tail_ += n;
      size_ += n;
      data.remove_prefix(n);
    }
  }

  // Stream mode: copies up to out.size() bytes out; returns the count.
  size_t Read(absl::Span<uint8_t> out) {
    size_t done = 0;
    while (done < out.size() && size_ > 0) {
      const size_t in_head = (chunks_.size() == 1 ? tail_ : ChunkPool::kChunkBytes) - head_;
      const size_t n = std::min(out.size() - done, in_head);
      std::memcpy(out.data() + done, chunks_.front() + head_, n);
      Consume(n);
      done += n;
    }
    return done;
  }

  // Message mode: appends one message.
  void AppendMessage(absl::Span<const uint8_t> message) {
    const uint32_t len = static_cast<uint32_t>(message.size());
    uint8_t prefix[4];
    std::memcpy(prefix, &len, 4);
    Append(prefix);
    Append(message);
  }

  // Message mode: length of the next message, or -1 if none.
  int64_t PeekMessageSize() const {
    if (size_ < 4) return -1;
    uint8_t prefix[4];
    CopyFront(prefix, 4);
    uint32_t len;
    std::memcpy(&len, prefix, 4);
    return len;
  }

  // Message mode: copies the next message (out.size() must be at least its
  // length) without removing it. Returns its length, or -1.
  int64_t PeekMessage(absl::Span<uint8_t> out) const {
    const int64_t len = PeekMessageSize();
    if (len < 0 || out.size() < static_cast<size_t>(len)) return -1;
    size_t chunk = 0, at = head_ + 4;
    while (at >= ChunkPool::kChunkBytes) {
      ++chunk;
      at -= ChunkPool::kChunkBytes;
    }
    for (size_t i = 0; i < static_cast<size_t>(len); ++i) {
      if (at == ChunkPool::kChunkBytes) {
        ++chunk;
        at = 0;
      }
      out[i] = chunks_[chunk][at++];
    }
    return len;
  }

  // Message mode: removes the next message, copying at most out.size() bytes
  // of it (the rest of a longer message is discarded, as recv() on a
  // SOCK_SEQPACKET socket does). Returns the full message length, or -1.
  int64_t ReadMessage(absl::Span<uint8_t> out) {
    const int64_t len = PeekMessageSize();
    if (len < 0) return -1;
    Consume(4);
    const size_t keep = std::min<size_t>(out.size(), static_cast<size_t>(len));
    Read(out.subspan(0, keep));
    Skip(static_cast<size_t>(len) - keep);
    return len;
  }

  // Stream mode: the contiguous bytes at the front (empty if none).
  absl::Span<const uint8_t> Front() const {
    if (size_ == 0) return {};
    const size_t end = chunks_.size() == 1 ? tail_ : ChunkPool::kChunkBytes;
    return absl::MakeConstSpan(chunks_.front() + head_, end - head_);
  }
  // Drops n bytes from the front (n <= size()).
  void Skip(size_t n) {
    while (n > 0) {
      const size_t in_head = (chunks_.size() == 1 ? tail_ : ChunkPool::kChunkBytes) - head_;
      const size_t k = std::min(n, in_head);
      Consume(k);
      n -= k;
    }
  }

  void Clear() {
    chunks_.ForEach([&](uint8_t* c) { pool_->Put(c); });
    chunks_.clear();
    head_ = tail_ = size_ = 0;
  }

 private:
  void CopyFront(uint8_t* out, size_t n) const {
    size_t chunk = 0, at = head_;
    for (size_t i = 0; i < n; ++i) {
      if (at == ChunkPool::kChunkBytes) {
        ++chunk;
        at = 0;
      }
      out[i] = chunks_[chunk][at++];
    }
  }

  void Consume(size_t n) {
    head_ += n;
    size_ -= n;
    const bool last = chunks_.size() == 1;
    if ((last && head_ == tail_) || (!last && head_ == ChunkPool::kChunkBytes)) {
      pool_->Put(chunks_.front());
      chunks_.pop_front();
      head_ = 0;
      if (chunks_.empty()) tail_ = 0;
    }
  }

  ChunkPool* pool_;
  ChunkFifo chunks_;
  size_t head_ = 0;  // read offset in chunks_.front()
  size_t tail_ = 0;  // write offset in chunks_.back()
  size_t size_ = 0;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_CHUNKED_BYTE_QUEUE_H_
