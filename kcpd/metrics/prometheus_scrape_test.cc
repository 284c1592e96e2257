// The real thing end to end: a real kcpd serves --metrics_address, Debian's
// Prometheus server scrapes it, and Prometheus' HTTP query API returns
// kcpd's series for a listener and a session made through kcpd's API.
//
// usage: prometheus_scrape_test <path of kcpd> [gtest flags]
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kcpd/metrics/testing/http_get.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace kcpp::kcpd::metrics {
namespace {

using ::kcpp::service::testing::Process;
using ::kcpp::service::testing::ShortTempDir;
using ::testing::HasSubstr;

constexpr char kPrometheus[] = "/usr/bin/prometheus";
std::string g_kcpd;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A loopback TCP port that was free a moment ago (Prometheus cannot be told
// to pick one and report it, as kcpd can).
int FreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

// Polls Prometheus' instant-query API until the result of `query` contains
// `needle` (a bounded number of attempts: a condition wait). The last body.
std::string QueryUntil(int port, const std::string& query, const std::string& needle,
                       bool* found) {
  std::string last;
  *found = false;
  for (int attempt = 0; attempt < 300; ++attempt) {  // 30 s at most
    const HttpResponse r = HttpGet(port, "/api/v1/query?query=" + UrlEncode(query));
    last = r.ok ? r.body : r.error;
    if (r.ok && r.status == 200 && last.find(needle) != std::string::npos) {
      *found = true;
      return last;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return last;
}

TEST(PrometheusScrapeTest, PrometheusScrapesKcpdsSeries) {
  ASSERT_EQ(::access(kPrometheus, X_OK), 0)
      << kPrometheus << " is missing: tools/setup.sh installs it (Debian's prometheus package)";
  ShortTempDir sockets;
  ShortTempDir work;
  const std::string control = sockets.path() + "/control.sock";

  // kcpd, its metrics on a loopback port it picks and logs.
  Process::Options k;
  k.argv = {g_kcpd, "--control_socket=" + control, "--ready_fd=3", "--loops=1",
            "--metrics_address=:0"};
  k.stderr_path = work.path() + "/kcpd.log";
  k.ready_fd = 3;
  std::unique_ptr<Process> kcpd = Process::Start(k);
  ASSERT_EQ(kcpd->WaitReady(), "ready") << ReadFile(k.stderr_path);
  const std::string log = ReadFile(k.stderr_path);
  const std::string marker = "metrics on http://";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const size_t start = at + marker.size();
  const std::string metrics_address = log.substr(start, log.find("/metrics", start) - start);
  ASSERT_THAT(metrics_address, ::testing::StartsWith("127.0.0.1:"));

  // A listener, and a session dialled to it, through kcpd's API.
  std::unique_ptr<kcpp::v1::Kcpd::Stub> api = kcpp::v1::Kcpd::NewStub(
      grpc::CreateChannel("unix:" + control, grpc::InsecureChannelCredentials()));
  kcpp::v1::CreateListenerRequest create;
  create.set_listener_id("web");
  create.mutable_listener()->set_address("127.0.0.1:0");
  kcpp::v1::Listener listener;
  {
    grpc::ClientContext context;
    const grpc::Status s = api->CreateListener(&context, create, &listener);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  kcpp::v1::DialSessionRequest dial;
  dial.set_remote_address(listener.bound_address());
  kcpp::v1::DialSessionResponse dialled;
  {
    grpc::ClientContext context;
    const grpc::Status s = api->DialSession(&context, dial, &dialled);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Prometheus, scraping kcpd every second.
  const std::string config = work.path() + "/prometheus.yml";
  std::ofstream(config) << "global:\n"
                        << "  scrape_interval: 1s\n"
                        << "  evaluation_interval: 1s\n"
                        << "scrape_configs:\n"
                        << "  - job_name: kcpd\n"
                        << "    static_configs:\n"
                        << "      - targets: ['" << metrics_address << "']\n";
  const int web_port = FreeLoopbackPort();
  ASSERT_NE(web_port, 0);
  Process::Options p;
  p.argv = {kPrometheus,
            "--config.file=" + config,
            "--storage.tsdb.path=" + work.path() + "/data",
            absl::StrCat("--web.listen-address=127.0.0.1:", web_port),
            "--log.level=warn"};
  p.stdout_path = work.path() + "/prometheus.out";
  p.stderr_path = work.path() + "/prometheus.log";
  std::unique_ptr<Process> prometheus = Process::Start(p);

  bool found = false;
  std::string body = QueryUntil(web_port, "kcpd_listener_info{listener=\"web\"}",
                                "\"listener\":\"web\"", &found);
  ASSERT_TRUE(found) << "Prometheus never returned the listener's series; last answer:\n"
                     << body << "\nPrometheus' log:\n"
                     << ReadFile(p.stderr_path) << "\nkcpd's log:\n"
                     << ReadFile(k.stderr_path);
  EXPECT_THAT(body, HasSubstr(absl::StrCat("\"address\":\"", listener.bound_address(), "\"")));
  EXPECT_THAT(body, HasSubstr("\"job\":\"kcpd\""));
  EXPECT_THAT(body, HasSubstr(absl::StrCat("\"instance\":\"", metrics_address, "\"")));

  // The dialled session's own series, and the process-wide counter.
  const std::string session_id =
      dialled.session().name().substr(dialled.session().name().rfind('/') + 1);
  body = QueryUntil(web_port, absl::StrCat("kcpd_session_info{session=\"", session_id, "\"}"),
                    absl::StrCat("\"remote_address\":\"", listener.bound_address(), "\""), &found);
  EXPECT_TRUE(found) << body;
  body = QueryUntil(web_port, "kcpd_sessions_dialed_total", "\"1\"]", &found);
  EXPECT_TRUE(found) << body;

  prometheus->Signal(SIGTERM);
  EXPECT_EQ(prometheus->Wait().exit_code, 0) << ReadFile(p.stderr_path);
  kcpd->Signal(SIGTERM);
  EXPECT_EQ(kcpd->Wait().exit_code, 0) << ReadFile(k.stderr_path);
}

// kcpd refuses to start (exit 1, the reason last on stderr) rather than run
// without the metrics it was asked for.
TEST(PrometheusScrapeTest, KcpdRefusesMetricsFlagsItCannotHonour) {
  ShortTempDir sockets;
  ShortTempDir work;
  // A port that is taken.
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  ASSERT_EQ(::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);

  const struct {
    std::string flag;
    std::string says;
  } cases[] = {
      {"--metrics_address=localhost:9464", "--metrics_address wants IPV4:PORT or :PORT"},
      {"--metrics_address=[::1]:9464", "IPv4 only"},
      {"--metrics_max_session_series=-1", "--metrics_max_session_series must be 0..10000"},
      {absl::StrCat("--metrics_address=:", ntohs(addr.sin_port)),
       absl::StrCat("could not serve metrics on 127.0.0.1:", ntohs(addr.sin_port))},
  };
  for (const auto& c : cases) {
    Process::Options k;
    k.argv = {g_kcpd, "--control_socket=" + sockets.path() + "/control.sock", "--ready_fd=3",
              "--loops=1", c.flag};
    k.stderr_path = work.path() + "/kcpd.log";
    k.ready_fd = 3;
    std::unique_ptr<Process> kcpd = Process::Start(k);
    EXPECT_EQ(kcpd->WaitReady(), "") << c.flag;
    EXPECT_EQ(kcpd->Wait().exit_code, 1) << c.flag;
    EXPECT_THAT(ReadFile(k.stderr_path), HasSubstr(c.says)) << c.flag;
  }
}

}  // namespace
}  // namespace kcpp::kcpd::metrics

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <path of kcpd>\n", argv[0]);
    return 2;
  }
  kcpp::kcpd::metrics::g_kcpd = argv[1];
  return RUN_ALL_TESTS();
}
