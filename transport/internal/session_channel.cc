#include "transport/internal/session_channel.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace kcpp::transport::internal {
namespace {

// Waits on `cv` until `ready()` or `deadline`; returns ready().
template <typename Ready>
bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, absl::Time deadline,
               Ready ready) {
  if (deadline == absl::InfiniteFuture()) {
    cv.wait(lock, ready);
    return true;
  }
  return cv.wait_until(lock, absl::ToChronoTime(deadline), ready);
}

// The non-blocking forms answer "would block" on every empty poll of a
// callback-driven reader or writer. A status with a message allocates, so
// these answers are made once and copied (copies share the representation).
absl::Status NoDataAvailable() {
  static const absl::Status* const kStatus =
      new absl::Status(absl::StatusCode::kDeadlineExceeded, "no data available");
  return *kStatus;
}
absl::Status OutboundQueueFull() {
  static const absl::Status* const kStatus =
      new absl::Status(absl::StatusCode::kDeadlineExceeded, "outbound queue is full");
  return *kStatus;
}

}  // namespace

SessionChannel::SessionChannel(bool message_mode, Limits limits, absl::AnyInvocable<void()> kick)
    : message_mode_(message_mode), limits_(limits), kick_(std::move(kick)) {}

absl::Status SessionChannel::TerminalStatusLocked() const {
  if (closed_) return absl::FailedPreconditionError("session is closed");
  if (!failure_.ok()) return failure_;
  return absl::OkStatus();
}

void SessionChannel::KickLocked() {
  if (kicked_) return;
  kicked_ = true;
  kick_();
}

absl::StatusOr<size_t> SessionChannel::Read(absl::Span<uint8_t> out, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool ready = WaitUntil(readable_, lock, deadline, [&] {
    return !inbound_.empty() || closed_ || !failure_.ok() || peer_closed_;
  });
  if (closed_) return absl::FailedPreconditionError("session is closed");
  if (inbound_.empty()) {
    if (!failure_.ok()) return failure_;
    if (peer_closed_) return absl::OutOfRangeError("end of stream: the peer closed the session");
    if (!ready || deadline <= absl::Now()) {
      if (deadline == absl::InfinitePast()) return NoDataAvailable();
      return absl::DeadlineExceededError("read deadline exceeded");
    }
  }
  const bool was_full = inbound_.size() >= limits_.inbound_bytes;
  size_t n;
  if (message_mode_ && partial_left_ > 0) {
    n = inbound_.Read(out.subspan(0, std::min(out.size(), partial_left_)));
    partial_left_ -= n;
  } else if (message_mode_) {
    const int64_t len = inbound_.PeekMessageSize();
    if (static_cast<size_t>(len) <= out.size()) {
      inbound_.ReadMessage(out);
      n = static_cast<size_t>(len);
    } else {
      inbound_.Skip(4);  // the length prefix; the body is read in parts
      n = inbound_.Read(out);
      partial_left_ = static_cast<size_t>(len) - n;
    }
  } else {
    n = inbound_.Read(out);
  }
  // Room appeared: let the loop pull more out of KCP (and reopen its window).
  if (was_full || inbound_.empty()) KickLocked();
  return n;
}

absl::StatusOr<size_t> SessionChannel::Write(absl::Span<const uint8_t> data, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (message_mode_) {
    if (data.size() + 4 > limits_.outbound_bytes) {
      return absl::InvalidArgumentError("message larger than the session's outbound limit");
    }
    const bool ready = WaitUntil(writable_, lock, deadline, [&] {
      return !TerminalStatusLocked().ok() ||
             outbound_.size() + data.size() + 4 <= limits_.outbound_bytes;
    });
    if (absl::Status s = TerminalStatusLocked(); !s.ok()) return s;
    if (!ready) {
      writer_blocked_ = true;
      if (deadline == absl::InfinitePast()) return OutboundQueueFull();
      return absl::DeadlineExceededError("write deadline exceeded");
    }
    outbound_.AppendMessage(data);
    acknowledged_ = false;
    KickLocked();
    return data.size();
  }
  size_t queued = 0;
  while (queued < data.size()) {
    const bool ready = WaitUntil(writable_, lock, deadline, [&] {
      return !TerminalStatusLocked().ok() || outbound_.size() < limits_.outbound_bytes;
    });
    if (absl::Status s = TerminalStatusLocked(); !s.ok()) {
      if (queued > 0) return queued;
      return s;
    }
    if (!ready) {
      writer_blocked_ = true;
      if (queued > 0) return queued;
      if (deadline == absl::InfinitePast()) return OutboundQueueFull();
      return absl::DeadlineExceededError("write deadline exceeded");
    }
    const size_t n = std::min(data.size() - queued, limits_.outbound_bytes - outbound_.size());
    outbound_.Append(data.subspan(queued, n));
    acknowledged_ = false;
    queued += n;
    KickLocked();
  }
  return queued;
}

absl::Status SessionChannel::WaitAcknowledged(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool ready = WaitUntil(acknowledged_cv_, lock, deadline, [&] {
    return !TerminalStatusLocked().ok() || (outbound_.empty() && acknowledged_);
  });
  if (absl::Status s = TerminalStatusLocked(); !s.ok()) return s;
  if (!ready) return absl::DeadlineExceededError("not acknowledged before the deadline");
  return absl::OkStatus();
}

bool SessionChannel::TakeWritableEdge() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer_blocked_ || outbound_.size() >= limits_.outbound_bytes) return false;
  writer_blocked_ = false;
  return true;
}

void SessionChannel::SetAcknowledged(bool acknowledged) {
  std::lock_guard<std::mutex> lock(mu_);
  acknowledged_ = acknowledged;
  if (acknowledged && outbound_.empty()) acknowledged_cv_.notify_all();
}

void SessionChannel::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  inbound_.Clear();
  partial_left_ = 0;
  readable_.notify_all();
  writable_.notify_all();
  acknowledged_cv_.notify_all();
  KickLocked();  // the loop flushes what is queued and tears down
}

bool SessionChannel::DeliverInbound(absl::Span<const uint8_t> data) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return true;  // nobody will read: accept and drop
  const size_t need = data.size() + (message_mode_ ? 4 : 0);
  if (inbound_.size() + need > limits_.inbound_bytes && !inbound_.empty()) return false;
  if (message_mode_) {
    inbound_.AppendMessage(data);
  } else {
    inbound_.Append(data);
  }
  // Woken after the unlock, a reader does not wake into a held mutex.
  lock.unlock();
  readable_.notify_all();
  return true;
}

size_t SessionChannel::InboundRoom() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inbound_.size() >= limits_.inbound_bytes ? 0 : limits_.inbound_bytes - inbound_.size();
}

void SessionChannel::PeerClosed() {
  std::lock_guard<std::mutex> lock(mu_);
  peer_closed_ = true;
  readable_.notify_all();
}

void SessionChannel::Fail(absl::Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.ok()) failure_ = std::move(why);
  readable_.notify_all();
  writable_.notify_all();
  acknowledged_cv_.notify_all();
}

void SessionChannel::Serviced() {
  std::lock_guard<std::mutex> lock(mu_);
  kicked_ = false;
}

bool SessionChannel::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

bool SessionChannel::outbound_empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outbound_.empty();
}

size_t SessionChannel::outbound_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outbound_.size();
}

size_t SessionChannel::inbound_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inbound_.size();
}

}  // namespace kcpp::transport::internal
