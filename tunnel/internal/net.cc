#include "tunnel/internal/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/errno_status.h"

namespace kcpp::service::tunnel::internal {

bool SplitHostPort(absl::string_view address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;  // missing port
  absl::string_view h = address.substr(0, colon);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != absl::string_view::npos) {
    return false;  // too many colons
  }
  if (h.find_first_of("[]") != absl::string_view::npos) return false;
  *host = std::string(h);
  *port = std::string(address.substr(colon + 1));
  return true;
}

namespace {

absl::StatusOr<int> ParsePort(absl::string_view text, absl::string_view address) {
  int port;
  if (!absl::SimpleAtoi(text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port \"", text, "\" in address \"", address, "\""));
  }
  return port;
}

// getaddrinfo for one host (numeric first, then DNS); the first result.
absl::StatusOr<sockaddr_storage> ResolveHost(const std::string& host, int port, bool passive,
                                             int socktype, socklen_t* length) {
  sockaddr_storage out{};
  std::string h = host;
  if (h.empty()) h = passive ? "0.0.0.0" : "127.0.0.1";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(h.c_str(), service.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve \"", h, "\": ", gai_strerror(rc)));
  }
  std::memcpy(&out, result->ai_addr, result->ai_addrlen);
  *length = result->ai_addrlen;
  ::freeaddrinfo(result);
  return out;
}

}  // namespace

std::string FormatAddress(const sockaddr* address, socklen_t length) {
  char host[INET6_ADDRSTRLEN] = "";
  if (address->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return absl::StrCat(host, ":", ntohs(a->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return absl::StrCat("[", host, "]:", ntohs(a->sin6_port));
  }
  if (address->sa_family == AF_UNIX) {
    const auto* a = reinterpret_cast<const sockaddr_un*>(address);
    const size_t max =
        length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
    return std::string(a->sun_path, strnlen(a->sun_path, std::min(max, sizeof(a->sun_path))));
  }
  return "?";
}

absl::StatusOr<StreamEndpoint> ResolveStreamEndpoint(absl::string_view address, bool passive,
                                                     bool allow_unix) {
  StreamEndpoint e;
  std::string host, port_text;
  if (!SplitHostPort(address, &host, &port_text)) {
    if (!allow_unix) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", address, "\" is not a host:port address"));
    }
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (address.empty() || address.size() >= sizeof(un.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Unix socket path \"", address, "\" must be 1..", sizeof(un.sun_path) - 1, " bytes"));
    }
    std::memcpy(un.sun_path, address.data(), address.size());
    std::memcpy(&e.address, &un, sizeof(un));
    e.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
    e.is_unix = true;
    e.text = std::string(address);
    return e;
  }
  absl::StatusOr<int> port = ParsePort(port_text, address);
  if (!port.ok()) return port.status();
  absl::StatusOr<sockaddr_storage> a = ResolveHost(host, *port, passive, SOCK_STREAM, &e.length);
  if (!a.ok()) return a.status();
  e.address = *a;
  e.text = FormatAddress(reinterpret_cast<const sockaddr*>(&e.address), e.length);
  return e;
}

absl::StatusOr<std::vector<std::string>> ResolveUdpAddresses(absl::string_view address,
                                                             bool passive) {
  std::string host, ports;
  if (!SplitHostPort(address, &host, &ports)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not a host:port or host:minport-maxport address"));
  }
  int min_port, max_port;
  if (const size_t dash = ports.find('-'); dash != std::string::npos) {
    absl::StatusOr<int> lo = ParsePort(ports.substr(0, dash), address);
    absl::StatusOr<int> hi = ParsePort(ports.substr(dash + 1), address);
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    min_port = *lo;
    max_port = *hi;
    if (min_port == 0 || min_port > max_port) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid port range specified: minport:", min_port, " -> maxport ", max_port));
    }
    if (max_port - min_port + 1 > kMaxPortRange) {
      return absl::InvalidArgumentError(absl::StrCat("port range of \"", address, "\" has ",
                                                     max_port - min_port + 1,
                                                     " ports; kcpd takes at most ", kMaxPortRange));
    }
  } else {
    absl::StatusOr<int> p = ParsePort(ports, address);
    if (!p.ok()) return p.status();
    min_port = max_port = *p;
  }
  socklen_t length = 0;
  absl::StatusOr<sockaddr_storage> a = ResolveHost(host, min_port, passive, SOCK_DGRAM, &length);
  if (!a.ok()) return a.status();
  std::vector<std::string> out;
  for (int port = min_port; port <= max_port; ++port) {
    sockaddr_storage s = *a;
    if (s.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&s)->sin_port = htons(static_cast<uint16_t>(port));
    } else {
      reinterpret_cast<sockaddr_in6*>(&s)->sin6_port = htons(static_cast<uint16_t>(port));
    }
    out.push_back(FormatAddress(reinterpret_cast<const sockaddr*>(&s), length));
  }
  return out;
}

absl::StatusOr<UniqueFd> ListenStream(const StreamEndpoint& endpoint) {
  UniqueFd fd(::socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket", errno);
  const int one = 1;
  if (!endpoint.is_unix) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) !=
      0) {
    return ErrnoStatus(absl::StrCat("listen ", endpoint.text), errno);
  }
  if (::listen(fd.get(), 1024) != 0) return ErrnoStatus("listen", errno);
  return fd;
}

std::string LocalAddressOf(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  return FormatAddress(reinterpret_cast<const sockaddr*>(&a), len);
}

std::string PeerAddressOf(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  if (a.ss_family == AF_UNIX) return "unix";
  return FormatAddress(reinterpret_cast<const sockaddr*>(&a), len);
}

absl::StatusOr<UniqueFd> StartConnect(const StreamEndpoint& endpoint, bool* in_progress) {
  UniqueFd fd(::socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket", errno);
  *in_progress = false;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) !=
      0) {
    if (errno != EINPROGRESS) return ErrnoStatus(absl::StrCat("connect ", endpoint.text), errno);
    *in_progress = true;
  }
  return fd;
}

absl::Status FinishConnect(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return ErrnoStatus("connect", err);
  return absl::OkStatus();
}

void TuneStreamSocket(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.ss_family == AF_UNIX) {
    return;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace kcpp::service::tunnel::internal
