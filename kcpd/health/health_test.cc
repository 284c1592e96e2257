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
#include "gtest/gtest.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
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

// One exchange on grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo,
// as grpcurl makes it: `request` is a ServerReflectionRequest in text format.
// The messages are built from the descriptors libgrpc++_reflection
// registers (Debian installs no headers for them).
class Reflection {
 public:
  explicit Reflection(std::shared_ptr<grpc::Channel> channel) : channel_(std::move(channel)) {}

  struct Answer {
    grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
    std::string text;  // the response in text format
  };

  Answer Ask(const std::string& request_text) {
    Answer answer;
    const google::protobuf::DescriptorPool* pool =
        google::protobuf::DescriptorPool::generated_pool();
    const google::protobuf::Descriptor* request_type =
        pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
    const google::protobuf::Descriptor* response_type =
        pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
    if (request_type == nullptr || response_type == nullptr) {
      ADD_FAILURE() << "libgrpc++_reflection's descriptors are not in the process";
      return answer;
    }
    std::unique_ptr<google::protobuf::Message> request(factory_.GetPrototype(request_type)->New());
    std::unique_ptr<google::protobuf::Message> response(
        factory_.GetPrototype(response_type)->New());
    if (!google::protobuf::TextFormat::ParseFromString(request_text, request.get())) {
      ADD_FAILURE() << "bad request text " << request_text;
      return answer;
    }

    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::CompletionQueue cq;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
        &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    call->StartCall(Tag(1));
    bool ok = Await(&cq, 1);
    const std::string bytes = request->SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer out(&slice, 1);
    if (ok) {
      call->Write(out, Tag(2));
      ok = Await(&cq, 2);
    }
    if (ok) {
      call->WritesDone(Tag(3));
      ok = Await(&cq, 3);
    }
    grpc::ByteBuffer in;
    bool read = false;
    if (ok) {
      call->Read(&in, Tag(4));
      read = Await(&cq, 4);
    }
    grpc::Status status;
    call->Finish(&status, Tag(5));
    Await(&cq, 5);
    answer.code = status.error_code();
    if (!status.ok() || !read) return answer;
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(in.Dump(&slices).ok());
    std::string received;
    for (const grpc::Slice& s : slices) {
      received.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    EXPECT_TRUE(response->ParseFromString(received));
    google::protobuf::TextFormat::PrintToString(*response, &answer.text);
    return answer;
  }

 private:
  static void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }
  // Waits for the completion of operation `n`; whether it succeeded.
  static bool Await(grpc::CompletionQueue* cq, intptr_t n) {
    void* got = nullptr;
    bool ok = false;
    if (!cq->Next(&got, &ok)) return false;
    EXPECT_EQ(got, Tag(n));
    return ok;
  }

  std::shared_ptr<grpc::Channel> channel_;
  google::protobuf::DynamicMessageFactory factory_;
};

// Names listed by a list_services answer.
std::vector<std::string> Services(const std::string& answer_text) {
  std::vector<std::string> names;
  const std::string key = "name: \"";
  for (size_t at = answer_text.find(key); at != std::string::npos;
       at = answer_text.find(key, at + 1)) {
    const size_t start = at + key.size();
    names.push_back(answer_text.substr(start, answer_text.find('"', start) - start));
  }
  return names;
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
  Reflection reflection(server_->InProcessChannel({}));
  const Reflection::Answer list = reflection.Ask("list_services: \"\"");
  ASSERT_EQ(list.code, grpc::StatusCode::OK);
  const std::vector<std::string> services = Services(list.text);
  EXPECT_THAT(services, IsSupersetOf({"kcpp.v1.Kcpd", "kcpp.v1.KcpdTunnels",
                                      "grpc.health.v1.Health",
                                      "grpc.reflection.v1alpha.ServerReflection"}));
  // grpcurl describes (and calls) a service from the file that declares it:
  // for the health service too.
  for (const std::string symbol : {"kcpp.v1.Kcpd", "grpc.health.v1.Health"}) {
    const Reflection::Answer described =
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
  Reflection reflection(channel);
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
