// Throughput of the snappy framing layer (kcptun's compression, docs/protocol.md
// §6.1), shaped like kcptun's use: one Write + Flush per smux frame.
//   BM_Encode/<frame bytes>/<data>: FramingEncoder, MB/s of input.
//   BM_Decode/<frame bytes>/<data>: FramingDecoder over the framed stream,
//     MB/s of decoded output.
//   BM_Crc32c/<bytes>: CRC-32C (ISA-L) of 1 KiB and 64 KiB.
// data: 0 = text-like (compressible), 1 = random (stored chunks). The same
// generators are in go_snappy_bench.go, which measures golang/snappy.
// Run: bazel run --config=opt //snappy:framing_benchmark
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "snappy/framing.h"
#include "snappy/internal/crc32c.h"

namespace kcpp::snappy_framing {
namespace {

// x = x*1103515245 + 12345 (mod 2^32), as in go_snappy_bench.go.
std::vector<uint8_t> MakeData(size_t n, int kind) {
  static const char* kWords[] = {"the ",    "kcptun ", "stream ", "of ",
                                 "frames ", "window ", "smux ",   "data\n"};
  std::vector<uint8_t> b;
  b.reserve(n + 16);
  uint32_t x = 1;
  while (b.size() < n) {
    x = x * 1103515245u + 12345u;
    if (kind == 0) {
      for (const char* w = kWords[(x >> 16) % 8]; *w; ++w) b.push_back(static_cast<uint8_t>(*w));
    } else {
      b.push_back(static_cast<uint8_t>(x >> 24));
    }
  }
  b.resize(n);
  return b;
}

constexpr size_t kTotal = 4 << 20;

void BM_Encode(benchmark::State& state) {
  const size_t frame = state.range(0);
  const std::vector<uint8_t> data = MakeData(kTotal, state.range(1));
  FramingEncoder enc;
  for (auto _ : state) {
    for (size_t off = 0; off < data.size(); off += frame) {
      enc.Write(absl::MakeConstSpan(data).subspan(off, frame));
      enc.Flush();
      enc.ConsumeOutput(enc.output().size());
    }
  }
  state.SetBytesProcessed(state.iterations() * data.size());
  state.counters["ratio"] =
      static_cast<double>(enc.bytes_out()) / static_cast<double>(enc.bytes_in());
}

void BM_Decode(benchmark::State& state) {
  const size_t frame = state.range(0);
  const std::vector<uint8_t> data = MakeData(kTotal, state.range(1));
  FramingEncoder enc;
  for (size_t off = 0; off < data.size(); off += frame) {
    enc.Write(absl::MakeConstSpan(data).subspan(off, frame));
    enc.Flush();
  }
  const std::vector<uint8_t> framed(enc.output().begin(), enc.output().end());
  for (auto _ : state) {
    FramingDecoder dec;
    absl::Span<const uint8_t> in(framed);
    size_t out = 0;
    while (!in.empty()) {
      auto used = dec.Feed(in);
      if (!used.ok()) state.SkipWithError("decode failed");
      in.remove_prefix(*used);
      out += dec.decoded().size();
      benchmark::DoNotOptimize(dec.decoded().data());
      dec.ConsumeDecoded(dec.decoded().size());
    }
    if (out != data.size()) state.SkipWithError("size mismatch");
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}

void FrameArgs(benchmark::internal::Benchmark* b) {
  for (int kind : {0, 1}) {
    for (int frame : {1024, 8192, 32768, 65536}) b->Args({frame, kind});
  }
}
BENCHMARK(BM_Encode)->Apply(FrameArgs);
BENCHMARK(BM_Decode)->Apply(FrameArgs);

void BM_Crc32c(benchmark::State& state) {
  const std::vector<uint8_t> data = MakeData(static_cast<size_t>(state.range(0)), 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(internal::Crc32c(0, data.data(), data.size()));
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_Crc32c)->Arg(1024)->Arg(65536);

}  // namespace
}  // namespace kcpp::snappy_framing
