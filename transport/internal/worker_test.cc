#include "transport/internal/worker.h"

#include <string>
#include <vector>

#include "base/latch.h"
#include "gtest/gtest.h"
#include "transport/internal/udp_endpoint.h"

namespace kcpp::transport::internal {
namespace {

// Collects datagrams; notifies after `expected`.
class Collector : public UdpEndpoint::Receiver {
 public:
  explicit Collector(size_t expected) : expected_(expected) {}
  void OnDatagram(absl::Span<uint8_t> d, const SocketAddress& from, int64_t) override {
    got.emplace_back(d.begin(), d.end());
    if (got.size() == expected_) done.CountDown();
  }
  void OnOversizedDatagram(const SocketAddress&) override {
    ++oversized;
    if (oversized == 1) oversize_seen.CountDown();
  }
  std::vector<std::vector<uint8_t>> got;
  int oversized = 0;
  Latch done, oversize_seen;

 private:
  size_t expected_;
};

std::unique_ptr<UdpEndpoint> Bind(Worker& loop, UdpEndpoint::Receiver* r) {
  std::unique_ptr<UdpEndpoint> e;
  loop.RunSync([&] {
    UdpSocket::Options o;
    o.receive_buffer_bytes = 4 << 20;  // the test's burst must not overflow it
    auto sock = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), o);
    EXPECT_TRUE(sock.ok()) << sock.status();
    auto ep = UdpEndpoint::Create(&loop, *std::move(sock), r);
    EXPECT_TRUE(ep.ok()) << ep.status();
    e = *std::move(ep);
  });
  return e;
}

TEST(Worker, QueuedDatagramsLeaveAtTheEndOfTheIterationInOrder) {
  auto loop = Worker::Create("t", 0);
  ASSERT_TRUE(loop.ok());
  Collector rx(120), unused(0);
  auto receiver = Bind(**loop, &rx);
  auto sender = Bind(**loop, &unused);
  const SocketAddress to = receiver->socket().local_address();
  (*loop)->RunSync([&] {
    for (int i = 0; i < 120; ++i) {
      uint8_t* b = (*loop)->pool().Get();
      for (int k = 0; k < 100; ++k) b[k] = static_cast<uint8_t>(i + k);
      sender->Enqueue(b, 100, to);
    }
    EXPECT_EQ(sender->queued(), 120u);  // nothing sent before the iteration ends
  });
  rx.done.Wait();
  (*loop)->RunSync([&] {
    ASSERT_EQ(rx.got.size(), 120u);
    for (int i = 0; i < 120; ++i) EXPECT_EQ(rx.got[i][0], static_cast<uint8_t>(i));
    EXPECT_EQ(sender->queued(), 0u);
    // Every buffer went back to the pool.
    EXPECT_EQ((*loop)->pool().available(), (*loop)->pool().capacity());
    receiver.reset();
    sender.reset();
  });
}

TEST(Worker, DatagramsOverKcpGosLimitAreDroppedAndReported) {
  auto loop = Worker::Create("t", 0);
  ASSERT_TRUE(loop.ok());
  Collector rx(1), unused(0);
  auto receiver = Bind(**loop, &rx);
  auto sender = Bind(**loop, &unused);
  const SocketAddress to = receiver->socket().local_address();
  (*loop)->RunSync([&] {
    uint8_t* big = (*loop)->pool().Get();
    sender->Enqueue(big, 1501, to);
  });
  rx.oversize_seen.Wait();
  (*loop)->RunSync([&] {
    EXPECT_TRUE(rx.got.empty());
    EXPECT_EQ(receiver->stats().oversized, 1u);
    receiver.reset();
    sender.reset();
  });
}

TEST(Worker, OutgoingQueueIsBoundedAndDropsAreCounted) {
  auto loop = Worker::Create("t", 0);
  ASSERT_TRUE(loop.ok());
  Collector unused(0);
  std::unique_ptr<UdpEndpoint> e;
  (*loop)->RunSync([&] {
    auto sock = UdpSocket::Bind(*SocketAddress::Parse("127.0.0.1:0"), {});
    e = *UdpEndpoint::Create(loop->get(), *std::move(sock), &unused, /*max_queued=*/4);
    for (int i = 0; i < 6; ++i) e->Enqueue((*loop)->pool().Get(), 10, e->socket().local_address());
    EXPECT_EQ(e->queued(), 4u);
    EXPECT_EQ(e->stats().queue_drops, 2u);
    EXPECT_EQ((*loop)->TotalCounters().send_drops, 2u);
    e.reset();  // queued buffers go back to the pool, nothing leaks
    EXPECT_EQ((*loop)->pool().available(), (*loop)->pool().capacity());
  });
}

class Recorder : public LoopObject {
 public:
  Recorder(std::vector<std::string>* log, std::string name) : log_(log), name_(std::move(name)) {}
  ~Recorder() override { log_->push_back(name_ + ":destroyed"); }
  void OnKick(int64_t) override { log_->push_back(name_ + ":kick"); }
  void OnShutdown() override { log_->push_back(name_ + ":shutdown"); }
  Counters FinalCounters() const override {
    Counters c;
    c.bytes_sent = 5;
    return c;
  }

 private:
  std::vector<std::string>* log_;
  std::string name_;
};

TEST(Worker, KicksReachLiveObjectsOnlyAndRemovalIsDeferred) {
  auto loop = Worker::Create("t", 0);
  ASSERT_TRUE(loop.ok());
  std::vector<std::string> log;  // loop thread only
  const uint64_t a = Worker::NextId(), b = Worker::NextId();
  (*loop)->RunSync([&] {
    (*loop)->AddObject(a, std::make_unique<Recorder>(&log, "a"));
    (*loop)->AddObject(b, std::make_unique<Recorder>(&log, "b"));
  });
  (*loop)->Kick(a);
  (*loop)->Kick(b);
  (*loop)->Kick(12345678);   // unknown: ignored
  (*loop)->RunSync([&] {});  // the kick task was posted first, so it has run
  (*loop)->RunSync([&] {
    EXPECT_EQ(log, (std::vector<std::string>{"a:kick", "b:kick"}));
    (*loop)->RemoveObject(a);
    EXPECT_EQ(log.size(), 2u);  // not destroyed under the caller's feet
    EXPECT_EQ((*loop)->FindObject(a), nullptr);
  });
  (*loop)->RunSync([&] {
    EXPECT_EQ(log.back(), "a:destroyed");
    EXPECT_EQ((*loop)->TotalCounters().bytes_sent, 5u);
  });
  (*loop)->Shutdown();
  EXPECT_EQ(log[log.size() - 2], "b:shutdown");
  EXPECT_EQ(log.back(), "b:destroyed");
  EXPECT_FALSE((*loop)->Post([] {}));
  EXPECT_FALSE((*loop)->RunSync([] {}));
}

}  // namespace
}  // namespace kcpp::transport::internal
