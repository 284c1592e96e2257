#include "kcpd/testing/fake_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/testing/test_util.h"

namespace kcpp::service {
namespace {

using kcpp::v1::SessionEvent;
using testing::RecordingSink;
using testing::SocketPair;

SessionConfig Config(kcpp::v1::Framing framing = kcpp::v1::FRAMING_SMUX, bool stream_mode = false) {
  kcpp::v1::SessionOptions p;
  p.set_framing(framing);
  p.set_stream_mode(stream_mode);
  return *internal::SessionConfigFromProto(p, "options");
}

ListenerConfig Listen(const std::string& address, kcpp::v1::Framing framing) {
  kcpp::v1::Listener l;
  l.set_address(address);
  l.mutable_session_options()->set_framing(framing);
  return *internal::ListenerConfigFromProto(l, "listener");
}

transport::SocketAddress Addr(const std::string& text) {
  return *transport::SocketAddress::Parse(text);
}

class FakeBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { backend_.SetEventSink(&sink_); }

  // A dialled stream and its accepted twin, both attached to socketpairs;
  // returns the two application ends.
  std::pair<UniqueFd, UniqueFd> ConnectedPair(kcpp::v1::Framing framing, int socket_type,
                                              std::string* dialled_session = nullptr,
                                              std::string* accepted_stream = nullptr) {
    auto l = backend_.CreateListener("l", Listen("127.0.0.1:4000", framing));
    EXPECT_TRUE(l.ok()) << l.status();
    auto d = backend_.Dial(Addr("127.0.0.1:4000"), Config(framing), 0);
    EXPECT_TRUE(d.ok()) << d.status();
    std::optional<SessionEvent> a;
    for (const auto& e : sink_.events()) {
      if (e.type() == SessionEvent::STREAM_ACCEPTED) a = e;
    }
    EXPECT_TRUE(a.has_value());
    auto [app_a, kcpd_a] = SocketPair(socket_type);
    auto [app_b, kcpd_b] = SocketPair(socket_type);
    const StreamRef ra = *Ref(d->stream.name());
    const StreamRef rb = *Ref(a->stream().name());
    EXPECT_TRUE(backend_.AttachStream(ra, std::move(kcpd_a)).ok());
    EXPECT_TRUE(backend_.AttachStream(rb, std::move(kcpd_b)).ok());
    if (dialled_session != nullptr) *dialled_session = d->session.name();
    if (accepted_stream != nullptr) *accepted_stream = a->stream().name();
    return {std::move(app_a), std::move(app_b)};
  }

  static std::optional<StreamRef> Ref(const std::string& name) {
    // "sessions/N/streams/M"
    StreamRef r;
    if (sscanf(name.c_str(), "sessions/%lu/streams/%u", &r.session_id, &r.stream_id) != 2) {
      return std::nullopt;
    }
    return r;
  }

  RecordingSink sink_;
  FakeBackend backend_;
};

TEST_F(FakeBackendTest, DialToAListenerAnnouncesBothSides) {
  auto l = backend_.CreateListener("web", Listen("127.0.0.1:0", kcpp::v1::FRAMING_SMUX));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->name(), "listeners/web");
  EXPECT_EQ(l->bound_address(), "127.0.0.1:40000");

  auto d = backend_.Dial(Addr(l->bound_address()), Config(), 77);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->session.name(), "sessions/1");
  EXPECT_EQ(d->session.conv(), 77u);
  EXPECT_EQ(d->stream.name(), "sessions/1/streams/3");  // smux: first client stream id
  EXPECT_FALSE(d->stream.accepted());
  EXPECT_EQ(d->stream.state(), kcpp::v1::Stream::AWAITING_ATTACH);

  const auto events = sink_.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type(), SessionEvent::SESSION_DIALED);
  EXPECT_EQ(events[0].session().name(), "sessions/1");
  EXPECT_EQ(events[1].type(), SessionEvent::SESSION_ACCEPTED);
  EXPECT_EQ(events[1].session().name(), "sessions/2");
  EXPECT_EQ(events[1].session().listener(), "listeners/web");
  EXPECT_EQ(events[1].session().conv(), 77u);
  EXPECT_EQ(events[2].type(), SessionEvent::STREAM_ACCEPTED);
  EXPECT_EQ(events[2].stream().name(), "sessions/2/streams/3");
  EXPECT_TRUE(events[2].stream().accepted());

  auto more = backend_.OpenStream(1);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->name(), "sessions/1/streams/5");
  auto from_server = backend_.OpenStream(2);
  ASSERT_TRUE(from_server.ok());
  EXPECT_EQ(from_server->name(), "sessions/2/streams/2");  // accepting side: even ids
  EXPECT_TRUE(sink_.WaitFor(SessionEvent::STREAM_ACCEPTED, "sessions/1/streams/2").has_value());

  auto got = backend_.GetSession(2, /*with_streams=*/true);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->stream_count(), 3u);
  EXPECT_EQ(got->streams_size(), 3);
  EXPECT_EQ(backend_.GetListener("web")->sessions_accepted(), 1u);
  EXPECT_EQ(backend_.GetListener("web")->active_sessions(), 1u);
}

TEST_F(FakeBackendTest, BytesFlowBothWaysAndEofPropagates) {
  std::string session;
  auto [a, b] = ConnectedPair(kcpp::v1::FRAMING_SMUX, SOCK_STREAM, &session);
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  std::thread writer([&, fd = a.get()] {
    testing::WriteAll(fd, big);
    ::shutdown(fd, SHUT_WR);
  });
  EXPECT_EQ(testing::ReadToEof(b.get()), big);  // all bytes, then EOF
  writer.join();
  testing::WriteAll(b.get(), "reply");
  ::shutdown(b.get(), SHUT_WR);
  EXPECT_EQ(testing::ReadToEof(a.get()), "reply");
  // Both directions ended: both streams close.
  EXPECT_TRUE(sink_.WaitFor(SessionEvent::STREAM_CLOSED, "sessions/1/streams/3").has_value());
  EXPECT_TRUE(sink_.WaitFor(SessionEvent::STREAM_CLOSED, "sessions/2/streams/3").has_value());
  auto s = backend_.GetSession(1, false);
  ASSERT_TRUE(s.ok());  // a smux session outlives its streams
  EXPECT_EQ(s->counters().bytes_sent(), big.size());
  EXPECT_EQ(s->counters().bytes_received(), 5u);
  EXPECT_EQ(backend_.GetStats().counters().bytes_sent(), big.size() + 5);
}

TEST_F(FakeBackendTest, SeqpacketKeepsMessageBoundaries) {
  auto [a, b] = ConnectedPair(kcpp::v1::FRAMING_RAW, SOCK_SEQPACKET);
  for (const std::string& msg :
       {std::string("one"), std::string("two!"), std::string(100000, 'x')}) {
    ASSERT_EQ(::send(a.get(), msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    std::string buf(200000, '\0');
    const ssize_t n = ::recv(b.get(), buf.data(), buf.size(), 0);
    ASSERT_EQ(n, static_cast<ssize_t>(msg.size()));
    EXPECT_EQ(buf.substr(0, n), msg);
  }
}

TEST_F(FakeBackendTest, RawStreamCloseEndsBothSessions) {
  auto [a, b] = ConnectedPair(kcpp::v1::FRAMING_RAW, SOCK_STREAM);
  testing::WriteAll(a.get(), "last words");
  // Let the bytes reach b before the close (they are in flight otherwise;
  // the fake flushes what fits, which is all of it here).
  EXPECT_EQ(testing::ReadN(b.get(), 10), "last words");
  ASSERT_TRUE(backend_.CloseStream({1, 0}, "closed by test").ok());
  EXPECT_EQ(testing::ReadToEof(b.get()), "");  // EOF
  auto closed = sink_.WaitFor(SessionEvent::SESSION_CLOSED, "sessions/1");
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason(), "closed by test");
  EXPECT_EQ(closed->session().state(), kcpp::v1::Session::CLOSED);
  auto dead = sink_.WaitFor(SessionEvent::SESSION_PEER_DEAD, "sessions/2");
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->session().state(), kcpp::v1::Session::PEER_DEAD);
  EXPECT_EQ(backend_.GetSession(1, false).status().code(), absl::StatusCode::kNotFound);
  // The local application's connection was closed too.
  EXPECT_EQ(testing::ReadToEof(a.get()), "");
  const kcpp::v1::Stats stats = backend_.GetStats();
  EXPECT_EQ(stats.sessions_closed(), 2u);
  EXPECT_EQ(stats.peers_dead(), 1u);
  EXPECT_EQ(stats.active_sessions(), 0u);
}

TEST_F(FakeBackendTest, CloseSessionClosesStreamsThenSessionOnBothSides) {
  std::string session;
  auto [a, b] = ConnectedPair(kcpp::v1::FRAMING_SMUX, SOCK_STREAM, &session);
  ASSERT_TRUE(backend_.CloseSession(1).ok());
  EXPECT_EQ(testing::ReadToEof(b.get()), "");
  std::vector<SessionEvent> events = sink_.events();
  // Per session: stream closed before the session's end.
  int stream1 = -1, session1 = -1, stream2 = -1, session2 = -1;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    const auto& e = events[i];
    if (e.type() == SessionEvent::STREAM_CLOSED && e.session().name() == "sessions/1") stream1 = i;
    if (e.type() == SessionEvent::SESSION_CLOSED && e.session().name() == "sessions/1")
      session1 = i;
    if (e.type() == SessionEvent::STREAM_CLOSED && e.session().name() == "sessions/2") stream2 = i;
    // The far side hears of the close, as from a real kcpd (close notice).
    if (e.type() == SessionEvent::SESSION_CLOSED_BY_PEER && e.session().name() == "sessions/2") {
      session2 = i;
      EXPECT_EQ(e.reason(), "closed by the peer");
      EXPECT_EQ(e.session().state(), kcpp::v1::Session::CLOSED);
    }
  }
  EXPECT_GE(stream1, 0);
  EXPECT_GT(session1, stream1);
  EXPECT_GE(stream2, 0);
  EXPECT_GT(session2, stream2);
  EXPECT_EQ(backend_.CloseSession(1).code(), absl::StatusCode::kNotFound);
}

TEST_F(FakeBackendTest, ASlowReaderStopsTheWriter) {
  auto [a, b] = ConnectedPair(kcpp::v1::FRAMING_SMUX, SOCK_STREAM);
  ASSERT_EQ(fcntl(a.get(), F_SETFL, O_NONBLOCK), 0);
  // b never reads: a's writes must stop succeeding after a bounded amount
  // (socket buffers plus the fake's one 64 KiB buffer), not grow memory.
  // The poll timeout below only bounds how long the test keeps offering
  // bytes after the writer stalled; a slow machine ends the loop earlier,
  // which cannot turn a failure into a pass (an unbounded pump would take
  // 64 MiB without stalling).
  const std::string chunk(65536, 'z');
  size_t accepted = 0;
  int would_block_in_a_row = 0;
  while (would_block_in_a_row < 200 && accepted < (64u << 20)) {
    const ssize_t n = ::send(a.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      accepted += static_cast<size_t>(n);
      would_block_in_a_row = 0;
    } else {
      ASSERT_EQ(errno, EAGAIN);
      ++would_block_in_a_row;
      // Give the pump a chance to move bytes (it has room until it does not).
      pollfd p{a.get(), POLLOUT, 0};
      ::poll(&p, 1, 10);
    }
  }
  EXPECT_LT(accepted, 16u << 20) << "the writer was never stopped";
  // And everything accepted arrives once b reads.
  ::shutdown(a.get(), SHUT_WR);
  EXPECT_EQ(testing::ReadToEof(b.get()).size(), accepted);
}

TEST_F(FakeBackendTest, Errors) {
  ASSERT_TRUE(backend_.CreateListener("a", Listen("127.0.0.1:4000", kcpp::v1::FRAMING_RAW)).ok());
  auto same_id = backend_.CreateListener("a", Listen("127.0.0.1:4001", kcpp::v1::FRAMING_RAW));
  EXPECT_EQ(same_id.status().code(), absl::StatusCode::kAlreadyExists);
  auto same_address = backend_.CreateListener("b", Listen("127.0.0.1:4000", kcpp::v1::FRAMING_RAW));
  EXPECT_EQ(same_address.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(same_address.status().message().find("listeners/a"), absl::string_view::npos);
  EXPECT_EQ(backend_.GetListener("zz").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend_.DeleteListener("zz", false).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend_.GetSession(9, false).status().code(), absl::StatusCode::kNotFound);

  auto raw = backend_.Dial(Addr("127.0.0.1:4000"), Config(kcpp::v1::FRAMING_RAW), 0);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->stream.name(), "sessions/1/streams/0");
  EXPECT_EQ(backend_.OpenStream(1).status().code(), absl::StatusCode::kFailedPrecondition);
  auto [app, kcpd] = SocketPair(SOCK_STREAM);
  auto [app2, kcpd2] = SocketPair(SOCK_STREAM);
  ASSERT_TRUE(backend_.AttachStream({1, 0}, std::move(kcpd)).ok());
  EXPECT_EQ(backend_.AttachStream({1, 0}, std::move(kcpd2)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend_.AttachStream({1, 9}, UniqueFd()).code(), absl::StatusCode::kNotFound);
  SessionTuning dscp;
  dscp.dscp = 46;
  EXPECT_EQ(backend_.TuneSession(2, dscp).status().code(), absl::StatusCode::kFailedPrecondition);
  SessionTuning window;
  window.send_window = 512;
  auto tuned = backend_.TuneSession(1, window);
  ASSERT_TRUE(tuned.ok());
  EXPECT_EQ(tuned->options().send_window(), 512u);

  backend_.Shutdown(absl::Now());
  EXPECT_EQ(backend_.Dial(Addr("127.0.0.1:4000"), Config(), 0).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(sink_.WaitFor(SessionEvent::SESSION_CLOSED, "sessions/1").has_value());
}

TEST_F(FakeBackendTest, ListSessionsPagesInIdOrder) {
  ASSERT_TRUE(backend_.CreateListener("l", Listen("127.0.0.1:4000", kcpp::v1::FRAMING_SMUX)).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(backend_.Dial(Addr("127.0.0.1:4000"), Config(), 0).ok());  // + accepted twin
  }
  SessionPage p = backend_.ListSessions(0, 4, "", false);
  ASSERT_EQ(p.sessions.size(), 4u);
  EXPECT_TRUE(p.more);
  EXPECT_EQ(p.sessions[0].name(), "sessions/1");
  EXPECT_EQ(p.sessions[3].name(), "sessions/4");
  p = backend_.ListSessions(4, 4, "", false);
  ASSERT_EQ(p.sessions.size(), 2u);
  EXPECT_FALSE(p.more);
  p = backend_.ListSessions(0, 10, "l", false);
  ASSERT_EQ(p.sessions.size(), 3u);  // the accepted ones: 2, 4, 6
  EXPECT_EQ(p.sessions[2].name(), "sessions/6");
}

}  // namespace
}  // namespace kcpp::service
