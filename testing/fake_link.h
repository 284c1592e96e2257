// FakeLink: one direction of a simulated lossy datagram network, for tests.
//
// Datagrams handed to Send() come out of DeliverDue() after a delay, or not
// at all, according to seeded random decisions: independent loss,
// Gilbert-Elliott burst loss, duplication, reordering (extra delay for some
// datagrams), delay with jitter, and single-byte corruption. The same seed and
// the same sequence of calls always give the same deliveries, so a failing
// run can be replayed exactly. Time is whatever the caller passes (usually a
// FakeClock); nothing here sleeps or reads a clock.
//
//   kcpp::test::FakeLink ab({.loss = 0.1, .delay_ms = 20, .seed = 7});
//   ab.Send(datagram, clock.now_ms());
//   ab.DeliverDue(clock.now_ms(), [&](absl::Span<const uint8_t> d) {
//     receiver.Input(d, clock.now_ms32());
//   });
//
// Not thread-safe. Copies every datagram (tests only; storage is recycled).
#ifndef KCPP_TESTING_FAKE_LINK_H_
#define KCPP_TESTING_FAKE_LINK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <random>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"

namespace kcpp::test {

struct FakeLinkOptions {
  // Probability that a datagram is dropped, independently of the others.
  double loss = 0.0;
  // Gilbert-Elliott burst loss: each datagram first moves the link between a
  // good and a bad state (good -> bad with `burst_enter`, bad -> good with
  // `burst_exit`); in the bad state it is dropped with `burst_loss`.
  double burst_enter = 0.0;
  double burst_exit = 0.5;
  double burst_loss = 1.0;
  // Probability that a (not dropped) datagram is delivered twice; the copy
  // gets its own delay.
  double duplicate = 0.0;
  // Probability that a datagram is held back `reorder_delay_ms` extra, so
  // later datagrams overtake it.
  double reorder = 0.0;
  uint32_t reorder_delay_ms = 30;
  // One-way delay: `delay_ms` plus a uniform jitter in [0, jitter_ms].
  // Jitter alone also reorders.
  uint32_t delay_ms = 0;
  uint32_t jitter_ms = 0;
  // Probability that one random byte of a delivered datagram is XOR-ed with
  // a random non-zero value.
  double corrupt = 0.0;
  // Datagrams waiting in the link beyond this are dropped (tail drop), so a
  // runaway sender cannot use unbounded memory.
  size_t max_in_flight = 1 << 20;
  uint64_t seed = 1;
};

struct FakeLinkStats {
  uint64_t sent = 0;        // Send() calls
  uint64_t dropped = 0;     // by random or burst loss, or tail drop
  uint64_t duplicated = 0;  // extra copies scheduled
  uint64_t reordered = 0;   // datagrams held back
  uint64_t corrupted = 0;   // datagrams with a flipped byte
  uint64_t delivered = 0;   // datagrams handed to DeliverDue callbacks
  uint64_t bytes_delivered = 0;
};

class FakeLink {
 public:
  explicit FakeLink(const FakeLinkOptions& options = {});

  // Offers `datagram` to the link at time `now_ms`.
  void Send(absl::Span<const uint8_t> datagram, uint64_t now_ms);

  // Calls `deliver` for every datagram due at or before `now_ms`, in order
  // of delivery time (ties in the order they were scheduled). Datagrams sent
  // from inside `deliver` with zero delay are delivered in the same call.
  // Returns how many were delivered.
  size_t DeliverDue(uint64_t now_ms, absl::FunctionRef<void(absl::Span<const uint8_t>)> deliver);

  // Time of the next delivery, if any datagram is in flight.
  std::optional<uint64_t> NextDeliveryTime() const;
  size_t in_flight() const { return queue_.size(); }
  const FakeLinkStats& stats() const { return stats_; }
  const FakeLinkOptions& options() const { return options_; }

 private:
  struct Pending {
    uint64_t due_ms;
    uint64_t order;
    size_t slot;  // index into storage_
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.due_ms != b.due_ms ? a.due_ms > b.due_ms : a.order > b.order;
    }
  };

  bool Chance(double p);
  void Schedule(absl::Span<const uint8_t> datagram, uint64_t due_ms);

  FakeLinkOptions options_;
  std::mt19937_64 rng_;
  bool bad_state_ = false;
  uint64_t next_order_ = 0;
  std::priority_queue<Pending, std::vector<Pending>, Later> queue_;
  std::vector<std::vector<uint8_t>> storage_;
  std::vector<size_t> free_slots_;
  FakeLinkStats stats_;
};

}  // namespace kcpp::test

#endif  // KCPP_TESTING_FAKE_LINK_H_
