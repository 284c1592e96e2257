// Test helpers for transport sessions: a deterministic byte pattern, a
// writer/reader pair that moves N bytes and checks every one, and an echo
// server on a listener. Test-only (//transport/testing:transfer).
#ifndef KCPP_TRANSPORT_TESTING_TRANSFER_H_
#define KCPP_TRANSPORT_TESTING_TRANSFER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "transport/listener.h"
#include "transport/session.h"

namespace kcpp::transport::testing {

// Byte i of the stream every helper uses (the same formula as
// tests/interop/kcpgo_peer.go).
inline uint8_t PatternByte(uint64_t i) { return static_cast<uint8_t>(i * 7 + (i >> 8)); }
void FillPattern(absl::Span<uint8_t> out, uint64_t offset);

// Writes `bytes` of the pattern to `s` in pieces of `chunk` bytes.
absl::Status WritePattern(Session& s, uint64_t bytes, size_t chunk = 64 * 1024,
                          absl::Time deadline = absl::InfiniteFuture());
// Reads `bytes` from `s`, checking each against the pattern. Returns the
// first mismatch or error.
absl::Status ReadPattern(Session& s, uint64_t bytes, absl::Time deadline = absl::InfiniteFuture());

// Sends `bytes` from `from` to `to` (writer on its own thread) and checks them.
absl::Status Transfer(Session& from, Session& to, uint64_t bytes,
                      absl::Time deadline = absl::InfiniteFuture());

// tests/interop/kcpgo_peer.go's protocol, kcpp side. Client: sends an 8-byte
// little-endian length N and N pattern bytes, reads the N-byte echo and
// checks it. Server: reads N and the N bytes, echoes them.
absl::Status PeerProtocolClient(Session& s, uint64_t bytes,
                                absl::Time deadline = absl::InfiniteFuture());
absl::Status PeerProtocolServe(Session& s, absl::Time deadline = absl::InfiniteFuture());

// One line with a session's windows, timers and main counters, for failure
// messages.
std::string Describe(const SessionInfo& info);

// Accepts sessions from `listener` and echoes every byte back, one thread per
// session, until Stop() (or destruction), which closes the listener.
class EchoServer {
 public:
  explicit EchoServer(Listener& listener);
  ~EchoServer();
  void Stop();
  int sessions_accepted() const { return accepted_.load(); }

 private:
  Listener& listener_;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<Session*> live_;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stopping_{false};
};

// An echo server for many sessions: every accepted session echoes on its
// loop thread through callbacks (no thread per session). Destroying the
// server closes its sessions; their state goes with them.
class AsyncEchoServer {
 public:
  explicit AsyncEchoServer(Listener& listener);
  ~AsyncEchoServer();
  int sessions() const;

 private:
  struct Conn;
  Listener& listener_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Conn>> conns_;
};

}  // namespace kcpp::transport::testing

#endif  // KCPP_TRANSPORT_TESTING_TRANSFER_H_
