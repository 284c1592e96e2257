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
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "kcpd/control_plane.h"
#include "kcpd/transport_backend.h"
#include "tests/hardening/forged_flood.h"

using kcpp::hardening::RssKiB;

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

  std::vector<std::unique_ptr<kcpp::flood::Flooder>> flooders;
  if (absl::Status f = kcpp::hardening::FloodListener(*plane, ports, 32, &listener, &flooders);
      !f.ok()) {
    std::fprintf(stderr, "%s\n", f.ToString().c_str());
    return 1;
  }
  kcpp::v1::DialSessionRequest dial;
  dial.set_remote_address("127.0.0.1:9");
  dial.mutable_options()->set_framing(kcpp::v1::FRAMING_RAW);
  dial.mutable_options()->set_crypt("none");
  kcpp::v1::DialSessionResponse dialled;
  const absl::Status s = plane->DialSession(dial, &dialled);
  kcpp::v1::Stats stats;
  if (absl::Status g = plane->GetStats(&stats); !g.ok()) {
    std::fprintf(stderr, "GetStats: %s\n", g.ToString().c_str());
    return 1;
  }
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
