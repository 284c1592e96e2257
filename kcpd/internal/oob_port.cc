#include "kcpd/internal/oob_port.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kcpd/internal/attach_protocol.h"

namespace kcpp::service::internal {

namespace {
// Packets read from the application per readiness event, so that one busy
// application cannot hold its I/O thread (level-triggered: the rest come in
// the next iteration).
constexpr int kMaxPacketsPerEvent = 64;
}  // namespace

OobPort::Counts& OobPort::Counts::operator+=(const Counts& o) {
  sent += o.sent;
  received += o.received;
  dropped_unattached += o.dropped_unattached;
  dropped_reader_full += o.dropped_reader_full;
  dropped_too_large += o.dropped_too_large;
  dropped_refused += o.dropped_refused;
  return *this;
}

OobPort::~OobPort() {
  // The owner detaches on the I/O loop first; a port never attached, or
  // whose loop is gone, just closes its descriptor.
  std::lock_guard<std::mutex> lock(mu_);
  fd_.reset();
}

void OobPort::Deliver(absl::Span<const uint8_t> datagram) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fd_.valid()) {
    dropped_unattached_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Never blocks: a full socket (a slow reader) drops this datagram, as a
  // full UDP socket buffer would.
  const ssize_t n =
      ::send(fd_.get(), datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) {
    received_.fetch_add(1, std::memory_order_relaxed);
  } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
    dropped_reader_full_.fetch_add(1, std::memory_order_relaxed);
  } else {
    // The application is gone (EPIPE, ECONNRESET); its hang-up detaches it
    // on the I/O loop.
    dropped_unattached_.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::Status OobPort::Attach(transport::EventLoop* loop,
                             std::shared_ptr<transport::Session> session, UniqueFd connection,
                             std::string name) {
  absl::Status refused;
  if (max_size() == 0) {
    refused = absl::FailedPreconditionError(
        absl::StrCat(name, " has no FEC: OOB datagrams need data_shards and parity_shards > 0 "
                            "on both ends, as in kcp-go"));
  } else if (attached()) {
    refused = absl::AlreadyExistsError(absl::StrCat(
        name, " already has an application attached to its OOB datagrams (at most one)"));
  }
  if (!refused.ok()) {
    Refuse(connection, refused);
    return refused;
  }
  const int fd = connection.get();
  name_ = std::move(name);
  buffer_.resize(max_size() + 1);
  loop_ = loop;
  session_ = std::move(session);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A fresh socket has room for 3 bytes; if the application is already
    // gone, its hang-up detaches it.
    const std::string ok = FormatAttachOk();
    (void)!::send(fd, ok.data(), ok.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    fd_ = std::move(connection);
  }
  const absl::Status watched = loop_->WatchFd(fd, this);
  if (!watched.ok()) {
    Detach();
    return watched;
  }
  watched_fd_ = fd;
  return absl::OkStatus();
}

void OobPort::Detach() {
  if (watched_fd_ >= 0) {
    loop_->UnwatchFd(watched_fd_);
    watched_fd_ = -1;
  }
  session_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  fd_.reset();
}

void OobPort::Refuse(const UniqueFd& connection, const absl::Status& why) {
  const std::string line = FormatAttachError(why.message());
  (void)!::send(connection.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool OobPort::attached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fd_.valid();
}

OobPort::Counts OobPort::counts() const {
  Counts c;
  c.sent = sent_.load(std::memory_order_relaxed);
  c.received = received_.load(std::memory_order_relaxed);
  c.dropped_unattached = dropped_unattached_.load(std::memory_order_relaxed);
  c.dropped_reader_full = dropped_reader_full_.load(std::memory_order_relaxed);
  c.dropped_too_large = dropped_too_large_.load(std::memory_order_relaxed);
  c.dropped_refused = dropped_refused_.load(std::memory_order_relaxed);
  return c;
}

void OobPort::OnReadable() {
  // Only this thread changes the descriptor, so it can be read unlocked here.
  if (watched_fd_ < 0) return;  // an event collected before Detach
  const size_t max = max_size();
  for (int i = 0; i < kMaxPacketsPerEvent; ++i) {
    // MSG_TRUNC: the packet's real length, so a longer one is seen as such
    // (and dropped whole) instead of being cut to the buffer.
    const ssize_t n = ::recv(watched_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      Detach();  // the connection failed
      return;
    }
    if (n == 0) {  // end-of-file (or an empty packet: indistinguishable)
      Detach();
      return;
    }
    const size_t size = static_cast<size_t>(n);
    if (size > max) {
      const uint64_t dropped = dropped_too_large_.fetch_add(1, std::memory_order_relaxed) + 1;
      too_large_log_.Log(LogLevel::kWarning,
                         absl::StrCat(name_, ": dropped an OOB datagram of ", size,
                                      " bytes from the application: the maximum is ", max,
                                      " (", dropped, " dropped so far)"));
      continue;
    }
    const absl::Status s = session_->SendOob(absl::MakeConstSpan(buffer_.data(), size));
    if (s.ok()) {
      sent_.fetch_add(1, std::memory_order_relaxed);
    } else if (absl::IsUnavailable(s)) {
      Detach();  // the session ended: the attachment ends with it
      return;
    } else {
      // This datagram only (the session refuses what an old kcp-go peer
      // would misread); the next may go.
      const uint64_t dropped = dropped_refused_.fetch_add(1, std::memory_order_relaxed) + 1;
      refused_log_.Log(LogLevel::kWarning,
                       absl::StrCat(name_, ": dropped an OOB datagram from the application: ",
                                    s.message(), " (", dropped, " refused so far)"));
    }
  }
}

}  // namespace kcpp::service::internal
