// A tiny gRPC service served on a Unix socket and called through it: the
// transport the kcpd control API uses.

#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/foundation/echo.grpc.pb.h"

namespace {

class EchoService final : public kcpp::testing::Echo::Service {
  grpc::Status Say(grpc::ServerContext*, const kcpp::testing::EchoRequest* req,
                   kcpp::testing::EchoResponse* resp) override {
    if (req->text().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "text must not be empty");
    }
    resp->set_text(std::string(req->text().rbegin(), req->text().rend()));
    resp->set_length(static_cast<uint32_t>(req->text().size()));
    return grpc::Status::OK;
  }
};

TEST(GrpcUnixSocket, UnaryCallRoundTrip) {
  // Unix socket paths are limited to 107 bytes; TEST_TMPDIR can be deeper.
  char dir[] = "/tmp/kcpp-grpc-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string address = std::string("unix:") + dir + "/echo.sock";

  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr) << "could not listen on " << address;

  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = kcpp::testing::Echo::NewStub(channel);

  kcpp::testing::EchoRequest req;
  req.set_text("kcpp over unix");
  kcpp::testing::EchoResponse resp;
  grpc::ClientContext ctx;
  grpc::Status status = stub->Say(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.text(), "xinu revo ppck");
  EXPECT_EQ(resp.length(), 14u);

  // Errors cross the socket as status codes with their message.
  kcpp::testing::EchoRequest empty;
  grpc::ClientContext ctx2;
  status = stub->Say(&ctx2, empty, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "text must not be empty");

  server->Shutdown();
  unlink((std::string(dir) + "/echo.sock").c_str());
  rmdir(dir);
}

}  // namespace
