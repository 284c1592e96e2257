// What idle forged sessions hold in kcpd (bench/README.md "hardening II"):
// kcpd's control plane over its transport backend with the default limits,
// a crypt-none listener (smux or raw framing), and one forged session (a
// KCP PUSH, sn 0, random conv, 0-7 payload bytes: under smux's frame
// header, so the session waits instead of failing) from each of N source
// ports. Prints the sessions that stayed, kcpd's RSS, and the heap bytes
// (//testing:allocation_counter) each idle session holds.
//
//   ulimit -n 20000   # one socket per source port
//   bazel run --config=opt //tests/hardening:forged_session_memory_benchmark -- smux 19000
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "kcpd/control_plane.h"
#include "kcpd/transport_backend.h"
#include "testing/allocation_counter.h"
#include "tests/hardening/forged_flood.h"

using kcpp::hardening::RssKiB;

int main(int argc, char** argv) {
  using namespace kcpp::service;
  const bool smux = argc < 2 || std::strcmp(argv[1], "raw") != 0;
  int ports = 19000;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &ports)) return 2;
  auto backend = TransportBackend::Create({.loops = 2});
  if (!backend.ok()) return 1;
  ControlPlaneOptions options;  // kcpd's defaults
  options.run_janitor = true;
  auto plane = std::make_unique<ControlPlane>(backend->get(), options);
  kcpp::v1::CreateListenerRequest create;
  create.set_listener_id("forged");
  create.mutable_listener()->set_address("127.0.0.1:0");
  create.mutable_listener()->mutable_session_options()->set_framing(
      smux ? kcpp::v1::FRAMING_SMUX : kcpp::v1::FRAMING_RAW);
  create.mutable_listener()->mutable_session_options()->set_crypt("none");
  kcpp::v1::Listener listener;
  if (!plane->CreateListener(create, &listener).ok()) return 1;
  const long rss0 = RssKiB();
  const int64_t heap0 = kcpp::test::LiveAllocatedBytes();

  std::vector<std::unique_ptr<kcpp::flood::Flooder>> flooders;
  if (absl::Status f = kcpp::hardening::FloodListener(*plane, ports, 7, &listener, &flooders);
      !f.ok()) {
    std::fprintf(stderr, "%s\n", f.ToString().c_str());
    return 1;
  }
  kcpp::v1::Stats stats;
  if (absl::Status g = plane->GetStats(&stats); !g.ok()) {
    std::fprintf(stderr, "GetStats: %s\n", g.ToString().c_str());
    return 1;
  }
  const int64_t heap = kcpp::test::LiveAllocatedBytes() - heap0;
  const unsigned active = stats.active_sessions();
  std::printf(
      "%s, %d forged datagrams: %lu sessions accepted, %u active; rss %.1f -> %.1f MiB; heap "
      "%.1f MiB, %.1f KiB per active session\n",
      smux ? "smux" : "raw", ports, static_cast<unsigned long>(listener.sessions_accepted()), active,
      rss0 / 1024.0, RssKiB() / 1024.0, heap / 1048576.0,
      active == 0 ? 0.0 : heap / 1024.0 / active);
  for (auto& f : flooders) f->Stop();
  plane->BeginShutdown();
  (*backend)->Shutdown(absl::Now());
  return 0;
}
