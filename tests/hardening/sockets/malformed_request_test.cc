// Defect 7 of issue 16: requests kcpd cannot use must come back as
// INVALID_ARGUMENT with a message that says why.
// * An address with a trailing newline ("127.0.0.1:0\n") was accepted: the
//   port parser skips whitespace.
// * A truncated protobuf, or invalid UTF-8 in a string field, came back as a
//   bare UNIMPLEMENTED: gRPC's callback API drops the parse failure and
//   claims the method does not exist.
// The raw bytes go over the real kcpd's control socket with a GenericStub.
//
// usage: malformed_request_test <path of kcpd> [gtest flags]
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "tests/hardening/sockets/kcpd_process.h"

namespace kcpp::hardening {
namespace {

std::string g_kcpd;

class MalformedRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kcpd_ = KcpdProcess::Start(g_kcpd, dir_.path() + "/control.sock", dir_.path() + "/kcpd.log",
                               {});
    ASSERT_TRUE(kcpd_->ready()) << ReadFile(dir_.path() + "/kcpd.log");
    channel_ = grpc::CreateChannel("unix:" + kcpd_->control_socket(),
                                   grpc::InsecureChannelCredentials());
  }

  // Sends `bytes` as the request message of `method` ("/kcpp.v1.Kcpd/X").
  grpc::Status Raw(const std::string& method, const std::string& bytes) {
    grpc::GenericStub stub(channel_);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }

  TempDir dir_;
  std::unique_ptr<KcpdProcess> kcpd_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Field 1 (a string) with these bytes, length-delimited.
std::string StringField1(const std::string& value) {
  return std::string(1, '\x0a') + static_cast<char>(value.size()) + value;
}

TEST_F(MalformedRequestTest, ATruncatedProtobufIsInvalidArgument) {
  kcpp::v1::CreateListenerRequest request;
  request.set_listener_id("web");
  request.mutable_listener()->set_address("127.0.0.1:0");
  std::string bytes = request.SerializeAsString();
  bytes.pop_back();
  const grpc::Status s = Raw("/kcpp.v1.Kcpd/CreateListener", bytes);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("/kcpp.v1.Kcpd/CreateListener is not a valid protobuf"),
            std::string::npos)
      << s.error_message();

  // A server-streaming method too.
  kcpp::v1::WatchSessionEventsRequest watch;
  watch.set_listener("listeners/web");
  bytes = watch.SerializeAsString();
  bytes.pop_back();
  EXPECT_EQ(Raw("/kcpp.v1.Kcpd/WatchSessionEvents", bytes).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MalformedRequestTest, InvalidUtf8InAStringFieldIsInvalidArgument) {
  const grpc::Status s = Raw("/kcpp.v1.Kcpd/DialSession", StringField1("10.0.0.2:4000\xff\xfe"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("not valid UTF-8"), std::string::npos) << s.error_message();
  // The same bytes, valid: kcpd parses them (the fake backend dials anything).
  EXPECT_TRUE(Raw("/kcpp.v1.Kcpd/DialSession", StringField1("10.0.0.2:4000")).ok());
  // A method that does not exist is still UNIMPLEMENTED.
  EXPECT_EQ(Raw("/kcpp.v1.Kcpd/NoSuchMethod", "").error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(MalformedRequestTest, AnAddressWithATrailingNewlineIsInvalidArgument) {
  auto stub = KcpdStub(kcpd_->control_socket());
  {
    grpc::ClientContext context;
    kcpp::v1::CreateListenerRequest request;
    request.mutable_listener()->set_address("127.0.0.1:0\n");
    kcpp::v1::Listener listener;
    const grpc::Status s = stub->CreateListener(&context, request, &listener);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("listener.address must not contain whitespace"),
              std::string::npos)
        << s.error_message();
  }
  {
    grpc::ClientContext context;
    kcpp::v1::DialSessionRequest request;
    request.set_remote_address("10.0.0.2:4000\n");
    kcpp::v1::DialSessionResponse response;
    const grpc::Status s = stub->DialSession(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("remote_address must not contain whitespace"),
              std::string::npos)
        << s.error_message();
  }
}

}  // namespace
}  // namespace kcpp::hardening

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <path of kcpd> [gtest flags]\n", argv[0]);
    return 2;
  }
  kcpp::hardening::g_kcpd = argv[1];
  return RUN_ALL_TESTS();
}
