// UdpEndpoint: one UDP socket on one event loop — batched receive into the
// loop's buffers handed to a Receiver, and a queue of outgoing datagrams
// flushed once per loop iteration with sendmmsg (and GSO where the kernel has
// it).
//
// Outgoing datagrams live in the loop's BufferPool; the endpoint returns each
// buffer to the pool once the kernel took (or refused) it. When the socket
// buffer is full the endpoint waits for EPOLLOUT; at most `max_queued`
// datagrams wait, further ones are dropped and counted (KCP retransmits them,
// as kcp-go drops when its post-processing channel is full, §5.7).
//
// Loop thread only.
#ifndef KCPP_TRANSPORT_INTERNAL_UDP_ENDPOINT_H_
#define KCPP_TRANSPORT_INTERNAL_UDP_ENDPOINT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "transport/event_loop.h"
#include "transport/socket_address.h"
#include "transport/udp_socket.h"

namespace kcpp::transport::internal {

class Worker;

class UdpEndpoint : public EventLoop::FdHandler {
 public:
  // Receives every datagram the socket delivers. `datagram` points into a
  // loop buffer valid only during the call; it may be modified in place
  // (decryption).
  class Receiver {
   public:
    virtual ~Receiver() = default;
    virtual void OnDatagram(absl::Span<uint8_t> datagram, const SocketAddress& from,
                            int64_t now_ms) = 0;
    // A datagram longer than kcp-go's 1500-byte limit arrived (dropped).
    virtual void OnOversizedDatagram(const SocketAddress& from) {}
  };

  struct Stats {
    uint64_t queue_drops = 0;  // outgoing datagrams dropped: queue full
    uint64_t oversized = 0;    // incoming datagrams over 1500 bytes
  };

  // Largest UDP payload accepted or built (kcp-go mtuLimit, §5.8).
  static constexpr size_t kMaxDatagram = 1500;

  // Registers `socket` on `loop`. `receiver` must outlive the endpoint.
  static absl::StatusOr<std::unique_ptr<UdpEndpoint>> Create(Worker* loop,
                                                             std::unique_ptr<UdpSocket> socket,
                                                             Receiver* receiver,
                                                             size_t max_queued = 8192);
  ~UdpEndpoint() override;

  // Queues `length` bytes of `buffer` (a buffer from the loop's pool, which
  // the endpoint now owns) for `to`.
  void Enqueue(uint8_t* buffer, size_t length, const SocketAddress& to);
  // Hands queued datagrams to the kernel (called by the loop at the end of
  // each iteration).
  void Flush();
  bool has_queued() const { return head_ < queue_.size(); }
  size_t queued() const { return queue_.size() - head_; }

  UdpSocket& socket() { return *socket_; }
  const Stats& stats() const { return stats_; }

  void OnReadable() override;
  void OnWritable() override;

 private:
  struct Pending {
    uint8_t* buffer;
    size_t length;
    SocketAddress to;
  };
  UdpEndpoint(Worker* loop, std::unique_ptr<UdpSocket> socket, Receiver* receiver,
              size_t max_queued);

  Worker* const loop_;
  std::unique_ptr<UdpSocket> socket_;
  Receiver* const receiver_;
  const size_t max_queued_;
  std::vector<Pending> queue_;
  size_t head_ = 0;
  bool waiting_writable_ = false;
  bool dirty_ = false;  // listed in the loop's flush list
  Stats stats_;
  friend class Worker;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_UDP_ENDPOINT_H_
