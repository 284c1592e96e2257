#include "kcp/kcp.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kcp/internal/kcpgo_window.h"
#include "kcp/internal/rate_sampler.h"
#include "kcp/internal/send_scan.h"

namespace kcpp::kcp {
namespace {

// docs/protocol.md §2.2.
constexpr uint32_t kRtoNdl = 30;
constexpr uint32_t kRtoMin = 100;
constexpr uint32_t kRtoDef = 200;
constexpr uint32_t kRtoMax = 60000;
constexpr uint32_t kAskSend = 1;
constexpr uint32_t kAskTell = 2;
constexpr uint32_t kWndSnd = 32;
// Smallest send / receive ring (slots; a power of two, and a multiple of
// ScanQuiet's four lanes). Rings double on demand, so a session that sends a
// message now and then holds 4 slots, not its window: 5000 such sessions
// held 4.6 MiB of mostly empty 16-slot rings.
constexpr uint32_t kMinRing = 4;
constexpr uint32_t kWndRcvIkcp = 128;
constexpr uint32_t kWndRcvKcpGo = 32;
constexpr uint32_t kMtuDef = 1400;
constexpr uint32_t kMtuMin = 50;
constexpr uint32_t kMtuMax = 65535;
constexpr uint32_t kInterval = 100;
constexpr uint32_t kDeadLink = 20;
constexpr uint32_t kProbeInitIkcp = 7000;
constexpr uint32_t kProbeInitKcpGo = 500;  // KG-HEAD (v5.6.43+)
constexpr uint32_t kProbeLimit = 120000;
constexpr int kFastAckLimit = 5;
constexpr uint32_t kFastAckSentinel = 0xFFFFFFFFu;  // KG-HEAD: wait for the RTO
constexpr uint32_t kMaxWindow = 65535;              // `wnd` is 16 bits on the wire
constexpr uint32_t kMaxFragmentsIkcp = 128;         // count must stay below IKCP_WND_RCV
constexpr uint32_t kMaxFragmentsKcpGo = 255;
// Memory held by an engine with nothing queued, in flight or unread is given
// back after this long.
constexpr uint32_t kIdleReleaseMs = 5000;
// Pending ACKs beyond max(this, 4 * rcv_wnd) are sent at once instead of
// growing the list without bound under a flood of PUSH segments (ikcp grows
// it forever; no honest peer gets near this between two flushes).
constexpr size_t kMinAckCap = 1024;

inline int32_t Diff(uint32_t later, uint32_t earlier) {
  return static_cast<int32_t>(later - earlier);
}

inline int32_t Wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

uint32_t RoundUpPow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

void CopyOut(const SegmentPool::Block* b, size_t block_size, size_t len, uint8_t* dst) {
  while (len > 0) {
    const size_t n = std::min(len, block_size);
    std::memcpy(dst, b->data(), n);
    dst += n;
    len -= n;
    b = b->next;
  }
}

}  // namespace

struct Kcp::SndSeg {
  SegmentPool::Block* data;
  uint32_t len;
  uint32_t sn;
  uint32_t ts;
  uint32_t resendts;
  uint32_t rto;
  uint32_t xmit;
  uint32_t fastack;
  uint8_t frg;
  uint8_t acked;
};

namespace {
// Counted in fast_pending_: not acknowledged, fast-ack count running.
template <typename Seg>
inline bool FastCounted(const Seg& s) {
  return !s.acked && s.fastack != 0 && s.fastack != kFastAckSentinel;
}
}  // namespace

struct Kcp::RateState {
  internal::RateSampler sampler;
  std::unique_ptr<internal::SentState[]> sent;  // per send-ring slot
};

struct Kcp::RcvSlot {
  SegmentPool::Block* data;
  uint32_t len;
  uint8_t frg;
  bool present;
};

class Kcp::CallbackSink final : public OutputSink {
 public:
  explicit CallbackSink(DatagramFn fn) : fn_(std::move(fn)) {}
  void Resize(size_t size, size_t headroom) {
    buffer_.resize(size);
    headroom_ = headroom;
  }
  absl::Span<uint8_t> AcquireBuffer() override { return absl::MakeSpan(buffer_); }
  void Emit(absl::Span<uint8_t> buffer, size_t length) override {
    if (length > 0 && fn_) fn_(absl::MakeConstSpan(buffer.data() + headroom_, length));
  }
  size_t capacity() const { return buffer_.capacity(); }

 private:
  DatagramFn fn_;
  std::vector<uint8_t> buffer_;
  size_t headroom_ = 0;
};

Kcp::Kcp(uint32_t conv, OutputSink* sink, Flavor flavor, SegmentPool* pool)
    : conv_(conv), flavor_(flavor), pool_(pool), sink_(sink) {
  Init();
}

Kcp::Kcp(uint32_t conv, DatagramFn output, Flavor flavor, SegmentPool* pool)
    : conv_(conv), flavor_(flavor), pool_(pool), sink_(nullptr) {
  own_sink_ = std::make_unique<CallbackSink>(std::move(output));
  sink_ = own_sink_.get();
  Init();
}

void Kcp::Init() {
  const bool ikcp = flavor_ == Flavor::kIkcp;
  mtu_ = kMtuDef;
  mss_ = mtu_ - kSegmentHeaderSize;
  auto window = std::make_unique<internal::KcpGoWindow>(ikcp, /*disabled=*/false);
  kcpgo_window_ = window.get();
  cc_ = std::move(window);
  rx_rto_ = kRtoDef;
  rx_minrto_ = kRtoMin;
  snd_wnd_ = kWndSnd;
  rcv_wnd_ = ikcp ? kWndRcvIkcp : kWndRcvKcpGo;
  rmt_wnd_ = rcv_wnd_;
  rcv_wnd_max_ = rcv_wnd_;
  interval_ = kInterval;
  ts_flush_ = kInterval;
  dead_link_ = kDeadLink;
  fastlimit_ = kFastAckLimit;
  probe_init_ = ikcp ? kProbeInitIkcp : kProbeInitKcpGo;
  if (pool_ == nullptr) {
    own_pool_ = std::make_unique<SegmentPool>();
    pool_ = own_pool_.get();
  }
  if (own_sink_ != nullptr) {
    static_cast<CallbackSink*>(own_sink_.get())->Resize(headroom_ + mtu_ + tailroom_, headroom_);
  }
}

Kcp::~Kcp() {
  for (uint32_t i = 0; i < nsnd_buf_ + nsnd_que_; ++i) pool_->ReleaseChain(SndAt(i).data);
  if (rcv_ != nullptr) {
    for (uint32_t i = 0; i < rcv_cap_; ++i) {
      if (rcv_[i].present) pool_->ReleaseChain(rcv_[i].data);
    }
  }
}

// ---------------------------------------------------------------------------
// Payload storage

SegmentPool::Block* Kcp::StoreBytes(const uint8_t* src, size_t len) {
  if (len == 0) return nullptr;
  const size_t bs = pool_->block_size();
  SegmentPool::Block* head = pool_->Allocate();
  SegmentPool::Block* b = head;
  for (;;) {
    const size_t n = std::min(len, bs);
    std::memcpy(b->data(), src, n);
    src += n;
    len -= n;
    if (len == 0) break;
    b->next = pool_->Allocate();
    b = b->next;
  }
  return head;
}

void Kcp::AppendBytes(SndSeg& seg, const uint8_t* src, size_t len) {
  if (len == 0) return;
  const size_t bs = pool_->block_size();
  SegmentPool::Block* last;
  size_t offset;  // bytes used in `last`
  if (seg.data == nullptr) {
    last = seg.data = pool_->Allocate();
    offset = 0;
  } else {
    last = seg.data;
    size_t blocks = (seg.len + bs - 1) / bs;
    while (--blocks > 0) last = last->next;
    offset = seg.len - ((seg.len - 1) / bs) * bs;
  }
  seg.len += static_cast<uint32_t>(len);
  while (len > 0) {
    if (offset == bs) {
      last->next = pool_->Allocate();
      last = last->next;
      offset = 0;
    }
    const size_t n = std::min(len, bs - offset);
    std::memcpy(last->data() + offset, src, n);
    src += n;
    len -= n;
    offset += n;
  }
}

// ---------------------------------------------------------------------------
// Send ring

Kcp::SndSeg& Kcp::SndAt(uint32_t i) { return snd_[(snd_head_ + i) & (snd_cap_ - 1)]; }
const Kcp::SndSeg& Kcp::SndAt(uint32_t i) const { return snd_[(snd_head_ + i) & (snd_cap_ - 1)]; }

void Kcp::GrowSndRing(uint32_t min_capacity) {
  const uint32_t cap = RoundUpPow2(std::max<uint32_t>(min_capacity, kMinRing));
  std::unique_ptr<SndSeg[]> ring(new SndSeg[cap]);
  const uint32_t n = nsnd_buf_ + nsnd_que_;
  for (uint32_t i = 0; i < n; ++i) ring[i] = SndAt(i);
  if (rate_ != nullptr) {
    std::unique_ptr<internal::SentState[]> sent(new internal::SentState[cap]);
    for (uint32_t i = 0; i < n; ++i) sent[i] = rate_->sent[(snd_head_ + i) & (snd_cap_ - 1)];
    rate_->sent = std::move(sent);
  }
  snd_ = std::move(ring);
  if (scan_ == nullptr) scan_ = std::make_unique<internal::SendScan>();
  scan_->Resize(cap);
  snd_cap_ = cap;
  snd_head_ = 0;
  for (uint32_t i = 0; i < nsnd_buf_; ++i) Restate(i);
}

// Scan state of one snd_buf slot: what the flush's block filter needs.
uint32_t Kcp::ScanStateOf(const SndSeg& s) const {
  using internal::SendScan;
  if (s.acked) return SendScan::kSkip;
  if (s.xmit == 0) return SendScan::kAttention;
  if (flavor_ == Flavor::kKcpGo) {
    // Fast or early retransmission possible.
    return s.fastack != 0 && s.fastack != kFastAckSentinel ? SendScan::kAttention
                                                           : SendScan::kQuiet;
  }
  // ikcp fast retransmission possible.
  return fastresend_ > 0 && s.fastack >= static_cast<uint32_t>(fastresend_) ? SendScan::kAttention
                                                                            : SendScan::kQuiet;
}

void Kcp::Restate(uint32_t slot) {
  scan_->Set(slot, ScanStateOf(snd_[slot]), snd_[slot].resendts);
}

// Debug builds (tests) recompute the flush bookkeeping from scratch before
// every flush and stop on any difference.
void Kcp::CheckFlushBookkeeping() const {
#ifndef NDEBUG
  uint32_t unsent = 0, fast = 0;
  bool any_sent = false;
  uint32_t min_rs = 0;
  for (uint32_t i = 0; i < nsnd_buf_; ++i) {
    const uint32_t slot = (snd_head_ + i) & (snd_cap_ - 1);
    const SndSeg& s = snd_[slot];
    if (scan_->state(slot) != ScanStateOf(s) || scan_->resend(slot) != s.resendts) std::abort();
    if (s.acked) continue;
    unsent += s.xmit == 0;
    fast += FastCounted(s);
    if (s.xmit != 0 && (!any_sent || Diff(s.resendts, min_rs) < 0)) min_rs = s.resendts;
    any_sent |= s.xmit != 0;
  }
  if (unsent != unsent_ || fast != fast_pending_) std::abort();
  if (resend_bound_ == ResendBound::kNone && any_sent) std::abort();
  if (resend_bound_ == ResendBound::kExact && (!any_sent || min_rs != min_resend_)) std::abort();
#endif
}

void Kcp::PushSnd(SegmentPool::Block* data, uint32_t len, uint8_t frg) {
  const uint32_t n = nsnd_buf_ + nsnd_que_;
  // Doubling from kMinRing: a session that sends a little holds a small ring
  // whatever its window (thousands of quiet sessions per process).
  if (n == snd_cap_) GrowSndRing(snd_cap_ * 2);
  idle_marked_ = false;
  SndSeg& s = SndAt(n);
  s = SndSeg{};
  s.data = data;
  s.len = len;
  s.frg = frg;
  ++nsnd_que_;
}

// Drops `s` (being acknowledged or removed) from the flush bookkeeping.
void Kcp::ForgetInFlight(const SndSeg& s) {
  if (s.acked) return;
  if (s.xmit == 0) --unsent_;
  if (FastCounted(s)) --fast_pending_;
  if (resend_bound_ == ResendBound::kExact && s.xmit != 0 && s.resendts == min_resend_) {
    resend_bound_ = ResendBound::kStale;
  }
}

void Kcp::PopSndFront() {
  SndSeg& s = SndAt(0);
  if (rate_ != nullptr && !s.acked && s.xmit != 0) {
    rate_->sampler.OnDelivered(rate_->sent[snd_head_], s.len + kSegmentHeaderSize, clock_us_);
    ++delivered_now_;
  }
  ForgetInFlight(s);
  pool_->ReleaseChain(s.data);
  if (s.acked) --snd_acked_;
  snd_head_ = (snd_head_ + 1) & (snd_cap_ - 1);
  --nsnd_buf_;
}

void Kcp::ParseUna(uint32_t una, bool* removed) {
  while (nsnd_buf_ > 0 && Diff(una, SndAt(0).sn) > 0) {
    PopSndFront();
    *removed = true;
    peer_acked_ = true;
  }
}

void Kcp::ShrinkBuf() {
  if (flavor_ == Flavor::kIkcp) {
    // ikcp.c removes an acknowledged segment from snd_buf at once; here it
    // is marked, and marked segments at the front are dropped now.
    while (nsnd_buf_ > 0 && SndAt(0).acked) PopSndFront();
  }
  snd_una_ = nsnd_buf_ > 0 ? SndAt(0).sn : snd_nxt_;
}

void Kcp::ParseAck(uint32_t sn) {
  if (Diff(sn, snd_una_) < 0 || Diff(sn, snd_nxt_) >= 0) return;
  // snd_buf holds consecutive sns from its front to snd_nxt - 1.
  const uint32_t idx = sn - SndAt(0).sn;
  if (idx >= nsnd_buf_) return;
  SndSeg& s = SndAt(idx);
  if (s.acked) return;
  if (rate_ != nullptr && s.xmit != 0) {
    rate_->sampler.OnDelivered(rate_->sent[(snd_head_ + idx) & (snd_cap_ - 1)],
                               s.len + kSegmentHeaderSize, clock_us_);
    ++delivered_now_;
  }
  ForgetInFlight(s);
  peer_acked_ = true;
  s.acked = 1;
  ++snd_acked_;
  pool_->ReleaseChain(s.data);
  s.data = nullptr;
  Restate((snd_head_ + idx) & (snd_cap_ - 1));
}

void Kcp::CountLateAcks(absl::Span<const uint8_t> datagram) {
  // Nothing unacknowledged, nothing can be late (a receiver's datagrams are
  // not read twice). The highest sn seen may then fall behind; it only ever
  // undercounts, until the next acknowledgement of new data moves it on.
  if (nsnd_buf_ == snd_acked_) return;
  // Before any una in the datagram moves: a late segment is usually the hole
  // una was waiting for, and the same datagram's una passes it.
  SegmentReader reader(datagram, conv_);
  SegmentHeader h;
  absl::Span<const uint8_t> payload;
  while (reader.Next(&h, &payload) == SegmentReader::kOk) {
    if (h.cmd != kCmdAck) continue;
    if (!seen_ack_entry_ || Diff(h.sn, max_ack_entry_sn_) > 0) {
      seen_ack_entry_ = true;
      max_ack_entry_sn_ = h.sn;
      continue;
    }
    // Below an sn already acknowledged. Resent segments are RetransSegs'
    // (counted when resent); acknowledged ones were not late.
    if (Diff(h.sn, snd_una_) < 0 || Diff(h.sn, snd_nxt_) >= 0) continue;
    const SndSeg& s = SndAt(h.sn - SndAt(0).sn);
    if (!s.acked && s.xmit == 1) ++counters_.late_acked_segs;
  }
}

bool Kcp::ParseFastAckKcpGo(uint32_t sn, uint32_t ts) {
  if (Diff(sn, snd_una_) < 0 || Diff(sn, snd_nxt_) >= 0) return false;
  const uint32_t end = std::min(sn - SndAt(0).sn, nsnd_buf_);
  const uint32_t threshold = static_cast<uint32_t>(fastresend_);
  bool reached = false;
  for (uint32_t i = 0; i < end; ++i) {
    SndSeg& s = SndAt(i);
    if (Diff(s.ts, ts) <= 0 && s.fastack != kFastAckSentinel) {
      if (s.fastack == 0 && !s.acked) {
        ++fast_pending_;
        scan_->SetState((snd_head_ + i) & (snd_cap_ - 1), internal::SendScan::kAttention);
      }
      ++s.fastack;
      reached |= s.fastack >= threshold;
    }
  }
  return reached;
}

void Kcp::ParseFastAckIkcp(uint32_t sn, uint32_t ts) {
  if (Diff(sn, snd_una_) < 0 || Diff(sn, snd_nxt_) >= 0) return;
  const uint32_t end = std::min(sn - SndAt(0).sn, nsnd_buf_);
  for (uint32_t i = 0; i < end; ++i) {
    SndSeg& s = SndAt(i);
    if (!s.acked && Diff(ts, s.ts) >= 0) {  // IKCP_FASTACK_CONSERVE
      if (s.fastack == 0) ++fast_pending_;
      ++s.fastack;
      if (fastresend_ > 0 && s.fastack == static_cast<uint32_t>(fastresend_)) {
        scan_->SetState((snd_head_ + i) & (snd_cap_ - 1), internal::SendScan::kAttention);
      }
    }
  }
}

// ikcp_update_ack (docs/protocol.md §2.9). 64-bit intermediates: ikcp's int
// arithmetic would overflow only for RTTs of days, which only forged `ts`
// values produce; rx_rto is clamped either way.
void Kcp::UpdateAckIkcp(int32_t rtt) {
  if (rx_srtt_ == 0) {
    rx_srtt_ = rtt;
    rx_rttval_ = rtt / 2;
  } else {
    int64_t delta = int64_t{rtt} - rx_srtt_;
    if (delta < 0) delta = -delta;
    rx_rttval_ = static_cast<int32_t>((3 * int64_t{rx_rttval_} + delta) / 4);
    rx_srtt_ = static_cast<int32_t>((7 * int64_t{rx_srtt_} + rtt) / 8);
    if (rx_srtt_ < 1) rx_srtt_ = 1;
  }
  const uint32_t rto =
      static_cast<uint32_t>(rx_srtt_) + std::max(interval_, 4u * static_cast<uint32_t>(rx_rttval_));
  rx_rto_ = std::min(std::max(rx_minrto_, rto), kRtoMax);
}

// kcp-go update_ack, RFC 6298 with a 1/32 weight for low samples (§2.9),
// in Go's wrapping int32 arithmetic.
void Kcp::UpdateAckKcpGo(int32_t rtt) {
  if (rx_srtt_ == 0) {
    rx_srtt_ = rtt;
    rx_rttval_ = rtt >> 1;
  } else {
    int32_t delta = Wrap32(int64_t{rtt} - rx_srtt_);
    rx_srtt_ = Wrap32(int64_t{rx_srtt_} + (delta >> 3));
    if (delta < 0) delta = Wrap32(-int64_t{delta});
    if (rtt < Wrap32(int64_t{rx_srtt_} - rx_rttval_)) {
      rx_rttval_ = Wrap32(int64_t{rx_rttval_} + (Wrap32(int64_t{delta} - rx_rttval_) >> 5));
    } else {
      rx_rttval_ = Wrap32(int64_t{rx_rttval_} + (Wrap32(int64_t{delta} - rx_rttval_) >> 2));
    }
  }
  const uint32_t rto =
      static_cast<uint32_t>(rx_srtt_) + std::max(interval_, static_cast<uint32_t>(rx_rttval_) << 2);
  rx_rto_ = std::min(std::max(rx_minrto_, rto), kRtoMax);
}

void Kcp::PushAck(uint32_t sn, uint32_t ts, uint32_t now) {
  idle_marked_ = false;
  acks_.push_back(AckItem{sn, ts});
  if (acks_.size() >= std::max<size_t>(kMinAckCap, size_t{4} * rcv_wnd_)) {
    // Flood guard (see kMinAckCap): ACKs only, wherever Input is.
    uint32_t sn_unused, ts_unused;
    WriteAcks(&sn_unused, &ts_unused);
    if (out_size_ > 0) EmitDatagram();
  }
}

// ---------------------------------------------------------------------------
// Receive ring

Kcp::RcvSlot& Kcp::RcvAt(uint32_t sn) { return rcv_[sn & (rcv_cap_ - 1)]; }
const Kcp::RcvSlot& Kcp::RcvAt(uint32_t sn) const { return rcv_[sn & (rcv_cap_ - 1)]; }

void Kcp::GrowRcvRing(uint32_t min_capacity) {
  const uint32_t cap = RoundUpPow2(std::max<uint32_t>(min_capacity, kMinRing));
  std::unique_ptr<RcvSlot[]> ring(new RcvSlot[cap]());
  if (rcv_ != nullptr) {
    // Every stored sn lies in [rcv_nxt - nrcv_que, that + old capacity).
    const uint32_t first = rcv_nxt_ - nrcv_que_;
    for (uint32_t i = 0; i < rcv_cap_; ++i) {
      const RcvSlot& old = RcvAt(first + i);
      if (old.present) ring[(first + i) & (cap - 1)] = old;
    }
  }
  rcv_ = std::move(ring);
  rcv_cap_ = cap;
}

bool Kcp::ParseData(uint32_t sn, uint8_t frg, absl::Span<const uint8_t> payload) {
  if (Diff(sn, rcv_nxt_ + rcv_wnd_) >= 0 || Diff(sn, rcv_nxt_) < 0) return true;
  // The ring covers [rcv_nxt - nrcv_que, newest stored sn]; it grows (in
  // powers of two) with the span actually in use, not with the window.
  const uint32_t span = sn - (rcv_nxt_ - nrcv_que_) + 1;
  if (rcv_ == nullptr || span > rcv_cap_) GrowRcvRing(span);
  RcvSlot& slot = RcvAt(sn);
  if (slot.present) {
    MoveReceived();
    return true;
  }
  slot.data = StoreBytes(payload.data(), payload.size());
  slot.len = static_cast<uint32_t>(payload.size());
  slot.frg = frg;
  slot.present = true;
  ++nrcv_buf_;
  MoveReceived();
  return false;
}

// rcv_buf -> rcv_queue: in this ring that is only a change of counters.
void Kcp::MoveReceived() {
  while (nrcv_buf_ > 0 && nrcv_que_ < rcv_wnd_ && RcvAt(rcv_nxt_).present) {
    ++nrcv_que_;
    --nrcv_buf_;
    ++rcv_nxt_;
  }
}

int Kcp::PeekSize() const {
  if (nrcv_que_ == 0) return -1;
  const uint32_t first = rcv_nxt_ - nrcv_que_;
  const RcvSlot& head = RcvAt(first);
  if (head.frg == 0) return static_cast<int>(head.len);
  if (nrcv_que_ < uint32_t{head.frg} + 1) return -1;
  int64_t length = 0;
  for (uint32_t i = 0; i < nrcv_que_; ++i) {
    const RcvSlot& s = RcvAt(first + i);
    length += s.len;
    if (s.frg == 0) break;
  }
  return static_cast<int>(std::min<int64_t>(length, 0x7fffffff));
}

int Kcp::Recv(absl::Span<uint8_t> buffer) {
  if (nrcv_que_ == 0) return kRecvEmpty;
  const int peek = PeekSize();
  if (peek < 0) return kRecvIncomplete;
  if (static_cast<size_t>(peek) > buffer.size()) return kRecvBufferTooSmall;
  const bool recover = nrcv_que_ >= rcv_wnd_;
  const size_t bs = pool_->block_size();
  uint8_t* dst = buffer.data();
  while (nrcv_que_ > 0) {
    RcvSlot& s = RcvAt(rcv_nxt_ - nrcv_que_);
    CopyOut(s.data, bs, s.len, dst);
    dst += s.len;
    pool_->ReleaseChain(s.data);
    s.data = nullptr;
    s.present = false;
    --nrcv_que_;
    if (s.frg == 0) break;
  }
  MoveReceived();
  if (nrcv_que_ < rcv_wnd_ && recover) probe_ |= kAskTell;  // fast recover
  return peek;
}

// ---------------------------------------------------------------------------
// Send

int Kcp::Send(absl::Span<const uint8_t> data) {
  const bool ikcp = flavor_ == Flavor::kIkcp;
  const uint8_t* p = data.data();
  size_t len = data.size();
  if (!ikcp && len == 0) return kSendEmpty;
  size_t sent = 0;
  if (stream_) {
    if (nsnd_que_ > 0) {
      SndSeg& last = SndAt(nsnd_buf_ + nsnd_que_ - 1);
      if (last.len < mss_) {
        const size_t extend = std::min<size_t>(len, mss_ - last.len);
        AppendBytes(last, p, extend);
        if (ikcp) last.frg = 0;  // ikcp rebuilds the segment with frg 0
        p += extend;
        len -= extend;
        sent = extend;
      }
    }
    if (len == 0) return static_cast<int>(sent);
  }
  const size_t count = len <= mss_ ? 1 : (len + mss_ - 1) / mss_;
  if (ikcp ? count >= kMaxFragmentsIkcp : count > kMaxFragmentsKcpGo) {
    return (ikcp && stream_ && sent > 0) ? static_cast<int>(sent) : kSendTooLarge;
  }
  for (size_t i = 0; i < count; ++i) {
    const size_t size = std::min<size_t>(len, mss_);
    PushSnd(StoreBytes(p, size), static_cast<uint32_t>(size),
            stream_ ? 0 : static_cast<uint8_t>(count - i - 1));
    p += size;
    len -= size;
    sent += size;
  }
  return static_cast<int>(sent);
}

size_t Kcp::Write(absl::Span<const uint8_t> data, uint32_t now_ms) {
  size_t offset = 0;
  while (offset < data.size()) {
    const size_t n = std::min<size_t>(data.size() - offset, mss_);
    Send(data.subspan(offset, n));
    offset += n;
  }
  if (WaitSnd() >= snd_wnd_ || !write_delay_) Flush(now_ms);
  return data.size();
}

uint32_t Kcp::WaitSnd() const {
  const uint32_t in_buf = flavor_ == Flavor::kIkcp ? nsnd_buf_ - snd_acked_ : nsnd_buf_;
  return in_buf + nsnd_que_;
}

// ---------------------------------------------------------------------------
// Input

int Kcp::Input(absl::Span<const uint8_t> datagram, uint32_t now_ms, bool fec_recovered) {
  const bool kcpgo = flavor_ == Flavor::kKcpGo;
  ++counters_.in_datagrams;
  counters_.in_bytes += datagram.size();
  if (datagram.size() < kSegmentHeaderSize) {
    ++counters_.in_errors;
    return kInputInvalid;
  }
  const uint32_t prev_una = snd_una_;
  CountLateAcks(datagram);
  clock_us_ = NowUs(now_ms);
  delivered_now_ = 0;
  const uint64_t delivered_before = rate_ != nullptr ? rate_->sampler.delivered() : 0;
  bool got_ack = false;
  bool flush_segments = false;  // kKcpGo: una advanced or fast-ack threshold hit
  uint32_t maxack = 0, latest_ts = 0;
  uint64_t in_segs = 0;

  SegmentReader reader(datagram, conv_);
  for (;;) {
    SegmentHeader h;
    absl::Span<const uint8_t> payload;
    const SegmentReader::Result r = reader.Next(&h, &payload);
    if (r == SegmentReader::kEnd) break;
    if (r != SegmentReader::kOk) {
      ++counters_.in_errors;
      return r == SegmentReader::kConvMismatch ? kInputInvalid
             : r == SegmentReader::kTruncated  ? kInputTruncated
                                               : kInputBadCommand;
    }
    if (!fec_recovered) rmt_wnd_ = h.wnd;
    ParseUna(h.una, &flush_segments);
    ShrinkBuf();
    switch (h.cmd) {
      case kCmdAck:
        if (kcpgo) {
          ParseAck(h.sn);
          flush_segments |= ParseFastAckKcpGo(h.sn, h.ts);
          got_ack = true;
          latest_ts = h.ts;
        } else {
          if (!fec_recovered) {
            const int32_t rtt = Diff(current_, h.ts);
            if (rtt >= 0) UpdateAckIkcp(rtt);
          }
          ParseAck(h.sn);
          ShrinkBuf();
          if (!got_ack) {
            got_ack = true;
            maxack = h.sn;
            latest_ts = h.ts;
          } else if (Diff(h.sn, maxack) > 0 && Diff(h.ts, latest_ts) > 0) {
            maxack = h.sn;  // IKCP_FASTACK_CONSERVE
            latest_ts = h.ts;
          }
        }
        break;
      case kCmdPush: {
        if (await_first_) {
          if (rcv_nxt_ != 0) {
            await_first_ = false;
          } else if (h.sn != 0) {
            break;  // SetAwaitFirstSegment: not acknowledged, not kept
          }
        }
        bool repeat = true;
        if (Diff(h.sn, rcv_nxt_ + rcv_wnd_) < 0) {
          PushAck(h.sn, h.ts, now_ms);
          if (Diff(h.sn, rcv_nxt_) >= 0) repeat = ParseData(h.sn, h.frg, payload);
        }
        if (repeat && !fec_recovered) ++counters_.repeat_segs;
        break;
      }
      case kCmdWask:
        probe_ |= kAskTell;
        break;
      default:  // kCmdWins: the window was taken above
        break;
    }
    ++in_segs;
  }
  counters_.in_segs += in_segs;

  if (got_ack) {
    if (!kcpgo) {
      ParseFastAckIkcp(maxack, latest_ts);
    } else if (!fec_recovered) {
      const int32_t rtt = Diff(now_ms, latest_ts);
      if (rtt >= 0) UpdateAckKcpGo(rtt);
    }
  }

  // Congestion control (§2.10 for KCP's own window).
  const bool una_advanced = Diff(snd_una_, prev_una) > 0;
  if (una_advanced || delivered_now_ > 0) {
    AckEvent ev;
    ev.now_us = clock_us_;
    ev.una_advanced = una_advanced;
    ev.remote_window = rmt_wnd_;
    ev.mss = mss_;
    ev.inflight_segments = nsnd_buf_ - snd_acked_ - unsent_;
    if (rate_ != nullptr) {
      ev.delivered_segments = delivered_now_;
      ev.total_delivered = rate_->sampler.delivered();
      ev.delivered_bytes = ev.total_delivered - delivered_before;
      ev.sample = rate_->sampler.TakeSample(clock_us_, 0);
    }
    cc_->OnAck(ev);
  }

  if (kcpgo) {
    FlushKind wanted;
    if (flush_segments) {
      wanted = FlushKind::kFull;
    } else if (acks_.size() >= mtu_ / kSegmentHeaderSize) {
      wanted = FlushKind::kAckOnly;  // ACK clocking (KG-HEAD)
    } else if (ack_nodelay_ && !acks_.empty()) {
      wanted = FlushKind::kAckOnly;
    } else {
      return kInputOk;
    }
    if (deferred_ != kDeferOff) {
      if (deferred_ == kNoDeferredFlush || wanted == FlushKind::kFull) {
        deferred_ = static_cast<uint8_t>(wanted);
      }
    } else {
      FlushInternal(wanted, now_ms);
    }
  } else if (ack_nodelay_ && !acks_.empty()) {
    uint32_t sn_unused, ts_unused;
    WriteAcks(&sn_unused, &ts_unused);
    if (out_size_ > 0) EmitDatagram();
  }
  return kInputOk;
}

// ---------------------------------------------------------------------------
// Output

uint8_t* Kcp::Reserve(size_t need) {
  if (out_buf_.size() == 0) {
    absl::Span<uint8_t> b = sink_->AcquireBuffer();
    if (b.size() < size_t{headroom_} + mtu_ + tailroom_) {
      ++counters_.output_buffer_errors;
      sink_->Emit(b, 0);
      return nullptr;
    }
    out_buf_ = b;
    out_size_ = 0;
  }
  if (headroom_ + out_size_ + need + tailroom_ > out_buf_.size()) {
    // Only a segment longer than the MTU gets here, which SetMtu prevents.
    ++counters_.output_buffer_errors;
    return nullptr;
  }
  uint8_t* p = out_buf_.data() + headroom_ + out_size_;
  out_size_ += need;
  return p;
}

void Kcp::EmitDatagram() {
  if (out_buf_.size() == 0) return;
  const absl::Span<uint8_t> b = out_buf_;
  const size_t n = out_size_;
  out_buf_ = {};
  out_size_ = 0;
  ++counters_.out_datagrams;
  counters_.out_bytes += n;
  sink_->Emit(b, n);
}

void Kcp::WriteSegment(const SegmentHeader& h, const SegmentPool::Block* data) {
  MakeSpace(kSegmentHeaderSize + h.len);
  uint8_t* p = Reserve(kSegmentHeaderSize + h.len);
  if (p == nullptr) return;
  EncodeSegmentHeader(h, p);
  if (h.len > 0) CopyOut(data, pool_->block_size(), h.len, p + kSegmentHeaderSize);
  ++counters_.out_segs;
}

// Phase 1 of a flush: one ACK per list entry (kcp-go: only those still out
// of order, plus the last one, §2.6). Reports the last ACK written, which
// the WASK/WINS segments of the same flush carry in sn/ts (§2.1).
void Kcp::WriteAcks(uint32_t* last_sn, uint32_t* last_ts) {
  *last_sn = 0;
  *last_ts = 0;
  if (acks_.empty()) return;
  SegmentHeader h;
  h.conv = conv_;
  h.cmd = kCmdAck;
  h.wnd = static_cast<uint16_t>(WndUnused());
  h.una = rcv_nxt_;
  const size_t n = acks_.size();
  const bool filter = flavor_ == Flavor::kKcpGo;
  for (size_t i = 0; i < n; ++i) {
    const AckItem a = acks_[i];
    if (filter) {
      // kcp-go makes room before deciding whether to write (a filtered ACK
      // can still end the datagram), which this reproduces.
      MakeSpace(kSegmentHeaderSize);
      if (Diff(a.sn, rcv_nxt_) < 0 && i + 1 != n) continue;
    }
    h.sn = a.sn;
    h.ts = a.ts;
    WriteSegment(h, nullptr);
    *last_sn = a.sn;
    *last_ts = a.ts;
  }
  acks_.clear();
}

uint32_t Kcp::FlushInternal(FlushKind kind, uint32_t now) {
  // This flush does what a deferred one would have done.
  if (input_flush_deferred() &&
      (kind == FlushKind::kFull || deferred_ == static_cast<uint8_t>(FlushKind::kAckOnly))) {
    deferred_ = kNoDeferredFlush;
  }
  CheckFlushBookkeeping();
  current_ = now;  // the time of the last flush (NextFlush's interval grid)
  clock_us_ = NowUs(now);
  const bool kcpgo = flavor_ == Flavor::kKcpGo;
  SegmentHeader tmpl;
  tmpl.conv = conv_;
  tmpl.wnd = static_cast<uint16_t>(WndUnused());
  tmpl.una = rcv_nxt_;

  // Phase 1: ACKs.
  WriteAcks(&tmpl.sn, &tmpl.ts);

  // Phase 2: window probing while the peer's window is zero (§2.11), only
  // for data that waits for it, and only once the peer has acknowledged
  // something (kcp.h "Window probes"): a zero window in one forged datagram
  // must not buy a WASK every few seconds for ever.
  if (rmt_wnd_ == 0 && nsnd_que_ > 0 && peer_acked_) {
    if (probe_wait_ == 0) {
      probe_wait_ = probe_init_;
      ts_probe_ = now + probe_wait_;
    } else if (Diff(now, ts_probe_) >= 0) {
      if (probe_wait_ < probe_init_) probe_wait_ = probe_init_;
      probe_wait_ += probe_wait_ / 2;
      if (probe_wait_ > kProbeLimit) probe_wait_ = kProbeLimit;
      ts_probe_ = now + probe_wait_;
      probe_ |= kAskSend;
    }
  } else {
    ts_probe_ = 0;
    probe_wait_ = 0;
  }

  // Phase 3: WASK / WINS.
  if (probe_ & kAskSend) {
    tmpl.cmd = kCmdWask;
    WriteSegment(tmpl, nullptr);
  }
  if (probe_ & kAskTell) {
    tmpl.cmd = kCmdWins;
    WriteSegment(tmpl, nullptr);
  }
  probe_ = 0;

  // Phase 4: snd_queue -> snd_buf within the effective window: a span of
  // sequence numbers (KCP's window), and for controllers that count
  // segments in flight, their window.
  uint32_t cwnd = std::min(snd_wnd_, rmt_wnd_);
  const uint32_t cc_window = cc_->window();
  const bool span_window = cc_->window_is_span();
  if (span_window) cwnd = std::min(cc_window, cwnd);
  uint32_t unacked = nsnd_buf_ - snd_acked_;
  uint32_t new_segs = 0;
  while (nsnd_que_ > 0 && Diff(snd_nxt_, snd_una_ + cwnd) < 0 &&
         (span_window || unacked < cc_window)) {
    ++unacked;
    SndSeg& s = SndAt(nsnd_buf_);
    s.sn = snd_nxt_++;
    if (!kcpgo) {
      s.ts = now;
      s.resendts = now;
      s.rto = rx_rto_;
      s.fastack = 0;
      s.xmit = 0;
    }
    Restate((snd_head_ + nsnd_buf_) & (snd_cap_ - 1));
    ++nsnd_buf_;
    --nsnd_que_;
    ++new_segs;
    ++unsent_;
  }

  // Phase 5: (re)transmissions.
  const uint32_t resent = fastresend_ > 0 ? static_cast<uint32_t>(fastresend_) : 0xFFFFFFFFu;
  uint32_t next = interval_;
  uint64_t change = 0, lost = 0, fast = 0, early = 0;
  uint64_t retransmitted_bytes = 0;
  bool paced_out = false;  // the pacing gate stopped this flush
  // Nothing in snd_buf can need sending: no unsent segment, no fast-ack
  // count that could fire (kIkcp without fast resend never fires), and the
  // earliest retransmission still ahead. Then the scan is skipped; its
  // result would be the same.
  const bool fast_possible = fast_pending_ != 0 && (kcpgo || fastresend_ > 0);
  const bool skip_scan = kind == FlushKind::kFull && unsent_ == 0 && !fast_possible &&
                         (resend_bound_ == ResendBound::kNone ||
                          (resend_bound_ == ResendBound::kExact && Diff(now, min_resend_) < 0));
  if (skip_scan) {
    if (resend_bound_ == ResendBound::kExact) {
      next = std::min(next, static_cast<uint32_t>(Diff(min_resend_, now)));
    }
  } else if (kind == FlushKind::kFull) {
    int32_t min_d = 0x7fffffff;  // earliest retransmission after this flush
    SegmentHeader h;
    h.conv = conv_;
    h.cmd = kCmdPush;
    h.wnd = tmpl.wnd;
    h.una = rcv_nxt_;
    const uint32_t rtomin = (!kcpgo && nodelay_ == 0) ? rx_rto_ >> 3 : 0;
    const uint32_t send_rto = cc_->RetransmissionTimeout(rx_rto_, rx_srtt_, interval_);
    // Sent and unacknowledged: a new send span starts when this is 0.
    uint32_t sent_unacked = nsnd_buf_ - snd_acked_ - unsent_;
    // One segment, in snd_buf order (ring slot `slot`).
    auto visit = [&](uint32_t slot) {
      SndSeg& s = snd_[slot];
      if (s.acked) return;
      // Most segments are merely waiting: sent, not due, no fast-ack count
      // that could fire. They only feed the next-deadline minimum.
      const int32_t wait = Diff(s.resendts, now);
      if (s.xmit != 0 && wait > 0 &&
          (kcpgo ? (s.fastack == 0 || s.fastack == kFastAckSentinel) : s.fastack < resent)) {
        min_d = std::min(min_d, wait);
        return;
      }
      // Pacing: a segment that needs a new datagram waits while the gate is
      // closed, and so does everything after it (order is kept). Nothing
      // about the segment changes; the next flush finds it as it is.
      if (gate_ != nullptr &&
          (paced_out || ((out_size_ == 0 || out_size_ + kSegmentHeaderSize + s.len > mtu_) &&
                         !gate_->MaySend(clock_us_)))) {
        paced_out = true;
        if (s.xmit != 0) min_d = std::min(min_d, wait);
        return;
      }
      bool needsend = false;
      const bool was_counted = FastCounted(s);
      if (kcpgo) {
        if (s.xmit == 0) {
          needsend = true;
          --unsent_;
          s.rto = send_rto;
          s.resendts = now + s.rto;
        } else if (s.fastack >= resent && s.fastack != kFastAckSentinel) {
          needsend = true;
          s.fastack = kFastAckSentinel;
          s.rto = send_rto;
          s.resendts = now + s.rto;
          ++change;
          ++fast;
        } else if (s.fastack > 0 && s.fastack != kFastAckSentinel && new_segs == 0) {
          needsend = true;
          s.fastack = kFastAckSentinel;
          s.rto = send_rto;
          s.resendts = now + s.rto;
          ++change;
          ++early;
        } else if (Diff(now, s.resendts) >= 0) {
          needsend = true;
          s.rto += nodelay_ == 0 ? rx_rto_ : rx_rto_ / 2;
          s.fastack = 0;
          s.resendts = now + s.rto;
          ++lost;
        }
        if (needsend) ++s.xmit;
      } else {
        if (s.xmit == 0) {
          needsend = true;
          --unsent_;
          ++s.xmit;
          s.rto = send_rto;
          s.resendts = now + s.rto + rtomin;
        } else if (Diff(now, s.resendts) >= 0) {
          needsend = true;
          ++s.xmit;
          ++xmit_;
          if (nodelay_ == 0) {
            s.rto += std::max(s.rto, rx_rto_);
          } else {
            const uint32_t step = nodelay_ < 2 ? s.rto : rx_rto_;
            s.rto += step / 2;
          }
          s.resendts = now + s.rto;
          ++lost;
        } else if (s.fastack >= resent) {
          if (static_cast<int>(s.xmit) <= fastlimit_ || fastlimit_ <= 0) {
            needsend = true;
            ++s.xmit;
            s.fastack = 0;
            s.resendts = now + s.rto;
            ++change;
            ++fast;
          }
        }
      }
      fast_pending_ += static_cast<uint32_t>(FastCounted(s)) - static_cast<uint32_t>(was_counted);
      if (needsend) {
        if (rate_ != nullptr) {
          const bool first = s.xmit == 1;
          rate_->sent[slot] = rate_->sampler.OnSent(clock_us_, first && sent_unacked == 0, !first);
          if (first) ++sent_unacked;
          else retransmitted_bytes += s.len + kSegmentHeaderSize;
        }
        s.ts = now;
        h.frg = s.frg;
        h.ts = now;
        h.sn = s.sn;
        h.len = s.len;
        WriteSegment(h, s.data);
        if (s.xmit >= dead_link_) state_ = 0xFFFFFFFFu;
      }
      Restate(slot);
      // After this flush every unacknowledged segment has been sent and its
      // timer is in the future, so min_d > 0 is also kcp-go's nextUpdate.
      min_d = std::min(min_d, Diff(s.resendts, now));
    };
    const int32_t quiet_min = nsnd_buf_ > 0 ? scan_->Scan(snd_head_, nsnd_buf_, now, visit)
                                            : internal::SendScan::kNoTimer;
    min_d = std::min(min_d, quiet_min);
    if (min_d > 0 && static_cast<uint32_t>(min_d) < next) next = static_cast<uint32_t>(min_d);
    if (min_d == 0x7fffffff) {
      resend_bound_ = ResendBound::kNone;
    } else {
      resend_bound_ = ResendBound::kExact;
      min_resend_ = now + static_cast<uint32_t>(min_d);
    }
  }
  if (out_size_ > 0) EmitDatagram();

  // Phase 6: counters and the congestion controller (§2.10).
  counters_.lost_segs += lost;
  counters_.fast_retrans_segs += fast;
  counters_.early_retrans_segs += early;
  counters_.retrans_segs += lost + fast + early;
  FlushEvent ev;
  ev.now_us = clock_us_;
  ev.timeouts = static_cast<uint32_t>(lost);
  ev.fast = static_cast<uint32_t>(fast);
  ev.early = static_cast<uint32_t>(early);
  ev.retransmitted_bytes = retransmitted_bytes;
  ev.inflight_span = snd_nxt_ - snd_una_;
  ev.inflight_segments = nsnd_buf_ - snd_acked_ - unsent_;
  ev.window_used = cwnd;
  ev.fast_resend = resent;
  ev.mss = mss_;
  ev.interval_ms = interval_;
  // An empty queue behind a full window is not an idle application: an
  // embedder stops handing over data at WaitSnd() >= snd_wnd (kcp-go's Write
  // gate), so the queue empties exactly when KCP's window (snd_wnd, or the
  // peer's receive window) holds the sender back.
  const bool window_limited = Diff(snd_nxt_, snd_una_ + std::min(snd_wnd_, rmt_wnd_)) >= 0 ||
                              WaitSnd() >= snd_wnd_;
  ev.app_limited = kind == FlushKind::kFull && nsnd_que_ == 0 && unsent_ == 0 && !paced_out &&
                   !window_limited;
  if (rate_ != nullptr && ev.app_limited) {
    rate_->sampler.MarkAppLimited(uint64_t{ev.inflight_segments} * mtu_);
  }
  cc_->OnFlush(ev);
  return next;
}

// ---------------------------------------------------------------------------
// Time

void Kcp::Update(uint32_t now_ms) {
  current_ = now_ms;
  if (!updated_) {
    updated_ = true;
    ts_flush_ = now_ms;
  }
  int32_t slap = Diff(now_ms, ts_flush_);
  if (slap >= 10000 || slap < -10000) {
    ts_flush_ = now_ms;
    slap = 0;
  }
  if (slap >= 0) {
    ts_flush_ += interval_;
    if (Diff(now_ms, ts_flush_) >= 0) ts_flush_ = now_ms + interval_;
    FlushInternal(FlushKind::kFull, now_ms);
  }
  NoteIdle(now_ms);
}

uint32_t Kcp::Check(uint32_t now_ms) const {
  if (!updated_) return now_ms;
  uint32_t ts_flush = ts_flush_;
  if (Diff(now_ms, ts_flush) >= 10000 || Diff(now_ms, ts_flush) < -10000) ts_flush = now_ms;
  if (Diff(now_ms, ts_flush) >= 0) return now_ms;
  const int32_t tm_flush = Diff(ts_flush, now_ms);
  int32_t tm_packet = 0x7fffffff;
  if (unsent_ != 0) return now_ms;  // moved by an ACK-only flush, never sent
  if (resend_bound_ == ResendBound::kExact) {
    tm_packet = Diff(min_resend_, now_ms);
    if (tm_packet <= 0) return now_ms;
  } else if (resend_bound_ == ResendBound::kStale) {
    for (uint32_t i = 0; i < nsnd_buf_; ++i) {
      const SndSeg& s = SndAt(i);
      if (s.acked) continue;
      const int32_t diff = Diff(s.resendts, now_ms);
      if (diff <= 0) return now_ms;
      if (diff < tm_packet) tm_packet = diff;
    }
  }
  uint32_t minimal = static_cast<uint32_t>(tm_packet < tm_flush ? tm_packet : tm_flush);
  if (minimal >= interval_) minimal = interval_;
  return now_ms + minimal;
}

uint32_t Kcp::Flush(uint32_t now_ms) {
  uint32_t next = interval_;
  if (flavor_ == Flavor::kKcpGo) {
    next = FlushInternal(FlushKind::kFull, now_ms);
  } else {
    current_ = now_ms;
    if (updated_) next = FlushInternal(FlushKind::kFull, now_ms);
  }
  NoteIdle(now_ms);
  return next;
}

void Kcp::AnnounceWindow() { probe_ |= kAskTell; }

bool Kcp::NextFlush(uint32_t now_ms, uint32_t* at) const {
  if (Idle()) return false;
  if (unsent_ > 0 || out_size_ > 0) {
    *at = now_ms;
    return true;
  }
  int32_t wait = 0x7fffffff;
  // Queued data behind a zero window it may not probe waits for the peer's
  // next segment: no wakeup per interval for it.
  const bool owed = input_flush_deferred() || !acks_.empty() || probe_ != 0 ||
                    (nsnd_que_ > 0 && (rmt_wnd_ != 0 || peer_acked_)) || fast_pending_ > 0 ||
                    cc_->window() < 1;
  if (owed) wait = Diff(current_ + interval_, now_ms);
  if (resend_bound_ != ResendBound::kNone) wait = std::min(wait, Diff(min_resend_, now_ms));
  *at = now_ms + static_cast<uint32_t>(std::max(wait, 0));
  return true;
}

void Kcp::SetDeferInputFlush(bool on) {
  if (!on && input_flush_deferred()) {
    FlushInternal(static_cast<FlushKind>(deferred_), current_);
  }
  deferred_ = on ? kNoDeferredFlush : kDeferOff;
}

void Kcp::FlushDeferred(uint32_t now_ms) {
  if (!input_flush_deferred()) return;
  const FlushKind kind = static_cast<FlushKind>(deferred_);
  deferred_ = kNoDeferredFlush;
  FlushInternal(kind, now_ms);
}

bool Kcp::Idle() const {
  // A zero remote window alone is no work: with nothing queued there is
  // nothing to probe for (Phase 2 of FlushInternal).
  return !input_flush_deferred() && acks_.empty() && probe_ == 0 && nsnd_buf_ == 0 &&
         nsnd_que_ == 0 && cc_->window() >= 1 && out_size_ == 0;
}

bool Kcp::Dormant() const {
  return Idle() && snd_ == nullptr && rcv_ == nullptr && acks_.capacity() == 0 &&
         (own_pool_ == nullptr || own_pool_->free_blocks() == 0);
}

void Kcp::NoteIdle(uint32_t now) {
  const bool holds_nothing =
      nsnd_buf_ + nsnd_que_ + nrcv_que_ + nrcv_buf_ == 0 && acks_.empty() && out_size_ == 0;
  if (!holds_nothing) {
    idle_marked_ = false;
    return;
  }
  if (!idle_marked_) {
    idle_marked_ = true;
    idle_since_ = now;
  } else if (Diff(now, idle_since_) >= static_cast<int32_t>(kIdleReleaseMs)) {
    ReleaseIdleMemory();
  }
}

void Kcp::ReleaseIdleMemory() {
  snd_.reset();
  scan_.reset();
  if (rate_ != nullptr) rate_->sent.reset();
  snd_cap_ = 0;
  snd_head_ = 0;
  rcv_.reset();
  rcv_cap_ = 0;
  std::vector<AckItem>().swap(acks_);
  if (own_pool_ != nullptr) own_pool_->Trim(0);
}

// ---------------------------------------------------------------------------
// Configuration

void Kcp::SetNoDelay(int nodelay, int interval, int resend, int nc) {
  if (nodelay >= 0) {
    nodelay_ = static_cast<uint32_t>(nodelay);
    rx_minrto_ = nodelay != 0 ? kRtoNdl : kRtoMin;
  }
  if (interval >= 0) SetInterval(interval);
  if (resend >= 0 && resend != fastresend_) {
    fastresend_ = resend;
    // ikcp's scan state depends on the threshold.
    for (uint32_t i = 0; i < nsnd_buf_; ++i) Restate((snd_head_ + i) & (snd_cap_ - 1));
  }
  if (nc >= 0) {
    nocwnd_ = nc != 0;
    if (kcpgo_window_ != nullptr) kcpgo_window_->set_nocwnd(nocwnd_);
  }
}

absl::Status Kcp::SetCongestionControl(CongestionControl cc, uint64_t seed) {
  if (snd_nxt_ != 0) {
    return absl::FailedPreconditionError(
        "congestion control can only be chosen before the first segment is sent");
  }
  if (cc == CongestionControl::kKcpGo) {
    auto window =
        std::make_unique<internal::KcpGoWindow>(flavor_ == Flavor::kIkcp, /*disabled=*/false);
    window->set_nocwnd(nocwnd_);
    kcpgo_window_ = window.get();
    cc_ = std::move(window);
  } else {
    cc_ = MakeCongestionController(cc, seed != 0 ? seed : conv_);
    kcpgo_window_ = nullptr;
  }
  if (cc_->wants_rate_samples()) {
    rate_ = std::make_unique<RateState>();
    if (snd_cap_ > 0) rate_->sent.reset(new internal::SentState[snd_cap_]);
  } else {
    rate_.reset();
  }
  return absl::OkStatus();
}

CongestionControl Kcp::congestion() const { return cc_->kind(); }

uint64_t Kcp::pacing_rate() const { return cc_->pacing_rate(); }

uint32_t Kcp::cwnd() const {
  return kcpgo_window_ != nullptr ? kcpgo_window_->cwnd() : cc_->window();
}

uint32_t Kcp::ssthresh() const {
  return kcpgo_window_ != nullptr ? kcpgo_window_->ssthresh() : 0;
}

int64_t Kcp::NowUs(uint32_t now_ms) {
  if (precise_clock_) return clock_us_;
  // The calls' milliseconds, extended to 64 bits across wrap-arounds.
  const int64_t ms = clock_us_ / 1000 + Diff(now_ms, clock_ms_);
  clock_ms_ = now_ms;
  return ms * 1000;
}

void Kcp::SetInterval(int interval_ms) {
  interval_ = static_cast<uint32_t>(std::min(std::max(interval_ms, 10), 5000));
}

absl::Status Kcp::SetWindowSize(int snd_wnd, int rcv_wnd) {
  if (snd_wnd > static_cast<int>(kMaxWindow) || rcv_wnd > static_cast<int>(kMaxWindow)) {
    return absl::InvalidArgumentError(absl::StrCat("window sizes must be at most ", kMaxWindow,
                                                   " segments, got snd ", snd_wnd, " rcv ",
                                                   rcv_wnd));
  }
  if (snd_wnd > 0) snd_wnd_ = static_cast<uint32_t>(snd_wnd);
  if (rcv_wnd > 0) {
    rcv_wnd_ = static_cast<uint32_t>(rcv_wnd);
    if (flavor_ == Flavor::kIkcp) rcv_wnd_ = std::max(rcv_wnd_, kWndRcvIkcp);
    if (rcv_wnd_ > rcv_wnd_max_) rcv_wnd_max_ = rcv_wnd_;
    // A larger window may let out-of-order data through at once.
    if (rcv_ != nullptr) MoveReceived();
  }
  return absl::OkStatus();
}

absl::Status Kcp::SetMtu(uint32_t mtu) {
  if (mtu < kMtuMin || mtu > kMtuMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("mtu must be in [", kMtuMin, ", ", kMtuMax, "], got ", mtu));
  }
  const uint32_t mss = mtu - static_cast<uint32_t>(kSegmentHeaderSize);
  for (uint32_t i = 0; i < nsnd_buf_ + nsnd_que_; ++i) {
    if (!SndAt(i).acked && SndAt(i).len > mss) {
      return absl::FailedPreconditionError(
          absl::StrCat("a queued segment of ", SndAt(i).len, " bytes would not fit mtu ", mtu));
    }
  }
  mtu_ = mtu;
  mss_ = mss;
  if (own_pool_ != nullptr && own_pool_->blocks_in_use() == 0 &&
      own_pool_->block_size() < std::max<size_t>(mss_, SegmentPool::kDefaultBlockSize)) {
    own_pool_->SetBlockSize(std::max<size_t>(mss_, SegmentPool::kDefaultBlockSize));
  }
  if (own_sink_ != nullptr) {
    static_cast<CallbackSink*>(own_sink_.get())->Resize(headroom_ + mtu_ + tailroom_, headroom_);
  }
  return absl::OkStatus();
}

absl::Status Kcp::SetHeadroom(size_t headroom, size_t tailroom) {
  if (headroom > 65535 || tailroom > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "headroom and tailroom must be at most 65535 bytes, got ", headroom, " and ", tailroom));
  }
  headroom_ = static_cast<uint32_t>(headroom);
  tailroom_ = static_cast<uint32_t>(tailroom);
  if (own_sink_ != nullptr) {
    static_cast<CallbackSink*>(own_sink_.get())->Resize(headroom_ + mtu_ + tailroom_, headroom_);
  }
  return absl::OkStatus();
}

size_t Kcp::MemoryFootprint() const {
  size_t n = size_t{snd_cap_} * (sizeof(SndSeg) + 2 * sizeof(uint32_t)) +
             (scan_ != nullptr ? sizeof(internal::SendScan) : 0) +
             size_t{rcv_cap_} * sizeof(RcvSlot) + acks_.capacity() * sizeof(AckItem);
  if (own_pool_ != nullptr) n += sizeof(SegmentPool) + own_pool_->bytes_reserved();
  if (own_sink_ != nullptr) {
    n += sizeof(CallbackSink) + static_cast<const CallbackSink*>(own_sink_.get())->capacity();
  }
  return n;
}

}  // namespace kcpp::kcp
