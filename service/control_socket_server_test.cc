#include "service/control_socket_server.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "service/control_plane.h"
#include "service/fake_backend.h"
#include "service/internal/test_util.h"
#include "service/kcpd_grpc_service.h"

namespace kcpp::service {
namespace {

ControlPlaneOptions WithoutJanitor() {
  ControlPlaneOptions o;
  o.run_janitor = false;
  return o;
}

// The gRPC servers kcpd runs: the API for allowed uids, a refusal for others.
class ControlSocketServerTest : public ::testing::Test {
 protected:
  ControlSocketServerTest()
      : plane_(&backend_, WithoutJanitor()),
        service_(&plane_),
        deny_("your uid is not allowed to use this kcpd (test)") {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    grpc::ServerBuilder deny_builder;
    deny_builder.RegisterCallbackGenericService(&deny_);
    deny_server_ = deny_builder.BuildAndStart();
  }
  ~ControlSocketServerTest() override {
    control_.reset();
    server_->Shutdown();
    deny_server_->Shutdown();
  }

  void Start(uid_t daemon_uid) {
    auto c = ControlSocketServer::Start(
        {.path = path_, .mode = 0600, .allow = internal::UidAllowList(daemon_uid, {})},
        server_.get(), deny_server_.get(), [this] { plane_.CountRefusedControlConnection(); });
    ASSERT_TRUE(c.ok()) << c.status();
    control_ = *std::move(c);
  }

  grpc::Status Stats(kcpp::v1::Stats* stats) {
    auto stub = kcpp::v1::Kcpd::NewStub(
        grpc::CreateChannel("unix:" + path_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    return stub->GetStats(&context, kcpp::v1::GetStatsRequest(), stats);
  }

  testing::ShortTempDir dir_;
  const std::string path_ = dir_.path() + "/control.sock";
  FakeBackend backend_;
  ControlPlane plane_;
  KcpdGrpcService service_;
  DenyAllService deny_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> deny_server_;
  std::unique_ptr<ControlSocketServer> control_;
};

TEST_F(ControlSocketServerTest, AllowedUidGetsTheApi) {
  Start(geteuid());
  kcpp::v1::Stats stats;
  const grpc::Status s = Stats(&stats);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(stats.backend(), "fake");
}

// The same check with a substituted daemon uid, so our own connection is the
// one not allowed (kcpd_process_test runs a real client as another uid).
TEST_F(ControlSocketServerTest, OtherUidsGetPermissionDenied) {
  Start(geteuid() + 1);
  kcpp::v1::Stats stats;
  const grpc::Status s = Stats(&stats);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "your uid is not allowed to use this kcpd (test)");
  kcpp::v1::Stats counted;
  ASSERT_TRUE(plane_.GetStats(&counted).ok());
  EXPECT_EQ(counted.control_connections_refused(), 1u);
}

TEST_F(ControlSocketServerTest, StopRemovesTheSocket) {
  Start(geteuid());
  ASSERT_EQ(access(path_.c_str(), F_OK), 0);
  control_->Stop();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace kcpp::service
