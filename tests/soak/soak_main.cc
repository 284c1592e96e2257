// kcpp_soak: the 10-minute soak (issue 9) — `sessions` kcpp sessions in one
// process echo a small message once per `interval_ms` (the writes spread
// over the first half of the interval), byte-checked, for
// `duration_s`; every `report_s` one line of RSS and CPU. At the end, RSS
// growth from the end of the warm-up to the end is compared with
// `max_growth_mib` (the stated bound; docs/testing.md).
//
//   bazel run --config=opt //tests/soak:kcpp_soak -- --sessions=10000 --duration_s=600
//
// Exit status 0 when every round completed and growth stayed within the
// bound, 1 otherwise.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "tests/soak/soak.h"

ABSL_FLAG(int, sessions, 10000, "client sessions (as many server sessions again)");
ABSL_FLAG(int, duration_s, 600, "how long to run");
ABSL_FLAG(int, interval_ms, 1000, "one round (a message on every session) this often");
ABSL_FLAG(int, message_bytes, 256, "bytes each session sends per round");
ABSL_FLAG(int, report_s, 10, "report every this many seconds");
ABSL_FLAG(int, warmup_s, 60, "growth is measured from here to the end");
ABSL_FLAG(int, loops, 2, "event-loop threads");
ABSL_FLAG(double, max_growth_mib, 64, "fail if RSS grew more than this after warm-up");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Two sockets per session pair (the dialled one; the listener's are shared).
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  kcpp::soak::SoakOptions o;
  o.sessions = absl::GetFlag(FLAGS_sessions);
  o.message_bytes = absl::GetFlag(FLAGS_message_bytes);
  o.engine_loops = absl::GetFlag(FLAGS_loops);
  const kcpp::soak::ProcessUsage at_start = kcpp::soak::ProcessUsage::Now();
  auto soak = kcpp::soak::Soak::Start(o);
  if (!soak.ok()) {
    std::fprintf(stderr, "start: %s\n", soak.status().ToString().c_str());
    return 1;
  }
  const auto interval = std::chrono::milliseconds(absl::GetFlag(FLAGS_interval_ms));
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(absl::GetFlag(FLAGS_duration_s));
  const auto warmup = start + std::chrono::seconds(absl::GetFlag(FLAGS_warmup_s));
  auto next_report = start;
  auto next_round = start;
  kcpp::soak::ProcessUsage last = at_start, after_warmup{};
  double last_t = 0;
  bool warmed = false;
  double worst_round_ms = 0;
  std::printf("%8s %7s %9s %9s %7s %9s %11s %12s\n", "t_s", "rounds", "rss_MiB", "cpu_s", "cpu_%",
              "sessions", "echoed_MiB", "worst_rnd_ms");
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    const double t = std::chrono::duration<double>(now - start).count();
    if (now >= next_report || now >= end) {
      const kcpp::soak::ProcessUsage u = kcpp::soak::ProcessUsage::Now();
      const double cpu_pct =
          t > last_t ? 100 * (u.cpu_seconds - last.cpu_seconds) / (t - last_t) : 0;
      std::printf("%8.1f %7d %9.1f %9.1f %7.1f %9u %11.1f %12.1f\n", t, (*soak)->rounds(),
                  u.rss_bytes / 1048576.0, u.cpu_seconds, cpu_pct,
                  (*soak)->engine_stats().current_sessions, (*soak)->bytes_echoed() / 1048576.0,
                  worst_round_ms);
      std::fflush(stdout);
      last = u;
      last_t = t;
      worst_round_ms = 0;
      next_report += std::chrono::seconds(absl::GetFlag(FLAGS_report_s));
    }
    if (!warmed && now >= warmup) {
      after_warmup = kcpp::soak::ProcessUsage::Now();
      warmed = true;
    }
    if (now >= end) break;
    if (now >= next_round) {
      const auto r0 = std::chrono::steady_clock::now();
      const absl::Status s =
          (*soak)->Round(absl::Now() + absl::Seconds(60),
                         absl::Milliseconds(absl::GetFlag(FLAGS_interval_ms)) / 2);
      if (!s.ok()) {
        const kcpp::transport::ListenerStats l = (*soak)->listener_stats();
        const kcpp::transport::EngineStats e = (*soak)->engine_stats();
        std::fprintf(
            stderr,
            "round %d: %s\nlistener: created=%llu live=%u pending=%u drop_csum=%llu "
            "drop_no_conv=%llu drop_mismatch=%llu drop_backlog=%llu drop_limit=%llu\n"
            "engine: sessions=%u send_drops=%llu csum=%llu input_err=%llu\n",
            (*soak)->rounds(), s.ToString().c_str(), (unsigned long long)l.sessions_created,
            l.live_sessions, l.pending_accept, (unsigned long long)l.dropped_checksum,
            (unsigned long long)l.dropped_no_conv, (unsigned long long)l.dropped_conv_mismatch,
            (unsigned long long)l.dropped_backlog_full, (unsigned long long)l.dropped_session_limit,
            e.current_sessions, (unsigned long long)e.counters.send_drops,
            (unsigned long long)e.counters.checksum_errors,
            (unsigned long long)e.counters.input_errors);
        return 1;
      }
      worst_round_ms = std::max(
          worst_round_ms,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - r0).count());
      next_round += interval;
      continue;
    }
    std::this_thread::sleep_until(std::min(next_round, next_report));
  }
  const kcpp::soak::ProcessUsage fin = kcpp::soak::ProcessUsage::Now();
  if (!warmed) after_warmup = at_start;
  const double growth = (fin.rss_bytes - after_warmup.rss_bytes) / 1048576.0;
  const bool ok = growth <= absl::GetFlag(FLAGS_max_growth_mib);
  std::printf("rss after warm-up %.1f MiB, at end %.1f MiB: growth %.1f MiB (bound %.1f): %s\n",
              after_warmup.rss_bytes / 1048576.0, fin.rss_bytes / 1048576.0, growth,
              absl::GetFlag(FLAGS_max_growth_mib), ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
