// LinkModel: one direction of an emulated network link, sans-IO.
//
// A packet offered to the link first meets random loss (Bernoulli and/or
// Gilbert-Elliott, decided at the moment it is offered, as netem does: a lost
// packet never takes queue space), then a drop-tail queue in front of a
// bottleneck of fixed rate, then a one-way propagation delay with optional
// jitter. The model never sees payloads: the caller keeps its packets and
// hands the model an opaque 64-bit tag per packet, which comes back when the
// packet is due at the far end. Time is whatever the caller passes in
// (microseconds, any epoch); nothing here reads a clock, sleeps or allocates
// per packet once the internal ring has grown to the link's peak occupancy.
//
//   kcpp::linkem::LinkConfig c;
//   c.rate_bps = 100'000'000;                       // 100 Mbit/s bottleneck
//   c.delay_us = 25'000;                            // 25 ms one way
//   c.queue_bytes = kcpp::linkem::BdpBytes(c.rate_bps, 50'000);  // 1 BDP
//   c.loss = 0.01;
//   kcpp::linkem::LinkModel link(c);                // c.Validate() must be OK
//
//   link.Offer(now_us, packet_bytes, tag);          // false: dropped (counted)
//   ...
//   while (link.PopDue(now_us, &tag, &bytes)) Deliver(tag);
//   std::optional<int64_t> wake = link.NextDeliveryUs();   // sleep until then
//
// Semantics:
//  * Bottleneck: packets are serialised back to back; a packet's transmission
//    starts at max(now, end of the previous one) and lasts bytes*8/rate s.
//    Time is kept as integer microseconds plus an exact remainder, so no
//    rounding drift accumulates over any number of packets. rate_bps == 0
//    means no bottleneck (transmission takes no time).
//  * Queue: the bytes of packets whose transmission has not started at `now`.
//    An offered packet that would have to wait is dropped if the queue plus
//    the packet would exceed queue_bytes (0 = unlimited). A packet that finds
//    the bottleneck idle starts at once and is never dropped by the queue.
//  * Delivery: at the (rounded up) end of transmission + delay_us + a uniform
//    draw in [0, jitter_us], raised if needed to the previous packet's
//    delivery time, so jitter never reorders (the link is FIFO) and the
//    one-way delay beyond transmission stays within [delay, delay + jitter].
//  * Randomness: one seeded generator per decision (Bernoulli loss,
//    Gilbert-Elliott, jitter), so the same seed and the same calls always give
//    the same result, and the loss pattern of a seed does not depend on
//    whether jitter is on.
//  * Time must not run backwards: a `now_us` older than one passed before is
//    treated as the latest time seen.
//
// Not thread-safe; one instance per direction.
#ifndef KCPP_TOOLS_LINKEM_LINK_MODEL_H_
#define KCPP_TOOLS_LINKEM_LINK_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kcpp::linkem {

// Configuration of one direction. Every field has a "feature off" default.
struct LinkConfig {
  // Bottleneck rate in bits per second (IP packet bytes count); 0 = unlimited.
  int64_t rate_bps = 0;
  // Drop-tail limit on bytes waiting for the bottleneck; 0 = unlimited.
  int64_t queue_bytes = 0;
  // One-way propagation delay, microseconds.
  int64_t delay_us = 0;
  // Extra one-way delay drawn uniformly from [0, jitter_us] per packet
  // (never reorders: see the file comment).
  int64_t jitter_us = 0;
  // Probability that an offered packet is lost, independently of the others.
  double loss = 0;
  // Gilbert-Elliott loss, on when ge_enter_bad > 0. At each offered packet
  // the link first moves good -> bad with probability ge_enter_bad, or
  // bad -> good with ge_exit_bad, then loses the packet with ge_loss_good or
  // ge_loss_bad according to its state. Long-run loss rate:
  //   pi_bad = enter / (enter + exit);  pi_bad*loss_bad + (1-pi_bad)*loss_good
  // and the mean burst (time in the bad state) is 1/exit packets.
  // Combined with `loss`, a packet is lost if either process loses it.
  double ge_enter_bad = 0;
  double ge_exit_bad = 1;
  double ge_loss_good = 0;
  double ge_loss_bad = 1;
  // Seed of every random decision of this direction.
  uint64_t seed = 1;

  // OK, or InvalidArgument naming the first field out of range.
  absl::Status Validate() const;

  // The long-run fraction of offered packets lost to `loss` and
  // Gilbert-Elliott together (what the counters converge to).
  double ExpectedLossRate() const;
};

// Counters since construction. offered_packets always equals
// queue_drops + loss_drops + delivered_packets + packets still in the link.
struct LinkCounters {
  uint64_t offered_packets = 0;
  uint64_t offered_bytes = 0;
  uint64_t queue_drops = 0;  // packets dropped because the queue was full
  uint64_t queue_drop_bytes = 0;
  uint64_t loss_drops = 0;  // packets lost to Bernoulli or Gilbert-Elliott loss
  uint64_t loss_drop_bytes = 0;
  uint64_t delivered_packets = 0;  // packets returned by PopDue
  uint64_t delivered_bytes = 0;
  int64_t peak_queue_bytes = 0;  // most bytes ever waiting for the bottleneck
};

// The bandwidth-delay product of a link in bytes: rate_bps * rtt_us / 8e6,
// rounded down (0 if the rate is unlimited).
int64_t BdpBytes(int64_t rate_bps, int64_t rtt_us);

// One direction of a link. See the file comment for the model.
class LinkModel {
 public:
  // Checks the configuration, then builds the model.
  static absl::StatusOr<LinkModel> Create(const LinkConfig& config);

  // `config` must be valid (config.Validate().ok()); out-of-range values are
  // not checked here.
  explicit LinkModel(const LinkConfig& config);

  // Offers a packet of `bytes` (its size on the wire) at `now_us`. Returns
  // false if it was dropped, by random loss or by a full queue (both
  // counted); otherwise the packet will come out of PopDue with `tag`.
  bool Offer(int64_t now_us, uint32_t bytes, uint64_t tag);

  // The delivery time of the earliest packet still in the link, if any.
  // Packets come out in the order they were accepted, so this is also the
  // next time PopDue returns something.
  std::optional<int64_t> NextDeliveryUs() const;

  // Pops the earliest packet if it is due at or before `now_us`, writing its
  // tag and size; false if nothing is due.
  bool PopDue(int64_t now_us, uint64_t* tag, uint32_t* bytes);

  // Bytes waiting for the bottleneck at `now_us` (not yet being transmitted).
  int64_t QueuedBytes(int64_t now_us) const;

  // Packets accepted and not yet popped (queued, transmitting or propagating).
  size_t InFlightPackets() const { return count_; }

  const LinkCounters& counters() const { return counters_; }
  // Changes the bottleneck rate from now on (a capacity step): packets
  // already accepted keep their times, later ones are serialised at the new
  // rate after them. `rate_bps` as LinkConfig::rate_bps (0: unlimited).
  void SetRate(int64_t rate_bps);
  const LinkConfig& config() const { return config_; }

 private:
  struct Packet {
    uint64_t tag;
    int64_t start_us;    // transmission start, rounded up
    int64_t deliver_us;  // due at the far end
    uint32_t bytes;
  };

  // Seeded 64-bit uniform bits with a fixed, library-independent sequence
  // (std::mt19937_64's output is specified by the standard; the
  // distributions are not, so draws below are converted by hand).
  bool Chance(std::mt19937_64& rng, double p);
  bool DrawLoss();
  // Advances start_cursor_ past packets whose transmission has started.
  void AdvanceStarted(int64_t now_us);
  Packet& At(size_t i) { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  const Packet& At(size_t i) const { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  void Push(const Packet& p);

  LinkConfig config_;
  std::mt19937_64 loss_rng_;
  std::mt19937_64 ge_rng_;
  std::mt19937_64 jitter_rng_;
  bool ge_bad_ = false;

  int64_t last_now_us_ = INT64_MIN;
  // End of the last accepted transmission: tx_end_us_ + tx_end_rem_ / rate_bps.
  int64_t tx_end_us_ = INT64_MIN;
  int64_t tx_end_rem_ = 0;
  int64_t last_deliver_us_ = INT64_MIN;

  // Ring of packets in the link, in acceptance (= delivery) order; the size
  // is a power of two.
  std::vector<Packet> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  // Packets [start_cursor_, count_) had not started transmission at the
  // latest time seen; their bytes are unstarted_bytes_.
  size_t start_cursor_ = 0;
  int64_t unstarted_bytes_ = 0;

  LinkCounters counters_;
};

}  // namespace kcpp::linkem

#endif  // KCPP_TOOLS_LINKEM_LINK_MODEL_H_
