// Reed-Solomon and FEC-layer benchmarks (bench/README.md "fec").
//
// 10+3 encode and reconstruct (1 and 3 data shards lost) at 1400 B and 64 KiB
// shards, one core, through kcpp and through Intel ISA-L (libisal, same
// GF(2^8)/0x11D field, fed kcp-go's encoding matrix so both compute the same
// bytes; checked before timing). ISA-L reconstructs with decode tables built
// once, outside the loop; kcpp's Reconstruct includes its cache lookup.
// "data_rate" is data bytes (10 x shard size) per second, 10^9 = G.
//
// Also: every region kernel of every compiled Highway target on the 10+3
// encode, and the FEC packet layer per packet.
//
//   bazel run --config=opt //fec:fec_benchmark
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "fec/internal/gf_kernels.h"
#include "fec/internal/gf_matrix.h"
#include "fec/internal/test_util.h"
#include "fec/reed_solomon.h"
#include "fec/shard_pool.h"
#include "isa-l/erasure_code.h"

namespace kcpp::fec {
namespace {

constexpr int kData = 10;
constexpr int kParity = 3;
constexpr int kTotal = kData + kParity;

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

// kTotal shards of `size` bytes, 64-byte aligned, data random.
struct ShardSet {
  std::vector<std::unique_ptr<uint8_t, AlignedFree>> bufs;
  std::vector<uint8_t*> ptrs;
  explicit ShardSet(size_t size) {
    std::mt19937 rng(1);
    for (int i = 0; i < kTotal; ++i) {
      auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
      for (size_t j = 0; j < size; ++j) p[j] = static_cast<uint8_t>(rng());
      bufs.emplace_back(p);
      ptrs.push_back(p);
    }
  }
  std::vector<const uint8_t*> data() const { return {ptrs.begin(), ptrs.begin() + kData}; }
};

void SetRate(benchmark::State& state, size_t shard) {
  state.counters["data_rate"] =
      benchmark::Counter(double(state.iterations()) * kData * shard, benchmark::Counter::kIsRate,
                         benchmark::Counter::OneK::kIs1000);
}

ReedSolomon MakeCodec() {
  auto rs = ReedSolomon::Create(kData, kParity);
  if (!rs.ok()) std::abort();
  return std::move(*rs);
}

void BM_KcppEncode(benchmark::State& state) {
  const size_t shard = state.range(0);
  ReedSolomon rs = MakeCodec();
  ShardSet s(shard);
  const std::vector<const uint8_t*> data = s.data();
  absl::Span<uint8_t* const> parity = absl::MakeSpan(s.ptrs).subspan(kData);
  for (auto _ : state) {
    if (!rs.Encode(data, parity, shard).ok()) std::abort();
    benchmark::DoNotOptimize(s.ptrs[kData][0]);
  }
  SetRate(state, shard);
  state.SetLabel(std::string(rs.kernel_name()));
}

void BM_KcppReconstruct(benchmark::State& state) {
  const size_t shard = state.range(0);
  const int lost = state.range(1);
  ReedSolomon rs = MakeCodec();
  ShardSet s(shard);
  if (!rs.Encode(s.data(), absl::MakeSpan(s.ptrs).subspan(kData), shard).ok()) std::abort();
  std::vector<uint8_t> want(s.ptrs[0], s.ptrs[0] + shard);
  ShardMask present;
  for (int i = lost; i < kTotal; ++i) present.set(i);
  for (auto _ : state) {
    if (!rs.ReconstructData(s.ptrs, present, shard).ok()) std::abort();
    benchmark::DoNotOptimize(s.ptrs[0][0]);
  }
  if (memcmp(want.data(), s.ptrs[0], shard) != 0) std::abort();
  SetRate(state, shard);
  state.SetLabel(std::string(rs.kernel_name()));
}

// ISA-L with the same matrix.
void BM_IsalEncode(benchmark::State& state) {
  const size_t shard = state.range(0);
  ReedSolomon rs = MakeCodec();
  std::vector<uint8_t> coef(kParity * kData);
  for (int p = 0; p < kParity; ++p) {
    for (int c = 0; c < kData; ++c) coef[p * kData + c] = rs.matrix(kData + p, c);
  }
  std::vector<uint8_t> tables(32 * kData * kParity);
  ec_init_tables(kData, kParity, coef.data(), tables.data());
  ShardSet s(shard);
  ShardSet check(shard);
  for (int i = 0; i < kData; ++i) memcpy(check.ptrs[i], s.ptrs[i], shard);
  if (!rs.Encode(check.data(), absl::MakeSpan(check.ptrs).subspan(kData), shard).ok()) std::abort();
  for (auto _ : state) {
    ec_encode_data(int(shard), kData, kParity, tables.data(), s.ptrs.data(), &s.ptrs[kData]);
    benchmark::DoNotOptimize(s.ptrs[kData][0]);
  }
  for (int p = kData; p < kTotal; ++p) {
    if (memcmp(s.ptrs[p], check.ptrs[p], shard) != 0) std::abort();  // same bytes as kcpp
  }
  SetRate(state, shard);
}

void BM_IsalReconstruct(benchmark::State& state) {
  const size_t shard = state.range(0);
  const int lost = state.range(1);
  ReedSolomon rs = MakeCodec();
  ShardSet s(shard);
  if (!rs.Encode(s.data(), absl::MakeSpan(s.ptrs).subspan(kData), shard).ok()) std::abort();
  std::vector<uint8_t> want(s.ptrs[0], s.ptrs[0] + shard);
  // Decode rows: inverse of the rows of the first kData surviving shards.
  internal::GfMatrix sub(kData, kData);
  std::vector<uint8_t*> in;
  for (int i = lost; i < lost + kData; ++i) {
    for (int c = 0; c < kData; ++c) sub.at(i - lost, c) = rs.matrix(i, c);
    in.push_back(s.ptrs[i]);
  }
  internal::GfMatrix inv;
  if (!sub.Invert(&inv)) std::abort();
  std::vector<uint8_t> coef;
  for (int r = 0; r < lost; ++r) coef.insert(coef.end(), inv.row(r), inv.row(r) + kData);
  std::vector<uint8_t> tables(32 * kData * lost);
  ec_init_tables(kData, lost, coef.data(), tables.data());
  for (auto _ : state) {
    ec_encode_data(int(shard), kData, lost, tables.data(), in.data(), s.ptrs.data());
    benchmark::DoNotOptimize(s.ptrs[0][0]);
  }
  if (memcmp(want.data(), s.ptrs[0], shard) != 0) std::abort();
  SetRate(state, shard);
}

BENCHMARK(BM_KcppEncode)->Arg(1400)->Arg(65536);
BENCHMARK(BM_IsalEncode)->Arg(1400)->Arg(65536);
BENCHMARK(BM_KcppReconstruct)->Args({1400, 1})->Args({1400, 3})->Args({65536, 1})->Args({65536, 3});
BENCHMARK(BM_IsalReconstruct)->Args({1400, 1})->Args({1400, 3})->Args({65536, 1})->Args({65536, 3});

// Every kernel on the 10+3 x 1400 B encode.
void BM_KernelEncode(benchmark::State& state, internal::MulRegionsFn fn) {
  const size_t shard = state.range(0);
  ReedSolomon rs = MakeCodec();
  std::vector<uint8_t> coef(kParity * kData);
  for (int p = 0; p < kParity; ++p) {
    for (int c = 0; c < kData; ++c) coef[p * kData + c] = rs.matrix(kData + p, c);
  }
  internal::KernelMatrix m;
  m.Assign(kParity, kData, coef.data());
  ShardSet s(shard);
  for (auto _ : state) {
    fn(m, s.ptrs.data(), &s.ptrs[kData], shard);
    benchmark::DoNotOptimize(s.ptrs[kData][0]);
  }
  SetRate(state, shard);
}

const bool kKernelsRegistered = [] {
  for (const internal::KernelChoice& k : internal::AllKernelsForTesting()) {
    benchmark::RegisterBenchmark(("BM_KernelEncode/" + k.name).c_str(), BM_KernelEncode, k.fn)
        ->Arg(1400);
  }
  return true;
}();

// FEC layer, per packet: 10+3, datagrams with a 20-byte crypt header, on a
// ShardPool shared the way an event loop shares it (here by one session),
// parity written into sink buffers. Datagram sizes: range(0) bytes, or 0 =
// a mix of full, small and ACK-only datagrams (kMixedSizes), so blocks of
// different classes meet in one group.
constexpr size_t kMixedSizes[] = {1400, 52, 92, 1400, 52, 52, 700, 1400, 92, 52, 1400, 300, 52};

size_t DatagramSize(int64_t arg, size_t i) {
  return arg != 0 ? size_t(arg) : kMixedSizes[i % (sizeof(kMixedSizes) / sizeof(kMixedSizes[0]))];
}

void BM_FecEncoderPerPacket(benchmark::State& state) {
  ShardPool pool;
  FecEncoderOptions o;
  o.header_offset = 20;
  o.pool = state.range(1) ? nullptr : &pool;
  auto enc = FecEncoder::Create(o);
  if (!enc.ok()) std::abort();
  testing::DiscardingParitySink sink(kMtuLimit);
  std::vector<uint8_t> pkt(1400, 0x42);
  size_t i = 0, kcp_bytes = 0;
  for (auto _ : state) {
    const size_t size = DatagramSize(state.range(0), i++);
    if (!enc->Encode(absl::MakeSpan(pkt.data(), size), 0, sink).ok()) std::abort();
    kcp_bytes += size - 28;
  }
  state.counters["packets"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["kcp_rate"] = benchmark::Counter(double(kcp_bytes), benchmark::Counter::kIsRate,
                                                  benchmark::Counter::OneK::kIs1000);
  if (state.range(1)) state.SetLabel("private pool");
}
BENCHMARK(BM_FecEncoderPerPacket)
    ->ArgNames({"size", "private"})
    ->Args({1400, 0})
    ->Args({64, 0})
    ->Args({0, 0})
    ->Args({1400, 1});

// Decoder over a 10+3 stream (FEC-layer packets: datagram sizes as above
// minus the crypt header) losing `lost` data packets per group (0: plain
// pass-through and shard copies).
void BM_FecDecoderPerPacket(benchmark::State& state) {
  const int lost = state.range(0);
  FecEncoderOptions o;
  auto enc = FecEncoder::Create(o);
  if (!enc.ok()) std::abort();
  testing::CollectingParitySink sink;
  std::vector<std::vector<uint8_t>> stream;
  const int kGroups = 64;
  for (int i = 0; i < kGroups * kData; ++i) {
    std::vector<uint8_t> pkt(DatagramSize(state.range(1), i) - 20);
    for (size_t j = 8; j < pkt.size(); ++j) pkt[j] = static_cast<uint8_t>(i * 7 + j);
    sink.emitted.clear();
    if (!enc->Encode(absl::MakeSpan(pkt), 0, sink).ok()) std::abort();
    if (i % kData >= lost) stream.push_back(pkt);
    for (auto& p : sink.emitted) stream.push_back(p);
  }
  ShardPool pool;
  FecDecoderOptions d;
  d.pool = state.range(2) ? nullptr : &pool;
  auto dec = FecDecoder::Create(d);
  if (!dec.ok()) std::abort();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dec->Decode(stream[i]).recovered.size());
    if (++i == stream.size()) {
      // Next pass: later seqids (not covered by parity, so it stays valid).
      i = 0;
      for (auto& p : stream) StoreLe32(p.data(), LoadLe32(p.data()) + kGroups * kTotal);
    }
  }
  state.counters["packets"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::to_string(dec->counters().recovered) + " recovered" +
                 (state.range(2) ? ", private pool" : ""));
}
BENCHMARK(BM_FecDecoderPerPacket)
    ->ArgNames({"lost", "size", "private"})
    ->Args({0, 1400, 0})
    ->Args({1, 1400, 0})
    ->Args({3, 1400, 0})
    ->Args({0, 0, 0})
    ->Args({1, 0, 0})
    ->Args({1, 1400, 1});

}  // namespace
}  // namespace kcpp::fec
