// SessionActor: the data plane of one kcpd session, on its I/O thread (the
// session's own transport loop by default, see IoThread) — the session's
// MuxLink (FRAMING_SMUX) or the raw session itself (FRAMING_RAW), and the
// applications' Unix-socket connections attached to its streams, pumped
// both ways without blocking.
//
// Per stream, with smux (docs/protocol.md §6.2), a StreamPump
// (mux/stream_pump.h) moves the bytes both ways, as for kcptun tunnels:
// nothing waits in kcpd from the application (reads are sized by what the
// stream takes); what the application does not take stays in the link,
// where smux's windows and KCP's slow the peer; end-of-file <-> FIN. A
// stream ends when FIN went both ways (smux), when its application closes
// the connection completely (seen as a hang-up), on CloseStream, or with
// its session.
// Raw sessions (no smux): one stream whose bytes (stream mode) or messages
// (message mode, SOCK_SEQPACKET: one packet per KCP message) go straight to
// the session; at most one read of either side is held in kcpd while the
// other side is full. KCP has no close: an application's end-of-file stops
// reading it; its hang-up (or CloseStream) closes the session.
//
// Bounded memory: per smux stream, what the link holds (its window); per
// raw stream, one read each way (64 KiB, or one message) that a side did
// not take; the I/O thread's 64 KiB scratch buffer and its message buffer
// (the largest message of its raw message-mode sessions). A session no
// application attached to holds no buffer here (docs/kcpd.md "What a
// session costs"). No allocation per packet once warm.
//
// Thread safety: an actor and its streams are used only on their I/O thread
// (IoThread::loop). It publishes events and updates its SessionRecord under
// BackendState::mu.
#ifndef KCPP_KCPD_INTERNAL_SESSION_ACTOR_H_
#define KCPP_KCPD_INTERNAL_SESSION_ACTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "kcpd/internal/backend_state.h"
#include "mux/byte_ring.h"
#include "mux/mux_link.h"
#include "transport/event_loop.h"
#include "transport/session.h"

namespace kcpp::service::internal {

class SessionActor;

// The thread a session's data plane runs on, and what lives there: one of
// the transport Engine's own loops (kcpd's default: the session's callbacks
// and its pumps share a thread, no hand-off between them), or a loop of
// kcpd's own (--io_threads > 0), then `owned_loop`.
struct IoThread {
  transport::EventLoop* loop = nullptr;
  std::unique_ptr<transport::EventLoop> owned_loop;  // null on an engine loop
  // Loop thread only.
  absl::flat_hash_map<uint64_t, std::unique_ptr<SessionActor>> actors;
  std::vector<uint8_t> scratch = std::vector<uint8_t>(64 * 1024);
  // Raw message mode: one message each way at a time, as `scratch` (what a
  // side does not take is copied out, into the stream or actor). Sized on
  // the first attach to the largest of its sessions' messages (255 * mtu,
  // ~350 KiB at mtu 1400): held per thread, not per session, so a session
  // no application attached to (a forged one) costs none of it.
  std::vector<uint8_t> message_scratch;

  // Destroys `actor`'s entry from a posted task (never under its feet).
  void Retire(uint64_t session_id);
};

class SessionActor final : private MuxLink::Handler, private transport::EventLoop::TimerHandler {
 public:
  // Starts the data plane of `record` (whose `session` is set) on `io`,
  // whose thread this must run on. A dialled session opens its first stream
  // (smux) or gets stream 0 (raw): its id is returned by first_stream().
  // Accepted raw sessions announce stream 0 (STREAM_ACCEPTED). The caller
  // emitted SESSION_DIALED / SESSION_ACCEPTED before.
  static absl::StatusOr<std::unique_ptr<SessionActor>> Create(BackendState* state, IoThread* io,
                                                              std::shared_ptr<SessionRecord> record,
                                                              bool dialled);
  ~SessionActor() override;
  SessionActor(const SessionActor&) = delete;
  SessionActor& operator=(const SessionActor&) = delete;

  uint32_t first_stream() const { return first_stream_; }

  // OpenStream (smux only): FailedPrecondition for raw or closing sessions,
  // ResourceExhausted when smux ids ran out. Records the stream.
  absl::StatusOr<uint32_t> OpenStream();
  // The application connection of stream `id` (its token was redeemed).
  // NotFound if the stream is gone; FailedPrecondition if attached already.
  absl::Status Attach(uint32_t id, UniqueFd connection);
  // The application connection of the session's OOB datagrams (OobPort):
  // NotFound if the session is ending, else as OobPort::Attach.
  absl::Status AttachOob(UniqueFd connection);
  // Ends stream `id` now (FIN to the peer; the local connection is closed);
  // a raw session closes. No-op if it is gone.
  void CloseStream(uint32_t id, const std::string& reason);
  // Ends the session: streams closed (their applications get what the link
  // holds, as far as their sockets take it now), smux output flushed, KCP
  // flushes for up to close_linger; then SESSION_CLOSED with `reason`.
  void Close(const std::string& reason);
  // kcpd is shutting down: stop reading applications, FIN every stream
  // after what was read, keep delivering to applications; the session
  // closes (and flushes) once its streams are done.
  void Drain(const std::string& reason = "kcpd is shutting down");
  // Ends everything now with `reason` (shutdown deadline).
  void Abort(const std::string& reason);

 private:
  class RawDoorbell;
  struct AppStream;

  SessionActor(BackendState* state, IoThread* io, std::shared_ptr<SessionRecord> record);
  bool smux() const { return link_ != nullptr || record_->config.framing == Framing::kSmux; }

  // MuxLink::Handler.
  bool OnStreamOpened(uint32_t id) override;
  size_t OnStreamData(uint32_t id, absl::Span<const uint8_t> data) override;
  void OnStreamFin(uint32_t id) override;
  void OnStreamWritable(uint32_t id) override;
  void OnStreamClosed(uint32_t id) override;
  // The peer kcpd closed the session (its close notice, docs/protocol.md
  // §6.2): drain as for shutdown — the applications get what the link holds
  // and end-of-file — then end as SESSION_CLOSED_BY_PEER.
  void OnPeerClosed() override;
  void OnLinkClosed(const absl::Status& why) override;
  // EventLoop::TimerHandler: the raw close deadline.
  void OnTimer(int64_t now_ms) override;

  // Application side.
  AppStream* Find(uint32_t id);
  AppStream& AddStream(uint32_t id, bool accepted);
  void OnAppReadable(AppStream& s);
  void OnAppWritable(AppStream& s);
  void UpdateInterest(AppStream& s);
  // The application hung up or its connection failed: the stream ends.
  void EndStream(AppStream& s, const std::string& reason, bool tell_link);
  void SetState(AppStream& s, kcpp::v1::Stream::State state);

  // raw pumps (a smux stream's bytes move through its StreamPump).
  void RawFromApp(AppStream& s);
  void RawToApp(AppStream& s);
  void RawToSession();
  // Moves what was read from the application into the session; true once
  // nothing waits. `failure` is set if the session failed.
  bool FlushRawToSession(absl::Status* failure);
  void OnRawSessionEvent(uint32_t bits);
  void RawClose();

  // The session is over: events, then the actor retires.
  void Finish(const absl::Status& why);
  void MaybeFinishDrain();

  BackendState* const state_;
  IoThread* const io_;
  const std::shared_ptr<SessionRecord> record_;
  const std::shared_ptr<transport::Session> session_;
  std::unique_ptr<MuxLink> link_;
  std::shared_ptr<RawDoorbell> doorbell_;  // raw sessions
  transport::EventLoop::TimerId timer_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<AppStream>> streams_;
  uint32_t first_stream_ = 0;

  bool closing_ = false;         // Close() or a raw hang-up: the session is ending
  bool draining_ = false;        // Drain()
  bool closed_by_peer_ = false;  // OnPeerClosed
  bool finished_ = false;
  std::string close_reason_;
  bool raw_close_called_ = false;
  bool raw_close_waiting_ = false;  // RawClose waits for the session to take raw_to_session_
  // Raw: one read of the application the session did not take yet (kept
  // here, not with the stream: it still goes after the stream ended).
  ByteRing raw_to_session_;
  std::vector<uint8_t> raw_message_to_session_;
  bool raw_has_message_ = false;
  // Raw message mode: the largest message (0 in stream mode).
  size_t max_message_ = 0;
  // Raw message mode: the I/O thread's message buffer, grown to hold one
  // of this session's messages (and one byte more, to see a longer one).
  absl::Span<uint8_t> MessageBuffer();
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_SESSION_ACTOR_H_
