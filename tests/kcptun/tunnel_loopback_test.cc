// kcpd's tunnels against each other in one process (client tunnel -> server
// tunnel -> TCP echo over loopback UDP): byte-exact echoes over several
// streams and sessions, close propagation both ways, what the API reports,
// and deleting a tunnel under load.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/kcptun/harness.h"
#include "tunnel/kcptun_config.h"
#include "tunnel/tunnel_manager.h"

namespace kcpp::test {
namespace {

using service::tunnel::KcptunConfig;
using service::tunnel::LoadKcptunConfig;
using service::tunnel::TunnelManager;
using service::tunnel::TunnelRole;
using service::tunnel::TunnelSnapshot;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

KcptunConfig Config(TunnelRole role, std::vector<std::string> args) {
  absl::StatusOr<KcptunConfig> c = LoadKcptunConfig(role, args, std::nullopt, nullptr);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.value_or(KcptunConfig());
}

struct Pair {
  std::unique_ptr<TunnelManager> manager;
  TunnelSnapshot server;
  TunnelSnapshot client;
  int port = 0;  // the client tunnel's TCP port
};

Pair MakePair(const std::string& target, const std::vector<std::string>& common,
              const std::vector<std::string>& client_extra = {}, int loops = 2) {
  Pair p;
  service::tunnel::TunnelManagerOptions o;
  o.loops = loops;
  o.engine_loops = 2;
  if (getenv("KCPP_TEST_VERBOSE") != nullptr) {
    o.log = [](int level, const std::string& m) {
      fprintf(stderr, "tunnel[%d] %s\n", level, m.c_str());
    };
  }
  absl::StatusOr<std::unique_ptr<TunnelManager>> m = TunnelManager::Create(o);
  EXPECT_TRUE(m.ok()) << m.status();
  p.manager = *std::move(m);
  std::vector<std::string> s = common;
  s.insert(s.end(), {"-l", "127.0.0.1:0", "-t", target, "-quiet"});
  absl::StatusOr<TunnelSnapshot> server =
      p.manager->CreateTunnel("server", Config(TunnelRole::kServer, s));
  EXPECT_TRUE(server.ok()) << server.status();
  p.server = *server;
  std::vector<std::string> c = common;
  c.insert(c.end(), {"-l", "127.0.0.1:0", "-r", p.server.listen_addresses.at(0), "-quiet"});
  c.insert(c.end(), client_extra.begin(), client_extra.end());
  absl::StatusOr<TunnelSnapshot> client =
      p.manager->CreateTunnel("client", Config(TunnelRole::kClient, c));
  EXPECT_TRUE(client.ok()) << client.status();
  p.client = *client;
  p.port = PortOf(p.client.listen_addresses.at(0));
  return p;
}

struct Variant {
  int smuxver;
  bool nocomp;
};

class TunnelLoopback : public ::testing::TestWithParam<Variant> {
 protected:
  std::vector<std::string> Common() const {
    std::vector<std::string> a = {"-crypt", "aes",   "-key",     "loopback",
                                  "-mode",  "fast3", "-smuxver", absl::StrCat(GetParam().smuxver)};
    if (GetParam().nocomp) a.push_back("-nocomp");
    return a;
  }
};

TEST_P(TunnelLoopback, ConcurrentEchoesByteExactAndClosesReachTheTarget) {
  TcpEchoServer echo;
  Pair p = MakePair(echo.address(), Common());
  absl::Status s = ConcurrentEchoExchanges(p.port, 4, 2 << 20, 100);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(echo.WaitClosedByPeer(4, absl::Now() + absl::Seconds(60)));
  EXPECT_EQ(echo.bytes_echoed(), 4u * (2 << 20));

  absl::StatusOr<TunnelSnapshot> client = p.manager->GetTunnel("client", true);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->counters.tcp_accepted, 4u);
  EXPECT_EQ(client->counters.streams_opened, 4u);
  EXPECT_EQ(client->counters.bytes_to_kcp, 4u * (2 << 20));
  EXPECT_EQ(client->counters.bytes_from_kcp, 4u * (2 << 20));
  EXPECT_EQ(client->counters.sessions_created, 1u);  // conn 1: one session
  ASSERT_EQ(client->sessions.size(), 1u);
  EXPECT_GT(client->sessions[0].session.counters.bytes_sent, 0u);
  absl::StatusOr<TunnelSnapshot> server = p.manager->GetTunnel("server", false);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->counters.target_connects, 4u);
  EXPECT_EQ(server->counters.bytes_from_kcp, 4u * (2 << 20));
}

TEST_P(TunnelLoopback, TargetClosingReachesTheClient) {
  TcpGreeter greeter("goodbye from the target");
  Pair p = MakePair(greeter.address(), Common());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> got = ReadUntilEof(p.port, absl::Now() + absl::Seconds(60));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "goodbye from the target");
  }
}

INSTANTIATE_TEST_SUITE_P(Smux, TunnelLoopback,
                         ::testing::Values(Variant{1, false}, Variant{1, true}, Variant{2, false},
                                           Variant{2, true}),
                         [](const auto& info) {
                           return absl::StrCat("v", info.param.smuxver,
                                               info.param.nocomp ? "_nocomp" : "_snappy");
                         });

TEST(TunnelLoopbackMore, ConnSpreadsStreamsOverSessions) {
  TcpEchoServer echo;
  Pair p = MakePair(echo.address(), {"-mode", "fast3", "-quiet"}, {"-conn", "3"});
  ASSERT_TRUE(ConcurrentEchoExchanges(p.port, 6, 256 << 10, 7).ok());
  absl::StatusOr<TunnelSnapshot> client = p.manager->GetTunnel("client", false);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->counters.sessions_created, 3u);
  EXPECT_EQ(client->sessions.size(), 3u);
  absl::StatusOr<TunnelSnapshot> server = p.manager->GetTunnel("server", false);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->counters.sessions_created, 3u);
}

// kcptun's autoexpire + scavengettl: a session takes new connections for
// autoexpire seconds and is closed autoexpire + scavengettl seconds after it
// was created, with its connections; the next connection gets a new session.
TEST(TunnelLoopbackMore, AutoexpireAndTheScavengerReplaceSessions) {
  TcpEchoServer echo;
  Pair p = MakePair(echo.address(), {"-mode", "fast3", "-quiet"},
                    {"-autoexpire", "1", "-scavengettl", "0"});
  const int fd = ConnectTcp(p.port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "ping", 4), 4);
  char buf[4];
  ASSERT_EQ(recv(fd, buf, 4, MSG_WAITALL), 4);
  // Blocks until the scavenger closes session 1 (about 1 s from now).
  char b;
  EXPECT_EQ(recv(fd, &b, 1, 0), 0);
  close(fd);
  ASSERT_TRUE(EchoExchange(p.port, 64 << 10, 3).ok());
  absl::StatusOr<TunnelSnapshot> client = p.manager->GetTunnel("client", false);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->counters.sessions_created, 2u);
  EXPECT_GE(client->counters.sessions_closed, 1u);
  ASSERT_GE(client->sessions.size(), 1u);
  EXPECT_EQ(client->sessions.back().number, 2u);
}

TEST(TunnelLoopbackMore, ListsLiveStreamsAndDeletingATunnelClosesThem) {
  TcpEchoServer echo;
  Pair p = MakePair(echo.address(), {"-mode", "fast3", "-quiet"});
  // Two connections that stay open, each proven to carry bytes.
  std::vector<int> fds;
  for (int i = 0; i < 2; ++i) {
    const int fd = ConnectTcp(p.port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "ping", 4), 4);
    char buf[4];
    ASSERT_EQ(recv(fd, buf, 4, MSG_WAITALL), 4);
    fds.push_back(fd);
  }
  absl::StatusOr<TunnelSnapshot> client = p.manager->GetTunnel("client", true);
  ASSERT_TRUE(client.ok());
  ASSERT_EQ(client->streams.size(), 2u);
  EXPECT_EQ(client->streams[0].stream_id, 3u);  // smux client ids: 3, 5, ...
  EXPECT_EQ(client->streams[1].stream_id, 5u);
  EXPECT_EQ(client->streams[0].bytes_to_kcp, 4u);
  EXPECT_EQ(client->streams[0].bytes_from_kcp, 4u);
  absl::StatusOr<TunnelSnapshot> server = p.manager->GetTunnel("server", true);
  ASSERT_TRUE(server.ok());
  ASSERT_EQ(server->streams.size(), 2u);
  EXPECT_EQ(server->streams[0].tcp_peer, echo.address());

  // Deleting the client tunnel ends both connections here (EOF or reset),
  // and its FINs reach the target through the server tunnel.
  ASSERT_TRUE(p.manager->DeleteTunnel("client").ok());
  for (int fd : fds) {
    char b;
    EXPECT_LE(recv(fd, &b, 1, 0), 0);
    close(fd);
  }
  EXPECT_TRUE(echo.WaitClosedByPeer(2, absl::Now() + absl::Seconds(60)));
  EXPECT_EQ(p.manager->GetTunnel("client", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(p.manager->ListTunnels(false).size(), 1u);
}

// A server tunnel that closes its sessions (deleted here) sends kcpd's close
// notice: the client's session ends at once as closed, not at the smux
// keepalive timeout as dead, and the next connection gets a new session.
TEST(TunnelLoopbackMore, AClosingServerEndsTheClientsSessionAsClosedNotDead) {
  TcpEchoServer echo;
  Pair p = MakePair(echo.address(), {"-mode", "fast3", "-quiet"});
  const int fd = ConnectTcp(p.port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "ping", 4), 4);
  char buf[4];
  ASSERT_EQ(recv(fd, buf, 4, MSG_WAITALL), 4);
  ASSERT_TRUE(p.manager->DeleteTunnel("server").ok());
  char b;
  EXPECT_LE(recv(fd, &b, 1, 0), 0);  // the stream's FIN (or a reset)
  close(fd);
  // The session ends either way; how it ends is the point. (Before the
  // client followed the notice, it ended at the keepalive timeout, dead.)
  absl::StatusOr<TunnelSnapshot> client;
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  do {
    client = p.manager->GetTunnel("client", false);
    ASSERT_TRUE(client.ok()) << client.status();
  } while ((client->counters.sessions_closed == 0 || !client->sessions.empty()) &&
           absl::Now() < give_up);
  EXPECT_EQ(client->counters.sessions_closed, 1u);
  EXPECT_EQ(client->counters.sessions_dead, 0u);
  EXPECT_TRUE(client->sessions.empty());
}

TEST(TunnelLoopbackMore, ServerRefusesStreamsItCannotConnect) {
  // A target nobody listens on: the stream is answered with FIN and the
  // client's connection ends.
  absl::StatusOr<int> unused = FreeUdpPort();  // any closed port will do
  ASSERT_TRUE(unused.ok());
  Pair p = MakePair(absl::StrCat("127.0.0.1:", *unused), {"-mode", "fast3", "-quiet"});
  absl::StatusOr<std::string> got = ReadUntilEof(p.port, absl::Now() + absl::Seconds(60));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "");
  absl::StatusOr<TunnelSnapshot> server = p.manager->GetTunnel("server", false);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->counters.target_connect_failures, 1u);
}

TEST(TunnelLoopbackMore, CreateErrors) {
  service::tunnel::TunnelManagerOptions o;
  absl::StatusOr<std::unique_ptr<TunnelManager>> m = TunnelManager::Create(o);
  ASSERT_TRUE(m.ok());
  KcptunConfig c = Config(TunnelRole::kClient, {"-l", "127.0.0.1:0", "-r", "127.0.0.1:1"});
  absl::StatusOr<TunnelSnapshot> t = (*m)->CreateTunnel("", c);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->id, "t1");
  EXPECT_EQ((*m)->CreateTunnel("t1", c).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*m)->CreateTunnel("bad id!", c).status().code(), absl::StatusCode::kInvalidArgument);
  // The same TCP address twice.
  KcptunConfig same = c;
  same.localaddr = t->listen_addresses[0];
  EXPECT_FALSE((*m)->CreateTunnel("again", same).ok());
  KcptunConfig unresolvable = c;
  unresolvable.remoteaddr = "no-such-host.invalid:29900";
  EXPECT_EQ((*m)->CreateTunnel("dns", unresolvable).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*m)->DeleteTunnel("nope").code(), absl::StatusCode::kNotFound);
  (*m)->Shutdown(absl::Now());
  EXPECT_EQ((*m)->CreateTunnel("late", c).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kcpp::test
