// The warm data path allocates nothing: after a warm-up, moving data over
// two connected sessions (Write, output drain, Feed with callbacks, Consume
// with v2 UPDs, CloseWrite/FIN of finished streams excluded) performs zero
// heap allocations. Counted by replacing the global operator new in this
// test binary.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"
#include "smux/session.h"
#include "testing/allocation_counter.h"

namespace kcpp::smux {
namespace {

class Consumer : public SessionHandler {
 public:
  Session* session = nullptr;
  uint64_t bytes = 0;
  void OnStreamOpened(StreamId id) override {
    if (!session->AcceptStream(id).ok()) std::abort();
  }
  void OnStreamData(StreamId id, absl::Span<const uint8_t> d) override {
    bytes += d.size();
    if (!session->Consume(id, d.size()).ok()) std::abort();
  }
  void OnStreamFin(StreamId) override {}
  void OnSessionClosed(const absl::Status&) override { std::abort(); }
};

TEST(SessionAllocations, WarmDataPathAllocatesNothing) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    Config c;
    c.version = version;
    c.max_frame_size = 8192;
    Consumer ch, sh;
    auto client = std::move(*Session::Create(Role::kClient, c, &ch, 0));
    auto server = std::move(*Session::Create(Role::kServer, c, &sh, 0));
    ch.session = client.get();
    sh.session = server.get();
    std::vector<StreamId> ids;
    for (int i = 0; i < 16; ++i) ids.push_back(*client->OpenStream());
    std::vector<uint8_t> chunk(20000, 0x5a);
    auto round = [&](int64_t now) {
      for (StreamId id : ids) {
        absl::StatusOr<size_t> n = client->Write(id, chunk);
        ASSERT_TRUE(n.ok());
        // Pieces of odd size so frames straddle Feed calls.
        while (!client->output().empty()) {
          const size_t k = std::min<size_t>(client->output().size(), 3001);
          ASSERT_EQ(server->Feed(client->output().subspan(0, k)), k);
          client->ConsumeOutput(k);
        }
        const size_t back = server->output().size();  // UPDs
        ASSERT_EQ(client->Feed(server->output()), back);
        server->ConsumeOutput(back);
      }
      client->OnTimer(now);
      server->OnTimer(now);
    };
    for (int i = 0; i < 300; ++i) round(i * 100);  // warm-up: buffers reach their size
    const uint64_t before = ::kcpp::test::AllocationCount();
    const uint64_t bytes_before = sh.bytes;
    for (int i = 300; i < 800; ++i) round(i * 100);  // keepalive NOPs too
    const uint64_t allocations = ::kcpp::test::AllocationCount() - before;
    EXPECT_GT(sh.bytes - bytes_before, 100u << 20);
    EXPECT_EQ(allocations, 0u);
    EXPECT_GT(server->stats().frames_received[kCmdNop], 0u);
    if (version == 2) {
      EXPECT_GT(client->stats().frames_received[kCmdUpd], 1000u);
    }
  }
}

}  // namespace
}  // namespace kcpp::smux
