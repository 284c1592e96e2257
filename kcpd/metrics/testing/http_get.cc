#include "kcpd/metrics/testing/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"

namespace kcpp::kcpd::metrics {

HttpResponse HttpGet(int port, const std::string& target) {
  HttpResponse r;
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    r.error = absl::StrCat("socket: ", std::strerror(errno));
    return r;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    r.error = absl::StrCat("connect to 127.0.0.1:", port, ": ", std::strerror(errno));
    return r;
  }
  const std::string request = absl::StrCat("GET ", target, " HTTP/1.0\r\nHost: 127.0.0.1:", port,
                                           "\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.error = absl::StrCat("send: ", std::strerror(errno));
      return r;
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  const size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) {
    r.error = absl::StrCat("no complete response head in ", response.size(), " bytes");
    return r;
  }
  r.head = response.substr(0, end);
  r.body = response.substr(end + 4);
  // "HTTP/1.x NNN ..."
  const size_t space = r.head.find(' ');
  if (space == std::string::npos ||
      !absl::SimpleAtoi(r.head.substr(space + 1, 3), &r.status)) {
    r.error = absl::StrCat("bad status line: ", r.head.substr(0, r.head.find('\r')));
    return r;
  }
  r.ok = true;
  return r;
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace kcpp::kcpd::metrics
