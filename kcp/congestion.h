// Congestion control for the KCP engine: which algorithm decides how much a
// session may have in flight and how fast it may send.
//
// Every algorithm here changes only *when* the sender transmits, never what
// it puts on the wire, so receivers need nothing new and every ikcp, kcp-go
// and kcptun peer keeps working whatever the sender chooses.
//
//   kKcpGo  KCP's own window (docs/protocol.md §2.10), exactly as kcp-go and
//           ikcp.c: slow start and congestion avoidance per acknowledgement,
//           halving on a fast retransmission, collapse to one segment on a
//           timeout; off when the nodelay setting's `nc` is 1, as in kcp-go.
//           No pacing: a flush sends the whole window at once.
//   kNone   No congestion window at all: the sender is limited only by its
//           send window and the receiver's advertised window (what kcp-go
//           does with nc = 1, whatever nc says here). No pacing.
//   kBbr    A model-based controller in the manner of BBR (kcp/bbr.h): it
//           measures the path's bottleneck bandwidth and minimum RTT from
//           acknowledgements, paces transmissions at the measured rate and
//           keeps about two bandwidth-delay products in flight. Random loss
//           does not slow it down; a standing queue or heavy loss right
//           after it sped up does.
//
// The engine owns one CongestionController (Kcp::SetCongestionControl) and
// calls it from Input and Flush with the engine's clock, so controllers are
// sans-IO and deterministic under a simulated clock like the rest of kcp/.
// A controller that paces also needs the embedder to hold datagrams back:
// see Kcp::SetPacingGate and Kcp::pacing_rate.
//
// Thread safety: none; a controller belongs to its engine.
#ifndef KCPP_KCP_CONGESTION_H_
#define KCPP_KCP_CONGESTION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kcpp::kcp {

enum class CongestionControl : uint8_t { kKcpGo, kNone, kBbr };

// "kcp-go", "none", "bbr".
const char* CongestionControlName(CongestionControl cc);
// Parses the names above; anything else is InvalidArgument naming them.
absl::StatusOr<CongestionControl> ParseCongestionControl(absl::string_view name);

// A delivery-rate sample (the state of the newest segment an acknowledgement
// covered, as in the Linux kernel's and QUICHE's rate samplers): how many
// bytes were delivered over how long. Bytes are KCP bytes (segment header
// included) as the engine counts them.
struct RateSample {
  bool valid = false;
  // Bytes delivered between the sampled segment's transmission and its
  // acknowledgement, and the interval they took (the longer of the send
  // and the acknowledgement spans, so ACK compression cannot inflate it).
  uint64_t delivered = 0;
  int64_t interval_us = 0;
  // Round trip of the sampled segment (-1: a retransmitted segment, whose
  // acknowledgement may belong to an earlier transmission).
  int64_t rtt_us = -1;
  // The sender had nothing to send while the segment was in flight, so the
  // rate says only "at least this much".
  bool app_limited = false;
  // Total bytes delivered when the sampled segment was sent: acknowledgements
  // of segments sent after a given point in time carry a larger value, which
  // is how controllers count round trips.
  uint64_t prior_delivered = 0;
};

// What one Input call acknowledged.
struct AckEvent {
  int64_t now_us = 0;
  // Segments and bytes newly delivered (acknowledged, or passed by una).
  uint32_t delivered_segments = 0;
  uint64_t delivered_bytes = 0;
  // Total bytes delivered over the engine's life, this event included.
  uint64_t total_delivered = 0;
  // una moved forward (the kcp-go window grows only then).
  bool una_advanced = false;
  // Segments still unacknowledged in flight, after this event.
  uint32_t inflight_segments = 0;
  // The peer's advertised receive window and the engine's mss.
  uint32_t remote_window = 0;
  uint32_t mss = 0;
  RateSample sample;
};

// What one flush (re)transmitted.
struct FlushEvent {
  int64_t now_us = 0;
  // Retransmissions by cause (KCP's counters): on a timeout, on duplicate
  // acknowledgements (fast) and kcp-go's early retransmission.
  uint32_t timeouts = 0;
  uint32_t fast = 0;
  uint32_t early = 0;
  // Bytes of those retransmissions.
  uint64_t retransmitted_bytes = 0;
  // Segments in flight by sequence span (snd_nxt - snd_una) and
  // unacknowledged, after the flush.
  uint32_t inflight_span = 0;
  uint32_t inflight_segments = 0;
  // The window this flush allowed (min of send window, remote window and
  // the controller's window) and the fast-resend threshold (0xFFFFFFFF off).
  uint32_t window_used = 0;
  uint32_t fast_resend = 0;
  uint32_t mss = 0;
  // KCP's flush interval: a receiver holds its ACKs up to this long.
  uint32_t interval_ms = 0;
  // The engine has nothing more to send: its queue is empty and the flush
  // was stopped neither by a window nor by pacing, and KCP's window is not
  // full (an embedder's send gate, WaitSnd() < snd_wnd, closes with it, so
  // a full window empties the queue with data still waiting). Rate samples
  // taken while this holds only bound the bandwidth from below.
  bool app_limited = false;
};

class CongestionController {
 public:
  virtual ~CongestionController() = default;

  virtual CongestionControl kind() const = 0;
  // Acknowledgements (called once per Input that delivered something or
  // moved una).
  virtual void OnAck(const AckEvent& event) = 0;
  // After every full flush's transmissions (including one that sent
  // nothing).
  virtual void OnFlush(const FlushEvent& event) = 0;

  // Segments the controller allows, or kUnlimited. `span` windows limit
  // snd_nxt - snd_una (KCP's own window semantics); the others limit
  // unacknowledged segments in flight, so a hole waiting for a
  // retransmission does not stop new data.
  static constexpr uint32_t kUnlimited = 0xFFFFFFFFu;
  virtual uint32_t window() const = 0;
  virtual bool window_is_span() const = 0;
  // The retransmission timeout for a segment sent now, from KCP's estimate
  // (`rto_ms`, docs/protocol.md §2.9), its smoothed RTT and its interval.
  virtual uint32_t RetransmissionTimeout(uint32_t rto_ms, int32_t srtt_ms,
                                         uint32_t interval_ms) const {
    return rto_ms;
  }
  // Bytes per second (KCP bytes) to pace transmissions at; 0: unpaced.
  virtual uint64_t pacing_rate() const = 0;
  // True while the controller drains a queue it built on purpose (bbr's
  // DRAIN, after STARTUP overfilled the path): the losses found then are its
  // own, not the path's, and fec::AdaptiveParity does not count them.
  virtual bool draining() const { return false; }
  // The path's bandwidth-delay product by the controller's model, in KCP
  // bytes (0: no model, or none yet). fec::AdaptiveParity weighs it against
  // KCP's window: a window shorter than two of these stalls at every loss
  // FEC does not rebuild.
  virtual uint64_t path_bytes() const { return 0; }
  // Whether the engine should keep per-segment delivery state for
  // RateSample (costs 32 bytes per send-ring slot).
  virtual bool wants_rate_samples() const = 0;

  // For counters and tests: the controller's state in one line.
  virtual std::string DebugString() const = 0;
};

// The controller for `cc`. `seed` varies the starting point of periodic
// behaviour between sessions (BBR's gain cycle); any value is valid.
std::unique_ptr<CongestionController> MakeCongestionController(CongestionControl cc,
                                                               uint64_t seed);

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_CONGESTION_H_
