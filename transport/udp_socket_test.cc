#include "transport/udp_socket.h"

#include <poll.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::transport {
namespace {

// Blocks until `fd` is readable (readiness, not a sleep).
void WaitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "nothing arrived within 10 s";
}

// Receives exactly `want` datagrams, splitting GRO buffers.
std::vector<std::vector<uint8_t>> ReceiveAll(UdpSocket& sock, size_t want, size_t slot_bytes) {
  std::vector<std::vector<uint8_t>> got;
  std::vector<std::vector<uint8_t>> storage(16, std::vector<uint8_t>(slot_bytes));
  std::vector<ReceiveSlot> slots(16);
  for (size_t i = 0; i < slots.size(); ++i) slots[i].buffer = absl::MakeSpan(storage[i]);
  while (got.size() < want) {
    WaitReadable(sock.fd());
    auto n = sock.ReceiveBatch(absl::MakeSpan(slots));
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok()) break;
    for (size_t i = 0; i < *n; ++i) {
      EXPECT_FALSE(slots[i].truncated);
      ForEachDatagram(slots[i],
                      [&](absl::Span<const uint8_t> d) { got.emplace_back(d.begin(), d.end()); });
    }
  }
  return got;
}

std::vector<uint8_t> Pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(seed * 31 + i);
  return v;
}

class UdpSocketTest : public ::testing::TestWithParam<bool> {};  // param: allow GSO+GRO

TEST_P(UdpSocketTest, BatchOfMixedSizesArrivesIntactAndInOrder) {
  UdpSocket::Options options;
  options.allow_gso = GetParam();
  options.allow_gro = GetParam();
  auto rx = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), options);
  ASSERT_TRUE(rx.ok()) << rx.status();
  auto tx = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), options);
  ASSERT_TRUE(tx.ok()) << tx.status();
  const SocketAddress to = (*rx)->local_address();

  // Runs of equal sizes (GSO candidates), short tails, and singletons.
  const std::vector<size_t> sizes = {1400, 1400, 1400, 700, 1400, 1, 1400, 1400, 1200, 20, 20};
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < sizes.size(); ++i) payloads.push_back(Pattern(sizes[i], i));
  std::vector<OutgoingDatagram> out;
  for (auto& p : payloads) out.push_back({absl::MakeConstSpan(p), &to});

  auto sent = (*tx)->SendBatch(absl::MakeConstSpan(out));
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(*sent, out.size());
  EXPECT_EQ((*tx)->stats().datagrams_sent, out.size());
  // Runs of equal-sized datagrams went out as GSO messages when available.
  if ((*tx)->gso_enabled()) {
    EXPECT_GE((*tx)->stats().gso_messages, 2u);
  } else {
    EXPECT_EQ((*tx)->stats().gso_messages, 0u);
  }

  auto got = ReceiveAll(**rx, payloads.size(), (*rx)->gro_enabled() ? 65536 : 2048);
  ASSERT_EQ(got.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) EXPECT_EQ(got[i], payloads[i]) << "datagram " << i;
}

INSTANTIATE_TEST_SUITE_P(Offloads, UdpSocketTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "GsoGro" : "Plain"; });

TEST(UdpSocket, ReportsSourceAddressAndTruncation) {
  auto rx = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
  auto tx = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
  ASSERT_TRUE(rx.ok() && tx.ok());
  const SocketAddress to = (*rx)->local_address();
  auto big = Pattern(1000, 1);
  OutgoingDatagram d{absl::MakeConstSpan(big), &to};
  ASSERT_EQ(*(*tx)->SendBatch(absl::MakeConstSpan(&d, 1)), 1u);
  WaitReadable((*rx)->fd());
  std::vector<uint8_t> small(100);
  ReceiveSlot slot;
  slot.buffer = absl::MakeSpan(small);
  auto n = (*rx)->ReceiveBatch(absl::MakeSpan(&slot, 1));
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_TRUE(slot.truncated);
  EXPECT_EQ(slot.from, (*tx)->local_address());
  EXPECT_EQ((*rx)->stats().truncated, 1u);
  // Nothing else pending: a non-blocking receive returns 0, not an error.
  n = (*rx)->ReceiveBatch(absl::MakeSpan(&slot, 1));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST(UdpSocket, OversizedDatagramIsDroppedWithoutStallingTheRest) {
  auto rx = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
  auto tx = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
  ASSERT_TRUE(rx.ok() && tx.ok());
  const SocketAddress to = (*rx)->local_address();
  auto a = Pattern(10, 1);
  auto huge = Pattern(70000, 2);  // larger than any UDP datagram: EMSGSIZE
  auto b = Pattern(10, 3);
  OutgoingDatagram out[] = {{a, &to}, {huge, &to}, {b, &to}};
  auto sent = (*tx)->SendBatch(out);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 3u);
  EXPECT_EQ((*tx)->stats().send_errors, 1u);
  auto got = ReceiveAll(**rx, 2, 2048);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], a);
  EXPECT_EQ(got[1], b);
}

TEST(UdpSocket, BindErrorsAreClear) {
  auto first = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
  ASSERT_TRUE(first.ok());
  auto second = UdpSocket::Bind((*first)->local_address(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  UdpSocket::Options bad;
  bad.dscp = 64;
  EXPECT_EQ(UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UdpSocket, ReusePortSharesAPort) {
  UdpSocket::Options options;
  options.reuse_port = true;
  auto a = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), options);
  ASSERT_TRUE(a.ok());
  auto b = UdpSocket::Bind((*a)->local_address(), options);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->local_address(), (*b)->local_address());
}

TEST(UdpSocket, Ipv6Loopback) {
  auto rx = UdpSocket::Bind(*SocketAddress::Parse("[::1]:0"), {});
  if (!rx.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << rx.status();
  auto tx = UdpSocket::Bind(*SocketAddress::Parse("[::1]:0"), {});
  ASSERT_TRUE(tx.ok());
  const SocketAddress to = (*rx)->local_address();
  auto p = Pattern(500, 9);
  OutgoingDatagram d{p, &to};
  ASSERT_EQ(*(*tx)->SendBatch(absl::MakeConstSpan(&d, 1)), 1u);
  auto got = ReceiveAll(**rx, 1, 2048);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], p);
}

}  // namespace
}  // namespace kcpp::transport
