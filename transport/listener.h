// Listener: accepts KCP sessions on a UDP address, demultiplexing datagrams
// exactly as kcp-go's Listener (docs/protocol.md §5.2): by remote address and
// conv, a new conv with sn == 0 replaces an address's session, any other
// packet with a valid conv from an unknown address creates a session.
//
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<Listener> l, engine->Listen("0.0.0.0:4000", o));
//   while (true) {
//     absl::StatusOr<std::unique_ptr<Session>> s = l->Accept();
//     if (!s.ok()) break;            // listener closed
//     Serve(std::move(*s));
//   }
//
// One SO_REUSEPORT socket per event loop shares the port, so the kernel
// spreads peers over loops. Accepted sessions get ListenerOptions::session
// applied *before* their first datagram is processed (their windows are
// right from the first packet; kcp-go applies tuning only after Accept).
// Forged traffic is bounded: at most max_sessions live sessions and
// accept_backlog not-yet-accepted ones; everything beyond is dropped and
// counted (ListenerStats).
//
// Thread safety: all methods from any thread.
#ifndef KCPP_TRANSPORT_LISTENER_H_
#define KCPP_TRANSPORT_LISTENER_H_

#include <cstdint>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "transport/session.h"
#include "transport/socket_address.h"

namespace kcpp::transport {

namespace internal {
class ListenerState;
}  // namespace internal

struct ListenerStats {
  uint64_t sessions_created = 0;   // by a first datagram
  uint64_t sessions_accepted = 0;  // handed to Accept / the callback
  uint64_t sessions_replaced = 0;  // a new conversation's first PUSH from a known address
  uint64_t sessions_moved = 0;     // followed their peer to a new address
  uint32_t live_sessions = 0;
  uint32_t pending_accept = 0;
  // Datagrams dropped before reaching a session, by reason.
  uint64_t dropped_checksum = 0;  // CRC / AEAD failure (wrong key, corruption)
  uint64_t dropped_no_conv = 0;   // unknown address, nothing identifies a session
  // Unknown address, a conv no session here has, and not a PUSH from a peer
  // that has received nothing yet (una 0): e.g. a peer whose session ended
  // here, or this process restarted. Such a peer reaches its dead link.
  // Also the datagrams of a conversation refused because its session never
  // got segment 0 (an uploading peer whose earlier session ended: that
  // session fails with "segment 0 never arrived" after max(dead_link_min_ms,
  // 1 s), and the address and conv are refused until segment 0 comes again).
  uint64_t dropped_mid_conversation = 0;
  uint64_t dropped_conv_mismatch = 0;  // known address, other conv, not a first PUSH
  uint64_t dropped_backlog_full = 0;
  uint64_t dropped_session_limit = 0;
  uint64_t dropped_truncated = 0;  // larger than 1500 bytes (kcp-go's limit)
  // SessionOptions::replay_protection: authenticated datagrams dropped as
  // replays — refused by their session's window (also in its
  // Counters::replays_rejected), or that would have created a session but
  // were stamped outside replay_max_skew_ms or before this listener began.
  uint64_t dropped_replay = 0;
};

class Listener {
 public:
  // Closes the listener (as Close()).
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The next session, in order of creation. Unavailable after Close();
  // DeadlineExceeded at the deadline.
  absl::StatusOr<std::unique_ptr<Session>> Accept(absl::Time deadline = absl::InfiniteFuture());
  // Asynchronous form: every new session is handed to `on_accept` on its
  // loop thread instead of being queued for Accept (sessions already queued
  // are handed over at once). Must not block.
  void SetAcceptCallback(absl::AnyInvocable<void(std::unique_ptr<Session>)> on_accept);

  // Stops accepting: datagrams that would create a session are dropped and
  // Accept returns Unavailable. Sessions already created keep working (as
  // TCP connections outlive their listening socket); the UDP sockets close
  // when the last of them is gone. With `close_sessions`, those sessions are
  // closed too (as Session::Close). Idempotent.
  void Close(bool close_sessions = false);

  // The bound address (with the real port when 0 was asked for).
  const SocketAddress& local_address() const;
  const ListenerOptions& options() const;
  ListenerStats GetStats() const;

 private:
  friend class Engine;
  explicit Listener(std::shared_ptr<internal::ListenerState> shared);
  std::shared_ptr<internal::ListenerState> shared_;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_LISTENER_H_
