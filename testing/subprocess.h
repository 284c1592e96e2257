// Subprocess: a child program run from a test (fork + exec) — a real peer
// (kcp-go, kcptun, kcpd) or one of our own binaries — with its stdout and
// stderr captured through pipes.
//
//   auto p = Subprocess::Start({peer_path, "-role", "server"});
//   std::optional<std::string> line = p->ReadLine();   // "LISTENING 127.0.0.1:40001"
//   ...
//   SubprocessResult r = p->Wait();                      // exit code + rest of output
//
// Readiness comes from what the child prints, never from sleeping. The
// destructor kills (SIGKILL) and reaps a child that is still running, so a
// failing test leaves nothing behind.
#ifndef KCPP_TESTING_SUBPROCESS_H_
#define KCPP_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kcpp::test {

struct SubprocessResult {
  int exit_code = -1;  // 128 + signal number if a signal ended it
  std::string out;     // stdout not consumed by ReadLine
  std::string err;     // all of stderr
};

class Subprocess {
 public:
  struct Options {
    // Extra "NAME=value" entries added to the inherited environment.
    std::vector<std::string> env;
    // Run as this uid/gid (the test must be root).
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    // Give the child a pipe as stdin (WriteStdin / CloseStdin); else /dev/null.
    bool pipe_stdin = false;
  };

  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const Options& options);
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv) {
    return Start(argv, Options());
  }
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // The next line of stdout (without '\n'), or nullopt at EOF. Blocks.
  std::optional<std::string> ReadLine();
  // Stdin, when started with pipe_stdin.
  bool WriteStdin(const std::string& data);
  void CloseStdin();
  // Sends `signal` to the child.
  void Kill(int signal);
  // Reads the rest of stdout and stderr, then reaps the child.
  SubprocessResult Wait();

 private:
  Subprocess(pid_t pid, int out_fd, int err_fd, int in_fd);

  pid_t pid_;
  int out_fd_;
  int err_fd_;
  int in_fd_;
  std::string out_buffer_;  // read from stdout, not yet returned
  bool reaped_ = false;
};

}  // namespace kcpp::test

#endif  // KCPP_TESTING_SUBPROCESS_H_
