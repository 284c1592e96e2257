// SessionCore: the loop-side half of a session — KCP + FEC + cipher + pacing,
// driven by datagrams, kicks from application threads and one timer at the
// next KCP deadline (docs/architecture.md "A packet's way out and in").
//
// Way out: the application's bytes move from the SessionChannel into KCP as
// the send window allows. KCP writes each datagram into a pool buffer at
// offset crypt header + FEC header; the FEC encoder stamps its header in
// place (and, at the end of a group, produces parity packets in further pool
// buffers); the cipher seals each packet in place; the buffer is queued on
// the UDP endpoint, which sends everything an iteration produced in one
// sendmmsg. No copy of the payload between KCP and the socket.
//
// Way in: cipher open (done by the listener for accepted sessions, which
// needs the plaintext to demultiplex), FEC decode (data passes straight
// through; recovered packets follow, marked so they take no RTT sample),
// KCP input, then KCP's ordered bytes into the channel while it has room.
//
// Timers: KCP's next deadline (ikcp_check) while anything is queued, in
// flight, unacknowledged or to be probed; none at all while idle (Kcp::Idle),
// so an idle session costs no wakeups. Plus the pacing release time, the
// idle timeout and the close linger when those apply.
//
// Loop thread only.
#ifndef KCPP_TRANSPORT_INTERNAL_SESSION_CORE_H_
#define KCPP_TRANSPORT_INTERNAL_SESSION_CORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "crypt/packet_cipher.h"
#include "crypt/replay_window.h"
#include "fec/adaptive_parity.h"
#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "kcp/kcp.h"
#include "kcp/pacer.h"
#include "transport/counters.h"
#include "transport/event_loop.h"
#include "transport/internal/session_shared.h"
#include "transport/internal/udp_endpoint.h"
#include "transport/internal/worker.h"
#include "transport/session.h"

namespace kcpp::transport::internal {

class ListenerSocket;

class SessionCore final : public LoopObject,
                          public UdpEndpoint::Receiver,
                          public EventLoop::TimerHandler,
                          public kcp::OutputSink,
                          public fec::ParitySink {
 public:
  // `endpoint` sends this session's datagrams: the listener's socket on this
  // loop for accepted sessions (then `listener` is set), or, for dialled
  // sessions, null until AdoptEndpoint() hands over the session's own.
  static absl::StatusOr<std::unique_ptr<SessionCore>> Create(
      Worker* loop, std::shared_ptr<SessionShared> shared,
      std::shared_ptr<const crypt::PacketCipher> cipher, UdpEndpoint* endpoint,
      ListenerSocket* listener);
  ~SessionCore() override;

  // Dialled sessions: the session's own socket (whose receiver is this core).
  void AdoptEndpoint(std::unique_ptr<UdpEndpoint> endpoint);
  // Starts the session's clocks (idle timeout) at `now_ms`.
  void Start(int64_t now_ms);

  // A datagram for this session whose crypt layer is already removed
  // (`payload` = FEC header or KCP bytes). `wire_bytes`: its size on the wire.
  void OnPayload(absl::Span<uint8_t> payload, size_t wire_bytes, int64_t now_ms,
                 bool from_remote = true);
  // A datagram that failed the cipher check but was addressed to us.
  void OnChecksumError() { ++counters_.checksum_errors; }
  // A decrypted datagram with this session's conv from another address
  // (the peer's NAT may have rebound): fed to the session; follows the peer
  // there when ListenerOptions::follow_address_changes says so. With replay
  // protection, `stamp` is its nonce and a replay is dropped first, so it
  // can never move the session.
  void OnPayloadFromNewAddress(absl::Span<uint8_t> payload, const SocketAddress& from,
                               size_t wire_bytes, int64_t now_ms,
                               const crypt::ReplayStamp* stamp = nullptr);
  // Replay protection (SessionOptions::replay_protection): true if the
  // peer's counter in `stamp` is new to this session's window (it is then
  // recorded); false counts a replay. The datagram must have authenticated.
  bool AdmitStamp(const crypt::ReplayStamp& stamp);
  bool replay_protected() const { return replay_ != nullptr; }

  // UdpEndpoint::Receiver (dialled sessions): source check, open, OnPayload.
  void OnDatagram(absl::Span<uint8_t> datagram, const SocketAddress& from, int64_t now_ms) override;

  // LoopObject.
  void OnKick(int64_t now_ms) override;
  // The receive batch is over: send the ACKs (and data) KCP's Input asked
  // for, once for all of the batch's datagrams.
  void OnIterationEnd(int64_t now_ms) override;
  void OnShutdown() override;
  Counters FinalCounters() const override { return LiveCounters(); }
  Counters LiveCounters() const override;

  // TimerHandler.
  void OnTimer(int64_t now_ms) override;

  // kcp::OutputSink.
  absl::Span<uint8_t> AcquireBuffer() override;
  void Emit(absl::Span<uint8_t> buffer, size_t length) override;
  // fec::ParitySink.
  bool AcquireParityBuffers(size_t size, absl::Span<absl::Span<uint8_t>> buffers) override;
  void EmitParity(absl::Span<uint8_t> packet) override;

  // Requests from the handle, run on the loop.
  void SetCallbacks(SessionCallbacks callbacks);
  absl::Status Tune(const SessionTuning& tuning);
  absl::Status SendOob(absl::Span<const uint8_t> data);
  size_t oob_max_size() const;
  SessionInfo Info() const;
  // The listener is going away with close_sessions: close as Session::Close.
  void CloseFromListener();
  // The peer started a new conversation from the same address (§5.2).
  void Replace();

  uint64_t id() const { return shared_->id(); }
  uint32_t conv() const { return shared_->conv(); }
  const SocketAddress& remote() const { return remote_; }
  bool finished() const { return finished_; }
  // It failed because its peer's conversation began before it (segment 0
  // never arrived): the listener refuses that conversation from then on.
  bool began_elsewhere() const { return began_elsewhere_; }

 private:
  SessionCore(Worker* loop, std::shared_ptr<SessionShared> shared,
              std::shared_ptr<const crypt::PacketCipher> cipher, UdpEndpoint* endpoint,
              ListenerSocket* listener);
  absl::Status Init();

  void KcpInput(absl::Span<const uint8_t> kcp_bytes, bool fec_recovered);
  // Moves application bytes into KCP while the window allows.
  void DrainOutbound(int64_t now_ms);
  // Moves KCP's ordered bytes into the channel while it has room.
  void PullInbound(int64_t now_ms);
  // After any event: dead link, close progress, callbacks, next timer.
  void AfterEvent(int64_t now_ms);
  void Reschedule(int64_t now_ms);
  // Follows the peer to candidate_ at once when its datagram `progressed`
  // the conversation (new data or a new acknowledgement: not a replay),
  // else once the old address has been quiet for FollowPeerAt().
  void MaybeFollowPeer(int64_t now_ms, bool progressed = false);
  int64_t FollowPeerAt() const;
  // When a dead link (KCP's retransmission count) may fail the session.
  int64_t DeadLinkAt() const;
  // Accepted sessions, while KCP awaits segment 0: fails the session once
  // max(dead_link_min_ms, 1 s) have passed since it was created while later
  // segments arrived — its peer's conversation began with a session here that ended
  // (the peer has received nothing, so its una of 0 made this one), and
  // nothing will ever be delivered from it.
  void CheckFirstSegment(int64_t now_ms);
  // When the next keepalive (SessionOptions::keepalive_ms) is due.
  int64_t KeepaliveAt() const;
  // Seals one packet in place and queues it (or holds it for the pacer);
  // with a cipher, the sealing waits for SealPending.
  void SealAndSend(uint8_t* buffer, size_t length_without_trailer);
  // Seals what SealAndSend collected, in one batch, and sends it. Called at
  // the end of every event (AfterEvent) and when a batch is full.
  void SealPending();
  // Queues one sealed datagram (or holds it for the pacer).
  void Send(uint8_t* buffer, size_t total);
  // Gives back the buffers of datagrams never sealed.
  void ReleaseUnsent();
  // The event's clock: now_ms_, and with pacing a µs clock for KCP's
  // controller and the pacer.
  void SetNow(int64_t now_ms);
  // The pacer's rate from the controller's, in wire bytes, capped by
  // rate_limit_bytes_per_second; installs the pacing gate on first use.
  void UpdatePacing();
  // Leaves the loop with `why` (OK: closed locally after a complete flush).
  void Finish(absl::Status why);

  Worker* const loop_;
  const std::shared_ptr<SessionShared> shared_;
  SocketAddress remote_;  // loop thread's copy; shared_->remote() follows it
  const std::shared_ptr<const crypt::PacketCipher> cipher_;
  UdpEndpoint* endpoint_;
  std::unique_ptr<UdpEndpoint> own_endpoint_;
  ListenerSocket* const listener_;
  const SessionOptions& options_;

  std::optional<kcp::Kcp> kcp_;
  std::unique_ptr<fec::FecEncoder> encoder_;  // FEC on
  std::unique_ptr<fec::FecDecoder> decoder_;  // created at the first FEC packet
  // Adaptive parity (fec_adaptive_parity with a pacing controller): the
  // loss estimate and the KCP counters it last saw.
  std::optional<fec::AdaptiveParity> adaptive_parity_;
  uint32_t parity_seen_snd_nxt_ = 0;
  uint64_t parity_seen_lost_ = 0;
  size_t crypt_header_ = 0;
  size_t trailer_ = 0;
  size_t kcp_offset_ = 0;  // crypt header + FEC header

  EventLoop::TimerId timer_;
  int64_t timer_at_ = -1;
  int64_t last_input_ms_ = 0;
  // Address-change tracking (see OnPayloadFromNewAddress).
  int64_t last_input_from_remote_ms_ = 0;
  // Where the peer's datagrams come from now, if not remote_ (rare: out of line).
  std::unique_ptr<SocketAddress> candidate_;
  int64_t last_keepalive_ms_ = 0;
  int64_t now_ms_ = 0;
  // When the send window last moved (or was empty): the dead-link time floor.
  uint32_t last_una_ = 0;
  int64_t una_progress_ms_ = 0;

  // Pacing (a pacing controller or rate_limit_bytes_per_second): KCP asks
  // the pacer before each datagram with data, and every datagram sent is
  // charged to it. Off (no clock reads, no gate) until a rate appears.
  kcp::Pacer pacer_;
  bool pacing_ = false;
  uint64_t rate_cap_ = 0;  // rate_limit_bytes_per_second
  int64_t now_us_ = 0;
  struct PacedDatagram {
    uint8_t* buffer;
    size_t length;
  };
  std::vector<PacedDatagram> parity_stash_;    // parity produced during one Encode
  std::vector<absl::Span<uint8_t>> unsealed_;  // emitted this event, sealed by SealPending

  bool closing_ = false;
  int64_t linger_deadline_ = 0;
  bool finished_ = false;
  bool began_elsewhere_ = false;
  int64_t created_ms_ = 0;
  bool acknowledged_reported_ = true;
  bool iteration_end_requested_ = false;

  // Reply budget (SECURITY.md "Spoofed sources and amplification"): an
  // accepted session's peer address is unverified until a datagram from it
  // advances our una — it acknowledged data we sent there, so it receives
  // there (as far as KCP can tell: sequence numbers start at 0, so this
  // stops blind single-datagram floods, not a forger who acknowledges too).
  // Until then what the session sends on its own — datagrams without PUSH
  // (ACKs, WASK/WINS, keepalives) and the FEC parity of such groups — is
  // limited to one datagram per datagram received from the address and
  // to the bytes received from it, in total; the rest is dropped and
  // counted (Counters::unverified_replies_dropped). Dialled sessions'
  // addresses are the application's choice: verified from the start.
  bool verified_ = true;
  bool group_carries_data_ = false;  // the FEC group being encoded has PUSH
  uint64_t reply_datagrams_left_ = 0;
  uint64_t reply_bytes_left_ = 0;
  // Whether a datagram of `length` wire bytes may go out now; charges it.
  bool ChargeReply(size_t length);

  // Replay protection: this session's outgoing counter and the window over
  // its peer's (null when off; allocated once, at Init).
  struct ReplayState {
    crypt::ReplayCounter tx{crypt::ReplayCounter::RandomStart()};
    crypt::ReplayWindow rx;
  };
  std::unique_ptr<ReplayState> replay_;

  SessionCallbacks callbacks_;
  Counters counters_;
  uint64_t fec_recovered_seen_ = 0;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_SESSION_CORE_H_
