// SocketAddress: an IPv4 or IPv6 UDP endpoint (address + port), a value type.
//
//   absl::StatusOr<SocketAddress> a = SocketAddress::Parse("127.0.0.1:4000");
//   absl::StatusOr<SocketAddress> b = SocketAddress::Parse("[::1]:4000");
//   a->ToString();  // "127.0.0.1:4000"
//
// Parsing accepts numeric addresses only (no DNS: resolving is the caller's
// business and must not block an event loop). Hashable with absl::Hash and
// comparable, so it can key a session map (kcp-go keys by "ip:port", §5.2).
#ifndef KCPP_TRANSPORT_SOCKET_ADDRESS_H_
#define KCPP_TRANSPORT_SOCKET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kcpp::transport {

class SocketAddress {
 public:
  // The unspecified IPv4 address, port 0.
  SocketAddress();

  // Parses "a.b.c.d:port" or "[v6]:port", numeric hosts only. The port is 1
  // to 5 decimal digits (no sign), at most 65535; 0 is allowed (bind to any).
  // Whitespace or a control character anywhere is InvalidArgument.
  static absl::StatusOr<SocketAddress> Parse(absl::string_view text);

  // Wraps a kernel address; fails unless it is AF_INET or AF_INET6.
  static absl::StatusOr<SocketAddress> FromSockaddr(const sockaddr* sa, socklen_t len);

  int family() const { return storage_.sa.sa_family; }
  bool is_ipv6() const { return family() == AF_INET6; }
  uint16_t port() const;
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t sockaddr_len() const;

  // "127.0.0.1:4000" or "[::1]:4000".
  std::string ToString() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);
  friend bool operator!=(const SocketAddress& a, const SocketAddress& b) { return !(a == b); }

  template <typename H>
  friend H AbslHashValue(H h, const SocketAddress& a) {
    if (a.is_ipv6()) {
      const auto& s = reinterpret_cast<const sockaddr_in6&>(a.storage_);
      return H::combine(std::move(h), s.sin6_port, s.sin6_scope_id,
                        absl::string_view(reinterpret_cast<const char*>(&s.sin6_addr), 16));
    }
    const auto& s = reinterpret_cast<const sockaddr_in&>(a.storage_);
    return H::combine(std::move(h), s.sin_port, s.sin_addr.s_addr);
  }

 private:
  // 28 bytes, not sockaddr_storage's 128: a server keeps several of these
  // per session (session, demultiplexing table).
  union Storage {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage_;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_SOCKET_ADDRESS_H_
