// The real kcpd and kcpctl binaries in tunnel mode, against Debian's kcptun:
//   kcpd tunnel client -c local.json   (a kcptun JSON file, unchanged)
//     -> kcptun-server -> TCP echo
//   kcptun-client -> a server tunnel created with "kcpctl tunnels create"
//     -> TCP echo
// with kcpctl listing, describing and deleting tunnels over kcpd's control
// socket, and SIGTERM ending kcpd cleanly.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/kcpp/v1/tunnel.grpc.pb.h"
#include "tests/kcptun/harness.h"

namespace kcpp::test {
namespace {

const char* g_kcpd = nullptr;
const char* g_kcpctl = nullptr;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/kcpd-tun-XXXXXX";
    path_ = mkdtemp(t);
  }
  ~TempDir() { (void)!system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

SubprocessResult RunKcpctl(const std::string& socket, std::vector<std::string> args) {
  std::vector<std::string> argv = {g_kcpctl, "--socket=" + socket};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(argv);
  EXPECT_TRUE(p.ok());
  return (*p)->Wait();
}

TEST(KcpdTunnelProcess, ClientFromAKcptunJsonFileAndServerFromKcpctl) {
  TempDir dir;
  TcpEchoServer echo;
  const std::vector<std::string> common = {"-crypt", "salsa20", "-key",     "process test",
                                           "-mode",  "fast3",   "-smuxver", "2"};
  std::vector<std::string> server_args = common;
  server_args.insert(server_args.end(), {"-t", echo.address()});
  absl::StatusOr<KcptunProcess> kcptun_server = StartKcptunServer(server_args);
  ASSERT_TRUE(kcptun_server.ok()) << kcptun_server.status();

  // A kcptun client JSON file as kcptun takes it.
  const std::string json = dir.path() + "/local.json";
  std::ofstream(json) << R"({
    "localaddr": "127.0.0.1:0", "remoteaddr": ")"
                      << kcptun_server->address << R"(",
    "key": "process test", "crypt": "salsa20", "mode": "fast3", "smuxver": 2,
    "sndwnd": 1024, "rcvwnd": 1024, "quiet": true
  })";
  const std::string socket = dir.path() + "/control.sock";
  absl::StatusOr<std::unique_ptr<Subprocess>> kcpd =
      Subprocess::Start({g_kcpd, "--backend=fake", "--control_socket=" + socket, "--ready_fd=1",
                         "tunnel", "client", "-c", json});
  ASSERT_TRUE(kcpd.ok());
  std::optional<std::string> ready = (*kcpd)->ReadLine();
  ASSERT_EQ(ready.value_or("(exited)"), "ready") << (*kcpd)->Wait().err;

  auto stub = kcpp::v1::KcpdTunnels::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  kcpp::v1::Tunnel client;
  {
    grpc::ClientContext context;
    kcpp::v1::GetTunnelRequest request;
    request.set_name("tunnels/client");
    grpc::Status s = stub->GetTunnel(&context, request, &client);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(client.listen_addresses_size(), 1);
  absl::Status echoed = ConcurrentEchoExchanges(PortOf(client.listen_addresses(0)), 2, 1 << 20, 40);
  ASSERT_TRUE(echoed.ok()) << echoed;
  EXPECT_TRUE(echo.WaitClosedByPeer(2, absl::Now() + absl::Seconds(60)));

  // kcpctl creates a server tunnel; Debian's kcptun-client uses it.
  SubprocessResult created =
      RunKcpctl(socket, {"--json", "tunnels", "create", "srv", "server", "--", "-l", "127.0.0.1:0",
                         "-t", echo.address(), "-crypt", "aes-128", "-key", "k2", "-nocomp",
                         "-mode", "fast2", "-quiet"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  kcpp::v1::Tunnel srv;
  {
    grpc::ClientContext context;
    kcpp::v1::GetTunnelRequest request;
    request.set_name("tunnels/srv");
    ASSERT_TRUE(stub->GetTunnel(&context, request, &srv).ok());
  }
  absl::StatusOr<KcptunProcess> kcptun_client =
      StartKcptunClient({"-r", srv.listen_addresses(0), "-crypt", "aes-128", "-key", "k2",
                         "-nocomp", "-mode", "fast2"});
  ASSERT_TRUE(kcptun_client.ok()) << kcptun_client.status();
  echoed = ConcurrentEchoExchanges(PortOf(kcptun_client->address), 2, 1 << 20, 50);
  ASSERT_TRUE(echoed.ok()) << echoed;

  SubprocessResult list = RunKcpctl(socket, {"tunnels", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(absl::StrContains(list.out, "client")) << list.out;
  EXPECT_TRUE(absl::StrContains(list.out, "srv")) << list.out;
  SubprocessResult get = RunKcpctl(socket, {"--json", "tunnels", "get", "srv", "--full"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(absl::StrContains(get.out, "\"target_connects\": \"2\"")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "\"value\": \"aes-128\"")) << get.out;
  EXPECT_FALSE(absl::StrContains(get.out, "k2")) << "the key must not be shown";

  // kcpctl's exit codes: bad flag (usage, 1), unknown tunnel (2), bad value
  // (3), taken id (6).
  EXPECT_EQ(RunKcpctl(socket, {"tunnels", "create", "x", "server", "--", "-bogus"}).exit_code, 1);
  EXPECT_EQ(RunKcpctl(socket, {"tunnels", "get", "nope"}).exit_code, 2);
  EXPECT_EQ(
      RunKcpctl(socket, {"tunnels", "create", "x", "server", "--", "-smuxver", "3"}).exit_code, 3);
  EXPECT_EQ(RunKcpctl(socket, {"tunnels", "create", "srv", "server", "--", "-l", "127.0.0.1:0"})
                .exit_code,
            6);
  EXPECT_EQ(RunKcpctl(socket, {"tunnels", "delete", "srv"}).exit_code, 0);
  EXPECT_EQ(RunKcpctl(socket, {"tunnels", "get", "srv"}).exit_code, 2);

  (*kcpd)->Kill(SIGTERM);
  SubprocessResult r = (*kcpd)->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "tunnel client: stopped")) << r.err;
}

TEST(KcpdTunnelProcess, BadTunnelCommandLinesExitOneWithKcptunsWords) {
  TempDir dir;
  const std::string socket = "--control_socket=" + dir.path() + "/c.sock";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"tunnel"}, "tunnel needs a role"},
      {{"tunnel", "proxy"}, "tunnel role must be client or server"},
      {{"tunnel", "client", "-target", "x"}, "flag provided but not defined: -target"},
      {{"tunnel", "server", "-c", dir.path() + "/missing.json"}, "missing.json"},
      {{"tunnel", "client", "-tcp"}, "does not emulate TCP"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {g_kcpd, "--backend=fake", socket};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(argv);
    ASSERT_TRUE(p.ok());
    SubprocessResult r = (*p)->Wait();
    EXPECT_EQ(r.exit_code, 1) << c.args.back();
    EXPECT_TRUE(absl::StrContains(r.err, c.message)) << r.err;
  }
  // -h prints kcptun-style usage and exits 0.
  absl::StatusOr<std::unique_ptr<Subprocess>> p =
      Subprocess::Start({g_kcpd, "tunnel", "server", "-h"});
  ASSERT_TRUE(p.ok());
  SubprocessResult r = (*p)->Wait();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.out, "--target, -t")) << r.out;
}

}  // namespace
}  // namespace kcpp::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    fprintf(stderr, "usage: %s KCPD KCPCTL\n", argv[0]);
    return 2;
  }
  kcpp::test::g_kcpd = argv[1];
  kcpp::test::g_kcpctl = argv[2];
  return RUN_ALL_TESTS();
}
