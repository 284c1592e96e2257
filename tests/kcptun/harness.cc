#include "tests/kcptun/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kcpp::test {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int ListenLoopback(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// accept() that gives up when `stop` is set (checked every 100 ms of
// idleness; only used to shut a test server down).
int AcceptOrStop(int listen_fd, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    pollfd p{listen_fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r < 0 && errno != EINTR) return -1;
    if (r <= 0) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
  }
  return -1;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

int PollMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

absl::StatusOr<KcptunProcess> StartKcptun(const std::string& binary,
                                          const std::vector<std::string>& args,
                                          absl::string_view ready_marker, bool parse_address) {
  // kcptun logs to stderr: merge it into stdout, which Subprocess reads.
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", binary};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(argv);
  if (!p.ok()) return p.status();
  KcptunProcess k;
  k.process = *std::move(p);
  while (true) {
    std::optional<std::string> line = k.process->ReadLine();
    if (!line.has_value()) {
      SubprocessResult r = k.process->Wait();
      return absl::InternalError(
          absl::StrCat(binary, " exited (", r.exit_code,
                       ") before it was ready: ", absl::StrJoin(k.startup_log, "\n")));
    }
    k.startup_log.push_back(*line);
    const size_t at = line->find(std::string(ready_marker));
    if (at == std::string::npos) continue;
    if (parse_address) k.address = line->substr(at + ready_marker.size());
    return k;
  }
}

}  // namespace

absl::StatusOr<KcptunProcess> StartKcptunClient(const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.insert(a.end(), {"-l", "127.0.0.1:0", "-quiet"});
  return StartKcptun(kKcptunClient, a, "listening on: ", /*parse_address=*/true);
}

absl::StatusOr<KcptunProcess> StartKcptunServer(const std::vector<std::string>& args) {
  absl::StatusOr<int> port = FreeUdpPort();
  if (!port.ok()) return port.status();
  std::vector<std::string> a = args;
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  a.insert(a.end(), {"-l", address, "-quiet"});
  absl::StatusOr<KcptunProcess> k =
      StartKcptun(kKcptunServer, a, "key derivation done", /*parse_address=*/false);
  if (k.ok()) k->address = address;
  return k;
}

absl::StatusOr<std::vector<std::string>> KcptunStartupLog(const std::string& binary,
                                                          const std::vector<std::string>& args) {
  absl::StatusOr<KcptunProcess> k = StartKcptun(binary, args, "tcp: ", false);
  if (!k.ok()) return k.status();
  k->process->Kill(SIGKILL);
  k->process->Wait();
  return k->startup_log;
}

absl::StatusOr<int> FreeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::InternalError(absl::StrCat("udp port: ", strerror(errno)));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

absl::StatusOr<int> FreeTcpPort() {
  int port = 0;
  const int fd = ListenLoopback(&port);
  if (fd < 0) return absl::InternalError(absl::StrCat("tcp port: ", strerror(errno)));
  ::close(fd);
  return port;
}

void FillTestData(uint32_t seed, uint64_t offset, uint8_t* out, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const uint64_t p = offset + i;
    const uint64_t block = Mix((uint64_t{seed} << 40) ^ (p >> 12));
    if (block % 3 == 0) {
      // Repetitive text-like block: snappy compresses it.
      out[i] = static_cast<uint8_t>('a' + (block >> 8) % 16 + (p % 7));
    } else {
      out[i] = static_cast<uint8_t>(Mix(block ^ (p >> 3)) >> ((p & 7) * 8));
    }
  }
}

// ---- TcpEchoServer -----------------------------------------------------

TcpEchoServer::TcpEchoServer() {
  listen_fd_ = ListenLoopback(&port_);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TcpEchoServer::~TcpEchoServer() {
  stop_ = true;
  accept_thread_.join();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : threads_) t.join();
  ::close(listen_fd_);
}

std::string TcpEchoServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

int TcpEchoServer::closed_by_peer() const {
  std::lock_guard<std::mutex> l(mu_);
  return closed_by_peer_;
}

bool TcpEchoServer::WaitClosedByPeer(int n, absl::Time deadline) const {
  std::unique_lock<std::mutex> l(mu_);
  while (closed_by_peer_ < n) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    cv_.wait_for(l, absl::ToChronoMilliseconds(left));
  }
  return true;
}

void TcpEchoServer::AcceptLoop() {
  while (true) {
    const int fd = AcceptOrStop(listen_fd_, stop_);
    if (fd < 0) return;
    ++accepted_;
    std::lock_guard<std::mutex> l(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TcpEchoServer::Serve(int fd) {
  std::vector<char> buf(65536);
  bool eof = false;
  bool first = true;
  while (true) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (first && n > 0 && n < static_cast<ssize_t>(kCloseCommand.size()) &&
        std::string(buf.data(), n) == kCloseCommand.substr(0, n)) {
      // A prefix of the command: wait for the rest before deciding.
      const ssize_t more = ::recv(fd, buf.data() + n, kCloseCommand.size() - n, MSG_WAITALL);
      if (more > 0) n += more;
    }
    if (first && n >= static_cast<ssize_t>(kCloseCommand.size()) &&
        std::string(buf.data(), kCloseCommand.size()) == kCloseCommand) {
      {
        // Counted before the client can see the close (it checks the count
        // as soon as it reads the reply and EOF).
        std::lock_guard<std::mutex> l(mu_);
        ++closed_by_target_;
        cv_.notify_all();
      }
      WriteAll(fd, kCloseReply.data(), kCloseReply.size());
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    first = false;
    if (n == 0) eof = true;
    if (n <= 0) break;
    bytes_ += static_cast<uint64_t>(n);
    if (!WriteAll(fd, buf.data(), static_cast<size_t>(n))) break;
  }
  ::shutdown(fd, SHUT_WR);
  std::lock_guard<std::mutex> l(mu_);
  if (eof) ++closed_by_peer_;
  cv_.notify_all();
  // The fd stays open (and listed) until the destructor, so a reused
  // number never gets shut down by mistake.
}

// ---- TcpGreeter ---------------------------------------------------------

TcpGreeter::TcpGreeter(std::string greeting) : greeting_(std::move(greeting)) {
  listen_fd_ = ListenLoopback(&port_);
  thread_ = std::thread([this] {
    while (true) {
      const int fd = AcceptOrStop(listen_fd_, stop_);
      if (fd < 0) return;
      WriteAll(fd, greeting_.data(), greeting_.size());
      ::close(fd);
    }
  });
}

TcpGreeter::~TcpGreeter() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string TcpGreeter::address() const { return absl::StrCat("127.0.0.1:", port_); }

// ---- Clients ------------------------------------------------------------

int ConnectTcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

absl::Status EchoExchange(int port, uint64_t bytes, uint32_t seed, absl::Time deadline) {
  const int fd = ConnectTcp(port);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("connect: ", strerror(errno)));
  std::atomic<bool> write_failed{false};
  std::thread writer([&] {
    std::vector<uint8_t> chunk(32768);
    for (uint64_t off = 0; off < bytes;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), bytes - off));
      FillTestData(seed, off, chunk.data(), n);
      if (!WriteAll(fd, reinterpret_cast<const char*>(chunk.data()), n)) {
        write_failed = true;
        return;
      }
      off += n;
    }
  });
  absl::Status status;
  std::vector<uint8_t> got(65536), want(65536);
  uint64_t off = 0;
  while (off < bytes) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, PollMs(deadline));
    if (r == 0) {
      status = absl::DeadlineExceededError(
          absl::StrCat("echo of seed ", seed, ": ", off, " of ", bytes, " bytes by the deadline"));
      break;
    }
    const ssize_t n = ::recv(fd, got.data(), got.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status =
          absl::DataLossError(absl::StrCat("echo of seed ", seed, " ended after ", off, " of ",
                                           bytes, " bytes: ", n == 0 ? "EOF" : strerror(errno)));
      break;
    }
    if (off + n > bytes) {
      status = absl::DataLossError(
          absl::StrCat("echo of seed ", seed, ": more than ", bytes, " bytes came back"));
      break;
    }
    FillTestData(seed, off, want.data(), static_cast<size_t>(n));
    if (std::memcmp(got.data(), want.data(), static_cast<size_t>(n)) != 0) {
      size_t i = 0;
      while (got[i] == want[i]) ++i;
      status =
          absl::DataLossError(absl::StrCat("echo of seed ", seed, " differs at byte ", off + i));
      break;
    }
    off += static_cast<uint64_t>(n);
  }
  // Unblocks the writer if the exchange failed half-way.
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
  if (status.ok() && write_failed) status = absl::DataLossError("write to the tunnel failed");
  return status;
}

absl::Status ConcurrentEchoExchanges(int port, int connections, uint64_t bytes, uint32_t seed) {
  std::vector<absl::Status> results(connections);
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] { results[i] = EchoExchange(port, bytes, seed + i); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AskTargetToClose(int port, absl::Time deadline) {
  return ReadUntilEof(port, deadline, std::string(kCloseCommand));
}

absl::StatusOr<std::string> ReadUntilEof(int port, absl::Time deadline, const std::string& send) {
  const int fd = ConnectTcp(port);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("connect: ", strerror(errno)));
  if (!send.empty() && !WriteAll(fd, send.data(), send.size())) {
    ::close(fd);
    return absl::UnavailableError("write to the tunnel failed");
  }
  std::string data;
  char buf[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, PollMs(deadline)) == 0) {
      ::close(fd);
      return absl::DeadlineExceededError(
          absl::StrCat("no EOF by the deadline after ", data.size(), " bytes"));
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(e)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

}  // namespace kcpp::test
