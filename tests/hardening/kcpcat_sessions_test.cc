// Issue 16, defect 5: kcpcat's --echo/--sink server started a thread per
// session and never joined it, so 25-30 thousand session replacements (a
// new conv with sn 0 from a known address, docs/protocol.md §5.2) made it
// abort in thread creation (VmSize 202 GB). The real binary, as a process:
// thousands of replacements from a few source ports, then it must be alive,
// answering, with no more threads than before and no address space left
// behind per session; and --max_sessions refuses (and counts) what is over
// the bound.
//
// Each forged datagram is sent only after the previous one from the same
// port was acknowledged, so when the last ACK is in, the server has handled
// every replacement (no sleeps, no timing).
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"
#include "tests/flood/flooder.h"
#include "transport/socket_address.h"

extern char** environ;

namespace kcpp {
namespace {

using transport::SocketAddress;

std::string g_kcpcat;  // argv[1]

// A field of /proc/PID/status ("Threads", "VmSize" in kB), or -1.
int64_t ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = line;
    if (!absl::ConsumePrefix(&v, field + ":")) continue;
    v = absl::StripAsciiWhitespace(v);
    absl::ConsumeSuffix(&v, " kB");
    int64_t n;
    if (absl::SimpleAtoi(v, &n)) return n;
  }
  return -1;
}

// kcpcat -l --sink on 127.0.0.1:0, stderr piped back.
class KcpcatServer {
 public:
  explicit KcpcatServer(std::vector<std::string> extra) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    std::vector<std::string> args = {g_kcpcat, "-l", "--sink", "--crypt", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("127.0.0.1:0");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, g_kcpcat.c_str(), &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    err_ = fds[0];
    // "kcpcat: listening on 127.0.0.1:PORT"
    const std::string first = ReadLine();
    const size_t at = first.rfind(' ');
    auto a = SocketAddress::Parse(first.substr(at + 1));
    EXPECT_TRUE(a.ok()) << "kcpcat said: " << first;
    if (a.ok()) address_ = *a;
  }
  ~KcpcatServer() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(err_);
  }
  pid_t pid() const { return pid_; }
  const SocketAddress& address() const { return address_; }
  bool Alive() {
    int status;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  // SIGTERM, wait for the exit; returns the exit status and what it wrote.
  int Stop(std::string* rest) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    char buf[4096];
    ssize_t n;
    while ((n = read(err_, buf, sizeof(buf))) > 0) rest->append(buf, static_cast<size_t>(n));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::string ReadLine() {
    std::string line;
    char c;
    while (read(err_, &c, 1) == 1 && c != '\n') line.push_back(c);
    return line;
  }
  pid_t pid_ = -1;
  int err_ = -1;
  bool exited_ = false;
  SocketAddress address_;
};

// Source ports that forge replacements: conv n, sn 0, FEC data header (as
// kcpcat's default FEC 10/3 sessions expect), crypt none.
class Forger {
 public:
  Forger(const SocketAddress& target, int ports) : target_(target) {
    cipher_ = *crypt::NewKcptunPacketCipher("none", crypt::DeriveKcptunKey("any"));
    const SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
    for (int i = 0; i < ports; ++i) {
      const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      EXPECT_EQ(bind(fd, any.sockaddr_ptr(), any.sockaddr_len()), 0);
      timeval tv{30, 0};  // a guard against a dead server, not a timing
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      fds_.push_back(fd);
    }
  }
  ~Forger() {
    for (int fd : fds_) close(fd);
  }
  // Starts conversation `conv` from port `port`.
  void Send(int port, uint32_t conv) {
    uint8_t out[1600];
    const uint8_t payload[16] = {};
    const size_t n = flood::ForgePush(*cipher_, /*fec=*/true, conv, conv, 0, payload, out);
    ASSERT_EQ(sendto(fds_[port], out, n, 0, target_.sockaddr_ptr(), target_.sockaddr_len()),
              static_cast<ssize_t>(n));
  }
  // Waits for one datagram on `port` (the new session's ACK).
  bool Answered(int port) {
    uint8_t buf[2048];
    return recv(fds_[port], buf, sizeof(buf), 0) > 0;
  }

 private:
  SocketAddress target_;
  std::unique_ptr<crypt::PacketCipher> cipher_;
  std::vector<int> fds_;
};

TEST(KcpcatSessions, ReplacementsLeaveNoThreadsOrStacksBehind) {
  KcpcatServer server({"--loops", "2"});
  ASSERT_TRUE(server.Alive());
  constexpr int kPorts = 8;
  constexpr int kRounds = 400;  // 3,200 sessions
  Forger forger(server.address(), kPorts);
  uint32_t conv = 1;
  // Warm up: one session per port, so the baseline has the loops' buffers.
  for (int p = 0; p < kPorts; ++p) {
    forger.Send(p, conv++);
    ASSERT_TRUE(forger.Answered(p)) << "no ACK from kcpcat";
  }
  const int64_t threads_before = ProcStatus(server.pid(), "Threads");
  const int64_t vm_before = ProcStatus(server.pid(), "VmSize");
  ASSERT_GT(threads_before, 0);
  for (int r = 0; r < kRounds; ++r) {
    for (int p = 0; p < kPorts; ++p) forger.Send(p, conv++);
    for (int p = 0; p < kPorts; ++p) ASSERT_TRUE(forger.Answered(p)) << "round " << r;
  }
  ASSERT_TRUE(server.Alive());
  const int64_t threads_after = ProcStatus(server.pid(), "Threads");
  const int64_t vm_after = ProcStatus(server.pid(), "VmSize");
  // The engine's threads are all there is: none per session.
  EXPECT_LE(threads_after, threads_before) << kRounds * kPorts << " sessions later";
  // A thread's stack reserves 8 MiB of address space; 3,200 left behind
  // would be 25 GiB. Allow 256 MiB for the allocator's arenas.
  EXPECT_LT(vm_after - vm_before, 256 * 1024) << "VmSize grew from " << vm_before << " kB to "
                                              << vm_after << " kB";
  // Still serving: a new peer gets its session.
  Forger late(server.address(), 1);
  late.Send(0, conv++);
  EXPECT_TRUE(late.Answered(0));
  std::string said;
  EXPECT_EQ(server.Stop(&said), 0) << said;
  EXPECT_TRUE(absl::StrContains(said, "sessions served")) << said;
}

TEST(KcpcatSessions, SessionsOverMaxSessionsAreRefusedAndCounted) {
  // One loop, one socket: datagrams are handled in the order sent.
  KcpcatServer server({"--max_sessions", "4", "--loops", "1"});
  ASSERT_TRUE(server.Alive());
  Forger forger(server.address(), 8);
  // Four peers get sessions (each answered before the next is sent, so they
  // are live before the others knock).
  for (int p = 0; p < 4; ++p) {
    forger.Send(p, 100 + p);
    ASSERT_TRUE(forger.Answered(p));
  }
  // Four more are over the bound: dropped, unanswered, counted.
  for (int p = 4; p < 8; ++p) forger.Send(p, 100 + p);
  // Replacing a live peer's session still works at the bound (its place
  // passes to its successor), and its ACK shows the four before it were
  // handled.
  forger.Send(0, 200);
  ASSERT_TRUE(forger.Answered(0));
  ASSERT_TRUE(server.Alive());
  std::string said;
  ASSERT_EQ(server.Stop(&said), 0) << said;
  EXPECT_TRUE(absl::StrContains(said, ", 4 live at exit, 4 datagrams dropped at --max_sessions 4"))
      << said;
}

}  // namespace
}  // namespace kcpp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH_TO_KCPCAT\n", argv[0]);
    return 2;
  }
  kcpp::g_kcpcat = argv[1];
  return RUN_ALL_TESTS();
}
