// Hot paths allocate nothing once warm: FecEncoder::Encode (parity included),
// FecDecoder::Decode (recovery included, once the loss patterns have been
// seen) on a shared ShardPool, ReedSolomon Encode/Verify/ReconstructData.
// And without a pool, an encoder or decoder gives its memory back to the
// allocator whenever it holds no shard. Counted with a replacement global
// operator new/delete in this binary.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "fec/internal/test_util.h"
#include "fec/reed_solomon.h"
#include "fec/shard_pool.h"
#include "gtest/gtest.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_frees{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  if (p != nullptr) g_frees.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

namespace kcpp::fec {
namespace {

// A sink that keeps the parity packets of the current group in fixed
// buffers, so the test can deliver them.
struct FixedSink : ParitySink {
  std::vector<std::vector<uint8_t>> bufs = std::vector<std::vector<uint8_t>>(3);
  std::vector<absl::Span<uint8_t>> ready;
  FixedSink() {
    for (auto& b : bufs) b.resize(1500);
    ready.reserve(3);
  }
  bool AcquireParityBuffers(size_t, absl::Span<absl::Span<uint8_t>> out) override {
    for (size_t i = 0; i < out.size(); ++i) out[i] = absl::MakeSpan(bufs[i]);
    return true;
  }
  void EmitParity(absl::Span<uint8_t> packet) override { ready.push_back(packet); }
};

uint64_t Allocations() { return g_allocations.load(std::memory_order_relaxed); }
// Heap blocks currently allocated through operator new.
int64_t LiveAllocations() {
  return int64_t(g_allocations.load(std::memory_order_relaxed)) -
         int64_t(g_frees.load(std::memory_order_relaxed));
}

// The counter is live (otherwise the zero checks below prove nothing).
TEST(Allocations, CounterSeesAllocations) {
  const uint64_t before = Allocations();
  auto v = std::make_unique<std::vector<int>>(100);
  EXPECT_GE(Allocations() - before, 2u);
}

TEST(Allocations, EncoderAndDecoderAllocateNothingOnceWarm) {
  const int ds = 10, ps = 3;
  ShardPool pool;
  FecEncoderOptions eo;
  eo.data_shards = ds;
  eo.parity_shards = ps;
  eo.header_offset = 20;
  eo.pool = &pool;
  auto enc = FecEncoder::Create(eo);
  ASSERT_TRUE(enc.ok());
  FecDecoderOptions dopt;
  dopt.data_shards = ds;
  dopt.parity_shards = ps;
  dopt.pool = &pool;
  auto dec = FecDecoder::Create(dopt);
  ASSERT_TRUE(dec.ok());

  FixedSink sink;

  std::vector<uint8_t> buf(1500);
  uint64_t recovered = 0, before = 0;
  const int kWarmGroups = 3 * ds;
  const int kGroups = kWarmGroups + 200;
  for (int g = 0; g < kGroups; ++g) {
    if (g == kWarmGroups) before = Allocations();
    for (int i = 0; i < ds; ++i) {
      const size_t size = 20 + 8 + 24 + ((g * 131 + i * 71) % 1300);
      absl::Span<uint8_t> pkt(buf.data(), size);
      sink.ready.clear();
      if (!enc->Encode(pkt, 0, sink).ok()) std::abort();
      // Loss pattern repeating every ds groups: data shard g % ds is lost.
      if (i != g % ds) recovered += dec->Decode(pkt.subspan(20)).recovered.size();
      for (absl::Span<uint8_t> p : sink.ready) {
        recovered += dec->Decode(p.subspan(20)).recovered.size();
      }
    }
  }
  const uint64_t during = Allocations() - before;
  EXPECT_EQ(during, 0u) << "allocations in " << kGroups - kWarmGroups << " warm groups";
  EXPECT_EQ(recovered, uint64_t(kGroups));  // one lost packet back per group
  EXPECT_EQ(dec->counters().recovered, uint64_t(kGroups));
  EXPECT_EQ(enc->counters().parity_packets, uint64_t(kGroups) * ps);
}

// Many light sessions on one pool (what an event loop does): small datagrams,
// groups completing at different times, a loss now and then. The traffic
// repeats every 510 rounds (sizes every 10, rates every 3, losses every 17;
// 340 packets per session per period, whole groups), so after two periods
// the pool has seen its largest working set of every size class.
TEST(Allocations, ManySmallSessionsOnOnePoolAllocateNothingOnceWarm) {
  const int kSessions = 64;
  ShardPool pool;
  FecEncoderOptions eo;
  eo.pool = &pool;
  FecDecoderOptions dopt;
  dopt.pool = &pool;
  std::vector<FecEncoder> encoders;
  std::vector<FecDecoder> decoders;
  encoders.reserve(kSessions);
  decoders.reserve(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    encoders.push_back(*FecEncoder::Create(eo));
    decoders.push_back(*FecDecoder::Create(dopt));
  }
  FixedSink sink;
  std::vector<uint8_t> buf(1500);
  uint64_t recovered = 0, before = 0;
  const int kWarmRounds = 2 * 510, kRounds = kWarmRounds + 2 * 510;
  for (int round = 0; round < kRounds; ++round) {
    if (round == kWarmRounds) before = Allocations();
    for (int s = 0; s < kSessions; ++s) {
      if ((round + s) % 3 == 0) continue;  // sessions send at different rates
      // ACK-only (24 bytes), a small message (24 + 40) or a full segment.
      const int kind = (round * 7 + s) % 10;
      const size_t kcp = kind < 6 ? 24 : kind < 9 ? 64 : 1372;
      absl::Span<uint8_t> pkt(buf.data(), 8 + kcp);
      sink.ready.clear();
      if (!encoders[s].Encode(pkt, 0, sink).ok()) std::abort();
      if ((round * 13 + s) % 17 != 0) recovered += decoders[s].Decode(pkt).recovered.size();
      for (absl::Span<uint8_t> p : sink.ready) recovered += decoders[s].Decode(p).recovered.size();
    }
  }
  EXPECT_EQ(Allocations() - before, 0u);
  EXPECT_GT(recovered, 100u);
}

// Without a pool the memory goes back once the group is done.
TEST(Allocations, PrivatePoolsGiveMemoryBackWhenNoShardIsHeld) {
  FecEncoderOptions eo;
  eo.data_shards = 3;
  eo.parity_shards = 2;
  FecDecoderOptions dopt;
  dopt.data_shards = 3;
  dopt.parity_shards = 2;
  auto enc = FecEncoder::Create(eo);
  auto dec = FecDecoder::Create(dopt);
  ASSERT_TRUE(enc.ok() && dec.ok());
  testing::CollectingParitySink sink;
  sink.emitted.reserve(2);
  std::vector<std::vector<uint8_t>> packets;
  packets.reserve(5);
  // Group 0 also fills the decoder's decode-matrix cache (kept: bounded).
  int64_t idle = 0;
  for (int group = 0; group < 3; ++group) {
    packets.clear();
    for (int i = 0; i < 3; ++i) {
      std::vector<uint8_t> buf(8 + 30 + 400 * i, uint8_t(i));
      sink.emitted.clear();
      ASSERT_TRUE(enc->Encode(absl::MakeSpan(buf), 0, sink).ok());
      if (i < 2) {
        EXPECT_GT(enc->held_bytes(), 0u);
        EXPECT_GT(LiveAllocations(), idle);
      }
      packets.push_back(buf);
      for (auto& p : sink.emitted) packets.push_back(p);
    }
    ASSERT_EQ(packets.size(), 5u);
    EXPECT_EQ(enc->held_bytes(), 0u);
    // Lose data packet 1: recovered from parity.
    EXPECT_TRUE(dec->Decode(packets[0]).recovered.empty());
    EXPECT_GT(dec->held_bytes(), 0u);
    EXPECT_TRUE(dec->Decode(packets[2]).recovered.empty());
    const FecDecoder::Result r = dec->Decode(packets[3]);
    ASSERT_EQ(r.recovered.size(), 1u);
    EXPECT_EQ(r.recovered[0].size(), 30u + 400);
    EXPECT_EQ(dec->held_bytes(), 0u);
    // The recovered packet lives in the private pool's scratch until the
    // next call, which (holding nothing) gives it back.
    dec->Decode(packets[4]);  // late parity
    sink.emitted.clear();
    sink.emitted.shrink_to_fit();
    sink.emitted.reserve(2);
    packets.clear();
    if (group > 0) EXPECT_EQ(LiveAllocations(), idle) << "group " << group;
    idle = LiveAllocations();
  }
}

TEST(Allocations, ReedSolomonAllocatesNothingOnceWarm) {
  auto rs = ReedSolomon::Create(10, 3);
  ASSERT_TRUE(rs.ok());
  std::vector<std::vector<uint8_t>> shards(13, std::vector<uint8_t>(1400, 1));
  std::vector<uint8_t*> p;
  for (auto& s : shards) p.push_back(s.data());
  std::vector<const uint8_t*> data(p.begin(), p.begin() + 10);
  std::vector<const uint8_t*> all(p.begin(), p.end());
  absl::Span<uint8_t* const> parity = absl::MakeSpan(p).subspan(10);
  ShardMask present;
  for (int i = 1; i < 13; ++i) present.set(i);
  ASSERT_TRUE(rs->ReconstructData(p, present, 1400).ok());  // warms the cache
  const uint64_t before = Allocations();
  for (int i = 0; i < 100; ++i) {
    if (!rs->Encode(data, parity, 1400).ok()) std::abort();
    if (!rs->ReconstructData(p, present, 1400).ok()) std::abort();
    if (!rs->Verify(all, 1400).value()) std::abort();
  }
  EXPECT_EQ(Allocations() - before, 0u);
}

}  // namespace
}  // namespace kcpp::fec
