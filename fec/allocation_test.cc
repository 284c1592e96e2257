// Hot paths allocate nothing once warm: FecEncoder::Encode (parity included),
// FecDecoder::Decode (recovery included, once the loss patterns have been
// seen), ReedSolomon Encode/Verify/ReconstructData. Counted with a
// replacement global operator new in this binary.
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
#include "gtest/gtest.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace kcpp::fec {
namespace {

uint64_t Allocations() { return g_allocations.load(std::memory_order_relaxed); }

// The counter is live (otherwise the zero checks below prove nothing).
TEST(Allocations, CounterSeesAllocations) {
  const uint64_t before = Allocations();
  auto v = std::make_unique<std::vector<int>>(100);
  EXPECT_GE(Allocations() - before, 2u);
}

TEST(Allocations, EncoderAndDecoderAllocateNothingOnceWarm) {
  const int ds = 10, ps = 3;
  FecEncoderOptions eo;
  eo.data_shards = ds;
  eo.parity_shards = ps;
  eo.header_offset = 20;
  auto enc = FecEncoder::Create(eo);
  ASSERT_TRUE(enc.ok());
  FecDecoderOptions dopt;
  dopt.data_shards = ds;
  dopt.parity_shards = ps;
  auto dec = FecDecoder::Create(dopt);
  ASSERT_TRUE(dec.ok());

  // A sink that keeps the parity packets of the current group in fixed
  // buffers, so the test can deliver them.
  struct Sink : ParitySink {
    std::vector<std::vector<uint8_t>> bufs = std::vector<std::vector<uint8_t>>(3);
    std::vector<absl::Span<uint8_t>> ready;
    Sink() {
      for (auto& b : bufs) b.resize(1500);
      ready.reserve(3);
    }
    bool AcquireParityBuffers(size_t, absl::Span<absl::Span<uint8_t>> out) override {
      for (size_t i = 0; i < out.size(); ++i) out[i] = absl::MakeSpan(bufs[i]);
      return true;
    }
    void EmitParity(absl::Span<uint8_t> packet) override { ready.push_back(packet); }
  } sink;

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
