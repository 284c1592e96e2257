// MuxLink over loopback UDP: two Engines in one process, a link on each end,
// smux v1 and v2, with and without snappy framing.
#include "mux/mux_link.h"

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "base/latch.h"
#include "gtest/gtest.h"
#include "mux/testing/link_endpoint.h"
#include "smux/frame.h"

namespace kcpp::service {
namespace {

using internal::LinkEndpoint;

transport::SessionOptions Fast() {
  transport::SessionOptions o;
  o.nodelay = transport::NoDelay::Fast3();
  o.send_window = o.receive_window = 256;
  o.stream_mode = true;
  return o;
}

MuxLinkOptions LinkOptions(int version, bool snappy) {
  MuxLinkOptions o;
  o.smux.version = version;
  o.snappy = snappy;
  return o;
}

class MuxLinkTest : public ::testing::TestWithParam<std::tuple<int, bool>> {
 protected:
  int version() const { return std::get<0>(GetParam()); }
  bool snappy() const { return std::get<1>(GetParam()); }
  MuxLinkOptions Options() const { return LinkOptions(version(), snappy()); }

  void Connect(const transport::SessionOptions& o = Fast()) {
    server_.Listen(o, Options());
    client_.Dial(server_.address(), o, Options());
  }

  LinkEndpoint server_{"server"};
  LinkEndpoint client_{"client"};
};

INSTANTIATE_TEST_SUITE_P(VersionsAndCompression, MuxLinkTest,
                         ::testing::Combine(::testing::Values(1, 2), ::testing::Bool()),
                         [](const auto& info) {
                           return absl::StrCat("v", std::get<0>(info.param),
                                               std::get<1>(info.param) ? "_snappy" : "_plain");
                         });

TEST_P(MuxLinkTest, StreamsCarryBytesBothWaysAndEndWithFinBothWays) {
  Connect();
  constexpr uint64_t kBytes = 512 * 1024;
  server_.SetReply(kBytes);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(client_.OpenStream());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i], 3 + 2 * i);  // smux: a client opens 3, 5, 7...
    client_.Write(ids[i], kBytes, /*close_after=*/true);
  }
  auto all_closed = [&](LinkEndpoint& p) {
    for (uint32_t id : ids) {
      const auto* r = p.StreamOrNull(id);
      if (r == nullptr || !r->closed) return false;
    }
    return true;
  };
  ASSERT_TRUE(server_.WaitFor([&] { return all_closed(server_); }));
  ASSERT_TRUE(client_.WaitFor([&] { return all_closed(client_); }));
  for (LinkEndpoint* p : {&server_, &client_}) {
    auto lock = p->Lock();
    for (uint32_t id : ids) {
      const auto* r = p->StreamOrNull(id);
      SCOPED_TRACE(id);
      EXPECT_EQ(r->received, kBytes);
      EXPECT_EQ(r->mismatches, 0u);
      EXPECT_TRUE(r->fin);
      EXPECT_EQ(r->received_at_fin, kBytes);  // FIN only after the last byte
      EXPECT_EQ(r->written, kBytes);
    }
  }
  EXPECT_EQ(client_.LinkStats().streams, 0u);
  EXPECT_EQ(server_.LinkStats().streams, 0u);
  auto lock = server_.Lock();
  EXPECT_EQ(server_.StreamOrNull(ids[0])->accepted, true);
}

TEST_P(MuxLinkTest, AWriterSizedByWritableBytesIsWokenWhenRoomAppears) {
  // Never a short Write: the link must still announce room (v2 window
  // updates, drained output) to a writer that found WritableBytes() == 0.
  Connect();
  client_.SetWriteByRoom(true);
  server_.SetWriteByRoom(true);
  server_.SetReply(4 << 20);
  const uint32_t id = client_.OpenStream();
  client_.Write(id, 4 << 20, /*close_after=*/true);
  for (LinkEndpoint* p : {&server_, &client_}) {
    ASSERT_TRUE(p->WaitFor([&] {
      const auto* r = p->StreamOrNull(id);
      return r != nullptr && r->closed;
    }));
  }
  for (LinkEndpoint* p : {&server_, &client_}) {
    auto lock = p->Lock();
    EXPECT_EQ(p->StreamOrNull(id)->received, 4u << 20);
    EXPECT_EQ(p->StreamOrNull(id)->mismatches, 0u);
    EXPECT_EQ(p->StreamOrNull(id)->short_writes, 0u);
  }
}

TEST_P(MuxLinkTest, ManyStreamsAreKeptApart) {
  Connect();
  std::vector<uint32_t> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(client_.OpenStream());
  // Different lengths, written interleaved by the link as windows allow.
  for (size_t i = 0; i < ids.size(); ++i) client_.Write(ids[i], 1000 + 97 * i, true);
  ASSERT_TRUE(server_.WaitFor([&] {
    for (uint32_t id : ids) {
      const auto* r = server_.StreamOrNull(id);
      if (r == nullptr || !r->fin) return false;
    }
    return true;
  }));
  auto lock = server_.Lock();
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto* r = server_.StreamOrNull(ids[i]);
    EXPECT_EQ(r->received, 1000 + 97 * i) << ids[i];
    EXPECT_EQ(r->mismatches, 0u) << ids[i];
  }
}

TEST_P(MuxLinkTest, HalfCloseKeepsTheOtherDirectionOpen) {
  Connect();
  const uint32_t id = client_.OpenStream();
  client_.Write(id, 100000, /*close_after=*/true);
  ASSERT_TRUE(server_.WaitFor([&] {
    const auto* r = server_.StreamOrNull(id);
    return r != nullptr && r->fin;
  }));
  {
    auto lock = server_.Lock();
    EXPECT_EQ(server_.StreamOrNull(id)->received_at_fin, 100000u);
    EXPECT_FALSE(server_.StreamOrNull(id)->closed);  // our direction is still open
  }
  // Only now does the server answer, on the half-closed stream.
  server_.Write(id, 1 << 20, /*close_after=*/true);
  ASSERT_TRUE(client_.WaitFor([&] {
    const auto* r = client_.StreamOrNull(id);
    return r != nullptr && r->closed;
  }));
  ASSERT_TRUE(server_.WaitFor([&] { return server_.StreamOrNull(id)->closed; }));
  auto lock = client_.Lock();
  EXPECT_EQ(client_.StreamOrNull(id)->received, 1u << 20);
  EXPECT_EQ(client_.StreamOrNull(id)->mismatches, 0u);
}

TEST_P(MuxLinkTest, RefusedStreamIsAnsweredWithFin) {
  Connect();
  server_.SetAccept(false);
  const uint32_t id = client_.OpenStream();
  client_.Write(id, 5000, /*close_after=*/true);
  ASSERT_TRUE(client_.WaitFor([&] { return client_.StreamOrNull(id)->closed; }));
  auto lock = client_.Lock();
  EXPECT_TRUE(client_.StreamOrNull(id)->fin);
  EXPECT_EQ(client_.StreamOrNull(id)->received, 0u);
  EXPECT_EQ(server_.opened_refused(), 1u);
}

TEST_P(MuxLinkTest, SlowReaderHoldsBoundedBytesAndStopsTheWriter) {
  // Small buffers everywhere so the whole pipeline fills quickly.
  transport::SessionOptions o = Fast();
  o.send_window = o.receive_window = 32;
  o.inbound_queue_bytes = o.outbound_queue_bytes = 64 * 1024;
  MuxLinkOptions lo = Options();
  lo.smux.max_receive_buffer = 512 * 1024;
  lo.smux.max_stream_buffer = 64 * 1024;
  server_.Listen(o, lo);
  client_.Dial(server_.address(), o, lo);
  server_.SetTakeLimit(0);  // takes nothing
  const uint32_t id = client_.OpenStream();
  constexpr uint64_t kTotal = 32 << 20;
  client_.Write(id, kTotal, /*close_after=*/true);
  uint64_t held_bound;
  if (version() == 2) {
    // The stream's window stops the writer: exactly the 262144 bytes a v2
    // writer may send before its first window update, all held by the
    // reader's link.
    held_bound = smux::kInitialPeerWindow;
    ASSERT_TRUE(server_.WaitUnlocked([&] { return server_.Held(id) == held_bound; }));
    auto lock = client_.Lock();
    EXPECT_EQ(client_.StreamOrNull(id)->written, held_bound);
  } else {
    // v1 has no stream window: the session's receive buffer fills, the link
    // stops reading the session, and KCP's window closes on the writer.
    held_bound = lo.smux.max_receive_buffer + smux::kMaxFramePayload;
    ASSERT_TRUE(client_.WaitFor([&] {
      absl::StatusOr<transport::SessionInfo> info = client_.session()->GetInfo();
      return info.ok() && info->remote_window == 0;
    }));
    uint64_t written;
    {
      auto lock = client_.Lock();
      written = client_.StreamOrNull(id)->written;
    }
    EXPECT_LT(written, kTotal);
    if (!snappy()) {
      // What the writer got rid of sits in bounded places: held by the
      // reader's link, both sessions' queues and KCP windows, the writer's
      // smux output. (With snappy these hold compressed bytes.)
      EXPECT_LT(written, held_bound + 2 * 64 * 1024 + 2 * 32 * 1400 + 2 * 65536);
    }
  }
  EXPECT_LE(server_.LinkStats().max_buffered_bytes, held_bound);
  // Reading again releases everything, byte-exact and in order.
  server_.SetTakeLimit(SIZE_MAX);
  ASSERT_TRUE(server_.WaitFor([&] { return server_.StreamOrNull(id)->fin; }));
  auto lock = server_.Lock();
  EXPECT_EQ(server_.StreamOrNull(id)->received, kTotal);
  EXPECT_EQ(server_.StreamOrNull(id)->mismatches, 0u);
}

TEST_P(MuxLinkTest, KeepaliveDeclaresAVanishedPeerDead) {
  transport::SessionOptions o = Fast();
  o.dead_link = 0;  // only smux keepalive may notice
  MuxLinkOptions lo = Options();
  lo.smux.keep_alive_interval_ms = 100;
  lo.smux.keep_alive_timeout_ms = 400;
  server_.Listen(o, lo);
  client_.Dial(server_.address(), o, lo);
  const uint32_t id = client_.OpenStream();
  client_.Write(id, 1000, false);
  ASSERT_TRUE(server_.WaitFor([&] {
    const auto* r = server_.StreamOrNull(id);
    return r != nullptr && r->received == 1000;
  }));
  server_.DestroyEngine();
  ASSERT_TRUE(client_.WaitFor([&] { return client_.link_closed(); }));
  auto lock = client_.Lock();
  EXPECT_EQ(client_.link_status().code(), absl::StatusCode::kDeadlineExceeded)
      << client_.link_status();
  EXPECT_TRUE(absl::StrContains(client_.link_status().message(), "keepalive"));
}

TEST_P(MuxLinkTest, CloseFinishesStreamsFlushesAndReportsOk) {
  Connect();
  const uint32_t id = client_.OpenStream();
  client_.Write(id, 2 << 20, /*close_after=*/false);
  client_.Close();  // everything written so far still arrives, then FIN
  ASSERT_TRUE(server_.WaitFor([&] {
    const auto* r = server_.StreamOrNull(id);
    return r != nullptr && r->fin;
  }));
  ASSERT_TRUE(client_.WaitFor([&] { return client_.link_closed(); }));
  {
    auto lock = client_.Lock();
    EXPECT_TRUE(client_.link_status().ok()) << client_.link_status();
    const uint64_t written = client_.StreamOrNull(id)->written;
    auto slock = server_.Lock();
    EXPECT_EQ(server_.StreamOrNull(id)->received, written);
    EXPECT_EQ(server_.StreamOrNull(id)->mismatches, 0u);
  }
  // A closed link refuses new work.
  absl::Status open;
  client_.Run([&] { open = client_.link()->OpenStream().status(); });
  EXPECT_EQ(open.code(), absl::StatusCode::kFailedPrecondition);
}

// Close() ends with kcpp's close notice after the FINs: the far link hears
// OnPeerClosed once everything before it was delivered — here while its
// application holds 200000 bytes unread (within v2's initial window), which
// it still gets, with the FIN — and
// then drops what it would send, so its own Close has nothing to flush.
// The closing side's OK says the notice was acknowledged.
TEST_P(MuxLinkTest, CloseNoticeReachesThePeerAfterTheStreamsData) {
  Connect();
  const uint32_t id = client_.OpenStream();
  ASSERT_TRUE(server_.WaitFor([&] { return server_.StreamOrNull(id) != nullptr; }));
  server_.SetTakeLimit(0);  // the server's application reads nothing yet
  constexpr uint64_t kBytes = 200000;
  client_.Write(id, kBytes, /*close_after=*/false);
  ASSERT_TRUE(client_.WaitFor([&] { return client_.StreamOrNull(id)->written == kBytes; }));
  client_.Close();
  ASSERT_TRUE(server_.WaitFor([&] { return server_.peer_closed() == 1; }));
  {
    auto lock = server_.Lock();
    EXPECT_FALSE(server_.link_closed());
    EXPECT_FALSE(server_.StreamOrNull(id)->fin);  // behind the held bytes
  }
  server_.SetTakeLimit(SIZE_MAX);
  ASSERT_TRUE(server_.WaitFor([&] { return server_.StreamOrNull(id)->fin; }));
  {
    auto lock = server_.Lock();
    EXPECT_EQ(server_.StreamOrNull(id)->received, kBytes);
    EXPECT_EQ(server_.StreamOrNull(id)->mismatches, 0u);
  }
  ASSERT_TRUE(client_.WaitFor([&] { return client_.link_closed(); }));
  {
    auto lock = client_.Lock();
    EXPECT_TRUE(client_.link_status().ok()) << client_.link_status();
  }
  // What the server writes now goes nowhere (the peer forgot the stream).
  bool peer_closed = false;
  uint64_t written_before = 0, written_after = 0;
  server_.Run([&] {
    peer_closed = server_.link()->peer_closed();
    written_before = server_.link()->stats().session_bytes_written;
    const std::vector<uint8_t> late(1000, 'x');
    EXPECT_EQ(*server_.link()->Write(id, late), late.size());
    written_after = server_.link()->stats().session_bytes_written;
  });
  EXPECT_TRUE(peer_closed);
  EXPECT_EQ(written_after, written_before);
  server_.Close();
  ASSERT_TRUE(server_.WaitFor([&] { return server_.link_closed(); }));
  auto lock = server_.Lock();
  EXPECT_TRUE(server_.link_status().ok()) << server_.link_status();
  EXPECT_EQ(server_.peer_closed(), 1);
  EXPECT_EQ(client_.peer_closed(), 0);  // the answer to a notice is none
}

TEST(MuxLink, APeerThatBreaksTheSmuxFormatFailsTheLink) {
  LinkEndpoint server("server");
  server.Listen(Fast(), LinkOptions(2, false));
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  auto raw = *engine->Dial(server.address(), Fast());
  const uint8_t bad[8] = {9, 0, 0, 0, 3, 0, 0, 0};  // version 9
  ASSERT_TRUE(raw->Write(bad).ok());
  ASSERT_TRUE(server.WaitFor([&] { return server.link_closed(); }));
  auto lock = server.Lock();
  EXPECT_EQ(server.link_status().code(), absl::StatusCode::kInvalidArgument)
      << server.link_status();
}

TEST(MuxLink, CorruptSnappyFramingFailsTheLink) {
  LinkEndpoint server("server");
  server.Listen(Fast(), LinkOptions(1, true));
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  auto raw = *engine->Dial(server.address(), Fast());
  const uint8_t bad[12] = {0x01, 0x08, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};  // no stream identifier
  ASSERT_TRUE(raw->Write(bad).ok());
  ASSERT_TRUE(server.WaitFor([&] { return server.link_closed(); }));
  auto lock = server.Lock();
  EXPECT_EQ(server.link_status().code(), absl::StatusCode::kDataLoss) << server.link_status();
  EXPECT_TRUE(absl::StrContains(server.link_status().message(), "snappy"));
}

TEST(MuxLink, CreateChecksItsArguments) {
  auto loop = *transport::EventLoop::Create("t");
  loop->Start();
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  transport::SessionOptions message = Fast();
  message.stream_mode = false;
  std::shared_ptr<transport::Session> s = *engine->Dial("127.0.0.1:9", message);
  struct Nop : MuxLink::Handler {
    bool OnStreamOpened(uint32_t) override { return true; }
    size_t OnStreamData(uint32_t, absl::Span<const uint8_t> d) override { return d.size(); }
    void OnLinkClosed(const absl::Status&) override {}
  } handler;
  // Off the loop thread.
  EXPECT_EQ(MuxLink::Create(loop.get(), s, smux::Role::kClient, {}, &handler).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status on_loop, bad_config;
  Latch done;
  loop->Post([&] {
    on_loop = MuxLink::Create(loop.get(), s, smux::Role::kClient, {}, &handler).status();
    MuxLinkOptions bad;
    bad.smux.version = 3;
    std::shared_ptr<transport::Session> stream = *engine->Dial("127.0.0.1:9", Fast());
    bad_config = MuxLink::Create(loop.get(), stream, smux::Role::kClient, bad, &handler).status();
    done.CountDown();
  });
  done.Wait();
  loop->Stop();
  EXPECT_EQ(on_loop.code(), absl::StatusCode::kFailedPrecondition);  // message mode
  EXPECT_TRUE(absl::StrContains(on_loop.message(), "stream mode"));
  EXPECT_EQ(bad_config.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kcpp::service
