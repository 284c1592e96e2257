// Benchmarks of the KCP engine (bench/README.md "kcp"). Heap allocations are
// counted by replacing operator new in this binary and reported per
// operation / per segment: the engine promises none once warm.
//
//   bazel run --config=opt //kcp:kcp_benchmark
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "benchmark/benchmark.h"
#include "kcp/kcp.h"

namespace {
std::atomic<uint64_t> g_allocs{0};
}  // namespace

void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace kcpp::kcp {
namespace {

constexpr uint32_t kConv = 0x11223344;

// Wall time in seconds for the manual timings (one call each; the setup
// around it is not measured). A vDSO clock: a thread-CPU clock costs a
// system call per read in this VM, more than what it would measure.
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A sink that recycles a fixed set of buffers and queues emitted datagrams.
class QueueSink : public OutputSink {
 public:
  explicit QueueSink(size_t buffers, size_t size = 1536) : storage_(buffers * size) {
    for (size_t i = 0; i < buffers; ++i) free_.push_back(storage_.data() + i * size);
    size_ = size;
    queue_.reserve(buffers);
  }
  absl::Span<uint8_t> AcquireBuffer() override {
    if (free_.empty()) return {};  // the engine drops the datagram
    uint8_t* b = free_.back();
    free_.pop_back();
    return absl::MakeSpan(b, size_);
  }
  void Emit(absl::Span<uint8_t> buffer, size_t length) override {
    queue_.push_back({buffer.data(), length});
  }
  struct Item {
    uint8_t* buffer;
    size_t length;
  };
  std::vector<Item>& queue() { return queue_; }
  void Recycle(uint8_t* b) { free_.push_back(b); }
  void Drop() {
    for (const Item& i : queue_) free_.push_back(i.buffer);
    queue_.clear();
  }

 private:
  std::vector<uint8_t> storage_;
  std::vector<uint8_t*> free_;
  std::vector<Item> queue_;
  size_t size_;
};

// A sink that overwrites one buffer: output is encoded, then forgotten.
class DiscardSink : public OutputSink {
 public:
  absl::Span<uint8_t> AcquireBuffer() override { return absl::MakeSpan(buf_, sizeof(buf_)); }
  void Emit(absl::Span<uint8_t>, size_t length) override {
    ++datagrams;
    bytes += length;
  }
  uint64_t datagrams = 0, bytes = 0;

 private:
  uint8_t buf_[2048];
};

// kcp-go's BenchmarkFlush (kcp_test.go): 1024 segments in flight, none due,
// one full flush per iteration. Here with real 1-byte payloads, kKcpGo.
void BM_FlushIdle1024InFlight(benchmark::State& state) {
  DiscardSink sink;
  Kcp k(kConv, &sink, Flavor::kKcpGo);
  k.SetNoDelay(0, 100, 0, 1);
  (void)k.SetWindowSize(1024, 1024);
  const uint8_t one[1] = {1};
  // Let the peer window allow 1024 segments.
  {
    uint8_t wins[24];
    SegmentHeader h;
    h.conv = kConv;
    h.cmd = kCmdWins;
    h.wnd = 1024;
    EncodeSegmentHeader(h, wins);
    (void)k.Input(wins, 0);
  }
  for (int i = 0; i < 1024; ++i) k.Send(one);
  k.Flush(0);  // all sent once, resendts = 200
  if (k.WaitSnd() != 1024) state.SkipWithError("setup failed");
  const uint64_t a0 = g_allocs.load();
  for (auto _ : state) benchmark::DoNotOptimize(k.Flush(1));
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(g_allocs.load() - a0) / state.iterations());
  state.counters["sent"] = static_cast<double>(sink.datagrams);
}
BENCHMARK(BM_FlushIdle1024InFlight);

// The same state, but a pending fast-ack count (below the threshold) keeps
// the flush from skipping its scan: every one of the 1024 segments is
// examined, as kcp-go's flush always does. kIkcp with fast resend 1000.
void BM_FlushScan1024InFlight(benchmark::State& state) {
  DiscardSink sink;
  Kcp k(kConv, &sink, Flavor::kIkcp);
  k.SetNoDelay(0, 100, 1000, 1);
  (void)k.SetWindowSize(1024, 1024);
  uint8_t seg[24];
  SegmentHeader h;
  h.conv = kConv;
  h.cmd = kCmdWins;
  h.wnd = 1024;
  EncodeSegmentHeader(h, seg);
  (void)k.Input(seg, 0);
  const uint8_t one[1] = {1};
  for (int i = 0; i < 1024; ++i) k.Send(one);
  k.Update(0);
  // ACK of the last segment: every other one gets fastack 1 (< 1000).
  h.cmd = kCmdAck;
  h.sn = 1023;
  h.ts = 0;
  h.una = 0;
  EncodeSegmentHeader(h, seg);
  (void)k.Input(seg, 0);
  if (k.WaitSnd() != 1023) state.SkipWithError("setup failed");
  const uint64_t a0 = g_allocs.load();
  for (auto _ : state) benchmark::DoNotOptimize(k.Flush(1));
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(g_allocs.load() - a0) / state.iterations());
}
BENCHMARK(BM_FlushScan1024InFlight);

// A full 32-segment window of 1376-byte segments encoded and emitted by one
// flush (timed alone; queueing and acknowledging happen off the clock).
void BM_FlushWindow32(benchmark::State& state) {
  const Flavor flavor = state.range(0) ? Flavor::kKcpGo : Flavor::kIkcp;
  DiscardSink sink;
  Kcp k(kConv, &sink, flavor);
  k.SetNoDelay(1, 10, 2, 1);
  std::vector<uint8_t> seg(1376, 0x5a);
  uint32_t now = 0;
  k.Update(now);
  uint8_t ack[24];
  uint64_t allocs = 0;
  for (auto _ : state) {
    for (int i = 0; i < 32; ++i) k.Send(seg);
    const uint64_t a0 = g_allocs.load();
    const double t0 = Now();
    k.Flush(now);
    const double t1 = Now();
    allocs += g_allocs.load() - a0;
    state.SetIterationTime(t1 - t0);
    SegmentHeader h;  // cumulative ACK of everything sent
    h.conv = kConv;
    h.cmd = kCmdAck;
    h.wnd = 128;
    h.sn = k.snd_nxt() - 1;
    h.ts = now;
    h.una = k.snd_nxt();
    EncodeSegmentHeader(h, ack);
    ++now;
    (void)k.Input(ack, now);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 32 * 1376);
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(allocs) / state.iterations());
}
BENCHMARK(BM_FlushWindow32)->Arg(0)->Arg(1)->ArgName("kcpgo")->UseManualTime();

// Input of one datagram of 58 ACKs (1392 bytes): sn 1..58 of 128 in flight,
// sn 0 lost, so each ACK also does fast-ack counting. Fresh state per
// iteration (built off the clock).
void BM_InputAckDatagram(benchmark::State& state) {
  const Flavor flavor = state.range(0) ? Flavor::kKcpGo : Flavor::kIkcp;
  DiscardSink sink;
  std::vector<uint8_t> dg(58 * 24);
  for (uint32_t i = 0; i < 58; ++i) {
    SegmentHeader h;
    h.conv = kConv;
    h.cmd = kCmdAck;
    h.wnd = 128;
    h.sn = 1 + i;
    h.ts = 0;
    h.una = 0;
    EncodeSegmentHeader(h, dg.data() + 24 * i);
  }
  const uint8_t one[1] = {1};
  SegmentPool pool;
  uint64_t allocs = 0;
  for (auto _ : state) {
    Kcp k(kConv, &sink, flavor, &pool);
    k.SetNoDelay(1, 10, 2, 1);
    (void)k.SetWindowSize(128, 128);
    k.Update(0);
    for (int i = 0; i < 128; ++i) k.Send(one);
    k.Flush(0);
    k.Update(0);
    const uint64_t a0 = g_allocs.load();
    const double t0 = Now();
    const int r = k.Input(dg, 0);
    const double t1 = Now();
    allocs += g_allocs.load() - a0;
    if (r != 0) state.SkipWithError("input failed");
    state.SetIterationTime(t1 - t0);
  }
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(allocs) / state.iterations());
}
BENCHMARK(BM_InputAckDatagram)->Arg(0)->Arg(1)->ArgName("kcpgo")->UseManualTime();

// Check() on an idle session.
void BM_CheckIdle(benchmark::State& state) {
  DiscardSink sink;
  Kcp k(kConv, &sink, Flavor::kKcpGo);
  k.Update(0);
  uint32_t now = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(k.Check(now));
    now += 1;
  }
}
BENCHMARK(BM_CheckIdle);

// In-memory stream transfer between two engines at MTU 1400: the sender
// Write()s 64 KiB chunks, datagrams go straight from one engine's sink
// buffers into the other's Input (no copy in between), the receiver Recv()s
// into the application buffer. Throughput counts payload bytes.
void BM_Transfer(benchmark::State& state) {
  const Flavor flavor = state.range(0) ? Flavor::kKcpGo : Flavor::kIkcp;
  const int wnd = static_cast<int>(state.range(1));
  QueueSink sa(4 * wnd + 64), sb(4 * wnd + 64);
  Kcp a(kConv, &sa, flavor), b(kConv, &sb, flavor);
  for (Kcp* k : {&a, &b}) {
    k->SetNoDelay(1, 10, 2, 1);
    k->SetStreamMode(true);
    (void)k->SetWindowSize(wnd, wnd);
  }
  std::vector<uint8_t> chunk(64 * 1024, 0x33), rbuf(2048);
  uint32_t now = 0;
  a.Update(now);
  b.Update(now);
  uint64_t delivered = 0, segments = 0;
  auto deliver = [&](QueueSink& from, Kcp& to) {
    std::vector<QueueSink::Item>& q = from.queue();
    for (size_t i = 0; i < q.size(); ++i) {  // Input may append to the other queue
      (void)to.Input(absl::MakeConstSpan(q[i].buffer, q[i].length), now);
      from.Recycle(q[i].buffer);
    }
    q.clear();
  };
  auto round = [&] {
    while (a.CanWrite()) a.Write(chunk, now);
    for (int spin = 0; spin < 64 && !(sa.queue().empty() && sb.queue().empty()); ++spin) {
      deliver(sa, b);
      for (int n; (n = b.Recv(absl::MakeSpan(rbuf))) > 0;) {
        delivered += static_cast<uint64_t>(n);
        ++segments;
      }
      b.Flush(now);
      deliver(sb, a);
    }
    ++now;
    a.Flush(now);
  };
  for (int i = 0; i < 50; ++i) round();  // warm up: rings, pools, ACK lists
  delivered = 0;
  segments = 0;
  const uint64_t a0 = g_allocs.load();
  for (auto _ : state) round();
  const uint64_t allocs = g_allocs.load() - a0;
  state.SetBytesProcessed(static_cast<int64_t>(delivered));
  state.counters["allocs_per_segment"] =
      benchmark::Counter(segments ? static_cast<double>(allocs) / segments : -1);
  state.counters["segments"] = static_cast<double>(segments);
  state.counters["retrans"] = static_cast<double>(a.counters().retrans_segs);
}
BENCHMARK(BM_Transfer)->ArgsProduct({{0, 1}, {128, 1024}})->ArgNames({"kcpgo", "wnd"});

}  // namespace
}  // namespace kcpp::kcp
