// TransportBackend in one process: two backends (two kcpd data planes) over
// loopback UDP, applications played by socketpairs attached to streams.
// (tests/sidecar/ runs the same against real kcpd processes.)
#include "kcpd/transport_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/internal/resource_names.h"
#include "kcpd/testing/test_util.h"

namespace kcpp::service {
namespace {

using kcpp::v1::SessionEvent;
using testing::ReadN;
using testing::ReadToEof;
using testing::RecordingSink;
using testing::SocketPair;
using testing::WriteAll;

kcpp::v1::SessionOptions Options(kcpp::v1::Framing framing = kcpp::v1::FRAMING_SMUX) {
  kcpp::v1::SessionOptions p;
  p.set_framing(framing);
  p.set_mode(kcpp::v1::MODE_FAST3);
  p.set_crypt("aes");
  p.set_key("test key");
  p.set_send_window(256);
  p.set_receive_window(256);
  return p;
}

SessionConfig Config(const kcpp::v1::SessionOptions& p) {
  return *internal::SessionConfigFromProto(p, "options");
}

ListenerConfig Listen(const kcpp::v1::SessionOptions& p) {
  kcpp::v1::Listener l;
  l.set_address("127.0.0.1:0");
  *l.mutable_session_options() = p;
  return *internal::ListenerConfigFromProto(l, "listener");
}

StreamRef Ref(const std::string& name) { return *internal::ParseStreamName(name, "name"); }

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + seed * 7 + (i >> 9)) & 0xff);
  return s;
}

// One kcpd data plane and its recorded events. `io_threads` 0 runs the data
// plane on the transport's loop (kcpd's default), 1 on a thread of its own.
struct Kcpd {
  explicit Kcpd(int io_threads) {
    backend = *TransportBackend::Create({.loops = 1, .io_threads = io_threads});
    backend->SetEventSink(&sink);
  }
  ~Kcpd() {
    backend->Shutdown(absl::Now());
    backend->SetEventSink(nullptr);
  }
  RecordingSink sink;
  std::unique_ptr<TransportBackend> backend;
};

class TransportBackendTest : public ::testing::TestWithParam<int> {
 protected:
  // A listener on `server_`, a dialled session from `client_`; returns the
  // dialled result and the bound address.
  SessionBackend::Dialled DialPair(const kcpp::v1::SessionOptions& o) {
    auto l = server_.backend->CreateListener("l", Listen(o));
    EXPECT_TRUE(l.ok()) << l.status();
    auto d =
        client_.backend->Dial(*transport::SocketAddress::Parse(l->bound_address()), Config(o), 0);
    EXPECT_TRUE(d.ok()) << d.status();
    return *d;
  }
  // Attaches a socketpair end to `stream` of `k`; returns the application end.
  UniqueFd Attach(Kcpd& k, const std::string& stream, int type = SOCK_STREAM) {
    auto [app, kcpd] = SocketPair(type);
    absl::Status s = k.backend->AttachStream(Ref(stream), std::move(kcpd));
    EXPECT_TRUE(s.ok()) << s;
    return std::move(app);
  }
  std::string Accepted(const std::string& stream) {
    auto e = server_.sink.WaitFor(SessionEvent::STREAM_ACCEPTED, stream);
    EXPECT_TRUE(e.has_value()) << stream;
    return e.has_value() ? e->stream().name() : "";
  }
  // The accepted twin of the client's stream: same stream id, the server's
  // session (the first one it accepted).
  std::string Twin(const std::string& client_stream, uint64_t server_session = 1) {
    return internal::StreamName({server_session, Ref(client_stream).stream_id});
  }

  Kcpd server_{GetParam()};
  Kcpd client_{GetParam()};
};

TEST_P(TransportBackendTest, StreamBytesBothWaysAndEofPropagatesBothWays) {
  SessionBackend::Dialled d = DialPair(Options());
  EXPECT_EQ(Ref(d.stream.name()).stream_id, 3u);  // smux: the dialling side's first stream
  UniqueFd a = Attach(client_, d.stream.name());
  const std::string twin = Accepted(Twin(d.stream.name()));
  UniqueFd b = Attach(server_, twin);
  const std::string up = Pattern(3 << 20, 1), down = Pattern(2 << 20, 2);
  std::thread writer([&] {
    WriteAll(a.get(), up);
    ::shutdown(a.get(), SHUT_WR);  // EOF -> FIN -> the far application reads EOF
  });
  EXPECT_EQ(ReadToEof(b.get()), up);
  writer.join();
  // The other direction is still open (half-close), and ends the same way.
  std::thread answer([&] {
    WriteAll(b.get(), down);
    ::shutdown(b.get(), SHUT_WR);
  });
  EXPECT_EQ(ReadToEof(a.get()), down);
  answer.join();
  // FIN both ways: the stream ends on both sides — as a finished stream on
  // the server too, where b's half-close came after kcpd had shut down b's
  // receiving side (the socket then reports a hang-up, which is not b
  // closing its connection).
  for (auto [kcpd, name] : {std::pair{&client_, d.stream.name()}, std::pair{&server_, twin}}) {
    auto e = kcpd->sink.WaitFor(SessionEvent::STREAM_CLOSED, name);
    ASSERT_TRUE(e.has_value()) << name;
    EXPECT_EQ(e->reason(), "both sides finished the stream") << name;
  }
  auto s = client_.backend->GetSession(Ref(d.stream.name()).session_id, true);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->counters().bytes_sent(), up.size());
  EXPECT_EQ(s->counters().bytes_received(), down.size());
  EXPECT_GT(s->counters().packets_sent(), 0u);
  EXPECT_EQ(s->stream_count(), 0u);
  // The transport's loops busy-poll by default: a transfer leaves polls
  // counted in the process-wide stats (hits never exceed them).
  const kcpp::v1::Stats stats = client_.backend->GetStats();
  EXPECT_GT(stats.busy_polls(), 0u);
  EXPECT_LE(stats.busy_poll_hits(), stats.busy_polls());
  // ... and the pools that carried it.
  EXPECT_GT(stats.pool_bytes(), 0u);
  EXPECT_GT(stats.pool_allocations(), 0u);
}

TEST_P(TransportBackendTest, ClosingTheConnectionReachesTheFarApplicationAsEof) {
  SessionBackend::Dialled d = DialPair(Options());
  UniqueFd a = Attach(client_, d.stream.name());
  UniqueFd b = Attach(server_, Accepted(Twin(d.stream.name())));
  WriteAll(b.get(), "last words");
  b.reset();  // close(), not just shutdown
  EXPECT_EQ(ReadToEof(a.get()), "last words");
  auto e = server_.sink.WaitFor(SessionEvent::STREAM_CLOSED, Twin(d.stream.name()));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->reason(), "the application closed its connection");
}

TEST_P(TransportBackendTest, SeveralStreamsShareOneSessionAndStayApart) {
  SessionBackend::Dialled d = DialPair(Options());
  const uint64_t session = Ref(d.stream.name()).session_id;
  std::vector<std::string> names = {d.stream.name()};
  for (int i = 0; i < 4; ++i) {
    auto st = client_.backend->OpenStream(session);
    ASSERT_TRUE(st.ok()) << st.status();
    names.push_back(st->name());
  }
  std::vector<UniqueFd> as, bs;
  for (const std::string& n : names) {
    as.push_back(Attach(client_, n));
    bs.push_back(Attach(server_, Accepted(Twin(n))));
  }
  std::vector<std::thread> writers;
  for (size_t i = 0; i < as.size(); ++i) {
    writers.emplace_back([&, i] {
      WriteAll(as[i].get(), Pattern(300000 + 1000 * i, static_cast<int>(i)));
      ::shutdown(as[i].get(), SHUT_WR);
    });
  }
  for (size_t i = 0; i < bs.size(); ++i) {
    EXPECT_EQ(ReadToEof(bs[i].get()), Pattern(300000 + 1000 * i, static_cast<int>(i))) << i;
  }
  for (auto& w : writers) w.join();
  auto s = server_.backend->ListSessions(0, 10, "", true);
  ASSERT_EQ(s.sessions.size(), 1u);  // one KCP session for all five streams
  EXPECT_EQ(s.sessions[0].stream_count(), 5u);
}

TEST_P(TransportBackendTest, CloseSessionEndsStreamsAndTheFarSideSeesEof) {
  SessionBackend::Dialled d = DialPair(Options());
  UniqueFd a = Attach(client_, d.stream.name());
  UniqueFd b = Attach(server_, Accepted(Twin(d.stream.name())));
  WriteAll(a.get(), "before close");
  EXPECT_EQ(ReadN(b.get(), 12), "before close");
  const uint64_t session = Ref(d.stream.name()).session_id;
  ASSERT_TRUE(client_.backend->CloseSession(session).ok());
  auto closed = client_.sink.WaitFor(SessionEvent::SESSION_CLOSED, d.session.name());
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason(), "closed by CloseSession");
  EXPECT_EQ(ReadToEof(b.get()), "");  // FIN reached the far application
  EXPECT_EQ(ReadToEof(a.get()), "");  // and the local connection is closed
  EXPECT_EQ(client_.backend->GetSession(session, false).status().code(),
            absl::StatusCode::kNotFound);
}

// The close reaches the far kcpd in-band (smux close notice): its
// application gets what was sent and end-of-file, and its session ends as
// SESSION_CLOSED_BY_PEER at once — before, it ended only when the dead link
// or keepalive gave up on the silent peer (SESSION_PEER_DEAD, 15 s).
TEST_P(TransportBackendTest, CloseSessionEndsTheFarSessionAsClosedByPeer) {
  SessionBackend::Dialled d = DialPair(Options());
  UniqueFd a = Attach(client_, d.stream.name());
  const std::string accepted = Accepted(Twin(d.stream.name()));
  UniqueFd b = Attach(server_, accepted);
  WriteAll(a.get(), "before close");
  EXPECT_EQ(ReadN(b.get(), 12), "before close");  // kcpd took it (CloseSession reads no more)
  ASSERT_TRUE(client_.backend->CloseSession(Ref(d.stream.name()).session_id).ok());
  const std::string far = internal::SessionName(Ref(accepted).session_id);
  auto ended = server_.sink.WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER, far);
  ASSERT_TRUE(ended.has_value()) << "the far session did not end as SESSION_CLOSED_BY_PEER";
  EXPECT_EQ(ended->reason(), "closed by the peer");
  EXPECT_EQ(ended->session().state(), kcpp::v1::Session::CLOSED);
  EXPECT_EQ(ReadToEof(b.get()), "");  // end-of-file
  auto closed = client_.sink.WaitFor(SessionEvent::SESSION_CLOSED, d.session.name());
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason(), "closed by CloseSession");
  EXPECT_TRUE(server_.backend->ListSessions(0, 10, "", false).sessions.empty());
  const kcpp::v1::Stats stats = server_.backend->GetStats();
  EXPECT_EQ(stats.sessions_closed(), 1u);
  EXPECT_EQ(stats.peers_dead(), 0u);
  for (const SessionEvent& e : server_.sink.events()) {
    EXPECT_NE(e.type(), SessionEvent::SESSION_PEER_DEAD) << e.ShortDebugString();
    EXPECT_NE(e.type(), SessionEvent::SESSION_CLOSED) << e.ShortDebugString();
  }
}

// The peer's close may come before the far application attached: its
// stream waits for it (until the attach token expires) with the data and
// end-of-file, and the session ends once it is delivered.
TEST_P(TransportBackendTest, ClosedByPeerStillDeliversToALateApplication) {
  SessionBackend::Dialled d = DialPair(Options());
  UniqueFd a = Attach(client_, d.stream.name());
  const std::string accepted = Accepted(Twin(d.stream.name()));
  const std::string data = Pattern(100000, 3);
  WriteAll(a.get(), data);
  // Once kcpd took all of it (CloseSession reads the application no more)...
  const uint64_t session = Ref(d.stream.name()).session_id;
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (true) {  // polls a condition; the limit only bounds a failure
    auto s = client_.backend->GetSession(session, false);
    ASSERT_TRUE(s.ok());
    if (s->counters().bytes_sent() == data.size()) break;
    ASSERT_LT(absl::Now(), limit);
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(client_.backend->CloseSession(session).ok());
  ASSERT_TRUE(client_.sink.WaitFor(SessionEvent::SESSION_CLOSED, d.session.name()).has_value());
  UniqueFd b = Attach(server_, accepted);
  EXPECT_EQ(ReadToEof(b.get()), data);
  const std::string far = internal::SessionName(Ref(accepted).session_id);
  ASSERT_TRUE(server_.sink.WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER, far).has_value());
}

TEST_P(TransportBackendTest, KeepaliveReportsAVanishedPeerAsPeerDead) {
  kcpp::v1::SessionOptions o = Options();
  o.mutable_smux()->mutable_keepalive_interval()->set_nanos(100000000);
  o.mutable_smux()->mutable_keepalive_timeout()->set_nanos(500000000);
  o.set_dead_link(0);
  SessionBackend::Dialled d = DialPair(o);
  UniqueFd a = Attach(client_, d.stream.name());
  // The far application holds its stream open, so the far kcpd's shutdown
  // (its deadline already passed) drops the session without a close
  // notice: it is gone without a word.
  UniqueFd b = Attach(server_, Accepted(Twin(d.stream.name())));
  server_.backend->Shutdown(absl::InfinitePast());
  auto dead = client_.sink.WaitFor(SessionEvent::SESSION_PEER_DEAD, d.session.name());
  ASSERT_TRUE(dead.has_value());
  EXPECT_TRUE(absl::StrContains(dead->reason(), "keepalive")) << dead->reason();
  EXPECT_EQ(ReadToEof(a.get()), "");  // the application's connection closes
  auto stats = client_.backend->GetStats();
  EXPECT_EQ(stats.peers_dead(), 1u);
}

TEST_P(TransportBackendTest, RawStreamSessionCarriesBytes) {
  kcpp::v1::SessionOptions o = Options(kcpp::v1::FRAMING_RAW);
  o.set_stream_mode(true);
  SessionBackend::Dialled d = DialPair(o);
  EXPECT_EQ(Ref(d.stream.name()).stream_id, 0u);
  EXPECT_EQ(client_.backend->OpenStream(Ref(d.stream.name()).session_id).status().code(),
            absl::StatusCode::kFailedPrecondition);
  UniqueFd a = Attach(client_, d.stream.name());
  const std::string up = Pattern(2 << 20, 5);
  std::thread writer([&] { WriteAll(a.get(), up); });
  // The server's session appears with the first datagram.
  UniqueFd b = Attach(server_, Accepted("sessions/1/streams/0"));
  EXPECT_EQ(ReadN(b.get(), up.size()), up);
  writer.join();
  WriteAll(b.get(), "back");
  EXPECT_EQ(ReadN(a.get(), 4), "back");
}

TEST_P(TransportBackendTest, RawMessageSessionKeepsMessageBoundaries) {
  kcpp::v1::SessionOptions o = Options(kcpp::v1::FRAMING_RAW);
  o.set_stream_mode(false);
  SessionBackend::Dialled d = DialPair(o);
  UniqueFd a = Attach(client_, d.stream.name(), SOCK_SEQPACKET);
  std::vector<std::string> messages;
  for (int i = 0; i < 50; ++i) messages.push_back(Pattern(1 + i * 997, i));  // up to ~49 KB
  for (const std::string& m : messages) {
    ASSERT_EQ(::send(a.get(), m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  }
  UniqueFd b = Attach(server_, Accepted("sessions/1/streams/0"), SOCK_SEQPACKET);
  std::string buf(1 << 20, '\0');
  for (const std::string& m : messages) {
    const ssize_t n = ::recv(b.get(), buf.data(), buf.size(), 0);
    ASSERT_EQ(n, static_cast<ssize_t>(m.size()));
    EXPECT_EQ(buf.substr(0, static_cast<size_t>(n)), m);
  }
}

TEST_P(TransportBackendTest, ErrorsNameTheProblem) {
  auto l = server_.backend->CreateListener("l", Listen(Options()));
  ASSERT_TRUE(l.ok());
  kcpp::v1::Listener same;
  same.set_address(l->bound_address());
  auto again =
      server_.backend->CreateListener("m", *internal::ListenerConfigFromProto(same, "listener"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  kcpp::v1::Listener foreign;
  foreign.set_address("192.0.2.1:0");  // TEST-NET-1: not on this host
  auto nowhere =
      server_.backend->CreateListener("n", *internal::ListenerConfigFromProto(foreign, "listener"));
  EXPECT_EQ(nowhere.status().code(), absl::StatusCode::kInvalidArgument) << nowhere.status();
  EXPECT_EQ(server_.backend->GetSession(42, false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(server_.backend->CloseStream({42, 3}, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(server_.backend->DeleteListener("zz", false).code(), absl::StatusCode::kNotFound);
  auto [app, kcpd] = SocketPair(SOCK_STREAM);
  EXPECT_EQ(server_.backend->AttachStream({42, 3}, std::move(kcpd)).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(TransportBackendTest, ShutdownFlushesWhatWasReadAndEndsWithEof) {
  // Room for the whole transfer inside the two kcpd (the far application
  // reads only after the shutdown began).
  kcpp::v1::SessionOptions o = Options();
  o.mutable_smux()->set_max_stream_buffer(4 << 20);
  o.mutable_smux()->set_max_receive_buffer(8 << 20);
  SessionBackend::Dialled d = DialPair(o);
  UniqueFd a = Attach(client_, d.stream.name());
  UniqueFd b = Attach(server_, Accepted(Twin(d.stream.name())));
  const std::string data = Pattern(1 << 20, 9);
  WriteAll(a.get(), data);
  // Once kcpd took all of it (its counter says so)...
  const uint64_t session = Ref(d.stream.name()).session_id;
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (true) {  // polls a condition; the limit only bounds a failure
    auto s = client_.backend->GetSession(session, false);
    ASSERT_TRUE(s.ok());
    if (s->counters().bytes_sent() == data.size()) break;
    ASSERT_LT(absl::Now(), limit);
    absl::SleepFor(absl::Milliseconds(1));
  }
  // ...a shutdown still delivers every byte, then end-of-file.
  std::thread reader([&] {
    EXPECT_EQ(ReadToEof(b.get()), data);
    b.reset();  // the far application is done too: the stream ends both ways
  });
  client_.backend->Shutdown(absl::Now() + absl::Seconds(20));
  reader.join();
  auto closed = client_.sink.WaitFor(SessionEvent::SESSION_CLOSED, d.session.name());
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason(), "kcpd is shutting down");
  // The far kcpd hears of it in-band: its session ends as closed by the peer.
  auto far = server_.sink.WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER,
                                  internal::SessionName(Ref(Twin(d.stream.name())).session_id));
  ASSERT_TRUE(far.has_value());
}

INSTANTIATE_TEST_SUITE_P(DataPlane, TransportBackendTest, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? std::string("OnTransportLoop")
                                                  : std::string("OnOwnIoThread");
                         });

}  // namespace
}  // namespace kcpp::service
