#include "kcpd/control_socket_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "kcpd/control_plane.h"
#include "kcpd/kcpd_grpc_service.h"
#include "kcpd/testing/fake_backend.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

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
        {.path = path_, .mode = 0600, .allow = UidAllowList(daemon_uid, {})},
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

int OpenDescriptors() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dir != nullptr && readdir(dir) != nullptr) ++n;
  if (dir != nullptr) closedir(dir);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

// Issue 16, defect 1: out of descriptors, the old accept loop could not take
// a pending connection off the socket, so the socket stayed readable and the
// loop spun (and logged) until a descriptor came free; the connection hung.
// Now the spare descriptor takes each pending connection and closes it, and
// accepting pauses between tries. The whole test process is held at its
// limit, so the clients' sockets are made before.
TEST_F(ControlSocketServerTest, OutOfDescriptorsPendingConnectionsAreClosedNotSpunOn) {
  Start(geteuid());
  // (No call before: its connection would end, and free descriptors, at a
  // moment of gRPC's choosing.)
  constexpr int kClients = 5;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(clients.back().valid());
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit none = old;
  none.rlim_cur = static_cast<rlim_t>(OpenDescriptors() + 16);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
  // Every number below the limit taken (the limit bounds numbers, not counts).
  std::vector<UniqueFd> filler;
  while (true) {
    UniqueFd f(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!f.valid()) break;
    filler.push_back(std::move(f));
  }
  int closed = 0;
  for (UniqueFd& c : clients) {
    if (connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) continue;
    // Generous: a bound on a failure, not a timing check (the pauses add up
    // to a few seconds for five connections).
    pollfd p{c.get(), POLLIN, 0};
    char byte;
    if (poll(&p, 1, 30000) == 1 && recv(c.get(), &byte, 1, 0) == 0) ++closed;
  }
  filler.clear();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_EQ(closed, kClients);
  // Descriptors again: served again (after at most one pause).
  kcpp::v1::Stats stats;
  const grpc::Status s = Stats(&stats);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ControlSocketServerTest, StopRemovesTheSocket) {
  Start(geteuid());
  ASSERT_EQ(access(path_.c_str(), F_OK), 0);
  control_->Stop();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace kcpp::service
