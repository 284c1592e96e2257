// Soak: many kcpp sessions echoing small messages round after round in one
// process — for the 10-minute soak program and its short CI version.
//
//   SoakOptions o;
//   o.sessions = 1000;
//   auto soak = Soak::Start(o);
//   for (int r = 0; r < 50; ++r) KCPP_RETURN_IF_ERROR((*soak)->Round(deadline));
//   ProcessUsage u = ProcessUsage::Now();   // RSS and CPU time
//
// One engine holds both ends: a listener whose sessions echo on their loop
// thread (the asynchronous form: on_readable -> TryRead -> TryWrite) and
// `sessions` dialled sessions, each with its own UDP socket. A round writes
// `message_bytes` of the shared pattern on every client session and waits
// until every session has read its echo, checked byte by byte on the loop
// thread. Between rounds the sessions are idle, as most sessions of a busy
// server are most of the time.
//
// Test-only (//tests/soak:soak).
#ifndef KCPP_TESTS_SOAK_SOAK_H_
#define KCPP_TESTS_SOAK_SOAK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "transport/engine.h"

namespace kcpp::soak {

struct SoakOptions {
  int sessions = 1000;
  int message_bytes = 256;
  int engine_loops = 2;
  // Both ends (kcptun "fast": interval 30 ms, fast resend 2, no cwnd).
  transport::SessionOptions session = [] {
    transport::SessionOptions o;
    o.crypt = "aes";
    o.key = "kcpp soak key";
    o.nodelay = transport::NoDelay::Fast();
    o.stream_mode = true;
    o.send_window = o.receive_window = 128;
    // A round's burst (one datagram per session at once) fits the
    // listener's socket buffer.
    o.socket_buffer_bytes = 8 << 20;
    return o;
  }();
};

// This process's resident memory and CPU time so far.
struct ProcessUsage {
  int64_t rss_bytes = 0;
  double cpu_seconds = 0;  // user + system
  static ProcessUsage Now();
};

class Soak {
 public:
  static absl::StatusOr<std::unique_ptr<Soak>> Start(const SoakOptions& options);
  ~Soak();

  // One round: every client writes message_bytes, every echo is read and
  // checked. The writes are spread evenly over `spread` (groups of 100
  // sessions; 0: all at once — a burst of one datagram per session, which
  // overflows the listener's socket buffer beyond a few thousand sessions).
  // DataLoss on a wrong byte, DeadlineExceeded at `deadline`, or the first
  // session's failure.
  absl::Status Round(absl::Time deadline, absl::Duration spread = absl::ZeroDuration());

  int rounds() const { return rounds_; }
  uint64_t bytes_echoed() const { return bytes_echoed_.load(); }
  transport::EngineStats engine_stats() const { return engine_->GetStats(); }
  transport::ListenerStats listener_stats() const { return listener_->GetStats(); }

 private:
  struct Client;
  explicit Soak(const SoakOptions& options);
  void OnClientReadable(Client& c);
  void Fail(absl::Status s);

  const SoakOptions options_;
  std::unique_ptr<transport::Engine> engine_;
  std::unique_ptr<transport::Listener> listener_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::mutex servers_mu_;
  std::vector<std::unique_ptr<transport::Session>> servers_;  // guarded by servers_mu_
  std::vector<uint8_t> message_;
  int rounds_ = 0;
  std::atomic<uint64_t> bytes_echoed_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t caught_up_ = 0;  // guarded by mu_: client rounds completed, cumulative
  absl::Status failure_;   // guarded by mu_
};

}  // namespace kcpp::soak

#endif  // KCPP_TESTS_SOAK_SOAK_H_
