// The sidecar end to end: real kcpd processes (transport backend) on
// loopback, driven through their gRPC API, with this test playing the
// applications on the data sockets.
//
//   app A <-unix-> kcpd A <-UDP/KCP (+smux)-> kcpd B <-unix-> app B
//
// Covers: bytes both ways byte-exact, close propagation both ways (half
// close and full close), several streams over one KCP session kept apart,
// dead-peer detection when the far kcpd is SIGKILLed, SIGTERM in the middle
// of a transfer losing no byte kcpd had taken, a close (CloseSession,
// SIGTERM, `kcpctl connect` exiting) ending the far kcpd's session at once
// as SESSION_CLOSED_BY_PEER, and raw mode against the real kcp-go (stream
// mode; message mode with SOCK_SEQPACKET boundaries).
//
// usage: sidecar_test <kcpd> <kcpgo_peer> <kcpgo_message_peer> <kcpctl>
//        [gtest flags]
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "testing/subprocess.h"
#include "tests/sidecar/kcpd_harness.h"

namespace kcpp::sidecar {
namespace {

using service::testing::Process;
using service::testing::ReadN;
using service::testing::ReadToEof;
using service::testing::ShortTempDir;
using service::testing::WriteAll;
using v1::SessionEvent;

// kcpgo_peer's pattern: byte i = (i*7 + i>>8) & 0xff.
std::string KcpgoPattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + (i >> 8)) & 0xff);
  return s;
}

// FecOptions() with 512-packet windows both ways.
v1::SessionOptions SmuxOptions() {
  v1::SessionOptions o = FecOptions();
  o.set_send_window(512);
  o.set_receive_window(512);
  return o;
}

// `kcpctl connect` through kcpd `k` to `address`, with the crypt, key, mode
// and FEC of SmuxOptions().
std::vector<std::string> KcpctlConnect(const Kcpd& k, const std::string& address) {
  return {Binary("kcpctl"), "--socket=" + k.control(),    "connect",      address,
          "--crypt=aes",    absl::StrCat("--key=", kKey), "--mode=fast3", "--datashard=10",
          "--parityshard=3"};
}

class SidecarTest : public ::testing::Test {
 protected:
  // A dials B's listener; both applications attached to the first stream.
  struct Pair {
    v1::DialSessionResponse dialled;
    v1::Stream accepted;
    UniqueFd a;
    UniqueFd b;
  };
  Pair Connect(Kcpd& a, Kcpd& b, const v1::SessionOptions& o) {
    const Link link = ListenAndDial(a, b, o);
    Pair p;
    p.dialled = link.dialled;
    p.accepted = link.accepted;
    p.a = Attach(p.dialled.stream());
    p.b = Attach(p.accepted);
    return p;
  }
};

TEST_F(SidecarTest, BytesBothWaysExactAndCloseReachesTheOtherSideBothWays) {
  Kcpd a, b;
  Pair p = Connect(a, b, SmuxOptions());
  const std::string up = Pattern(4 << 20, 1), down = Pattern(3 << 20, 2);
  // Both directions at once; each writer half-closes when done (smux FIN).
  std::thread up_writer([&] {
    WriteAll(p.a.get(), up);
    ::shutdown(p.a.get(), SHUT_WR);
  });
  std::thread down_writer([&] {
    WriteAll(p.b.get(), down);
    ::shutdown(p.b.get(), SHUT_WR);
  });
  std::string got_down;
  std::thread down_reader([&] { got_down = ReadToEof(p.a.get()); });
  const std::string got_up = ReadToEof(p.b.get());
  down_reader.join();
  up_writer.join();
  down_writer.join();
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size();
  EXPECT_TRUE(got_down == down) << got_down.size() << " of " << down.size();
  // FIN went both ways: the stream is over on both kcpd.
  EXPECT_TRUE(
      a.events().WaitFor(SessionEvent::STREAM_CLOSED, p.dialled.stream().name()).has_value());
  EXPECT_TRUE(b.events().WaitFor(SessionEvent::STREAM_CLOSED, p.accepted.name()).has_value());

  // A full close() of either application ends the far application's stream
  // (EOF after what was sent), in both directions.
  for (const bool from_dialler : {true, false}) {
    const v1::Stream opened = a.OpenStream(p.dialled.session().name());
    UniqueFd x = Attach(opened);
    const std::string stream_id = opened.name().substr(opened.name().rfind('/') + 1);
    const std::string twin =
        absl::StrCat(p.accepted.name().substr(0, p.accepted.name().rfind('/')), "/", stream_id);
    UniqueFd y = Attach(b.Accepted(twin));
    UniqueFd& closer = from_dialler ? x : y;
    UniqueFd& other = from_dialler ? y : x;
    WriteAll(closer.get(), "goodbye");
    closer.reset();
    EXPECT_EQ(ReadToEof(other.get()), "goodbye") << from_dialler;
    Kcpd& closer_kcpd = from_dialler ? a : b;
    auto e = closer_kcpd.events().WaitFor(SessionEvent::STREAM_CLOSED,
                                          from_dialler ? opened.name() : twin);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason(), "the application closed its connection");
  }
  // Counters: what the applications moved through the dialled session.
  std::optional<v1::Session> s = a.GetSession(p.dialled.session().name());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->counters().bytes_sent(), up.size() + 7);
  EXPECT_EQ(s->counters().bytes_received(), down.size() + 7);
}

// SessionOptions.congestion through the API: both kcpd pace with the
// model-based controller, bytes arrive exact, and the session reports it.
TEST_F(SidecarTest, BbrCongestionControlThroughTheApi) {
  Kcpd a, b;
  v1::SessionOptions o = SmuxOptions();
  o.set_congestion(v1::CONGESTION_CONTROL_BBR);
  Pair p = Connect(a, b, o);
  const std::string up = Pattern(4 << 20, 3);
  std::thread writer([&] {
    WriteAll(p.a.get(), up);
    ::shutdown(p.a.get(), SHUT_WR);
  });
  const std::string got = ReadToEof(p.b.get());
  writer.join();
  EXPECT_TRUE(got == up) << got.size() << " of " << up.size();
  std::optional<v1::Session> s = a.GetSession(p.dialled.session().name());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->options().congestion(), v1::CONGESTION_CONTROL_BBR);
  EXPECT_FALSE(s->options().fec_fixed_parity());
}

TEST_F(SidecarTest, SeveralStreamsShareOneKcpSessionAndStayApart) {
  Kcpd a, b;
  Pair p = Connect(a, b, SmuxOptions());
  std::vector<UniqueFd> as, bs;
  as.push_back(std::move(p.a));
  bs.push_back(std::move(p.b));
  const std::string prefix = p.accepted.name().substr(0, p.accepted.name().rfind('/'));
  for (int i = 0; i < 4; ++i) {
    const v1::Stream opened = a.OpenStream(p.dialled.session().name());
    as.push_back(Attach(opened));
    bs.push_back(
        Attach(b.Accepted(absl::StrCat(prefix, opened.name().substr(opened.name().rfind('/'))))));
  }
  // One KCP session on each side carries all five streams.
  std::optional<v1::Session> far = b.GetSession(SessionOf(p.accepted));
  ASSERT_TRUE(far.has_value());
  EXPECT_EQ(far->stream_count(), 5u);
  EXPECT_EQ(b.Stats().active_sessions(), 1u);
  std::vector<std::thread> writers;
  for (size_t i = 0; i < as.size(); ++i) {
    writers.emplace_back([&, i] {
      WriteAll(as[i].get(), Pattern(500000 + 1000 * i, static_cast<int>(i) + 10));
      ::shutdown(as[i].get(), SHUT_WR);
    });
  }
  for (size_t i = 0; i < bs.size(); ++i) {
    const std::string want = Pattern(500000 + 1000 * i, static_cast<int>(i) + 10);
    EXPECT_TRUE(ReadToEof(bs[i].get()) == want) << "stream " << i;
  }
  for (auto& w : writers) w.join();
}

TEST_F(SidecarTest, KillingTheFarKcpdIsReportedAsPeerDead) {
  Kcpd a;
  auto b = std::make_unique<Kcpd>();
  v1::SessionOptions o = SmuxOptions();
  o.mutable_smux()->mutable_keepalive_interval()->set_nanos(200000000);
  o.mutable_smux()->mutable_keepalive_timeout()->set_seconds(1);
  Pair p = Connect(a, *b, o);
  WriteAll(p.a.get(), "hello");
  EXPECT_EQ(ReadN(p.b.get(), 5), "hello");
  b->process().Signal(SIGKILL);
  EXPECT_EQ(b->process().Wait().exit_code, 128 + SIGKILL);
  auto dead = a.events().WaitFor(SessionEvent::SESSION_PEER_DEAD, p.dialled.session().name());
  ASSERT_TRUE(dead.has_value()) << a.log();
  EXPECT_TRUE(absl::StrContains(dead->reason(), "keepalive")) << dead->reason();
  EXPECT_EQ(dead->session().state(), v1::Session::PEER_DEAD);
  // The application learns it too: its connection ends.
  EXPECT_EQ(ReadToEof(p.a.get()), "");
  EXPECT_EQ(a.Stats().peers_dead(), 1u);
  EXPECT_TRUE(absl::StrContains(a.log(), "peer dead")) << a.log();
}

// A's CloseSession reaches kcpd B within a round trip (the smux close
// notice after the streams' FINs): B's application gets end-of-file, and
// B's session ends as closed by its peer — not 15 s later
// as SESSION_PEER_DEAD, as when nothing told B.
TEST_F(SidecarTest, CloseSessionEndsTheFarSessionAsClosedByPeer) {
  Kcpd a, b;
  Pair p = Connect(a, b, SmuxOptions());
  const std::string data = Pattern(300000, 4);
  WriteAll(p.a.get(), data);
  EXPECT_TRUE(ReadN(p.b.get(), data.size()) == data);  // kcpd A took it all
  v1::CloseSessionRequest close;
  close.set_name(p.dialled.session().name());
  google::protobuf::Empty empty;
  grpc::ClientContext c;
  ASSERT_TRUE(a.stub()->CloseSession(&c, close, &empty).ok());
  EXPECT_EQ(ReadToEof(p.b.get()), "");  // then end-of-file
  const std::string far = SessionOf(p.accepted);
  auto ended = b.events().WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER, far);
  ASSERT_TRUE(ended.has_value()) << b.log();
  EXPECT_EQ(ended->reason(), "closed by the peer");
  EXPECT_EQ(ended->session().state(), v1::Session::CLOSED);
  auto closed = a.events().WaitFor(SessionEvent::SESSION_CLOSED, p.dialled.session().name());
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason(), "closed by CloseSession");
  EXPECT_TRUE(b.Sessions().empty());
  EXPECT_EQ(b.Stats().peers_dead(), 0u);
  EXPECT_TRUE(absl::StrContains(b.log(), "closed: closed by the peer")) << b.log();
}

// `kcpctl connect` closes the session it dialled when its pipe ends: gone
// from the dialling kcpd, and ended on the far one as closed by the peer
// (it used to stay ACTIVE with no stream on both, one per connect).
TEST_F(SidecarTest, KcpctlConnectEndsItsSessionOnBothDaemons) {
  Kcpd a, b;
  const std::string address = b.Listen(SmuxOptions());
  ShortTempDir files;
  WriteFile(files.path() + "/in", "hello from kcpctl");
  // The far application: reads to end-of-file, answers, closes.
  std::thread far_app([&] {
    UniqueFd fd = Attach(b.Accepted());
    EXPECT_EQ(ReadToEof(fd.get()), "hello from kcpctl");
    WriteAll(fd.get(), "hello from b");
  });
  Process::Options connect;
  connect.argv = KcpctlConnect(a, address);
  connect.stdin_path = files.path() + "/in";
  connect.stdout_path = files.path() + "/out";
  const service::testing::ProcessResult r = service::testing::RunProcess(connect);
  far_app.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(files.path() + "/out"), "hello from b");
  auto dialled = a.events().WaitFor(SessionEvent::SESSION_DIALED);
  ASSERT_TRUE(dialled.has_value());
  auto closed = a.events().WaitFor(SessionEvent::SESSION_CLOSED, dialled->session().name());
  ASSERT_TRUE(closed.has_value()) << a.log();
  EXPECT_EQ(closed->reason(), "closed by CloseSession");
  EXPECT_TRUE(a.Sessions().empty());
  auto accepted = b.events().WaitFor(SessionEvent::SESSION_ACCEPTED);
  ASSERT_TRUE(accepted.has_value());
  auto ended = b.events().WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER, accepted->session().name());
  ASSERT_TRUE(ended.has_value()) << b.log();
  EXPECT_TRUE(b.Sessions().empty());
}

// Ctrl-C on an interactive `kcpctl connect` (stdin still open, the far
// application still connected) ends the pipe, not kcpctl: it closes its
// session, and the far kcpd's session ends as closed by the peer.
TEST_F(SidecarTest, KcpctlConnectClosesItsSessionOnSigint) {
  Kcpd a, b;
  const std::string address = b.Listen(SmuxOptions());
  ShortTempDir files;
  const std::string fifo = files.path() + "/stdin";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Read-write: the open does not wait for kcpctl, and kcpctl's stdin never
  // ends while we hold it.
  UniqueFd input(::open(fifo.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(input.valid());
  ASSERT_EQ(::write(input.get(), "typed", 5), 5);
  Process::Options connect;
  connect.argv = KcpctlConnect(a, address);
  connect.stdin_path = fifo;
  std::unique_ptr<Process> kcpctl = Process::Start(connect);
  UniqueFd far = Attach(b.Accepted());
  EXPECT_EQ(ReadN(far.get(), 5), "typed");  // the pipe is up, both ends attached
  kcpctl->Signal(SIGINT);
  const service::testing::ProcessResult r = kcpctl->Wait();
  EXPECT_EQ(r.exit_code, 128 + SIGINT) << r.err;
  auto dialled = a.events().WaitFor(SessionEvent::SESSION_DIALED);
  ASSERT_TRUE(dialled.has_value());
  auto closed = a.events().WaitFor(SessionEvent::SESSION_CLOSED, dialled->session().name());
  ASSERT_TRUE(closed.has_value()) << a.log();
  EXPECT_EQ(closed->reason(), "closed by CloseSession");
  auto accepted = b.events().WaitFor(SessionEvent::SESSION_ACCEPTED);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_TRUE(b.events()
                  .WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER, accepted->session().name())
                  .has_value())
      << b.log();
  EXPECT_EQ(ReadToEof(far.get()), "");
  EXPECT_TRUE(a.Sessions().empty());
}

TEST_F(SidecarTest, SigtermMidTransferLosesNoByteKcpdTook) {
  auto a = std::make_unique<Kcpd>();
  Kcpd b;
  Pair p = Connect(*a, b, SmuxOptions());
  // The writer never finishes on its own: it repeats `data` until kcpd
  // closes its connection, so the SIGTERM always lands mid-transfer.
  const std::string data = Pattern(1 << 20, 3);
  uint64_t written = 0;
  std::thread writer([&] {
    while (true) {
      const size_t at = written % data.size();
      const ssize_t n = ::send(p.a.get(), data.data() + at,
                               std::min<size_t>(64 << 10, data.size() - at), MSG_NOSIGNAL);
      if (n <= 0) break;  // kcpd stopped reading and closed the connection
      written += static_cast<uint64_t>(n);
    }
  });
  // The reader checks what comes against the pattern until end-of-file.
  uint64_t got = 0;
  uint64_t first_difference = UINT64_MAX;
  std::mutex got_mu;
  std::condition_variable got_cv;
  bool ended = false;
  std::thread reader([&] {
    std::vector<char> buf(256 << 10);
    while (true) {
      const ssize_t n = ::recv(p.b.get(), buf.data(), buf.size(), 0);
      if (n <= 0) break;
      std::lock_guard<std::mutex> lock(got_mu);
      for (ssize_t i = 0; i < n; ++i, ++got) {
        if (buf[i] != data[got % data.size()] && first_difference == UINT64_MAX) {
          first_difference = got;
        }
      }
      got_cv.notify_all();
    }
    p.b.reset();  // the far application is done too: the stream ends both ways
    std::lock_guard<std::mutex> lock(got_mu);
    ended = true;
    got_cv.notify_all();
  });
  {  // In the middle of the transfer...
    std::unique_lock<std::mutex> lock(got_mu);
    got_cv.wait(lock, [&] { return got >= (4u << 20) || ended; });
    EXPECT_FALSE(ended) << "the stream ended early";
  }
  // ...what kcpd A has taken from its application so far...
  std::optional<v1::Session> before = a->GetSession(p.dialled.session().name());
  EXPECT_TRUE(before.has_value());
  const uint64_t taken = before.has_value() ? before->counters().bytes_sent() : 0;
  a->process().Signal(SIGTERM);
  reader.join();
  // The sender's connection is closed once kcpd stops.
  const service::testing::ProcessResult r = a->process().Wait();
  writer.join();
  EXPECT_EQ(r.exit_code, 0);
  // ...all arrived, in order, and then a clean end-of-file.
  EXPECT_GE(got, taken);
  EXPECT_LE(got, written);
  EXPECT_EQ(first_difference, UINT64_MAX) << "the bytes that arrived differ";
  const std::string log = a->log();
  EXPECT_FALSE(absl::StrContains(log, "dropping them")) << log;
  EXPECT_TRUE(absl::StrContains(log, "sessions closed")) << log;
  // The far kcpd heard of the shutdown in-band: closed by the peer.
  const std::string far = SessionOf(p.accepted);
  EXPECT_TRUE(b.events().WaitFor(SessionEvent::SESSION_CLOSED_BY_PEER, far).has_value()) << b.log();
}

TEST_F(SidecarTest, ASlowReaderStopsTheWriterWithBoundedBuffering) {
  Kcpd a, b;
  Pair p = Connect(a, b, SmuxOptions());
  // The far application reads nothing. The writer offers 256 MiB without
  // blocking; once a write has found no room for 2 s, back-pressure has
  // reached it (a spuriously early stop only makes the check weaker).
  constexpr uint64_t kOffered = 256 << 20;
  std::vector<char> pattern((64 << 10) + 251);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>(i % 251);
  uint64_t written = 0;
  while (written < kOffered) {
    const ssize_t w =
        ::send(p.a.get(), pattern.data() + written % 251, 64 << 10, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      written += static_cast<uint64_t>(w);
      continue;
    }
    ASSERT_TRUE(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
    pollfd pfd{p.a.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, 2000) == 0) break;  // stalled
  }
  // Everything between the two applications (socket buffers, both kcpd's
  // smux buffers, KCP windows) holds a few MiB, not what was offered.
  EXPECT_LT(written, uint64_t{32} << 20) << "nothing stopped the writer";
  std::printf("the writer stopped after %llu bytes\n", static_cast<unsigned long long>(written));
  std::optional<v1::Session> near = a.GetSession(p.dialled.session().name());
  ASSERT_TRUE(near.has_value());
  EXPECT_LE(near->counters().bytes_sent(), written);
  // Reading resumes: exactly what was written arrives, in order.
  ::shutdown(p.a.get(), SHUT_WR);
  std::vector<char> in(256 << 10);
  uint64_t got = 0;
  uint64_t first_difference = UINT64_MAX;
  while (true) {
    const ssize_t r = ::recv(p.b.get(), in.data(), in.size(), 0);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i, ++got) {
      if (static_cast<unsigned char>(in[i]) != got % 251 && first_difference == UINT64_MAX) {
        first_difference = got;
      }
    }
  }
  EXPECT_EQ(got, written);
  EXPECT_EQ(first_difference, UINT64_MAX);
}

// ---- Raw mode against the real kcp-go ----------------------------------------

TEST_F(SidecarTest, RawStreamModeTalksToKcpGo) {
  std::unique_ptr<test::Subprocess> peer;
  const std::string address = StartKcpgoServer(&peer);
  ASSERT_FALSE(address.empty());
  Kcpd a;
  v1::SessionOptions o = SmuxOptions();
  o.set_framing(v1::FRAMING_RAW);
  o.set_stream_mode(true);
  const v1::DialSessionResponse d = a.Dial(address, o);
  UniqueFd app = Attach(d.stream());
  // kcpgo_peer's protocol: an 8-byte little-endian length, the bytes; it
  // echoes them.
  const size_t n = 3 << 20;
  const std::string data = KcpgoPattern(n);
  std::thread writer([&] { WriteAll(app.get(), EchoHeader(n) + data); });
  const std::string echo = ReadN(app.get(), n);
  writer.join();
  EXPECT_TRUE(echo == data) << echo.size() << " of " << n;
}

TEST_F(SidecarTest, RawMessageModeKeepsMessageBoundariesWithKcpGo) {
  // Messages of many sizes, some of one fragment, some of many (up to ~60
  // KB: 45 fragments of the default MTU).
  std::vector<std::string> messages;
  for (int i = 0; i < 60; ++i) {
    const size_t size = i % 3 == 0 ? 1 + i * 1000 : i % 3 == 1 ? 1 + i * 17 : 1300 - i;
    messages.push_back(Pattern(size, i));
  }
  std::unique_ptr<test::Subprocess> peer;
  const std::string address =
      StartPeer({Binary("kcpgo_message_peer"), "-addr", "127.0.0.1:0", "-crypt", "aes", "-key",
                 kKey, "-messages", absl::StrCat(messages.size())},
                &peer);
  ASSERT_FALSE(address.empty());
  Kcpd a;
  v1::SessionOptions o;
  o.set_crypt("aes");
  o.set_key(kKey);
  o.set_mode(v1::MODE_FAST3);
  o.set_framing(v1::FRAMING_RAW);
  o.set_stream_mode(false);
  const v1::DialSessionResponse d = a.Dial(address, o);
  ASSERT_EQ(d.stream().attachment().socket_type(), v1::DataAttachment::SOCKET_TYPE_SEQPACKET);
  UniqueFd app = Attach(d.stream());
  // Each packet the application sends is one KCP message; kcp-go reads it
  // whole and answers with one 40-byte message: its length and SHA-256.
  std::thread writer([&] {
    for (const std::string& m : messages) {
      ASSERT_EQ(::send(app.get(), m.data(), m.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(m.size()));
    }
  });
  for (const std::string& m : messages) {
    char answer[64];
    const ssize_t got = ::recv(app.get(), answer, sizeof(answer), 0);
    ASSERT_EQ(got, 40) << "one answer per packet";
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(answer[i]);
    EXPECT_EQ(length, m.size());
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(m.data()), m.size(), digest);
    EXPECT_EQ(std::memcmp(answer + 8, digest, sizeof(digest)), 0) << "message of " << m.size();
  }
  writer.join();
  EXPECT_EQ(peer->ReadLine(), "DONE");
}

}  // namespace
}  // namespace kcpp::sidecar

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!kcpp::sidecar::InitBinaries(argc, argv,
                                   {"kcpd", "kcpgo_peer", "kcpgo_message_peer", "kcpctl"})) {
    return 2;
  }
  return RUN_ALL_TESTS();
}
