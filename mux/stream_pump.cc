#include "mux/stream_pump.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"

namespace kcpp::service {
namespace {

// Reads of the socket per readiness event before the loop's other work gets
// a turn (level-triggered: the rest is reported again).
constexpr int kReadsPerEvent = 4;

// The socket's peer closed it completely (not just its writing side): a
// hang-up or an error is pending.
bool HungUp(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

StreamPump::StreamPump(MuxLink* link, MuxLink::StreamId id, Owner* owner,
                       absl::Span<uint8_t> scratch)
    : link_(link), id_(id), owner_(owner), scratch_(scratch) {}

void StreamPump::Start(int fd) {
  if (started() || ended_) return;
  fd_ = fd;
  DrainHeld();  // what arrived before the socket did, and a FIN; sets interest
}

void StreamPump::Stop() {
  if (ended_) return;
  ended_ = true;
  if (interest_.watch) {
    interest_ = SocketInterest();
    owner_->SetSocketInterest(interest_).IgnoreError();
  }
}

void StreamPump::OnSocketReadable() {
  if (!started() || ended_) return;
  if (!interest_.read) {
    // Not reading: what the loop reports is a hang-up or an error.
    if (!HungUp(fd_)) return;
    if (read_done_) {
      End(PumpEnd::kSocketClosed, absl::CancelledError("the socket closed"));
      return;
    }
    // Not read because the stream was full: what the peer wrote before it
    // left still goes, as room appears — without the loop, which would
    // report the hang-up again and again.
    hung_up_ = true;
    UpdateInterest();
    return;
  }
  ReadSocket();
}

void StreamPump::OnSocketWritable() {
  if (!started() || ended_) return;
  DrainHeld();
}

void StreamPump::ReadSocket() {
  if (!started() || ended_ || read_done_) return;
  read_blocked_ = false;
  // A socket that hung up is read to its end (no readiness events follow).
  for (int i = 0; hung_up_ || i < kReadsPerEvent; ++i) {
    const size_t room = link_->WritableBytes(id_);
    if (room == 0) {
      // MuxLink calls OnStreamWritable once the stream has room again.
      read_blocked_ = true;
      break;
    }
    const size_t want = std::min(room, scratch_.size());
    const ssize_t n = ::recv(fd_, scratch_.data(), want, MSG_DONTWAIT);
    if (n > 0) {
      const size_t got = static_cast<size_t>(n);
      absl::StatusOr<size_t> w = link_->Write(id_, absl::MakeConstSpan(scratch_.data(), got));
      if (!w.ok() || *w != got) {
        End(PumpEnd::kStreamFailed,
            absl::InternalError(
                absl::StrCat("the stream refused bytes it had room for: ",
                             w.ok() ? absl::StrCat(*w, " of ", got) : w.status().ToString())));
        return;
      }
      bytes_to_stream_ += got;
      owner_->OnBytesMoved(got, 0);
      if (ended_) return;
      if (got < want && !hung_up_) break;  // drained, most likely
      continue;
    }
    if (n == 0) {  // end-of-file
      // A hang-up is the peer's close() — unless the pump shut down its own
      // writing side already (the FIN was delivered): then the peer's
      // half-close alone reads as a hang-up, and is just a half-close.
      if (!fin_delivered_ && HungUp(fd_)) {
        End(PumpEnd::kSocketClosed, absl::CancelledError("the socket closed"));
        return;
      }
      read_done_ = true;
      absl::Status s = link_->CloseWrite(id_);  // FIN after the bytes written
      if (!s.ok() && !absl::IsFailedPrecondition(s)) {
        End(PumpEnd::kStreamFailed, std::move(s));
        return;
      }
      owner_->OnHalfClosed();
      if (ended_) return;
      break;
    }
    if (errno == EINTR) continue;
    if (WouldBlock(errno)) break;
    End(PumpEnd::kSocketFailed, ErrnoStatus("read"));
    return;
  }
  UpdateInterest();
}

size_t StreamPump::OnStreamData(absl::Span<const uint8_t> data) {
  if (ended_) return data.size();  // nobody to give it to
  if (!started() || write_blocked_) return 0;
  ssize_t n;
  do {
    n = ::send(fd_, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (!WouldBlock(errno)) {
      End(PumpEnd::kSocketFailed, ErrnoStatus("write"));
      return 0;
    }
    n = 0;
  }
  const size_t sent = static_cast<size_t>(n);
  bytes_to_socket_ += sent;
  if (sent > 0) owner_->OnBytesMoved(0, sent);
  if (ended_) return sent;
  if (sent < data.size()) {
    write_blocked_ = true;  // the link keeps the rest: wait for the socket
    UpdateInterest();
  }
  return sent;
}

void StreamPump::OnStreamFin() {
  if (ended_) return;
  fin_received_ = true;
  DrainHeld();  // delivers it once the link holds nothing more
}

void StreamPump::OnStreamWritable() {
  if (!started() || ended_ || !read_blocked_) return;
  ReadSocket();
}

void StreamPump::StopReading() {
  if (ended_ || read_done_) return;
  read_done_ = true;
  absl::Status s = link_->CloseWrite(id_);
  if (!s.ok() && !absl::IsFailedPrecondition(s)) {
    End(PumpEnd::kStreamFailed, std::move(s));
    return;
  }
  owner_->OnHalfClosed();
  if (ended_) return;
  UpdateInterest();
}

void StreamPump::FlushToSocket() { DrainHeld(); }

void StreamPump::DrainHeld() {
  if (!started() || ended_) return;
  bool blocked = false;
  while (true) {
    const absl::Span<const uint8_t> held = link_->Peek(id_);
    if (held.empty()) break;
    const ssize_t n = ::send(fd_, held.data(), held.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (WouldBlock(errno)) {
        blocked = true;
        break;
      }
      End(PumpEnd::kSocketFailed, ErrnoStatus("write"));
      return;
    }
    const size_t sent = static_cast<size_t>(n);
    bytes_to_socket_ += sent;
    absl::Status s = link_->Consume(id_, sent);
    if (!s.ok()) {
      End(PumpEnd::kStreamFailed, std::move(s));
      return;
    }
    owner_->OnBytesMoved(0, sent);
    if (ended_) return;
    if (sent < held.size()) {
      blocked = true;
      break;
    }
  }
  write_blocked_ = blocked;
  if (fin_received_ && !fin_delivered_ && !blocked && link_->buffered(id_) == 0) {
    fin_delivered_ = true;
    ::shutdown(fd_, SHUT_WR);
    owner_->OnHalfClosed();
    if (ended_) return;
  }
  UpdateInterest();
}

void StreamPump::UpdateInterest() {
  if (!started() || ended_) return;
  SocketInterest want;
  want.read = !read_done_ && !read_blocked_ && !hung_up_;
  want.write = write_blocked_ && !hung_up_;
  // Both directions done: nothing more to see; the link ends the stream.
  // Hung up: read as room appears, without readiness events.
  want.watch = !hung_up_ && !(read_done_ && fin_delivered_ && !want.write);
  if (!want.watch) want.read = want.write = false;
  if (want == interest_) return;
  interest_ = want;
  if (absl::Status s = owner_->SetSocketInterest(want); !s.ok()) {
    End(PumpEnd::kSocketFailed, std::move(s));
  }
}

void StreamPump::End(PumpEnd end, absl::Status why) {
  if (ended_) return;
  ended_ = true;
  (void)link_->CloseStream(id_);  // FIN unless sent; the stream is forgotten
  if (interest_.watch) {
    interest_ = SocketInterest();
    owner_->SetSocketInterest(interest_).IgnoreError();
  }
  owner_->OnPumpEnded(end, why);
}

}  // namespace kcpp::service
