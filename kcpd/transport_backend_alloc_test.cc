// Once warm, moving bytes app -> kcpd data plane -> UDP -> kcpd data plane ->
// app (two TransportBackends in this process, applications on socketpairs)
// allocates nothing per packet: the heap allocations of the whole process —
// both backends' pumps (SessionActor), their MuxLinks or raw sessions, both
// Engines — are counted by replacing the global operator new in this test
// binary, across a transfer of thousands of datagrams. smux and raw stream
// framing.
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/internal/resource_names.h"
#include "kcpd/testing/test_util.h"
#include "kcpd/transport_backend.h"
#include "testing/allocation_counter.h"

namespace kcpp::service {
namespace {

using kcpp::v1::SessionEvent;

struct Kcpd {
  Kcpd() {
    backend = *TransportBackend::Create({.loops = 1});  // data plane on the transport loop
    backend->SetEventSink(&sink);
  }
  ~Kcpd() {
    backend->Shutdown(absl::Now());
    backend->SetEventSink(nullptr);
  }
  testing::RecordingSink sink;
  std::unique_ptr<TransportBackend> backend;
};

UniqueFd AttachApp(Kcpd& k, const std::string& stream) {
  auto [app, kcpd] = testing::SocketPair(SOCK_STREAM);
  EXPECT_TRUE(
      k.backend->AttachStream(*internal::ParseStreamName(stream, "s"), std::move(kcpd)).ok());
  return std::move(app);
}

// Moves `n` bytes from `from` to `to` with preallocated buffers; true if
// every byte arrived intact.
bool Transfer(int from, int to, uint64_t n, const std::vector<char>& pattern,
              std::vector<char>& in) {
  std::thread writer([&] {
    for (uint64_t done = 0; done < n;) {
      // Stream byte k is k % 251: `pattern` holds 64 KiB + 251 of it.
      const ssize_t w = ::send(from, pattern.data() + done % 251,
                               std::min<uint64_t>(64 << 10, n - done), MSG_NOSIGNAL);
      if (w <= 0) return;
      done += static_cast<uint64_t>(w);
    }
  });
  bool intact = true;
  uint64_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(to, in.data(), in.size(), 0);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i) {
      if (intact && static_cast<unsigned char>(in[i]) != (got + i) % 251) {
        std::printf("first difference at %llu: %d, want %d\n",
                    static_cast<unsigned long long>(got + i), static_cast<unsigned char>(in[i]),
                    static_cast<int>((got + i) % 251));
        intact = false;
      }
    }
    got += static_cast<uint64_t>(r);
  }
  writer.join();
  if (!intact || got != n)
    std::printf("transfer: %llu of %llu bytes, intact %d\n", static_cast<unsigned long long>(got),
                static_cast<unsigned long long>(n), intact);
  return intact && got == n;
}

class TransportBackendAllocations : public ::testing::TestWithParam<kcpp::v1::Framing> {};

INSTANTIATE_TEST_SUITE_P(Framing, TransportBackendAllocations,
                         ::testing::Values(kcpp::v1::FRAMING_SMUX, kcpp::v1::FRAMING_RAW),
                         [](const auto& info) {
                           return info.param == kcpp::v1::FRAMING_SMUX ? "smux" : "raw";
                         });

TEST_P(TransportBackendAllocations, WarmTransferAllocatesNothingPerPacket) {
  kcpp::v1::SessionOptions p;
  p.set_framing(GetParam());
  p.set_stream_mode(true);
  p.set_mode(kcpp::v1::MODE_FAST3);
  p.set_crypt("aes");
  p.set_key("alloc");
  p.set_send_window(512);
  p.set_receive_window(512);
  Kcpd server, client;
  kcpp::v1::Listener l;
  l.set_address("127.0.0.1:0");
  *l.mutable_session_options() = p;
  auto listener =
      server.backend->CreateListener("l", *internal::ListenerConfigFromProto(l, "listener"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto d = client.backend->Dial(*transport::SocketAddress::Parse(listener->bound_address()),
                                *internal::SessionConfigFromProto(p, "options"), 0);
  ASSERT_TRUE(d.ok()) << d.status();
  UniqueFd a = AttachApp(client, d->stream.name());
  // A raw server session appears with the first datagram.
  const char hello = 1;
  ASSERT_EQ(::send(a.get(), &hello, 1, 0), 1);
  // Its twin on the server: the server's first session, the same stream id.
  const uint32_t stream_id = internal::ParseStreamName(d->stream.name(), "s")->stream_id;
  auto accepted =
      server.sink.WaitFor(SessionEvent::STREAM_ACCEPTED, internal::StreamName({1, stream_id}));
  ASSERT_TRUE(accepted.has_value());
  UniqueFd b = AttachApp(server, accepted->stream().name());
  char first;
  ASSERT_EQ(::recv(b.get(), &first, 1, MSG_WAITALL), 1);

  std::vector<char> pattern((64 << 10) + 251), in(256 << 10);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>(i % 251);
  ASSERT_TRUE(Transfer(a.get(), b.get(), 8 << 20, pattern, in));  // warm-up

  const uint64_t session_id = internal::ParseStreamName(d->stream.name(), "s")->session_id;
  const uint64_t packets_before =
      client.backend->GetSession(session_id, false)->counters().packets_sent();
  // Pool growth of both kcpd (the queue chunk pool is process-wide:
  // counted once).
  auto pool_growth = [&] {
    const kcpp::v1::Stats c = client.backend->GetStats(), s = server.backend->GetStats();
    return c.pool_allocations() + s.pool_allocations() + c.queue_chunk_allocations();
  };
  constexpr uint64_t kMeasured = 16 << 20;
  const uint64_t pools_before = pool_growth();
  const uint64_t before = ::kcpp::test::AllocationCount();
  ASSERT_TRUE(Transfer(a.get(), b.get(), kMeasured, pattern, in));
  const uint64_t allocations = ::kcpp::test::AllocationCount() - before;
  const uint64_t pools = pool_growth() - pools_before;
  const uint64_t packets =
      client.backend->GetSession(session_id, false)->counters().packets_sent() - packets_before;
  EXPECT_GT(packets, 5000u);
  // A per-packet allocation would show up as at least one per packet. What
  // is left besides the pools' growth to a new peak of data in flight (how
  // far depends on the machine's load; see mux_link_alloc_test): the
  // test's writer thread, vectors doubling.
  constexpr uint64_t kSlack = 64;
  EXPECT_LE(allocations, pools + kSlack)
      << allocations << " allocations for " << packets << " packets, " << pools << " pool growths";
  std::printf("%llu allocations for %llu packets: %llu pool growths\n",
              static_cast<unsigned long long>(allocations),
              static_cast<unsigned long long>(packets), static_cast<unsigned long long>(pools));
}

}  // namespace
}  // namespace kcpp::service
