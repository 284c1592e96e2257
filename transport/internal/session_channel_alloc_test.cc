// The non-blocking forms allocate nothing when they would block: a
// callback-driven reader or writer polls an empty (or full) channel once per
// event, so "would block" must be as cheap as data. Counted by replacing the
// global operator new in this test binary.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"
#include "testing/allocation_counter.h"
#include "transport/internal/session_channel.h"

namespace kcpp::transport::internal {
namespace {

TEST(SessionChannelAllocations, WouldBlockAllocatesNothing) {
  for (bool message_mode : {false, true}) {
    SessionChannel ch(message_mode, {/*outbound=*/64, /*inbound=*/64}, [] {});
    uint8_t buf[16];
    const std::vector<uint8_t> fill(40, 1);
    // Fill the outbound queue (stream mode takes a prefix of the second
    // write; message mode refuses it), and warm lazily created state.
    while (ch.TryWrite(fill).ok()) {
    }
    ASSERT_EQ(ch.TryRead(absl::MakeSpan(buf)).status().code(), absl::StatusCode::kDeadlineExceeded);
    const uint64_t before = ::kcpp::test::AllocationCount();
    for (int i = 0; i < 1000; ++i) {
      absl::StatusOr<size_t> r = ch.TryRead(absl::MakeSpan(buf));
      ASSERT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
      absl::StatusOr<size_t> w = ch.TryWrite(fill);
      ASSERT_EQ(w.status().code(), absl::StatusCode::kDeadlineExceeded);
    }
    EXPECT_EQ(::kcpp::test::AllocationCount() - before, 0u) << "message mode " << message_mode;
    // The messages still say what happened.
    EXPECT_EQ(ch.TryRead(absl::MakeSpan(buf)).status().message(), "no data available");
    EXPECT_EQ(ch.TryWrite(fill).status().message(), "outbound queue is full");
  }
}

}  // namespace
}  // namespace kcpp::transport::internal
