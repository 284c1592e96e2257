// CallTracker on a real (in-process) gRPC server: a call in flight counts
// until it is done, which is what lets kcpd's shutdown give running calls
// their grace and idle connections none.
#include "kcpd/internal/call_tracker.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "kcpd/control_plane.h"
#include "kcpd/kcpd_grpc_service.h"
#include "kcpd/testing/fake_backend.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace kcpp::service::internal {
namespace {

ControlPlaneOptions WithoutJanitor() {
  ControlPlaneOptions o;
  o.run_janitor = false;
  return o;
}

TEST(CallTrackerTest, ACallInFlightCountsUntilItIsDone) {
  FakeBackend backend;
  ControlPlane plane(&backend, WithoutJanitor());
  KcpdGrpcService service(&plane);
  CallTracker calls;
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
  f.push_back(calls.NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(f));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = kcpp::v1::Kcpd::NewStub(server->InProcessChannel(grpc::ChannelArguments()));

  // A finished unary call leaves nothing in flight.
  {
    grpc::ClientContext context;
    kcpp::v1::Stats stats;
    ASSERT_TRUE(stub->GetStats(&context, kcpp::v1::GetStatsRequest(), &stats).ok());
  }
  EXPECT_TRUE(calls.WaitUntilIdle(absl::InfiniteFuture()));

  // A watch is in flight while it runs: shutdown would give it the grace.
  grpc::ClientContext watch_context;
  std::unique_ptr<grpc::ClientReader<kcpp::v1::SessionEvent>> watch =
      stub->WatchSessionEvents(&watch_context, kcpp::v1::WatchSessionEventsRequest());
  watch->WaitForInitialMetadata();  // kcpd registered the watch: the call runs
  EXPECT_EQ(calls.in_flight(), 1);
  EXPECT_FALSE(calls.WaitUntilIdle(absl::Now()));

  // Ended (as kcpd's shutdown ends watches), it is no longer counted.
  plane.BeginShutdown();
  kcpp::v1::SessionEvent event;
  while (watch->Read(&event)) {
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(calls.WaitUntilIdle(absl::InfiniteFuture()));
  EXPECT_EQ(calls.in_flight(), 0);
  server->Shutdown();
}

}  // namespace
}  // namespace kcpp::service::internal
