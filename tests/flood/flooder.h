// Flooder: sends hostile datagrams at a UDP address from many source ports,
// as fast as one thread can — for the listener flood tests and benchmarks.
//
//   FloodOptions o;
//   o.target = listener->local_address();
//   o.crypt = "aes";  o.key = "the listener's key";   // to seal the forgeries
//   o.mix = {.random = 1, .wrong_key = 1, .oversized = 1};
//   auto flood = Flooder::Start(o);
//   (*flood)->WaitSent(10000);   // the flood is under way
//   ... live traffic ...
//   (*flood)->Stop();
//
// Kinds of datagram (drawn per datagram with the weights of `mix`):
//   random      1..1500 random bytes (an off-path attacker without the key)
//   wrong_key   a well-formed KCP PUSH sealed with another key
//   truncated   a forgery sealed with the right key, then cut short
//   oversized   1501..1600 bytes (above kcp-go's datagram limit)
//   forged      a KCP PUSH sealed with the right key (what a key holder, or
//               anyone with crypt none/null, can send; to the listener also
//               what a replayed genuine datagram looks like), random conv,
//               sn 0 with probability `sn0_share`, else random in the window
//   parity      a FEC parity packet sealed with the right key (no conv)
//   live_conv   as forged, but with conv = `live_conv` (a session's conv
//               sent from other addresses)
// Forgeries carry a FEC data header when `fec` is set (what the listener's
// sessions expect), else raw KCP.
//
// Test-only (//tests/flood:flooder).
#ifndef KCPP_TESTS_FLOOD_FLOODER_H_
#define KCPP_TESTS_FLOOD_FLOODER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypt/packet_cipher.h"
#include "transport/socket_address.h"

namespace kcpp::flood {

struct FloodMix {
  int random = 0;
  int wrong_key = 0;
  int truncated = 0;
  int oversized = 0;
  int forged = 0;
  int parity = 0;
  int live_conv = 0;
};

struct FloodOptions {
  transport::SocketAddress target;
  // Distinct source ports (one socket each, bound to 127.0.0.1).
  int source_ports = 64;
  // The listener's cipher and passphrase (kcptun names and derivation).
  std::string crypt = "aes";
  std::string key;
  bool fec = false;
  FloodMix mix;
  uint32_t live_conv = 0;
  // Share of forged PUSH segments with sn == 0 (kcp-go's "peer restarted"
  // signal, docs/protocol.md §5.2).
  double sn0_share = 0.1;
  // KCP payload bytes of forged segments: 0..max_payload.
  int max_payload = 1000;
  // Stop by itself after this many datagrams (0 = only at Stop()).
  uint64_t max_datagrams = 0;
  uint64_t seed = 1;
};

// Writes one KCP PUSH (conv, sn, una 0, window 32, `payload`) behind a FEC
// data header with `seqid` when `fec`, sealed with `cipher`, into `out`
// (at least 1600 bytes); returns the datagram's length.
size_t ForgePush(const crypt::PacketCipher& cipher, bool fec, uint32_t seqid, uint32_t conv,
                 uint32_t sn, absl::Span<const uint8_t> payload, uint8_t* out);

class Flooder {
 public:
  static absl::StatusOr<std::unique_ptr<Flooder>> Start(const FloodOptions& options);
  ~Flooder();  // Stop()s

  // Stops sending and joins the thread. Idempotent.
  void Stop();
  // Datagrams handed to the kernel so far.
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  // Blocks until at least `n` were sent (or the flooder stopped).
  void WaitSent(uint64_t n);

 private:
  Flooder(FloodOptions options, std::unique_ptr<crypt::PacketCipher> right,
          std::unique_ptr<crypt::PacketCipher> wrong, std::vector<int> fds);
  void Run();

  const FloodOptions options_;
  const std::unique_ptr<crypt::PacketCipher> right_;
  const std::unique_ptr<crypt::PacketCipher> wrong_;
  const std::vector<int> fds_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // guarded by mu_
};

}  // namespace kcpp::flood

#endif  // KCPP_TESTS_FLOOD_FLOODER_H_
