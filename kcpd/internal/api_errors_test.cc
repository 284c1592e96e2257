// kcpd's error details (AIP-193) as a gRPC client sees them: every call goes
// through the real KcpdGrpcService (and kcpd's request-parse interceptor) on
// an in-process gRPC server, and the test reads the google.rpc.Status from
// the call's binary error details, as any gRPC client can.
#include "kcpd/internal/api_errors.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "kcpd/control_plane.h"
#include "kcpd/internal/request_parse_interceptor.h"
#include "kcpd/kcpd_grpc_service.h"
#include "kcpd/testing/fake_backend.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace kcpp::service {
namespace {

// What a client finds in a failed call's details.
struct Details {
  google::rpc::Status status;
  std::vector<google::rpc::ErrorInfo> infos;
  std::vector<google::rpc::BadRequest> bad_requests;
};

Details Parse(const grpc::Status& s) {
  Details d;
  EXPECT_TRUE(d.status.ParseFromString(s.error_details()))
      << "no google.rpc.Status in the details of " << s.error_message();
  EXPECT_EQ(d.status.code(), static_cast<int>(s.error_code()));
  EXPECT_EQ(d.status.message(), s.error_message());
  for (const google::protobuf::Any& any : d.status.details()) {
    if (any.Is<google::rpc::ErrorInfo>()) {
      EXPECT_TRUE(any.UnpackTo(&d.infos.emplace_back()));
    } else if (any.Is<google::rpc::BadRequest>()) {
      EXPECT_TRUE(any.UnpackTo(&d.bad_requests.emplace_back()));
    } else {
      ADD_FAILURE() << "unexpected detail " << any.type_url();
    }
  }
  EXPECT_EQ(d.infos.size(), 1u) << "exactly one ErrorInfo on every error";
  if (d.infos.empty()) d.infos.emplace_back();
  EXPECT_EQ(d.infos[0].domain(), "kcpd.kcpp");
  return d;
}

ControlPlaneOptions WithoutJanitor() {
  ControlPlaneOptions o;
  o.run_janitor = false;
  return o;
}

class ApiErrorsTest : public ::testing::Test {
 protected:
  ApiErrorsTest() : plane_(&backend_, WithoutJanitor()), service_(&plane_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(std::make_unique<internal::UnparsableRequestInterceptorFactory>());
    builder.experimental().SetInterceptorCreators(std::move(f));
    server_ = builder.BuildAndStart();
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    stub_ = kcpp::v1::Kcpd::NewStub(channel_);
  }
  ~ApiErrorsTest() override { server_->Shutdown(); }

  FakeBackend backend_;
  ControlPlane plane_;
  KcpdGrpcService service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kcpp::v1::Kcpd::Stub> stub_;
};

TEST_F(ApiErrorsTest, AMalformedNameNamesTheFieldInABadRequest) {
  grpc::ClientContext context;
  kcpp::v1::GetSessionRequest request;
  request.set_name("listeners/web");
  kcpp::v1::Session session;
  const grpc::Status s = stub_->GetSession(&context, request, &session);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  const Details d = Parse(s);
  EXPECT_EQ(d.infos[0].reason(), "INVALID_RESOURCE_NAME");
  ASSERT_EQ(d.bad_requests.size(), 1u);
  ASSERT_EQ(d.bad_requests[0].field_violations_size(), 1);
  EXPECT_EQ(d.bad_requests[0].field_violations(0).field(), "name");
  EXPECT_NE(d.bad_requests[0].field_violations(0).description().find("sessions/{session}"),
            std::string::npos)
      << d.bad_requests[0].field_violations(0).description();
}

TEST_F(ApiErrorsTest, AnOptionOutOfRangeNamesItsFullPath) {
  grpc::ClientContext context;
  kcpp::v1::DialSessionRequest request;
  request.set_remote_address("127.0.0.1:4000");
  request.mutable_options()->mutable_smux()->mutable_keepalive_interval()->set_seconds(7200);
  kcpp::v1::DialSessionResponse response;
  const grpc::Status s = stub_->DialSession(&context, request, &response);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  const Details d = Parse(s);
  EXPECT_EQ(d.infos[0].reason(), "INVALID_FIELD");
  ASSERT_EQ(d.bad_requests.size(), 1u);
  ASSERT_EQ(d.bad_requests[0].field_violations_size(), 1);
  const auto& v = d.bad_requests[0].field_violations(0);
  EXPECT_EQ(v.field(), "options.smux.keepalive_interval") << s.error_message();
  EXPECT_TRUE(absl::StartsWith(v.description(), "must be")) << v.description();
}

// Paths the validation builds from a prefix and a sub-field ("listener" +
// ".address: ..."), and fields named whole ("update_mask").
TEST_F(ApiErrorsTest, NestedAndWholeFieldsAreNamedByTheirPath) {
  {
    grpc::ClientContext context;
    kcpp::v1::CreateListenerRequest request;
    request.mutable_listener()->set_address("not an address");
    kcpp::v1::Listener listener;
    const grpc::Status s = stub_->CreateListener(&context, request, &listener);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    const Details d = Parse(s);
    ASSERT_EQ(d.bad_requests.size(), 1u);
    EXPECT_EQ(d.bad_requests[0].field_violations(0).field(), "listener.address")
        << s.error_message();
  }
  {
    grpc::ClientContext context;
    kcpp::v1::UpdateSessionRequest request;
    request.mutable_session()->set_name("sessions/1");
    kcpp::v1::Session session;
    const grpc::Status s = stub_->UpdateSession(&context, request, &session);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    const Details d = Parse(s);
    ASSERT_EQ(d.bad_requests.size(), 1u) << s.error_message();
    EXPECT_EQ(d.bad_requests[0].field_violations(0).field(), "update_mask") << s.error_message();
  }
}

TEST_F(ApiErrorsTest, ARequestThatDoesNotParseSaysSoWithTheMethod) {
  grpc::GenericStub stub(channel_);
  const std::string garbage = "\x0a\x7f";  // field 1, 127 bytes announced, none sent
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/kcpp.v1.Kcpd/GetSession", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status s = done.get_future().get();
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  const Details d = Parse(s);
  EXPECT_EQ(d.infos[0].reason(), "REQUEST_NOT_PARSABLE");
  EXPECT_EQ(d.infos[0].metadata().at("method"), "/kcpp.v1.Kcpd/GetSession");
  ASSERT_EQ(d.bad_requests.size(), 1u);
  EXPECT_EQ(d.bad_requests[0].field_violations(0).field(), "");
}

TEST_F(ApiErrorsTest, PagingErrorsNameTheirField) {
  {
    grpc::ClientContext context;
    kcpp::v1::ListSessionsRequest request;
    request.set_page_size(-1);
    kcpp::v1::ListSessionsResponse response;
    const grpc::Status s = stub_->ListSessions(&context, request, &response);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    const Details d = Parse(s);
    EXPECT_EQ(d.infos[0].reason(), "INVALID_FIELD");
    ASSERT_EQ(d.bad_requests.size(), 1u);
    EXPECT_EQ(d.bad_requests[0].field_violations(0).field(), "page_size");
  }
  {
    grpc::ClientContext context;
    kcpp::v1::ListListenersRequest request;
    request.set_page_token("bm90IGEgdG9rZW4");  // valid base64, not a token
    kcpp::v1::ListListenersResponse response;
    const grpc::Status s = stub_->ListListeners(&context, request, &response);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    const Details d = Parse(s);
    EXPECT_EQ(d.infos[0].reason(), "INVALID_PAGE_TOKEN");
    ASSERT_EQ(d.bad_requests.size(), 1u);
    EXPECT_EQ(d.bad_requests[0].field_violations(0).field(), "page_token");
  }
}

// Errors no request field caused still carry an ErrorInfo, and no BadRequest.
TEST_F(ApiErrorsTest, NotFoundAndShutdownCarryAReason) {
  {
    grpc::ClientContext context;
    kcpp::v1::GetSessionRequest request;
    request.set_name("sessions/77");
    kcpp::v1::Session session;
    const grpc::Status s = stub_->GetSession(&context, request, &session);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    const Details d = Parse(s);
    EXPECT_EQ(d.infos[0].reason(), "SESSION_NOT_FOUND");
    EXPECT_EQ(d.infos[0].metadata().at("name"), "sessions/77");
    EXPECT_TRUE(d.bad_requests.empty());
  }
  plane_.BeginShutdown();
  {
    grpc::ClientContext context;
    kcpp::v1::Stats stats;
    const grpc::Status s = stub_->GetStats(&context, kcpp::v1::GetStatsRequest(), &stats);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_EQ(Parse(s).infos[0].reason(), "SHUTTING_DOWN");
  }
}

TEST(DenyAllServiceTest, RefusalSaysTheUidIsNotAllowed) {
  DenyAllService deny("your uid is not allowed (test)");
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(&deny);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = kcpp::v1::Kcpd::NewStub(server->InProcessChannel(grpc::ChannelArguments()));
  grpc::ClientContext context;
  kcpp::v1::Stats stats;
  const grpc::Status s = stub->GetStats(&context, kcpp::v1::GetStatsRequest(), &stats);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(Parse(s).infos[0].reason(), "UID_NOT_ALLOWED");
  server->Shutdown();
}

TEST(ToGrpcStatusTest, AStatusWithoutAReasonGetsItsCodesName) {
  const grpc::Status s = internal::ToGrpcStatus(absl::ResourceExhaustedError("too many"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Parse(s).infos[0].reason(), "RESOURCE_EXHAUSTED");
  EXPECT_TRUE(internal::ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace kcpp::service
