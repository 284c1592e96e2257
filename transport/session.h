// Session: one KCP conversation over UDP, as a thread-safe handle — what
// kcp-go's UDPSession (a net.Conn) gives Go programs, in C++.
//
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create({}));
//   SessionOptions o;
//   o.crypt = "aes";  o.key = "it's a secrect";  o.nodelay = NoDelay::Fast3();
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, engine->Dial("10.0.0.2:4000", o));
//   KCPP_ASSIGN_OR_RETURN(size_t n, s->Write(request));               // blocks while full
//   absl::StatusOr<size_t> got = s->Read(buf, absl::Now() + absl::Seconds(5));
//   KCPP_RETURN_IF_ERROR(s->WaitAcknowledged(absl::Now() + absl::Seconds(5)));
//   s->Close();
//
// A session lives on one of its engine's event loops for its whole life; its
// KCP, FEC and cipher state are touched only by that loop. Application threads
// talk to it through bounded queues (SessionOptions::outbound_queue_bytes /
// inbound_queue_bytes): Write() queues bytes and wakes the loop, which moves
// them into KCP as the send window allows; the loop moves what KCP delivers
// into the inbound queue as long as it has room, so a slow reader throttles
// the peer through KCP's receive window and nothing is buffered without bound.
//
// Status of Read / Write / WaitAcknowledged:
//   OK                 bytes moved (Read: >= 1 byte; Write: all of them unless
//                      a deadline or close cut it short after a prefix was
//                      queued, then that prefix's length)
//   DeadlineExceeded   the deadline passed first (absl::InfinitePast() makes
//                      a call non-blocking: "would block")
//   FailedPrecondition this side called Close()
//   OutOfRange         end of stream (only framings that carry a close;
//                      raw KCP has none, docs/protocol.md §5.10)
//   Unavailable        the session failed: dead link (a segment sent
//                      dead_link times, §2.14), idle timeout, socket error,
//                      listener or engine shut down; the message says which
//
// Thread safety: every method may be called from any thread, concurrently.
// Callbacks run on the session's loop thread and must not block; they may
// call the non-blocking forms (TryRead / TryWrite) and any other method.
#ifndef KCPP_TRANSPORT_SESSION_H_
#define KCPP_TRANSPORT_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "transport/counters.h"
#include "transport/options.h"
#include "transport/socket_address.h"

namespace kcpp::transport {

namespace internal {
class SessionShared;
struct SessionAccess;
}  // namespace internal

// A snapshot of a session's state (Session::GetInfo).
struct SessionInfo {
  enum class State {
    kActive,   // open
    kClosing,  // Close() called; flushing queued data until acknowledged
    kFailed,   // dead link, idle timeout, socket error or shutdown
    kClosed,   // gone from its loop
  };
  uint32_t conv = 0;
  SocketAddress local_address;
  SocketAddress remote_address;
  bool accepted = false;  // by a Listener (false: dialled)
  State state = State::kActive;
  // KCP's estimator (§2.9), milliseconds.
  uint32_t srtt_ms = 0;
  uint32_t rttvar_ms = 0;
  uint32_t rto_ms = 0;
  // Windows in segments (§2.3): ours, the peer's last advertised one and the
  // congestion window.
  uint32_t send_window = 0;
  uint32_t receive_window = 0;
  uint32_t remote_window = 0;
  uint32_t congestion_window = 0;
  // The congestion controller (SessionOptions::congestion) and its state in
  // one line, and the pacer's rate in wire bytes per second (0: unpaced).
  std::string congestion;
  uint64_t pacing_rate = 0;
  // Segments queued or in flight inside KCP (ikcp_waitsnd).
  uint32_t segments_waiting = 0;
  // Bytes queued between the application and the loop.
  size_t outbound_queued_bytes = 0;
  size_t inbound_queued_bytes = 0;
  // Effective (D, P) of the FEC decoder, which may differ from the options
  // after auto-detection of the peer's shards (§4.6).
  int fec_data_shards = 0;
  int fec_parity_shards = 0;
  // Parity shards this side sends per group now: the configured count, or
  // with adaptive parity what the measured loss asks for
  // (SessionOptions::fec_adaptive_parity).
  int fec_parity_sending = 0;
  // Adaptive parity's loss estimate (lost segments per segment sent), or -1
  // without adaptive parity or before its first measurement.
  double fec_loss_estimate = -1;
  Counters counters;
};

// Tuning that can change on a live session (kcp-go's setters, §5.5). Unset
// fields stay as they are.
struct SessionTuning {
  std::optional<int> send_window;
  std::optional<int> receive_window;
  std::optional<NoDelay> nodelay;
  std::optional<bool> ack_nodelay;
  std::optional<bool> write_delay;
  std::optional<int64_t> rate_limit_bytes_per_second;
  std::optional<int>
      dscp;  // dialled sessions only (an accepted session shares its listener's socket)
};

// Asynchronous form: callbacks invoked on the session's loop thread.
struct SessionCallbacks {
  // Data, end of stream or a failure became observable to Read/TryRead.
  absl::AnyInvocable<void()> on_readable;
  // The outbound queue has room again after a TryWrite/Write found it full.
  absl::AnyInvocable<void()> on_writable;
  // Received an out-of-band datagram (§4.8); the span is valid during the call.
  absl::AnyInvocable<void(absl::Span<const uint8_t>)> on_oob;
  // The session left its loop (closed or failed); `why` is OK after a local
  // Close() that flushed everything. Runs once; for callbacks installed after
  // the session ended, at installation (on the loop thread).
  absl::AnyInvocable<void(absl::Status why)> on_closed;
};

class Session {
 public:
  // Closes the session (as Close()).
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Stream mode: up to out.size() bytes, blocking until at least one byte.
  // Message mode: one whole message (truncated to out.size(); OK carries the
  // copied length).
  absl::StatusOr<size_t> Read(absl::Span<uint8_t> out,
                              absl::Time deadline = absl::InfiniteFuture());
  // Queues all of `data` for sending, in order, never losing or reordering
  // bytes. Message mode queues the message whole or not at all (messages
  // larger than 255 * mss are rejected with InvalidArgument).
  absl::StatusOr<size_t> Write(absl::Span<const uint8_t> data,
                               absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<size_t> TryRead(absl::Span<uint8_t> out) {
    return Read(out, absl::InfinitePast());
  }
  absl::StatusOr<size_t> TryWrite(absl::Span<const uint8_t> data) {
    return Write(data, absl::InfinitePast());
  }
  // Blocks until every byte written so far has been acknowledged by the peer
  // (KCP's send queue and buffer are empty), or the deadline, or a failure.
  absl::Status WaitAcknowledged(absl::Time deadline = absl::InfiniteFuture());

  // Closes this side: blocked calls return FailedPrecondition; bytes already
  // written are still flushed for up to SessionOptions::close_linger_ms, then
  // the session leaves its loop. Idempotent; never blocks.
  void Close();

  // Sends one unreliable datagram outside the KCP stream (kcp-go's OOB
  // layout, §4.8; the FEC layer must be on, as in kcp-go). At most
  // oob_max_size() bytes. So that a kcp-go listener older than v5.6.60 (no
  // OOB) never takes one for a new session, it is refused
  // (FailedPrecondition) until a KCP segment has come from the peer, and a
  // payload of 12 bytes or more must not start with four zero bytes
  // (InvalidArgument).
  absl::Status SendOob(absl::Span<const uint8_t> data);
  size_t oob_max_size() const;

  // Installs callbacks (replacing earlier ones). on_readable fires once at
  // installation if data is already waiting.
  void SetCallbacks(SessionCallbacks callbacks);

  // Changes tuning on the loop; returns InvalidArgument for values
  // SessionOptions::Validate would reject.
  absl::Status Tune(const SessionTuning& tuning);

  uint32_t conv() const;
  // The engine loop this session lives on (Engine::event_loop(index)): its
  // callbacks run on that loop's thread, and so can an owner's own I/O.
  int loop_index() const;
  const SocketAddress& local_address() const;
  // The peer's address; for accepted sessions it can change when the peer's
  // NAT rebinds (ListenerOptions::follow_address_changes).
  SocketAddress remote_address() const;
  // The options the session was created with (key included).
  const SessionOptions& options() const;

  // A consistent snapshot taken on the loop. Unavailable if the engine is
  // gone.
  absl::StatusOr<SessionInfo> GetInfo() const;

 private:
  friend struct internal::SessionAccess;
  explicit Session(std::shared_ptr<internal::SessionShared> shared);
  std::shared_ptr<internal::SessionShared> shared_;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_SESSION_H_
