#include "tunnel/internal/net.h"

#include <sys/socket.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::service::tunnel::internal {
namespace {

TEST(Net, SplitHostPortAsGo) {
  std::string host, port;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:80", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, "80");
  ASSERT_TRUE(SplitHostPort(":29900", &host, &port));
  EXPECT_EQ(host, "");
  ASSERT_TRUE(SplitHostPort("[::1]:80", &host, &port));
  EXPECT_EQ(host, "::1");
  ASSERT_TRUE(SplitHostPort("vps:29900", &host, &port));
  EXPECT_EQ(host, "vps");
  // What Go's net.SplitHostPort refuses: kcptun-server treats it as a Unix
  // socket path.
  EXPECT_FALSE(SplitHostPort("/run/app.sock", &host, &port));
  EXPECT_FALSE(SplitHostPort("::1:80", &host, &port));
  EXPECT_FALSE(SplitHostPort("[::1:80", &host, &port));
}

TEST(Net, StreamEndpoints) {
  absl::StatusOr<StreamEndpoint> e = ResolveStreamEndpoint(":12948", true, false);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->text, "0.0.0.0:12948");
  e = ResolveStreamEndpoint(":12948", false, false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->text, "127.0.0.1:12948");
  e = ResolveStreamEndpoint("[::1]:8080", false, false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->text, "[::1]:8080");
  EXPECT_EQ(e->address.ss_family, AF_INET6);
  e = ResolveStreamEndpoint("localhost:80", false, false);
  ASSERT_TRUE(e.ok()) << e.status();
  e = ResolveStreamEndpoint("/run/app.sock", false, true);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->is_unix);
  EXPECT_EQ(e->text, "/run/app.sock");
  EXPECT_FALSE(ResolveStreamEndpoint("/run/app.sock", false, false).ok());
  EXPECT_FALSE(ResolveStreamEndpoint("127.0.0.1:99999", false, false).ok());
  EXPECT_FALSE(ResolveStreamEndpoint(std::string(200, 'x'), false, true).ok());
}

TEST(Net, UdpAddressesAndKcptunPortRanges) {
  absl::StatusOr<std::vector<std::string>> a = ResolveUdpAddresses("127.0.0.1:29900", false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, std::vector<std::string>{"127.0.0.1:29900"});
  a = ResolveUdpAddresses(":29900", true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, std::vector<std::string>{"0.0.0.0:29900"});
  a = ResolveUdpAddresses("127.0.0.1:3000-3002", false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<std::string>{"127.0.0.1:3000", "127.0.0.1:3001", "127.0.0.1:3002"}));
  EXPECT_FALSE(ResolveUdpAddresses("127.0.0.1:3002-3000", false).ok());
  EXPECT_FALSE(ResolveUdpAddresses("127.0.0.1:0-10", false).ok());
  EXPECT_FALSE(ResolveUdpAddresses("127.0.0.1:1000-2000", false).ok());  // > kMaxPortRange
  EXPECT_FALSE(ResolveUdpAddresses("/path", false).ok());
}

TEST(Net, ListenConnectAndAddresses) {
  absl::StatusOr<StreamEndpoint> e = ResolveStreamEndpoint("127.0.0.1:0", true, false);
  ASSERT_TRUE(e.ok());
  absl::StatusOr<UniqueFd> l = ListenStream(*e);
  ASSERT_TRUE(l.ok()) << l.status();
  const std::string bound = LocalAddressOf(l->get());
  ASSERT_NE(bound, "127.0.0.1:0");
  absl::StatusOr<StreamEndpoint> to = ResolveStreamEndpoint(bound, false, false);
  ASSERT_TRUE(to.ok());
  bool in_progress = false;
  absl::StatusOr<UniqueFd> c = StartConnect(*to, &in_progress);
  ASSERT_TRUE(c.ok()) << c.status();
  // Listening in the same process: the connect completes (or is in
  // progress and then completes) without an error.
  EXPECT_TRUE(FinishConnect(c->get()).ok());
  // The same address cannot be bound twice.
  EXPECT_FALSE(ListenStream(*to).ok());
}

}  // namespace
}  // namespace kcpp::service::tunnel::internal
