#include "transport/internal/session_channel.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

// Takes at most `room` bytes per drain, like a KCP send window.
struct WindowSink {
  size_t room;
  std::vector<uint8_t>* out;
  size_t operator()(absl::Span<const uint8_t> data) {
    const size_t n = std::min(room, data.size());
    out->insert(out->end(), data.begin(), data.begin() + n);
    room -= n;
    return n;
  }
};

TEST(SessionChannel, WriteBlocksOnAFullQueueAndNeverLosesOrReorders) {
  std::atomic<int> kicks{0};
  SessionChannel ch(false, {/*outbound=*/1000, /*inbound=*/1000}, [&] { ++kicks; });
  std::vector<uint8_t> data(10000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13);
  std::thread writer([&] {
    auto n = ch.Write(data);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, data.size());
  });
  // The "loop": drains whatever is queued, 300 bytes per kick.
  std::vector<uint8_t> got;
  while (got.size() < data.size()) {
    ch.Serviced();
    ch.DrainStream(WindowSink{300, &got});
  }
  writer.join();
  EXPECT_EQ(got, data);
  EXPECT_GT(kicks.load(), 0);
}

TEST(SessionChannel, ReadDistinguishesTimeoutEofClosedAndFailure) {
  SessionChannel ch(false, {}, [] {});
  uint8_t buf[16];
  auto r = ch.Read(absl::MakeSpan(buf), absl::Now() + absl::Milliseconds(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ch.TryRead(absl::MakeSpan(buf)).status().code(), absl::StatusCode::kDeadlineExceeded);

  const uint8_t hello[] = {'h', 'i'};
  ASSERT_TRUE(ch.DeliverInbound(hello));
  ch.PeerClosed();
  r = ch.Read(absl::MakeSpan(buf));  // data first, then EOF
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(ch.Read(absl::MakeSpan(buf)).status().code(), absl::StatusCode::kOutOfRange);

  SessionChannel failed(false, {}, [] {});
  failed.Fail(absl::UnavailableError("dead link: 20 retransmissions unacknowledged"));
  EXPECT_EQ(failed.Read(absl::MakeSpan(buf)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failed.Write(hello).status().code(), absl::StatusCode::kUnavailable);

  SessionChannel closed(false, {}, [] {});
  closed.Close();
  EXPECT_EQ(closed.Read(absl::MakeSpan(buf)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.Write(hello).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SessionChannel, CloseWakesABlockedReader) {
  SessionChannel ch(false, {}, [] {});
  std::thread reader([&] {
    uint8_t buf[4];
    EXPECT_EQ(ch.Read(absl::MakeSpan(buf)).status().code(), absl::StatusCode::kFailedPrecondition);
  });
  ch.Close();
  reader.join();
}

TEST(SessionChannel, InboundIsBoundedAndReadKicksWhenRoomAppears) {
  std::atomic<int> kicks{0};
  SessionChannel ch(false, {1000, 100}, [&] { ++kicks; });
  std::vector<uint8_t> chunk(60, 7);
  EXPECT_TRUE(ch.DeliverInbound(chunk));
  EXPECT_FALSE(ch.DeliverInbound(chunk));  // would exceed 100: stays in KCP
  EXPECT_EQ(ch.InboundRoom(), 40u);
  uint8_t buf[100];
  ASSERT_EQ(*ch.Read(absl::MakeSpan(buf)), 60u);
  EXPECT_EQ(kicks.load(), 1);
  EXPECT_EQ(ch.InboundRoom(), 100u);
}

TEST(SessionChannel, MessageModeKeepsBoundariesAndRefusedMessagesStayQueued) {
  SessionChannel ch(true, {1000, 1000}, [] {});
  const std::vector<uint8_t> a(10, 1), b(20, 2);
  ASSERT_EQ(*ch.Write(a), 10u);
  ASSERT_EQ(*ch.Write(b), 20u);
  std::vector<std::vector<uint8_t>> taken;
  int budget = 1;
  struct Sink {
    int* budget;
    std::vector<std::vector<uint8_t>>* out;
    bool operator()(absl::Span<const uint8_t> m) {
      if (*budget == 0) return false;
      --*budget;
      out->emplace_back(m.begin(), m.end());
      return true;
    }
  };
  ch.DrainMessages(Sink{&budget, &taken});
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], a);
  budget = 5;
  ch.DrainMessages(Sink{&budget, &taken});
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[1], b);

  ASSERT_TRUE(ch.DeliverInbound(b));
  ASSERT_TRUE(ch.DeliverInbound(a));
  uint8_t buf[64];
  EXPECT_EQ(*ch.Read(absl::MakeSpan(buf)), 20u);
  EXPECT_EQ(*ch.Read(absl::MakeSpan(buf)), 10u);
  std::vector<uint8_t> too_big(2000);
  EXPECT_EQ(ch.Write(too_big).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SessionChannel, MessageLongerThanTheReadBufferComesInPartsBeforeTheNext) {
  SessionChannel ch(true, {1000, 1000}, [] {});
  std::vector<uint8_t> big(25), small(3, 9);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(ch.DeliverInbound(big));
  ASSERT_TRUE(ch.DeliverInbound(small));
  uint8_t buf[10];
  std::vector<uint8_t> got;
  for (size_t expect : {10u, 10u, 5u}) {
    auto n = ch.Read(absl::MakeSpan(buf));
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, expect);
    got.insert(got.end(), buf, buf + *n);
  }
  EXPECT_EQ(got, big);
  auto n = ch.Read(absl::MakeSpan(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::vector<uint8_t>(buf, buf + *n), small);
}

TEST(SessionChannel, WaitAcknowledgedNeedsAnEmptyQueueAndTheLoopsAck) {
  SessionChannel ch(false, {1000, 1000}, [] {});
  const uint8_t data[10] = {1, 2, 3};
  ASSERT_TRUE(ch.Write(data).ok());
  // Queued, not yet in KCP.
  EXPECT_EQ(ch.WaitAcknowledged(absl::InfinitePast()).code(), absl::StatusCode::kDeadlineExceeded);
  std::vector<uint8_t> got;
  ch.DrainStream(WindowSink{100, &got});
  // In KCP, not acknowledged: a stale "acknowledged" from before the drain
  // must not count.
  EXPECT_EQ(ch.WaitAcknowledged(absl::InfinitePast()).code(), absl::StatusCode::kDeadlineExceeded);
  std::thread waiter([&] { EXPECT_TRUE(ch.WaitAcknowledged().ok()); });
  ch.SetAcknowledged(true);
  waiter.join();
  EXPECT_TRUE(ch.WaitAcknowledged(absl::InfinitePast()).ok());
}

TEST(SessionChannel, WaitAcknowledgedEndsWithTheFailure) {
  SessionChannel ch(false, {1000, 1000}, [] {});
  const uint8_t data[10] = {};
  ASSERT_TRUE(ch.Write(data).ok());
  std::thread waiter(
      [&] { EXPECT_EQ(ch.WaitAcknowledged().code(), absl::StatusCode::kUnavailable); });
  ch.Fail(absl::UnavailableError("dead link"));
  waiter.join();
}

TEST(SessionChannel, WritableEdgeOnlyAfterAFullQueueDrains) {
  SessionChannel ch(false, {100, 100}, [] {});
  std::vector<uint8_t> data(150, 7);
  EXPECT_FALSE(ch.TakeWritableEdge());
  auto n = ch.TryWrite(data);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 100u);                  // a prefix; the writer now waits for room
  EXPECT_FALSE(ch.TakeWritableEdge());  // still full
  std::vector<uint8_t> got;
  ch.DrainStream(WindowSink{60, &got});
  EXPECT_TRUE(ch.TakeWritableEdge());
  EXPECT_FALSE(ch.TakeWritableEdge());  // once per blocked write
}

}  // namespace
}  // namespace kcpp::transport::internal
