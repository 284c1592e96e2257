// linkem: a user-space network link emulator between two network
// namespaces, for the WAN benchmark (bench/wan) on kernels without netem.
//
//   tools/linkem/netns.sh up                       # namespaces kcpp-a, kcpp-b + TUNs
//   bazel run --config=opt //tools/linkem -- --profile=lossy_100m_100ms_1pct &
//   ip netns exec kcpp-a ping 10.77.0.2            # ~100 ms, 1 % lost each way
//   kill -USR1 %1                                  # a stats line now
//   kill %1                                        # a stats line, then exit
//   tools/linkem/netns.sh down
//
// Link flags take one value for both directions or "A2B/B2A" (see
// tools/linkem/link_spec.h for the units); they override --profile's values:
//   --rate=100M --delay=25ms --jitter=1ms --queue=1bdp --loss=1%
//   --ge_enter_bad=0.005 --ge_exit_bad=0.25 --ge_loss_bad=1 --ge_loss_good=0
// --list_profiles prints the named profiles as JSON lines.
//
// Output (stdout, one JSON object per line): {"linkem":"ready",...} with the
// configuration once both devices are attached, then
// {"linkem":"stats",...} on SIGUSR1 and at exit (SIGTERM/SIGINT/SIGHUP);
// --stats_file=PATH also receives each stats line (atomically replaced).
// --realtime_priority=10 (as bench/wan runs it) schedules linkem ahead of
// the endpoints sharing the CPU: on a loaded 2-core VM it cuts the mean
// delivery lateness from hundreds of microseconds to tens.
// Exit status: 0 after a signal, 1 on a device error, 2 on bad flags.
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "tools/linkem/emulator.h"
#include "tools/linkem/link_spec.h"
#include "tools/linkem/tun_device.h"

ABSL_FLAG(std::string, ns_a, "kcpp-a", "network namespace of side A (\"\" = this one)");
ABSL_FLAG(std::string, ns_b, "kcpp-b", "network namespace of side B");
ABSL_FLAG(std::string, dev_a, "lkem-a", "TUN device in namespace A");
ABSL_FLAG(std::string, dev_b, "lkem-b", "TUN device in namespace B");
ABSL_FLAG(std::string, profile, "",
          "named link profile (--list_profiles); flags below override it");
ABSL_FLAG(bool, list_profiles, false, "print the named profiles as JSON lines and exit");
ABSL_FLAG(std::string, rate, "", "bottleneck rate, bits/s: 100M, 1G, 0 = unlimited");
ABSL_FLAG(std::string, delay, "", "one-way delay: 25ms");
ABSL_FLAG(std::string, jitter, "",
          "extra one-way delay, uniform in [0, jitter] (keeps FIFO order)");
ABSL_FLAG(std::string, queue, "",
          "drop-tail queue before the bottleneck: bytes (150000, 64KiB) or 1bdp; 0 = unlimited");
ABSL_FLAG(std::string, loss, "", "random loss per packet: 0.01 or 1%");
ABSL_FLAG(std::string, ge_enter_bad, "", "Gilbert-Elliott: P(good -> bad) per packet (0 = off)");
ABSL_FLAG(std::string, ge_exit_bad, "", "Gilbert-Elliott: P(bad -> good) per packet");
ABSL_FLAG(std::string, ge_loss_good, "", "Gilbert-Elliott: loss probability in the good state");
ABSL_FLAG(std::string, ge_loss_bad, "", "Gilbert-Elliott: loss probability in the bad state");
ABSL_FLAG(uint64_t, seed, 1, "random seed (a->b uses seed, b->a seed + 1)");
ABSL_FLAG(std::string, stats_file, "", "also write each stats line to this file");
ABSL_FLAG(int, max_packets, 1 << 18, "packets each direction may hold before dropping");
ABSL_FLAG(int, realtime_priority, 0,
          "run under SCHED_FIFO at this priority (1-99; 0 = normal scheduling). On a machine "
          "shared with the endpoints this keeps deliveries on time (the loop never spins)");

namespace {

using kcpp::linkem::Emulator;
using kcpp::linkem::EmulatorOptions;
using kcpp::linkem::LinkPair;
using kcpp::linkem::LinkSpec;

int Fail(int code, const std::string& what) {
  std::fprintf(stderr, "linkem: %s\n", what.c_str());
  return code;
}

void EmitStats(const Emulator& e) {
  const std::string line = e.StatsJson();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  const std::string path = absl::GetFlag(FLAGS_stats_file);
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << line << "\n";
    if (!f) {
      std::fprintf(stderr, "linkem: cannot write %s\n", tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "linkem: cannot rename %s to %s\n", tmp.c_str(), path.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "user-space link emulator between two network namespaces (see tools/linkem/main.cc)");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_list_profiles)) {
    std::fputs(kcpp::linkem::ProfilesAsJsonLines().c_str(), stdout);
    return 0;
  }

  LinkPair base;
  base.a2b.seed = absl::GetFlag(FLAGS_seed);
  base.b2a.seed = base.a2b.seed + 1;
  if (const std::string name = absl::GetFlag(FLAGS_profile); !name.empty()) {
    absl::StatusOr<const kcpp::linkem::Profile*> p = kcpp::linkem::FindProfile(name);
    if (!p.ok()) return Fail(2, std::string(p.status().message()));
    base = (*p)->Links(absl::GetFlag(FLAGS_seed));
  }
  LinkSpec spec;
  spec.rate = absl::GetFlag(FLAGS_rate);
  spec.delay = absl::GetFlag(FLAGS_delay);
  spec.jitter = absl::GetFlag(FLAGS_jitter);
  spec.queue = absl::GetFlag(FLAGS_queue);
  spec.loss = absl::GetFlag(FLAGS_loss);
  spec.ge_enter_bad = absl::GetFlag(FLAGS_ge_enter_bad);
  spec.ge_exit_bad = absl::GetFlag(FLAGS_ge_exit_bad);
  spec.ge_loss_good = absl::GetFlag(FLAGS_ge_loss_good);
  spec.ge_loss_bad = absl::GetFlag(FLAGS_ge_loss_bad);
  absl::StatusOr<LinkPair> links = spec.Apply(base);
  if (!links.ok()) return Fail(2, std::string(links.status().message()));
  if (absl::GetFlag(FLAGS_max_packets) < 1) return Fail(2, "--max_packets must be >= 1");

  if (const int prio = absl::GetFlag(FLAGS_realtime_priority); prio != 0) {
    sched_param param{};
    param.sched_priority = prio;
    if (prio < 1 || prio > 99) return Fail(2, "--realtime_priority must be in [1, 99] (0 = off)");
    if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
      return Fail(1, absl::StrCat("SCHED_FIFO priority ", prio, ": ", std::strerror(errno)));
    }
  }
  // Signals arrive through a signalfd polled with the devices.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&mask, s);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return Fail(1, "sigprocmask failed");
  const int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) return Fail(1, "signalfd failed");
  // Sleep to the microsecond: the default 50 us timer slack would add up
  // to 50 us to every delivery.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

  absl::StatusOr<kcpp::linkem::TunDevice> a =
      kcpp::linkem::OpenTunInNamespace(absl::GetFlag(FLAGS_ns_a), absl::GetFlag(FLAGS_dev_a));
  if (!a.ok()) return Fail(1, std::string(a.status().message()));
  absl::StatusOr<kcpp::linkem::TunDevice> b =
      kcpp::linkem::OpenTunInNamespace(absl::GetFlag(FLAGS_ns_b), absl::GetFlag(FLAGS_dev_b));
  if (!b.ok()) return Fail(1, std::string(b.status().message()));

  EmulatorOptions options;
  options.links = *links;
  options.max_packet_bytes = static_cast<size_t>(std::max({a->mtu, b->mtu, 64}));
  options.max_packets = static_cast<size_t>(absl::GetFlag(FLAGS_max_packets));
  absl::StatusOr<std::unique_ptr<Emulator>> emulator = Emulator::Create(a->fd, b->fd, options);
  if (!emulator.ok()) return Fail(2, std::string(emulator.status().message()));

  std::printf("{\"linkem\":\"ready\",\"pid\":%d,\"mtu\":%zu,\"a2b\":%s,\"b2a\":%s}\n", getpid(),
              options.max_packet_bytes, kcpp::linkem::ConfigAsJson(links->a2b).c_str(),
              kcpp::linkem::ConfigAsJson(links->b2a).c_str());
  std::fflush(stdout);

  const absl::Status run = (*emulator)->Run(sigfd, [&] {
    signalfd_siginfo info;
    bool keep_going = true;
    while (read(sigfd, &info, sizeof(info)) == sizeof(info)) {
      if (info.ssi_signo == SIGUSR1) {
        EmitStats(**emulator);
      } else {
        keep_going = false;
      }
    }
    return keep_going;
  });
  EmitStats(**emulator);
  close(a->fd);
  close(b->fd);
  if (!run.ok()) return Fail(1, std::string(run.message()));
  return 0;
}
