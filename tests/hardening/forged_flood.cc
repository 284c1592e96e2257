#include "tests/hardening/forged_flood.h"

#include <algorithm>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace kcpp::hardening {

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

absl::Status FloodListener(service::ControlPlane& plane, int ports, int max_payload,
                           kcpp::v1::Listener* listener,
                           std::vector<std::unique_ptr<flood::Flooder>>* flooders) {
  kcpp::v1::GetListenerRequest get;
  get.set_name(listener->name());
  for (int sent = 0; sent < ports; sent += 1000) {
    flood::FloodOptions flood;
    flood.target = *transport::SocketAddress::Parse(listener->bound_address());
    flood.source_ports = std::min(1000, ports - sent);
    flood.crypt = "none";
    flood.mix.forged = 1;
    flood.sn0_share = 1;
    flood.max_payload = max_payload;
    flood.max_datagrams = flood.source_ports;
    flood.seed = sent + 1;
    auto flooder = flood::Flooder::Start(flood);
    if (!flooder.ok()) return absl::Status(flooder.status().code(),
                                           absl::StrCat(flooder.status().message(), " (ulimit -n?)"));
    (*flooder)->WaitSent(flood.source_ports);
    flooders->push_back(*std::move(flooder));
    // Until the listener stops accepting (a settle, not a measurement).
    uint64_t last = 0;
    for (int quiet = 0; quiet < 3;) {
      absl::SleepFor(absl::Milliseconds(100));
      KCPP_RETURN_IF_ERROR(plane.GetListener(get, listener));
      quiet = listener->sessions_accepted() == last ? quiet + 1 : 0;
      last = listener->sessions_accepted();
    }
  }
  return absl::OkStatus();
}

}  // namespace kcpp::hardening
