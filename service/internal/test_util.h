// Test helpers shared by service/ tests: a recording SessionEventSink, short
// temporary directories for Unix sockets, and blocking socket I/O helpers.
#ifndef KCPP_SERVICE_INTERNAL_TEST_UTIL_H_
#define KCPP_SERVICE_INTERNAL_TEST_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/kcpp/v1/kcpd.pb.h"
#include "service/internal/unique_fd.h"
#include "service/session_backend.h"

namespace kcpp::service::testing {

// Records every event; tests wait for the ones they expect.
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
  absl::Mutex mu_;
  std::vector<kcpp::v1::SessionEvent> events_ ABSL_GUARDED_BY(mu_);
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
std::pair<internal::UniqueFd, internal::UniqueFd> SocketPair(int type);

// Writes all of `data` (blocking).
void WriteAll(int fd, const std::string& data);
// Reads until EOF (blocking); what was read.
std::string ReadToEof(int fd);
// Reads exactly n bytes (blocking), fewer on EOF.
std::string ReadN(int fd, size_t n);

}  // namespace kcpp::service::testing

#endif  // KCPP_SERVICE_INTERNAL_TEST_UTIL_H_
