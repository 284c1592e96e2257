#include "kcpd/metrics/endpoint.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kcpd/metrics/collector.h"
#include "kcpd/metrics/testing/fake_source.h"
#include "kcpd/metrics/testing/http_get.h"

namespace kcpp::kcpd::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPromtool[] = "/usr/bin/promtool";

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() {
    fake_.SetStats(FakeSource::FullStats());
    fake_.SetListeners({FakeSource::MakeListener("web", "0.0.0.0:29900")});
    fake_.SetSessions({FakeSource::MakeSession(1, "web", 3), FakeSource::MakeSession(2, "", 40),
                       FakeSource::MakeSession(3, "web", 0)});
    collector_ = std::make_shared<KcpdCollector>(fake_.source(), CollectorOptions{});
  }

  FakeSource fake_;
  std::shared_ptr<KcpdCollector> collector_;
};

TEST_F(EndpointTest, ServesMetricsOnLoopbackByDefault) {
  absl::StatusOr<std::string> address = ParseMetricsAddress(":0");
  ASSERT_TRUE(address.ok()) << address.status();
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start(*address, collector_);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_THAT((*endpoint)->bound_address(), StartsWith("127.0.0.1:"));
  EXPECT_NE((*endpoint)->port(), 0);
  EXPECT_EQ((*endpoint)->bound_address(), absl::StrCat("127.0.0.1:", (*endpoint)->port()));

  const HttpResponse response = HttpGet((*endpoint)->port(), "/metrics");
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.head, HasSubstr("Content-Type: text/plain"));
  const std::string& body = response.body;
  EXPECT_THAT(body, HasSubstr("\n# TYPE kcpd_active_sessions gauge\nkcpd_active_sessions 3\n"));
  EXPECT_THAT(body, HasSubstr("kcpd_listener_datagrams_dropped_total{listener=\"web\"} 33\n"));
  EXPECT_THAT(body, HasSubstr("kcpd_session_payload_sent_bytes_total{session=\"2\",listener=\"\"} "
                              "200\n"));
  EXPECT_THAT(body, HasSubstr("kcpd_rtt_seconds_bucket{le=\"0.005\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("kcpd_rtt_seconds_count 2\n"));
}

TEST_F(EndpointTest, OtherPathsAreNotFound) {
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0", collector_);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(HttpGet((*endpoint)->port(), "/").status, 404);
  EXPECT_EQ(HttpGet((*endpoint)->port(), "/etc/passwd").status, 404);
  EXPECT_EQ(HttpGet((*endpoint)->port(), "/metrics").status, 200);
}

// Prometheus' own checker accepts the real output: the exposition format and
// its naming conventions (counters _total, base units, no reserved names).
TEST_F(EndpointTest, PromtoolAcceptsTheOutput) {
  ASSERT_EQ(::access(kPromtool, X_OK), 0)
      << kPromtool << " is missing: tools/setup.sh installs it (Debian's prometheus package)";
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0", collector_);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const std::string body = HttpGet((*endpoint)->port(), "/metrics").body;
  ASSERT_THAT(body, HasSubstr("kcpd_session_info{"));

  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/metrics.txt");
  { std::ofstream(path) << body; }
  const std::string command = absl::StrCat(kPromtool, " check metrics < ", path, " 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "promtool check metrics failed:\n" << output;
  EXPECT_EQ(output, "");
}

TEST_F(EndpointTest, APortInUseIsAClearError) {
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> first =
      MetricsEndpoint::Start("127.0.0.1:0", collector_);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> second =
      MetricsEndpoint::Start((*first)->bound_address(), collector_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("could not serve metrics on ", (*first)->bound_address())));
}

TEST(ParseMetricsAddressTest, BarePortMeansLoopback) {
  EXPECT_EQ(ParseMetricsAddress(":9464").value_or("?"), "127.0.0.1:9464");
  EXPECT_EQ(ParseMetricsAddress("0.0.0.0:9464").value_or("?"), "0.0.0.0:9464");
  EXPECT_EQ(ParseMetricsAddress("10.1.2.3:1").value_or("?"), "10.1.2.3:1");
}

TEST(ParseMetricsAddressTest, RefusesWhatItCannotServe) {
  for (const char* bad : {"", "9464", "localhost:9464", ":70000", ":", "127.0.0.1:-1"}) {
    absl::StatusOr<std::string> parsed = ParseMetricsAddress(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("--metrics_address")) << bad;
  }
  absl::StatusOr<std::string> v6 = ParseMetricsAddress("[::1]:9464");
  ASSERT_FALSE(v6.ok());
  EXPECT_THAT(v6.status().message(), HasSubstr("IPv4 only"));
}

}  // namespace
}  // namespace kcpp::kcpd::metrics
