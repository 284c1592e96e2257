// smux frame and session throughput (docs/protocol.md §6.2).
//   BM_HeaderEncode / BM_HeaderDecodeValidate: the 8-byte codec, frames/s.
//   BM_Write/<payload>: Session::Write of one frame's worth + output drain
//     (frame encode path), MB/s of payload.
//   BM_Feed/<payload>/<version>: Session::Feed of a prepared stream of PSH
//     frames into a handler that consumes at once (frame parse path, with
//     v2's UPDs generated), MB/s of payload.
//   BM_Pair/<version>: two sessions back to back, one stream, 32 KiB writes:
//     Write -> output -> Feed -> copy out + Consume (-> UPD -> Feed), MB/s.
//     Comparable with go_smux_bench.go (xtaci/smux over an in-memory pipe):
//     both copy the payload into the framed output and out to the reader.
// Rates are per CPU-second of the process (Google Benchmark's default), the
// same unit go_smux_bench.go reports next to its wall-clock figure.
// Run: bazel run --config=opt //smux:smux_benchmark
#include <cstdint>
#include <cstring>
#include <vector>

#include "benchmark/benchmark.h"
#include "smux/session.h"

namespace kcpp::smux {
namespace {

class Sink : public SessionHandler {
 public:
  Session* session = nullptr;
  uint64_t bytes = 0;
  // When set, payload is copied out as an application's read would.
  uint8_t* copy_to = nullptr;
  void OnStreamOpened(StreamId id) override { session->AcceptStream(id).IgnoreError(); }
  void OnStreamData(StreamId id, absl::Span<const uint8_t> d) override {
    bytes += d.size();
    if (copy_to != nullptr) std::memcpy(copy_to, d.data(), d.size());
    session->Consume(id, d.size()).IgnoreError();
  }
  void OnStreamFin(StreamId) override {}
  void OnSessionClosed(const absl::Status&) override {}
};

void BM_HeaderEncode(benchmark::State& state) {
  uint8_t buf[kFrameHeaderSize * 64];
  uint32_t sid = 3;
  for (auto _ : state) {
    for (int i = 0; i < 64; ++i) {
      EncodeFrameHeader({2, kCmdPsh, 32768, sid++}, buf + i * kFrameHeaderSize);
    }
    benchmark::DoNotOptimize(buf);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_HeaderEncode);

void BM_HeaderDecodeValidate(benchmark::State& state) {
  uint8_t buf[kFrameHeaderSize * 64];
  for (int i = 0; i < 64; ++i) {
    EncodeFrameHeader({2, static_cast<uint8_t>(i % 4), static_cast<uint16_t>(i % 4 == 2 ? 100 : 0),
                       static_cast<uint32_t>(i)},
                      buf + i * kFrameHeaderSize);
  }
  for (auto _ : state) {
    int ok = 0;
    for (int i = 0; i < 64; ++i) {
      ok += ValidateFrameHeader(DecodeFrameHeader(buf + i * kFrameHeaderSize), 2).ok();
    }
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_HeaderDecodeValidate);

void BM_Write(benchmark::State& state) {
  const size_t payload = state.range(0);
  Config c;
  c.max_frame_size = 65535;
  Sink sink;
  auto s = std::move(*Session::Create(Role::kClient, c, &sink, 0));
  const StreamId id = *s->OpenStream();
  std::vector<uint8_t> data(payload, 0x61);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->Write(id, data).ok());
    benchmark::DoNotOptimize(s->output().data());
    s->ConsumeOutput(s->output().size());
  }
  state.SetBytesProcessed(state.iterations() * payload);
}
BENCHMARK(BM_Write)->Arg(64)->Arg(1024)->Arg(8192)->Arg(32768);

void BM_Feed(benchmark::State& state) {
  const size_t payload = state.range(0);
  Config c;
  c.version = static_cast<int>(state.range(1));
  Sink sink;
  auto s = std::move(*Session::Create(Role::kServer, c, &sink, 0));
  sink.session = s.get();
  std::vector<uint8_t> syn(kFrameHeaderSize);
  EncodeFrameHeader({static_cast<uint8_t>(c.version), kCmdSyn, 0, 3}, syn.data());
  s->Feed(syn);
  std::vector<uint8_t> wire;
  const size_t frames = std::max<size_t>(1, (1 << 20) / payload);
  for (size_t i = 0; i < frames; ++i) {
    uint8_t h[kFrameHeaderSize];
    EncodeFrameHeader({static_cast<uint8_t>(c.version), kCmdPsh, static_cast<uint16_t>(payload), 3},
                      h);
    wire.insert(wire.end(), h, h + kFrameHeaderSize);
    wire.insert(wire.end(), payload, 0x62);
  }
  for (auto _ : state) {
    if (s->Feed(wire) != wire.size()) state.SkipWithError("feed stopped");
    s->ConsumeOutput(s->output().size());  // v2 UPDs
  }
  state.SetBytesProcessed(state.iterations() * frames * payload);
  state.SetItemsProcessed(state.iterations() * frames);
}
BENCHMARK(BM_Feed)
    ->Args({64, 1})
    ->Args({1024, 1})
    ->Args({8192, 1})
    ->Args({32768, 1})
    ->Args({1024, 2})
    ->Args({32768, 2});

void BM_Pair(benchmark::State& state) {
  Config c;
  c.version = static_cast<int>(state.range(0));
  Sink cs, ss;
  auto client = std::move(*Session::Create(Role::kClient, c, &cs, 0));
  auto server = std::move(*Session::Create(Role::kServer, c, &ss, 0));
  cs.session = client.get();
  ss.session = server.get();
  std::vector<uint8_t> read_buffer(65536);
  ss.copy_to = read_buffer.data();
  const StreamId id = *client->OpenStream();
  std::vector<uint8_t> data(32768, 0x63);
  for (auto _ : state) {
    size_t off = 0;
    while (off < data.size()) {
      off += *client->Write(id, absl::MakeConstSpan(data).subspan(off));
      server->Feed(client->output());
      client->ConsumeOutput(client->output().size());
      client->Feed(server->output());
      server->ConsumeOutput(server->output().size());
    }
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_Pair)->Arg(1)->Arg(2);

}  // namespace
}  // namespace kcpp::smux
