// The harness against kcptun alone (client and server both Debian's): a
// byte-exact echo through kcptun, and a closed TCP connection on one end
// closing it on the other. If this fails, the kcpd interop tests cannot be
// trusted either.
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/kcptun/harness.h"

namespace kcpp::test {
namespace {

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

TEST(KcptunSelfTest, EchoThroughKcptunAndCloseBothWays) {
  TcpEchoServer echo;
  const std::vector<std::string> common = {"-crypt", "aes", "-mode", "fast3", "-key", "k"};
  std::vector<std::string> server_args = common;
  server_args.insert(server_args.end(), {"-t", echo.address()});
  absl::StatusOr<KcptunProcess> server = StartKcptunServer(server_args);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::string> client_args = common;
  client_args.insert(client_args.end(), {"-r", server->address});
  absl::StatusOr<KcptunProcess> client = StartKcptunClient(client_args);
  ASSERT_TRUE(client.ok()) << client.status();
  const int port = PortOf(client->address);

  ASSERT_TRUE(ConcurrentEchoExchanges(port, 3, 1 << 20, 7).ok());
  // Each exchange closed its connection: the echo target saw every close.
  EXPECT_TRUE(echo.WaitClosedByPeer(3, absl::Now() + absl::Seconds(60)));

  TcpGreeter greeter("hello and goodbye");
  std::vector<std::string> server2_args = common;
  server2_args.insert(server2_args.end(), {"-t", greeter.address()});
  absl::StatusOr<KcptunProcess> server2 = StartKcptunServer(server2_args);
  ASSERT_TRUE(server2.ok());
  client_args = common;
  client_args.insert(client_args.end(), {"-r", server2->address});
  absl::StatusOr<KcptunProcess> client2 = StartKcptunClient(client_args);
  ASSERT_TRUE(client2.ok());
  absl::StatusOr<std::string> got =
      ReadUntilEof(PortOf(client2->address), absl::Now() + absl::Seconds(60));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello and goodbye");
}

}  // namespace
}  // namespace kcpp::test
