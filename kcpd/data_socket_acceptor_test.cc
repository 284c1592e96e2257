#include "kcpd/data_socket_acceptor.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/unix_socket.h"
#include "gtest/gtest.h"
#include "kcpd/control_plane.h"
#include "kcpd/internal/attach_protocol.h"
#include "kcpd/testing/fake_backend.h"
#include "kcpd/testing/test_util.h"

namespace kcpp::service {
namespace {

// The production handler: ControlPlane.
class PlaneHandler : public DataSocketAcceptor::Handler {
 public:
  explicit PlaneHandler(ControlPlane* plane) : plane_(plane) {}
  absl::StatusOr<StreamRef> Redeem(absl::string_view token,
                                   internal::AttachSocketKind kind) override {
    return plane_->RedeemAttachToken(token, kind);
  }
  void Attach(StreamRef stream, UniqueFd connection) override {
    plane_->CompleteAttach(stream, std::move(connection));
  }
  void Refused() override { plane_->CountRefusedAttachment(); }

 private:
  ControlPlane* plane_;
};

class ManualClock {
 public:
  absl::Time Now() {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(5000);
};

class DataSocketAcceptorTest : public ::testing::Test {
 protected:
  DataSocketAcceptorTest()
      : stream_path_(dir_.path() + "/data.sock"),
        seqpacket_path_(dir_.path() + "/data-seqpacket.sock"),
        plane_(&backend_, {.stream_socket_path = stream_path_,
                           .seqpacket_socket_path = seqpacket_path_,
                           .monotonic_clock = [this] { return clock_.Now(); },
                           .run_janitor = false}),
        handler_(&plane_) {}

  void StartAcceptor(absl::Duration handshake_timeout = absl::Seconds(10),
                     uid_t daemon_uid = geteuid()) {
    DataSocketAcceptor::Options o;
    o.stream_socket_path = stream_path_;
    o.seqpacket_socket_path = seqpacket_path_;
    o.socket_mode = 0666;
    o.allow = UidAllowList(daemon_uid, {});
    o.handshake_timeout = handshake_timeout;
    auto a = DataSocketAcceptor::Start(o, &handler_);
    ASSERT_TRUE(a.ok()) << a.status();
    acceptor_ = *std::move(a);
  }

  // A dialled stream (to a fake listener) and the peer's accepted stream:
  // returns the two attachments.
  std::pair<kcpp::v1::DataAttachment, kcpp::v1::DataAttachment> StreamPair(
      kcpp::v1::Framing framing = kcpp::v1::FRAMING_SMUX) {
    kcpp::v1::CreateListenerRequest cl;
    cl.set_listener_id("in");
    cl.mutable_listener()->set_address("127.0.0.1:7000");
    cl.mutable_listener()->mutable_session_options()->set_framing(framing);
    kcpp::v1::Listener l;
    EXPECT_TRUE(plane_.CreateListener(cl, &l).ok());
    kcpp::v1::WatchSessionEventsRequest w;
    w.add_types(kcpp::v1::SessionEvent::STREAM_ACCEPTED);
    auto sub = plane_.Watch(w, [] {});
    kcpp::v1::DialSessionRequest d;
    d.set_remote_address("127.0.0.1:7000");
    d.mutable_options()->set_framing(framing);
    kcpp::v1::DialSessionResponse dialled;
    EXPECT_TRUE(plane_.DialSession(d, &dialled).ok());
    std::optional<kcpp::v1::SessionEvent> accepted = (*sub)->Pop();
    EXPECT_TRUE(accepted.has_value());
    plane_.Unwatch(*sub);
    return {dialled.stream().attachment(), accepted->stream().attachment()};
  }

  // Connects, sends `request`, returns the connection and kcpd's answer line.
  std::pair<UniqueFd, std::string> Attach(const std::string& path, int type,
                                          const std::string& request) {
    auto fd = ConnectUnix(path, type);
    EXPECT_TRUE(fd.ok()) << fd.status();
    if (!request.empty()) testing::WriteAll(fd->get(), request);
    return {*std::move(fd), ReadLine(fd->get(), type)};
  }

  static std::string ReadLine(int fd, int type) {
    std::string line;
    char c;
    if (type == SOCK_SEQPACKET) {
      char buf[512];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      return n > 0 ? std::string(buf, n) : "";
    }
    while (::read(fd, &c, 1) == 1) {
      line.push_back(c);
      if (c == '\n') break;
    }
    return line;
  }

  testing::ShortTempDir dir_;
  const std::string stream_path_;
  const std::string seqpacket_path_;
  ManualClock clock_;
  FakeBackend backend_;
  ControlPlane plane_;
  PlaneHandler handler_;
  std::unique_ptr<DataSocketAcceptor> acceptor_;
};

TEST_F(DataSocketAcceptorTest, AttachedConnectionsCarryTheStreamAndItsClose) {
  StartAcceptor();
  auto [dialled, accepted] = StreamPair();
  EXPECT_EQ(dialled.socket_path(), stream_path_);
  // The dialling application pipelines its first bytes after the request.
  auto [a, ok_a] = Attach(dialled.socket_path(), SOCK_STREAM,
                          internal::FormatAttachRequest(dialled.token()) + "hello");
  EXPECT_EQ(ok_a, "OK\n");
  auto [b, ok_b] =
      Attach(accepted.socket_path(), SOCK_STREAM, internal::FormatAttachRequest(accepted.token()));
  EXPECT_EQ(ok_b, "OK\n");
  EXPECT_EQ(testing::ReadN(b.get(), 5), "hello");
  testing::WriteAll(b.get(), "world");
  EXPECT_EQ(testing::ReadN(a.get(), 5), "world");
  // Closing one side closes the other: b reads EOF after a's last bytes.
  testing::WriteAll(a.get(), "bye");
  a.reset();
  EXPECT_EQ(testing::ReadToEof(b.get()), "bye");
  kcpp::v1::Stats stats;
  ASSERT_TRUE(plane_.GetStats(&stats).ok());
  EXPECT_EQ(stats.attachments(), 2u);
}

TEST_F(DataSocketAcceptorTest, WrongReusedAndExpiredTokensAreRefusedWithOneLine) {
  StartAcceptor();
  auto [dialled, accepted] = StreamPair();
  std::string wrong = dialled.token();
  wrong[5] = wrong[5] == 'f' ? 'e' : 'f';
  auto [w, line] = Attach(stream_path_, SOCK_STREAM, internal::FormatAttachRequest(wrong));
  EXPECT_EQ(line, "ERR unknown token (mistyped, from another kcpd, or long expired)\n");
  EXPECT_EQ(testing::ReadToEof(w.get()), "");  // and closed

  auto [first, ok] =
      Attach(stream_path_, SOCK_STREAM, internal::FormatAttachRequest(dialled.token()));
  EXPECT_EQ(ok, "OK\n");
  auto [again, reused] =
      Attach(stream_path_, SOCK_STREAM, internal::FormatAttachRequest(dialled.token()));
  EXPECT_EQ(reused.substr(0, 23), "ERR token already used:");
  EXPECT_EQ(testing::ReadToEof(again.get()), "");

  clock_.Advance(absl::Seconds(31));
  auto [late, expired] =
      Attach(stream_path_, SOCK_STREAM, internal::FormatAttachRequest(accepted.token()));
  EXPECT_EQ(expired.substr(0, 18), "ERR token expired:") << expired;

  kcpp::v1::Stats stats;
  ASSERT_TRUE(plane_.GetStats(&stats).ok());
  EXPECT_EQ(stats.attachments(), 1u);
  EXPECT_EQ(stats.attachments_refused(), 3u);
}

TEST_F(DataSocketAcceptorTest, GarbageIsRefusedAtOnce) {
  StartAcceptor();
  auto [fd, line] = Attach(stream_path_, SOCK_STREAM, "GET / HTTP/1.1\r\n");
  EXPECT_EQ(line, "ERR expected \"ATTACH <token>\\n\" (72 bytes) as the first bytes\n");
  EXPECT_EQ(testing::ReadToEof(fd.get()), "");
}

TEST_F(DataSocketAcceptorTest, SeqpacketRequestsAreOnePacketOnTheRightSocket) {
  StartAcceptor();
  auto [dialled, accepted] = StreamPair(kcpp::v1::FRAMING_RAW);  // message mode
  EXPECT_EQ(dialled.socket_path(), seqpacket_path_);
  // A request split over two packets is refused.
  const std::string req = internal::FormatAttachRequest(dialled.token());
  auto [split, line] = Attach(seqpacket_path_, SOCK_SEQPACKET, req.substr(0, 10));
  EXPECT_EQ(line, "ERR the attach request must be one 72-byte packet\n");
  // A message-mode stream's token on the byte-stream socket: refused, not used up.
  auto [wrong_socket, refused] = Attach(stream_path_, SOCK_STREAM, req);
  EXPECT_NE(refused.find("attaches over SOCK_SEQPACKET"), std::string::npos) << refused;
  auto [a, ok_a] = Attach(seqpacket_path_, SOCK_SEQPACKET, req);
  EXPECT_EQ(ok_a, "OK\n");
  auto [b, ok_b] =
      Attach(seqpacket_path_, SOCK_SEQPACKET, internal::FormatAttachRequest(accepted.token()));
  EXPECT_EQ(ok_b, "OK\n");
  ASSERT_EQ(::send(a.get(), "m1", 2, 0), 2);
  ASSERT_EQ(::send(a.get(), "msg2", 4, 0), 4);
  char buf[16];
  EXPECT_EQ(::recv(b.get(), buf, sizeof(buf), 0), 2);
  EXPECT_EQ(::recv(b.get(), buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf, 4), "msg2");
}

TEST_F(DataSocketAcceptorTest, SilentConnectionsAreRefusedAfterTheHandshakeTimeout) {
  StartAcceptor(absl::Milliseconds(200));
  auto [fd, line] = Attach(stream_path_, SOCK_STREAM, "");
  EXPECT_EQ(line, "ERR no attach request within 200ms\n");
}

TEST_F(DataSocketAcceptorTest, StopRemovesTheSocketFiles) {
  StartAcceptor();
  struct stat st {};
  ASSERT_EQ(stat(stream_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  acceptor_->Stop();
  EXPECT_NE(stat(stream_path_.c_str(), &st), 0);
  EXPECT_NE(stat(seqpacket_path_.c_str(), &st), 0);
}

// The real check: a process running as another uid (the build machines run
// tests as root, which makes setuid possible). Without root, the same path
// (SO_PEERCRED, then refusal) is taken by pretending kcpd runs as another uid.
TEST_F(DataSocketAcceptorTest, ConnectionsFromUidsNotAllowedAreRefused) {
  if (geteuid() != 0) {
    StartAcceptor(absl::Seconds(10), /*daemon_uid=*/geteuid() + 1);
    auto [fd, line] = Attach(stream_path_, SOCK_STREAM, "");
    EXPECT_EQ(line,
              absl::StrCat("ERR uid ", geteuid(), " is not allowed to attach to this kcpd\n"));
    return;
  }
  ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
  StartAcceptor();
  auto [dialled, accepted] = StreamPair();
  const std::string req = internal::FormatAttachRequest(dialled.token());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, stream_path_.c_str());
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only system calls from here on (the parent has threads).
    close(pipe_fds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(11);
    // kcpd may refuse (and close) before reading: no SIGPIPE, errors ignored.
    (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      if (write(pipe_fds[1], buf, n) != n) _exit(13);
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  const std::string answer = testing::ReadToEof(pipe_fds[0]);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "child step failed";
  EXPECT_EQ(answer, "ERR uid 65534 is not allowed to attach to this kcpd\n");
  // The token was never looked at: its owner can still attach.
  auto [fd, ok] = Attach(stream_path_, SOCK_STREAM, req);
  EXPECT_EQ(ok, "OK\n");
}

}  // namespace
}  // namespace kcpp::service
