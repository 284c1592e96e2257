// Tunnel: one running kcptun-compatible tunnel (TunnelManager's unit). See
// tunnel_manager.h for what a tunnel does; this is how.
//
// A tunnel has one Shard per event loop. A shard owns the KCP sessions
// placed on its loop — each a Link: a MuxLink (smux + snappy over the
// session) and the Pumps of its streams (one TCP socket each) — and is
// touched only on its loop's thread. The client's TCP listener lives on
// shard 0; accepted connections go round-robin to `conn` session slots,
// slot i on shard i % loops. The server's KCP listener hands accepted
// sessions round-robin to the shards.
//
// Lifetime: the Tunnel is shared; every task posted to a loop holds a
// reference, so a shard's memory outlives every task that may touch it.
// Stop() marks every shard stopped (later tasks only release what they
// carry), closes sockets and links, and waits until each loop did so.
#ifndef KCPP_TUNNEL_INTERNAL_TUNNEL_H_
#define KCPP_TUNNEL_INTERNAL_TUNNEL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mux/mux_link.h"
#include "transport/engine.h"
#include "transport/event_loop.h"
#include "tunnel/internal/net.h"
#include "tunnel/kcptun_config.h"
#include "tunnel/tunnel_manager.h"

namespace kcpp::service::tunnel {

namespace internal {
class Shard;
}  // namespace internal

// What a tunnel needs from its manager.
struct TunnelEnvironment {
  transport::Engine* engine = nullptr;
  std::vector<transport::EventLoop*> loops;  // running; outlive the tunnel
  std::function<void(int level, const std::string& message)> log;
  int max_streams_per_session = 65536;
  int max_sessions = 4096;
};

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  // Binds the tunnel's listener and starts it. Call from a non-loop thread.
  static absl::StatusOr<std::shared_ptr<Tunnel>> Start(std::string id, KcptunConfig config,
                                                       TunnelEnvironment env);
  ~Tunnel();

  // Closes everything; returns when every loop has done its part. Idempotent.
  // Call from a non-loop thread.
  void Stop();
  // A consistent-enough view: each shard is read on its loop. Call from a
  // non-loop thread.
  TunnelSnapshot Snapshot(bool with_streams);

  const std::string& id() const { return id_; }
  const KcptunConfig& config() const { return config_; }

  // ---- For the shards (any thread) ---------------------------------------
  struct Counters {
    std::atomic<uint64_t> tcp_accepted{0}, tcp_refused{0}, target_connects{0},
        target_connect_failures{0}, streams_opened{0}, streams_closed{0}, bytes_to_kcp{0},
        bytes_from_kcp{0}, sessions_created{0}, sessions_closed{0}, sessions_expired{0},
        sessions_dead{0};
    std::atomic<int> live_sessions{0};
  };
  Counters& counters() { return counters_; }
  const TunnelEnvironment& env() const { return env_; }
  const transport::SessionOptions& session_options() const { return session_options_; }
  const MuxLinkOptions& mux_options() const { return mux_options_; }
  const internal::StreamEndpoint& target() const { return target_; }
  const std::vector<std::string>& remote_addresses() const { return remote_addresses_; }
  uint64_t NextSessionNumber() { return next_session_number_.fetch_add(1) + 1; }
  void Log(int level, const std::string& message) const;
  // Runs `task` on loop `shard` with the tunnel kept alive.
  void PostToShard(size_t shard, std::function<void(internal::Shard&)> task);
  size_t shard_count() const { return shards_.size(); }

 private:
  Tunnel(std::string id, KcptunConfig config, TunnelEnvironment env);
  absl::Status StartClient();
  absl::Status StartServer();

  const std::string id_;
  const KcptunConfig config_;
  const TunnelEnvironment env_;
  const absl::Time create_time_;
  transport::SessionOptions session_options_;
  MuxLinkOptions mux_options_;
  internal::StreamEndpoint target_;            // server: where streams go
  std::vector<std::string> remote_addresses_;  // client: KCP server(s), numeric
  std::vector<std::string> listen_addresses_;
  std::vector<std::unique_ptr<internal::Shard>> shards_;
  std::vector<std::unique_ptr<transport::Listener>> listeners_;  // server
  std::atomic<uint64_t> next_session_number_{0};
  std::atomic<uint64_t> next_server_shard_{0};
  Counters counters_;
  std::atomic<bool> stopped_{false};  // Stop() ran (Snapshot may race with it)
};

}  // namespace kcpp::service::tunnel

#endif  // KCPP_TUNNEL_INTERNAL_TUNNEL_H_
