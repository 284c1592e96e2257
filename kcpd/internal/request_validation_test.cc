#include "kcpd/internal/request_validation.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

using kcpp::v1::SessionOptions;

// Expects InvalidArgument whose message contains `needle`.
void ExpectInvalid(const absl::Status& s, absl::string_view needle) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(needle), absl::string_view::npos)
      << "message \"" << s.message() << "\" lacks \"" << needle << "\"";
}

TEST(SessionConfigFromProto, ZeroValuesAreKcpGoDefaults) {
  auto c = SessionConfigFromProto(SessionOptions(), "options");
  ASSERT_TRUE(c.ok()) << c.status();
  const transport::SessionOptions defaults;
  EXPECT_EQ(c->transport.crypt, "null");
  EXPECT_EQ(c->transport.mtu, defaults.mtu);
  EXPECT_EQ(c->transport.send_window, 32);
  EXPECT_EQ(c->transport.receive_window, 32);
  EXPECT_TRUE(c->transport.nodelay == transport::NoDelay{});
  EXPECT_EQ(c->transport.dscp, -1);
  EXPECT_EQ(c->transport.close_linger_ms, defaults.close_linger_ms);
  EXPECT_EQ(c->transport.dead_link, defaults.dead_link);
  EXPECT_EQ(c->framing, Framing::kSmux);
  EXPECT_TRUE(c->transport.stream_mode);  // smux rides a byte stream, as kcptun
  EXPECT_EQ(c->smux.version, 2);
  EXPECT_EQ(c->smux.keep_alive_interval_ms, 10000);
  EXPECT_EQ(c->smux.keep_alive_timeout_ms, 30000);
  EXPECT_EQ(c->compression, Compression::kNone);
  EXPECT_FALSE(c->message_mode());
  EXPECT_EQ(c->transport.congestion, defaults.congestion);
  EXPECT_TRUE(c->transport.fec_adaptive_parity);
}

TEST(SessionConfigFromProto, CongestionControlByName) {
  const std::pair<kcpp::v1::CongestionControl, const char*> cases[] = {
      {kcpp::v1::CONGESTION_CONTROL_KCP_GO, "kcp-go"},
      {kcpp::v1::CONGESTION_CONTROL_NONE, "none"},
      {kcpp::v1::CONGESTION_CONTROL_BBR, "bbr"}};
  for (const auto& [value, name] : cases) {
    SessionOptions p;
    p.set_congestion(value);
    p.set_fec_fixed_parity(true);
    auto c = SessionConfigFromProto(p, "options");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->transport.congestion, name);
    EXPECT_FALSE(c->transport.fec_adaptive_parity);
    SessionOptions out;
    SessionConfigToProto(*c, &out);
    EXPECT_EQ(out.congestion(), value);
    EXPECT_TRUE(out.fec_fixed_parity());
  }
  SessionOptions bad;
  bad.set_congestion(static_cast<kcpp::v1::CongestionControl>(77));
  auto c = SessionConfigFromProto(bad, "options");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("options.congestion"), std::string::npos)
      << c.status();
}

TEST(SessionConfigFromProto, ReplayProtectionNeedsAeadAndRoundTrips) {
  SessionOptions p;
  p.set_crypt("aes-128-gcm");
  p.set_key("secret");
  p.set_replay_protection(true);
  p.mutable_replay_max_skew()->set_seconds(30);
  auto c = SessionConfigFromProto(p, "options");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->transport.replay_protection);
  EXPECT_EQ(c->transport.replay_max_skew_ms, 30000);
  SessionOptions out;
  SessionConfigToProto(*c, &out);
  EXPECT_TRUE(out.replay_protection());
  EXPECT_EQ(out.replay_max_skew().seconds(), 30);

  SessionOptions classic = p;
  classic.set_crypt("aes");
  auto refused = SessionConfigFromProto(classic, "options");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("AEAD"), absl::string_view::npos)
      << refused.status();

  SessionOptions off;
  auto d = SessionConfigFromProto(off, "options");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->transport.replay_protection);
}

TEST(SessionConfigFromProto, KcptunStyleOptions) {
  SessionOptions p;
  p.set_crypt("aes");
  p.set_key("it's a secrect");
  p.set_data_shards(10);
  p.set_parity_shards(3);
  p.set_mtu(1350);
  p.set_send_window(128);
  p.set_receive_window(512);
  p.set_mode(kcpp::v1::MODE_FAST3);
  p.set_dscp(46);
  p.set_rate_limit_bytes_per_second(1 << 20);
  p.mutable_smux()->set_version(1);
  p.set_compression(kcpp::v1::COMPRESSION_SNAPPY);
  p.mutable_close_linger()->set_seconds(2);
  auto c = SessionConfigFromProto(p, "options");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->transport.crypt, "aes");
  EXPECT_EQ(c->transport.key, "it's a secrect");
  EXPECT_EQ(c->transport.data_shards, 10);
  EXPECT_EQ(c->transport.parity_shards, 3);
  EXPECT_EQ(c->transport.mtu, 1350);
  EXPECT_EQ(c->transport.send_window, 128);
  EXPECT_EQ(c->transport.receive_window, 512);
  EXPECT_TRUE(c->transport.nodelay == transport::NoDelay::Fast3());
  EXPECT_EQ(c->transport.dscp, 46);
  EXPECT_EQ(c->transport.rate_limit_bytes_per_second, 1 << 20);
  EXPECT_EQ(c->transport.close_linger_ms, 2000);
  EXPECT_EQ(c->smux.version, 1);
  EXPECT_EQ(c->compression, Compression::kSnappy);
}

TEST(SessionConfigFromProto, RawMessageModeAttachesOverSeqpacket) {
  SessionOptions p;
  p.set_framing(kcpp::v1::FRAMING_RAW);
  auto c = SessionConfigFromProto(p, "options");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->message_mode());
  SessionOptions effective;
  SessionConfigToProto(*c, &effective);
  EXPECT_EQ(AttachSocketType(effective), kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET);
  p.set_stream_mode(true);
  c = SessionConfigFromProto(p, "options");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->message_mode());
  SessionConfigToProto(*c, &effective);
  EXPECT_EQ(AttachSocketType(effective), kcpp::v1::DataAttachment::SOCKET_TYPE_STREAM);
}

TEST(SessionConfigFromProto, MalformedOptionsNameTheFieldAndTheRule) {
  SessionOptions p;
  p.set_crypt("rot13");
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "options: crypt must be one of");

  p = SessionOptions();
  p.set_send_window(1000000);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "send_window must be 1..65535");
  p.set_send_window(4294967295u);  // would wrap to -1 as an int
  ExpectInvalid(SessionConfigFromProto(p, "options").status(),
                "options.send_window is out of range");

  p = SessionOptions();
  p.set_receive_window(70000);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "receive_window must be 1..65535");

  p = SessionOptions();
  p.set_mtu(20);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "mtu must be 50..1500");

  p = SessionOptions();
  p.set_data_shards(10);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "FEC needs");

  p = SessionOptions();
  p.set_dscp(64);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "options.dscp must be 1..63");

  p = SessionOptions();
  p.set_crypt("aes");
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "options.key is required");

  p = SessionOptions();
  p.mutable_nodelay()->set_interval_ms(20);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "only used with mode MODE_MANUAL");
  p.set_mode(kcpp::v1::MODE_MANUAL);
  p.mutable_nodelay()->set_interval_ms(5);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "interval must be 10..5000");
  p.clear_nodelay();
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "MODE_MANUAL needs");

  p = SessionOptions();
  p.set_mode(static_cast<kcpp::v1::Mode>(99));
  ExpectInvalid(SessionConfigFromProto(p, "options").status(),
                "options.mode has an unknown value 99");
  p = SessionOptions();
  p.set_framing(static_cast<kcpp::v1::Framing>(7));
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "options.framing has an unknown");

  p = SessionOptions();
  p.set_framing(kcpp::v1::FRAMING_RAW);
  p.mutable_smux()->set_version(2);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "smux is only used with");
  p.clear_smux();
  p.set_compression(kcpp::v1::COMPRESSION_SNAPPY);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "needs framing FRAMING_SMUX");

  p = SessionOptions();
  p.mutable_smux()->set_version(3);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(),
                "options.smux.version must be 1 or 2");
  p = SessionOptions();
  p.mutable_smux()->mutable_keepalive_timeout()->set_seconds(5);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(),
                "keepalive_timeout must exceed keepalive_interval");
  p = SessionOptions();
  p.mutable_smux()->set_max_frame_size(70000);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "max_frame_size must be 1..65535");
  p = SessionOptions();
  p.mutable_smux()->set_max_receive_buffer(4000000000u);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(),
                "max_receive_buffer must be at most");
  p = SessionOptions();
  p.mutable_smux()->set_max_stream_buffer(8 << 20);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(),
                "must not exceed max_receive_buffer");

  p = SessionOptions();
  p.mutable_close_linger()->set_seconds(-1);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "options.close_linger must be");
  p.mutable_close_linger()->set_seconds(1);
  p.mutable_close_linger()->set_nanos(-5);
  ExpectInvalid(SessionConfigFromProto(p, "options").status(), "not a valid duration");
}

TEST(SessionConfigToProto, RoundTripsThroughTheApi) {
  SessionOptions p;
  p.set_crypt("aes-128-gcm");
  p.set_key("k");
  p.set_mode(kcpp::v1::MODE_MANUAL);
  p.mutable_nodelay()->set_nodelay(1);
  p.mutable_nodelay()->set_interval_ms(15);
  p.mutable_nodelay()->set_resend(3);
  p.set_send_window(256);
  p.set_dscp(10);
  p.mutable_idle_timeout()->set_seconds(60);
  p.mutable_dead_link_min()->set_seconds(5);
  auto c = SessionConfigFromProto(p, "options");
  ASSERT_TRUE(c.ok()) << c.status();
  SessionOptions out;
  SessionConfigToProto(*c, &out);
  EXPECT_TRUE(out.key().empty());  // never returned
  EXPECT_EQ(out.mode(), kcpp::v1::MODE_MANUAL);
  EXPECT_EQ(out.nodelay().interval_ms(), 15u);
  EXPECT_EQ(out.dscp(), 10u);
  EXPECT_EQ(out.framing(), kcpp::v1::FRAMING_SMUX);
  EXPECT_EQ(out.idle_timeout().seconds(), 60);
  EXPECT_EQ(out.dead_link_min().seconds(), 5);
  out.set_key("k");
  auto again = SessionConfigFromProto(out, "options");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->transport.nodelay == c->transport.nodelay);
  EXPECT_EQ(again->transport.send_window, 256);
  EXPECT_EQ(again->transport.dscp, 10);
  EXPECT_EQ(again->transport.idle_timeout_ms, 60000);
  EXPECT_EQ(again->transport.dead_link_min_ms, 5000);

  // A preset comes back as its mode, without nodelay.
  p = SessionOptions();
  p.set_mode(kcpp::v1::MODE_FAST2);
  c = SessionConfigFromProto(p, "options");
  ASSERT_TRUE(c.ok());
  SessionConfigToProto(*c, &out);
  EXPECT_EQ(out.mode(), kcpp::v1::MODE_FAST2);
  EXPECT_FALSE(out.has_nodelay());
}

TEST(ListenerConfigFromProto, AddressAndLimits) {
  kcpp::v1::Listener l;
  ExpectInvalid(ListenerConfigFromProto(l, "listener").status(), "listener.address is required");
  l.set_address("localhost:4000");
  ExpectInvalid(ListenerConfigFromProto(l, "listener").status(), "listener.address");
  l.set_address("127.0.0.1:0");
  auto c = ListenerConfigFromProto(l, "listener");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address.ToString(), "127.0.0.1:0");
  EXPECT_EQ(c->transport.accept_backlog, 128);
  EXPECT_EQ(c->transport.max_sessions, 16384);
  l.set_accept_backlog(4000000000u);
  ExpectInvalid(ListenerConfigFromProto(l, "listener").status(), "accept_backlog must be 1..65535");
  l.set_accept_backlog(0);
  l.set_max_sessions(2000000);
  ExpectInvalid(ListenerConfigFromProto(l, "listener").status(), "max_sessions must be");
  l.set_max_sessions(10);
  l.mutable_session_options()->set_crypt("nope");
  ExpectInvalid(ListenerConfigFromProto(l, "listener").status(),
                "listener.session_options: crypt must be one of");
  l.mutable_session_options()->set_crypt("salsa20");
  l.mutable_session_options()->set_key("pw");
  c = ListenerConfigFromProto(l, "listener");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->transport.session.crypt, "salsa20");
  EXPECT_EQ(c->session.transport.crypt, "salsa20");
  EXPECT_EQ(c->transport.max_sessions, 10);
}

TEST(ParseRemoteAddress, NumericWithPort) {
  EXPECT_EQ(ParseRemoteAddress("10.0.0.2:4000", "remote_address")->ToString(), "10.0.0.2:4000");
  EXPECT_EQ(ParseRemoteAddress("[::1]:4000", "remote_address")->ToString(), "[::1]:4000");
  ExpectInvalid(ParseRemoteAddress("", "remote_address").status(), "remote_address is required");
  ExpectInvalid(ParseRemoteAddress("10.0.0.2", "remote_address").status(), "remote_address");
  ExpectInvalid(ParseRemoteAddress("example.com:80", "remote_address").status(), "remote_address");
  ExpectInvalid(ParseRemoteAddress("10.0.0.2:0", "remote_address").status(), "needs a port");
  ExpectInvalid(ParseRemoteAddress("10.0.0.2:70000", "remote_address").status(), "remote_address");
  ExpectInvalid(ParseRemoteAddress("0.0.0.0:53", "remote_address").status(), "unspecified");
  ExpectInvalid(ParseRemoteAddress("[::]:53", "remote_address").status(), "unspecified");
}

// absl::SimpleAtoi (the port parser) skips surrounding whitespace; kcpd must not.
TEST(AddressesInRequests, WhitespaceAndControlCharactersAreRefused) {
  for (const char* text : {"127.0.0.1:4000\n", " 127.0.0.1:4000", "127.0.0.1: 4000",
                           "127.0.0.1:4000\t", "127.0.0.1:4000\r\n", "[::1]:4000\x7f",
                           "127.0.0.1:4000\xc3\xa9"}) {
    SCOPED_TRACE(absl::CEscape(text));
    ExpectInvalid(ParseRemoteAddress(text, "remote_address").status(),
                  "remote_address must not contain whitespace, control or non-ASCII characters");
    kcpp::v1::Listener l;
    l.set_address(text);
    ExpectInvalid(ListenerConfigFromProto(l, "listener").status(),
                  "listener.address must not contain whitespace");
  }
  kcpp::v1::Listener l;
  l.set_address(std::string("127.0.0.1:0\0", 12));
  ExpectInvalid(ListenerConfigFromProto(l, "listener").status(), "\\000");
}

kcpp::v1::UpdateSessionRequest Update(std::initializer_list<const char*> paths) {
  kcpp::v1::UpdateSessionRequest r;
  r.mutable_session()->set_name("sessions/1");
  for (const char* p : paths) r.mutable_update_mask()->add_paths(p);
  return r;
}

TEST(SessionTuningFromUpdate, MaskSelectsFields) {
  const transport::SessionOptions current;
  auto r = Update({"options.send_window", "options.ack_nodelay"});
  r.mutable_session()->mutable_options()->set_send_window(1024);
  r.mutable_session()->mutable_options()->set_receive_window(999);  // not in the mask
  auto t = SessionTuningFromUpdate(r, current);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->send_window, 1024);
  EXPECT_FALSE(t->receive_window.has_value());
  EXPECT_EQ(t->ack_nodelay, false);
  EXPECT_FALSE(t->nodelay.has_value());

  r = Update({"options.mode"});
  r.mutable_session()->mutable_options()->set_mode(kcpp::v1::MODE_FAST);
  t = SessionTuningFromUpdate(r, current);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(*t->nodelay == transport::NoDelay::Fast());

  r = Update({"options.nodelay"});
  r.mutable_session()->mutable_options()->mutable_nodelay()->set_interval_ms(20);
  t = SessionTuningFromUpdate(r, current);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->nodelay->interval_ms, 20);
}

TEST(SessionTuningFromUpdate, EmptyMaskMeansTheSetFields) {
  kcpp::v1::UpdateSessionRequest r;
  r.mutable_session()->mutable_options()->set_receive_window(2048);
  r.mutable_session()->mutable_options()->set_rate_limit_bytes_per_second(5000);
  auto t = SessionTuningFromUpdate(r, transport::SessionOptions());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->receive_window, 2048);
  EXPECT_EQ(t->rate_limit_bytes_per_second, 5000);
  EXPECT_FALSE(t->send_window.has_value());

  ExpectInvalid(SessionTuningFromUpdate(kcpp::v1::UpdateSessionRequest(), {}).status(),
                "nothing to update");
}

TEST(SessionTuningFromUpdate, RejectsWhatCannotChangeOrIsOutOfRange) {
  auto r = Update({"options.mtu"});
  ExpectInvalid(SessionTuningFromUpdate(r, {}).status(), "\"options.mtu\" cannot be updated");
  r = Update({"options.send_window"});
  r.mutable_session()->mutable_options()->set_send_window(100000);
  ExpectInvalid(SessionTuningFromUpdate(r, {}).status(), "send_window must be 1..65535");
  r = Update({"options.dscp"});
  r.mutable_session()->mutable_options()->set_dscp(99);
  ExpectInvalid(SessionTuningFromUpdate(r, {}).status(), "dscp must be 1..63");
  r = Update({"options.mode", "options.nodelay"});
  r.mutable_session()->mutable_options()->set_mode(kcpp::v1::MODE_FAST);
  r.mutable_session()->mutable_options()->mutable_nodelay()->set_interval_ms(20);
  ExpectInvalid(SessionTuningFromUpdate(r, {}).status(), "MODE_MANUAL");
  r = Update({"options.nodelay"});
  r.mutable_session()->mutable_options()->mutable_nodelay()->set_interval_ms(1);
  ExpectInvalid(SessionTuningFromUpdate(r, {}).status(), "interval must be 10..5000");
}

}  // namespace
}  // namespace kcpp::service::internal
