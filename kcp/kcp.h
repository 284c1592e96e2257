// Kcp: the KCP ARQ engine, byte-compatible with ikcp.c 1.7 and kcp-go.
//
// Sans-IO: datagrams go in through Input(), come out through an OutputSink,
// and time is passed in as milliseconds. No sockets, threads, clocks or
// globals. The wire format is docs/protocol.md §2.1; behaviour follows one of
// two flavors chosen at construction (docs/protocol.md §2.15):
//
//   Flavor::kIkcp   ikcp.c 1.7 exactly (IKCP_FASTACK_CONSERVE on):
//                   rcv_wnd default/minimum 128, every ACK is an RTT sample
//                   taken at the last Update()'s time, Jacobson RTO,
//                   rto+rx_rto/8 first timer, fastlimit, ACKs only on flush,
//                   PROBE_INIT 7000.
//   Flavor::kKcpGo  kcp-go (docs/protocol.md §2.6-§2.15, KG-HEAD v5.6.72 where
//                   it differs from 5.6.1; every choice below keeps 5.6.1
//                   peers working since none changes the wire format):
//                   rcv_wnd default 32 without minimum; ACK filter (§2.6);
//                   Input flushes at once when una advances or a fast-ack
//                   threshold is reached, sends an ACK-only datagram when
//                   mtu/24 ACKs are pending ("ACK clocking", HEAD §2.6) or
//                   ack_nodelay is set; one RTT sample per datagram (the last
//                   ACK's ts) at Input's `now_ms`, RFC 6298 estimator (§2.9);
//                   first timer rx_rto; back-off +rx_rto / +rx_rto/2 (§2.7);
//                   fast retransmit once per RTO cycle (HEAD's 0xFFFFFFFF
//                   sentinel) and early retransmit (§2.7); acked segments
//                   marked and dropped when una passes; PROBE_INIT 500 (HEAD,
//                   §2.11); ACK-only flushes still run probe and queue->buffer
//                   phases (HEAD §2.7). One clock value per call: kcp-go
//                   re-reads its clock per segment, which a sans-IO engine
//                   cannot and peers cannot observe beyond ±1 ms in `ts`.
//
// Window probes (both flavors; docs/protocol.md §2.11): while the peer
// advertises a zero window, a flush sends a WASK at PROBE_INIT and then
// at growing intervals (up to 120 s), as ikcp and kcp-go do, but only
// while data waits in the send queue and only once the peer has
// acknowledged something this engine sent (an ACK or una that took a
// segment off the send buffer). ikcp and kcp-go probe whenever the window
// is zero, so one forged datagram advertising a zero window made them
// send probes to its (possibly spoofed) source for as long as the session
// lived; here such a datagram buys at most the ACK it asks for. The peer
// side is unchanged (a WASK is answered with a WINS, and a reopened queue
// announces itself), so kcp-go peers interoperate: a kcp-go receiver
// whose window really is zero has acknowledged what filled it, and a
// sender with data waiting probes it as kcp-go would. A conforming peer
// cannot advertise a zero window before acknowledging anything (its
// receive queue would hold nothing of ours); if a forged one does, the
// queued data waits for the peer's next segment, which carries its real
// window.
//
// Sessions choose with transport's SessionOptions::kcp_flavor (kKcpGo by
// default). How much may be in flight, and how fast it leaves, is the
// congestion controller's (kcp/congestion.h, SetCongestionControl); KCP's own
// window of either flavor is the default one.
//
// Typical use by an event loop (kcp-go style scheduling, §5.6):
//
//   Kcp kcp(conv, &sink);                      // sink: FEC/crypt/UDP
//   kcp.SetNoDelay(1, 10, 2, 1);               // "fast3"
//   kcp.SetHeadroom(fec_and_crypt_header_bytes, aead_tag_bytes);
//   kcp.Write(bytes, now);                     // or Send() + Flush()
//   kcp.Input(datagram, now);                  // per received datagram
//   while ((n = kcp.Recv(buf)) >= 0) Consume(buf, n);
//   next_flush = now + kcp.Flush(now);         // at the timer
//   if (kcp.Idle()) park the timer until the next Input/Send;
//
// or ikcp style: Update(now) on a timer and Check(now) for when to call it
// next (ikcp_check semantics).
//
// Output with headroom and no copy: for each datagram the engine asks the
// sink for a buffer, writes KCP bytes at offset headroom() and hands the
// buffer back with Emit(); the FEC and crypt layers then write their headers
// into the headroom in place (docs/architecture.md).
//
// Memory (x86-64): sizeof(Kcp) is at most 456 bytes, and an idle session
// holds nothing else but its congestion controller (48 bytes for KCP's own
// window, about 250 for kBbr) and its 32-byte private SegmentPool object
// (nothing with a shared pool; plus one MTU-sized buffer with the
// DatagramFn convenience constructor). Descriptor rings and payload blocks are allocated on first
// use and, after 5 s without queued, in-flight, unread or newly arrived
// data, given back (blocks to the allocator with a private pool, to the
// shared pool otherwise); Dormant() reports that state. A busy session with
// kcp-go's default windows (32/32, MTU 1400) holds 1.5 KiB of send
// descriptors (48 bytes each with their scan state), 1 KiB of receive slots
// (16 bytes, two per window slot) and one 1.5 KiB block per segment it
// holds. No allocation per segment once the rings and the pool have reached
// the session's working set (alloc_test, kcp_benchmark count them).
//
// Thread safety: none; one engine belongs to one thread (and so does its
// SegmentPool and OutputSink).
#ifndef KCPP_KCP_KCP_H_
#define KCPP_KCP_KCP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "kcp/congestion.h"
#include "kcp/segment.h"
#include "kcp/segment_pool.h"

namespace kcpp::kcp {
namespace internal {
class KcpGoWindow;
class SendScan;
struct SentState;
class RateSampler;
}  // namespace internal

// Holds data back for a pacing congestion controller (Kcp::SetPacingGate).
// Implemented by the embedder, which knows what a datagram costs on the wire
// (FEC parity, cipher headers) and when it really leaves.
class PacingGate {
 public:
  virtual ~PacingGate() = default;
  // Whether a new datagram carrying data (new or retransmitted segments) may
  // be started at `now_us`. ACKs and window probes are never held back.
  // Once it says no, the rest of that flush sends no data; the embedder
  // flushes again when the gate opens.
  virtual bool MaySend(int64_t now_us) = 0;
};

// Behaviour profile (see the file comment). Wire format is identical.
enum class Flavor : uint8_t { kIkcp, kKcpGo };

// Input() results: ikcp_input's codes (docs/protocol.md §2.1). Segments before
// the offending one have already been applied.
inline constexpr int kInputOk = 0;
// The datagram is shorter than 24 bytes, or a segment's conv is not ours.
inline constexpr int kInputInvalid = -1;
// A segment's `len` exceeds the bytes that follow its header.
inline constexpr int kInputTruncated = -2;
// A segment's `cmd` is not PUSH, ACK, WASK or WINS.
inline constexpr int kInputBadCommand = -3;

// Recv() errors, ikcp_recv's codes for both flavors (kcp-go reports
// "incomplete" as -1 and "too small" as -2; only the numbers differ).
inline constexpr int kRecvEmpty = -1;           // nothing received
inline constexpr int kRecvIncomplete = -2;      // a fragmented message is not complete
inline constexpr int kRecvBufferTooSmall = -3;  // buffer < PeekSize()

// Send() errors.
inline constexpr int kSendEmpty = -1;     // kKcpGo: empty data (ikcp queues one empty segment)
inline constexpr int kSendTooLarge = -2;  // needs too many fragments (see Send)

// Per-engine counters with kcp-go's SNMP meanings (docs/protocol.md §5.9).
struct KcpCounters {
  uint64_t out_segs = 0;              // OutSegs: segment headers written (any cmd)
  uint64_t in_segs = 0;               // InSegs: segments of datagrams Input accepted
  uint64_t retrans_segs = 0;          // RetransSegs = lost + fast + early
  uint64_t fast_retrans_segs = 0;     // FastRetransSegs
  uint64_t early_retrans_segs = 0;    // EarlyRetransSegs (kKcpGo only)
  uint64_t lost_segs = 0;             // LostSegs: RTO retransmissions
  uint64_t repeat_segs = 0;           // RepeatSegs: PUSH not stored (dup / out of window)
  uint64_t in_errors = 0;             // KCPInErrors: Input returned non-zero
  uint64_t in_datagrams = 0;          // Input calls
  uint64_t in_bytes = 0;              // bytes passed to Input
  uint64_t out_datagrams = 0;         // datagrams emitted
  uint64_t out_bytes = 0;             // KCP bytes emitted (headroom excluded)
  uint64_t output_buffer_errors = 0;  // datagrams dropped: sink buffer too small
  // Segments sent once and acknowledged after a later one: a receiver
  // acknowledges in the order it takes segments in, so these reached it
  // late, rebuilt by FEC or reordered by the path. Resent segments are
  // RetransSegs' instead. kcpp only: with RetransSegs, the losses that FEC
  // repaired before any resend too (fec::AdaptiveParity's input).
  uint64_t late_acked_segs = 0;
};

// Where datagrams go. Implemented by the transport (FEC, crypt, UDP).
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // A writable buffer of at least headroom + mtu + tailroom bytes (the
  // engine's settings). Called once per datagram, right before the engine
  // writes its first segment into it.
  virtual absl::Span<uint8_t> AcquireBuffer() = 0;
  // `buffer` (as returned by AcquireBuffer) holds one datagram's KCP bytes
  // at [headroom, headroom + length); ownership passes back to the sink.
  // length == 0 means the engine could not use the buffer (it was smaller
  // than required) and dropped the datagram; the sink just recycles it.
  // Emit (and AcquireBuffer) must not call back into the same engine: queue
  // the datagram, or hand it to another engine/layer.
  virtual void Emit(absl::Span<uint8_t> buffer, size_t length) = 0;
};

class Kcp {
 public:
  // Receives each datagram's KCP bytes; the span is valid during the call.
  using DatagramFn = std::function<void(absl::Span<const uint8_t> datagram)>;

  // `sink` is not owned and must outlive the engine. `pool` (optional, not
  // owned, must outlive the engine) is shared payload storage; without it
  // the engine keeps a private pool.
  Kcp(uint32_t conv, OutputSink* sink, Flavor flavor = Flavor::kKcpGo, SegmentPool* pool = nullptr);
  // Convenience for tests and ikcp-style callers: an internal buffer and a
  // callback with the datagram (headroom still honoured, so the callback's
  // span is preceded by headroom() writable bytes).
  Kcp(uint32_t conv, DatagramFn output, Flavor flavor = Flavor::kKcpGo,
      SegmentPool* pool = nullptr);
  ~Kcp();
  Kcp(const Kcp&) = delete;
  Kcp& operator=(const Kcp&) = delete;

  // ---- Data -------------------------------------------------------------

  // Queues `data` (ikcp_send / kcp-go Send, docs/protocol.md §2.4). Message
  // mode: one message of ceil(len/mss) fragments (at least one), at most
  // 127 (kIkcp: count < IKCP_WND_RCV) or 255 (kKcpGo), else kSendTooLarge.
  // Stream mode: first tops up the last queued segment to mss, then cuts
  // the rest into mss pieces with frg 0. Returns the bytes queued (>= 0;
  // kIkcp stream mode may queue a prefix and return its length where ikcp
  // does) or kSendEmpty / kSendTooLarge. Nothing is sent until a flush.
  int Send(absl::Span<const uint8_t> data);

  // kcp-go's UDPSession.Write core (docs/protocol.md §5.3, KG-HEAD): cuts
  // `data` into pieces of at most mss bytes, Send()s each (so messages never
  // carry frg > 0, as from a kcp-go session), then flushes at `now_ms`
  // unless write_delay() is set and WaitSnd() < snd_wnd. Queues everything
  // even past the window; callers wait for CanWrite() first. Returns
  // data.size().
  size_t Write(absl::Span<const uint8_t> data, uint32_t now_ms);
  // kcp-go's Write gate (KG-HEAD): WaitSnd() < snd_wnd.
  bool CanWrite() const { return WaitSnd() < snd_wnd_; }

  // Copies the next whole message into `buffer` and removes it. Returns its
  // length, or kRecvEmpty / kRecvIncomplete / kRecvBufferTooSmall. In
  // stream mode each segment is a "message". If the receive queue was full
  // before the call and no longer is, the next flush advertises the window
  // (WINS, "fast recover", §2.5).
  int Recv(absl::Span<uint8_t> buffer);
  // Length of the next whole message, or -1 if there is none (ikcp_peeksize).
  int PeekSize() const;

  // Feeds one datagram (KCP bytes only: FEC/crypt headers already removed).
  // Returns kInputOk or an error code above; never reads outside
  // `datagram`. `now_ms` is used by kKcpGo for the RTT sample and the
  // immediate flushes (kIkcp, like ikcp_input, uses the time of the last
  // Update/Flush). `fec_recovered`: the datagram was rebuilt by FEC; it then
  // takes no RTT sample, does not update rmt_wnd and does not count as
  // repeat (kcp-go, docs/protocol.md §2.5/§2.9/§4.5; applied in both flavors).
  // May emit datagrams before returning: kKcpGo's immediate flushes, ACKs
  // with ack_nodelay, and (both flavors) an ACK-only datagram when a flood
  // of PUSH segments has queued max(1024, 4 * rcv_wnd) ACKs.
  int Input(absl::Span<const uint8_t> datagram, uint32_t now_ms, bool fec_recovered = false);

  // Receive batching (an event loop that reads many datagrams per wakeup):
  // with deferral on, kKcpGo's Input does not flush by itself (the
  // immediate flushes of §2.6 and ack_nodelay); it remembers the strongest
  // one asked for, and FlushDeferred() performs it once after the batch.
  // The peer sees the same ACKs, in fewer datagrams (one carries ~mtu/24).
  void SetDeferInputFlush(bool on);
  bool input_flush_deferred() const { return deferred_ < kNoDeferredFlush; }
  void FlushDeferred(uint32_t now_ms);

  // Makes the next flush send a WINS segment (the receive window, §2.1).
  // Every KCP peer accepts it and only updates its view of our window, so it
  // doubles as a keepalive that carries nothing.
  void AnnounceWindow();

  // ---- Time -------------------------------------------------------------

  // ikcp_update: flushes if the flush deadline (ts_flush) is due, then
  // moves it one interval on (docs/protocol.md §2.12). The first call starts
  // the clock.
  void Update(uint32_t now_ms);
  // ikcp_check: the time Update() should next be called if nothing is
  // input or sent meanwhile: `now_ms` if a flush or retransmission is due,
  // else the earliest of ts_flush, the earliest retransmission and
  // now + interval. Acknowledged segments are ignored.
  uint32_t Check(uint32_t now_ms) const;
  // Flushes now (kcp-go `flush(IKCP_FLUSH_FULL)`): ACKs, probes, new data,
  // retransmissions. Returns the delay in ms until the next flush is needed:
  // min(interval, earliest retransmission - now), >= 1 (kcp-go sessions
  // reschedule at now + this, §5.6). kIkcp, like ikcp_flush, sends nothing
  // before the first Update() (the delay is still returned).
  uint32_t Flush(uint32_t now_ms);
  // True when a flush would neither send nor change anything: no pending
  // ACK or probe, nothing queued or in flight (a zero remote window with
  // nothing queued is nothing to probe for). A
  // scheduler may then stop calling Update/Flush until the next Send/Input
  // (and call TrimIdle now and then to get memory back).
  bool Idle() const;
  // Idle() and holding no memory besides the object itself (rings and
  // blocks already given back): nothing at all to do until the next
  // Send/Input.
  bool Dormant() const;
  // For a scheduler driving the engine with Flush (kcp-go style): when the
  // next flush has something to do. `now_ms` if a first transmission is
  // waiting; the interval after the last flush while ACKs or a probe are
  // owed, data waits for the window (unless it is a zero window this
  // engine may not probe: see "Window probes") or an early retransmission may be due
  // (kcp-go flushes every interval then); otherwise the earliest
  // retransmission timeout (a lower bound: acknowledgements only make it
  // later, and a flush at the bound finds nothing due and reports the
  // next). False when Idle(): no flush is needed until the next Send/Input.
  // Unlike Check(), an engine waiting only for acknowledgements is not
  // woken every interval.
  bool NextFlush(uint32_t now_ms, uint32_t* at) const;

  // Gives the rings and blocks back once the engine has held no data for
  // 5 s (Update and Flush do this on their own; an idle session whose
  // scheduler stopped calling them calls this from a slow timer).
  void TrimIdle(uint32_t now_ms) { NoteIdle(now_ms); }

  // ---- Configuration ----------------------------------------------------

  // ikcp_nodelay / kcp-go NoDelay (§2.13): nodelay (0 off, 1 on, 2 = ikcp's
  // gentler back-off; sets rx_minrto 30 or 100 ms), interval in ms (clamped
  // to [10, 5000]), fast resend threshold (0 off), nc (1 disables congestion
  // control). Negative arguments leave a value unchanged. Presets (kcptun):
  // normal 0,40,2,1; fast 0,30,2,1; fast2 1,20,2,1; fast3 1,10,2,1.
  void SetNoDelay(int nodelay, int interval, int resend, int nc);
  // ikcp_interval: clamps to [10, 5000] ms.
  void SetInterval(int interval_ms);
  // Window sizes in segments; values <= 0 leave a side unchanged. kIkcp
  // raises rcv to at least 128 as ikcp_wndsize does. Windows above 65535
  // are rejected (InvalidArgument): `wnd` on the wire is 16 bits.
  absl::Status SetWindowSize(int snd_wnd, int rcv_wnd);
  // MTU: the KCP bytes of one datagram (headroom not included); mss = mtu -
  // 24. Fails with InvalidArgument below 50 or above 65535 (ikcp's minimum;
  // the maximum keeps datagrams UDP-sized), and with FailedPrecondition if a
  // queued segment is longer than the new mss.
  absl::Status SetMtu(uint32_t mtu);
  // Bytes the engine leaves free before (headroom) and after (tailroom) the
  // KCP bytes of every output buffer, for FEC and crypt headers and an AEAD
  // tag. The sink's buffers must hold headroom + mtu + tailroom.
  absl::Status SetHeadroom(size_t headroom, size_t tailroom = 0);
  // Stream mode (§2.4): bytes, not messages; every frg is 0.
  void SetStreamMode(bool stream) { stream_ = stream; }
  // kcp-go SetACKNoDelay: after every Input with pending ACKs, send them at
  // once (ACK-only flush).
  void SetAckNoDelay(bool on) { ack_nodelay_ = on; }
  // Until segment 0 has arrived, PUSH segments after it are neither
  // acknowledged nor kept (the peer sends them again). For a conversation
  // created by the first datagram from a peer: if that peer's segment 0
  // went elsewhere (a session that ended), nothing is acknowledged that can
  // never be delivered; if it was only lost, the rest waits one RTO.
  void SetAwaitFirstSegment(bool on) { await_first_ = on; }
  // SetAwaitFirstSegment is on and segment 0 has not arrived yet.
  bool awaiting_first_segment() const { return await_first_ && rcv_nxt_ == 0; }
  // kcp-go SetWriteDelay: Write() leaves the flush to the next scheduled
  // one unless the window is full.
  void SetWriteDelay(bool on) { write_delay_ = on; }
  // Transmissions of one segment that mark the link dead (default 20).
  void SetDeadLink(uint32_t xmit) { dead_link_ = xmit; }
  // kIkcp: how many times one segment may be fast-retransmitted (ikcp
  // fastlimit, default 5; <= 0 unlimited). kKcpGo ignores it.
  void SetFastLimit(int limit) { fastlimit_ = limit; }

  // Congestion control (kcp/congestion.h); kKcpGo by default, which is the
  // reference behaviour of either flavor. `seed` varies periodic behaviour
  // between sessions (0: the conv). Only before the first segment is sent:
  // FailedPrecondition afterwards.
  absl::Status SetCongestionControl(CongestionControl cc, uint64_t seed = 0);
  CongestionControl congestion() const;
  const CongestionController& congestion_controller() const { return *cc_; }
  // Bytes per second (KCP bytes) the controller wants transmissions paced
  // at; 0: no pacing (kKcpGo, kNone).
  uint64_t pacing_rate() const;
  // Consulted before each datagram with data (see PacingGate); not owned,
  // null (the default) sends as the windows allow.
  void SetPacingGate(PacingGate* gate) { gate_ = gate; }
  // The embedder's clock in microseconds, for the controller's rate and RTT
  // samples: once called, call it before every Input, Flush, Update and
  // FlushDeferred. Without it the controller sees the calls' milliseconds.
  void SetClockMicros(int64_t now_us) {
    precise_clock_ = true;
    clock_us_ = now_us;
  }

  // ---- State ------------------------------------------------------------

  uint32_t conv() const { return conv_; }
  Flavor flavor() const { return flavor_; }
  uint32_t mtu() const { return mtu_; }
  uint32_t mss() const { return mss_; }
  size_t headroom() const { return headroom_; }
  size_t tailroom() const { return tailroom_; }
  bool stream_mode() const { return stream_; }
  bool ack_nodelay() const { return ack_nodelay_; }
  bool write_delay() const { return write_delay_; }
  uint32_t interval() const { return interval_; }
  uint32_t nodelay() const { return nodelay_; }
  int fast_resend() const { return fastresend_; }
  // kKcpGo's window is obeyed (nc = 0); other controllers say so themselves.
  bool congestion_control() const { return !nocwnd_; }
  uint32_t snd_wnd() const { return snd_wnd_; }
  uint32_t rcv_wnd() const { return rcv_wnd_; }
  // Window the peer advertised in its last (non-FEC-recovered) segment.
  uint32_t rmt_wnd() const { return rmt_wnd_; }
  // The controller's window in segments (kKcpGo: its cwnd, kept even with
  // nc = 1) and kKcpGo's ssthresh (0 for other controllers).
  uint32_t cwnd() const;
  uint32_t ssthresh() const;
  // RTT estimator state in ms (§2.9).
  int32_t srtt() const { return rx_srtt_; }
  int32_t rttvar() const { return rx_rttval_; }
  uint32_t rto() const { return rx_rto_; }
  uint32_t min_rto() const { return rx_minrto_; }
  uint32_t snd_una() const { return snd_una_; }
  uint32_t snd_nxt() const { return snd_nxt_; }
  uint32_t rcv_nxt() const { return rcv_nxt_; }
  // Segments queued or in flight and not yet acknowledged (ikcp_waitsnd;
  // kKcpGo counts acknowledged-but-not-yet-passed-by-una ones, as kcp-go).
  uint32_t WaitSnd() const;
  // Segments received in order and not yet read / received out of order.
  uint32_t RecvQueueSize() const { return nrcv_que_; }
  uint32_t RecvBufferSize() const { return nrcv_buf_; }
  // ikcp `state`: 0, or 0xFFFFFFFF once a segment was sent dead_link times.
  uint32_t state() const { return state_; }
  // The peer has acknowledged (by ACK or una) a segment this engine sent:
  // only then does a zero window get probed (see "Window probes").
  bool peer_acknowledged() const { return peer_acked_; }
  bool dead_link() const { return state_ != 0; }
  const KcpCounters& counters() const { return counters_; }
  // Heap bytes this engine holds besides sizeof(Kcp) (rings, ACK list,
  // payload blocks of a private pool).
  size_t MemoryFootprint() const;

 private:
  struct SndSeg;
  struct RcvSlot;
  struct AckItem {
    uint32_t sn;
    uint32_t ts;
  };
  class CallbackSink;
  enum class FlushKind : uint8_t { kAckOnly, kFull };
  static constexpr uint8_t kNoDeferredFlush = 0xFE;
  static constexpr uint8_t kDeferOff = 0xFF;

  void Init();
  // Output assembly.
  uint8_t* Reserve(size_t need);
  void MakeSpace(size_t need) {
    if (out_size_ != 0 && out_size_ + need > mtu_) EmitDatagram();
  }
  void EmitDatagram();
  void WriteSegment(const SegmentHeader& h, const SegmentPool::Block* data);
  void WriteAcks(uint32_t* last_sn, uint32_t* last_ts);

  uint32_t FlushInternal(FlushKind kind, uint32_t now);
  uint32_t WndUnused() const { return nrcv_que_ < rcv_wnd_ ? rcv_wnd_ - nrcv_que_ : 0; }

  // Send ring: snd_buf (in flight) then snd_queue, in sn order.
  SndSeg& SndAt(uint32_t i);
  const SndSeg& SndAt(uint32_t i) const;
  void GrowSndRing(uint32_t min_capacity);
  void PushSnd(SegmentPool::Block* data, uint32_t len, uint8_t frg);
  void PopSndFront();
  void ForgetInFlight(const SndSeg& s);
  uint32_t ScanStateOf(const SndSeg& s) const;
  void Restate(uint32_t slot);
  void CheckFlushBookkeeping() const;
  void ParseUna(uint32_t una, bool* removed);
  void ShrinkBuf();
  void ParseAck(uint32_t sn);
  void CountLateAcks(absl::Span<const uint8_t> datagram);
  bool ParseFastAckKcpGo(uint32_t sn, uint32_t ts);
  void ParseFastAckIkcp(uint32_t sn, uint32_t ts);
  void UpdateAckIkcp(int32_t rtt);
  void UpdateAckKcpGo(int32_t rtt);
  void PushAck(uint32_t sn, uint32_t ts, uint32_t now);

  // Receive ring: slot sn & (rcv_cap_ - 1) for sn in
  // [rcv_nxt - nrcv_que, rcv_nxt + rcv_wnd).
  RcvSlot& RcvAt(uint32_t sn);
  const RcvSlot& RcvAt(uint32_t sn) const;
  void GrowRcvRing(uint32_t min_capacity);
  bool ParseData(uint32_t sn, uint8_t frg, absl::Span<const uint8_t> payload);
  void MoveReceived();

  SegmentPool::Block* StoreBytes(const uint8_t* src, size_t len);
  void AppendBytes(SndSeg& seg, const uint8_t* src, size_t len);
  void ReleaseIdleMemory();
  void NoteIdle(uint32_t now);

  // Identity and configuration.
  const uint32_t conv_;
  const Flavor flavor_;
  bool stream_ = false;
  bool nocwnd_ = false;
  bool ack_nodelay_ = false;
  bool write_delay_ = false;
  bool updated_ = false;
  bool idle_marked_ = false;
  // Input flush deferral: kDeferOff, kNoDeferredFlush (on, nothing
  // pending) or the FlushKind Input asked for.
  uint8_t deferred_ = kDeferOff;
  uint32_t mtu_, mss_;
  uint32_t headroom_ = 0, tailroom_ = 0;
  uint32_t state_ = 0;
  uint32_t snd_una_ = 0, snd_nxt_ = 0, rcv_nxt_ = 0;
  int32_t rx_rttval_ = 0, rx_srtt_ = 0;
  uint32_t rx_rto_, rx_minrto_;
  uint32_t snd_wnd_, rcv_wnd_, rmt_wnd_, probe_ = 0;
  uint32_t current_ = 0, interval_, ts_flush_, xmit_ = 0;
  uint32_t nodelay_ = 0;
  uint32_t ts_probe_ = 0, probe_wait_ = 0, probe_init_;
  uint32_t dead_link_;
  int32_t fastresend_ = 0, fastlimit_;
  uint32_t idle_since_ = 0;
  // The highest sn an ACK segment has named so far (counters_.late_acked_segs;
  // here and below: it fills padding).
  uint32_t max_ack_entry_sn_ = 0;

  // Send ring, and the flush's view of each of its snd_buf slots
  // (internal/send_scan.h); both exist only while the ring does.
  std::unique_ptr<SndSeg[]> snd_;
  std::unique_ptr<internal::SendScan> scan_;
  uint32_t snd_cap_ = 0, snd_head_ = 0;
  uint32_t nsnd_buf_ = 0, nsnd_que_ = 0;
  uint32_t snd_acked_ = 0;  // acked segments still in snd_buf
  // Bookkeeping that lets a flush skip the snd_buf scan when nothing in it
  // can be due: unsent segments, segments with a pending fast-ack count,
  // and the earliest retransmission time of the unacknowledged ones.
  enum class ResendBound : uint8_t { kNone, kExact, kStale };
  uint32_t unsent_ = 0;
  uint32_t fast_pending_ = 0;
  uint32_t min_resend_ = 0;
  ResendBound resend_bound_ = ResendBound::kNone;
  bool await_first_ = false;  // SetAwaitFirstSegment (here: it fills padding)
  // The peer has acknowledged a segment of ours: window probes allowed.
  bool peer_acked_ = false;
  // Receive ring.
  std::unique_ptr<RcvSlot[]> rcv_;
  uint32_t rcv_cap_ = 0, rcv_wnd_max_ = 0;
  uint32_t nrcv_que_ = 0, nrcv_buf_ = 0;
  std::vector<AckItem> acks_;

  // Output in progress.
  absl::Span<uint8_t> out_buf_;
  size_t out_size_ = 0;

  // Congestion control: the controller, KCP's own window when that is it,
  // and (for controllers that want rate samples) the sampler with one
  // SentState per send-ring slot.
  std::unique_ptr<CongestionController> cc_;
  internal::KcpGoWindow* kcpgo_window_ = nullptr;
  struct RateState;
  std::unique_ptr<RateState> rate_;
  PacingGate* gate_ = nullptr;
  uint32_t delivered_now_ = 0;  // segments delivered during this Input
  bool precise_clock_ = false;
  bool seen_ack_entry_ = false;
  int64_t clock_us_ = 0;
  uint32_t clock_ms_ = 0;  // the last call's ms, to extend it to 64 bits
  int64_t NowUs(uint32_t now_ms);

  SegmentPool* pool_;
  std::unique_ptr<SegmentPool> own_pool_;
  OutputSink* sink_;
  std::unique_ptr<OutputSink> own_sink_;
  KcpCounters counters_;
};

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_KCP_H_
