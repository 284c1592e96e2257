// BackendState: what TransportBackend's control side knows about its
// listeners, sessions and streams — the records behind every API read and
// every event — shared by the backend's callers (gRPC threads) and its I/O
// threads (SessionActor), under one mutex.
//
// The data plane itself (links, application connections, bytes) lives on the
// I/O threads and never takes this lock per packet: a record changes only
// when something happens to a session or stream (created, attached, half
// closed, closed), and byte counters are atomics the I/O threads bump.
//
// Events are published with the lock held, which is what orders the events
// of one session (SessionEventSink promises the sink never blocks and never
// calls back).
#ifndef KCPP_KCPD_INTERNAL_BACKEND_STATE_H_
#define KCPP_KCPD_INTERNAL_BACKEND_STATE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/kcpp/v1/kcpd.pb.h"
#include "kcpd/internal/oob_port.h"
#include "kcpd/session_backend.h"
#include "kcpd/session_config.h"
#include "transport/listener.h"
#include "transport/session.h"
#include "transport/socket_address.h"

namespace kcpp::service::internal {

// Bytes an application moved through one stream (bumped by its I/O thread).
struct StreamCounters {
  std::atomic<uint64_t> sent{0};      // application -> peer
  std::atomic<uint64_t> received{0};  // peer -> application
};

struct StreamRecord {
  uint32_t id = 0;
  bool accepted = false;  // opened by the peer
  absl::Time create_time;
  kcpp::v1::Stream::State state = kcpp::v1::Stream::AWAITING_ATTACH;
  std::shared_ptr<StreamCounters> counters = std::make_shared<StreamCounters>();
};

struct SessionRecord {
  uint64_t id = 0;
  std::string listener_id;  // empty: dialled
  SessionConfig config;     // effective: tuning applied
  transport::SocketAddress local;
  transport::SocketAddress remote;
  uint32_t conv = 0;
  absl::Time create_time;
  std::shared_ptr<transport::Session> session;
  int io = 0;  // index of the I/O thread that runs it
  kcpp::v1::Session::State state = kcpp::v1::Session::ACTIVE;
  std::map<uint32_t, StreamRecord> streams;
  // Application bytes of streams already gone.
  uint64_t gone_bytes_sent = 0;
  uint64_t gone_bytes_received = 0;
  // The session's OOB datagrams and their application (AttachOob): fed by
  // the session's callbacks, attached on the I/O thread; thread-safe.
  const std::shared_ptr<OobPort> oob = std::make_shared<OobPort>();
};

struct ListenerRecord {
  std::string id;
  ListenerConfig config;
  transport::SocketAddress bound;
  absl::Time create_time;
  std::unique_ptr<transport::Listener> listener;
  uint64_t accepted = 0;  // sessions
};

// Everything below is guarded by `mu` (a std::mutex: ThreadSanitizer does
// not see Debian's uninstrumented std::mutex); the methods need it held.
class BackendState {
 public:
  std::mutex mu;
  // Notified whenever a session ends (Shutdown waits for none to be left).
  std::condition_variable session_ended;
  SessionEventSink* sink = nullptr;
  bool shut_down = false;
  std::map<std::string, ListenerRecord> listeners;
  std::map<uint64_t, std::shared_ptr<SessionRecord>> sessions;
  uint64_t next_session_id = 1;
  // Totals for Stats.
  uint64_t sessions_dialed = 0;
  uint64_t sessions_accepted = 0;
  uint64_t sessions_closed = 0;
  uint64_t peers_dead = 0;
  uint64_t gone_bytes_sent = 0;  // of streams already gone
  uint64_t gone_bytes_received = 0;
  OobPort::Counts gone_oob;  // of sessions already gone

  std::shared_ptr<SessionRecord> FindSession(uint64_t id);

  // The API's read models. `info` (from transport, taken without the lock)
  // adds counters, RTT and windows; without it those stay zero.
  kcpp::v1::Session SessionProto(const SessionRecord& s, bool with_streams,
                                 const transport::SessionInfo* info) const;
  static kcpp::v1::Stream StreamProto(const SessionRecord& s, const StreamRecord& st);
  kcpp::v1::Listener ListenerProto(const ListenerRecord& l) const;

  // Publishes one event of session `s` (and stream `st`, for stream events).
  void Emit(kcpp::v1::SessionEvent::Type type, const SessionRecord& s, const StreamRecord* st,
            absl::string_view reason, const transport::SessionInfo* info = nullptr);

  // A stream ends: STREAM_CLOSED, its bytes move to the totals, the record
  // goes. No-op if it is not (any more) in `s`.
  void EndStream(SessionRecord& s, uint32_t stream_id, absl::string_view reason);
  // How a session ended: its last event's type.
  enum class SessionEnd { kClosed, kClosedByPeer, kPeerDead };
  // A session ends (after its streams): SESSION_CLOSED,
  // SESSION_CLOSED_BY_PEER or SESSION_PEER_DEAD, and the record goes.
  void EndSession(uint64_t session_id, SessionEnd end, absl::string_view reason,
                  const transport::SessionInfo* info);
};

// The session's KCP counters in the API's shape.
void CountersToProto(const transport::Counters& c, kcpp::v1::Counters* p);
void OobCountsToProto(const OobPort::Counts& c, kcpp::v1::OobCounters* p);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_BACKEND_STATE_H_
