#include "tools/linkem/emulator.h"

#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::linkem {
namespace {

// Two SOCK_SEQPACKET socketpairs stand in for the TUN devices: the test
// writes "IP packets" into side A's outer end and reads side B's.
class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, a_), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, b_), 0);
    ASSERT_EQ(pipe(stop_), 0);
  }
  void TearDown() override {
    for (int fd : {a_[0], a_[1], b_[0], b_[1], stop_[0], stop_[1]}) {
      if (fd >= 0) close(fd);
    }
  }

  // Runs the emulator on its own thread until Stop().
  void Start(const EmulatorOptions& o) {
    auto e = Emulator::Create(a_[1], b_[1], o);
    ASSERT_TRUE(e.ok()) << e.status();
    emulator_ = *std::move(e);
    thread_ = std::thread([this] { run_status_ = emulator_->Run(stop_[0], [] { return false; }); });
  }
  void Stop() {
    ASSERT_EQ(write(stop_[1], "x", 1), 1);
    thread_.join();
  }

  // An IPv4/UDP packet of `size` bytes carrying `seq` and a pattern.
  static std::vector<uint8_t> Packet(uint32_t seq, size_t size) {
    std::vector<uint8_t> p(size);
    p[0] = 0x45;  // IPv4, 20-byte header
    p[9] = 17;    // UDP
    std::memcpy(&p[28], &seq, 4);
    for (size_t i = 32; i < size; ++i) p[i] = static_cast<uint8_t>(seq * 31 + i);
    return p;
  }
  static size_t SizeOf(uint32_t seq) { return 64 + (seq * 97) % 1300; }

  // Flow control between the test's writer and reader: the emulator's
  // output is a socket with a small buffer (a TUN never refuses a write,
  // a socketpair does), so at most kWindow packets may be on their way.
  static constexpr uint64_t kWindow = 32;
  void WaitUntilReceived(uint64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return received_ >= n; });
  }
  void MarkReceived() {
    std::lock_guard<std::mutex> lock(mu_);
    ++received_;
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t received_ = 0;

  int a_[2], b_[2], stop_[2];
  std::unique_ptr<Emulator> emulator_;
  std::thread thread_;
  absl::Status run_status_;
};

TEST_F(EmulatorTest, ForwardsIntactInOrderAndCounts) {
  EmulatorOptions o;
  o.links.a2b.rate_bps = 200'000'000;
  o.links.a2b.delay_us = 500;
  o.links.a2b.jitter_us = 300;
  Start(o);
  constexpr uint32_t kN = 3000;
  std::thread writer([&] {
    for (uint32_t seq = 0; seq < kN; ++seq) {
      if (seq >= kWindow) WaitUntilReceived(seq - kWindow);
      std::vector<uint8_t> p = Packet(seq, SizeOf(seq));
      ASSERT_EQ(write(a_[0], p.data(), p.size()), static_cast<ssize_t>(p.size()));
    }
  });
  uint64_t bytes = 0;
  std::vector<uint8_t> buf(4096);
  for (uint32_t seq = 0; seq < kN; ++seq) {
    const ssize_t n = read(b_[0], buf.data(), buf.size());
    const std::vector<uint8_t> want = Packet(seq, SizeOf(seq));
    ASSERT_EQ(n, static_cast<ssize_t>(want.size())) << "packet " << seq;
    ASSERT_EQ(std::memcmp(buf.data(), want.data(), want.size()), 0) << "packet " << seq;
    bytes += want.size();
    MarkReceived();
  }
  writer.join();
  Stop();
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  const DirectionStats s = emulator_->Stats(0);
  EXPECT_EQ(s.link.offered_packets, kN);
  EXPECT_EQ(s.link.delivered_packets, kN);
  EXPECT_EQ(s.link.delivered_bytes, bytes);
  EXPECT_EQ(s.udp_packets, kN);
  EXPECT_EQ(s.udp_ip_bytes, bytes);
  EXPECT_EQ(s.udp_payload_bytes, bytes - 28 * kN);
  EXPECT_EQ(s.udp_delivered_ip_bytes, bytes);
  EXPECT_EQ(s.tcp_delivered_ip_bytes, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(emulator_->Stats(1).link.offered_packets, 0u);
  EXPECT_NE(emulator_->StatsJson().find("\"a2b\":{\"offered_packets\":3000,"), std::string::npos);
}

TEST_F(EmulatorTest, LossFollowsTheSeedExactly) {
  EmulatorOptions o;
  o.links.b2a.loss = 0.2;
  o.links.b2a.seed = 11;
  // Which packets a seed loses depends only on their order, so a model fed
  // the same sequence says exactly which ones must arrive.
  LinkModel oracle(o.links.b2a);
  constexpr uint32_t kN = 2000;
  std::vector<uint32_t> expected;
  std::vector<uint64_t> arriving_before(kN);  // how many of [0, seq) arrive
  for (uint32_t seq = 0; seq < kN; ++seq) {
    arriving_before[seq] = expected.size();
    if (oracle.Offer(0, 100, seq)) expected.push_back(seq);
  }
  Start(o);
  std::thread writer([&] {
    for (uint32_t seq = 0; seq < kN; ++seq) {
      if (arriving_before[seq] >= kWindow) WaitUntilReceived(arriving_before[seq] - kWindow);
      std::vector<uint8_t> p = Packet(seq, SizeOf(seq));
      ASSERT_EQ(write(b_[0], p.data(), p.size()), static_cast<ssize_t>(p.size()));
    }
  });
  std::vector<uint8_t> buf(4096);
  for (uint32_t want : expected) {
    const ssize_t n = read(a_[0], buf.data(), buf.size());
    ASSERT_EQ(n, static_cast<ssize_t>(SizeOf(want)));
    uint32_t seq;
    std::memcpy(&seq, &buf[28], 4);
    ASSERT_EQ(seq, want);
    MarkReceived();
  }
  writer.join();
  Stop();
  const DirectionStats s = emulator_->Stats(1);
  EXPECT_EQ(s.link.offered_packets, kN);
  EXPECT_EQ(s.link.delivered_packets, expected.size());
  EXPECT_EQ(s.link.loss_drops, kN - expected.size());
  EXPECT_GT(s.link.loss_drops, 0u);
}

TEST_F(EmulatorTest, OversizedPacketsAreDroppedAndCounted) {
  EmulatorOptions o;
  o.max_packet_bytes = 1500;
  Start(o);
  std::vector<uint8_t> big = Packet(1, 1600), ok = Packet(2, 1500);
  ASSERT_EQ(write(a_[0], big.data(), big.size()), 1600);
  ASSERT_EQ(write(a_[0], ok.data(), ok.size()), 1500);
  std::vector<uint8_t> buf(4096);
  ASSERT_EQ(read(b_[0], buf.data(), buf.size()), 1500);
  Stop();
  EXPECT_EQ(emulator_->Stats(0).oversize_drops, 1u);
  EXPECT_EQ(emulator_->Stats(0).link.offered_packets, 1u);
}

TEST_F(EmulatorTest, ReturnsAnErrorWhenADeviceGoesAway) {
  Start({});
  close(a_[0]);
  a_[0] = -1;
  thread_.join();
  EXPECT_FALSE(run_status_.ok());
}

TEST(EmulatorCreateTest, RejectsBadOptions) {
  int p[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p), 0);
  EmulatorOptions o;
  o.links.a2b.loss = 2;
  EXPECT_FALSE(Emulator::Create(p[0], p[1], o).ok());
  o = {};
  o.max_packet_bytes = 10;
  EXPECT_FALSE(Emulator::Create(p[0], p[1], o).ok());
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace kcpp::linkem
