// TransportBackend: kcpd's real data plane (kcpd --backend=transport, the
// default) — UDP listeners and KCP sessions from //transport, smux framing
// (MuxLink, docs/protocol.md §6.2) or raw KCP per session, and the pumps
// between streams and the applications' Unix-socket connections.
//
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<TransportBackend> backend,
//                         TransportBackend::Create({.loops = 0}));
//   ControlPlane plane(backend.get(), plane_options);     // sets the event sink
//   ...
//   backend->Shutdown(absl::Now() + absl::Seconds(10));   // SIGTERM
//
// Threads: the transport Engine's event loops (KCP, FEC, crypt, UDP). By
// default a session's data plane (SessionActor: a MuxLink or the raw
// session, plus the applications' sockets) runs on the session's own loop,
// so the session's callbacks reach it without a thread hand-off. With
// io_threads > 0, kcpd runs that many threads of its own instead, each a
// transport::EventLoop running the data planes given to it round-robin, and
// a session's callbacks only ring its I/O thread. Control calls (any thread)
// read BackendState under its mutex, and reach a session's data plane by
// posting to its I/O thread (and waiting, for calls that return a result:
// Dial, OpenStream, AttachStream). Nothing holds BackendState's mutex while
// it waits for a loop: the data planes take that mutex on the loops.
//
// How sessions end and what is reported (SessionEventSink):
//   CloseSession / listener deleted   SESSION_CLOSED with that reason, after
//                                     smux flushed (its close notice last)
//                                     and KCP acknowledged (or close_linger
//                                     passed)
//   the peer kcpd closed (its smux    SESSION_CLOSED_BY_PEER "closed by the
//   close notice)                     peer", once the applications got what
//                                     arrived (drained as for Shutdown)
//   smux keepalive timeout            SESSION_PEER_DEAD ("smux keepalive: no
//                                     frame from the peer in ... ms")
//   KCP dead link                     SESSION_PEER_DEAD ("dead link: ...")
//   idle timeout, protocol error      SESSION_CLOSED with transport's or
//                                     smux's reason
//   Shutdown                          SESSION_CLOSED "kcpd is shutting down"
//
// Thread safety: every method from any thread, as SessionBackend says.
#ifndef KCPP_KCPD_TRANSPORT_BACKEND_H_
#define KCPP_KCPD_TRANSPORT_BACKEND_H_

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "kcpd/internal/backend_state.h"
#include "kcpd/internal/session_actor.h"
#include "kcpd/session_backend.h"
#include "transport/engine.h"

namespace kcpp::service {

struct TransportBackendOptions {
  // Transport event loops (EngineOptions::loops): 0 = one per core.
  int loops = 0;
  // Where smux and the pumps between streams and application sockets run:
  // 0 = on the transport loop of each session (no thread hand-off; the
  // default), N = on N threads of kcpd's own, sessions spread round-robin
  // (keeps socket copying off the KCP threads, at two thread hand-offs per
  // burst each way).
  int io_threads = 0;
  // EngineOptions::busy_poll_us: how long a transport loop polls before it
  // sleeps while polling keeps catching the next datagram; 0 never polls.
  int busy_poll_us = transport::EngineOptions{}.busy_poll_us;
};

class TransportBackend final : public SessionBackend {
 public:
  static absl::StatusOr<std::unique_ptr<TransportBackend>> Create(
      const TransportBackendOptions& options);
  // Shuts down (as Shutdown(now)) if nobody did.
  ~TransportBackend() override;

  absl::string_view name() const override { return "transport"; }
  void SetEventSink(SessionEventSink* sink) override;

  absl::StatusOr<kcpp::v1::Listener> CreateListener(absl::string_view listener_id,
                                                    const ListenerConfig& config) override;
  absl::StatusOr<kcpp::v1::Listener> GetListener(absl::string_view listener_id) override;
  std::vector<kcpp::v1::Listener> ListListeners() override;
  absl::Status DeleteListener(absl::string_view listener_id, bool close_sessions) override;

  absl::StatusOr<Dialled> Dial(const transport::SocketAddress& remote, const SessionConfig& config,
                               uint32_t conv) override;
  absl::StatusOr<kcpp::v1::Stream> OpenStream(uint64_t session_id) override;
  absl::StatusOr<kcpp::v1::Session> GetSession(uint64_t session_id, bool with_streams) override;
  SessionPage ListSessions(uint64_t after_id, int limit, absl::string_view listener_id,
                           bool with_streams) override;
  absl::StatusOr<kcpp::v1::Session> TuneSession(uint64_t session_id,
                                                const SessionTuning& tuning) override;
  absl::Status CloseSession(uint64_t session_id) override;
  absl::Status CloseStream(StreamRef stream, absl::string_view reason) override;
  absl::Status AttachStream(StreamRef stream, UniqueFd connection) override;
  absl::Status CheckOobAttachable(uint64_t session_id) override;
  absl::Status AttachOob(uint64_t session_id, UniqueFd connection) override;
  kcpp::v1::Stats GetStats() override;
  void Shutdown(absl::Time deadline) override;

 private:
  TransportBackend(std::unique_ptr<transport::Engine> engine,
                   std::vector<std::unique_ptr<internal::IoThread>> io);

  // Runs `fn` on I/O thread `io` and waits. False if that thread is gone.
  void RunOn(int io, absl::AnyInvocable<void()> fn);
  // The I/O thread for `session`: its own loop when io_ are the engine's
  // loops, else the next one round-robin.
  int IoFor(const transport::Session& session);
  // Posts `fn` to I/O thread `io` unless the threads stopped.
  void PostTo(int io, absl::AnyInvocable<void()> fn);
  // Starts the data plane of a new session on its I/O thread (I/O thread).
  absl::Status StartSession(internal::IoThread& io, std::shared_ptr<internal::SessionRecord> record,
                            bool dialled);
  // OK if listener `id` may bind `address` now (state_.mu held).
  absl::Status CheckListenerFree(const std::string& id, const transport::SocketAddress& address);
  // `session`'s API view with fresh transport numbers.
  kcpp::v1::Session Describe(const std::shared_ptr<internal::SessionRecord>& record,
                             bool with_streams);
  // Closes session `id` on its I/O thread (no-op if it is gone).
  void PostClose(const std::shared_ptr<internal::SessionRecord>& record, std::string reason);

  internal::BackendState state_;
  std::unique_ptr<transport::Engine> engine_;
  std::vector<std::unique_ptr<internal::IoThread>> io_;
  std::atomic<uint32_t> next_io_{0};
  // Held shared by RunOn while it waits for an I/O thread, exclusively while
  // the I/O threads stop: a RunOn never waits on a stopped thread.
  std::shared_mutex io_mu_;
  bool stopped_ = false;  // guarded by io_mu_
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_TRANSPORT_BACKEND_H_
