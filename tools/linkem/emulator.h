// Emulator: forwards IP packets between two packet file descriptors (TUN
// devices in linkem; any fds with one packet per read/write, e.g. a
// SOCK_SEQPACKET socketpair in tests) through two LinkModels, one per
// direction, in real time.
//
//   EmulatorOptions o;
//   o.links = *spec.Apply(profile->Links(seed));
//   absl::StatusOr<std::unique_ptr<Emulator>> e = Emulator::Create(tun_a, tun_b, o);
//   (*e)->Run(control_fd, [&] { return HandleSignal(); });   // until it returns false
//   std::string line = (*e)->StatsJson();
//
// Packets read from fd A go through links.a2b and are written to fd B, and
// the other way round. Each packet is read straight into a slot of a
// per-direction pool and written from it; the models only carry the slot
// numbers. Time is CLOCK_MONOTONIC in microseconds; between events the
// thread sleeps in ppoll() until the next delivery is due (nanosecond
// timeout; run with a small timer slack, see main.cc), never spinning.
//
// Besides the models' counters, each direction counts what it carried by IP
// protocol (packets, IP bytes and transport payload bytes for UDP and TCP:
// the "wire bytes" of a benchmark), its own failures (pool exhausted,
// read/write errors, oversized packets) and how late deliveries were
// written compared to their due time (the emulator's own error).
//
// Single-threaded: Run, StatsJson and the accessors belong to one thread.
#ifndef KCPP_TOOLS_LINKEM_EMULATOR_H_
#define KCPP_TOOLS_LINKEM_EMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/linkem/link_model.h"
#include "tools/linkem/link_spec.h"

namespace kcpp::linkem {

struct EmulatorOptions {
  LinkPair links;
  // Largest packet accepted; longer ones are dropped and counted
  // (oversize_drops). Must cover the devices' MTU.
  size_t max_packet_bytes = 2048;
  // Packets each direction may hold (queued + propagating) before further
  // packets are dropped (pool_drops). Storage grows on demand up to this.
  size_t max_packets = 1 << 18;
  // Packets read from one fd per wake-up before the other gets its turn.
  int read_burst = 64;
};

// What one direction carried and how the emulator itself fared.
struct DirectionStats {
  LinkCounters link;
  int64_t queued_bytes = 0;  // at the time of the snapshot
  size_t in_flight = 0;
  // Offered packets by IP protocol: packets, IP bytes, transport payload
  // bytes (after the IP and UDP/TCP headers).
  uint64_t udp_packets = 0, udp_ip_bytes = 0, udp_payload_bytes = 0;
  uint64_t tcp_packets = 0, tcp_ip_bytes = 0, tcp_payload_bytes = 0;
  uint64_t icmp_packets = 0, other_packets = 0;
  // Delivered IP bytes of UDP and TCP (for the share of each on the link).
  uint64_t udp_delivered_ip_bytes = 0, tcp_delivered_ip_bytes = 0;
  // Emulator failures, not part of the model: packets lost to them were
  // never offered to the model.
  uint64_t pool_drops = 0;
  uint64_t oversize_drops = 0;
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  // Delivery lateness: write time minus due time.
  int64_t late_max_us = 0;
  uint64_t late_sum_us = 0;
  uint64_t late_over_100us = 0;
  uint64_t late_over_1ms = 0;
};

class Emulator {
 public:
  // Takes ownership of neither fd; both are switched to non-blocking.
  static absl::StatusOr<std::unique_ptr<Emulator>> Create(int fd_a, int fd_b,
                                                          const EmulatorOptions& options);

  // Forwards packets until `on_control` returns false; it is called whenever
  // `control_fd` is readable (-1: none; then Run only returns on error).
  // Returns an error if a device fails (e.g. it was deleted).
  absl::Status Run(int control_fd, absl::FunctionRef<bool()> on_control);

  // Snapshot of one direction (0 = a->b, 1 = b->a) at the current time.
  DirectionStats Stats(int direction) const;

  // Both directions as one JSON line (no newline):
  // {"linkem":"stats","t_us":...,"a2b":{...},"b2a":{...}}
  std::string StatsJson() const;

  // CLOCK_MONOTONIC in microseconds.
  static int64_t NowUs();

  ~Emulator();

 private:
  struct Direction;
  Emulator(int fd_a, int fd_b, const EmulatorOptions& options);

  // Reads up to read_burst packets from `d`'s input; false on a device error.
  bool ReadBurst(Direction& d);
  // Writes every packet of `d` due at now.
  void DeliverDue(Direction& d, int64_t now_us);

  EmulatorOptions options_;
  std::unique_ptr<Direction> dir_[2];
  int64_t start_us_;
};

}  // namespace kcpp::linkem

#endif  // KCPP_TOOLS_LINKEM_EMULATOR_H_
