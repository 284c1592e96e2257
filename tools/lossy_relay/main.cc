// lossy_relay: forwards UDP between clients and a target through a link
// that loses, duplicates, reorders, corrupts and delays datagrams.
//
//   lossy_relay --listen 127.0.0.1:5000 --target 127.0.0.1:4000 --loss 0.1
//
// Prints "RELAY <address>" once listening, then the counters every
// --report_seconds (0 = only at exit) and when stdin closes or SIGTERM/
// SIGINT arrives.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tools/lossy_relay/lossy_relay.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address clients send to");
ABSL_FLAG(std::string, target, "", "address datagrams are forwarded to (required)");
ABSL_FLAG(double, loss, 0, "loss probability per datagram, both directions");
ABSL_FLAG(int, burst, 1, "datagrams lost per loss event");
ABSL_FLAG(double, duplicate, 0, "duplication probability");
ABSL_FLAG(double, reorder, 0, "probability a datagram is held back (reordered)");
ABSL_FLAG(double, corrupt, 0, "probability one bit of a datagram is flipped");
ABSL_FLAG(int, delay_ms, 0, "one-way delay");
ABSL_FLAG(int, jitter_ms, 0, "extra uniform delay 0..jitter_ms");
ABSL_FLAG(uint64_t, seed, 1, "random seed");
ABSL_FLAG(int, report_seconds, 0, "print counters this often (0 = at exit only)");

namespace {
volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using kcpp::tools::LossyRelay;
  using kcpp::transport::SocketAddress;
  LossyRelay::Options o;
  auto listen = SocketAddress::Parse(absl::GetFlag(FLAGS_listen));
  auto target = SocketAddress::Parse(absl::GetFlag(FLAGS_target));
  if (!listen.ok() || !target.ok()) {
    std::fprintf(stderr, "lossy_relay: --listen and --target must be ip:port (%s)\n",
                 (!listen.ok() ? listen.status() : target.status()).ToString().c_str());
    return 2;
  }
  o.listen = *listen;
  o.target = *target;
  LossyRelay::Impairment imp;
  imp.loss = absl::GetFlag(FLAGS_loss);
  imp.loss_burst = absl::GetFlag(FLAGS_burst);
  imp.duplicate = absl::GetFlag(FLAGS_duplicate);
  imp.reorder = absl::GetFlag(FLAGS_reorder);
  imp.corrupt = absl::GetFlag(FLAGS_corrupt);
  imp.delay_ms = absl::GetFlag(FLAGS_delay_ms);
  imp.jitter_ms = absl::GetFlag(FLAGS_jitter_ms);
  o.to_target = o.to_client = imp;
  o.seed = absl::GetFlag(FLAGS_seed);
  auto relay = LossyRelay::Start(o);
  if (!relay.ok()) {
    std::fprintf(stderr, "lossy_relay: %s\n", relay.status().ToString().c_str());
    return 1;
  }
  std::printf("RELAY %s\n", (*relay)->address().ToString().c_str());
  std::fflush(stdout);
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  auto report = [&] {
    const LossyRelay::Stats s = (*relay)->stats();
    std::fprintf(
        stderr,
        "relay: forwarded %llu dropped %llu duplicated %llu reordered %llu "
        "corrupted %llu\n",
        static_cast<unsigned long long>(s.forwarded), static_cast<unsigned long long>(s.dropped),
        static_cast<unsigned long long>(s.duplicated), static_cast<unsigned long long>(s.reordered),
        static_cast<unsigned long long>(s.corrupted));
  };
  const int every = absl::GetFlag(FLAGS_report_seconds);
  int ticks = 0;
  while (!g_stop) {
    sleep(1);
    if (every > 0 && ++ticks % every == 0) report();
  }
  report();
  return 0;
}
