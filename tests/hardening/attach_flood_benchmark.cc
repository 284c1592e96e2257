// What forged sessions can take of the streams waiting to attach
// (bench/README.md "hardening II"): kcpd's control plane over its transport
// backend with the default limits, a FRAMING_RAW crypt-none listener, and
// one forged session (a KCP PUSH, sn 0, random conv) from each of N source
// ports. Prints what the listener dropped, what waits, kcpd's RSS, and
// whether a local DialSession still gets its stream.
//
//   ulimit -n 20000   # one socket per source port
//   bazel run --config=opt //tests/hardening:attach_flood_benchmark -- [ports=20000]
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "service/control_plane.h"
#include "service/transport_backend.h"
#include "tests/flood/flooder.h"

namespace {

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kcpp::service;
  int ports = 20000;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &ports)) return 2;
  auto backend = TransportBackend::Create({.loops = 2});
  if (!backend.ok()) return 1;
  ControlPlaneOptions options;  // kcpd's defaults
  options.run_janitor = true;
  auto plane = std::make_unique<ControlPlane>(backend->get(), options);
  kcpp::v1::CreateListenerRequest create;
  create.set_listener_id("flooded");
  create.mutable_listener()->set_address("127.0.0.1:0");
  create.mutable_listener()->mutable_session_options()->set_framing(kcpp::v1::FRAMING_RAW);
  create.mutable_listener()->mutable_session_options()->set_crypt("none");
  kcpp::v1::Listener listener;
  if (!plane->CreateListener(create, &listener).ok()) return 1;
  const long rss0 = RssKiB();

  // Rounds of 1000 source ports, each round's sockets kept open (a port
  // reused by a later round would replace its session, not add one), so the
  // listener's receive buffer sees a burst it can take.
  std::vector<std::unique_ptr<kcpp::flood::Flooder>> flooders;
  kcpp::v1::GetListenerRequest get;
  get.set_name(listener.name());
  for (int sent = 0; sent < ports; sent += 1000) {
    kcpp::flood::FloodOptions flood;
    flood.target = *kcpp::transport::SocketAddress::Parse(listener.bound_address());
    flood.source_ports = std::min(1000, ports - sent);
    flood.crypt = "none";
    flood.mix.forged = 1;
    flood.sn0_share = 1;
    flood.max_payload = 32;
    flood.max_datagrams = flood.source_ports;
    flood.seed = sent + 1;
    auto flooder = kcpp::flood::Flooder::Start(flood);
    if (!flooder.ok()) {
      std::fprintf(stderr, "%s (ulimit -n?)\n", flooder.status().ToString().c_str());
      return 1;
    }
    (*flooder)->WaitSent(flood.source_ports);
    flooders.push_back(*std::move(flooder));
    // Until the listener stops accepting (a settle, not a measurement).
    uint64_t last = 0;
    for (int quiet = 0; quiet < 3;) {
      absl::SleepFor(absl::Milliseconds(100));
      plane->GetListener(get, &listener);
      quiet = listener.sessions_accepted() == last ? quiet + 1 : 0;
      last = listener.sessions_accepted();
    }
  }
  kcpp::v1::DialSessionRequest dial;
  dial.set_remote_address("127.0.0.1:9");
  dial.mutable_options()->set_framing(kcpp::v1::FRAMING_RAW);
  dial.mutable_options()->set_crypt("none");
  kcpp::v1::DialSessionResponse dialled;
  const absl::Status s = plane->DialSession(dial, &dialled);
  kcpp::v1::Stats stats;
  plane->GetStats(&stats);
  std::printf(
      "%d forged datagrams: listener accepted %lu sessions, %u streams wait (its share), %lu "
      "dropped; kcpd waiting %u; rss %.1f -> %.1f MiB; DialSession: %s\n",
      ports, static_cast<unsigned long>(listener.sessions_accepted()),
      listener.attachments_pending(), static_cast<unsigned long>(listener.attachments_dropped()),
      stats.attachments_pending(), rss0 / 1024.0, RssKiB() / 1024.0, s.ToString().c_str());
  for (auto& f : flooders) f->Stop();
  plane->BeginShutdown();
  (*backend)->Shutdown(absl::Now());
  return s.ok() ? 0 : 1;
}
