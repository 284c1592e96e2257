// HttpGet: one plain HTTP/1.0 GET on loopback, for tests of the metrics
// endpoint and of Prometheus' query API (no client library needed for that).
#ifndef KCPP_KCPD_METRICS_TESTING_HTTP_GET_H_
#define KCPP_KCPD_METRICS_TESTING_HTTP_GET_H_

#include <string>

namespace kcpp::kcpd::metrics {

struct HttpResponse {
  bool ok = false;      // connected and read a response
  int status = 0;       // e.g. 200
  std::string head;     // status line and headers
  std::string body;
  std::string error;    // why not ok
};

// GET `target` (path and query, already URL-encoded) from 127.0.0.1:port.
HttpResponse HttpGet(int port, const std::string& target);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string UrlEncode(const std::string& text);

}  // namespace kcpp::kcpd::metrics

#endif  // KCPP_KCPD_METRICS_TESTING_HTTP_GET_H_
