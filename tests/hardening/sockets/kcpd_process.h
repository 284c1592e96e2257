// The real kcpd as a child process for the hardening tests: its log goes to
// a file (so a test can count what it wrote), readiness comes from
// --ready_fd, and a gRPC stub reaches its control socket.
//
//   TempDir dir;
//   auto kcpd = KcpdProcess::Start(kcpd_path, dir.path() + "/control.sock",
//                                  dir.path() + "/kcpd.log", {"--allow_uid=12345"});
//   ASSERT_TRUE(kcpd->ready());
//   kcpp::v1::Stats stats;
//   EXPECT_TRUE(GetStats(kcpd->control_socket(), absl::Seconds(10), &stats).ok());
#ifndef KCPP_TESTS_HARDENING_SOCKETS_KCPD_PROCESS_H_
#define KCPP_TESTS_HARDENING_SOCKETS_KCPD_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "testing/subprocess.h"

namespace kcpp::hardening {

// mkdtemp under /tmp (Bazel's TEST_TMPDIR is too deep for socket paths),
// removed with its contents at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class KcpdProcess {
 public:
  // kcpd --backend=fake --control_socket=`control_socket` `extra`..., its
  // stderr appended to `log_path`. Blocks until it serves or exits.
  static std::unique_ptr<KcpdProcess> Start(const std::string& kcpd,
                                            const std::string& control_socket,
                                            const std::string& log_path,
                                            const std::vector<std::string>& extra);
  ~KcpdProcess();  // SIGKILL if still running

  bool ready() const { return ready_; }
  pid_t pid() const { return process_->pid(); }
  const std::string& control_socket() const { return control_socket_; }
  // SIGTERM, then the exit code.
  int Stop();
  // The exit code of a kcpd that did not become ready.
  int Wait();

 private:
  KcpdProcess() = default;
  std::unique_ptr<kcpp::test::Subprocess> process_;
  std::string control_socket_;
  bool ready_ = false;
};

std::unique_ptr<kcpp::v1::Kcpd::Stub> KcpdStub(const std::string& control_socket);
grpc::Status GetStats(const std::string& control_socket, absl::Duration deadline,
                      kcpp::v1::Stats* stats);

std::string ReadFile(const std::string& path);
size_t CountLines(const std::string& path);
// Descriptors `pid` has open (/proc/PID/fd).
int OpenDescriptors(pid_t pid);

}  // namespace kcpp::hardening

#endif  // KCPP_TESTS_HARDENING_SOCKETS_KCPD_PROCESS_H_
