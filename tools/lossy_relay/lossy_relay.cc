#include "tools/lossy_relay/lossy_relay.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <queue>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kcpp::tools {
namespace {

using transport::SocketAddress;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

absl::StatusOr<int> OpenSocket(const SocketAddress& bind_to, int buffer_bytes) {
  const int fd = socket(bind_to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
  if (bind(fd, bind_to.sockaddr_ptr(), bind_to.sockaddr_len()) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("bind ", bind_to.ToString(), ": ", strerror(err)));
  }
  return fd;
}

SocketAddress AnyAddressLike(const SocketAddress& a) {
  return *SocketAddress::Parse(a.is_ipv6() ? "[::]:0" : "0.0.0.0:0");
}

}  // namespace

class LossyRelay::Impl {
 public:
  explicit Impl(const Options& o)
      : options_(o),
        to_target_(o.to_target, o.seed * 2 + 1),
        to_client_(o.to_client, o.seed * 2 + 2) {}
  ~Impl() {
    Stop();
    for (auto& [addr, c] : clients_) close(c.fd);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  absl::StatusOr<SocketAddress> Open() {
    SocketAddress listen = options_.listen;
    if (listen.port() == 0 && listen == SocketAddress()) {
      listen = *SocketAddress::Parse(options_.target.is_ipv6() ? "[::1]:0" : "127.0.0.1:0");
    }
    absl::StatusOr<int> fd = OpenSocket(listen, options_.socket_buffer_bytes);
    if (!fd.ok()) return fd.status();
    listen_fd_ = *fd;
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return absl::InternalError("epoll/eventfd");
    Watch(listen_fd_);
    Watch(wake_fd_);
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }

  void Run() {
    start_ms_ = NowMs();
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }

  Stats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

  Stats WaitForReceived(uint64_t n) const {
    std::unique_lock<std::mutex> lock(stats_mu_);
    received_cv_.wait(lock, [&] { return stats_.received >= n; });
    return stats_;
  }

 private:
  // One direction's impairment state.
  struct Direction {
    Direction(const Impairment& i, uint64_t seed) : imp(i), rng(seed) {}
    Impairment imp;
    std::mt19937_64 rng;
    int burst_left = 0;
    double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng); }
  };

  struct Client {
    int fd = -1;  // upstream socket
    SocketAddress address;
  };

  struct Delayed {
    int64_t release_ms;
    uint64_t seq;
    int fd;
    SocketAddress to;
    std::vector<uint8_t> bytes;
    bool operator>(const Delayed& o) const {
      return release_ms != o.release_ms ? release_ms > o.release_ms : seq > o.seq;
    }
  };

  void Watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }

  bool InBlackhole(const Impairment& imp, int64_t now) const {
    if (imp.blackhole_on_ms <= 0) return false;
    const int64_t t = now - start_ms_ - imp.blackhole_after_ms;
    if (t < 0) return false;
    return t % (imp.blackhole_on_ms + imp.blackhole_off_ms) < imp.blackhole_on_ms;
  }

  // Applies `d`'s impairments to one datagram and schedules what survives.
  void Impair(Direction& d, int fd, const SocketAddress& to, const uint8_t* data, size_t n,
              int64_t now) {
    const Impairment& imp = d.imp;
    auto drop = [&] {
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.dropped;
    };
    if (imp.max_datagram > 0 && n > static_cast<size_t>(imp.max_datagram)) return drop();
    if (InBlackhole(imp, now)) return drop();
    if (d.burst_left > 0) {
      --d.burst_left;
      return drop();
    }
    if (imp.loss > 0 && d.Uniform() < imp.loss) {
      d.burst_left = imp.loss_burst - 1;
      return drop();
    }
    std::vector<uint8_t> bytes(data, data + n);
    if (imp.corrupt > 0 && n > 0 && d.Uniform() < imp.corrupt) {
      const size_t bit = std::uniform_int_distribution<size_t>(0, n * 8 - 1)(d.rng);
      bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.corrupted;
    }
    int64_t delay = imp.delay_ms;
    if (imp.jitter_ms > 0) delay += std::uniform_int_distribution<int>(0, imp.jitter_ms)(d.rng);
    if (imp.reorder > 0 && d.Uniform() < imp.reorder) {
      delay += imp.reorder_delay_ms;
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.reordered;
    }
    const bool dup = imp.duplicate > 0 && d.Uniform() < imp.duplicate;
    if (dup) {
      {
        std::lock_guard<std::mutex> lock(stats_mu_);
        ++stats_.duplicated;
      }
      Schedule(now + delay, fd, to, bytes);
    }
    Schedule(now + delay, fd, to, std::move(bytes));
  }

  void Schedule(int64_t at, int fd, const SocketAddress& to, std::vector<uint8_t> bytes) {
    if (at <= NowMs() && pending_.empty()) {
      Send(fd, to, bytes);
      return;
    }
    pending_.push(Delayed{at, seq_++, fd, to, std::move(bytes)});
  }

  void Send(int fd, const SocketAddress& to, const std::vector<uint8_t>& bytes) {
    // A full socket buffer loses the datagram, as a real queue would.
    (void)sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT, to.sockaddr_ptr(),
                 to.sockaddr_len());
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.forwarded;
  }

  void ReleaseDue(int64_t now) {
    while (!pending_.empty() && pending_.top().release_ms <= now) {
      const Delayed& d = pending_.top();
      // The client's upstream socket may have been replaced by a rebind
      // since; the listen socket (the way to the client) always lives.
      if (d.fd == listen_fd_ || fd_alive_.contains(d.fd)) Send(d.fd, d.to, d.bytes);
      pending_.pop();
    }
  }

  Client* ClientFor(const SocketAddress& from) {
    auto it = clients_.find(from);
    if (it != clients_.end()) return &it->second;
    absl::StatusOr<int> fd =
        OpenSocket(AnyAddressLike(options_.target), options_.socket_buffer_bytes);
    if (!fd.ok()) return nullptr;
    Watch(*fd);
    fd_alive_.insert({*fd, true});
    Client& c = clients_[from];
    c.fd = *fd;
    c.address = from;
    return &c;
  }

  void Rebind() {
    for (auto& [addr, c] : clients_) {
      absl::StatusOr<int> fd =
          OpenSocket(AnyAddressLike(options_.target), options_.socket_buffer_bytes);
      if (!fd.ok()) continue;
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
      fd_alive_.erase(c.fd);
      // Keep the old fd open briefly? No: a real NAT forgets the mapping.
      close(c.fd);
      c.fd = *fd;
      Watch(c.fd);
      fd_alive_.insert({c.fd, true});
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.rebinds;
    }
  }

  void Loop() {
    std::vector<uint8_t> buf(65536);
    epoll_event events[64];
    int64_t next_rebind = options_.rebind_every_ms > 0 ? start_ms_ + options_.rebind_every_ms : 0;
    while (!stop_.load()) {
      int64_t now = NowMs();
      int timeout = 100;
      if (!pending_.empty()) {
        timeout = static_cast<int>(std::max<int64_t>(0, pending_.top().release_ms - now));
      }
      if (next_rebind > 0) {
        timeout = std::min<int>(timeout, static_cast<int>(std::max<int64_t>(0, next_rebind - now)));
      }
      const int n = epoll_wait(epoll_fd_, events, 64, timeout);
      now = NowMs();
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd_) continue;
        for (int k = 0; k < 64; ++k) {
          sockaddr_storage ss;
          socklen_t len = sizeof(ss);
          const ssize_t got = recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                       reinterpret_cast<sockaddr*>(&ss), &len);
          if (got < 0) break;
          auto from = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
          if (!from.ok()) continue;
          struct Counted {  // counts the datagram once its fate is decided
            Impl* self;
            ~Counted() {
              std::lock_guard<std::mutex> lock(self->stats_mu_);
              ++self->stats_.received;
              self->received_cv_.notify_all();
            }
          } counted{this};
          if (fd == listen_fd_) {
            Client* c = ClientFor(*from);
            if (c != nullptr) {
              Impair(to_target_, c->fd, options_.target, buf.data(), static_cast<size_t>(got), now);
            }
          } else {
            // From the target, on some client's upstream socket.
            for (auto& [addr, c] : clients_) {
              if (c.fd == fd) {
                Impair(to_client_, listen_fd_, addr, buf.data(), static_cast<size_t>(got), now);
                break;
              }
            }
          }
        }
      }
      ReleaseDue(NowMs());
      if (next_rebind > 0 && NowMs() >= next_rebind) {
        Rebind();
        next_rebind += options_.rebind_every_ms;
      }
    }
  }

  Options options_;
  Direction to_target_;
  Direction to_client_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int64_t start_ms_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  absl::flat_hash_map<SocketAddress, Client> clients_;
  absl::flat_hash_map<int, bool> fd_alive_;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<Delayed>> pending_;
  uint64_t seq_ = 0;
  mutable std::mutex stats_mu_;
  mutable std::condition_variable received_cv_;
  Stats stats_;
};

absl::StatusOr<std::unique_ptr<LossyRelay>> LossyRelay::Start(const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  absl::StatusOr<SocketAddress> bound = impl->Open();
  if (!bound.ok()) return bound.status();
  std::unique_ptr<LossyRelay> relay(new LossyRelay(std::move(impl)));
  relay->address_ = *bound;
  relay->impl_->Run();
  return relay;
}

LossyRelay::LossyRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LossyRelay::~LossyRelay() { Stop(); }
void LossyRelay::Stop() { impl_->Stop(); }
LossyRelay::Stats LossyRelay::stats() const { return impl_->stats(); }
LossyRelay::Stats LossyRelay::WaitForReceived(uint64_t n) const {
  return impl_->WaitForReceived(n);
}

}  // namespace kcpp::tools
