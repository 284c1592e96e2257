// ContiguousByteQueue: a FIFO of bytes in one contiguous buffer: append at
// the back, consume from the front, read everything pending as one span
// (smux::Session::output() is one span of it). The buffer grows (doubling)
// when needed and never shrinks, so a warm queue does not allocate; consumed
// space is reclaimed by moving the pending bytes to the front when an append
// would otherwise grow the buffer. (transport's ChunkedByteQueue is built
// from pooled 4 KiB chunks; kcpd's ByteRing is one circular buffer.)
#ifndef KCPP_SMUX_INTERNAL_CONTIGUOUS_BYTE_QUEUE_H_
#define KCPP_SMUX_INTERNAL_CONTIGUOUS_BYTE_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/types/span.h"

namespace kcpp::smux::internal {

class ContiguousByteQueue {
 public:
  absl::Span<const uint8_t> data() const {
    return absl::MakeConstSpan(buf_.get() + begin_, end_ - begin_);
  }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  // Returns room for `n` more bytes at the back; Commit says how many were
  // written.
  uint8_t* Reserve(size_t n) {
    if (capacity_ - end_ < n) Make(n);
    return buf_.get() + end_;
  }
  void Commit(size_t n) { end_ += n; }

  void Consume(size_t n) {
    begin_ += std::min(n, size());
    if (begin_ == end_) begin_ = end_ = 0;
  }

 private:
  void Make(size_t n) {
    const size_t used = size();
    if (capacity_ - used >= n && begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, used);
    } else {
      const size_t capacity = std::max({capacity_ * 2, used + n, size_t{4096}});
      std::unique_ptr<uint8_t[]> bigger(new uint8_t[capacity]);
      if (used > 0) std::memcpy(bigger.get(), buf_.get() + begin_, used);
      buf_ = std::move(bigger);
      capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
  }

  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace kcpp::smux::internal

#endif  // KCPP_SMUX_INTERNAL_CONTIGUOUS_BYTE_QUEUE_H_
