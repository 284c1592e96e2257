// End-to-end tests of sessions and listeners over loopback UDP.
#include "transport/engine.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/latch.h"
#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"
#include "kcp/segment.h"
#include "tools/lossy_relay/lossy_relay.h"
#include "transport/testing/transfer.h"
#include "transport/udp_socket.h"

namespace kcpp::transport {
namespace {

using testing::EchoServer;
using testing::ReadPattern;
using testing::Transfer;
using testing::WritePattern;

// Guards against hangs only; tests never depend on it firing.
absl::Time Guard() { return absl::Now() + absl::Seconds(60); }

SessionOptions Fast(bool stream = true) {
  SessionOptions o;
  o.nodelay = NoDelay::Fast3();
  o.send_window = o.receive_window = 256;
  o.stream_mode = stream;
  return o;
}

struct Pair {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Session> client;
};

Pair MakePair(const SessionOptions& o, int loops = 2) {
  Pair p;
  EngineOptions eo;
  eo.loops = loops;
  p.engine = *Engine::Create(eo);
  ListenerOptions lo;
  lo.session = o;
  auto l = p.engine->Listen("127.0.0.1:0", lo);
  EXPECT_TRUE(l.ok()) << l.status();
  p.listener = *std::move(l);
  auto c = p.engine->Dial(p.listener->local_address().ToString(), o);
  EXPECT_TRUE(c.ok()) << c.status();
  p.client = *std::move(c);
  return p;
}

TEST(Engine, StreamEchoIsByteExactAndAcknowledged) {
  Pair p = MakePair(Fast());
  EchoServer echo(*p.listener);
  absl::Status st = Transfer(*p.client, *p.client, 4 << 20, Guard());
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(p.client->WaitAcknowledged(Guard()).ok());
  absl::StatusOr<SessionInfo> info = p.client->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->counters.bytes_sent, uint64_t{4} << 20);
  EXPECT_EQ(info->counters.bytes_received, uint64_t{4} << 20);
  EXPECT_EQ(info->segments_waiting, 0u);
  EXPECT_EQ(info->counters.checksum_errors, 0u);
  EXPECT_EQ(echo.sessions_accepted(), 1);
  const EngineStats stats = p.engine->GetStats();
  EXPECT_GT(stats.counters.packets_sent, 0u);
  // The transfer went through the pools: packet buffers and KCP blocks
  // (at least a slab of buffers), and queue chunks for the 4 MiB written.
  EXPECT_GE(stats.pool_bytes, 256 * 1536u);
  EXPECT_GE(stats.pool_allocations, 2u);
  EXPECT_GT(stats.queue_chunk_allocations, 0u);
}

class CipherFec : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(CipherFec, EchoThroughEveryCipherWithAndWithoutFec) {
  SessionOptions o = Fast();
  o.crypt = std::get<0>(GetParam());
  o.key = "kcpp test key";
  if (std::get<1>(GetParam())) {
    o.data_shards = 10;
    o.parity_shards = 3;
  }
  Pair p = MakePair(o, 1);
  EchoServer echo(*p.listener);
  ASSERT_TRUE(Transfer(*p.client, *p.client, 256 * 1024, Guard()).ok());
  absl::StatusOr<SessionInfo> info = p.client->GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counters.checksum_errors, 0u);
  if (std::get<1>(GetParam())) {
    EXPECT_GT(info->counters.fec_parity_shards, 0u);
  }
}

std::vector<std::string> CipherNames() {
  std::vector<std::string> names;
  for (absl::string_view n : crypt::SupportedCipherNames()) names.emplace_back(n);
  return names;
}

INSTANTIATE_TEST_SUITE_P(All, CipherFec,
                         ::testing::Combine(::testing::ValuesIn(CipherNames()), ::testing::Bool()),
                         [](const auto& info) {
                           std::string name = std::string(std::get<0>(info.param)) +
                                              (std::get<1>(info.param) ? "_fec" : "_nofec");
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// SessionOptions::kcp_flavor: a session under ikcp.c's rules talks to one
// under kcp-go's and to another ikcp one, in stream and message mode.
class Flavors : public ::testing::TestWithParam<std::tuple<std::string, std::string, bool>> {};

TEST_P(Flavors, EchoBetweenFlavors) {
  const auto& [client_flavor, server_flavor, stream] = GetParam();
  SessionOptions server = Fast(stream);
  server.kcp_flavor = server_flavor;
  SessionOptions client = Fast(stream);
  client.kcp_flavor = client_flavor;
  EngineOptions eo;
  eo.loops = 1;
  auto engine = *Engine::Create(eo);
  ListenerOptions lo;
  lo.session = server;
  auto listener = engine->Listen("127.0.0.1:0", lo);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EchoServer echo(**listener);
  auto c = engine->Dial((*listener)->local_address().ToString(), client);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status st = Transfer(**c, **c, 1 << 20, Guard());
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE((*c)->WaitAcknowledged(Guard()).ok());
  absl::StatusOr<SessionInfo> info = (*c)->GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counters.bytes_received, uint64_t{1} << 20);
  // ikcp's receive window is at least 128 segments (ikcp_wndsize).
  if (client_flavor == "ikcp") {
    EXPECT_GE(info->receive_window, 128u);
  }
}

INSTANTIATE_TEST_SUITE_P(Kcp, Flavors,
                         ::testing::Values(std::make_tuple("ikcp", "kcp-go", true),
                                           std::make_tuple("kcp-go", "ikcp", true),
                                           std::make_tuple("ikcp", "ikcp", true),
                                           std::make_tuple("ikcp", "kcp-go", false)),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param) + "_to_" +
                                              std::get<1>(info.param) +
                                              (std::get<2>(info.param) ? "_stream" : "_message");
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(Engine, MessageModeKeepsBoundariesAcrossFragments) {
  Pair p = MakePair(Fast(/*stream=*/false));
  std::unique_ptr<Session> server;
  std::thread writer([&] {
    for (size_t size : {1u, 1000u, 1376u, 1377u, 5000u, 100000u}) {
      std::vector<uint8_t> m(size, static_cast<uint8_t>(size));
      ASSERT_TRUE(p.client->Write(m, Guard()).ok());
    }
  });
  auto s = p.listener->Accept(Guard());
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<uint8_t> buf(200000);
  for (size_t size : {1u, 1000u, 1376u, 1377u, 5000u, 100000u}) {
    absl::StatusOr<size_t> n = (*s)->Read(absl::MakeSpan(buf), Guard());
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, size);
    EXPECT_EQ(buf[0], static_cast<uint8_t>(size));
    EXPECT_EQ(buf[size - 1], static_cast<uint8_t>(size));
  }
  writer.join();
  // A message over 255 fragments is refused up front, not truncated.
  std::vector<uint8_t> huge(256 * 1400);
  EXPECT_EQ(p.client->Write(huge).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Engine, AcceptedSessionsAdvertiseTheListenersWindowFromTheFirstPacket) {
  SessionOptions o = Fast();
  o.receive_window = 1024;
  Pair p = MakePair(o);
  const uint8_t one[1] = {42};
  ASSERT_TRUE(p.client->Write(one).ok());
  ASSERT_TRUE(p.client->WaitAcknowledged(Guard()).ok());
  // The very first ACK carried the listener's 1024-segment window (kcp-go's
  // new server sessions start at 32 until Accept tunes them).
  EXPECT_GT(p.client->GetInfo()->remote_window, 1000u);
}

TEST(Engine, CloseFlushesWhatWasWritten) {
  Pair p = MakePair(Fast());
  ASSERT_TRUE(WritePattern(*p.client, 1 << 20).ok());
  p.client->Close();
  EXPECT_EQ(p.client->Write(absl::MakeConstSpan(std::vector<uint8_t>(1))).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto s = p.listener->Accept(Guard());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(ReadPattern(**s, 1 << 20, Guard()).ok());
}

// A closing session that an input finishes (it acknowledged the last data)
// still acknowledges what that same input carried: its peer may be closing
// too, or answering kcpd's close notice (docs/protocol.md §6.2), and waits
// for that ACK. The ACK used to be deferred to the end of the receive
// batch and was lost with the session: the peer retransmitted into the void
// until its dead link ended it.
TEST(Engine, ACloseFinishedByAnInputStillAcknowledgesIt) {
  Pair p = MakePair(Fast());  // no ack_nodelay: ACKs wait for the batch's end
  Session* closer = p.client.get();
  const std::vector<uint8_t> hi = {'h', 'i'}, go = {'g', 'o'};
  const std::vector<uint8_t> ping = {'p', 'i', 'n', 'g'}, pong = {'p', 'o', 'n', 'g'};
  ASSERT_EQ(*closer->Write(hi), hi.size());
  absl::StatusOr<std::unique_ptr<Session>> accepted = p.listener->Accept(Guard());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  Session* peer = accepted->get();
  std::vector<uint8_t> buf(16);
  ASSERT_EQ(*peer->Read(absl::MakeSpan(buf), Guard()), hi.size());

  // On their loop threads: the closer, told "go", writes "ping" and closes
  // (one kick: "ping" leaves as the closing session's last data); the peer
  // answers "ping" with "pong" at once, so one datagram carries both the
  // ACK that finishes the closer and "pong".
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::Status> closer_end;
  SessionCallbacks cc;
  cc.on_readable = [closer] {
    uint8_t b[16];
    if (!closer->TryRead(absl::MakeSpan(b)).ok()) return;
    closer->TryWrite(absl::MakeConstSpan(std::vector<uint8_t>{'p', 'i', 'n', 'g'})).IgnoreError();
    closer->Close();
  };
  cc.on_closed = [&](absl::Status why) {
    std::lock_guard<std::mutex> lock(mu);
    closer_end = std::move(why);
    cv.notify_all();
  };
  closer->SetCallbacks(std::move(cc));
  SessionCallbacks pc;
  pc.on_readable = [peer] {
    uint8_t b[16];
    absl::StatusOr<size_t> n = peer->TryRead(absl::MakeSpan(b));
    if (n.ok() && *n == 4) {
      peer->TryWrite(absl::MakeConstSpan(std::vector<uint8_t>{'p', 'o', 'n', 'g'})).IgnoreError();
    }
  };
  peer->SetCallbacks(std::move(pc));
  ASSERT_EQ(*peer->Write(go), go.size());

  // Without the closer's last ACK this fails (dead link), it does not hang.
  const absl::Status acknowledged = peer->WaitAcknowledged();
  EXPECT_TRUE(acknowledged.ok()) << acknowledged;
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_until(lock, absl::ToChronoTime(Guard()),
                            [&] { return closer_end.has_value(); }));
  EXPECT_TRUE(closer_end->ok()) << *closer_end;
}

// The same for a session with nothing in flight that closes on reading its
// peer's last data (kcpd's answer to a close notice): the ACK of that data
// waited for the next flush interval, which the session, finished at once,
// never reached.
TEST(Engine, AClosedSessionAcknowledgesWhatItReceivedLast) {
  Pair p = MakePair(Fast());
  const std::vector<uint8_t> hi = {'h', 'i'}, bye = {'b', 'y', 'e'};
  ASSERT_EQ(*p.client->Write(hi), hi.size());
  absl::StatusOr<std::unique_ptr<Session>> accepted = p.listener->Accept(Guard());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  Session* closer = accepted->get();
  std::vector<uint8_t> buf(16);
  ASSERT_EQ(*closer->Read(absl::MakeSpan(buf), Guard()), hi.size());
  ASSERT_TRUE(p.client->WaitAcknowledged(Guard()).ok());
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::Status> closer_end;
  SessionCallbacks cc;
  cc.on_readable = [closer] {
    uint8_t b[16];
    if (closer->TryRead(absl::MakeSpan(b)).ok()) closer->Close();
  };
  cc.on_closed = [&](absl::Status why) {
    std::lock_guard<std::mutex> lock(mu);
    closer_end = std::move(why);
    cv.notify_all();
  };
  closer->SetCallbacks(std::move(cc));
  ASSERT_EQ(*p.client->Write(bye), bye.size());
  // Without the closer's last ACK this fails (dead link), it does not hang.
  const absl::Status acknowledged = p.client->WaitAcknowledged();
  EXPECT_TRUE(acknowledged.ok()) << acknowledged;
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_until(lock, absl::ToChronoTime(Guard()),
                            [&] { return closer_end.has_value(); }));
  EXPECT_TRUE(closer_end->ok()) << *closer_end;
}

TEST(Engine, DeadLinkFailsTheSessionWithAClearError) {
  EngineOptions eo;
  eo.loops = 1;
  auto engine = *Engine::Create(eo);
  // A port nobody answers on.
  auto silent = engine->Listen("127.0.0.1:0", {});
  const std::string to = (*silent)->local_address().ToString();
  silent->reset();
  SessionOptions o = Fast();
  o.dead_link = 3;
  o.dead_link_min_ms = 0;
  auto c = engine->Dial(to, o);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Write(absl::MakeConstSpan(std::vector<uint8_t>(10, 1))).ok());
  std::vector<uint8_t> buf(10);
  absl::StatusOr<size_t> r = (*c)->Read(absl::MakeSpan(buf), Guard());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("dead link"), absl::string_view::npos) << r.status();
  EXPECT_EQ((*c)->WaitAcknowledged().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*c)->GetInfo()->state, SessionInfo::State::kFailed);
}

TEST(Engine, CallbacksInstalledAfterTheEndStillReportIt) {
  EngineOptions eo;
  eo.loops = 1;
  auto engine = *Engine::Create(eo);
  SessionOptions o;
  o.idle_timeout_ms = 50;
  auto c = engine->Dial("127.0.0.1:9", o);  // discard port: nothing answers
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> buf(10);
  ASSERT_EQ((*c)->Read(absl::MakeSpan(buf), Guard()).status().code(),
            absl::StatusCode::kUnavailable);  // it has ended
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::Status> closed;
  SessionCallbacks cb;
  cb.on_closed = [&](absl::Status why) {
    std::lock_guard<std::mutex> lock(mu);
    closed = std::move(why);
    cv.notify_all();
  };
  (*c)->SetCallbacks(std::move(cb));
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_until(lock, absl::ToChronoTime(Guard()), [&] { return closed.has_value(); }));
  EXPECT_EQ(closed->code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(closed->message().find("idle timeout"), absl::string_view::npos) << *closed;
}

TEST(Engine, IdleTimeoutFailsASilentSession) {
  EngineOptions eo;
  eo.loops = 1;
  auto engine = *Engine::Create(eo);
  SessionOptions o;
  o.idle_timeout_ms = 100;
  auto c = engine->Dial("127.0.0.1:9", o);  // discard port: nothing answers
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> buf(10);
  absl::StatusOr<size_t> r = (*c)->Read(absl::MakeSpan(buf), Guard());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("idle timeout"), absl::string_view::npos) << r.status();
}

TEST(Engine, DestroyingTheEngineFailsLiveHandles) {
  Pair p = MakePair(Fast());
  EchoServer echo(*p.listener);
  ASSERT_TRUE(Transfer(*p.client, *p.client, 1000, Guard()).ok());
  echo.Stop();
  p.engine.reset();
  std::vector<uint8_t> buf(10);
  EXPECT_EQ(p.client->Read(absl::MakeSpan(buf)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(p.client->Write(buf).status().code(), absl::StatusCode::kUnavailable);
  absl::StatusOr<SessionInfo> info = p.client->GetInfo();
  ASSERT_TRUE(info.ok());  // the last snapshot survives
  EXPECT_EQ(info->counters.bytes_received, 1000u);
  EXPECT_EQ(p.listener->Accept(absl::InfinitePast()).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(Engine, AsynchronousFormEchoesWithCallbacksOnly) {
  Pair p = MakePair(Fast());
  std::mutex mu;
  std::vector<std::unique_ptr<Session>> servers;  // kept alive
  p.listener->SetAcceptCallback([&](std::unique_ptr<Session> s) {
    Session* raw = s.get();
    {
      std::lock_guard<std::mutex> l(mu);
      servers.push_back(std::move(s));
    }
    // Echo on the loop thread: read what is there, write it back. The
    // outbound queue (1 MiB) is larger than this test's 512 KiB, so a
    // write never has to wait for on_writable.
    SessionCallbacks cb;
    cb.on_readable = [raw] {
      uint8_t buf[16384];
      while (true) {
        absl::StatusOr<size_t> n = raw->TryRead(absl::MakeSpan(buf));
        if (!n.ok()) return;
        ASSERT_EQ(*raw->TryWrite(absl::MakeConstSpan(buf, *n)), *n);
      }
    };
    raw->SetCallbacks(std::move(cb));
  });
  ASSERT_TRUE(Transfer(*p.client, *p.client, 512 * 1024, Guard()).ok());
}

// Engine::event_loop(session->loop_index()) is the thread the session's
// callbacks run on, so an owner's own tasks there need no hand-off: a task
// posted to that loop reads the session the callback announced.
TEST(Engine, SessionCallbacksRunOnTheLoopItsIndexNames) {
  Pair p = MakePair(Fast(), /*loops=*/2);
  Session& client = *p.client;
  ASSERT_GE(client.loop_index(), 0);
  ASSERT_LT(client.loop_index(), p.engine->loop_count());
  EventLoop& home = p.engine->event_loop(client.loop_index());
  Latch echoed;
  std::string got;      // on `home` only until `echoed`
  bool on_home = true;  // likewise
  SessionCallbacks cb;
  cb.on_readable = [&] {
    on_home = on_home && home.IsLoopThread();
    home.Post([&] {
      on_home = on_home && home.IsLoopThread();
      uint8_t buf[64];
      absl::StatusOr<size_t> n = client.TryRead(absl::MakeSpan(buf));
      if (!n.ok()) return;
      got.append(reinterpret_cast<const char*>(buf), *n);
      if (got.size() == 4) echoed.CountDown();
    });
  };
  client.SetCallbacks(std::move(cb));
  const uint8_t ping[4] = {'p', 'i', 'n', 'g'};
  ASSERT_TRUE(client.Write(absl::MakeConstSpan(ping)).ok());
  absl::StatusOr<std::unique_ptr<Session>> server = p.listener->Accept(Guard());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_LT((*server)->loop_index(), p.engine->loop_count());
  uint8_t echo[4];
  for (size_t have = 0; have < 4;) {
    absl::StatusOr<size_t> n = (*server)->Read(absl::MakeSpan(echo + have, 4 - have), Guard());
    ASSERT_TRUE(n.ok()) << n.status();
    have += *n;
  }
  ASSERT_TRUE((*server)->Write(absl::MakeConstSpan(echo)).ok());
  echoed.Wait();
  EXPECT_EQ(got, "ping");
  EXPECT_TRUE(on_home);
}

TEST(Engine, BusyPollBudgetIsValidatedAndItsPollsAreCounted) {
  EngineOptions bad;
  bad.busy_poll_us = 1001;
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("busy_poll_us"), std::string::npos);
  bad.busy_poll_us = -1;
  EXPECT_FALSE(Engine::Create(bad).ok());

  // The default polls: an echo leaves polls counted (hits never exceed them).
  Pair p = MakePair(Fast(), /*loops=*/1);
  EchoServer echo(*p.listener);
  ASSERT_TRUE(Transfer(*p.client, *p.client, 64 * 1024, Guard()).ok());
  const EngineStats stats = p.engine->GetStats();
  EXPECT_GT(stats.busy_polls, 0u);
  EXPECT_LE(stats.busy_poll_hits, stats.busy_polls);

  EngineOptions off;
  off.loops = 1;
  off.busy_poll_us = 0;
  std::unique_ptr<Engine> quiet = *Engine::Create(off);
  ListenerOptions lo;
  lo.session = Fast();
  std::unique_ptr<Listener> l = *quiet->Listen("127.0.0.1:0", lo);
  EchoServer quiet_echo(*l);
  std::unique_ptr<Session> c = *quiet->Dial(l->local_address().ToString(), Fast());
  ASSERT_TRUE(Transfer(*c, *c, 64 * 1024, Guard()).ok());
  EXPECT_EQ(quiet->GetStats().busy_polls, 0u);
}

// A KCP PUSH as a peer without crypt or FEC sends it (docs/protocol.md §2).
std::vector<uint8_t> Push(uint32_t conv, uint32_t sn, uint32_t una, const std::string& data) {
  kcp::SegmentHeader h;
  h.conv = conv;
  h.cmd = kcp::kCmdPush;
  h.wnd = 128;
  h.sn = sn;
  h.una = una;
  h.len = static_cast<uint32_t>(data.size());
  std::vector<uint8_t> d(kcp::kSegmentHeaderSize + data.size());
  kcp::EncodeSegmentHeader(h, d.data());
  std::copy(data.begin(), data.end(), d.begin() + kcp::kSegmentHeaderSize);
  return d;
}

// A peer whose session here ended keeps sending the rest of its
// conversation; having received nothing, its una is 0, so the listener makes
// a new session of it. That session can never deliver (segment 0 went to the
// old one): it fails with a clear error once segment 0 is overdue, and the
// conversation is refused from then on, so the peer reaches dead link
// instead of talking to a session that acknowledges and never delivers.
TEST(Engine, AConversationThatBeganBeforeItsSessionFailsAndIsRefused) {
  EngineOptions eo;
  eo.loops = 1;
  std::unique_ptr<Engine> engine = *Engine::Create(eo);
  ListenerOptions lo;
  lo.session = Fast();
  lo.session.dead_link_min_ms = 0;  // the check's 1 s floor applies
  std::unique_ptr<Listener> listener = *engine->Listen("127.0.0.1:0", lo);
  auto peer = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
  ASSERT_TRUE(peer.ok());
  const SocketAddress to = listener->local_address();
  auto send = [&](const std::vector<uint8_t>& d) {
    OutgoingDatagram out[] = {{d, &to}};
    ASSERT_EQ(*(*peer)->SendBatch(out), 1u);
  };
  constexpr uint32_t kConv = 0x5eed;
  uint32_t sn = 5;  // segments 0..4 went to the session that ended
  send(Push(kConv, sn++, 0, "x"));
  absl::StatusOr<std::unique_ptr<Session>> ghost = listener->Accept(Guard());
  ASSERT_TRUE(ghost.ok()) << ghost.status();
  absl::Status failed;
  uint8_t buf[64];
  const absl::Time hang_guard = Guard();
  while (true) {
    send(Push(kConv, sn++, 0, "x"));
    absl::StatusOr<size_t> n =
        (*ghost)->Read(absl::MakeSpan(buf), absl::Now() + absl::Milliseconds(50));
    ASSERT_FALSE(n.ok()) << "delivered bytes without segment 0";
    if (!absl::IsDeadlineExceeded(n.status())) {
      failed = n.status();
      break;
    }
    ASSERT_LT(absl::Now(), hang_guard) << "the session never failed";
  }
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_NE(failed.message().find("segment 0 never arrived"), std::string::npos) << failed;

  // Refused from now on: the datagrams are counted, no session is made.
  const uint64_t dropped = listener->GetStats().dropped_mid_conversation;
  send(Push(kConv, sn++, 0, "x"));
  const absl::Time guard = Guard();
  while (listener->GetStats().dropped_mid_conversation == dropped && absl::Now() < guard) {
    std::this_thread::yield();
  }
  EXPECT_GT(listener->GetStats().dropped_mid_conversation, dropped);
  EXPECT_EQ(listener->GetStats().sessions_created, 1u);

  // The same peer starting over (segment 0) is let in, and delivers.
  send(Push(kConv, 0, 0, "hi"));
  absl::StatusOr<std::unique_ptr<Session>> fresh = listener->Accept(Guard());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  absl::StatusOr<size_t> n = (*fresh)->Read(absl::MakeSpan(buf), Guard());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf), *n), "hi");
}

TEST(Engine, OutOfBandDatagramsArriveBesideTheStream) {
  SessionOptions o = Fast();
  o.data_shards = 4;
  o.parity_shards = 1;
  Pair p = MakePair(o);
  EXPECT_GT(p.client->oob_max_size(), 1000u);
  Latch got;
  std::vector<uint8_t> received;
  p.listener->SetAcceptCallback([&](std::unique_ptr<Session> s) {
    Session* raw = s.release();  // lives until the engine goes
    SessionCallbacks cb;
    cb.on_oob = [&](absl::Span<const uint8_t> d) {
      if (d.size() == 3) {
        received.assign(d.begin(), d.end());
        got.CountDown();
      }
    };
    raw->SetCallbacks(std::move(cb));
    std::thread([raw] {  // keep the handle until the session fails at teardown
      std::vector<uint8_t> b(100);
      while (raw->Read(absl::MakeSpan(b)).ok()) {
      }
      delete raw;
    })
        .detach();
  });
  // The first stream byte creates the server session; OOB follows.
  ASSERT_TRUE(p.client->Write(absl::MakeConstSpan(std::vector<uint8_t>(1, 7))).ok());
  ASSERT_TRUE(p.client->WaitAcknowledged(Guard()).ok());
  const uint8_t oob[3] = {1, 2, 3};
  ASSERT_TRUE(p.client->SendOob(oob).ok());
  got.Wait();
  EXPECT_EQ(received, (std::vector<uint8_t>{1, 2, 3}));
  SessionOptions no_fec = Fast();
  Pair q = MakePair(no_fec, 1);
  EXPECT_EQ(q.client->SendOob(oob).code(), absl::StatusCode::kFailedPrecondition);
  p.engine.reset();
}

// What a kcp-go listener before v5.6.60 (no OOB) would misread as a new
// session is never sent: a datagram before the peer has answered (its
// address has no session there yet), and one whose payload is 12 bytes or
// more and starts with four zero bytes (read as sn 0 of conv 0xFFFFFFFF,
// which replaces the live session).
TEST(Engine, OutOfBandDatagramsAnOldKcpGoListenerWouldMisreadAreRefused) {
  SessionOptions o = Fast();
  o.data_shards = 4;
  o.parity_shards = 1;
  Pair p = MakePair(o);
  const uint8_t small[3] = {1, 2, 3};
  EXPECT_EQ(p.client->SendOob(small).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(p.client->Write(absl::MakeConstSpan(std::vector<uint8_t>(1, 7))).ok());
  ASSERT_TRUE(p.client->WaitAcknowledged(Guard()).ok());
  EXPECT_TRUE(p.client->SendOob(small).ok());
  std::vector<uint8_t> zeros(12, 0);
  zeros[4] = 9;
  const absl::Status refused = p.client->SendOob(zeros);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("four zero bytes"), std::string::npos) << refused;
  zeros.resize(11);
  EXPECT_TRUE(p.client->SendOob(zeros).ok());
  std::vector<uint8_t> nonzero(12, 0);
  nonzero[3] = 1;
  EXPECT_TRUE(p.client->SendOob(nonzero).ok());
  absl::StatusOr<SessionInfo> info = p.client->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->counters.oob_packets_sent, 3u);
}

TEST(Engine, TuningAWindowReachesThePeerWithoutData) {
  Pair p = MakePair(Fast());
  const uint8_t one[1] = {1};
  ASSERT_TRUE(p.client->Write(one).ok());
  auto s = p.listener->Accept(Guard());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(p.client->WaitAcknowledged(Guard()).ok());
  EXPECT_LE(p.client->GetInfo()->remote_window, 256u);
  SessionTuning t;
  t.receive_window = 4096;
  ASSERT_TRUE((*s)->Tune(t).ok());
  // The server announced the window at once; the client sees it after the
  // next datagram from the server, which the announcement itself is.
  uint8_t buf[1];
  ASSERT_TRUE((*s)->Read(absl::MakeSpan(buf), Guard()).ok());
  ASSERT_TRUE((*s)->Write(one).ok());
  ASSERT_TRUE(p.client->Read(absl::MakeSpan(buf), Guard()).ok());
  EXPECT_GT(p.client->GetInfo()->remote_window, 4000u);
  t.receive_window = 100000;
  EXPECT_EQ((*s)->Tune(t).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Engine, BacklogBoundsSessionsNobodyAccepted) {
  EngineOptions eo;
  eo.loops = 1;
  auto engine = *Engine::Create(eo);
  ListenerOptions lo;
  lo.session = Fast();
  lo.accept_backlog = 3;
  auto listener = *engine->Listen("127.0.0.1:0", lo);
  std::vector<std::unique_ptr<Session>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(*engine->Dial(listener->local_address().ToString(), lo.session));
    const uint8_t b[1] = {static_cast<uint8_t>(i)};
    ASSERT_TRUE(clients.back()->Write(b).ok());
  }
  // Three sessions wait; the others' datagrams are dropped (and retried).
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(listener->Accept(Guard()).ok());
  ListenerStats stats = listener->GetStats();
  EXPECT_GT(stats.dropped_backlog_full, 0u);
  EXPECT_LE(stats.sessions_created, 6u);
  // Room again: the retransmissions of the rest get in.
  for (int i = 3; i < 6; ++i) ASSERT_TRUE(listener->Accept(Guard()).ok());
}

TEST(Engine, ListenerCloseKeepsAcceptedSessionsServing) {
  Pair p = MakePair(Fast());
  ASSERT_TRUE(WritePattern(*p.client, 1000).ok());
  auto s = p.listener->Accept(Guard());
  ASSERT_TRUE(s.ok());
  p.listener->Close();
  EXPECT_EQ(p.listener->Accept().status().code(), absl::StatusCode::kUnavailable);
  // The accepted session still works both ways.
  ASSERT_TRUE(ReadPattern(**s, 1000, Guard()).ok());
  ASSERT_TRUE(Transfer(**s, *p.client, 100000, Guard()).ok());
  // A new client is not accepted any more.
  auto late = p.engine->Dial(p.listener->local_address().ToString(), Fast());
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE((*late)->Write(absl::MakeConstSpan(std::vector<uint8_t>(1))).ok());
  EXPECT_EQ(p.listener->Accept(absl::InfinitePast()).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(Engine, OptionsAreValidatedWithFieldNames) {
  auto engine = *Engine::Create({});
  SessionOptions o;
  o.crypt = "rot13";
  EXPECT_EQ(engine->Dial("127.0.0.1:1", o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.mtu = 60;
  o.crypt = "aes-128-gcm";
  o.data_shards = 10;
  o.parity_shards = 3;
  absl::Status s = engine->Dial("127.0.0.1:1", o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("mtu"), absl::string_view::npos) << s;
  EXPECT_EQ(engine->Dial("localhost:1", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Engine, AcceptedSessionsFollowAPeerWhoseNatRebinds) {
  EngineOptions eo;
  eo.loops = 2;  // the new address may land on the other loop's socket
  auto engine = *Engine::Create(eo);
  ListenerOptions lo;
  lo.session = Fast();
  auto listener = *engine->Listen("127.0.0.1:0", lo);
  tools::LossyRelay::Options ro;
  ro.target = listener->local_address();
  ro.rebind_every_ms = 150;  // a new source port several times per transfer
  auto relay = tools::LossyRelay::Start(ro);
  ASSERT_TRUE(relay.ok());
  SessionOptions co = lo.session;
  co.keepalive_ms = 50;  // a client that only receives must still be found
  auto client = *engine->Dial((*relay)->address().ToString(), co);
  ASSERT_TRUE(client->Write(absl::MakeConstSpan(std::vector<uint8_t>(1, 0))).ok());
  auto server = listener->Accept(Guard());
  ASSERT_TRUE(server.ok());
  uint8_t first[1];
  ASSERT_TRUE((*server)->Read(absl::MakeSpan(first), Guard()).ok());
  // Both directions keep flowing across the rebinds: rounds go on until the
  // relay has rebound a few times (how many rounds that takes depends on
  // the machine's speed; the cap only stops a runaway).
  for (int round = 0; round < 4 || ((*relay)->stats().rebinds < 3 && round < 2000); ++round) {
    absl::Status up = Transfer(*client, **server, 1 << 20, Guard());
    ASSERT_TRUE(up.ok()) << up << "\n" << testing::Describe(*(*server)->GetInfo());
    absl::Status down = Transfer(**server, *client, 1 << 20, Guard());
    ASSERT_TRUE(down.ok()) << down << "\nclient: " << testing::Describe(*client->GetInfo())
                           << "\nserver: " << testing::Describe(*(*server)->GetInfo()) << " moves "
                           << (*server)->GetInfo()->counters.address_changes << " remote "
                           << (*server)->remote_address().ToString() << " relay rebinds "
                           << (*relay)->stats().rebinds;
  }
  ASSERT_GE((*relay)->stats().rebinds, 3u);
  EXPECT_GT((*server)->GetInfo()->counters.address_changes, 0u);
  EXPECT_GT(listener->GetStats().sessions_moved, 0u);
  EXPECT_EQ(listener->GetStats().sessions_created, 1u);  // no second, stuck session
}

TEST(Engine, TwoClientsWithTheSameConvGetTwoSessions) {
  // A new conversation (PUSH sn 0) from another address is a new session,
  // not the first session's peer moving (convs are random and may collide).
  Pair p = MakePair(Fast());
  EchoServer echo(*p.listener);
  auto a = *p.engine->Dial(p.listener->local_address().ToString(), Fast(), /*conv=*/77);
  auto b = *p.engine->Dial(p.listener->local_address().ToString(), Fast(), /*conv=*/77);
  ASSERT_TRUE(Transfer(*a, *a, 100000, Guard()).ok());
  ASSERT_TRUE(Transfer(*b, *b, 100000, Guard()).ok());
  EXPECT_EQ(echo.sessions_accepted(), 2);
  EXPECT_EQ(p.listener->GetStats().sessions_moved, 0u);
}

}  // namespace
}  // namespace kcpp::transport
