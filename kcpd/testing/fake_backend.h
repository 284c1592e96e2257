// FakeBackend: an in-memory SessionBackend for testing kcpd's control plane
// and data-socket plumbing without UDP, KCP or smux (kcpd --backend=fake).
//
// It behaves like a tiny loopback network inside one kcpd:
//  * CreateListener "binds" an address in a table (port 0 picks one from
//    40000 up); no socket is opened.
//  * Dial to an address a fake listener holds creates the dialled session
//    and, on the listener, its accepted peer session with the same streams
//    (SESSION_DIALED, SESSION_ACCEPTED, STREAM_ACCEPTED). Dial to any other
//    address creates a session nobody answers.
//  * Once both ends of a stream are attached, a pump thread copies bytes
//    between the two application connections (one 64 KiB buffer per
//    direction, so a slow reader stops the writer), forwards end-of-file
//    (shutdown) each way, and keeps SOCK_SEQPACKET message boundaries.
//  * CloseStream / CloseSession close the local application connections; the
//    peer's applications read what was already sent, then end-of-file; the
//    peer session of a closed session ends with SESSION_PEER_DEAD, which is
//    how the real backend's smux keepalive reports a vanished peer.
//
// Counters other than bytes are zero; RTT is 0. Thread-safe.
#ifndef KCPP_KCPD_TESTING_FAKE_BACKEND_H_
#define KCPP_KCPD_TESTING_FAKE_BACKEND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "kcpd/session_backend.h"

namespace kcpp::service {

class FakeBackend final : public SessionBackend {
 public:
  FakeBackend();
  // Shuts down (as Shutdown(now)) if nobody did.
  ~FakeBackend() override;

  absl::string_view name() const override { return "fake"; }
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
  kcpp::v1::Stats GetStats() override;
  void Shutdown(absl::Time deadline) override;

 private:
  struct Stream {
    uint32_t id = 0;
    bool accepted = false;
    absl::Time create_time;
    UniqueFd app;  // the attached application connection
    bool seqpacket = false;
    // Bytes read from `app`, not yet written to the peer stream's app.
    std::vector<char> buffer;
    size_t buffered = 0;  // valid bytes in buffer, from `offset`
    size_t offset = 0;
    bool app_eof = false;         // `app` said end-of-file (or shut its write side)
    bool eof_forwarded = false;   // the peer's app was shut for writing after that
    uint64_t bytes_sent = 0;      // app -> peer
    uint64_t bytes_received = 0;  // peer -> app
  };
  struct Session {
    uint64_t id = 0;
    std::string listener_id;  // empty: dialled
    SessionConfig config;
    transport::SocketAddress local;
    transport::SocketAddress remote;
    uint32_t conv = 0;
    absl::Time create_time;
    uint64_t peer = 0;            // the session at the other end, 0 if none
    uint32_t next_stream_id = 0;  // next smux id this side opens
    std::map<uint32_t, Stream> streams;
    bool ending = false;             // EndSession is closing its streams
    uint64_t closed_bytes_sent = 0;  // of streams already gone
    uint64_t closed_bytes_received = 0;
  };
  struct Listener {
    std::string id;
    ListenerConfig config;
    transport::SocketAddress bound;
    absl::Time create_time;
    uint64_t accepted = 0;
  };

  // Every helper below but Wake and PumpLoop runs with mu_ held.
  kcpp::v1::Listener ListenerProto(const Listener& l) const;
  kcpp::v1::Session SessionProto(const Session& s, bool with_streams) const;
  kcpp::v1::Stream StreamProto(const Session& s, const Stream& st) const;
  void Emit(kcpp::v1::SessionEvent::Type type, const Session& s, const Stream* st,
            absl::string_view reason);
  Session* FindSession(uint64_t id);
  Stream* Peer(const Session& s, uint32_t stream_id);
  // Creates stream `id` on `s` (and the accepted twin on its peer).
  Stream& AddStream(Session& s, uint32_t id);
  // Ends one stream: its app connection is closed, the peer app reads EOF.
  void EndStream(Session& s, uint32_t id, absl::string_view reason, bool propagate);
  // Ends a session with SESSION_CLOSED (or SESSION_PEER_DEAD when `peer_dead`).
  // `end`: SESSION_CLOSED, SESSION_CLOSED_BY_PEER or SESSION_PEER_DEAD.
  void EndSession(uint64_t id, absl::string_view reason, kcpp::v1::SessionEvent::Type end,
                  bool propagate);
  void Wake();
  void PumpLoop();
  // Moves what it can, without blocking, from this stream's application to
  // the peer's (and forwards end-of-file). May end streams and sessions.
  void PumpStream(Session& s, Stream& st);

  std::mutex mu_;
  SessionEventSink* sink_ = nullptr;           // guarded by mu_
  bool shut_down_ = false;                     // guarded by mu_
  std::map<std::string, Listener> listeners_;  // guarded by mu_
  std::map<uint64_t, Session> sessions_;       // guarded by mu_
  uint64_t next_session_id_ = 1;               // guarded by mu_
  int next_listener_port_ = 40000;             // guarded by mu_
  int next_local_port_ = 50000;                // guarded by mu_
  std::mt19937 random_;                        // guarded by mu_
  kcpp::v1::Stats totals_;  // guarded by mu_; dialed, accepted, closed, peers_dead, bytes

  UniqueFd wake_fd_;  // eventfd: the pump re-reads the stream table
  std::thread pump_;
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_TESTING_FAKE_BACKEND_H_
