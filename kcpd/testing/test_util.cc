#include "kcpd/testing/test_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace kcpp::service::testing {

void RecordingSink::OnEvent(const kcpp::v1::SessionEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  events_.push_back(event);
  changed_.notify_all();
}

std::optional<kcpp::v1::SessionEvent> RecordingSink::WaitFor(kcpp::v1::SessionEvent::Type type,
                                                             const std::string& name,
                                                             absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<kcpp::v1::SessionEvent> found;
  const auto seen = [&] {
    for (const auto& e : events_) {
      if (e.type() == type && (e.session().name() == name || e.stream().name() == name)) {
        found = e;
        return true;
      }
    }
    return false;
  };
  changed_.wait_until(lock, absl::ToChronoTime(absl::Now() + timeout), seen);
  return found;
}

std::vector<kcpp::v1::SessionEvent> RecordingSink::events() {
  std::lock_guard<std::mutex> lock(mu_);
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

std::pair<UniqueFd, UniqueFd> SocketPair(int type) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::unique_ptr<Process> Process::Start(const Options& options) {
  std::unique_ptr<Process> p(new Process());
  int out[2] = {-1, -1}, err[2] = {-1, -1}, ready[2] = {-1, -1};
  if (options.stdout_path.empty()) {
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  }
  if (options.stderr_path.empty()) {
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  }
  if (options.ready_fd >= 0) {
    EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  }
  // Everything the child needs is prepared before fork (no allocation after).
  std::vector<char*> argv;
  for (const std::string& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    const int in = ::open(options.stdin_path.c_str(), O_RDONLY);
    if (in < 0 || ::dup2(in, 0) < 0) _exit(120);
    const int o = options.stdout_path.empty()
                      ? out[1]
                      : ::open(options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = options.stderr_path.empty()
                      ? err[1]
                      : ::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) _exit(121);
    if (options.ready_fd >= 0 && ::dup2(ready[1], options.ready_fd) < 0) _exit(122);
    if (options.uid.has_value()) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(*options.uid) != 0) {
        _exit(123);
      }
    }
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    _exit(124);
  }
  p->pid_ = pid;
  if (out[1] >= 0) ::close(out[1]);
  if (err[1] >= 0) ::close(err[1]);
  if (ready[1] >= 0) ::close(ready[1]);
  p->out_.reset(out[0]);
  p->err_.reset(err[0]);
  p->ready_.reset(ready[0]);
  return p;
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string Process::WaitReady() {
  std::string line;
  char c;
  while (ready_.valid() && ::read(ready_.get(), &c, 1) == 1) {
    if (c == '\n') break;
    line.push_back(c);
  }
  return line;
}

bool Process::WaitForStderr(absl::string_view needle) {
  if (!err_.valid()) return false;
  size_t& line_start = err_checked_;
  char buf[4096];
  while (true) {
    const size_t nl = err_seen_.find('\n', line_start);
    if (nl != std::string::npos) {
      const bool found =
          absl::string_view(err_seen_).substr(line_start, nl - line_start).find(needle) !=
          absl::string_view::npos;
      line_start = nl + 1;
      if (found) return true;
      continue;
    }
    const ssize_t n = ::read(err_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    err_seen_.append(buf, static_cast<size_t>(n));
  }
}

void Process::Signal(int signal) { ::kill(pid_, signal); }

ProcessResult Process::Wait() {
  ProcessResult r;
  r.err = err_seen_;
  std::vector<pollfd> fds;
  if (out_.valid()) fds.push_back({out_.get(), POLLIN, 0});
  if (err_.valid()) fds.push_back({err_.get(), POLLIN, 0});
  char buf[65536];
  size_t open = fds.size();
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (pollfd& f : fds) {
      if (f.fd < 0 || f.revents == 0) continue;
      const ssize_t n = ::read(f.fd, buf, sizeof(buf));
      if (n <= 0) {
        f.fd = -1;
        --open;
        continue;
      }
      (f.fd == out_.get() ? r.out : r.err).append(buf, static_cast<size_t>(n));
    }
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid_, &status, 0), pid_);
  reaped_ = true;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

ProcessResult RunProcess(const Process::Options& options) {
  return Process::Start(options)->Wait();
}

}  // namespace kcpp::service::testing
