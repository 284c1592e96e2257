// Once warm, moving bytes through two MuxLinks (smux v1/v2, with and without
// snappy) over loopback allocates nothing per frame or per packet: the heap
// allocations of the whole process — links, smux, snappy, both Engines, the
// link loops — are counted by replacing the global operator new in this
// test binary, across a transfer of thousands of datagrams.
//
// What remains is not per packet: the pools growing when the bytes in
// flight or queued reach a new peak (how far depends on the machine's load:
// the engines report it, EngineStats::pool_allocations and
// queue_chunk_allocations, and it is taken off), a few vectors doubling, and
// libsnappy's RawCompress, which allocates its working memory for every
// chunk it compresses (a chunk holds up to 64 KiB).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mux/mux_link.h"
#include "mux/testing/link_endpoint.h"
#include "testing/allocation_counter.h"

namespace kcpp::service {
namespace {

using internal::LinkEndpoint;

class MuxLinkAllocations : public ::testing::TestWithParam<std::tuple<int, bool>> {};

INSTANTIATE_TEST_SUITE_P(VersionsAndCompression, MuxLinkAllocations,
                         ::testing::Combine(::testing::Values(1, 2), ::testing::Bool()),
                         [](const auto& info) {
                           return absl::StrCat("v", std::get<0>(info.param),
                                               std::get<1>(info.param) ? "_snappy" : "_plain");
                         });

TEST_P(MuxLinkAllocations, WarmTransferAllocatesNothingPerPacket) {
  transport::SessionOptions o;
  o.nodelay = transport::NoDelay::Fast3();
  o.send_window = o.receive_window = 256;
  o.stream_mode = true;
  MuxLinkOptions lo;
  lo.smux.version = std::get<0>(GetParam());
  lo.snappy = std::get<1>(GetParam());
  LinkEndpoint server("server"), client("client");
  server.Listen(o, lo);
  client.Dial(server.address(), o, lo);
  const uint32_t id = client.OpenStream();
  auto received = [&](uint64_t n) {
    return server.WaitFor([&] {
      const auto* r = server.StreamOrNull(id);
      return r != nullptr && r->received >= n;
    });
  };
  // Warm-up: buffers, pools, queues and tables reach their working size.
  constexpr uint64_t kWarm = 8 << 20;
  client.Write(id, kWarm, false);
  ASSERT_TRUE(received(kWarm));

  // Pool growth of both engines (the queue chunk pool is process-wide:
  // counted once).
  auto pool_growth = [&] {
    const transport::EngineStats c = client.engine().GetStats(), s = server.engine().GetStats();
    return c.pool_allocations + s.pool_allocations + c.queue_chunk_allocations;
  };
  constexpr uint64_t kMeasured = 16 << 20;
  const uint64_t packets_before = client.engine().GetStats().counters.packets_sent;
  const uint64_t chunks_before =
      client.LinkStats().snappy_chunks_written + server.LinkStats().snappy_chunks_written;
  const uint64_t pools_before = pool_growth();
  const uint64_t before = ::kcpp::test::AllocationCount();
  client.Write(id, kMeasured, false);
  ASSERT_TRUE(received(kWarm + kMeasured));
  const uint64_t allocations = ::kcpp::test::AllocationCount() - before;
  const uint64_t pools = pool_growth() - pools_before;
  const uint64_t packets = client.engine().GetStats().counters.packets_sent - packets_before;
  const uint64_t chunks = client.LinkStats().snappy_chunks_written +
                          server.LinkStats().snappy_chunks_written - chunks_before;
  auto lock = server.Lock();
  EXPECT_EQ(server.StreamOrNull(id)->mismatches, 0u);
  EXPECT_GT(packets, lo.snappy ? 500u : 5000u);  // snappy compresses the pattern well
  // A per-packet (or per-frame) allocation would show up as at least one
  // per packet (more than 900 here even with snappy). Besides the pools'
  // growth and libsnappy's one per chunk, a few dozen at most: the test's
  // own calls into the loop, vectors doubling to a new peak.
  constexpr uint64_t kSlack = 64;
  EXPECT_LE(allocations, pools + chunks + kSlack)
      << allocations << " allocations for " << packets << " packets, " << chunks
      << " snappy chunks, " << pools << " pool growths";
  std::printf("%llu allocations for %llu packets: %llu snappy chunks, %llu pool growths\n",
              static_cast<unsigned long long>(allocations),
              static_cast<unsigned long long>(packets), static_cast<unsigned long long>(chunks),
              static_cast<unsigned long long>(pools));
}

}  // namespace
}  // namespace kcpp::service
