#include "tools/lossy_relay/lossy_relay.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"

namespace kcpp::tools {
namespace {

using transport::SocketAddress;

// A blocking UDP socket on 127.0.0.1 with a receive timeout (a guard against
// a broken relay hanging the test, not a synchronisation device).
class Peer {
 public:
  Peer() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    const SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
    EXPECT_EQ(bind(fd_, any.sockaddr_ptr(), any.sockaddr_len()), 0);
    int big = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    address_ = *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }
  ~Peer() { close(fd_); }
  void SendTo(const SocketAddress& to, const std::vector<uint8_t>& b) {
    ASSERT_EQ(sendto(fd_, b.data(), b.size(), 0, to.sockaddr_ptr(), to.sockaddr_len()),
              static_cast<ssize_t>(b.size()));
  }
  std::vector<uint8_t> Receive(SocketAddress* from = nullptr) {
    std::vector<uint8_t> b(2048);
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const ssize_t n = recvfrom(fd_, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) return {};
    if (from) *from = *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    b.resize(static_cast<size_t>(n));
    return b;
  }
  const SocketAddress& address() const { return address_; }

 private:
  int fd_;
  SocketAddress address_;
};

std::vector<uint8_t> Datagram(int i, size_t n = 100) {
  std::vector<uint8_t> b(n);
  for (size_t k = 0; k < n; ++k) b[k] = static_cast<uint8_t>(i * 31 + k);
  return b;
}

TEST(LossyRelay, CleanLinkForwardsBothWaysAndTheServerSeesTheRelay) {
  Peer server, client;
  LossyRelay::Options o;
  o.target = server.address();
  auto relay = LossyRelay::Start(o);
  ASSERT_TRUE(relay.ok()) << relay.status();
  for (int i = 0; i < 20; ++i) {
    client.SendTo((*relay)->address(), Datagram(i));
    SocketAddress from;
    ASSERT_EQ(server.Receive(&from), Datagram(i));
    EXPECT_NE(from, client.address());
    server.SendTo(from, Datagram(i + 1000));
    ASSERT_EQ(client.Receive(), Datagram(i + 1000));
  }
  const LossyRelay::Stats s = (*relay)->WaitForReceived(40);
  EXPECT_EQ(s.forwarded, 40u);
  EXPECT_EQ(s.dropped, 0u);
}

TEST(LossyRelay, SeededLossDropsAboutTheAskedShareAndAccountsForEveryDatagram) {
  Peer server, client;
  LossyRelay::Options o;
  o.target = server.address();
  o.to_target.loss = 0.3;
  o.seed = 7;
  auto relay = LossyRelay::Start(o);
  ASSERT_TRUE(relay.ok());
  constexpr int kSent = 2000;
  for (int i = 0; i < kSent; ++i) client.SendTo((*relay)->address(), Datagram(i, 20));
  const LossyRelay::Stats s = (*relay)->WaitForReceived(kSent);
  EXPECT_EQ(s.forwarded + s.dropped, static_cast<uint64_t>(kSent));
  EXPECT_GT(s.dropped, kSent * 25 / 100);
  EXPECT_LT(s.dropped, kSent * 35 / 100);
  // What was forwarded arrives in order, without gaps in content.
  int last = -1;
  for (uint64_t k = 0; k < s.forwarded; ++k) {
    const std::vector<uint8_t> d = server.Receive();
    ASSERT_EQ(d.size(), 20u);
    const int i = [&] {
      for (int c = last + 1; c < kSent; ++c)
        if (Datagram(c, 20) == d) return c;
      return -1;
    }();
    ASSERT_GT(i, last);
    last = i;
  }
}

TEST(LossyRelay, CorruptionFlipsExactlyOneBitAndDuplicationDoubles) {
  Peer server, client;
  LossyRelay::Options o;
  o.target = server.address();
  o.to_target.corrupt = 1.0;
  o.to_target.duplicate = 1.0;
  auto relay = LossyRelay::Start(o);
  ASSERT_TRUE(relay.ok());
  const std::vector<uint8_t> sent = Datagram(3);
  client.SendTo((*relay)->address(), sent);
  for (int copy = 0; copy < 2; ++copy) {
    const std::vector<uint8_t> got = server.Receive();
    ASSERT_EQ(got.size(), sent.size());
    int bits = 0;
    for (size_t k = 0; k < sent.size(); ++k) bits += __builtin_popcount(got[k] ^ sent[k]);
    EXPECT_EQ(bits, 1);
  }
  EXPECT_EQ((*relay)->WaitForReceived(1).duplicated, 1u);
}

TEST(LossyRelay, MtuBlackHoleSwallowsOnlyLargeDatagrams) {
  Peer server, client;
  LossyRelay::Options o;
  o.target = server.address();
  o.to_target.max_datagram = 1000;
  auto relay = LossyRelay::Start(o);
  ASSERT_TRUE(relay.ok());
  client.SendTo((*relay)->address(), Datagram(1, 1200));
  client.SendTo((*relay)->address(), Datagram(2, 900));
  EXPECT_EQ(server.Receive(), Datagram(2, 900));  // the big one never came
  EXPECT_EQ((*relay)->WaitForReceived(2).dropped, 1u);
}

TEST(LossyRelay, ReorderingLetsLaterDatagramsOvertake) {
  Peer server, client;
  LossyRelay::Options o;
  o.target = server.address();
  o.to_target.reorder = 0.5;
  o.to_target.reorder_delay_ms = 50;
  o.seed = 3;
  auto relay = LossyRelay::Start(o);
  ASSERT_TRUE(relay.ok());
  constexpr int kSent = 40;
  for (int i = 0; i < kSent; ++i) client.SendTo((*relay)->address(), Datagram(i, 8));
  std::vector<int> order;
  for (int k = 0; k < kSent; ++k) {
    const std::vector<uint8_t> d = server.Receive();
    for (int i = 0; i < kSent; ++i) {
      if (Datagram(i, 8) == d) order.push_back(i);
    }
  }
  ASSERT_EQ(order.size(), static_cast<size_t>(kSent));  // nothing lost
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  EXPECT_GT((*relay)->stats().reordered, 0u);
}

// Regression: datagrams held back on their way to the client (delay,
// jitter, reordering) used to be discarded at release, because only
// upstream sockets were treated as alive.
TEST(LossyRelay, DelayedDatagramsReachTheClientToo) {
  Peer server, client;
  LossyRelay::Options o;
  o.target = server.address();
  o.to_client.delay_ms = 20;
  o.to_client.reorder = 0.5;
  o.to_client.reorder_delay_ms = 20;
  auto relay = LossyRelay::Start(o);
  ASSERT_TRUE(relay.ok());
  client.SendTo((*relay)->address(), Datagram(0));
  SocketAddress upstream;
  ASSERT_EQ(server.Receive(&upstream), Datagram(0));
  constexpr int kSent = 20;
  for (int i = 1; i <= kSent; ++i) server.SendTo(upstream, Datagram(i, 8));
  int got = 0;
  for (int k = 0; k < kSent; ++k) {
    const std::vector<uint8_t> d = client.Receive();
    ASSERT_EQ(d.size(), 8u) << "datagram " << k << " never reached the client";
    ++got;
  }
  EXPECT_EQ(got, kSent);
  const LossyRelay::Stats s = (*relay)->WaitForReceived(kSent + 1);
  EXPECT_EQ(s.dropped, 0u);
}

}  // namespace
}  // namespace kcpp::tools
