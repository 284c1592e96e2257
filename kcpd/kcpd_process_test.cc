// Tests of the real kcpd and kcpctl binaries, run as processes from the test
// (fork + exec), with kcpd's fake backend: control API round trips, exit
// codes, socket safety, peer-credential checks with a client running as
// another uid, attachments through the data sockets, SIGTERM.
//
// usage: kcpd_process_test <path of kcpd> <path of kcpctl> [gtest flags]
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace kcpp::service {
namespace {

using testing::Process;
using testing::ProcessResult;
using testing::ReadFile;
using testing::ShortTempDir;
using testing::WriteFile;

std::string g_kcpd;
std::string g_kcpctl;

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The value of a JSON string field in kcpctl's output (good enough for the
// flat fields these tests read).
std::string JsonField(const std::string& json, const std::string& field) {
  const std::string key = "\"" + field + "\": \"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return json.substr(start, json.find('"', start) - start);
}

class KcpdProcessTest : public ::testing::Test {
 protected:
  std::string control() const { return dir_.path() + "/control.sock"; }
  std::string log_path() const { return logs_.path() + "/kcpd.log"; }

  // Starts kcpd with its sockets in dir_ and waits until it serves.
  std::unique_ptr<Process> StartKcpd(std::vector<std::string> extra = {}) {
    std::unique_ptr<Process> kcpd = LaunchKcpd(std::move(extra));
    const std::string ready = kcpd->WaitReady();
    EXPECT_EQ(ready, "ready") << "kcpd did not start; its log:\n" << ReadFile(log_path());
    return kcpd;
  }

  std::unique_ptr<Process> LaunchKcpd(std::vector<std::string> extra) {
    Process::Options o;
    o.argv = {g_kcpd, "--control_socket=" + control(), "--ready_fd=3"};
    if (std::find_if(extra.begin(), extra.end(), [](const std::string& a) {
          return absl::StartsWith(a, "--backend");
        }) == extra.end()) {
      o.argv.push_back("--backend=fake");
    }
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.stderr_path = log_path();
    o.ready_fd = 3;
    return Process::Start(o);
  }

  // kcpd that must fail to start: its exit code, and its log.
  std::pair<int, std::string> FailingKcpd(std::vector<std::string> extra) {
    std::unique_ptr<Process> kcpd = LaunchKcpd(std::move(extra));
    EXPECT_EQ(kcpd->WaitReady(), "");
    const int code = kcpd->Wait().exit_code;
    return {code, ReadFile(log_path())};
  }

  ProcessResult Kcpctl(std::vector<std::string> args, std::optional<uid_t> uid = std::nullopt,
                       const std::string& binary = "") {
    Process::Options o;
    o.argv = {binary.empty() ? g_kcpctl : binary, "--socket=" + control()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.uid = uid;
    return testing::RunProcess(o);
  }

  // kcpctl, expected to succeed; its stdout.
  std::string KcpctlOk(std::vector<std::string> args) {
    ProcessResult r = Kcpctl(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << "\n" << r.err;
    return r.out;
  }

  ShortTempDir dir_;
  ShortTempDir logs_;
};

TEST_F(KcpdProcessTest, ServesUntilSigtermThenRemovesItsSockets) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  EXPECT_EQ(ModeOf(dir_.path()), 0700u);
  EXPECT_EQ(ModeOf(control()), 0600u);
  EXPECT_EQ(ModeOf(dir_.path() + "/data.sock"), 0600u);
  EXPECT_EQ(ModeOf(dir_.path() + "/data-seqpacket.sock"), 0600u);
  const std::string stats = KcpctlOk({"--json", "stats"});
  EXPECT_EQ(JsonField(stats, "backend"), "fake");
  EXPECT_EQ(JsonField(stats, "version"), "kcpd 0.1.0");

  kcpd->Signal(SIGTERM);
  EXPECT_EQ(kcpd->Wait().exit_code, 0);
  EXPECT_FALSE(Exists(control()));
  EXPECT_FALSE(Exists(dir_.path() + "/data.sock"));
  EXPECT_FALSE(Exists(dir_.path() + "/data-seqpacket.sock"));
  const std::string log = ReadFile(log_path());
  EXPECT_NE(log.find("received Terminated: shutting down"), std::string::npos) << log;
  EXPECT_NE(log.find("removed the control and data sockets"), std::string::npos) << log;
  EXPECT_NE(log.find(" stopped"), std::string::npos) << log;
}

// A client holding an idle control connection must not hold kcpd's exit for
// the grace period. The client here is an HTTP/2 connection that said hello
// and then neither calls nor answers anything, like a client process whose
// gRPC is not polling between calls (a Python client between calls): gRPC's
// graceful GOAWAY ping goes unanswered, and gRPC's Server::Shutdown(deadline)
// waited for such a connection until the deadline (the 2 s grace, before
// kcpd tracked calls). kcpd now closes idle connections at once; with a
// grace of an hour it exits, and its log says it did not wait.
TEST_F(KcpdProcessTest, SigtermClosesIdleControlConnectionsWithoutWaiting) {
  std::unique_ptr<Process> kcpd = StartKcpd({"--control_shutdown_grace=1h"});
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, control().c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  // The HTTP/2 client preface and an empty SETTINGS frame (24-bit length 0,
  // type 4, no flags, stream 0).
  std::string hello = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  hello += std::string("\0\0\0\x04\0\0\0\0\0", 9);
  ASSERT_EQ(write(fd, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  // kcpd's gRPC answers with its own SETTINGS: the connection is a channel
  // of its server now.
  unsigned char frame[9];
  ASSERT_EQ(recv(fd, frame, sizeof(frame), MSG_WAITALL), 9) << strerror(errno);
  EXPECT_EQ(frame[3], 4) << "expected a SETTINGS frame";

  kcpd->Signal(SIGTERM);
  EXPECT_EQ(kcpd->Wait().exit_code, 0);
  close(fd);
  const std::string log = ReadFile(log_path());
  EXPECT_NE(log.find("no control call in flight: closing control connections without waiting"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(" stopped"), std::string::npos) << log;
}

TEST_F(KcpdProcessTest, SigintIsAGracefulStopToo) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  KcpctlOk({"sessions", "dial", "10.0.0.2:4000"});
  kcpd->Signal(SIGINT);
  EXPECT_EQ(kcpd->Wait().exit_code, 0);
  EXPECT_FALSE(Exists(control()));
  EXPECT_NE(ReadFile(log_path()).find("sessions/1 closed: kcpd is shutting down"),
            std::string::npos);
}

TEST_F(KcpdProcessTest, TransportBackendBindsRealUdpListeners) {
  std::unique_ptr<Process> kcpd = StartKcpd({"--backend=transport", "--loops=1"});
  EXPECT_EQ(JsonField(KcpctlOk({"--json", "stats"}), "backend"), "transport");
  const std::string bound = JsonField(
      KcpctlOk({"--json", "listeners", "create", "udp", "--address=127.0.0.1:0"}), "bound_address");
  ASSERT_TRUE(absl::StartsWith(bound, "127.0.0.1:")) << bound;
  // The port is really bound: a second listener on it is refused.
  const ProcessResult again = Kcpctl({"listeners", "create", "again", "--address=" + bound});
  EXPECT_EQ(again.exit_code, 6) << again.err;
  kcpd->Signal(SIGTERM);
  EXPECT_EQ(kcpd->Wait().exit_code, 0);
  EXPECT_FALSE(Exists(control()));
}

TEST_F(KcpdProcessTest, ControlApiRoundTripsThroughKcpctl) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  const std::string created = KcpctlOk(
      {"--json", "listeners", "create", "web", "--address=127.0.0.1:0", "--crypt=aes", "--key=pw"});
  EXPECT_EQ(JsonField(created, "name"), "listeners/web");
  const std::string bound = JsonField(created, "bound_address");
  EXPECT_EQ(bound, "127.0.0.1:40000");
  EXPECT_EQ(JsonField(created, "key"), "");  // never returned
  EXPECT_NE(KcpctlOk({"listeners", "get", "web"}).find("crypt aes"), std::string::npos);
  EXPECT_NE(KcpctlOk({"listeners", "list"}).find("listeners/web"), std::string::npos);
  EXPECT_EQ(Kcpctl({"listeners", "create", "web", "--address=127.0.0.1:5000"}).exit_code, 6);

  const std::string dialled =
      KcpctlOk({"--json", "sessions", "dial", bound, "--crypt=aes", "--key=pw", "--mode=fast3"});
  EXPECT_EQ(JsonField(dialled, "name"), "sessions/1");
  EXPECT_EQ(JsonField(dialled, "token").size(), 64u);
  EXPECT_EQ(JsonField(dialled, "socket_path"), dir_.path() + "/data.sock");
  EXPECT_EQ(JsonField(dialled, "mode"), "MODE_FAST3");
  const std::string list = KcpctlOk({"sessions", "list"});
  EXPECT_NE(list.find("sessions/1"), std::string::npos) << list;
  EXPECT_NE(list.find("sessions/2  listeners/web"), std::string::npos) << list;
  EXPECT_NE(KcpctlOk({"--json", "sessions", "list", "--listener=web"}).find("sessions/2"),
            std::string::npos);

  const std::string updated = KcpctlOk({"--json", "sessions", "update", "1", "--sndwnd=1024"});
  EXPECT_NE(updated.find("\"send_window\": 1024"), std::string::npos) << updated;
  EXPECT_NE(KcpctlOk({"streams", "open", "1"}).find("sessions/1/streams/5"), std::string::npos);
  EXPECT_NE(KcpctlOk({"sessions", "get", "sessions/2"}).find("sessions/2/streams/5"),
            std::string::npos);
  EXPECT_EQ(Kcpctl({"sessions", "get", "99"}).exit_code, 2);
  KcpctlOk({"streams", "close", "sessions/1/streams/5"});
  EXPECT_EQ(Kcpctl({"streams", "close", "sessions/1/streams/5"}).exit_code, 2);

  KcpctlOk({"sessions", "close", "1"});
  EXPECT_EQ(Kcpctl({"sessions", "get", "1"}).exit_code, 2);
  KcpctlOk({"listeners", "delete", "web"});
  EXPECT_EQ(Kcpctl({"listeners", "get", "web"}).exit_code, 2);

  // A raw session carries one stream: opening another is a failed precondition.
  const std::string raw = KcpctlOk({"--json", "sessions", "dial", "10.1.1.1:9", "--framing=raw"});
  const std::string raw_name = JsonField(raw, "name");
  const ProcessResult r = Kcpctl({"streams", "open", raw_name});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("FRAMING_RAW"), std::string::npos) << r.err;

  const std::string stats = KcpctlOk({"--json", "stats"});
  EXPECT_NE(stats.find("\"sessions_dialed\": \"2\""), std::string::npos) << stats;
}

TEST_F(KcpdProcessTest, MalformedRequestsGetInvalidArgumentAndKcpdSurvives) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"sessions", "dial", "kcp.example.com:4000"}, "remote_address"},
      {{"sessions", "dial", "10.0.0.1"}, "remote_address"},
      {{"sessions", "dial", "10.0.0.1:4000", "--sndwnd=1000000"}, "send_window must be 1..65535"},
      {{"sessions", "dial", "10.0.0.1:4000", "--rcvwnd=4294967295"}, "receive_window"},
      {{"sessions", "dial", "10.0.0.1:4000", "--crypt=rot13"}, "crypt must be one of"},
      {{"sessions", "dial", "10.0.0.1:4000", "--crypt=aes"}, "options.key is required"},
      {{"sessions", "dial", "10.0.0.1:4000", "--options=mtu: 9000"}, "mtu must be 50..1500"},
      {{"sessions", "dial", "10.0.0.1:4000", "--smuxver=3"}, "smux.version must be 1 or 2"},
      {{"listeners", "create", "Bad_Id", "--address=127.0.0.1:1"}, "listener_id"},
      {{"listeners", "create", "x", "--address=300.1.1.1:5"}, "listener.address"},
      {{"listeners", "create", "x", "--address=127.0.0.1:1", "--backlog=1000000"},
       "accept_backlog"},
      {{"sessions", "get", "sessions/abc"}, "sessions/{session}"},
      {{"sessions", "update", "1"}, "nothing to update"},
      {{"streams", "close", "streams/1"}, "sessions/{session}/streams/{stream}"},
      {{"watch", "--stats_interval=1ms"}, "stats_interval must be 100ms..1h"},
  };
  for (const auto& c : cases) {
    const ProcessResult r = Kcpctl(c.args);
    EXPECT_EQ(r.exit_code, 3) << absl::StrJoin(c.args, " ") << "\n" << r.err;
    EXPECT_NE(r.err.find("INVALID_ARGUMENT"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos)
        << absl::StrJoin(c.args, " ") << ": " << r.err;
  }
  // Still serving, and nothing was created.
  const std::string stats = KcpctlOk({"--json", "stats"});
  EXPECT_NE(stats.find("\"sessions_dialed\": \"0\""), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"listeners\": 0"), std::string::npos) << stats;
}

TEST_F(KcpdProcessTest, KcpctlUsageErrorsAndUnreachableKcpd) {
  // No kcpd: nothing answers on the socket.
  ProcessResult r = Kcpctl({"stats"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("is kcpd running"), std::string::npos) << r.err;
  // Command-line mistakes are found before any call.
  EXPECT_EQ(Kcpctl({"frobnicate"}).exit_code, 1);
  EXPECT_EQ(Kcpctl({"--bogus", "stats"}).exit_code, 1);
  EXPECT_EQ(Kcpctl({"sessions", "dial"}).exit_code, 1);
  EXPECT_EQ(Kcpctl({"sessions", "dial", "1.2.3.4:5", "--mode=warp"}).exit_code, 1);
  EXPECT_EQ(Kcpctl({"sessions", "dial", "1.2.3.4:5", "--sndwnd=lots"}).exit_code, 1);
  EXPECT_EQ(Kcpctl({"listeners", "create", "x"}).exit_code, 1);  // --address missing
  EXPECT_EQ(Kcpctl({}).exit_code, 1);
  r = Kcpctl({"help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes: 0 ok, 1 usage, 2 not found"), std::string::npos);
}

TEST_F(KcpdProcessTest, StaleSocketIsReplacedAndALiveOneRefused) {
  {  // A crashed kcpd's leftover: a socket file nobody listens on.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, control().c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  std::unique_ptr<Process> kcpd = StartKcpd();
  KcpctlOk({"stats"});
  EXPECT_NE(ReadFile(log_path()).find("replacing stale socket " + control()), std::string::npos);

  // A second kcpd on the same socket refuses to start and leaves it alone.
  std::unique_ptr<Process> second = LaunchKcpd({});
  EXPECT_EQ(second->WaitReady(), "");
  EXPECT_EQ(second->Wait().exit_code, 1);
  // (It finds the data sockets taken first: it binds those before the
  // control socket, whose appearance means "ready".)
  EXPECT_NE(ReadFile(log_path()).find("another kcpd is using " + dir_.path() + "/data.sock"),
            std::string::npos)
      << ReadFile(log_path());
  KcpctlOk({"stats"});  // the first one still serves
}

TEST_F(KcpdProcessTest, ALiveServerWithoutTheLockIsRefusedToo) {
  // Something else (not holding kcpd's lock) listens on the path.
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, control().c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  auto [code, log] = FailingKcpd({});
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("a live server already answers on " + control()), std::string::npos) << log;
  EXPECT_TRUE(Exists(control()));
  close(fd);
}

TEST_F(KcpdProcessTest, RefusesUnsafeSocketDirectories) {
  ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
  auto [code, log] = FailingKcpd({});
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("is writable by group or others (mode 0777)"), std::string::npos) << log;

  const std::string link = logs_.path() + "/link";
  ASSERT_EQ(chmod(dir_.path().c_str(), 0700), 0);
  ASSERT_EQ(symlink(dir_.path().c_str(), link.c_str()), 0);
  Process::Options o;
  o.argv = {g_kcpd, "--backend=fake", "--control_socket=" + link + "/control.sock"};
  const ProcessResult r = testing::RunProcess(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a symlink or not a directory"), std::string::npos) << r.err;
}

TEST_F(KcpdProcessTest, ControlConnectionsFromUidsNotAllowedAreRefused) {
  if (geteuid() != 0) {
    // Only root can run a client as another uid. The refusal path itself is
    // covered with a substituted daemon uid in control_socket_server_test;
    // here the allowed path is checked.
    std::unique_ptr<Process> kcpd = StartKcpd();
    KcpctlOk({"stats"});
    return;
  }
  // Other users must reach the socket for SO_PEERCRED to be what refuses them.
  ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
  const std::string kcpctl_copy = dir_.path() + "/kcpctl";
  std::filesystem::copy_file(g_kcpctl, kcpctl_copy);
  ASSERT_EQ(chmod(kcpctl_copy.c_str(), 0755), 0);
  {
    std::unique_ptr<Process> kcpd = StartKcpd({"--allow_uid=12345"});
    EXPECT_EQ(ModeOf(control()), 0666u);
    const ProcessResult r = Kcpctl({"stats"}, /*uid=*/65534, kcpctl_copy);
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("PERMISSION_DENIED: your uid is not allowed to use this kcpd"),
              std::string::npos)
        << r.err;
    const std::string stats = KcpctlOk({"--json", "stats"});
    EXPECT_NE(stats.find("\"control_connections_refused\": \"1\""), std::string::npos) << stats;
    EXPECT_NE(ReadFile(log_path()).find("refused a control connection from uid 65534"),
              std::string::npos);
    kcpd->Signal(SIGTERM);
    EXPECT_EQ(kcpd->Wait().exit_code, 0);
  }
  std::unique_ptr<Process> kcpd = StartKcpd({"--allow_uid=65534"});
  const ProcessResult r = Kcpctl({"--json", "stats"}, /*uid=*/65534, kcpctl_copy);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonField(r.out, "backend"), "fake");
}

TEST_F(KcpdProcessTest, BytesFlowBetweenAttachedApplicationsBothWays) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  const std::string bound = JsonField(
      KcpctlOk({"--json", "listeners", "create", "in", "--address=127.0.0.1:0"}), "bound_address");
  std::mt19937 random(7);
  std::string a_to_b(1 << 20, '\0'), b_to_a(300000, '\0');
  for (char& c : a_to_b) c = static_cast<char>(random());
  for (char& c : b_to_a) c = static_cast<char>(random());
  WriteFile(logs_.path() + "/a_in", a_to_b);
  WriteFile(logs_.path() + "/b_in", b_to_a);

  Process::Options accept;
  accept.argv = {g_kcpctl, "--socket=" + control(), "accept", "in"};
  accept.stdin_path = logs_.path() + "/b_in";
  accept.stdout_path = logs_.path() + "/b_out";
  std::unique_ptr<Process> b = Process::Start(accept);
  ASSERT_TRUE(b->WaitForStderr("waiting for a stream on listeners/in"));

  Process::Options connect;
  connect.argv = {g_kcpctl, "--socket=" + control(), "connect", bound};
  connect.stdin_path = logs_.path() + "/a_in";
  connect.stdout_path = logs_.path() + "/a_out";
  const ProcessResult a = testing::RunProcess(connect);
  EXPECT_EQ(a.exit_code, 0) << a.err;
  const ProcessResult b_result = b->Wait();
  EXPECT_EQ(b_result.exit_code, 0) << b_result.err;
  // Each side got every byte the other sent, then end-of-file.
  EXPECT_TRUE(ReadFile(logs_.path() + "/b_out") == a_to_b);
  EXPECT_TRUE(ReadFile(logs_.path() + "/a_out") == b_to_a);

  const std::string stats = KcpctlOk({"--json", "stats"});
  EXPECT_NE(stats.find("\"attachments\": \"2\""), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"active_streams\": 0"), std::string::npos) << stats;
}

TEST_F(KcpdProcessTest, AttachWithAWrongReusedOrExpiredTokenIsRefused) {
  std::unique_ptr<Process> kcpd = StartKcpd({"--attach_timeout=1s"});
  auto stub = kcpp::v1::Kcpd::NewStub(
      grpc::CreateChannel("unix:" + control(), grpc::InsecureChannelCredentials()));
  // Watch first (registered once the initial metadata arrives), so the
  // expiry's STREAM_CLOSED cannot be missed.
  grpc::ClientContext watch_context;
  kcpp::v1::WatchSessionEventsRequest watch;
  watch.add_types(kcpp::v1::SessionEvent::STREAM_CLOSED);
  auto events = stub->WatchSessionEvents(&watch_context, watch);
  events->WaitForInitialMetadata();

  const auto dial = [&] {
    grpc::ClientContext context;
    kcpp::v1::DialSessionRequest request;
    request.set_remote_address("10.9.9.9:4000");
    kcpp::v1::DialSessionResponse response;
    EXPECT_TRUE(stub->DialSession(&context, request, &response).ok());
    return response.stream();
  };
  const kcpp::v1::Stream expiring = dial();
  const kcpp::v1::Stream used = dial();
  const std::string path = used.attachment().socket_path();

  std::string wrong = used.attachment().token();
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  ProcessResult r = Kcpctl({"attach", wrong, "--path=" + path});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("attach refused: unknown token"), std::string::npos) << r.err;

  // The right token attaches (stdin is empty: the stream ends at once).
  r = Kcpctl({"attach", used.attachment().token(), "--path=" + path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Kcpctl({"attach", used.attachment().token(), "--path=" + path});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("attach refused: token already used"), std::string::npos) << r.err;

  // Nobody attached `expiring` within 1s: kcpd closes it and its token expires.
  kcpp::v1::SessionEvent event;
  bool closed = false;
  while (!closed && events->Read(&event)) {
    closed = event.stream().name() == expiring.name();
  }
  ASSERT_TRUE(closed);
  EXPECT_EQ(event.reason(), "no application attached within 1s");
  r = Kcpctl({"attach", expiring.attachment().token(), "--path=" + path});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("attach refused: token expired"), std::string::npos) << r.err;
  watch_context.TryCancel();

  const std::string stats = KcpctlOk({"--json", "stats"});
  EXPECT_NE(stats.find("\"attachments\": \"1\""), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"attachments_refused\": \"3\""), std::string::npos) << stats;
}

TEST_F(KcpdProcessTest, WatchPrintsEventsAsJsonLines) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  KcpctlOk({"listeners", "create", "in", "--address=127.0.0.1:6000"});
  Process::Options o;
  o.argv = {g_kcpctl, "--socket=" + control(), "--json", "watch", "--count=3"};
  std::unique_ptr<Process> watch = Process::Start(o);
  ASSERT_TRUE(watch->WaitForStderr("kcpctl: watching"));
  KcpctlOk({"sessions", "dial", "127.0.0.1:6000"});
  const ProcessResult r = watch->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_NE(lines[0].find("\"type\":\"SESSION_DIALED\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"type\":\"SESSION_ACCEPTED\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"type\":\"STREAM_ACCEPTED\""), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("\"token\":\""), std::string::npos) << lines[2];

  const ProcessResult stats =
      Kcpctl({"--json", "watch", "--types=STATS", "--stats_interval=100ms", "--count=1"});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"type\":\"STATS\""), std::string::npos) << stats.out;
}

TEST_F(KcpdProcessTest, ConfigFileDeclaresListeners) {
  const std::string config = logs_.path() + "/kcpd.textproto";
  WriteFile(config, R"pb(
    listeners {
      id: "tunnel"
      listener {
        address: "127.0.0.1:29900"
        session_options { crypt: "aes" key: "it's a secrect" mode: MODE_FAST3 }
      }
    }
  )pb");
  {
    std::unique_ptr<Process> kcpd = StartKcpd({"--config=" + config});
    const std::string l = KcpctlOk({"listeners", "get", "tunnel"});
    EXPECT_NE(l.find("127.0.0.1:29900"), std::string::npos) << l;
    EXPECT_NE(l.find("mode fast3"), std::string::npos) << l;
    kcpd->Signal(SIGTERM);
    EXPECT_EQ(kcpd->Wait().exit_code, 0);
  }
  WriteFile(config, "listeners {\n  id: \"a\"\n  adress: \"x\"\n}\n");
  auto [code, log] = FailingKcpd({"--config=" + config});
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find(config + ":3:"), std::string::npos) << log;

  WriteFile(config,
            "listeners { id: \"bad\" listener { address: \"127.0.0.1:1\" session_options { "
            "send_window: 100000 } } }\n");
  std::tie(code, log) = FailingKcpd({"--config=" + config});
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("listener \"bad\": listener.session_options: send_window"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace kcpp::service

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <kcpd> <kcpctl>\n", argv[0]);
    return 2;
  }
  kcpp::service::g_kcpd = std::filesystem::absolute(argv[1]);
  kcpp::service::g_kcpctl = std::filesystem::absolute(argv[2]);
  return RUN_ALL_TESTS();
}
