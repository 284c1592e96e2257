// MetricsEndpoint: serves GET /metrics in the Prometheus text format (0.0.4)
// over plain HTTP, from prometheus-cpp's Exposer (on civetweb). Any other
// path answers 404; nothing else is served.
//
//   absl::StatusOr<std::string> address = ParseMetricsAddress(":9464");  // 127.0.0.1:9464
//   absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
//       MetricsEndpoint::Start(*address, collector);
//   (*endpoint)->bound_address();   // "127.0.0.1:9464" (the real port if 0 was asked)
//
// The endpoint has no authentication: bind it to loopback (the default for
// ":PORT") or to an address only the scraper reaches. docs/kcpd.md "Metrics".
#ifndef KCPP_KCPD_METRICS_ENDPOINT_H_
#define KCPP_KCPD_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace kcpp::kcpd::metrics {

// kcpd --metrics_address: "IPV4:PORT" (numeric), or ":PORT" for
// 127.0.0.1:PORT. Port 0 picks a free one. Returns the address to bind.
// IPv6 is refused with a message saying so: Debian's civetweb is built
// without it.
absl::StatusOr<std::string> ParseMetricsAddress(absl::string_view flag);

class MetricsEndpoint {
 public:
  // Binds `address` (from ParseMetricsAddress) and serves `collectable` at
  // /metrics on two threads of its own. Fails if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& address, std::shared_ptr<prometheus::Collectable> collectable);

  // Stops serving; waits for scrapes in progress.
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // "127.0.0.1:9464": the address actually bound.
  const std::string& bound_address() const { return bound_address_; }
  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer,
                  std::shared_ptr<prometheus::Collectable> collectable, std::string bound_address,
                  int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  // The exposer holds a weak pointer only.
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::string bound_address_;
  int port_;
};

}  // namespace kcpp::kcpd::metrics

#endif  // KCPP_KCPD_METRICS_ENDPOINT_H_
