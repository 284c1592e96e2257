// OobPort alone: its bounds (nothing attached, a full reader, no FEC, a
// second application) with datagrams delivered from another thread than the
// I/O loop's, as a session's transport loop does with kcpd --io_threads.
// End to end through kcpd processes: tests/sidecar/oob_test.cc.
#include "kcpd/internal/oob_port.h"

#include <sys/socket.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "base/latch.h"
#include "gtest/gtest.h"
#include "transport/event_loop.h"
#include "transport/testing/run_on_loop.h"

namespace kcpp::service::internal {
namespace {

using transport::EventLoop;
using transport::testing::RunOnLoop;


std::pair<UniqueFd, UniqueFd> SeqpacketPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string Recv(int fd) {
  std::string buf(4096, '\0');
  const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

class OobPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Create("oob-test");
    ASSERT_TRUE(loop.ok());
    loop_ = *std::move(loop);
    loop_->Start();
  }
  void TearDown() override {
    RunOnLoop(*loop_, [&] { port_->Detach(); });
    loop_->Stop();
  }
  absl::Status Attach(UniqueFd connection) {
    absl::Status s;
    RunOnLoop(*loop_, [&] {
      // No session: these tests never send towards the peer.
      s = port_->Attach(loop_.get(), nullptr, std::move(connection), "sessions/7");
    });
    return s;
  }

  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<OobPort> port_ = std::make_shared<OobPort>();
};

TEST_F(OobPortTest, DatagramsWithNobodyAttachedAreDroppedAndCounted) {
  const uint8_t d[3] = {1, 2, 3};
  for (int i = 0; i < 5; ++i) port_->Deliver(d);
  EXPECT_EQ(port_->counts().dropped_unattached, 5u);
  EXPECT_EQ(port_->counts().received, 0u);
  EXPECT_FALSE(port_->attached());
}

TEST_F(OobPortTest, NoFecIsRefusedWithAnErrLine) {
  auto [kcpd_end, app] = SeqpacketPair();
  const absl::Status s = Attach(std::move(kcpd_end));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  const std::string answer = Recv(app.get());
  EXPECT_TRUE(absl::StartsWith(answer, "ERR sessions/7 has no FEC")) << answer;
  EXPECT_FALSE(port_->attached());
}

TEST_F(OobPortTest, AFullReaderDropsWholeDatagramsAndKcpdKeepsNone) {
  port_->set_max_size(1000);
  auto [kcpd_end, app] = SeqpacketPair();
  ASSERT_TRUE(Attach(std::move(kcpd_end)).ok());
  EXPECT_EQ(Recv(app.get()), "OK\n");  // answered by the port, once attached
  EXPECT_TRUE(port_->attached());

  // The application does not read: 2000 datagrams of 1000 bytes are far
  // more than a Unix socket buffers. Delivered from this thread, not the
  // loop's.
  constexpr int kCount = 2000;
  std::string d(1000, '\0');
  for (int i = 0; i < kCount; ++i) {
    d[0] = static_cast<char>(i & 0xff);
    d[1] = static_cast<char>(i >> 8);
    port_->Deliver(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(d.data()), d.size()));
  }
  const OobPort::Counts c = port_->counts();
  EXPECT_EQ(c.received + c.dropped_reader_full, static_cast<uint64_t>(kCount));
  EXPECT_GT(c.dropped_reader_full, 0u);
  // The socket holds exactly the datagrams counted as delivered: the first
  // ones, whole, in order.
  uint64_t read = 0;
  for (std::string got = Recv(app.get()); !got.empty(); got = Recv(app.get()), ++read) {
    ASSERT_EQ(got.size(), 1000u);
    EXPECT_EQ(static_cast<uint8_t>(got[0]) | static_cast<uint8_t>(got[1]) << 8, read);
  }
  EXPECT_EQ(read, c.received);

  // At most one application: a second one gets ERR, the first stays.
  auto [second, second_app] = SeqpacketPair();
  const absl::Status s = Attach(std::move(second));
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_TRUE(absl::StartsWith(Recv(second_app.get()), "ERR sessions/7 already has"));
  EXPECT_TRUE(port_->attached());

  // The application hangs up: detached (seen on the loop), and datagrams
  // count as unattached again.
  app.reset();
  RunOnLoop(*loop_, [] {});
  EXPECT_FALSE(port_->attached());
  port_->Deliver(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(d.data()), 10));
  EXPECT_EQ(port_->counts().dropped_unattached, 1u);
}

}  // namespace
}  // namespace kcpp::service::internal
