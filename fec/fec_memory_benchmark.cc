// Heap bytes per session of the FEC layer (bench/README.md "fec"): an
// encoder and a decoder per session, 10+3, a 20-byte crypt header, 5000
// sessions on one ShardPool (one event loop), in the states a server's
// sessions are in:
//
//   idle   whole groups sent and received, nothing pending (a session
//          between messages);
//   light  one message a second: the encoder holds a partial group of 5
//          small datagrams (ACK-only and one-segment PUSH, 24-64 KCP bytes),
//          the decoder as many of the peer's;
//   bulk   bulk transfer, an average moment: the encoder holds 5 full
//          1400-byte datagrams, the decoder 5 of the peer's (no loss);
//   busy   bulk transfer, worst moment: the encoder holds 9 full 1400-byte
//          datagrams, the decoder 4 groups of 9 (the most it ever holds for
//          10+3 before a group completes);
//   hostile  a peer flooding shards of never-completing groups, for the
//          configured code (what the decoder can be made to hold).
//
// Bytes are what operator new handed out and did not get back (malloc's
// usable size of each block, plus 8 bytes of glibc chunk header), counted by
// a replacement operator new in this binary, divided by the number of
// sessions; the sessions' objects themselves are in a vector allocated in
// the measured interval, so sizeof(FecEncoder) + sizeof(FecDecoder) are
// included, and so is the one shared 10+3 codec instance (40 bytes for all).
// The pool's free blocks and scratch (per thread, not per session) are
// reported separately as pool_free_bytes. held_per_session is what the
// encoder and decoder report holding in the pool (held_bytes()).
//
//   bazel run --config=opt //fec:fec_memory_benchmark
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "benchmark/benchmark.h"
#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "fec/internal/test_util.h"
#include "fec/shard_pool.h"

namespace {
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_allocations{0};
constexpr size_t kChunkHeader = 8;  // glibc malloc, x86-64
}  // namespace

void* operator new(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) std::abort();
  g_live_bytes.fetch_add(malloc_usable_size(p) + kChunkHeader, std::memory_order_relaxed);
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(malloc_usable_size(p) + kChunkHeader, std::memory_order_relaxed);
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

namespace kcpp::fec {
namespace {

constexpr int kSessions = 5000;
constexpr size_t kCrypt = 20;

enum class State { kIdle, kLight, kBulk, kBusy, kHostile };

struct Session {
  FecEncoder enc;
  FecDecoder dec;
};

// Data packets (FEC layer, after the crypt header) that a peer encoder sends
// for `n` datagrams of `kcp` KCP bytes each, with their parity.
std::vector<std::vector<uint8_t>> PeerPackets(int n, size_t kcp) {
  FecEncoderOptions o;
  auto enc = FecEncoder::Create(o);
  testing::CollectingParitySink sink;
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> buf(8 + kcp, 0x42);
    sink.emitted.clear();
    if (!enc->Encode(absl::MakeSpan(buf), 0, sink).ok()) std::abort();
    out.push_back(buf);
    for (auto& p : sink.emitted) out.push_back(p);
  }
  return out;
}

void BM_SessionMemory(benchmark::State& state) {
  const State which = static_cast<State>(state.range(0));
  // Traffic prepared outside the measured interval.
  std::vector<std::vector<uint8_t>> inbound;
  std::vector<size_t> outbound;  // KCP bytes of each datagram the session sends
  switch (which) {
    case State::kIdle:
      inbound = PeerPackets(20, 40);
      for (int i = 0; i < 20; ++i) outbound.push_back(40);
      break;
    case State::kLight:
      inbound = PeerPackets(5, 24);
      for (size_t k : {24, 64, 24, 64, 24}) outbound.push_back(k);
      break;
    case State::kBulk:
      inbound = PeerPackets(5, 1400 - kCrypt - 8);
      for (int i = 0; i < 5; ++i) outbound.push_back(1400 - kCrypt - 8);
      break;
    case State::kBusy: {
      // Four groups of the peer's, nine data packets each (lost the rest).
      for (const auto& p : PeerPackets(40, 1400 - kCrypt - 8)) {
        const uint32_t seqid = LoadLe32(p.data());
        if (seqid % 13 < 9) inbound.push_back(p);
      }
      for (int i = 0; i < 9; ++i) outbound.push_back(1400 - kCrypt - 8);
      break;
    }
    case State::kHostile:
      for (uint32_t g = 0; g < 4; ++g) {
        for (uint32_t pos = 0; pos < 9; ++pos) {
          std::vector<uint8_t> p(kMtuLimit, 0x66);  // longest stored shard
          StoreLe32(p.data(), g * 13 + pos);
          StoreLe16(&p[4], kFlagData);
          inbound.push_back(p);
        }
      }
      break;
  }
  std::vector<uint8_t> buf(kMtuLimit);
  testing::DiscardingParitySink sink(kMtuLimit);
  for (auto _ : state) {
    ShardPool pool;
    const int64_t before = g_live_bytes.load();
    const int64_t allocs_before = g_allocations.load();
    std::vector<Session> sessions;
    sessions.reserve(kSessions);
    FecEncoderOptions eo;
    eo.header_offset = kCrypt;
    eo.pool = &pool;
    FecDecoderOptions dopt;
    dopt.pool = &pool;
    for (int s = 0; s < kSessions; ++s) {
      sessions.push_back(Session{*FecEncoder::Create(eo), *FecDecoder::Create(dopt)});
      Session& x = sessions.back();
      for (size_t kcp : outbound) {
        if (!x.enc.Encode(absl::MakeSpan(buf.data(), kCrypt + 8 + kcp), 0, sink).ok()) {
          std::abort();
        }
      }
      for (const auto& p : inbound) x.dec.Decode(p);
    }
    size_t held = 0;
    for (const Session& x : sessions) held += x.enc.held_bytes() + x.dec.held_bytes();
    const int64_t with_pool = g_live_bytes.load() - before;
    pool.Trim(0);  // the pool's free blocks and scratch: per thread, not per session
    const int64_t sessions_only = g_live_bytes.load() - before;
    state.counters["bytes_per_session"] = double(sessions_only) / kSessions;
    state.counters["held_per_session"] = double(held) / kSessions;
    state.counters["pool_free_bytes"] = double(with_pool - sessions_only);
    state.counters["allocs_per_session"] = double(g_allocations.load() - allocs_before) / kSessions;
  }
}
BENCHMARK(BM_SessionMemory)
    ->ArgName("state")
    ->Arg(static_cast<int>(State::kIdle))
    ->Arg(static_cast<int>(State::kLight))
    ->Arg(static_cast<int>(State::kBulk))
    ->Arg(static_cast<int>(State::kBusy))
    ->Arg(static_cast<int>(State::kHostile))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kcpp::fec
