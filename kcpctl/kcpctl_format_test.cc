#include "kcpctl/kcpctl_format.h"

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

TEST(KcpctlFormat, TablesAlignColumns) {
  EXPECT_EQ(FormatTable({"A", "LONG HEADER"}, {{"wide cell", "x"}, {"b", "yy"}}),
            "A          LONG HEADER\n"
            "wide cell  x\n"
            "b          yy\n");
}

TEST(KcpctlFormat, SessionsTable) {
  kcpp::v1::Session s;
  s.set_name("sessions/7");
  s.set_remote_address("10.0.0.2:4000");
  s.set_conv(42);
  s.set_state(kcpp::v1::Session::PEER_DEAD);
  s.mutable_counters()->set_bytes_sent(3 << 20);
  const std::string t = SessionsTable({s});
  EXPECT_NE(t.find("sessions/7"), std::string::npos);
  EXPECT_NE(t.find("(dialled)"), std::string::npos);
  EXPECT_NE(t.find("peer_dead"), std::string::npos);
  EXPECT_NE(t.find("3.0 MiB"), std::string::npos);
}

TEST(KcpctlFormat, JsonUsesProtoNamesAndPrintsZeros) {
  kcpp::v1::Stats s;
  s.set_backend("fake");
  const std::string j = ToJson(s, /*one_line=*/true);
  EXPECT_NE(j.find("\"backend\":\"fake\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"active_sessions\":0"), std::string::npos) << j;
  EXPECT_EQ(j.find('\n'), j.size() - 1);
}

// docs/kcpd.md: every field is printed except a loss estimate not measured
// (an optional field: 0 would read as a clean link).
TEST(KcpctlFormat, JsonPrintsTheLossEstimateOnlyWhenMeasured) {
  kcpp::v1::Session s;
  s.set_fec_parity_sending(3);
  s.mutable_counters();
  std::string j = ToJson(s, /*one_line=*/true);
  EXPECT_NE(j.find("\"fec_parity_sending\":3"), std::string::npos) << j;
  EXPECT_NE(j.find("\"late_acknowledged_segments\":\"0\""), std::string::npos) << j;
  EXPECT_EQ(j.find("fec_loss_estimate"), std::string::npos) << j;
  s.set_fec_loss_estimate(0);
  j = ToJson(s, /*one_line=*/true);
  EXPECT_NE(j.find("\"fec_loss_estimate\":0"), std::string::npos) << j;
}

TEST(KcpctlFormat, StatsShowBusyPollingAndPools) {
  kcpp::v1::Stats s;
  s.set_busy_polls(120);
  s.set_busy_poll_hits(97);
  s.set_pool_bytes(3 << 20);
  s.set_pool_allocations(14);
  s.set_queue_chunk_allocations(260);
  const std::string text = DescribeStats(s);
  EXPECT_NE(text.find("polling:     120 busy polls, 97 caught a datagram"), std::string::npos)
      << text;
  EXPECT_NE(text.find("pools:       3.0 MiB, 14 allocations (+260 queue chunks)"),
            std::string::npos)
      << text;
}

TEST(KcpctlFormat, UptimeIsRoundedForHumans) {
  kcpp::v1::Stats s;
  s.mutable_uptime()->set_seconds(12);
  s.mutable_uptime()->set_nanos(271572713);
  const std::string text = DescribeStats(s);
  EXPECT_NE(text.find("uptime:      12s\n"), std::string::npos) << text;
  EXPECT_EQ(HumanDuration(absl::Milliseconds(850)), "850ms");
  EXPECT_EQ(HumanDuration(absl::Seconds(192) + absl::Milliseconds(999)), "3m12s");
  EXPECT_EQ(HumanDuration(absl::Hours(2) + absl::Minutes(5) + absl::Seconds(59)), "2h5m");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 3 + 4) + absl::Minutes(59)), "3d4h");
}

TEST(KcpctlFormat, FullSessionListDescribesEachSessionWithItsStreams) {
  kcpp::v1::Session a;
  a.set_name("sessions/1");
  a.set_rto_ms(200);
  a.add_streams()->set_name("sessions/1/streams/3");
  kcpp::v1::Session b;
  b.set_name("sessions/2");
  const std::string text = SessionsDescriptions({a, b});
  EXPECT_NE(text.find("name:      sessions/1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("rto 200 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("stream:    sessions/1/streams/3"), std::string::npos) << text;
  EXPECT_NE(text.find("\n\nname:      sessions/2\n"), std::string::npos) << text;
  EXPECT_NE(text, SessionsTable({a, b}));
}

// What adaptive parity measures and decides, beside the retransmissions.
TEST(KcpctlFormat, SessionShowsLateAcknowledgementsAndParitySent) {
  kcpp::v1::Session s;
  s.set_name("sessions/4");
  s.mutable_options()->set_data_shards(10);
  s.mutable_options()->set_parity_shards(3);
  auto* c = s.mutable_counters();
  c->set_retransmitted_segments(9);
  c->set_fast_retransmitted_segments(5);
  c->set_early_retransmitted_segments(1);
  c->set_lost_segments(3);
  c->set_late_acknowledged_segments(17);
  c->set_fec_recovered(16);
  c->set_fec_parity_shards(40);
  s.set_fec_parity_sending(2);
  s.set_fec_loss_estimate(0.0084);
  std::string text = DescribeSession(s);
  EXPECT_NE(text.find("9 retransmitted (5 fast, 1 early, 3 lost), 17 acknowledged late\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fec:       16 recovered, 0 errors, 40 parity shards received; sending 2 "
                      "per group, loss estimate 0.84 %\n"),
            std::string::npos)
      << text;
  // Not measured yet (or fixed parity): no estimate, not a made-up one.
  s.clear_fec_loss_estimate();
  s.set_fec_parity_sending(3);
  text = DescribeSession(s);
  EXPECT_NE(text.find("40 parity shards received; sending 3 per group\n"), std::string::npos)
      << text;
  // Without FEC nothing is sent.
  s.mutable_options()->set_data_shards(0);
  s.mutable_options()->set_parity_shards(0);
  s.set_fec_parity_sending(0);
  c->set_fec_parity_shards(0);
  text = DescribeSession(s);
  EXPECT_NE(text.find("0 parity shards received\n"), std::string::npos) << text;
}

TEST(KcpctlFormat, ExitCodes) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), 2);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), 3);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kPermissionDenied), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAlreadyExists), 6);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kFailedPrecondition), 7);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kResourceExhausted), 8);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), 9);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInternal), 10);
}

TEST(KcpctlFormat, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
}

}  // namespace
}  // namespace kcpp::service::internal
