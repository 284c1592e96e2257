// Test harness for tunnels against Debian's kcptun binaries
// (/usr/bin/kcptun-client, /usr/bin/kcptun-server; kcptun 20210922 built on
// kcp-go 5.6.1 and smux 1.5.16): starting them, a TCP echo target, and
// byte-exact exchanges through a tunnel.
//
//   TcpEchoServer echo;                                 // 127.0.0.1:<port>
//   KcptunProcess server = StartKcptunServer({"-t", echo.address(), ...});
//   ... a kcpd client tunnel to server.udp_address ...
//   EXPECT_TRUE(EchoExchange(client_port, 4 << 20, /*seed=*/1).ok());
//
// Readiness comes from the processes' output (kcptun-client prints its bound
// TCP address) or from connecting; never from sleeping. Deadlines below are
// failure bounds, never expectations of speed.
#ifndef KCPP_TESTS_KCPTUN_HARNESS_H_
#define KCPP_TESTS_KCPTUN_HARNESS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/subprocess.h"

namespace kcpp::test {

inline constexpr char kKcptunClient[] = "/usr/bin/kcptun-client";
inline constexpr char kKcptunServer[] = "/usr/bin/kcptun-server";

// A running kcptun process; killed when destroyed.
struct KcptunProcess {
  std::unique_ptr<Subprocess> process;
  // kcptun-client: the TCP address it listens on ("127.0.0.1:port").
  // kcptun-server: the UDP address it was told to listen on.
  std::string address;
  // Every line it printed up to readiness (its effective configuration).
  std::vector<std::string> startup_log;
};

// Starts kcptun-client with `args` plus "-l 127.0.0.1:0 -quiet"; returns
// once it listens. Its log (stderr) is merged into stdout.
absl::StatusOr<KcptunProcess> StartKcptunClient(const std::vector<std::string>& args);
// Starts kcptun-server on a free loopback UDP port with `args` plus -quiet;
// returns after its key derivation (its UDP socket follows at once; a
// datagram that arrives before is retransmitted by KCP).
absl::StatusOr<KcptunProcess> StartKcptunServer(const std::vector<std::string>& args);
// Runs kcptun-<role> with `args` until it has printed its configuration
// (the line "tcp: ..."), then kills it; returns the lines it printed.
absl::StatusOr<std::vector<std::string>> KcptunStartupLog(const std::string& binary,
                                                          const std::vector<std::string>& args);

// A loopback UDP / TCP port nobody is bound to right now.
absl::StatusOr<int> FreeUdpPort();
absl::StatusOr<int> FreeTcpPort();

// What makes TcpEchoServer close a connection itself: sent as the first
// bytes, it answers kCloseReply and closes.
inline const std::string kCloseCommand = "CLOSE!";
inline const std::string kCloseReply = "closed by the target";

// A TCP target that echoes every byte back on each connection, one thread
// per connection; on EOF it half-closes its side, then closes. A connection
// that starts with kCloseCommand gets kCloseReply and is closed by the
// target. Counts connections and how they ended.
class TcpEchoServer {
 public:
  TcpEchoServer();
  ~TcpEchoServer();
  std::string address() const;  // "127.0.0.1:port"
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  // Connections that ended with EOF from the far side.
  int closed_by_peer() const;
  // Blocks until closed_by_peer() >= n or `deadline`; false on the deadline.
  bool WaitClosedByPeer(int n, absl::Time deadline) const;
  uint64_t bytes_echoed() const { return bytes_.load(); }
  int closed_by_target() const {
    std::lock_guard<std::mutex> l(mu_);
    return closed_by_target_;
  }

 private:
  void AcceptLoop();
  void Serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<uint64_t> bytes_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int closed_by_peer_ = 0;
  int closed_by_target_ = 0;
  std::vector<int> fds_;  // guarded by mu_
  std::thread accept_thread_;
  std::vector<std::thread> threads_;  // guarded by mu_
};

// A TCP target that writes `greeting` on each connection and closes it.
class TcpGreeter {
 public:
  explicit TcpGreeter(std::string greeting);
  ~TcpGreeter();
  std::string address() const;

 private:
  std::string greeting_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Connects to 127.0.0.1:`port`, writes `bytes` of seeded data (a mix of
// random and repetitive runs, so snappy both compresses and stores) while
// reading the echo, and checks it byte for byte. Then closes. Error if the
// echo differs, ends early, or the deadline passes.
absl::Status EchoExchange(int port, uint64_t bytes, uint32_t seed,
                          absl::Time deadline = absl::Now() + absl::Seconds(120));

// Several EchoExchange at once (seeds seed, seed+1, ...); the first error.
absl::Status ConcurrentEchoExchanges(int port, int connections, uint64_t bytes, uint32_t seed);

// Connects to 127.0.0.1:`port`, writes `send`, and reads until EOF; the
// bytes read, or an error (reset, deadline).
absl::StatusOr<std::string> ReadUntilEof(int port, absl::Time deadline,
                                         const std::string& send = "");
// Through a tunnel to a TcpEchoServer: asks the target to close; returns
// what arrived before EOF (kCloseReply if all went well).
absl::StatusOr<std::string> AskTargetToClose(int port, absl::Time deadline);

// Opens a TCP connection to 127.0.0.1:`port` (blocking connect); -1 on error.
int ConnectTcp(int port);

// The deterministic test data of EchoExchange.
void FillTestData(uint32_t seed, uint64_t offset, uint8_t* out, size_t size);

}  // namespace kcpp::test

#endif  // KCPP_TESTS_KCPTUN_HARNESS_H_
