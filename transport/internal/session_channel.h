// SessionChannel: the thread-safe meeting point between application threads
// (Read/Write/Close with deadlines) and the event loop that owns a session's
// KCP state.
//
// Application threads never touch KCP. Write() appends to a bounded outbound
// queue and kicks the loop; the loop moves bytes from it into KCP as the send
// window allows. The loop appends what KCP delivers to a bounded inbound
// queue; Read() takes from it and kicks the loop when it frees room (so a
// slow reader throttles the peer through KCP's receive window, and nothing is
// buffered without bound).
//
// Read, Write and WaitAcknowledged return the statuses transport/session.h
// documents for Session's methods of the same names; this class is where
// they are made.
#ifndef KCPP_TRANSPORT_INTERNAL_SESSION_CHANNEL_H_
#define KCPP_TRANSPORT_INTERNAL_SESSION_CHANNEL_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "transport/internal/chunked_byte_queue.h"

namespace kcpp::transport::internal {

class SessionChannel {
 public:
  struct Limits {
    size_t outbound_bytes = 1 << 20;  // queued by Write, not yet in KCP
    size_t inbound_bytes = 1 << 20;   // delivered by KCP, not yet Read
  };

  // `kick` asks the loop to service this session; it must be thread-safe and
  // must not call back into the channel synchronously. Called at most once
  // until the loop calls Serviced().
  SessionChannel(bool message_mode, Limits limits, absl::AnyInvocable<void()> kick);

  // ---- application side (any thread) ----

  // Stream mode: copies up to out.size() available bytes, blocking until at
  // least one is available. Message mode: one message, or, if it is longer
  // than out.size(), its first out.size() bytes — the rest comes with the
  // next Reads before any later message (nothing is lost; kcp-go's Read
  // keeps the remainder the same way).
  absl::StatusOr<size_t> Read(absl::Span<uint8_t> out,
                              absl::Time deadline = absl::InfiniteFuture());
  // Queues all of `data` (blocking while the queue is full). Returns the
  // bytes queued: all of them, or, if the deadline or a close cut it short
  // after some were queued, that prefix (which will be delivered). Message
  // mode queues the message whole or not at all.
  absl::StatusOr<size_t> Write(absl::Span<const uint8_t> data,
                               absl::Time deadline = absl::InfiniteFuture());
  // Read and Write that never block (a deadline already past).
  absl::StatusOr<size_t> TryRead(absl::Span<uint8_t> out) {
    return Read(out, absl::InfinitePast());
  }
  absl::StatusOr<size_t> TryWrite(absl::Span<const uint8_t> data) {
    return Write(data, absl::InfinitePast());
  }
  // Blocks until the outbound queue is empty and the loop reported that KCP
  // holds nothing unacknowledged (SetAcknowledged), or the deadline, a close
  // or a failure.
  absl::Status WaitAcknowledged(absl::Time deadline = absl::InfiniteFuture());
  // Closes this side: blocked calls return FailedPrecondition; bytes already
  // queued are still flushed by the loop. Idempotent.
  void Close();

  // ---- loop side ----

  // Moves outbound bytes into `sink` while it accepts them; wakes writers.
  // The sink is called with the channel locked and must not call back in.
  // Stream mode: size_t sink(absl::Span<const uint8_t>) returns the bytes it
  // took; fewer than offered (0 included) means "full for now".
  template <typename Sink>
  size_t DrainStream(Sink&& sink);
  // Message mode: bool sink(absl::Span<const uint8_t> message); false leaves
  // the message queued.
  template <typename Sink>
  size_t DrainMessages(Sink&& sink);
  // Appends delivered bytes (or one message). Returns false, leaving the
  // queue unchanged, if they do not fit: the loop keeps them in KCP.
  bool DeliverInbound(absl::Span<const uint8_t> data);
  // Free room in the inbound queue (what the loop may pull out of KCP).
  size_t InboundRoom() const;
  // The peer closed its side: readers get OutOfRange after draining.
  void PeerClosed();
  // The session failed: every blocked and later call gets Unavailable(why).
  void Fail(absl::Status why);
  // True (once) if a Write found the queue full since the last call and the
  // queue has room now: time to tell an asynchronous writer (on_writable).
  bool TakeWritableEdge();
  // Whether everything handed to KCP so far has been acknowledged.
  void SetAcknowledged(bool acknowledged);
  // Marks a kick as handled: the next application event kicks again.
  void Serviced();

  bool closed() const;
  bool outbound_empty() const;
  size_t outbound_bytes() const;
  size_t inbound_bytes() const;

 private:
  absl::Status TerminalStatusLocked() const;
  void KickLocked();

  const bool message_mode_;
  const Limits limits_;
  absl::AnyInvocable<void()> kick_;

  mutable std::mutex mu_;
  std::condition_variable readable_;
  std::condition_variable writable_;
  ChunkedByteQueue inbound_;
  ChunkedByteQueue outbound_;
  std::condition_variable acknowledged_cv_;
  bool acknowledged_ = true;
  bool writer_blocked_ = false;
  size_t partial_left_ = 0;  // message mode: unread bytes of a message already started
  bool kicked_ = false;
  bool closed_ = false;
  bool peer_closed_ = false;
  absl::Status failure_;
  std::vector<uint8_t> message_;  // loop side, message mode: the message being handed over
};

template <typename Sink>
size_t SessionChannel::DrainStream(Sink&& sink) {
  size_t moved = 0;
  std::lock_guard<std::mutex> lock(mu_);
  while (!outbound_.empty()) {
    const absl::Span<const uint8_t> front = outbound_.Front();
    const size_t taken = sink(front);
    outbound_.Skip(taken);
    moved += taken;
    if (taken < front.size()) break;
  }
  if (moved > 0) {
    acknowledged_ = false;  // in KCP now, until the loop says otherwise
    // Wake blocked writers only once half the queue is free: a writer woken
    // per drained segment costs a context switch per datagram.
    if (outbound_.size() <= limits_.outbound_bytes / 2) writable_.notify_all();
  }
  return moved;
}

template <typename Sink>
size_t SessionChannel::DrainMessages(Sink&& sink) {
  size_t moved = 0;
  std::lock_guard<std::mutex> lock(mu_);
  while (!outbound_.empty()) {
    message_.resize(static_cast<size_t>(outbound_.PeekMessageSize()));
    outbound_.PeekMessage(absl::MakeSpan(message_));  // copy; consumed only if taken
    if (!sink(absl::MakeConstSpan(message_))) break;
    outbound_.ReadMessage({});
    moved += message_.size();
  }
  if (moved > 0) {
    acknowledged_ = false;  // in KCP now, until the loop says otherwise
    writable_.notify_all();
  }
  return moved;
}

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_SESSION_CHANNEL_H_
