// UdpSocket: a non-blocking UDP socket that moves datagrams in batches.
//
//   auto sock = UdpSocket::Bind(*SocketAddress::Parse("0.0.0.0:4000"), {});
//   ReceiveSlot slots[64];              // each slot points at a caller buffer
//   size_t n = *(*sock)->ReceiveBatch(absl::MakeSpan(slots));
//   OutgoingDatagram out[] = {{payload, &peer}};
//   size_t sent = *(*sock)->SendBatch(out);
//
// Linux batching: recvmmsg/sendmmsg always; UDP GSO (one syscall and one trip
// through the stack for a run of same-destination datagrams) and UDP GRO
// (the kernel hands several datagrams of one flow in one buffer) when the
// kernel supports them, probed at Bind() time and dropped at run time if the
// kernel refuses them later (e.g. a device without checksum offload). No
// allocation after Bind(): the syscall arrays are per-thread.
//
// Thread-compatible: one thread (an event loop) uses a socket at a time.
#ifndef KCPP_TRANSPORT_UDP_SOCKET_H_
#define KCPP_TRANSPORT_UDP_SOCKET_H_

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "transport/socket_address.h"

namespace kcpp::transport {

// One datagram to send. `to` must stay valid for the SendBatch call.
struct OutgoingDatagram {
  absl::Span<const uint8_t> payload;
  const SocketAddress* to = nullptr;
};

// One receive buffer. On return from ReceiveBatch, `length` bytes of `buffer`
// hold what arrived from `from`. If `segment_size` is non-zero, GRO coalesced
// several datagrams: they are `segment_size` bytes each, the last one possibly
// shorter (use ForEachDatagram).
struct ReceiveSlot {
  absl::Span<uint8_t> buffer;
  size_t length = 0;
  SocketAddress from;
  uint16_t segment_size = 0;
  bool truncated = false;  // the datagram was larger than `buffer` (dropped by callers)
};

// Calls fn(absl::Span<const uint8_t>) for each datagram held by a slot.
template <typename Fn>
void ForEachDatagram(const ReceiveSlot& slot, Fn&& fn) {
  const uint8_t* p = slot.buffer.data();
  size_t left = slot.length;
  const size_t step = slot.segment_size ? slot.segment_size : slot.length;
  while (left > 0) {
    const size_t n = left < step ? left : step;
    fn(absl::Span<const uint8_t>(p, n));
    p += n;
    left -= n;
  }
}

class UdpSocket {
 public:
  struct Options {
    bool reuse_port = false;       // SO_REUSEPORT: one socket per event loop on a listener port
    int receive_buffer_bytes = 0;  // SO_RCVBUF; 0 keeps the kernel default
    int send_buffer_bytes = 0;     // SO_SNDBUF; 0 keeps the kernel default
    int dscp = -1;                 // 0..63 sets IP_TOS (dscp<<2) / IPV6_TCLASS (dscp); -1 leaves it
    bool allow_gso = true;         // use UDP GSO when the kernel has it
    bool allow_gro = false;        // ask for GRO; receive buffers must then be 64 KiB
    bool v6_only = false;          // for [::] binds: IPv6 only instead of dual-stack
  };

  struct Stats {
    uint64_t send_syscalls = 0;
    uint64_t receive_syscalls = 0;
    uint64_t datagrams_sent = 0;
    uint64_t datagrams_received = 0;  // counting GRO segments individually
    uint64_t send_errors = 0;         // datagrams the kernel refused (dropped)
    uint64_t gso_messages = 0;        // messages that carried a GSO run of >1 datagram
    uint64_t truncated = 0;           // datagrams larger than the receive buffer
  };

  // Most datagrams handed to the kernel per syscall.
  static constexpr size_t kMaxBatch = 64;

  static absl::StatusOr<std::unique_ptr<UdpSocket>> Bind(const SocketAddress& local,
                                                         const Options& options);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }
  const SocketAddress& local_address() const { return local_; }
  bool gso_enabled() const { return gso_; }
  bool gro_enabled() const { return gro_; }
  const Stats& stats() const { return stats_; }

  // Receives what is pending without blocking: returns the number of slots
  // filled (0 when nothing is pending). Errors other than EAGAIN are returned.
  absl::StatusOr<size_t> ReceiveBatch(absl::Span<ReceiveSlot> slots);

  // Hands datagrams to the kernel without blocking. Returns how many of
  // `datagrams` (a prefix) were consumed: sent, or refused by the kernel for
  // that datagram alone (counted in stats().send_errors, e.g. EMSGSIZE). Fewer
  // than all means the socket buffer is full: retry the rest when writable.
  absl::StatusOr<size_t> SendBatch(absl::Span<const OutgoingDatagram> datagrams);

 private:
  // The syscall arrays (~32 KiB) live in thread-local storage shared by
  // every socket of a thread, not in each socket: a client with thousands
  // of dialled sessions has thousands of sockets.
  struct Batch;
  static Batch& ThreadBatch();

  UdpSocket(int fd, SocketAddress local, bool gso, bool gro);
  // Builds one mmsghdr from datagrams[first..]; returns how many it covers.
  size_t Prepare(Batch& b, absl::Span<const OutgoingDatagram> datagrams, size_t first,
                 size_t msg_index, size_t* iov_used);

  int fd_;
  SocketAddress local_;
  bool gso_;
  bool gro_;
  Stats stats_;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_UDP_SOCKET_H_
