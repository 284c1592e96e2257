// SessionBackend: the seam between kcpd's control plane (gRPC service, names,
// validation, attach tokens, watchers) and its data plane (UDP listeners, KCP
// sessions, smux streams, and the bytes between streams and applications'
// Unix-socket connections).
//
// The control plane validates every request before calling a backend (names
// parsed, addresses parsed, options range-checked into SessionConfig), owns
// attach tokens, and publishes what the backend reports to watchers. A
// backend owns everything that moves bytes. Two implementations:
//
//   FakeBackend (fake_backend.h)   in-memory loopback for control-plane tests
//                                  (kcpd --backend=fake)
//   TransportBackend               //transport's Engine + smux, what kcpd
//   (transport_backend.h)          runs by default
//
// The read models are the API's own messages (kcpp.v1.Listener, Session,
// Stream, Stats): a backend fills in what it owns, including `name`
// (internal/resource_names.h), and the control plane passes them on.
//
//   backend->SetEventSink(&control_plane);
//   KCPP_ASSIGN_OR_RETURN(SessionBackend::Dialled d,
//                         backend->Dial(remote, config, /*conv=*/0));
//   ... an application presents d.stream's token on the data socket ...
//   KCPP_RETURN_IF_ERROR(backend->AttachStream(ref, std::move(connection)));
//
// Thread safety: every method may be called from any thread, concurrently.
// Errors are the codes documented in kcpd.proto, with messages a user can act
// on; the control plane returns them unchanged.
#ifndef KCPP_KCPD_SESSION_BACKEND_H_
#define KCPP_KCPD_SESSION_BACKEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "kcpd/session_config.h"
#include "proto/kcpp/v1/kcpd.pb.h"
#include "transport/socket_address.h"

namespace kcpp::service {

// One stream of one session: "sessions/{session_id}/streams/{stream_id}".
// With `oob` set it names the session's OOB datagrams instead (AttachOob;
// stream_id is 0): they attach with tokens like a stream's, and a flag
// rather than a reserved stream id keeps them apart from any stream a peer
// may open (smux ids are the peer's choice).
struct StreamRef {
  uint64_t session_id = 0;
  uint32_t stream_id = 0;  // smux stream id; 0 for the stream of a raw session
  bool oob = false;

  static StreamRef Oob(uint64_t session_id) { return {session_id, 0, true}; }

  friend bool operator==(StreamRef a, StreamRef b) {
    return a.session_id == b.session_id && a.stream_id == b.stream_id && a.oob == b.oob;
  }
  template <typename H>
  friend H AbslHashValue(H h, StreamRef r) {
    return H::combine(std::move(h), r.session_id, r.stream_id, r.oob);
  }
};

// Receives what happens in the data plane. Implemented by the control plane.
class SessionEventSink {
 public:
  virtual ~SessionEventSink() = default;

  // One event (kcpd.proto SessionEvent): SESSION_ACCEPTED, SESSION_DIALED,
  // SESSION_CLOSED, SESSION_CLOSED_BY_PEER, SESSION_PEER_DEAD,
  // STREAM_ACCEPTED or STREAM_CLOSED, with `session` (basic view) and, for
  // stream events, `stream` filled; `time` and `reason` as the proto says.
  // Never STATS (the control plane samples).
  //
  // Backend promises: the events of one session are delivered in the order
  // they happened, one call at a time; a session's STREAM_ACCEPTED events
  // follow its SESSION_ACCEPTED; every stream that was announced (by
  // STREAM_ACCEPTED, or returned by Dial/OpenStream) ends with exactly one
  // STREAM_CLOSED; every session ends with exactly one SESSION_CLOSED,
  // SESSION_CLOSED_BY_PEER or SESSION_PEER_DEAD, after the STREAM_CLOSED of
  // its streams. No event after Shutdown() returns.
  //
  // Sink promises: never blocks and never calls back into the backend from
  // OnEvent, so a backend may call it while holding its own locks.
  virtual void OnEvent(const kcpp::v1::SessionEvent& event) = 0;
};

// What ListSessions returns: one page in ascending id order.
struct SessionPage {
  std::vector<kcpp::v1::Session> sessions;
  bool more = false;  // sessions beyond this page exist
};

class SessionBackend {
 public:
  virtual ~SessionBackend() = default;

  // "fake" or "transport" (kcpd.proto Stats.backend).
  virtual absl::string_view name() const = 0;

  // Installs the sink for every later event, before any other method is
  // called. SetEventSink(nullptr) detaches it: once that returns no event is
  // delivered any more (ControlPlane does this when it is destroyed).
  virtual void SetEventSink(SessionEventSink* sink) = 0;

  // ---- Listeners -------------------------------------------------------
  // Binds `config.address` and accepts sessions with `config`'s options.
  // `listener_id` is valid and not used by another listener (the control
  // plane checked). ALREADY_EXISTS if the address is taken (by a listener
  // here or by another process); INVALID_ARGUMENT if it is not an address of
  // this host; PERMISSION_DENIED for a privileged port without the
  // capability.
  virtual absl::StatusOr<kcpp::v1::Listener> CreateListener(absl::string_view listener_id,
                                                            const ListenerConfig& config) = 0;
  // NOT_FOUND if there is no such listener.
  virtual absl::StatusOr<kcpp::v1::Listener> GetListener(absl::string_view listener_id) = 0;
  // Every listener, ordered by id.
  virtual std::vector<kcpp::v1::Listener> ListListeners() = 0;
  // Stops accepting and releases the address; with `close_sessions` also
  // closes what the listener accepted (as CloseSession). NOT_FOUND if
  // unknown.
  virtual absl::Status DeleteListener(absl::string_view listener_id, bool close_sessions) = 0;

  // ---- Sessions and streams -------------------------------------------
  struct Dialled {
    kcpp::v1::Session session;
    kcpp::v1::Stream stream;  // the first stream (no attachment: the control plane adds it)
  };
  // Creates a session to `remote` (port != 0) and its first stream, and
  // reports SESSION_DIALED. `conv` 0 = random (docs/protocol.md §5.1).
  // UNAVAILABLE if no UDP socket could be made.
  virtual absl::StatusOr<Dialled> Dial(const transport::SocketAddress& remote,
                                       const SessionConfig& config, uint32_t conv) = 0;
  // Opens another stream on a smux session; the peer sees STREAM_ACCEPTED.
  // NOT_FOUND for an unknown session, FAILED_PRECONDITION for a raw session
  // or one that is closing; RESOURCE_EXHAUSTED when smux's stream ids ran out.
  virtual absl::StatusOr<kcpp::v1::Stream> OpenStream(uint64_t session_id) = 0;
  // NOT_FOUND if unknown or gone. `with_streams` fills Session.streams.
  virtual absl::StatusOr<kcpp::v1::Session> GetSession(uint64_t session_id, bool with_streams) = 0;
  // Sessions with id > `after_id` (ascending), at most `limit` (>= 1), only
  // those accepted by `listener_id` unless it is empty.
  virtual SessionPage ListSessions(uint64_t after_id, int limit, absl::string_view listener_id,
                                   bool with_streams) = 0;
  // Applies `tuning` (validated: the result passes SessionOptions::Validate)
  // and returns the session as it is now. NOT_FOUND if unknown;
  // FAILED_PRECONDITION if `tuning.dscp` is set on an accepted session (it
  // shares its listener's socket).
  virtual absl::StatusOr<kcpp::v1::Session> TuneSession(uint64_t session_id,
                                                        const SessionTuning& tuning) = 0;
  // Closes every stream (the far applications read EOF after the bytes sent
  // so far), flushes what is unacknowledged for up to the session's
  // close_linger, then ends the session with SESSION_CLOSED. Returns at once;
  // the events follow. NOT_FOUND if unknown.
  virtual absl::Status CloseSession(uint64_t session_id) = 0;
  // Ends one stream (FIN to the peer: its application reads EOF after the
  // bytes already sent; the local application's connection is closed) and
  // reports STREAM_CLOSED with `reason`. On a raw session this closes the
  // session. NOT_FOUND if the stream is unknown or already closed.
  virtual absl::Status CloseStream(StreamRef stream, absl::string_view reason) = 0;

  // ---- Data plane -----------------------------------------------------
  // From now on `connection` (a connected Unix socket whose application
  // presented this stream's token and was told "OK") is the stream's
  // application side: bytes read from it go to the peer, bytes from the peer
  // are written to it, EOF/shutdown either way is forwarded (smux FIN), and
  // nothing is buffered without bound (a slow reader on either side slows
  // the other through socket buffers, smux windows and KCP's window).
  // SOCK_SEQPACKET connections (message-mode sessions) carry one KCP
  // message per packet. Takes ownership of `connection` in every case; on
  // error it is closed. NOT_FOUND if the stream is gone,
  // FAILED_PRECONDITION if it already has an application.
  virtual absl::Status AttachStream(StreamRef stream, UniqueFd connection) = 0;

  // ---- OOB datagrams (AttachOob; docs/kcpd.md "OOB datagrams") ---------
  // Whether session `session_id` can take an OOB attachment now: NOT_FOUND
  // if unknown, FAILED_PRECONDITION without FEC, ALREADY_EXISTS if an
  // application is attached. Backends without OOB answer UNIMPLEMENTED.
  virtual absl::Status CheckOobAttachable(uint64_t session_id) {
    return absl::UnimplementedError(
        absl::StrCat("the ", name(), " backend carries no OOB datagrams"));
  }
  // From now on `connection` (a connected SOCK_SEQPACKET Unix socket whose
  // application presented the session's OOB token, not yet answered) sends
  // and receives the session's OOB datagrams, one per packet, until it
  // closes or the session ends. The backend answers the handshake: "OK\n"
  // once attached (a datagram arriving after that reaches the application),
  // else "ERR <why>\n". Takes ownership of `connection` in every case;
  // errors as CheckOobAttachable.
  virtual absl::Status AttachOob(uint64_t session_id, UniqueFd connection) {
    (void)connection;  // closed unanswered: Redeem already refused (CheckOobAttachable)
    return CheckOobAttachable(session_id);
  }

  // ---- Process ----------------------------------------------------------
  // Counters, gauges and totals the backend owns: counters,
  // active_sessions, active_streams, listeners, sessions_dialed,
  // sessions_accepted, sessions_closed, peers_dead, event_loops.
  virtual kcpp::v1::Stats GetStats() = 0;

  // Graceful stop: closes every listener, closes every session as
  // CloseSession does, waits until their data is acknowledged or `deadline`
  // passes, then drops what is left, and reports the closing events. Later
  // calls of other methods return UNAVAILABLE. Idempotent.
  virtual void Shutdown(absl::Time deadline) = 0;
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_SESSION_BACKEND_H_
