#include "transport/options.h"

#include "gtest/gtest.h"

namespace kcpp::transport {
namespace {

TEST(SessionOptions, DefaultsAreKcpGosAndValid) {
  SessionOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(o.mtu, 1400);
  EXPECT_EQ(o.send_window, 32);
  EXPECT_EQ(o.receive_window, 32);
  EXPECT_EQ(o.nodelay, (NoDelay{0, 100, 0, false}));
  EXPECT_EQ(o.crypt, "null");
  EXPECT_FALSE(o.stream_mode);
}

TEST(SessionOptions, RejectsOutOfRangeWithTheFieldName) {
  struct Case {
    void (*mutate)(SessionOptions&);
    const char* field;
  } cases[] = {
      {[](SessionOptions& o) { o.mtu = 1501; }, "mtu"},
      {[](SessionOptions& o) { o.mtu = 20; }, "mtu"},
      {[](SessionOptions& o) { o.send_window = 0; }, "send_window"},
      {[](SessionOptions& o) { o.receive_window = 1 << 20; }, "receive_window"},
      {[](SessionOptions& o) { o.nodelay.nodelay = 3; }, "nodelay"},
      {[](SessionOptions& o) { o.nodelay.interval_ms = 5; }, "interval"},
      {[](SessionOptions& o) { o.data_shards = 10; }, "FEC"},
      {[](SessionOptions& o) {
         o.data_shards = 200;
         o.parity_shards = 100;
       },
       "FEC"},
      {[](SessionOptions& o) { o.dscp = 64; }, "dscp"},
      {[](SessionOptions& o) { o.rate_limit_bytes_per_second = -1; }, "rate_limit"},
      {[](SessionOptions& o) { o.congestion = "cubic"; }, "bbr, kcp-go or none"},
      {[](SessionOptions& o) { o.kcp_flavor = "ikcp2"; }, "kcp_flavor"},
      {[](SessionOptions& o) { o.socket_buffer_bytes = -2; }, "socket_buffer_bytes"},
  };
  for (const auto& c : cases) {
    SessionOptions o;
    c.mutate(o);
    absl::Status s = o.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), absl::string_view::npos) << s.message();
  }
}

TEST(SessionOptions, SocketBuffersMakeRoomForTheWindow) {
  SessionOptions o;  // 32 x 1400 B fit the kernel's default
  EXPECT_EQ(o.EffectiveSocketBufferBytes(), 0);
  o.send_window = 1024;  // 1.4 MB do not
  EXPECT_EQ(o.EffectiveSocketBufferBytes(), 1024 * 1400);
  o.receive_window = 4096;
  o.mtu = 1200;
  EXPECT_EQ(o.EffectiveSocketBufferBytes(), 4096 * 1200);
  o.socket_buffer_bytes = -1;  // the kernel's default, whatever the window
  EXPECT_EQ(o.EffectiveSocketBufferBytes(), 0);
  EXPECT_TRUE(o.Validate().ok());
  o.socket_buffer_bytes = 65536;  // as asked
  EXPECT_EQ(o.EffectiveSocketBufferBytes(), 65536);
}

TEST(NoDelay, KcptunModes) {
  EXPECT_EQ(*NoDelay::FromMode("normal"), (NoDelay{0, 40, 2, true}));
  EXPECT_EQ(*NoDelay::FromMode("fast"), (NoDelay{0, 30, 2, true}));
  EXPECT_EQ(*NoDelay::FromMode("fast2"), (NoDelay{1, 20, 2, true}));
  EXPECT_EQ(*NoDelay::FromMode("fast3"), (NoDelay{1, 10, 2, true}));
  EXPECT_FALSE(NoDelay::FromMode("turbo").ok());
}

TEST(ListenerOptions, ValidatesItsBoundsAndTheSessionOptions) {
  ListenerOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.accept_backlog = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.accept_backlog = 1;
  o.session.mtu = 9000;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace kcpp::transport

TEST(SessionOptionsTest, UnknownCipherNamesTheAllowedOnes) {
  kcpp::transport::SessionOptions o;
  o.crypt = "rot13";
  const absl::Status s = o.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("aes-128"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("rot13"), absl::string_view::npos) << s;
  o.crypt = "salsa20";
  EXPECT_TRUE(o.Validate().ok());
}

TEST(SessionOptionsTest, QueueAndLifetimeBoundsValidated) {
  kcpp::transport::SessionOptions o;
  o.outbound_queue_bytes = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o.outbound_queue_bytes = 1;
  o.idle_timeout_ms = -1;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}
