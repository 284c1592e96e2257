// kcpd's tunnels against Debian's kcptun (20210922: kcp-go 5.6.1, smux
// 1.5.16, golang/snappy) as the real peer, both ways:
//   kcptun-client -> kcpd server tunnel -> TCP echo
//   kcpd client tunnel -> kcptun-server -> TCP echo
// for crypt aes, salsa20 and twofish, FEC 10/3, smux v1 and v2, with and
// without snappy compression: several concurrent TCP connections each echo
// a few MiB byte-exact (random and compressible data), every close reaches
// the target, and a target closing its connection reaches the client.
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/kcptun/harness.h"
#include "tunnel/kcptun_config.h"
#include "tunnel/tunnel_manager.h"

namespace kcpp::test {
namespace {

using service::tunnel::KcptunConfig;
using service::tunnel::TunnelManager;
using service::tunnel::TunnelRole;
using service::tunnel::TunnelSnapshot;

constexpr int kConnections = 3;
constexpr uint64_t kBytes = 2 << 20;

absl::Time Guard() { return absl::Now() + absl::Seconds(120); }
int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

enum class Direction { kKcptunClientToKcpd, kKcpdClientToKcptun };

using Param = std::tuple<Direction, std::string /*crypt*/, int /*smuxver*/, bool /*nocomp*/>;

class KcptunInterop : public ::testing::TestWithParam<Param> {
 protected:
  // The settings both ends run with, in kcptun's syntax.
  std::vector<std::string> Common() const {
    const auto& [direction, crypt, smuxver, nocomp] = GetParam();
    std::vector<std::string> a = {"-crypt",       crypt,   "-key",       "interop secret",
                                  "-mode",        "fast3", "-datashard", "10",
                                  "-parityshard", "3",     "-smuxver",   absl::StrCat(smuxver),
                                  "-sndwnd",      "1024",  "-rcvwnd",    "1024"};
    if (nocomp) a.push_back("-nocomp");
    return a;
  }

  void SetUp() override {
    service::tunnel::TunnelManagerOptions o;
    o.loops = 1;
    o.engine_loops = 1;
    absl::StatusOr<std::unique_ptr<TunnelManager>> m = TunnelManager::Create(o);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = *std::move(m);
    std::vector<std::string> args = Common();
    if (std::get<0>(GetParam()) == Direction::kKcptunClientToKcpd) {
      args.insert(args.end(), {"-l", "127.0.0.1:0", "-t", echo_.address(), "-quiet"});
      absl::StatusOr<KcptunConfig> c =
          service::tunnel::LoadKcptunConfig(TunnelRole::kServer, args, std::nullopt, nullptr);
      ASSERT_TRUE(c.ok()) << c.status();
      absl::StatusOr<TunnelSnapshot> t = manager_->CreateTunnel("kcpd", *c);
      ASSERT_TRUE(t.ok()) << t.status();
      std::vector<std::string> peer = Common();
      peer.insert(peer.end(), {"-r", t->listen_addresses.at(0)});
      absl::StatusOr<KcptunProcess> k = StartKcptunClient(peer);
      ASSERT_TRUE(k.ok()) << k.status();
      kcptun_ = *std::move(k);
      port_ = PortOf(kcptun_.address);
    } else {
      std::vector<std::string> peer = Common();
      peer.insert(peer.end(), {"-t", echo_.address()});
      absl::StatusOr<KcptunProcess> k = StartKcptunServer(peer);
      ASSERT_TRUE(k.ok()) << k.status();
      kcptun_ = *std::move(k);
      args.insert(args.end(), {"-l", "127.0.0.1:0", "-r", kcptun_.address, "-quiet"});
      absl::StatusOr<KcptunConfig> c =
          service::tunnel::LoadKcptunConfig(TunnelRole::kClient, args, std::nullopt, nullptr);
      ASSERT_TRUE(c.ok()) << c.status();
      absl::StatusOr<TunnelSnapshot> t = manager_->CreateTunnel("kcpd", *c);
      ASSERT_TRUE(t.ok()) << t.status();
      port_ = PortOf(t->listen_addresses.at(0));
    }
  }

  TcpEchoServer echo_;
  std::unique_ptr<TunnelManager> manager_;
  KcptunProcess kcptun_;
  int port_ = 0;
};

TEST_P(KcptunInterop, ConcurrentEchoesAndClosesBothWays) {
  absl::Status s = ConcurrentEchoExchanges(port_, kConnections, kBytes, 1000);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(echo_.bytes_echoed(), kConnections * kBytes);
  // Each exchange closed its TCP connection at the client end: the target's
  // connection was closed by the tunnel.
  EXPECT_TRUE(echo_.WaitClosedByPeer(kConnections, Guard()));

  // The target closes a connection: the client sees the reply, then EOF.
  absl::StatusOr<std::string> reply = AskTargetToClose(port_, Guard());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, kCloseReply);
  EXPECT_EQ(echo_.closed_by_target(), 1);

  // kcpd's own account of the traffic.
  absl::StatusOr<TunnelSnapshot> t = manager_->GetTunnel("kcpd", false);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->counters.streams_opened, kConnections + 1u);
  EXPECT_EQ(t->counters.bytes_to_kcp + t->counters.bytes_from_kcp,
            2 * kConnections * kBytes + kCloseCommand.size() + kCloseReply.size());
  EXPECT_EQ(t->counters.sessions_dead, 0u);
  ASSERT_EQ(t->sessions.size(), 1u);
  EXPECT_EQ(t->sessions[0].session.counters.checksum_errors, 0u);
}

std::string Name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [direction, crypt, smuxver, nocomp] = info.param;
  return absl::StrCat(direction == Direction::kKcptunClientToKcpd ? "KcptunClient_KcpdServer"
                                                                  : "KcpdClient_KcptunServer",
                      "_", crypt, "_smux", smuxver, nocomp ? "_nocomp" : "_snappy");
}

INSTANTIATE_TEST_SUITE_P(All, KcptunInterop,
                         ::testing::Combine(::testing::Values(Direction::kKcptunClientToKcpd,
                                                              Direction::kKcpdClientToKcptun),
                                            ::testing::Values("aes", "salsa20", "twofish"),
                                            ::testing::Values(1, 2), ::testing::Bool()),
                         Name);

}  // namespace
}  // namespace kcpp::test
