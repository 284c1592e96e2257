// LossyRelay: a UDP relay that impairs traffic on purpose, for tests,
// benchmarks and the demo — the network between two KCP endpoints.
//
//   LossyRelay::Options o;
//   o.target = *SocketAddress::Parse("127.0.0.1:4000");   // the server
//   o.to_target.loss = 0.10;  o.to_client.loss = 0.10;    // 10 % each way
//   auto relay = LossyRelay::Start(o);
//   // clients send to (*relay)->address() instead of the server
//
// Each client address gets its own upstream socket, so the server sees one
// peer per client, as through a NAT. Impairments are drawn from a seeded
// generator per direction: loss (optionally in bursts), duplication,
// reordering (a datagram held back behind later ones), corruption (one bit
// flipped), fixed delay plus jitter, an on/off blackhole schedule, an MTU
// black hole (datagrams above a size vanish), and NAT rebinding (the
// upstream source port changes at given times).
//
// The relay runs its own thread; Stop() (or the destructor) joins it.
#ifndef KCPP_TOOLS_LOSSY_RELAY_LOSSY_RELAY_H_
#define KCPP_TOOLS_LOSSY_RELAY_LOSSY_RELAY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "transport/socket_address.h"

namespace kcpp::tools {

class LossyRelay {
 public:
  // Impairments of one direction. Probabilities are per datagram, 0..1.
  struct Impairment {
    double loss = 0;       // probability a loss burst starts at a datagram
    int loss_burst = 1;    // datagrams lost per burst (1 = independent losses)
    double duplicate = 0;  // delivered twice
    double reorder = 0;    // held back by `reorder_delay_ms` (overtaken by later ones)
    int reorder_delay_ms = 5;
    double corrupt = 0;  // one random bit flipped
    int delay_ms = 0;    // every datagram, one way
    int jitter_ms = 0;   // + uniform 0..jitter_ms (may reorder)
    // Blackhole: after `blackhole_after_ms`, repeatedly drop everything for
    // `blackhole_on_ms`, then pass for `blackhole_off_ms`. 0 = off.
    int blackhole_on_ms = 0;
    int blackhole_off_ms = 0;
    int blackhole_after_ms = 0;
    // Datagrams longer than this vanish (an MTU black hole). 0 = off.
    int max_datagram = 0;
  };

  struct Options {
    transport::SocketAddress listen;  // default 127.0.0.1:0
    transport::SocketAddress target;
    Impairment to_target;
    Impairment to_client;
    uint64_t seed = 1;
    // Every this many ms (0 = never), each client's upstream socket is
    // replaced by a new one with another source port (NAT rebinding).
    int rebind_every_ms = 0;
    int socket_buffer_bytes = 4 << 20;
  };

  struct Stats {
    uint64_t received = 0;   // datagrams taken in, both directions
    uint64_t forwarded = 0;  // datagrams sent on (duplicates included)
    uint64_t dropped = 0;    // loss, blackhole and MTU drops
    uint64_t duplicated = 0;
    uint64_t reordered = 0;
    uint64_t corrupted = 0;
    uint64_t rebinds = 0;
  };

  static absl::StatusOr<std::unique_ptr<LossyRelay>> Start(const Options& options);
  ~LossyRelay();
  void Stop();

  // Where clients send (the bound listen address).
  const transport::SocketAddress& address() const { return address_; }
  Stats stats() const;
  // Blocks until the relay has taken in at least `n` datagrams (both
  // directions) and decided their fate; returns the stats at that point.
  Stats WaitForReceived(uint64_t n) const;

 private:
  class Impl;
  explicit LossyRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  transport::SocketAddress address_;
};

}  // namespace kcpp::tools

#endif  // KCPP_TOOLS_LOSSY_RELAY_LOSSY_RELAY_H_
