// TunnelManager: kcpd's kcptun-compatible tunnels (docs/tunnel.md) — either
// end of a kcptun deployment, configured with kcptun's own flags and JSON
// (kcptun_config.h), byte-compatible with Debian's kcptun (docs/protocol.md
// §6: KCP + FEC + crypt, snappy framing unless nocomp, smux v1/v2).
//
//   client  TCP listener (localaddr) -> one smux stream per TCP connection,
//           over `conn` KCP sessions to remoteaddr (round-robin; a session
//           takes new streams for `autoexpire` s, then keeps its streams
//           for `scavengettl` s more and closes)
//   server  KCP listener (listen) -> for each smux stream a TCP (or Unix)
//           connection to `target`
//
//   KCPP_ASSIGN_OR_RETURN(auto manager, TunnelManager::Create({}));
//   KCPP_ASSIGN_OR_RETURN(KcptunConfig c, LoadKcptunConfig(TunnelRole::kClient, args, ...));
//   KCPP_ASSIGN_OR_RETURN(TunnelSnapshot t, manager->CreateTunnel("web", c));
//   // t.listen_address: where the TCP listener really is (port 0 resolved)
//
// Each stream moves bytes both ways with back-pressure: a slow TCP reader
// stops the stream (smux v2 window / v1 session buffer / KCP's window), a
// slow KCP side stops reading the TCP socket. End-of-file is forwarded as
// smux FIN and a received FIN as shutdown(SHUT_WR) (half-close); the stream
// ends when both directions ended; a TCP error or a dead session ends it at
// once. Memory per stream and per session is bounded (mux_link.h).
//
// Threads: tunnels run on `loops` event loops of their own (TCP sockets,
// smux, snappy: mux/mux_link.h) beside the transport Engine's loops
// (KCP, FEC, crypt, UDP). One KCP session and all of its streams live on one
// loop. Every method may be called from any thread.
#ifndef KCPP_TUNNEL_TUNNEL_MANAGER_H_
#define KCPP_TUNNEL_TUNNEL_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "transport/engine.h"
#include "transport/session.h"
#include "tunnel/kcptun_config.h"

namespace kcpp::transport {
class EventLoop;
}  // namespace kcpp::transport

namespace kcpp::service::tunnel {

class Tunnel;

// Totals of a tunnel since it was created.
struct TunnelCounters {
  uint64_t tcp_accepted = 0;     // client: TCP connections accepted
  uint64_t tcp_refused = 0;      // client: closed at once (no session, limits)
  uint64_t target_connects = 0;  // server: connections made to the target
  uint64_t target_connect_failures = 0;
  uint64_t streams_opened = 0;  // smux streams (client: opened; server: accepted)
  uint64_t streams_closed = 0;
  uint64_t bytes_to_kcp = 0;      // read from TCP, written into smux streams
  uint64_t bytes_from_kcp = 0;    // from smux streams, written to TCP
  uint64_t sessions_created = 0;  // KCP sessions dialled (client) or accepted (server)
  uint64_t sessions_closed = 0;
  uint64_t sessions_expired = 0;  // client: autoexpire
  uint64_t sessions_dead = 0;     // smux keepalive, dead link or protocol error
};

// One KCP session of a tunnel, with its smux link.
struct TunnelSessionInfo {
  uint64_t number = 0;  // per tunnel, from 1
  transport::SessionInfo session;
  uint32_t streams = 0;
  uint64_t smux_bytes_received = 0;  // payload delivered by smux
  uint64_t smux_bytes_sent = 0;
  uint64_t wire_bytes_read = 0;  // bytes of the KCP stream (after snappy)
  uint64_t wire_bytes_written = 0;
  bool expired = false;  // client: takes no new streams (autoexpire)
  absl::Duration age;
};

// One TCP connection carried as a smux stream.
struct TunnelStreamInfo {
  uint64_t session_number = 0;
  uint32_t stream_id = 0;
  std::string tcp_peer;  // client: the TCP client; server: the target
  uint64_t bytes_to_kcp = 0;
  uint64_t bytes_from_kcp = 0;
  bool connecting = false;  // server: connect to the target in progress
  bool tcp_eof = false;     // the TCP side finished sending (FIN sent on the stream)
  bool stream_fin = false;  // the smux peer finished sending (TCP write side shut)
  absl::Duration age;
};

struct TunnelSnapshot {
  std::string id;
  KcptunConfig config;  // as given (key included: callers mask it)
  // client: the bound TCP listen address; server: the bound UDP address(es).
  std::vector<std::string> listen_addresses;
  // client: the KCP server address(es) dialled; server: the target.
  std::vector<std::string> remote_addresses;
  absl::Time create_time;
  TunnelCounters counters;
  std::vector<TunnelSessionInfo> sessions;
  std::vector<TunnelStreamInfo> streams;  // only when asked for
};

struct TunnelManagerOptions {
  // Event loops for tunnels' TCP sockets and smux links.
  int loops = 1;
  // The transport engine for KCP sessions; nullptr: the manager creates one
  // with `engine_loops` loops (0 = one per core).
  transport::Engine* engine = nullptr;
  int engine_loops = 0;
  // Where tunnels report what happens (level 0 error, 1 warning, 2 info:
  // tunnel and session life, 3 debug: every stream unless -quiet). Called
  // from any thread; must not block. nullptr: nothing is reported.
  std::function<void(int level, const std::string& message)> log;
  // Upper bounds against runaway peers and clients.
  int max_streams_per_session = 65536;
  int max_sessions_per_tunnel = 4096;
  // Congestion control of every tunnel's KCP sessions ("bbr", "kcp-go",
  // "none"; transport/options.h), replacing KcptunConfig::congestion; empty:
  // each tunnel's own.
  std::string congestion;
};

class TunnelManager {
 public:
  static absl::StatusOr<std::unique_ptr<TunnelManager>> Create(const TunnelManagerOptions& options);
  // Deletes every tunnel (as Shutdown with no grace).
  ~TunnelManager();
  TunnelManager(const TunnelManager&) = delete;
  TunnelManager& operator=(const TunnelManager&) = delete;

  // Starts a tunnel from a finished config (LoadKcptunConfig). `id`: letters,
  // digits, '-', '_', 1..63 characters; "" picks "t1", "t2", ... Errors:
  // InvalidArgument (id, unresolvable address), AlreadyExists (id taken, or
  // the address is in use), Unavailable (shutting down).
  absl::StatusOr<TunnelSnapshot> CreateTunnel(absl::string_view id, const KcptunConfig& config);
  // NotFound for unknown ids.
  absl::StatusOr<TunnelSnapshot> GetTunnel(absl::string_view id, bool with_streams);
  // Every tunnel, ordered by id.
  std::vector<TunnelSnapshot> ListTunnels(bool with_streams);
  // Stops the tunnel: its listener closes, every stream is closed (FIN to
  // the peer, TCP connections closed) and its sessions flush and close.
  // Returns once nothing of it runs any more. NotFound for unknown ids.
  absl::Status DeleteTunnel(absl::string_view id);

  // Deletes every tunnel; later CreateTunnel calls fail with Unavailable.
  // Sessions get until `deadline` to flush (transport's close linger).
  void Shutdown(absl::Time deadline);

  int loop_count() const { return static_cast<int>(loops_.size()); }
  transport::Engine* engine() const { return engine_; }

 private:
  explicit TunnelManager(const TunnelManagerOptions& options);

  TunnelManagerOptions options_;
  std::unique_ptr<transport::Engine> own_engine_;
  transport::Engine* engine_ = nullptr;
  std::vector<std::unique_ptr<transport::EventLoop>> loops_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Tunnel>> tunnels_;  // guarded by mu_
  uint64_t next_number_ = 1;                                // guarded by mu_
  bool shut_down_ = false;                                  // guarded by mu_
};

}  // namespace kcpp::service::tunnel

#endif  // KCPP_TUNNEL_TUNNEL_MANAGER_H_
