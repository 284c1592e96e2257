#include "transport/udp_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/errno_status.h"

namespace kcpp::transport {
namespace {

// Largest UDP payload GSO may carry in one send (IP total length is 16 bits).
constexpr size_t kMaxGsoBytes = 65000;
// Linux UDP_MAX_SEGMENTS.
constexpr size_t kMaxGsoSegments = 64;

}  // namespace

struct UdpSocket::Batch {
  static constexpr size_t kMaxIov = 1024;
  std::array<mmsghdr, kMaxBatch> msgs{};
  std::array<size_t, kMaxBatch> msg_count{};  // datagrams covered by each mmsghdr
  std::array<iovec, kMaxIov> iov{};
  std::array<sockaddr_storage, kMaxBatch> names{};
  alignas(cmsghdr) std::array<std::array<uint8_t, 64>, kMaxBatch> control{};
};

UdpSocket::Batch& UdpSocket::ThreadBatch() {
  thread_local Batch batch;
  return batch;
}

UdpSocket::UdpSocket(int fd, SocketAddress local, bool gso, bool gro)
    : fd_(fd), local_(std::move(local)), gso_(gso), gro_(gro) {}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Bind(const SocketAddress& local,
                                                           const Options& options) {
  if (options.dscp > 63) {
    return absl::InvalidArgumentError(absl::StrCat("dscp must be 0..63, got ", options.dscp));
  }
  const int fd = socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  auto fail = [fd](absl::string_view what) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(what, err);
  };
  const int one = 1;
  if (options.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  if (local.is_ipv6()) {
    const int v6only = options.v6_only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
      return fail("setsockopt(IPV6_V6ONLY)");
    }
  }
  if (options.receive_buffer_bytes > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes, sizeof(int)) != 0) {
    return fail("setsockopt(SO_RCVBUF)");
  }
  if (options.send_buffer_bytes > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.send_buffer_bytes, sizeof(int)) != 0) {
    return fail("setsockopt(SO_SNDBUF)");
  }
  if (options.dscp >= 0) {
    // kcp-go: IPv4 TOS = dscp << 2, IPv6 traffic class = dscp (docs/protocol.md §5.5).
    const int tos = local.is_ipv6() ? options.dscp : options.dscp << 2;
    const int rc = local.is_ipv6() ? setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos))
                                   : setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    if (rc != 0) return fail("setsockopt(DSCP)");
  }
  if (bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(absl::StrCat("bind ", local.ToString()), err);
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return fail("getsockname");
  }
  auto bound_addr = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len);
  if (!bound_addr.ok()) {
    close(fd);
    return bound_addr.status();
  }
  // Run-time probes: the option exists on this kernel.
  bool gso = false;
  if (options.allow_gso) {
    int segment = 0;
    socklen_t len = sizeof(segment);
    gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &len) == 0;
  }
  bool gro = false;
  if (options.allow_gro) {
    gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  }
  return std::unique_ptr<UdpSocket>(new UdpSocket(fd, *std::move(bound_addr), gso, gro));
}

absl::StatusOr<size_t> UdpSocket::ReceiveBatch(absl::Span<ReceiveSlot> slots) {
  const size_t n = slots.size() < kMaxBatch ? slots.size() : kMaxBatch;
  Batch& b = ThreadBatch();
  auto& iov_ = b.iov;
  auto& msgs_ = b.msgs;
  auto& names_ = b.names;
  auto& control_ = b.control;
  for (size_t i = 0; i < n; ++i) {
    iov_[i] = {slots[i].buffer.data(), slots[i].buffer.size()};
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = &names_[i];
    h.msg_namelen = sizeof(names_[i]);
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = gro_ ? control_[i].data() : nullptr;
    h.msg_controllen = gro_ ? control_[i].size() : 0;
    h.msg_flags = 0;
  }
  int got;
  do {
    got = recvmmsg(fd_, msgs_.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  ++stats_.receive_syscalls;
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return ErrnoStatus("recvmmsg", errno);
  }
  for (int i = 0; i < got; ++i) {
    ReceiveSlot& slot = slots[i];
    const msghdr& h = msgs_[i].msg_hdr;
    slot.length = msgs_[i].msg_len;
    slot.truncated = (h.msg_flags & MSG_TRUNC) != 0;
    slot.segment_size = 0;
    auto from =
        SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
    slot.from = from.ok() ? *from : SocketAddress();
    if (gro_) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr;
           c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int size = 0;
          memcpy(&size, CMSG_DATA(c), sizeof(size));
          if (size > 0 && static_cast<size_t>(size) < slot.length) {
            slot.segment_size = static_cast<uint16_t>(size);
          }
        }
      }
    }
    if (slot.truncated) {
      ++stats_.truncated;
    } else {
      stats_.datagrams_received +=
          slot.segment_size ? (slot.length + slot.segment_size - 1) / slot.segment_size : 1;
    }
  }
  return static_cast<size_t>(got);
}

size_t UdpSocket::Prepare(Batch& b, absl::Span<const OutgoingDatagram> datagrams, size_t first,
                          size_t msg_index, size_t* iov_used) {
  constexpr size_t kMaxIov = Batch::kMaxIov;
  auto& iov_ = b.iov;
  auto& msgs_ = b.msgs;
  auto& names_ = b.names;
  auto& control_ = b.control;
  auto& msg_count_ = b.msg_count;
  const OutgoingDatagram& head = datagrams[first];
  size_t count = 1;
  size_t bytes = head.payload.size();
  if (gso_ && head.payload.size() > 0) {
    // A GSO run: same destination, every datagram as long as the first except
    // a shorter last one.
    while (first + count < datagrams.size() && count < kMaxGsoSegments &&
           *iov_used + count < kMaxIov) {
      const OutgoingDatagram& next = datagrams[first + count];
      if (*next.to != *head.to || next.payload.size() > head.payload.size() ||
          next.payload.empty() || bytes + next.payload.size() > kMaxGsoBytes) {
        break;
      }
      bytes += next.payload.size();
      ++count;
      if (next.payload.size() < head.payload.size()) break;  // a short one ends the run
    }
  }
  iovec* iov = &iov_[*iov_used];
  for (size_t k = 0; k < count; ++k) {
    const auto& p = datagrams[first + k].payload;
    iov[k] = {const_cast<uint8_t*>(p.data()), p.size()};
  }
  *iov_used += count;
  msghdr& h = msgs_[msg_index].msg_hdr;
  memset(&h, 0, sizeof(h));
  memcpy(&names_[msg_index], head.to->sockaddr_ptr(), head.to->sockaddr_len());
  h.msg_name = &names_[msg_index];
  h.msg_namelen = head.to->sockaddr_len();
  h.msg_iov = iov;
  h.msg_iovlen = count;
  if (count > 1) {
    h.msg_control = control_[msg_index].data();
    h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t segment = static_cast<uint16_t>(head.payload.size());
    memcpy(CMSG_DATA(c), &segment, sizeof(segment));
  }
  msg_count_[msg_index] = count;
  return count;
}

absl::StatusOr<size_t> UdpSocket::SendBatch(absl::Span<const OutgoingDatagram> datagrams) {
  constexpr size_t kMaxIov = Batch::kMaxIov;
  Batch& b = ThreadBatch();
  auto& msgs_ = b.msgs;
  auto& msg_count_ = b.msg_count;
  size_t done = 0;
  while (done < datagrams.size()) {
    size_t msgs = 0;
    size_t iov_used = 0;
    size_t covered = done;
    while (covered < datagrams.size() && msgs < kMaxBatch && iov_used < kMaxIov) {
      covered += Prepare(b, datagrams, covered, msgs, &iov_used);
      ++msgs;
    }
    int sent;
    do {
      sent = sendmmsg(fd_, msgs_.data(), static_cast<unsigned>(msgs), MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    ++stats_.send_syscalls;
    if (sent < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return done;
      if (gso_ && msg_count_[0] > 1 && (err == EIO || err == EINVAL)) {
        // The kernel or device refuses segmentation offload: stop using it.
        gso_ = false;
        continue;
      }
      // The first message alone is refused (bad destination, too large...):
      // drop it so one bad datagram cannot stall the queue behind it.
      stats_.send_errors += msg_count_[0];
      done += msg_count_[0];
      continue;
    }
    for (int i = 0; i < sent; ++i) {
      stats_.datagrams_sent += msg_count_[i];
      if (msg_count_[i] > 1) ++stats_.gso_messages;
      done += msg_count_[i];
    }
    if (static_cast<size_t>(sent) < msgs) {
      // Partial: the next message hit a full buffer or an error; the next
      // loop iteration retries it alone and classifies the error.
      continue;
    }
  }
  return done;
}

}  // namespace kcpp::transport
