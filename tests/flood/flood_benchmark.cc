// Measurements behind the flood tests and SECURITY.md (run with --config=opt):
//
//   BM_EchoUnderFlood/flood:0|1
//     A live AES session's echo throughput through a listener, alone and
//     while one thread floods the listener with keyless garbage (random
//     bytes, another key, truncated and oversized datagrams) from 64 ports.
//   BM_ForgedSessionMemory/sessions:N/fill:F/fec:E
//     RSS growth of a server whose listener accepted N forged sessions (one
//     per source port; each forgery passes the cipher, as a replayed genuine
//     datagram or a key holder's would). fill:0 sends each session one
//     1300-byte PUSH (what one replayed first datagram costs); fill:1 sends
//     in-order and out-of-order segments until the session holds all it
//     will hold: the inbound queue, KCP's receive queue and receive buffer
//     (the most one session can be made to keep without FEC). fec:1 has the
//     listener run FEC 10/3, so each session also has a FEC decoder.
//     The application accepts every session and never reads (the worst case
//     for memory).
//
// Each case runs once (Iterations(1)): RSS is a level, not a rate. Reported
// counters: sessions, rss_growth_MiB, per_session_KiB, held_KiB (bytes the
// sessions report queued for the application, per session).
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "crypt/packet_cipher.h"
#include "tests/flood/flooder.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp::flood {
namespace {

constexpr char kKey[] = "kcpp flood benchmark key";

int64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

transport::SessionOptions Options(bool fec) {
  transport::SessionOptions o;
  o.crypt = "aes";
  o.key = kKey;
  o.nodelay = transport::NoDelay::Fast3();
  o.stream_mode = true;
  o.send_window = o.receive_window = 512;
  o.socket_buffer_bytes = 8 << 20;
  if (fec) {
    o.data_shards = 10;
    o.parity_shards = 3;
  }
  return o;
}

void BM_EchoUnderFlood(benchmark::State& state) {
  const bool flood = state.range(0) != 0;
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  transport::ListenerOptions lo;
  lo.session = Options(false);
  auto listener = *engine->Listen("127.0.0.1:0", lo);
  transport::testing::EchoServer echo(*listener);
  auto client = *engine->Dial(listener->local_address().ToString(), Options(false));
  std::unique_ptr<Flooder> flooder;
  if (flood) {
    FloodOptions fo;
    fo.target = listener->local_address();
    fo.key = kKey;
    fo.mix = {.random = 4, .wrong_key = 4, .truncated = 2, .oversized = 1};
    flooder = *Flooder::Start(fo);
    flooder->WaitSent(10000);
  }
  constexpr uint64_t kBytes = 32 << 20;
  const uint64_t sent_before = flooder ? flooder->sent() : 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const absl::Status s = transport::testing::Transfer(*client, *client, kBytes);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
  if (flooder) {
    state.counters["flood_pps"] = static_cast<double>(flooder->sent() - sent_before) / seconds;
    flooder->Stop();
    const transport::ListenerStats ls = listener->GetStats();
    state.counters["dropped"] = static_cast<double>(ls.dropped_checksum + ls.dropped_truncated);
    state.counters["created"] = static_cast<double>(ls.sessions_created);
  }
  client.reset();
  echo.Stop();
}
BENCHMARK(BM_EchoUnderFlood)
    ->ArgName("flood")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_ForgedSessionMemory(benchmark::State& state) {
  const int sessions = static_cast<int>(state.range(0));
  const bool fill = state.range(1) != 0;
  const bool fec = state.range(2) != 0;
  for (auto _ : state) {
    transport::EngineOptions eo;
    eo.loops = 2;
    auto engine = *transport::Engine::Create(eo);
    transport::ListenerOptions lo;
    lo.session = Options(fec);
    lo.max_sessions = sessions + 16;
    lo.accept_backlog = sessions + 16;
    auto listener = *engine->Listen("127.0.0.1:0", lo);
    std::mutex mu;
    std::vector<std::unique_ptr<transport::Session>> held;
    listener->SetAcceptCallback([&](std::unique_ptr<transport::Session> s) {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(s));
    });
    auto cipher = *crypt::NewKcptunPacketCipher("aes", crypt::DeriveKcptunKey(kKey));
    std::vector<int> fds;
    for (int i = 0; i < sessions; ++i) {
      const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      const auto any = *transport::SocketAddress::Parse("127.0.0.1:0");
      if (fd < 0 || bind(fd, any.sockaddr_ptr(), any.sockaddr_len()) != 0) {
        state.SkipWithError("socket");
        return;
      }
      fds.push_back(fd);
    }
    const int64_t before = RssBytes();
    std::mt19937_64 rng(1);
    std::vector<uint8_t> payload(1300);
    std::vector<uint8_t> out(2048);
    // fill:1 — in order until the inbound queue (1 MiB), KCP's receive queue
    // and its receive buffer (512 segments each) are full.
    const uint32_t segments = fill ? (1 << 20) / 1300 + 2 * 512 + 16 : 1;
    const auto& to = listener->local_address();
    for (int i = 0; i < sessions; ++i) {
      const uint32_t conv = static_cast<uint32_t>(rng());
      for (uint32_t sn = 0; sn < segments; ++sn) {
        for (auto& b : payload) b = static_cast<uint8_t>(rng());
        const size_t n = ForgePush(*cipher, fec, sn, conv, sn, payload, out.data());
        (void)sendto(fds[i], out.data(), n, 0, to.sockaddr_ptr(), to.sockaddr_len());
        // A benchmark may pace: keep the listener's socket buffer from
        // overflowing so every session gets its share.
        if (sn % 64 == 63) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    // Let the loops finish what is queued: RSS stops growing.
    int64_t last = -1, now = RssBytes();
    while (now != last) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      last = now;
      now = RssBytes();
    }
    const transport::ListenerStats ls = listener->GetStats();
    uint64_t queued = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& s : held) {
        if (auto info = s->GetInfo(); info.ok()) queued += info->inbound_queued_bytes;
      }
    }
    const double growth = static_cast<double>(now - before);
    state.counters["sessions"] = static_cast<double>(ls.sessions_created);
    state.counters["rss_growth_MiB"] = growth / (1 << 20);
    state.counters["per_session_KiB"] = growth / 1024 / std::max<uint64_t>(1, ls.sessions_created);
    state.counters["held_KiB"] =
        static_cast<double>(queued) / 1024 / std::max<uint64_t>(1, ls.sessions_created);
    for (int fd : fds) close(fd);
    {
      std::lock_guard<std::mutex> lock(mu);
      held.clear();
    }
    listener.reset();
    engine.reset();
  }
}
BENCHMARK(BM_ForgedSessionMemory)
    ->ArgNames({"sessions", "fill", "fec"})
    ->Args({4096, 0, 0})
    ->Args({4096, 0, 1})
    ->Args({32, 1, 0})
    ->Args({32, 1, 1})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kcpp::flood
