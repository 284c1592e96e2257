// ByteRing: a FIFO of bytes in one growable circular buffer — where kcpd
// keeps bytes that arrived faster than their consumer takes them (a stream's
// data the application has not read yet, a raw session's bytes its socket
// did not take yet). One allocation, unlike transport's ChunkedByteQueue
// (pooled 4 KiB chunks); its bytes may wrap around the end, unlike smux's
// ContiguousByteQueue (always one span).
//
//   ByteRing ring;
//   ring.Append(data);                       // grows (doubling) when full
//   while (!ring.empty()) {
//     absl::Span<const uint8_t> front = ring.Front();   // contiguous part
//     size_t n = Send(front);
//     ring.Consume(n);
//     if (n < front.size()) break;
//   }
//
// Capacity is a power of two and never shrinks until Release(): once warm,
// Append does not allocate. The ring itself has no limit; every user bounds
// what it appends (the smux windows, a socket's read size) and says so.
//
// Thread safety: none.
#ifndef KCPP_MUX_BYTE_RING_H_
#define KCPP_MUX_BYTE_RING_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/types/span.h"

namespace kcpp::service::internal {

class ByteRing {
 public:
  ByteRing() = default;
  ByteRing(ByteRing&&) = default;
  ByteRing& operator=(ByteRing&&) = default;
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }

  // The oldest bytes that are contiguous in memory: all of them, or the part
  // up to the end of the buffer (the rest follows after Consume).
  absl::Span<const uint8_t> Front() const {
    return absl::MakeConstSpan(data_.get() + head_, std::min(size_, capacity_ - head_));
  }

  // Appends `data` at the back.
  void Append(absl::Span<const uint8_t> data) {
    if (data.empty()) return;
    if (size_ + data.size() > capacity_) Grow(size_ + data.size());
    size_t tail = (head_ + size_) & (capacity_ - 1);
    const size_t first = std::min(data.size(), capacity_ - tail);
    std::memcpy(data_.get() + tail, data.data(), first);
    if (first < data.size()) std::memcpy(data_.get(), data.data() + first, data.size() - first);
    size_ += data.size();
  }

  // Drops the `n` oldest bytes; n <= size().
  void Consume(size_t n) {
    n = std::min(n, size_);
    size_ -= n;
    head_ = size_ == 0 ? 0 : (head_ + n) & (capacity_ - 1);
  }

  // Drops every byte, keeping the memory.
  void Clear() {
    size_ = 0;
    head_ = 0;
  }
  // Drops every byte and frees the memory.
  void Release() {
    Clear();
    data_.reset();
    capacity_ = 0;
  }

 private:
  void Grow(size_t need) {
    size_t capacity = capacity_ == 0 ? 4096 : capacity_;
    while (capacity < need) capacity *= 2;
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[capacity]);
    // Unroll the old contents to the start of the new buffer.
    const size_t first = std::min(size_, capacity_ - head_);
    if (first > 0) std::memcpy(bigger.get(), data_.get() + head_, first);
    if (first < size_) std::memcpy(bigger.get() + first, data_.get(), size_ - first);
    data_ = std::move(bigger);
    capacity_ = capacity;
    head_ = 0;
  }

  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;  // 0 or a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_MUX_BYTE_RING_H_
