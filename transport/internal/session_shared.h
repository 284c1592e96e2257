// SessionShared: the part of a session that application threads and the
// loop share — the thread-safe SessionChannel plus the session's immutable
// identity. Session handles and the loop-side SessionCore each hold a
// shared_ptr to it, so either may go first.
#ifndef KCPP_TRANSPORT_INTERNAL_SESSION_SHARED_H_
#define KCPP_TRANSPORT_INTERNAL_SESSION_SHARED_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "transport/internal/session_channel.h"
#include "transport/internal/worker.h"
#include "transport/options.h"
#include "transport/session.h"
#include "transport/socket_address.h"

namespace kcpp::transport::internal {

class SessionShared {
 public:
  SessionShared(uint64_t id, std::shared_ptr<Worker> loop, SessionOptions options, uint32_t conv,
                SocketAddress local, SocketAddress remote, bool accepted)
      : id_(id),
        loop_(std::move(loop)),
        options_(std::move(options)),
        conv_(conv),
        local_(std::move(local)),
        remote_(std::move(remote)),
        accepted_(accepted),
        channel_(!options_.stream_mode,
                 {static_cast<size_t>(options_.outbound_queue_bytes),
                  static_cast<size_t>(options_.inbound_queue_bytes)},
                 [loop = loop_.get(), id] { loop->Kick(id); }) {}

  uint64_t id() const { return id_; }
  Worker& loop() const { return *loop_; }
  const std::shared_ptr<Worker>& loop_ptr() const { return loop_; }
  const SessionOptions& options() const { return options_; }
  uint32_t conv() const { return conv_; }
  const SocketAddress& local() const { return local_; }
  SocketAddress remote() const {
    std::lock_guard<std::mutex> lock(remote_mu_);
    return remote_;
  }
  // Loop thread: the peer moved (NAT rebinding).
  void set_remote(const SocketAddress& remote) {
    std::lock_guard<std::mutex> lock(remote_mu_);
    remote_ = remote;
  }
  bool accepted() const { return accepted_; }
  SessionChannel& channel() { return channel_; }

  // Message mode: the largest message Write accepts (255 fragments of mss);
  // 0 in stream mode. Set once by the loop before the handle exists.
  size_t max_message_bytes() const { return max_message_bytes_.load(std::memory_order_relaxed); }
  void set_max_message_bytes(size_t n) { max_message_bytes_.store(n, std::memory_order_relaxed); }

  // The last state of a session that left its loop (GetInfo afterwards), and
  // why it left (on_closed for callbacks installed afterwards).
  void SetFinalInfo(SessionInfo info, absl::Status why) {
    std::lock_guard<std::mutex> lock(info_mu_);
    final_info_ = std::make_unique<SessionInfo>(std::move(info));
    final_status_ = std::move(why);
  }
  std::optional<absl::Status> final_status() const {
    std::lock_guard<std::mutex> lock(info_mu_);
    if (!final_info_) return std::nullopt;
    return final_status_;
  }
  std::optional<SessionInfo> final_info() const {
    std::lock_guard<std::mutex> lock(info_mu_);
    if (!final_info_) return std::nullopt;
    return *final_info_;
  }

 private:
  const uint64_t id_;
  const std::shared_ptr<Worker> loop_;
  const SessionOptions options_;
  const uint32_t conv_;
  const SocketAddress local_;
  mutable std::mutex remote_mu_;
  SocketAddress remote_;  // guarded by remote_mu_
  const bool accepted_;
  SessionChannel channel_;
  std::atomic<size_t> max_message_bytes_{0};
  mutable std::mutex info_mu_;
  std::unique_ptr<SessionInfo> final_info_;  // guarded by info_mu_; set once gone
  absl::Status final_status_;                // guarded by info_mu_
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_SESSION_SHARED_H_
