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
