// Test helpers shared by kcpd/ tests: a recording SessionEventSink, short
// temporary directories for Unix sockets, blocking socket and file I/O
// helpers.
#ifndef KCPP_KCPD_TESTING_TEST_UTIL_H_
#define KCPP_KCPD_TESTING_TEST_UTIL_H_

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "kcpd/session_backend.h"
#include "proto/kcpp/v1/kcpd.pb.h"

namespace kcpp::service::testing {

// Records every event; tests wait for the ones they expect. (std::mutex, not
// std::mutex: ThreadSanitizer sees only the former with Debian's Abseil.)
class RecordingSink : public SessionEventSink {
 public:
  void OnEvent(const kcpp::v1::SessionEvent& event) override;
  // Waits (up to `timeout`, generous: a failure, not a timing check) until an
  // event of `type` for `name` (session or stream name) has been recorded;
  // returns it, or nullopt.
  std::optional<kcpp::v1::SessionEvent> WaitFor(kcpp::v1::SessionEvent::Type type,
                                                const std::string& name,
                                                absl::Duration timeout = absl::Seconds(20));
  std::vector<kcpp::v1::SessionEvent> events();

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<kcpp::v1::SessionEvent> events_;  // guarded by mu_
};

// mkdtemp under /tmp (short enough for socket paths); removed with its
// contents on destruction.
class ShortTempDir {
 public:
  ShortTempDir();
  ~ShortTempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A connected socketpair of `type` (SOCK_STREAM or SOCK_SEQPACKET).
std::pair<UniqueFd, UniqueFd> SocketPair(int type);

// Writes all of `data` (blocking).
void WriteAll(int fd, const std::string& data);
// Reads until EOF (blocking); what was read.
std::string ReadToEof(int fd);
// Reads exactly n bytes (blocking), fewer on EOF.
std::string ReadN(int fd, size_t n);

// A whole file's bytes ("" if it cannot be read), and a file written with
// exactly `bytes` (created or truncated).
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& bytes);

// A child process run from a test (fork + exec), for tests of the real kcpd
// and kcpctl binaries.
struct ProcessResult {
  int exit_code = -1;  // 128 + signal if it was killed by one
  std::string out;     // captured stdout (if not redirected to a file)
  std::string err;     // captured stderr (if not redirected to a file)
};

class Process {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::string stdin_path = "/dev/null";
    std::string stdout_path;   // empty: captured
    std::string stderr_path;   // empty: captured
    std::optional<uid_t> uid;  // run as this uid (and its group 65534 for nobody)
    // If >= 0: the write end of a pipe is placed at this descriptor number
    // in the child (for kcpd --ready_fd); WaitReady() reads the other end.
    int ready_fd = -1;
  };

  // Starts the child; test failures are reported through gtest.
  static std::unique_ptr<Process> Start(const Options& options);
  // Kills (SIGKILL) and reaps the child if it still runs.
  ~Process();

  pid_t pid() const { return pid_; }
  // Blocks until the child writes its ready line or closes the ready fd
  // (exits); returns the line, or "" if it never came.
  std::string WaitReady();
  // Reads captured stderr until a line containing `needle` arrives (true) or
  // stderr ends (false).
  bool WaitForStderr(absl::string_view needle);
  void Signal(int signal);
  // Collects the remaining captured output and reaps the child.
  ProcessResult Wait();

 private:
  Process() = default;
  pid_t pid_ = -1;
  UniqueFd out_;
  UniqueFd err_;
  UniqueFd ready_;
  std::string err_seen_;
  size_t err_checked_ = 0;  // err_seen_ before this offset was searched already
  bool reaped_ = false;
};

// Start + Wait.
ProcessResult RunProcess(const Process::Options& options);

}  // namespace kcpp::service::testing

#endif  // KCPP_KCPD_TESTING_TEST_UTIL_H_
