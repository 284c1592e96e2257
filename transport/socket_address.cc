#include "transport/socket_address.h"

#include <arpa/inet.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kcpp::transport {

SocketAddress::SocketAddress() {
  std::memset(&storage_, 0, sizeof(storage_));
  storage_.sa.sa_family = AF_INET;
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(absl::string_view text) {
  // An address comes from flags, config files and API requests: a trailing
  // newline or a stray space is a mistake to report, not to forgive. The
  // text is escaped in messages so that a log line stays one line.
  for (const char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", absl::CHexEscape(text),
                       "\" contains whitespace or a control character (\"",
                       absl::CHexEscape(absl::string_view(&c, 1)), "\")"));
    }
  }
  absl::string_view host;
  absl::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", text, "\" is not of the form [ipv6]:port"));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", text, "\" is not of the form ipv4:port or [ipv6]:port"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  // Digits only: absl::SimpleAtoi would also take "+80" and " 80".
  uint32_t port = 0;
  bool digits = !port_text.empty() && port_text.size() <= 5;
  for (const char c : port_text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) digits = false;
  }
  if (digits) {
    for (const char c : port_text) port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!digits || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port \"", absl::CHexEscape(port_text), "\" in \"", absl::CHexEscape(text),
                     "\" is not a number in 0..65535 (1 to 5 decimal digits, no sign)"));
  }
  SocketAddress out;
  std::memset(&out.storage_, 0, sizeof(out.storage_));
  const std::string host_str(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage_);
  if (inet_pton(AF_INET, host_str.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return out;
  }
  if (inet_pton(AF_INET6, host_str.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("host \"", host, "\" in \"", text, "\" is not a numeric IPv4 or IPv6 address"));
}

absl::StatusOr<SocketAddress> SocketAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress out;
  if (sa == nullptr) return absl::InvalidArgumentError("null socket address");
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memset(&out.storage_, 0, sizeof(out.storage_));
    std::memcpy(&out.storage_, sa, sizeof(sockaddr_in));
    return out;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memset(&out.storage_, 0, sizeof(out.storage_));
    std::memcpy(&out.storage_, sa, sizeof(sockaddr_in6));
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported address family ", sa->sa_family));
}

uint16_t SocketAddress::port() const {
  if (is_ipv6()) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage_).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(storage_).sin_port);
}

socklen_t SocketAddress::sockaddr_len() const {
  return is_ipv6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::string SocketAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (is_ipv6()) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage_).sin6_addr, buf,
              sizeof(buf));
    return absl::StrCat("[", buf, "]:", port());
  }
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage_).sin_addr, buf, sizeof(buf));
  return absl::StrCat(buf, ":", port());
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  if (a.family() != b.family()) return false;
  if (a.is_ipv6()) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a.storage_);
    const auto& y = reinterpret_cast<const sockaddr_in6&>(b.storage_);
    return x.sin6_port == y.sin6_port && x.sin6_scope_id == y.sin6_scope_id &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, 16) == 0;
  }
  const auto& x = reinterpret_cast<const sockaddr_in&>(a.storage_);
  const auto& y = reinterpret_cast<const sockaddr_in&>(b.storage_);
  return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
}

}  // namespace kcpp::transport
