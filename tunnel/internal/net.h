// Socket helpers of the tunnels: kcptun's address forms resolved to socket
// addresses, and non-blocking TCP / Unix stream sockets.
//
// Address forms (kcptun 2021 and 2025):
//   "host:port", "[v6]:port", ":port"   TCP (":port" listens on every IPv4
//                                       interface; dials 127.0.0.1)
//   "host:min-max"                      kcptun 2025 port range (KCP side only)
//   anything without a port            a Unix socket path (server -target;
//                                       Go's net.SplitHostPort fails on it)
// Host names are resolved once, when a tunnel is created (never on an event
// loop): getaddrinfo, first address.
#ifndef KCPP_TUNNEL_INTERNAL_NET_H_
#define KCPP_TUNNEL_INTERNAL_NET_H_

#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"

namespace kcpp::service::tunnel::internal {

// A resolved stream-socket endpoint.
struct StreamEndpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool is_unix = false;
  std::string text;  // "127.0.0.1:80", "[::1]:80" or the Unix path
};

// Go's net.SplitHostPort: false if `address` has no port part ("/run/x.sock",
// "a:b:c"); host may be empty (":80") or bracketed ("[::1]:80").
bool SplitHostPort(absl::string_view address, std::string* host, std::string* port);

// Resolves a TCP address (`passive`: for listening, so ":port" is 0.0.0.0;
// else 127.0.0.1), or, with `allow_unix`, a Unix path when there is no port.
absl::StatusOr<StreamEndpoint> ResolveStreamEndpoint(absl::string_view address, bool passive,
                                                     bool allow_unix);

// A KCP (UDP) address: kcptun's "host:port" or "host:min-max". Resolved to
// numeric "ip:port" strings, one per port (at most kMaxPortRange).
inline constexpr int kMaxPortRange = 256;
absl::StatusOr<std::vector<std::string>> ResolveUdpAddresses(absl::string_view address,
                                                             bool passive);

// "ip:port" / "[v6]:port" of a socket address (or the Unix path).
std::string FormatAddress(const sockaddr* address, socklen_t length);

// A non-blocking listening TCP socket (SO_REUSEADDR, backlog 1024).
absl::StatusOr<UniqueFd> ListenStream(const StreamEndpoint& endpoint);
// The bound address of a socket.
std::string LocalAddressOf(int fd);
std::string PeerAddressOf(int fd);

// Starts a non-blocking connect. `*in_progress` true: wait for writability
// and check FinishConnect.
absl::StatusOr<UniqueFd> StartConnect(const StreamEndpoint& endpoint, bool* in_progress);
// The outcome of a connect that became writable (SO_ERROR).
absl::Status FinishConnect(int fd);

// TCP_NODELAY on TCP sockets (Go's default for every TCP connection);
// nothing for Unix sockets.
void TuneStreamSocket(int fd);

}  // namespace kcpp::service::tunnel::internal

#endif  // KCPP_TUNNEL_INTERNAL_NET_H_
