// ShardPool: size classes, block reuse and accounting, Trim, codec sharing
// between the encoders and decoders of one pool, and Reed-Solomon encoding
// matrices shared across instances.
#include "fec/shard_pool.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "fec/internal/reed_solomon_peer.h"
#include "fec/reed_solomon.h"
#include "gtest/gtest.h"

namespace kcpp::fec {
namespace {

TEST(ShardPool, BlockCapacityIsTheSmallestClassThatFits) {
  std::set<size_t> classes;
  size_t previous = 0;
  for (size_t n = 1; n <= ShardPool::kMaxBlockBytes; ++n) {
    const size_t cap = ShardPool::BlockCapacity(n);
    ASSERT_GE(cap, n);
    ASSERT_GE(cap, previous);  // monotonic: the smallest class that fits
    if (cap != previous) {
      ASSERT_EQ(ShardPool::BlockCapacity(cap), cap) << n;
    }
    // malloc chunks (cap + 8) are multiples of 16, at most a quarter (or 16
    // bytes) above the chunk the request alone would need.
    ASSERT_EQ((cap + 8) % 16, 0u) << n;
    ASSERT_TRUE(cap == 24 || (cap + 8) * 4 <= (n + 8) * 5 || cap < n + 16) << n << " -> " << cap;
    classes.insert(cap);
    previous = cap;
  }
  EXPECT_EQ(classes.size(), size_t{ShardPool::kClasses});
  EXPECT_EQ(ShardPool::BlockCapacity(1), 24u);
  EXPECT_EQ(ShardPool::BlockCapacity(26), 40u);      // size field + 24-byte KCP ACK
  EXPECT_EQ(ShardPool::BlockCapacity(1474), 1528u);  // MTU 1500, 20-byte crypt header
  EXPECT_EQ(ShardPool::BlockCapacity(1494), 1528u);  // decoder slot at MTU 1500
  EXPECT_EQ(ShardPool::BlockCapacity(0xFFFF), 81912u);
}

TEST(ShardPool, BlocksAreReusedAndAccounted) {
  ShardPool pool;
  EXPECT_EQ(pool.bytes_reserved(), 0u);
  uint8_t* a = pool.Allocate(26);
  uint8_t* b = pool.Allocate(1400);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 16, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 16, 0u);
  memset(a, 1, ShardPool::BlockCapacity(26));  // the whole capacity is writable
  memset(b, 2, ShardPool::BlockCapacity(1400));
  EXPECT_EQ(pool.bytes_in_use(), 40u + 1528u);
  EXPECT_EQ(pool.bytes_free(), 0u);
  pool.Release(a, 26);
  pool.Release(b, 1400);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  EXPECT_EQ(pool.bytes_free(), 40u + 1528u);
  // Same class, same block back (any request size of that class).
  EXPECT_EQ(pool.Allocate(30), a);
  EXPECT_EQ(pool.Allocate(1500), b);
  EXPECT_EQ(pool.allocations(), 2u);  // the reuses did not count
  pool.Release(a, 30);
  pool.Release(b, 1500);
}

TEST(ShardPool, TrimKeepsAtMostWhatItIsAskedTo) {
  ShardPool pool;
  std::vector<uint8_t*> small, big;
  for (int i = 0; i < 10; ++i) small.push_back(pool.Allocate(100));  // 104 each
  for (int i = 0; i < 3; ++i) big.push_back(pool.Allocate(1000));    // 1016 each
  for (uint8_t* p : small) pool.Release(p, 100);
  for (uint8_t* p : big) pool.Release(p, 1000);
  EXPECT_EQ(pool.bytes_free(), 10 * 104u + 3 * 1016u);
  pool.Trim(2100);  // largest first: two big blocks go
  EXPECT_EQ(pool.bytes_free(), 10 * 104u + 1016u);
  pool.Trim(500);
  EXPECT_LE(pool.bytes_free(), 500u);
  EXPECT_EQ(pool.bytes_free() % 104, 0u);  // only small blocks left
  pool.Trim(0);
  EXPECT_EQ(pool.bytes_free(), 0u);
  EXPECT_EQ(pool.bytes_reserved(), 0u);
  // Blocks in use are never touched by Trim.
  uint8_t* p = pool.Allocate(50);
  pool.Trim(0);
  EXPECT_EQ(pool.bytes_in_use(), 56u);
  pool.Release(p, 50);
}

// A group's worth of data packets through an encoder (KCP bytes of `kcp`
// bytes each); returns the parity count emitted by the last one.
int FillGroup(FecEncoder& enc, size_t kcp, ParitySink& sink) {
  std::vector<uint8_t> buf(8 + kcp, 0x5A);
  int parity = 0;
  for (int i = 0; i < enc.data_shards(); ++i) {
    auto r = enc.Encode(absl::MakeSpan(buf), 0, sink);
    EXPECT_TRUE(r.ok());
    parity = *r;
  }
  return parity;
}

class BufferSink : public ParitySink {
 public:
  bool AcquireParityBuffers(size_t size, absl::Span<absl::Span<uint8_t>> buffers) override {
    bufs_.resize(buffers.size());
    for (size_t i = 0; i < buffers.size(); ++i) {
      bufs_[i].resize(size);
      buffers[i] = absl::MakeSpan(bufs_[i]);
    }
    return true;
  }
  void EmitParity(absl::Span<uint8_t>) override {}

 private:
  std::vector<std::vector<uint8_t>> bufs_;
};

TEST(ShardPool, EncodersAndDecodersOfOneCodeShareOneCodec) {
  ShardPool pool;
  FecEncoderOptions eo;
  eo.pool = &pool;
  FecDecoderOptions dopt;
  dopt.pool = &pool;
  {
    std::vector<FecEncoder> encoders;
    std::vector<FecDecoder> decoders;
    for (int i = 0; i < 50; ++i) {
      encoders.push_back(*FecEncoder::Create(eo));
      decoders.push_back(*FecDecoder::Create(dopt));
    }
    EXPECT_EQ(pool.codecs(), 1u);  // 10+3 for all of them
    eo.data_shards = 3;
    eo.parity_shards = 2;
    encoders.push_back(*FecEncoder::Create(eo));
    EXPECT_EQ(pool.codecs(), 2u);
    pool.Trim(0);  // all in use: kept
    EXPECT_EQ(pool.codecs(), 2u);
    BufferSink sink;
    EXPECT_EQ(FillGroup(encoders.back(), 100, sink), 2);
    // A codec's own memory: its 40-byte instance and nothing else until a
    // decoder recovers something (no per-session matrix, no cache).
    EXPECT_LT(pool.codec_bytes(), 256u);
  }
  EXPECT_EQ(pool.codecs(), 2u);  // unused, until trimmed
  pool.Trim(1 << 20);
  EXPECT_EQ(pool.codecs(), 0u);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
}

TEST(ShardPool, ReedSolomonInstancesShareTheEncodingMatrix) {
  auto a = ReedSolomon::Create(10, 3);
  auto b = ReedSolomon::Create(10, 3, ReedSolomon::CacheLimits{4, 4096});
  auto c = ReedSolomon::Create(3, 2);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(internal::ReedSolomonPeer::CodeIdentity(*a),
            internal::ReedSolomonPeer::CodeIdentity(*b));
  EXPECT_NE(internal::ReedSolomonPeer::CodeIdentity(*a),
            internal::ReedSolomonPeer::CodeIdentity(*c));
  EXPECT_GT(a->code_bytes(), 1000u);
  EXPECT_EQ(a->cache_stats().bytes, 0u);  // no cache before the first reconstruction
}

// The idle footprints the headers promise (LP64).
TEST(ShardPool, IdleObjectsAreAsSmallAsDocumented) {
  EXPECT_LE(sizeof(ReedSolomon), 40u);
  EXPECT_LE(sizeof(FecEncoder), 168u);
  EXPECT_LE(sizeof(FecDecoder), 1776u);
}

}  // namespace
}  // namespace kcpp::fec
