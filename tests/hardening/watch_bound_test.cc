// Issue 16, defect 2: WatchSessionEvents streams that never read must not
// grow kcpd's memory without bound. kcpd's real gRPC service and control
// plane (fake backend) on a connected socket pair, as kcpd hands control
// connections to gRPC: watchers per uid are capped, and watchers that never
// read are ended once they fall behind, their queues released at once.
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "kcpd/control_plane.h"
#include "kcpd/kcpd_grpc_service.h"
#include "kcpd/testing/fake_backend.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace kcpp::service {
namespace {

using kcpp::v1::SessionEvent;

// What the test publishes: about 1 KiB each, so 10,000 of them (10 MB per
// watcher) are far more than any HTTP/2 window can absorb.
SessionEvent BigEvent(int i) {
  SessionEvent e;
  e.set_type(SessionEvent::SESSION_CLOSED);
  e.mutable_session()->set_name("sessions/" + std::to_string(i + 1));
  e.mutable_session()->set_remote_address("192.0.2.1:4000");
  e.set_reason(std::string(1000, 'x'));
  return e;
}

class WatchBoundTest : public ::testing::Test {
 protected:
  WatchBoundTest() : plane_(&backend_, Options()), service_(&plane_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    // As kcpd's ControlSocketServer does: accept the connection on a Unix
    // socket and hand it, non-blocking, to gRPC (the service finds the
    // caller's uid from it).
    const std::string path = dir_.path() + "/control.sock";
    UniqueFd listening(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    EXPECT_EQ(::bind(listening.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listening.get(), 1), 0);
    // A client that never reads: no BDP probing, so its windows stay at
    // HTTP/2's initial 64 KiB.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    channel_ = grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args);
    channel_->GetState(/*try_to_connect=*/true);
    const int connection = ::accept4(listening.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    EXPECT_GE(connection, 0);
    grpc::AddInsecureChannelFromFd(server_.get(), connection);
    stub_ = kcpp::v1::Kcpd::NewStub(channel_);
  }
  ~WatchBoundTest() override {
    plane_.BeginShutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  static ControlPlaneOptions Options() {
    ControlPlaneOptions o;
    o.run_janitor = false;
    return o;
  }

  kcpp::v1::Stats Stats() {
    grpc::ClientContext context;
    kcpp::v1::Stats stats;
    const grpc::Status s = stub_->GetStats(&context, kcpp::v1::GetStatsRequest(), &stats);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return stats;
  }

  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<SessionEvent>> reader;
  };
  std::unique_ptr<Watch> StartWatch() {
    auto w = std::make_unique<Watch>();
    // A guard, not a timing assertion: a watcher that should have been
    // refused fails the test instead of hanging it.
    w->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    w->reader = stub_->WatchSessionEvents(&w->context, kcpp::v1::WatchSessionEventsRequest());
    // Registered (or refused) once the initial metadata (or the status) came.
    w->reader->WaitForInitialMetadata();
    return w;
  }

  testing::ShortTempDir dir_;
  FakeBackend backend_;
  ControlPlane plane_;
  KcpdGrpcService service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kcpp::v1::Kcpd::Stub> stub_;
};

TEST_F(WatchBoundTest, WatchersOfOneUidAreCappedAndStalledOnesAreEndedWithTheirQueuesReleased) {
  // The default cap per uid (kcpd --max_watchers_per_uid): this process's
  // uid holds every watcher on this connection.
  constexpr int kCap = 16;
  std::vector<std::unique_ptr<Watch>> stalled;
  for (int i = 0; i < kCap; ++i) stalled.push_back(StartWatch());
  ASSERT_EQ(Stats().watchers(), static_cast<uint32_t>(kCap));

  // One more from the same uid is refused, saying which cap and how to raise it.
  {
    std::unique_ptr<Watch> over = StartWatch();
    SessionEvent e;
    EXPECT_FALSE(over->reader->Read(&e));
    const grpc::Status s = over->reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_NE(s.error_message().find("--max_watchers_per_uid"), std::string::npos)
        << s.error_message();
    // kcpd found the caller's uid from its connection.
    EXPECT_NE(s.error_message().find("uid " + std::to_string(::getuid())), std::string::npos)
        << s.error_message();
  }
  EXPECT_EQ(Stats().watchers(), static_cast<uint32_t>(kCap));
  EXPECT_GE(Stats().watchers_refused(), 1u);

  // 10,000 events of ~1 KiB while no watcher reads.
  constexpr int kEvents = 10000;
  for (int i = 0; i < kEvents; ++i) plane_.OnEvent(BigEvent(i));

  // What kcpd holds for them is bounded by one watcher's queue bound (the
  // watchers share the events) plus the event each has in flight in gRPC;
  // each watcher's queue is released once it fell behind.
  const kcpp::v1::Stats after = Stats();
  const ControlPlaneOptions defaults;
  EXPECT_EQ(after.watchers_ended_behind(), static_cast<uint64_t>(kCap));
  EXPECT_EQ(after.watch_queued_events(), 0u);
  EXPECT_LE(after.watch_event_bytes(), defaults.max_watch_queue_bytes + kCap * 2048)
      << "kcpd holds " << after.watch_event_bytes() << " bytes of events for " << kCap
      << " stalled watchers";

  // A stalled watcher, when it finally reads, gets what gRPC had buffered
  // (a window's worth, not 10,000 events) and then the status.
  for (auto& w : stalled) {
    SessionEvent e;
    int read = 0;
    while (w->reader->Read(&e)) ++read;
    EXPECT_LT(read, 1000);
    const grpc::Status s = w->reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_NE(s.error_message().find("behind"), std::string::npos) << s.error_message();
  }
}

}  // namespace
}  // namespace kcpp::service
