#include "kcpd/metrics/endpoint.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "transport/socket_address.h"

namespace kcpp::kcpd::metrics {

absl::StatusOr<std::string> ParseMetricsAddress(absl::string_view flag) {
  std::string text(flag);
  if (absl::StartsWith(text, ":")) text = absl::StrCat("127.0.0.1", text);
  absl::StatusOr<transport::SocketAddress> address = transport::SocketAddress::Parse(text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_address wants IPV4:PORT or :PORT (loopback), got \"", flag,
                     "\": ", address.status().message()));
  }
  if (address->is_ipv6()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_address \"", flag,
                     "\" is IPv6; the metrics endpoint serves IPv4 only (Debian's civetweb is "
                     "built without IPv6): use 127.0.0.1:PORT or :PORT"));
  }
  return address->ToString();
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, std::shared_ptr<prometheus::Collectable> collectable) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // Two workers; a scraper that stalls mid-request is dropped after 10 s
    // instead of holding one for civetweb's default 30 s.
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", "2", "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    // civetweb says only "null context when constructing CivetServer".
    return absl::UnavailableError(absl::StrCat(
        "could not serve metrics on ", address,
        " (is the port in use, or the address not on this host?): ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::InternalError(absl::StrCat("metrics endpoint on ", address, " bound no port"));
  }
  exposer->RegisterCollectable(collectable);
  const std::string host = address.substr(0, address.rfind(':'));
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(
      std::move(exposer), std::move(collectable), absl::StrCat(host, ":", ports[0]), ports[0]));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer,
                                 std::shared_ptr<prometheus::Collectable> collectable,
                                 std::string bound_address, int port)
    : exposer_(std::move(exposer)),
      collectable_(std::move(collectable)),
      bound_address_(std::move(bound_address)),
      port_(port) {}

MetricsEndpoint::~MetricsEndpoint() {
  // Stop the HTTP threads before the collectable (and what it reads) goes.
  exposer_.reset();
}

}  // namespace kcpp::kcpd::metrics
