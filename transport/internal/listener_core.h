// The two halves of a Listener: ListenerState (thread-safe: the accept
// queue, the stats, what Listener handles see) and ListenerSocket (one per
// loop: that loop's SO_REUSEPORT socket and its demultiplexing table).
//
// A ListenerSocket lives as long as the listener is open or any session it created is
// alive: its socket carries those sessions' datagrams (docs/protocol.md §5.2,
// §5.10).
#ifndef KCPP_TRANSPORT_INTERNAL_LISTENER_CORE_H_
#define KCPP_TRANSPORT_INTERNAL_LISTENER_CORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypt/packet_cipher.h"
#include "crypt/replay_window.h"
#include "transport/internal/creation_guard.h"
#include "transport/internal/demux.h"
#include "transport/internal/udp_endpoint.h"
#include "transport/internal/wall_clock.h"
#include "transport/internal/worker.h"
#include "transport/listener.h"
#include "transport/options.h"
#include "transport/session.h"

namespace kcpp::transport::internal {

class SessionCore;

class ListenerState {
 public:
  ListenerState(ListenerOptions options, std::shared_ptr<const crypt::PacketCipher> cipher,
                SocketAddress local)
      : options_(std::move(options)),
        cipher_(std::move(cipher)),
        local_(std::move(local)),
        creation_guard_(WallClockMs(), options_.session.replay_max_skew_ms) {}

  const ListenerOptions& options() const { return options_; }
  const std::shared_ptr<const crypt::PacketCipher>& cipher() const { return cipher_; }
  const SocketAddress& local() const { return local_; }
  // With replay protection: whether a datagram may create a session (fresh
  // by the clock, not before the listener began, not a replay of one that
  // created a session already).
  CreationGuard& creation_guard() { return creation_guard_; }

  // Set once by Engine::Listen after the sockets exist.
  void SetSockets(std::vector<std::shared_ptr<Worker>> loops, std::vector<uint64_t> socket_ids) {
    loops_ = std::move(loops);
    socket_ids_ = std::move(socket_ids);
  }

  // Loop thread, before a session is created: holds one of the
  // accept_backlog places until the session is accepted (or handed to the
  // accept callback). False when they are all taken, by queued sessions or
  // by sessions another loop is creating right now.
  bool ReserveBacklog();
  // Gives back a place whose session was not created after all.
  void ReleaseBacklog() { backlog_held_.fetch_sub(1, std::memory_order_relaxed); }
  // Loop thread: a new session (its place reserved) for Accept (or the
  // accept callback).
  void Deliver(std::unique_ptr<Session> session);
  // Sessions created and not yet accepted (bounds forged traffic).
  size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  absl::StatusOr<std::unique_ptr<Session>> Accept(absl::Time deadline);
  void SetAcceptCallback(absl::AnyInvocable<void(std::unique_ptr<Session>)> on_accept);
  void Close(bool close_sessions);
  ListenerStats GetStats() const;

  // Where each live session of this listener is, by conv, so a datagram
  // from an unknown address can find the session its peer moved away from.
  // Conversations that two live sessions share are not followed.
  struct ConvHome {
    Worker* loop;
    uint64_t session_id;
  };
  void RegisterConv(uint32_t conv, ConvHome home);
  void UnregisterConv(uint32_t conv, uint64_t session_id);
  bool FindConv(uint32_t conv, ConvHome* home) const;

  // Counters updated by the ListenerSockets (any loop).
  struct AtomicStats {
    std::atomic<uint64_t> sessions_created{0};
    std::atomic<uint64_t> sessions_accepted{0};
    std::atomic<uint64_t> sessions_replaced{0};
    std::atomic<uint64_t> sessions_moved{0};
    std::atomic<uint64_t> dropped_checksum{0};
    std::atomic<uint64_t> dropped_no_conv{0};
    std::atomic<uint64_t> dropped_mid_conversation{0};
    std::atomic<uint64_t> dropped_conv_mismatch{0};
    std::atomic<uint64_t> dropped_backlog_full{0};
    std::atomic<uint64_t> dropped_session_limit{0};
    std::atomic<uint64_t> dropped_truncated{0};
    std::atomic<uint64_t> dropped_replay{0};
    std::atomic<int64_t> live_sessions{0};
  };
  AtomicStats& stats() { return stats_; }

 private:
  const ListenerOptions options_;
  const std::shared_ptr<const crypt::PacketCipher> cipher_;
  const SocketAddress local_;
  CreationGuard creation_guard_;
  std::vector<std::shared_ptr<Worker>> loops_;
  std::vector<uint64_t> socket_ids_;

  std::atomic<size_t> pending_{0};
  std::atomic<int64_t> backlog_held_{0};  // places reserved: queued or being created
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Session>> queue_;                                     // guarded by mu_
  std::shared_ptr<absl::AnyInvocable<void(std::unique_ptr<Session>)>> on_accept_;  // guarded by mu_
  AtomicStats stats_;

  struct ConvEntry {
    ConvHome home;
    int sessions;  // > 1: ambiguous, not followed
  };
  mutable std::mutex conv_mu_;
  absl::flat_hash_map<uint32_t, ConvEntry> convs_;  // guarded by conv_mu_
};

class ListenerSocket final : public LoopObject, public UdpEndpoint::Receiver {
 public:
  // Registers `socket` on `loop` (loop thread).
  static absl::StatusOr<std::unique_ptr<ListenerSocket>> Create(
      std::shared_ptr<Worker> loop, uint64_t id, std::shared_ptr<ListenerState> shared,
      std::unique_ptr<UdpSocket> socket);
  ~ListenerSocket() override;

  // UdpEndpoint::Receiver.
  void OnDatagram(absl::Span<uint8_t> datagram, const SocketAddress& from, int64_t now_ms) override;
  void OnOversizedDatagram(const SocketAddress& from) override;

  // A session of this socket left its loop.
  void OnSessionFinished(SessionCore* core);
  // A session of this socket refused a replayed datagram.
  void OnReplay() { shared_->stats().dropped_replay.fetch_add(1, std::memory_order_relaxed); }
  // A session of this socket now talks to core->remote() instead of `old`.
  void OnSessionMoved(SessionCore* core, const SocketAddress& old);
  bool follows_address_changes() const { return shared_->options().follow_address_changes; }
  // The listener closed: create no more sessions; optionally close the live
  // ones. The ListenerSocket goes away with its last session.
  void StopAccepting(bool close_sessions);

 private:
  ListenerSocket(std::shared_ptr<Worker> loop, uint64_t id, std::shared_ptr<ListenerState> shared);
  // Takes one of max_sessions' places for a session about to be created;
  // false when all are taken (on any loop).
  bool ReservePlace();
  // Creates a session in a place already reserved (ReservePlace or a
  // replaced predecessor's).
  void CreateSession(const SocketAddress& from, uint32_t conv, absl::Span<uint8_t> payload,
                     size_t wire_bytes, int64_t now_ms, const crypt::ReplayStamp* stamp);
  // An unknown address sent a live session's conv: hand the datagram to
  // that session, on whichever loop it lives. False if there is none.
  bool ForwardToMovedSession(const PacketIdentity& id, absl::Span<uint8_t> payload,
                             const SocketAddress& from, size_t wire_bytes, int64_t now_ms,
                             const crypt::ReplayStamp* stamp);
  void MaybeRemoveSelf();

  const std::shared_ptr<Worker> loop_;
  const uint64_t id_;
  const std::shared_ptr<ListenerState> shared_;
  std::unique_ptr<UdpEndpoint> endpoint_;
  DemuxTable<SessionCore*> table_;
  bool accepting_ = true;
  bool removing_ = false;
  // The session being replaced by OnDatagram, whose place passes to its successor.
  SessionCore* handing_over_ = nullptr;
  // Conversations whose session failed because they began before it
  // (SessionCore::began_elsewhere), by peer address and conv: their
  // datagrams are dropped (dropped_mid_conversation) rather than making
  // another session that can never deliver, so the peer's KCP reaches dead
  // link. The oldest are forgotten beyond kMaxRefused; the same
  // conversation starting over (segment 0) is always let in.
  static constexpr size_t kMaxRefused = 1024;
  using Refused = std::pair<SocketAddress, uint32_t>;
  absl::flat_hash_set<Refused> refused_;
  std::deque<Refused> refused_order_;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_LISTENER_CORE_H_
