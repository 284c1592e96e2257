#include "fec/shard_pool.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <utility>

namespace kcpp::fec {

struct ShardPool::Codec {
  ReedSolomon rs;
  int users = 0;
};

ShardPool::ShardPool() : ShardPool(ShardPoolOptions()) {}

ShardPool::ShardPool(const ShardPoolOptions& options) : options_(options) {}

ShardPool::~ShardPool() {
  // Blocks still in use belong to encoders or decoders that outlived their
  // pool, a programming error the sanitizers report as a leak.
  Trim(0);
}

uint8_t* ShardPool::AllocateNew(int c) {
  ++allocations_;
  block_bytes_ += kClassBytes[c];
  in_use_bytes_ += kClassBytes[c];
  return static_cast<uint8_t*>(::operator new(kClassBytes[c]));
}

uint8_t* ShardPool::Grow(Scratch& s, size_t bytes) {
  // At least doubling, so a thread's scratch settles after a few groups.
  const size_t size = std::max({bytes, 2 * s.size, size_t{4096}});
  s.data.reset();  // contents are not kept: free first, then allocate
  ++allocations_;
  s.data.reset(new uint8_t[size]);
  s.size = size;
  return s.data.get();
}

void ShardPool::Trim(size_t keep_free_bytes) {
  const size_t scratch = scratch_bytes();
  const size_t keep_blocks = keep_free_bytes > scratch ? keep_free_bytes - scratch : 0;
  for (int c = kClasses - 1; c >= 0 && bytes_free() > keep_blocks; --c) {
    while (free_[c] != nullptr && bytes_free() > keep_blocks) {
      FreeBlock* b = free_[c];
      Unpoison(b, kClassBytes[c]);
      free_[c] = b->next;
      block_bytes_ -= kClassBytes[c];
      ::operator delete(static_cast<void*>(b));
    }
  }
  if (bytes_free() + scratch > keep_free_bytes) {
    pad_ = Scratch();
    out_ = Scratch();
  }
  if (!codecs_.empty()) {
    codecs_.erase(std::remove_if(codecs_.begin(), codecs_.end(),
                                 [](const std::unique_ptr<Codec>& c) { return c->users == 0; }),
                  codecs_.end());
    if (codecs_.empty()) std::vector<std::unique_ptr<Codec>>().swap(codecs_);
  }
}

size_t ShardPool::codec_bytes() const {
  size_t n = codecs_.capacity() * sizeof(codecs_[0]);
  for (const auto& c : codecs_) n += sizeof(Codec) + c->rs.cache_stats().bytes;
  return n;
}

absl::StatusOr<ReedSolomon*> ShardPool::AcquireCodec(int data_shards, int parity_shards) {
  for (const auto& c : codecs_) {
    if (c->rs.data_shards() == data_shards && c->rs.parity_shards() == parity_shards) {
      ++c->users;
      return &c->rs;
    }
  }
  absl::StatusOr<ReedSolomon> rs =
      ReedSolomon::Create(data_shards, parity_shards, options_.decode_cache);
  if (!rs.ok()) return rs.status();
  codecs_.push_back(std::unique_ptr<Codec>(new Codec{*std::move(rs), 1}));
  return &codecs_.back()->rs;
}

void ShardPool::ReleaseCodec(ReedSolomon* codec) {
  for (const auto& c : codecs_) {
    if (&c->rs == codec) {
      --c->users;
      return;
    }
  }
}

}  // namespace kcpp::fec
