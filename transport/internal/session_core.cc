#include "transport/internal/session_core.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/endian.h"
#include "fec/fec_packet.h"
#include "kcp/segment.h"
#include "transport/internal/buffer_pool.h"
#include "transport/internal/listener_core.h"
#include "transport/internal/wall_clock.h"

namespace kcpp::transport::internal {
namespace {

// Datagrams sealed together at most (PacketCipher::SealBatch; AES-CFB runs
// eight chains side by side, more only spread the fixed costs).
constexpr size_t kSealBatch = 32;
// How often an idle session checks whether KCP can give memory back (KCP
// returns its rings after 5 s without data).
constexpr int64_t kTrimIntervalMs = 2500;
// Largest read from KCP per delivery to the channel (stream mode).
constexpr size_t kDeliveryChunk = 64 * 1024;
// An OOB datagram is as long as a KCP header (24 bytes) once its payload
// reaches this size, and an old kcp-go listener then parses it as one.
constexpr size_t kOobMisreadMinPayload = 12;

}  // namespace

absl::StatusOr<std::unique_ptr<SessionCore>> SessionCore::Create(
    Worker* loop, std::shared_ptr<SessionShared> shared,
    std::shared_ptr<const crypt::PacketCipher> cipher, UdpEndpoint* endpoint,
    ListenerSocket* listener) {
  std::unique_ptr<SessionCore> core(
      new SessionCore(loop, std::move(shared), std::move(cipher), endpoint, listener));
  absl::Status s = core->Init();
  if (!s.ok()) return s;
  return core;
}

SessionCore::SessionCore(Worker* loop, std::shared_ptr<SessionShared> shared,
                         std::shared_ptr<const crypt::PacketCipher> cipher, UdpEndpoint* endpoint,
                         ListenerSocket* listener)
    : loop_(loop),
      shared_(std::move(shared)),
      remote_(shared_->remote()),
      cipher_(std::move(cipher)),
      endpoint_(endpoint),
      listener_(listener),
      options_(shared_->options()),
      timer_(loop->event_loop().CreateTimer(this)),
      verified_(listener == nullptr) {
  Worker::SessionTally& t = loop_->tally();
  ++t.current;
  t.max = std::max(t.max, t.current);
  if (shared_->accepted()) {
    ++t.passive_opens;
  } else {
    ++t.active_opens;
  }
}

SessionCore::~SessionCore() {
  --loop_->tally().current;
  loop_->event_loop().ReleaseTimer(timer_);
  ReleaseUnsent();
}

void SessionCore::ReleaseUnsent() {
  for (absl::Span<uint8_t> d : unsealed_) loop_->pool().Put(d.data());
  unsealed_.clear();
}

absl::Status SessionCore::Init() {
  crypt_header_ = cipher_->header_size();
  trailer_ = cipher_->trailer_size();
  if (options_.replay_protection) {
    if (cipher_->layout() != crypt::CipherLayout::kAead) {
      return absl::InvalidArgumentError(absl::StrCat(
          "replay_protection needs an AEAD crypt; \"", cipher_->name(), "\" is not one"));
    }
    replay_ = std::make_unique<ReplayState>();
  }
  const bool fec = options_.data_shards > 0 && options_.parity_shards > 0;
  kcp_offset_ = crypt_header_ + (fec ? fec::kFecDataHeaderSize : 0);
  const int kcp_mtu = options_.mtu - static_cast<int>(kcp_offset_ + trailer_);
  kcp_.emplace(shared_->conv(), this,
               options_.kcp_flavor == "ikcp" ? kcp::Flavor::kIkcp : kcp::Flavor::kKcpGo,
               &loop_->segment_pool());
  absl::Status s = kcp_->SetMtu(kcp_mtu < 0 ? 0 : static_cast<uint32_t>(kcp_mtu));
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("mtu ", options_.mtu, " leaves ", kcp_mtu, " bytes for KCP after the ",
                     crypt_header_, "-byte crypt header", fec ? ", the 8-byte FEC header" : "",
                     trailer_ ? absl::StrCat(" and the ", trailer_, "-byte tag") : "",
                     "; KCP needs at least 50"));
  }
  s = kcp_->SetHeadroom(kcp_offset_, trailer_);
  if (!s.ok()) return s;
  s = kcp_->SetWindowSize(options_.send_window, options_.receive_window);
  if (!s.ok()) return s;
  kcp_->SetNoDelay(options_.nodelay.nodelay, options_.nodelay.interval_ms, options_.nodelay.resend,
                   options_.nodelay.no_congestion_window ? 1 : 0);
  kcp_->SetStreamMode(options_.stream_mode);
  kcp_->SetAckNoDelay(options_.ack_nodelay);
  kcp_->SetWriteDelay(options_.write_delay);
  // ACKs and the flushes Input triggers wait for the end of the receive
  // batch (OnIterationEnd): one ACK datagram per batch, not per datagram.
  kcp_->SetDeferInputFlush(true);
  kcp_->SetDeadLink(options_.dead_link > 0 ? static_cast<uint32_t>(options_.dead_link)
                                           : 0xFFFFFFFFu);
  absl::StatusOr<kcp::CongestionControl> cc = kcp::ParseCongestionControl(options_.congestion);
  if (!cc.ok()) return cc.status();
  s = kcp_->SetCongestionControl(*cc);
  if (!s.ok()) return s;
  rate_cap_ = static_cast<uint64_t>(options_.rate_limit_bytes_per_second);
  UpdatePacing();
  if (fec) {
    fec::FecEncoderOptions eo;
    eo.data_shards = options_.data_shards;
    eo.parity_shards = options_.parity_shards;
    eo.header_offset = crypt_header_;
    eo.parity_policy = options_.fec_skip_idle_parity ? fec::ParityPolicy::kSkipWhenIdle
                                                     : fec::ParityPolicy::kAlways;
    eo.pool = &loop_->fec_pool();
    absl::StatusOr<fec::FecEncoder> enc = fec::FecEncoder::Create(eo);
    if (!enc.ok()) return enc.status();
    encoder_ = std::make_unique<fec::FecEncoder>(*std::move(enc));
    if (options_.fec_adaptive_parity && *cc == kcp::CongestionControl::kBbr) {
      adaptive_parity_.emplace(options_.data_shards, options_.parity_shards);
    }
  }
  // Largest message Write accepts in message mode: 255 fragments (kcp-go).
  shared_->set_max_message_bytes(options_.stream_mode ? 0 : 255 * size_t{kcp_->mss()});
  return absl::OkStatus();
}

void SessionCore::AdoptEndpoint(std::unique_ptr<UdpEndpoint> endpoint) {
  own_endpoint_ = std::move(endpoint);
  endpoint_ = own_endpoint_.get();
}

void SessionCore::Start(int64_t now_ms) {
  SetNow(now_ms);
  last_input_ms_ = last_input_from_remote_ms_ = una_progress_ms_ = created_ms_ = now_ms;
  kcp_->SetAwaitFirstSegment(listener_ != nullptr);  // CheckFirstSegment
  // ikcp's flush sends nothing before the first ikcp_update (kcp/kcp.h):
  // start its clock; every later flush is a Flush at KCP's deadlines.
  if (kcp_->flavor() == kcp::Flavor::kIkcp) kcp_->Update(static_cast<uint32_t>(now_ms));
  Reschedule(now_ms);
}

// ---- way in ---------------------------------------------------------------

void SessionCore::OnDatagram(absl::Span<uint8_t> datagram, const SocketAddress& from,
                             int64_t now_ms) {
  if (finished_) return;
  if (from != remote()) {
    // kcp-go >= v5.6.59: a dialled session only listens to its peer.
    ++counters_.input_errors;
    return;
  }
  const crypt::OpenResult r = cipher_->Open(datagram);
  if (!r.ok()) {
    ++counters_.checksum_errors;
    return;
  }
  // A dialled session's first datagram needs no clock check: its conv is
  // fresh, so nothing captured before it can belong to it.
  if (replay_ && !AdmitStamp(crypt::ReplayStamp::Load(datagram.data()))) return;
  OnPayload(r.payload, datagram.size(), now_ms);
}

bool SessionCore::AdmitStamp(const crypt::ReplayStamp& stamp) {
  if (replay_->rx.Admit(stamp.counter) == crypt::ReplayWindow::Verdict::kNew) return true;
  ++counters_.replays_rejected;
  if (listener_ != nullptr) listener_->OnReplay();
  return false;
}

void SessionCore::OnPayloadFromNewAddress(absl::Span<uint8_t> payload, const SocketAddress& from,
                                          size_t wire_bytes, int64_t now_ms,
                                          const crypt::ReplayStamp* stamp) {
  if (finished_) return;
  // Before anything else: a replay must not even become a candidate address.
  if (replay_ && stamp != nullptr && !AdmitStamp(*stamp)) return;
  if (from == remote_) {  // already followed; forwarded from another loop
    OnPayload(payload, wire_bytes, now_ms);
    return;
  }
  const uint32_t una = kcp_->snd_una();
  const uint32_t rcv_nxt = kcp_->rcv_nxt();
  OnPayload(payload, wire_bytes, now_ms, /*from_remote=*/false);
  if (finished_ || !listener_ || !listener_->follows_address_changes()) return;
  if (candidate_ == nullptr || *candidate_ != from)
    candidate_ = std::make_unique<SocketAddress>(from);
  // A datagram that moved the conversation forward (acknowledged new data or
  // delivered the next segment) cannot be a replay: follow it at once.
  const bool progressed = kcp_->snd_una() != una || kcp_->rcv_nxt() != rcv_nxt;
  MaybeFollowPeer(now_ms, progressed);
}

int64_t SessionCore::KeepaliveAt() const {
  return std::max(last_input_ms_, last_keepalive_ms_) + options_.keepalive_ms;
}

void SessionCore::CheckFirstSegment(int64_t now_ms) {
  const int64_t waited = now_ms - created_ms_;
  if (waited < std::max<int64_t>(options_.dead_link_min_ms, 1000)) return;
  began_elsewhere_ = true;
  Finish(absl::UnavailableError(absl::StrCat(
      "the peer's conversation began before this session: its segment 0 never arrived in ", waited,
      " ms while later segments did (its start went to a session that ended here)")));
}

int64_t SessionCore::DeadLinkAt() const { return una_progress_ms_ + options_.dead_link_min_ms; }

int64_t SessionCore::FollowPeerAt() const {
  const int64_t quiet = std::max<int64_t>(100, 2 * int64_t{std::max(0, kcp_->srtt())});
  return last_input_from_remote_ms_ + quiet;
}

void SessionCore::MaybeFollowPeer(int64_t now_ms, bool progressed) {
  // Without proof of progress, move only once the old path has been quiet
  // for a while: while the peer still answers from there, the new address
  // is a stale path or a replayed datagram.
  if (!candidate_ || (!progressed && now_ms < FollowPeerAt())) {
    Reschedule(now_ms);  // the timer comes back at FollowPeerAt()
    return;
  }
  const SocketAddress old = remote_;
  remote_ = *candidate_;
  shared_->set_remote(remote_);
  candidate_.reset();
  last_input_from_remote_ms_ = now_ms;
  ++counters_.address_changes;
  listener_->OnSessionMoved(this, old);
  // Acknowledge and resend at the new address right away: the peer has
  // been retransmitting into the void.
  kcp_->Flush(static_cast<uint32_t>(now_ms));
  AfterEvent(now_ms);
}

void SessionCore::OnPayload(absl::Span<uint8_t> payload, size_t wire_bytes, int64_t now_ms,
                            bool from_remote) {
  if (finished_) return;
  SetNow(now_ms);
  last_input_ms_ = now_ms;
  if (from_remote) last_input_from_remote_ms_ = now_ms;
  ++counters_.packets_received;
  counters_.wire_bytes_received += wire_bytes;
  const uint32_t una_before = kcp_->snd_una();
  if (!verified_ && from_remote) {
    ++reply_datagrams_left_;
    reply_bytes_left_ += wire_bytes;
  }
  if (!decoder_ && fec::ClassifyFecPacket(payload) == fec::FecPacketType::kRawKcp) {
    KcpInput(payload, false);
  } else {
    if (!decoder_) {
      // Created on the first FEC packet, as kcp-go does for sessions without
      // FEC ("lazy initialization", §4.6): (1, 1) then auto-tune.
      fec::FecDecoderOptions o;
      const bool fec = options_.data_shards > 0 && options_.parity_shards > 0;
      o.data_shards = fec ? options_.data_shards : 1;
      o.parity_shards = fec ? options_.parity_shards : 1;
      o.pool = &loop_->fec_pool();
      absl::StatusOr<fec::FecDecoder> d = fec::FecDecoder::Create(o);
      if (!d.ok()) {
        ++counters_.input_errors;
        return;
      }
      decoder_ = std::make_unique<fec::FecDecoder>(*std::move(d));
    }
    const fec::FecDecoder::Result r = decoder_->Decode(payload);
    switch (r.kind) {
      case fec::FecDecoder::Kind::kData:
      case fec::FecDecoder::Kind::kNotFec:
        KcpInput(r.payload, false);
        break;
      case fec::FecDecoder::Kind::kOob:
        if (callbacks_.on_oob) callbacks_.on_oob(r.payload);
        break;
      case fec::FecDecoder::Kind::kParity:
        break;
      case fec::FecDecoder::Kind::kMalformed:
        ++counters_.input_errors;
        break;
    }
    for (absl::Span<const uint8_t> recovered : r.recovered) KcpInput(recovered, true);
  }
  // The peer acknowledged data we sent to remote_: it receives there.
  if (!verified_ && from_remote && kcp_->snd_una() != una_before) verified_ = true;
  if (kcp_->awaiting_first_segment()) {
    CheckFirstSegment(now_ms);
    if (finished_) return;
  }
  PullInbound(now_ms);
  DrainOutbound(now_ms);  // acknowledgements may have opened the window
  AfterEvent(now_ms);
}

void SessionCore::KcpInput(absl::Span<const uint8_t> kcp_bytes, bool fec_recovered) {
  kcp_->Input(kcp_bytes, static_cast<uint32_t>(now_ms_), fec_recovered);
  if (kcp_->input_flush_deferred() && !iteration_end_requested_) {
    iteration_end_requested_ = true;
    loop_->AtIterationEnd(id());
  }
}

void SessionCore::OnIterationEnd(int64_t now_ms) {
  iteration_end_requested_ = false;
  if (finished_) return;
  SetNow(now_ms);
  kcp_->FlushDeferred(static_cast<uint32_t>(now_ms));
  AfterEvent(now_ms);
}

void SessionCore::PullInbound(int64_t now_ms) {
  SessionChannel& ch = shared_->channel();
  const bool was_full = kcp_->RecvQueueSize() >= kcp_->rcv_wnd();
  std::vector<uint8_t>& scratch = loop_->scratch();
  bool delivered = false;
  while (true) {
    int size = kcp_->PeekSize();
    if (size < 0) break;
    const size_t room = ch.InboundRoom();
    if (options_.stream_mode) {
      // Gather segments up to the room left (at least one when empty).
      const size_t limit = std::min(room, kDeliveryChunk);
      if (limit < static_cast<size_t>(size) && ch.inbound_bytes() > 0) break;
      if (scratch.size() < std::max(limit, static_cast<size_t>(size))) {
        scratch.resize(std::max(limit, static_cast<size_t>(size)));
      }
      size_t fill = 0;
      while (size >= 0 && (fill == 0 || fill + static_cast<size_t>(size) <= limit)) {
        const int n = kcp_->Recv(absl::MakeSpan(scratch.data() + fill, scratch.size() - fill));
        if (n < 0) break;
        fill += static_cast<size_t>(n);
        size = kcp_->PeekSize();
      }
      if (fill == 0) break;
      ch.DeliverInbound(absl::MakeConstSpan(scratch.data(), fill));
      counters_.bytes_received += fill;
      delivered = true;
    } else {
      if (room < static_cast<size_t>(size) + 4 && ch.inbound_bytes() > 0) break;
      if (scratch.size() < static_cast<size_t>(size)) scratch.resize(static_cast<size_t>(size));
      const int n = kcp_->Recv(absl::MakeSpan(scratch));
      if (n < 0) break;
      ch.DeliverInbound(absl::MakeConstSpan(scratch.data(), static_cast<size_t>(n)));
      counters_.bytes_received += static_cast<size_t>(n);
      delivered = true;
    }
  }
  if (!delivered) return;
  // A receive queue that was full reopened: tell the peer at once instead of
  // letting it wait for a window probe (kcp-go stalls exactly here).
  if (was_full && kcp_->RecvQueueSize() < kcp_->rcv_wnd()) {
    kcp_->Flush(static_cast<uint32_t>(now_ms));
  }
  if (callbacks_.on_readable) callbacks_.on_readable();
}

// ---- way out --------------------------------------------------------------

void SessionCore::DrainOutbound(int64_t now_ms) {
  if (finished_) return;
  SessionChannel& ch = shared_->channel();
  size_t moved;
  if (options_.stream_mode) {
    moved = ch.DrainStream([&](absl::Span<const uint8_t> data) -> size_t {
      const uint32_t waiting = kcp_->WaitSnd();
      if (waiting >= kcp_->snd_wnd()) return 0;
      const size_t budget = size_t{kcp_->snd_wnd() - waiting} * kcp_->mss();
      const size_t n = std::min(data.size(), budget);
      kcp_->Send(data.subspan(0, n));
      return n;
    });
  } else {
    moved = ch.DrainMessages([&](absl::Span<const uint8_t> message) -> bool {
      if (!kcp_->CanWrite()) return false;
      // The handle refuses empty and oversized messages; Send cannot fail.
      kcp_->Send(message);
      return true;
    });
  }
  if (moved == 0) return;
  counters_.bytes_sent += moved;
  // kcp-go's Write: flush now, unless write delay is on and the window is
  // not full yet (§5.3).
  if (!options_.write_delay || !kcp_->CanWrite()) kcp_->Flush(static_cast<uint32_t>(now_ms));
}

absl::Span<uint8_t> SessionCore::AcquireBuffer() {
  return absl::MakeSpan(loop_->pool().Get(), BufferPool::kBufferBytes);
}

void SessionCore::Emit(absl::Span<uint8_t> buffer, size_t length) {
  if (length == 0) {
    loop_->pool().Put(buffer.data());
    return;
  }
  const size_t packet = kcp_offset_ + length;
  bool carries_data = true;
  if (!verified_) {
    carries_data = false;
    kcp::SegmentReader reader(buffer.subspan(kcp_offset_, length));
    kcp::SegmentHeader h;
    absl::Span<const uint8_t> payload;
    while (!carries_data && reader.Next(&h, &payload) == kcp::SegmentReader::kOk) {
      carries_data = h.cmd == kcp::kCmdPush;
    }
    // The application's data is the application's choice (SECURITY.md);
    // what KCP says on its own is held to the reply budget. Dropped before
    // the FEC encoder, so it leaves no gap in the FEC sequence.
    if (!carries_data && !ChargeReply(packet + trailer_)) {
      loop_->pool().Put(buffer.data());
      return;
    }
  }
  if (encoder_) {
    parity_stash_.clear();
    group_carries_data_ |= carries_data;
    if (!encoder_->Encode(buffer.subspan(0, packet), static_cast<uint32_t>(now_ms_), *this).ok()) {
      loop_->pool().Put(buffer.data());
      ++counters_.send_drops;
      return;
    }
  }
  SealAndSend(buffer.data(), packet);
  // Parity follows the data packet that completed its group (§4.3).
  const bool parity_of_replies = !group_carries_data_;
  for (const PacedDatagram& p : parity_stash_) {
    if (parity_of_replies && !verified_ && !ChargeReply(p.length + trailer_)) {
      loop_->pool().Put(p.buffer);
      continue;
    }
    SealAndSend(p.buffer, p.length);
  }
  if (!parity_stash_.empty()) group_carries_data_ = false;
  parity_stash_.clear();
}

bool SessionCore::ChargeReply(size_t length) {
  if (reply_datagrams_left_ == 0 || reply_bytes_left_ < length) {
    ++counters_.unverified_replies_dropped;
    return false;
  }
  --reply_datagrams_left_;
  reply_bytes_left_ -= length;
  return true;
}

bool SessionCore::AcquireParityBuffers(size_t size, absl::Span<absl::Span<uint8_t>> buffers) {
  if (size + trailer_ > BufferPool::kBufferBytes) return false;
  for (absl::Span<uint8_t>& b : buffers) {
    b = absl::MakeSpan(loop_->pool().Get(), BufferPool::kBufferBytes);
  }
  return true;
}

void SessionCore::EmitParity(absl::Span<uint8_t> packet) {
  parity_stash_.push_back(PacedDatagram{packet.data(), packet.size()});
}

void SessionCore::SealAndSend(uint8_t* buffer, size_t length) {
  const size_t total = length + trailer_;
  if (cipher_->layout() == crypt::CipherLayout::kNull) {
    Send(buffer, total);
    return;
  }
  // Sealed together at the end of this event (AfterEvent), or when a batch
  // is full: PacketCipher::SealBatch runs AES-CFB's serial chains side by
  // side. Everything a session emits goes through here, so order holds.
  unsealed_.push_back(absl::MakeSpan(buffer, total));
  if (unsealed_.size() == kSealBatch) SealPending();
}

void SessionCore::SealPending() {
  if (unsealed_.empty()) return;
  // Every datagram has room for the cipher's overhead (Init sized KCP's MTU
  // for it), so SealBatch cannot refuse.
  if (replay_) {
    // AEAD has no batch speed-up to lose: each datagram gets the next stamp
    // as its nonce (docs/protocol.md §11.10), in the order they leave.
    const uint32_t now_ms32 = static_cast<uint32_t>(WallClockMs());
    uint8_t nonce[crypt::kAeadNonceSize];
    for (absl::Span<uint8_t> d : unsealed_) {
      replay_->tx.Next(now_ms32).Store(nonce);
      cipher_->SealWithNonce(d, nonce);
    }
  } else {
    cipher_->SealBatch(unsealed_);
  }
  for (absl::Span<uint8_t> d : unsealed_) Send(d.data(), d.size());
  unsealed_.clear();
}

void SessionCore::Send(uint8_t* buffer, size_t total) {
  ++counters_.packets_sent;
  counters_.wire_bytes_sent += total;
  pacer_.OnSent(now_us_, total);
  endpoint_->Enqueue(buffer, total, remote());
}

void SessionCore::SetNow(int64_t now_ms) {
  now_ms_ = now_ms;
  if (pacing_) {
    // The controller's samples and the pacer want a finer clock than the
    // loop's milliseconds.
    now_us_ = EventLoop::MonotonicUs();
    kcp_->SetClockMicros(now_us_);
  } else {
    now_us_ = now_ms * 1000;
  }
}

void SessionCore::UpdatePacing() {
  // The controller paces KCP bytes; the wire also carries FEC parity, FEC
  // and cipher headers, so its rate is scaled by what the wire actually
  // cost per KCP byte so far (parity counts toward the rate).
  const uint64_t kcp_rate = kcp_->pacing_rate();
  uint64_t rate = 0;
  if (kcp_rate > 0) {
    const uint64_t kcp_bytes = kcp_->counters().out_bytes;
    const double per_kcp_byte =
        kcp_bytes > (64u << 10) ? static_cast<double>(counters_.wire_bytes_sent) /
                                      static_cast<double>(kcp_bytes)
                                : 1.0 + static_cast<double>(kcp_offset_ + trailer_) / kcp_->mtu();
    rate = static_cast<uint64_t>(static_cast<double>(kcp_rate) * per_kcp_byte);
  }
  // rate_limit_bytes_per_second caps the same pacer.
  if (rate_cap_ > 0) rate = rate == 0 ? rate_cap_ : std::min(rate, rate_cap_);
  if (rate == pacer_.rate()) return;
  if (!pacing_ && rate > 0) {
    pacing_ = true;
    kcp_->SetPacingGate(&pacer_);
    SetNow(now_ms_);
  }
  pacer_.SetRate(rate, now_us_);
}

// ---- events ---------------------------------------------------------------

void SessionCore::OnKick(int64_t now_ms) {
  if (finished_) return;
  SetNow(now_ms);
  SessionChannel& ch = shared_->channel();
  ch.Serviced();
  if (ch.closed() && !closing_) {
    closing_ = true;
    linger_deadline_ = now_ms + options_.close_linger_ms;
  }
  DrainOutbound(now_ms);
  PullInbound(now_ms);
  AfterEvent(now_ms);
}

void SessionCore::OnTimer(int64_t now_ms) {
  timer_at_ = -1;
  if (finished_) return;
  SetNow(now_ms);
  if (options_.idle_timeout_ms > 0 && now_ms - last_input_ms_ >= options_.idle_timeout_ms) {
    Finish(absl::UnavailableError(absl::StrCat("idle timeout: nothing received from ",
                                               remote().ToString(), " for ",
                                               options_.idle_timeout_ms, " ms")));
    return;
  }
  if (options_.keepalive_ms > 0 && now_ms >= KeepaliveAt()) {
    kcp_->AnnounceWindow();
    last_keepalive_ms_ = now_ms;
  }
  if (candidate_) {
    MaybeFollowPeer(now_ms);
    if (finished_) return;
  }
  if (kcp_->Idle()) {
    // Housekeeping only: give KCP's rings back after 5 s of quiet.
    kcp_->TrimIdle(static_cast<uint32_t>(now_ms));
  } else {
    // kcp-go's update(): a full flush at every deadline (§5.6). Flush, unlike
    // ikcp_update, does not wait for the interval grid, so a retransmission
    // that Check() reports due really goes out now.
    kcp_->Flush(static_cast<uint32_t>(now_ms));
  }
  AfterEvent(now_ms);
}

void SessionCore::AfterEvent(int64_t now_ms) {
  if (finished_) return;
  SealPending();
  UpdatePacing();
  if (adaptive_parity_) {
    // New segments and lost ones (resent, or rebuilt by FEC before any
    // resend: kcp::KcpCounters::late_acked_segs) since the last event,
    // except those found while the controller drains the queue it
    // overfilled itself (bench/README.md "WAN": counted, they kept parity
    // going after start-up on a clean link).
    const uint64_t lost = kcp_->counters().retrans_segs + kcp_->counters().late_acked_segs;
    // The window against the path decides what a loss FEC leaves costs
    // (fec/adaptive_parity.h); the controller's model counts KCP bytes.
    const kcp::CongestionController& cc = kcp_->congestion_controller();
    adaptive_parity_->SetWindow(
        std::min(kcp_->snd_wnd(), kcp_->rmt_wnd()),
        static_cast<double>(cc.path_bytes()) / (kcp_->mss() + kcp::kSegmentHeaderSize));
    if (!cc.draining()) {
      adaptive_parity_->Observe(kcp_->snd_nxt() - parity_seen_snd_nxt_,
                                lost - parity_seen_lost_);
    }
    parity_seen_snd_nxt_ = kcp_->snd_nxt();
    parity_seen_lost_ = lost;
    encoder_->SetParityToSend(adaptive_parity_->parity());
  }
  if (kcp_->snd_una() != last_una_ || kcp_->snd_una() == kcp_->snd_nxt()) {
    last_una_ = kcp_->snd_una();
    una_progress_ms_ = now_ms;
  }
  if (options_.dead_link > 0 && kcp_->dead_link() && now_ms >= DeadLinkAt()) {
    Finish(absl::UnavailableError(absl::StrCat(
        "dead link: a segment to ", remote().ToString(), " was sent ", options_.dead_link,
        " times and nothing was acknowledged for ", now_ms - una_progress_ms_, " ms")));
    return;
  }
  SessionChannel& ch = shared_->channel();
  const bool acknowledged = kcp_->WaitSnd() == 0;
  if (closing_) {
    if (acknowledged && ch.outbound_empty()) {
      // ACKs we owe go out first: those an input deferred to the end of the
      // batch (OnIterationEnd) and those waiting for the next interval,
      // which a finished session never reaches. The peer may be waiting
      // for them to finish its own close, or its close notice's
      // (engine_test ACloseFinishedByAnInputStillAcknowledgesIt,
      // AClosedSessionAcknowledgesWhatItReceivedLast).
      if (!kcp_->Idle()) kcp_->Flush(static_cast<uint32_t>(now_ms));
      SealPending();
      Finish(absl::OkStatus());
      return;
    }
    if (now_ms >= linger_deadline_) {
      Finish(absl::DeadlineExceededError(absl::StrCat("closed with ", kcp_->WaitSnd(),
                                                      " segments still unacknowledged after ",
                                                      options_.close_linger_ms, " ms")));
      return;
    }
  }
  ch.SetAcknowledged(acknowledged);
  if (callbacks_.on_writable && ch.TakeWritableEdge()) callbacks_.on_writable();
  Reschedule(now_ms);
}

void SessionCore::Reschedule(int64_t now_ms) {
  int64_t deadline = TimerQueue::kNever;
  const uint32_t now32 = static_cast<uint32_t>(now_ms);
  uint32_t flush_at;
  if (kcp_->NextFlush(now32, &flush_at)) {
    deadline = now_ms + static_cast<int32_t>(flush_at - now32);
    // Data waits for the pacer: wake when it has credit (a millisecond
    // timer, so the pacer's quantum is a millisecond of credit).
    if (deadline <= now_ms && pacing_ && !pacer_.MaySend(now_us_)) {
      deadline = (pacer_.ReadyAtUs(now_us_) + 999) / 1000;
    }
  } else if (!kcp_->Dormant()) {
    // Nothing to send: one coarse wakeup to give memory back, instead of
    // one per KCP interval (an idle session costs no CPU).
    deadline = now_ms + kTrimIntervalMs;
  }
  if (options_.idle_timeout_ms > 0) {
    deadline = std::min(deadline, last_input_ms_ + options_.idle_timeout_ms);
  }
  if (closing_) deadline = std::min(deadline, linger_deadline_);
  if (candidate_) deadline = std::min(deadline, FollowPeerAt());
  if (options_.dead_link > 0 && kcp_->dead_link()) deadline = std::min(deadline, DeadLinkAt());
  if (options_.keepalive_ms > 0) deadline = std::min(deadline, KeepaliveAt());
  // Never in the current iteration: the loop's clock stands still during
  // it, so a timer due "now" would fire again and again.
  deadline = std::max(deadline, now_ms + 1);
  if (deadline == timer_at_) return;
  timer_at_ = deadline;
  if (deadline == TimerQueue::kNever) {
    loop_->event_loop().CancelTimer(timer_);
  } else {
    loop_->event_loop().ScheduleTimer(timer_, deadline);
  }
}

void SessionCore::Finish(absl::Status why) {
  if (finished_) return;
  finished_ = true;
  loop_->event_loop().CancelTimer(timer_);
  ReleaseUnsent();
  SessionChannel& ch = shared_->channel();
  if (!why.ok()) ch.Fail(why);
  SessionInfo info = Info();
  info.state = why.ok() ? SessionInfo::State::kClosed : SessionInfo::State::kFailed;
  shared_->SetFinalInfo(std::move(info), why);
  if (listener_ != nullptr) listener_->OnSessionFinished(this);
  if (callbacks_.on_readable && !why.ok()) callbacks_.on_readable();
  if (callbacks_.on_closed) callbacks_.on_closed(why);
  loop_->RemoveObject(id());
}

void SessionCore::OnShutdown() {
  if (finished_) return;
  finished_ = true;
  const absl::Status why = absl::UnavailableError("the engine shut down");
  shared_->channel().Fail(why);
  SessionInfo info = Info();
  info.state = SessionInfo::State::kFailed;
  shared_->SetFinalInfo(std::move(info), why);
  if (callbacks_.on_closed) callbacks_.on_closed(why);
}

void SessionCore::Replace() {
  Finish(absl::UnavailableError(
      absl::StrCat("replaced: ", remote().ToString(), " started a new conversation")));
}

void SessionCore::CloseFromListener() {
  shared_->channel().Close();  // kicks: OnKick starts the linger
}

// ---- requests from the handle ---------------------------------------------

void SessionCore::SetCallbacks(SessionCallbacks callbacks) {
  callbacks_ = std::move(callbacks);
  if (callbacks_.on_readable && shared_->channel().inbound_bytes() > 0) callbacks_.on_readable();
}

absl::Status SessionCore::Tune(const SessionTuning& t) {
  SessionOptions check = options_;
  if (t.send_window) check.send_window = *t.send_window;
  if (t.receive_window) check.receive_window = *t.receive_window;
  if (t.nodelay) check.nodelay = *t.nodelay;
  if (t.rate_limit_bytes_per_second)
    check.rate_limit_bytes_per_second = *t.rate_limit_bytes_per_second;
  if (t.dscp) check.dscp = *t.dscp;
  absl::Status s = check.Validate();
  if (!s.ok()) return s;
  if (t.dscp && own_endpoint_ == nullptr) {
    return absl::FailedPreconditionError(
        "dscp can only be set on dialled sessions; an accepted session shares its listener's "
        "socket");
  }
  if (t.send_window || t.receive_window) {
    s = kcp_->SetWindowSize(check.send_window, check.receive_window);
    if (!s.ok()) return s;
    if (t.receive_window) kcp_->AnnounceWindow();
  }
  if (t.nodelay) {
    kcp_->SetNoDelay(t.nodelay->nodelay, t.nodelay->interval_ms, t.nodelay->resend,
                     t.nodelay->no_congestion_window ? 1 : 0);
  }
  if (t.ack_nodelay) kcp_->SetAckNoDelay(*t.ack_nodelay);
  if (t.write_delay) kcp_->SetWriteDelay(*t.write_delay);
  if (t.rate_limit_bytes_per_second) {
    rate_cap_ = static_cast<uint64_t>(*t.rate_limit_bytes_per_second);
  }
  if (t.dscp) {
    const int fd = own_endpoint_->socket().fd();
    const int tos = remote().is_ipv6() ? *t.dscp : *t.dscp << 2;
    const int rc = remote().is_ipv6() ? setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos))
                                      : setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    if (rc != 0) return absl::InternalError("setsockopt(DSCP) failed");
  }
  // A larger receive window must reach the peer now (WINS), not at the next
  // data packet.
  SetNow(loop_->now_ms());
  kcp_->Flush(static_cast<uint32_t>(now_ms_));
  AfterEvent(now_ms_);
  return absl::OkStatus();
}

size_t SessionCore::oob_max_size() const {
  // kcp-go GetOOBMaxSize: the KCP mtu minus the conv (§4.8).
  return encoder_ ? kcp_->mtu() - 4 : 0;
}

absl::Status SessionCore::SendOob(absl::Span<const uint8_t> data) {
  if (!encoder_) {
    return absl::FailedPreconditionError(
        "out-of-band datagrams need FEC on (data_shards and parity_shards > 0), as in kcp-go");
  }
  if (data.size() > oob_max_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "OOB datagram of ", data.size(), " bytes exceeds the maximum of ", oob_max_size()));
  }
  // A kcp-go listener older than v5.6.60 (Debian's 5.6.1, kcptun 2021) has
  // no OOB and reads the datagram as a KCP segment whose conv is the FEC
  // seqid 0xFFFFFFFF and whose sn is the payload's first four bytes: from an
  // address it has no session for, that is a new session; with sn 0, it
  // replaces the session it has (protocol.md §4.8). Neither may happen.
  if (kcp_->counters().in_segs == 0) {
    return absl::FailedPreconditionError(
        "no KCP segment has come from the peer yet: write on the stream first (a kcp-go listener "
        "before v5.6.60 would take an OOB datagram for a new session)");
  }
  if (data.size() >= kOobMisreadMinPayload && LoadLe32(data.data()) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "OOB datagram of ", data.size(), " bytes starts with four zero bytes: a kcp-go listener "
        "before v5.6.60 would read it as a new conversation and drop the session (at most ",
        kOobMisreadMinPayload - 1, " bytes may start so)"));
  }
  SetNow(loop_->now_ms());
  uint8_t* buffer = loop_->pool().Get();
  uint8_t* p = buffer + crypt_header_ + fec::kFecDataHeaderSize;
  StoreLe32(p, conv());
  if (!data.empty()) std::memcpy(p + 4, data.data(), data.size());
  const size_t length = crypt_header_ + fec::kFecOobHeaderSize + data.size();
  absl::Status s = encoder_->SealOob(absl::MakeSpan(buffer, length));
  if (!s.ok()) {
    loop_->pool().Put(buffer);
    return s;
  }
  ++counters_.oob_packets_sent;
  SealAndSend(buffer, length);
  SealPending();
  Reschedule(now_ms_);
  return absl::OkStatus();
}

Counters SessionCore::LiveCounters() const {
  Counters c = counters_;
  const kcp::KcpCounters& k = kcp_->counters();
  c.segments_sent = k.out_segs;
  c.segments_received = k.in_segs;
  c.retransmitted_segments = k.retrans_segs;
  c.lost_segments = k.lost_segs;
  c.fast_retransmitted_segments = k.fast_retrans_segs;
  c.early_retransmitted_segments = k.early_retrans_segs;
  c.late_acknowledged_segments = k.late_acked_segs;
  c.repeat_segments = k.repeat_segs;
  c.kcp_input_errors = k.in_errors;
  if (encoder_) {
    c.fec_parity_sent = encoder_->counters().parity_packets;
    c.fec_parity_withheld = encoder_->counters().parity_withheld +
                            encoder_->counters().groups_skipped_adaptive * options_.parity_shards;
  }
  if (decoder_) {
    const fec::FecDecoderCounters& d = decoder_->counters();
    c.fec_recovered = d.recovered;
    c.fec_errors = d.errors;
    c.fec_parity_shards = d.parity_packets;
    c.fec_full_shard_sets = d.full_shard_sets;
    c.fec_short_shards = d.short_groups;
    c.oob_packets_received = d.oob_packets;
  }
  return c;
}

SessionInfo SessionCore::Info() const {
  SessionInfo i;
  i.conv = conv();
  i.local_address = shared_->local();
  i.remote_address = remote();
  i.accepted = shared_->accepted();
  i.state = finished_  ? SessionInfo::State::kClosed
            : closing_ ? SessionInfo::State::kClosing
                       : SessionInfo::State::kActive;
  i.srtt_ms = static_cast<uint32_t>(std::max(0, kcp_->srtt()));
  i.rttvar_ms = static_cast<uint32_t>(std::max(0, kcp_->rttvar()));
  i.rto_ms = kcp_->rto();
  i.send_window = kcp_->snd_wnd();
  i.receive_window = kcp_->rcv_wnd();
  i.remote_window = kcp_->rmt_wnd();
  i.congestion_window = kcp_->cwnd();
  i.congestion = kcp_->congestion_controller().DebugString();
  i.pacing_rate = pacer_.rate();
  i.segments_waiting = kcp_->WaitSnd();
  i.outbound_queued_bytes = shared_->channel().outbound_bytes();
  i.inbound_queued_bytes = shared_->channel().inbound_bytes();
  i.fec_data_shards = decoder_ ? decoder_->data_shards() : options_.data_shards;
  i.fec_parity_shards = decoder_ ? decoder_->parity_shards() : options_.parity_shards;
  i.fec_parity_sending = encoder_ ? encoder_->parity_to_send() : 0;
  i.fec_loss_estimate = adaptive_parity_ ? adaptive_parity_->loss() : -1;
  i.counters = LiveCounters();
  return i;
}

}  // namespace kcpp::transport::internal
