// The real kcpd's health service and kcpctl health: SERVING while kcpd
// serves, NOT_SERVING from SIGTERM on (while it drains), and what kcpctl
// prints and exits with.
//
// usage: health_process_test <path of kcpd> <path of kcpctl> [gtest flags]
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

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
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "kcpd/health/testing/reflection_client.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace kcpp::kcpd {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::kcpp::service::testing::Process;
using ::kcpp::service::testing::ProcessResult;
using ::kcpp::service::testing::ShortTempDir;
using ::testing::HasSubstr;

std::string g_kcpd;
std::string g_kcpctl;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class HealthProcessTest : public ::testing::Test {
 protected:
  std::string control() const { return dir_.path() + "/control.sock"; }
  std::string log() const { return ReadFile(logs_.path() + "/kcpd.log"); }

  std::unique_ptr<Process> StartKcpd(std::vector<std::string> extra = {}) {
    Process::Options o;
    o.argv = {g_kcpd, "--control_socket=" + control(), "--ready_fd=3", "--loops=1"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.stderr_path = logs_.path() + "/kcpd.log";
    o.ready_fd = 3;
    std::unique_ptr<Process> kcpd = Process::Start(o);
    EXPECT_EQ(kcpd->WaitReady(), "ready") << log();
    return kcpd;
  }

  ProcessResult Kcpctl(std::vector<std::string> args) {
    Process::Options o;
    o.argv = {g_kcpctl, "--socket=" + control()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    return ::kcpp::service::testing::RunProcess(o);
  }

  ShortTempDir dir_;
  ShortTempDir logs_;
};

TEST_F(HealthProcessTest, KcpctlHealthSaysServing) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  ProcessResult r = Kcpctl({"health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  r = Kcpctl({"health", "kcpp.v1.Kcpd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  r = Kcpctl({"health", "kcpp.v1.KcpdTunnels"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  r = Kcpctl({"--json", "health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"status\": \"SERVING\""));
  // A service kcpd does not have: NOT_FOUND, kcpctl's exit code 2.
  r = Kcpctl({"health", "kcpp.v1.NoSuchService"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

// What grpcurl needs: kcpd's services listed and described by reflection.
TEST_F(HealthProcessTest, ReflectionListsAndDescribesKcpdsServices) {
  std::unique_ptr<Process> kcpd = StartKcpd();
  ReflectionClient reflection(
      grpc::CreateChannel("unix:" + control(), grpc::InsecureChannelCredentials()));
  const ReflectionClient::Answer list = reflection.Ask("list_services: \"\"");
  ASSERT_EQ(list.code, grpc::StatusCode::OK);
  EXPECT_THAT(ListedServices(list.text),
              ::testing::UnorderedElementsAre("kcpp.v1.Kcpd", "kcpp.v1.KcpdTunnels",
                                              "grpc.health.v1.Health",
                                              "grpc.reflection.v1alpha.ServerReflection"));
  for (const std::string symbol :
       {"kcpp.v1.Kcpd", "kcpp.v1.KcpdTunnels", "grpc.health.v1.Health"}) {
    const ReflectionClient::Answer described =
        reflection.Ask("file_containing_symbol: \"" + symbol + "\"");
    EXPECT_EQ(described.code, grpc::StatusCode::OK) << symbol;
    EXPECT_THAT(described.text, HasSubstr("file_descriptor_response")) << symbol;
  }
}

TEST_F(HealthProcessTest, NoKcpdIsUnavailable) {
  const ProcessResult r = Kcpctl({"health"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "");
}

// From SIGTERM on, a client that still holds a connection sees NOT_SERVING
// while kcpd drains; kcpctl (a new connection) finds it unavailable.
TEST_F(HealthProcessTest, NotServingWhileShuttingDown) {
  std::unique_ptr<Process> kcpd = StartKcpd({"--shutdown_timeout=60s"});
  // A session whose data nobody acknowledges (a UDP socket that never
  // reads), so kcpd's drain lasts the session's close_linger (10 s): the
  // window in which to ask.
  UniqueFd sink(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(sink.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(sink.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);

  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("unix:" + control(), grpc::InsecureChannelCredentials());
  std::unique_ptr<kcpp::v1::Kcpd::Stub> api = kcpp::v1::Kcpd::NewStub(channel);
  kcpp::v1::DialSessionRequest dial;
  dial.set_remote_address(absl::StrCat("127.0.0.1:", ntohs(addr.sin_port)));
  kcpp::v1::DialSessionResponse dialled;
  {
    grpc::ClientContext context;
    const grpc::Status s = api->DialSession(&context, dial, &dialled);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::unique_ptr<Health::Stub> health = Health::NewStub(channel);
  const auto check = [&](HealthCheckResponse::ServingStatus* status) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    HealthCheckResponse response;
    const grpc::Status s = health->Check(&context, request, &response);
    *status = response.status();
    return s;
  };
  HealthCheckResponse::ServingStatus status = HealthCheckResponse::UNKNOWN;
  ASSERT_TRUE(check(&status).ok());
  ASSERT_EQ(status, HealthCheckResponse::SERVING);

  kcpd->Signal(SIGTERM);
  // Bounded polling until the status turns (a condition wait).
  for (int attempt = 0; attempt < 200 && status == HealthCheckResponse::SERVING; ++attempt) {
    const grpc::Status s = check(&status);
    ASSERT_TRUE(s.ok()) << "kcpd stopped answering before its drain ended: "
                        << s.error_message() << "\n"
                        << log();
    if (status == HealthCheckResponse::SERVING) absl::SleepFor(absl::Milliseconds(25));
  }
  EXPECT_EQ(status, HealthCheckResponse::NOT_SERVING) << log();
  // Still draining (the session is unacknowledged): the answer holds.
  ASSERT_TRUE(check(&status).ok()) << log();
  EXPECT_EQ(status, HealthCheckResponse::NOT_SERVING);
  EXPECT_THAT(log(), ::testing::Not(HasSubstr("sessions closed")));
  // kcpctl health exits 5 either way: NOT_SERVING, or no socket any more.
  const ProcessResult r = Kcpctl({"health"});
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
}

}  // namespace
}  // namespace kcpp::kcpd

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <path of kcpd> <path of kcpctl>\n", argv[0]);
    return 2;
  }
  kcpp::kcpd::g_kcpd = argv[1];
  kcpp::kcpd::g_kcpctl = argv[2];
  return RUN_ALL_TESTS();
}
