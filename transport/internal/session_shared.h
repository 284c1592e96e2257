// SessionShared: the part of a session that application threads and the
// loop share — the thread-safe SessionChannel plus the session's immutable
// identity. Session handles and the loop-side SessionCore each hold a
// shared_ptr to it, so either may go first.
#ifndef KCPP_TRANSPORT_INTERNAL_SESSION_SHARED_H_
#define KCPP_TRANSPORT_INTERNAL_SESSION_SHARED_H_

#include <cstdint>
#include <memory>

#include "transport/internal/loop.h"
#include "transport/internal/session_channel.h"
#include "transport/options.h"
#include "transport/socket_address.h"

namespace kcpp::transport::internal {

class SessionShared {
 public:
  SessionShared(uint64_t id, std::shared_ptr<Loop> loop, SessionOptions options, uint32_t conv,
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
  Loop& loop() const { return *loop_; }
  const std::shared_ptr<Loop>& loop_ptr() const { return loop_; }
  const SessionOptions& options() const { return options_; }
  uint32_t conv() const { return conv_; }
  const SocketAddress& local() const { return local_; }
  const SocketAddress& remote() const { return remote_; }
  bool accepted() const { return accepted_; }
  SessionChannel& channel() { return channel_; }

 private:
  const uint64_t id_;
  const std::shared_ptr<Loop> loop_;
  const SessionOptions options_;
  const uint32_t conv_;
  const SocketAddress local_;
  const SocketAddress remote_;
  const bool accepted_;
  SessionChannel channel_;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_SESSION_SHARED_H_
