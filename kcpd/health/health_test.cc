#include "kcpd/health/health.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "kcpd/health/testing/reflection_client.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "proto/kcpp/v1/tunnel.grpc.pb.h"

namespace kcpp::kcpd {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::Contains;
using ::testing::IsSupersetOf;

// Check(service) on `channel`: the status, or the RPC's error code as
// "rpc error N".
std::string Check(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::unique_ptr<Health::Stub> stub = Health::NewStub(channel);
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return "rpc error " + std::to_string(status.error_code());
  return HealthCheckResponse::ServingStatus_Name(response.status());
}

class HealthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnableHealthAndReflection();
    // As kcpd's deny-everything server: it must answer neither.
    grpc::ServerBuilder opted_out;
    WithoutHealthOrReflection(&opted_out);
    opted_out.RegisterService(&opted_out_kcpd_);
    opted_out_server_ = opted_out.BuildAndStart().release();

    grpc::ServerBuilder builder;
    builder.RegisterService(&kcpd_);
    builder.RegisterService(&tunnels_);
    server_ = builder.BuildAndStart().release();
  }

  static void TearDownTestSuite() {
    for (grpc::Server* server : {opted_out_server_, server_}) {
      server->Shutdown();
      delete server;
    }
  }

  static inline kcpp::v1::Kcpd::Service opted_out_kcpd_;
  static inline kcpp::v1::Kcpd::Service kcpd_;
  static inline kcpp::v1::KcpdTunnels::Service tunnels_;
  static inline grpc::Server* opted_out_server_ = nullptr;
  static inline grpc::Server* server_ = nullptr;
};

const std::vector<std::string> kServices = {kcpp::v1::Kcpd::service_full_name(),
                                            kcpp::v1::KcpdTunnels::service_full_name()};

TEST_F(HealthTest, ServingForTheServerAndEachServiceOnceMarked) {
  std::shared_ptr<grpc::Channel> channel = server_->InProcessChannel({});
  ASSERT_TRUE(MarkServing(server_, kServices).ok());
  EXPECT_EQ(Check(channel, ""), "SERVING");
  EXPECT_EQ(Check(channel, "kcpp.v1.Kcpd"), "SERVING");
  EXPECT_EQ(Check(channel, "kcpp.v1.KcpdTunnels"), "SERVING");
  EXPECT_EQ(Check(channel, "kcpp.v1.NoSuchService"),
            "rpc error " + std::to_string(grpc::StatusCode::NOT_FOUND));
}

TEST_F(HealthTest, ReflectionListsAndDescribesKcpdsServices) {
  ReflectionClient reflection(server_->InProcessChannel({}));
  const ReflectionClient::Answer list = reflection.Ask("list_services: \"\"");
  ASSERT_EQ(list.code, grpc::StatusCode::OK);
  const std::vector<std::string> services = ListedServices(list.text);
  EXPECT_THAT(services, IsSupersetOf({"kcpp.v1.Kcpd", "kcpp.v1.KcpdTunnels",
                                      "grpc.health.v1.Health",
                                      "grpc.reflection.v1alpha.ServerReflection"}));
  // grpcurl describes (and calls) a service from the file that declares it:
  // for the health service too.
  for (const std::string symbol : {"kcpp.v1.Kcpd", "grpc.health.v1.Health"}) {
    const ReflectionClient::Answer described =
        reflection.Ask("file_containing_symbol: \"" + symbol + "\"");
    EXPECT_EQ(described.code, grpc::StatusCode::OK);
    const std::string& answer = described.text;
    EXPECT_NE(answer.find("file_descriptor_response"), std::string::npos) << symbol << answer;
    EXPECT_EQ(answer.find("error_response"), std::string::npos) << symbol << answer;
  }
}

TEST_F(HealthTest, AServerThatOptedOutHasNeither) {
  std::shared_ptr<grpc::Channel> channel = opted_out_server_->InProcessChannel({});
  EXPECT_EQ(Check(channel, ""), "rpc error " + std::to_string(grpc::StatusCode::UNIMPLEMENTED));
  EXPECT_EQ(MarkServing(opted_out_server_, kServices).code(), absl::StatusCode::kFailedPrecondition);
  ReflectionClient reflection(channel);
  EXPECT_EQ(reflection.Ask("list_services: \"\"").code, grpc::StatusCode::UNIMPLEMENTED);
}

// Runs last (gtest keeps declaration order): NOT_SERVING is for good.
TEST_F(HealthTest, ZShutdownMarksEverythingNotServing) {
  std::shared_ptr<grpc::Channel> channel = server_->InProcessChannel({});
  ASSERT_TRUE(MarkServing(server_, kServices).ok());
  ASSERT_EQ(Check(channel, ""), "SERVING");
  MarkNotServing(server_);
  EXPECT_EQ(Check(channel, ""), "NOT_SERVING");
  EXPECT_EQ(Check(channel, "kcpp.v1.Kcpd"), "NOT_SERVING");
  EXPECT_EQ(Check(channel, "kcpp.v1.KcpdTunnels"), "NOT_SERVING");
  // And it stays so: a later MarkServing is ignored.
  ASSERT_TRUE(MarkServing(server_, kServices).ok());
  EXPECT_EQ(Check(channel, ""), "NOT_SERVING");
}

}  // namespace
}  // namespace kcpp::kcpd
