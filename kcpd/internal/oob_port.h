// OobPort: one kcpd session's unreliable datagrams (kcp-go's OOB datagrams,
// docs/protocol.md §4.8) and the one application connection attached to
// them (AttachOob; docs/kcpd.md "OOB datagrams").
//
//   auto port = std::make_shared<OobPort>();
//   port->set_max_size(session->oob_max_size());
//   callbacks.on_oob = [port](absl::Span<const uint8_t> d) { port->Deliver(d); };
//   ... on the I/O loop, once the application presented its token:
//   KCPP_RETURN_IF_ERROR(port->Attach(loop, session, std::move(connection)));
//   ... when the session ends, on the I/O loop:
//   port->Detach();
//
// The connection is a SOCK_SEQPACKET Unix socket: one packet is one
// datagram each way, so message boundaries survive without any framing of
// kcpd's own. Nothing is ever truncated or queued in kcpd:
//   - from the peer, a datagram goes straight into the application's socket
//     (send with MSG_DONTWAIT); with no application attached, or its socket
//     full (a slow reader), it is dropped and counted. The socket's own
//     buffer (SO_SNDBUF) is the only queue, so a slow reader costs kcpd
//     nothing beyond it;
//   - from the application, a packet larger than the session's OOB maximum
//     is dropped and counted (and logged, rate-limited) instead of being cut
//     to size; the rest go to Session::SendOob, and one it refuses (before
//     the peer sent anything, or a payload an old kcp-go would misread:
//     docs/protocol.md §4.8) is dropped, counted and logged the same way.
// An empty packet cannot be told from end-of-file on SOCK_SEQPACKET (both
// read as 0 bytes): either ends the attachment, as does a hang-up.
//
// Thread safety: Deliver and counts() from any thread (the session's
// transport loop, which with kcpd --io_threads differs from the I/O loop);
// Attach, Detach and the fd handler on the I/O loop that Attach was given.
#ifndef KCPP_KCPD_INTERNAL_OOB_PORT_H_
#define KCPP_KCPD_INTERNAL_OOB_PORT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "transport/event_loop.h"
#include "transport/session.h"

namespace kcpp::service::internal {

class OobPort final : private transport::EventLoop::FdHandler {
 public:
  struct Counts {
    uint64_t sent = 0;                // application -> peer
    uint64_t received = 0;            // peer -> application
    uint64_t dropped_unattached = 0;  // from the peer, nobody attached
    uint64_t dropped_reader_full = 0; // from the peer, the application's socket full
    uint64_t dropped_too_large = 0;   // from the application, over max_size()
    uint64_t dropped_refused = 0;     // from the application, refused by Session::SendOob

    Counts& operator+=(const Counts& o);
  };

  OobPort() = default;
  ~OobPort() override;
  OobPort(const OobPort&) = delete;
  OobPort& operator=(const OobPort&) = delete;

  // Any thread: one datagram from the peer (the span is valid during the
  // call only).
  void Deliver(absl::Span<const uint8_t> datagram);

  // I/O loop thread: `connection` becomes the attachment; datagrams it sends
  // go to `session` (FEC on: max_size() > 0). AlreadyExists if an
  // application is attached; FailedPrecondition if the session has no OOB.
  // `name` ("sessions/7") is for messages and log lines.
  //
  // Answers the attach handshake itself (the data socket acceptor leaves it
  // to the backend for OOB): "OK\n" in the same step that makes the
  // connection the receiver, so a datagram that arrives after the
  // application read OK is never dropped as unattached; "ERR <why>\n" when
  // refused.
  absl::Status Attach(transport::EventLoop* loop, std::shared_ptr<transport::Session> session,
                      UniqueFd connection, std::string name);
  // I/O loop thread: ends the attachment, if any (the application reads
  // end-of-file). A later Attach may follow.
  void Detach();

  // Largest datagram (Session::oob_max_size(); 0: no FEC, no OOB). Set by
  // the session's owner once known.
  void set_max_size(size_t max) { max_size_.store(max, std::memory_order_relaxed); }
  size_t max_size() const { return max_size_.load(std::memory_order_relaxed); }
  bool attached() const;

  // Best effort "ERR <why>\n" to an application whose OOB attachment failed
  // before it reached a port (the caller then closes the connection).
  static void Refuse(const UniqueFd& connection, const absl::Status& why);
  Counts counts() const;

 private:
  // EventLoop::FdHandler: packets from the application, or its hang-up.
  void OnReadable() override;

  std::atomic<size_t> max_size_{0};
  mutable std::mutex mu_;
  UniqueFd fd_;  // guarded by mu_: Deliver sends on it from another thread
  // I/O loop thread only.
  transport::EventLoop* loop_ = nullptr;
  std::string name_;
  std::shared_ptr<transport::Session> session_;
  std::vector<uint8_t> buffer_;  // max_size() + 1: a longer packet shows as such
  int watched_fd_ = -1;
  LogRateLimiter too_large_log_;

  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> dropped_unattached_{0};
  std::atomic<uint64_t> dropped_reader_full_{0};
  std::atomic<uint64_t> dropped_too_large_{0};
  std::atomic<uint64_t> dropped_refused_{0};
  LogRateLimiter refused_log_;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_OOB_PORT_H_
