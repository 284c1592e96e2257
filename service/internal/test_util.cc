#include "service/internal/test_util.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"

namespace kcpp::service::testing {

void RecordingSink::OnEvent(const kcpp::v1::SessionEvent& event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(event);
}

std::optional<kcpp::v1::SessionEvent> RecordingSink::WaitFor(kcpp::v1::SessionEvent::Type type,
                                                             const std::string& name,
                                                             absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<kcpp::v1::SessionEvent> found;
  const auto seen = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& e : events_) {
      if (e.type() == type && (e.session().name() == name || e.stream().name() == name)) {
        found = e;
        return true;
      }
    }
    return false;
  };
  mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  return found;
}

std::vector<kcpp::v1::SessionEvent> RecordingSink::events() {
  absl::MutexLock lock(&mu_);
  return events_;
}

ShortTempDir::ShortTempDir() {
  char tmpl[] = "/tmp/kcpd-XXXXXX";
  const char* made = mkdtemp(tmpl);
  EXPECT_NE(made, nullptr);
  path_ = made != nullptr ? made : "/tmp";
}

ShortTempDir::~ShortTempDir() {
  if (path_ == "/tmp") return;
  nftw(
      path_.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

std::pair<internal::UniqueFd, internal::UniqueFd> SocketPair(int type) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
  return {internal::UniqueFd(fds[0]), internal::UniqueFd(fds[1])};
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << "send failed: errno " << errno;
    done += static_cast<size_t>(n);
  }
}

std::string ReadToEof(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string ReadN(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    const ssize_t got = ::read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

}  // namespace kcpp::service::testing
