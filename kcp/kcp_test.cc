// Unit tests of the engine. Expected values come from docs/protocol.md (the
// section is cited at each test), worked out by hand, never from this code.
#include "kcp/kcp.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "kcp/kcp_test_util.h"

namespace kcpp::kcp {
namespace {

constexpr uint32_t kConv = 0x11223344;

using Datagram = std::vector<uint8_t>;

struct Seg {
  SegmentHeader h;
  std::string data;
};

std::vector<Seg> Parse(const Datagram& d) {
  std::vector<Seg> out;
  SegmentReader r(d);
  SegmentHeader h;
  absl::Span<const uint8_t> p;
  while (r.Next(&h, &p) == SegmentReader::kOk) out.push_back({h, std::string(p.begin(), p.end())});
  EXPECT_EQ(r.rest().size(), 0u);
  return out;
}

// An engine whose datagrams are collected.
struct Probe {
  explicit Probe(Flavor f, uint32_t conv = kConv)
      : kcp(
            conv, [this](absl::Span<const uint8_t> d) { out.emplace_back(d.begin(), d.end()); },
            f) {}
  std::vector<Seg> TakeSegments() {
    std::vector<Seg> all;
    for (const Datagram& d : out) {
      for (Seg& s : Parse(d)) all.push_back(std::move(s));
    }
    out.clear();
    return all;
  }
  std::vector<Datagram> out;
  Kcp kcp;
};

Datagram Encode(const std::vector<Seg>& segs) {
  Datagram d;
  for (const Seg& s : segs) {
    SegmentHeader h = s.h;
    h.len = static_cast<uint32_t>(s.data.size());
    uint8_t hdr[kSegmentHeaderSize];
    EncodeSegmentHeader(h, hdr);
    d.insert(d.end(), hdr, hdr + kSegmentHeaderSize);
    d.insert(d.end(), s.data.begin(), s.data.end());
  }
  return d;
}

Seg Push(uint32_t sn, std::string data, uint32_t una = 0, uint32_t ts = 0, uint16_t wnd = 128,
         uint8_t frg = 0, uint32_t conv = kConv) {
  Seg s;
  s.h.conv = conv;
  s.h.cmd = kCmdPush;
  s.h.sn = sn;
  s.h.una = una;
  s.h.ts = ts;
  s.h.wnd = wnd;
  s.h.frg = frg;
  s.data = std::move(data);
  return s;
}

Seg Ack(uint32_t sn, uint32_t ts, uint32_t una, uint16_t wnd = 128) {
  Seg s;
  s.h.conv = kConv;
  s.h.cmd = kCmdAck;
  s.h.sn = sn;
  s.h.ts = ts;
  s.h.una = una;
  s.h.wnd = wnd;
  return s;
}

Seg Cmd(uint8_t cmd, uint16_t wnd, uint32_t una = 0) {
  Seg s;
  s.h.conv = kConv;
  s.h.cmd = cmd;
  s.h.wnd = wnd;
  s.h.una = una;
  return s;
}

std::string RecvString(Kcp& k) {
  std::vector<uint8_t> buf(1 << 20);
  const int n = k.Recv(absl::MakeSpan(buf));
  if (n < 0) return "<" + std::to_string(n) + ">";
  return std::string(buf.begin(), buf.begin() + n);
}

class BothFlavors : public ::testing::TestWithParam<Flavor> {};
INSTANTIATE_TEST_SUITE_P(Kcp, BothFlavors, ::testing::Values(Flavor::kIkcp, Flavor::kKcpGo),
                         [](const auto& info) {
                           return info.param == Flavor::kIkcp ? "Ikcp" : "KcpGo";
                         });

// --- Defaults (docs/protocol.md §2.2, §2.3) ---------------------------------

TEST(KcpDefaults, MatchSpecPerFlavor) {
  Probe i(Flavor::kIkcp), g(Flavor::kKcpGo);
  for (Kcp* k : {&i.kcp, &g.kcp}) {
    EXPECT_EQ(k->mtu(), 1400u);
    EXPECT_EQ(k->mss(), 1376u);
    EXPECT_EQ(k->snd_wnd(), 32u);
    EXPECT_EQ(k->interval(), 100u);
    EXPECT_EQ(k->rto(), 200u);
    EXPECT_EQ(k->min_rto(), 100u);
    EXPECT_EQ(k->ssthresh(), 2u);
    EXPECT_EQ(k->cwnd(), 0u);
    EXPECT_FALSE(k->dead_link());
  }
  EXPECT_EQ(i.kcp.rcv_wnd(), 128u);
  EXPECT_EQ(i.kcp.rmt_wnd(), 128u);
  EXPECT_EQ(g.kcp.rcv_wnd(), 32u);
  EXPECT_EQ(g.kcp.rmt_wnd(), 32u);
  // Footprint promise of kcp.h.
  EXPECT_LE(sizeof(Kcp), 456u);
}

// --- Input validation (docs/protocol.md §2.1) -------------------------------

TEST_P(BothFlavors, InputRejectsMalformedWithIkcpCodes) {
  Probe p(GetParam());
  Kcp& k = p.kcp;
  EXPECT_EQ(k.Input({}, 0), kInputInvalid);
  const Datagram ok = Encode({Push(0, "x")});
  EXPECT_EQ(k.Input(absl::MakeConstSpan(ok).first(23), 0), kInputInvalid);  // truncated header
  EXPECT_EQ(k.Input(Encode({Push(0, "x", 0, 0, 128, 0, kConv + 1)}), 0), kInputInvalid);
  // len larger than what follows, including a len that wraps 32-bit sums.
  Datagram bad_len = ok;
  bad_len[20] = 2;
  EXPECT_EQ(k.Input(bad_len, 0), kInputTruncated);
  bad_len[20] = bad_len[21] = bad_len[22] = bad_len[23] = 0xff;
  EXPECT_EQ(k.Input(bad_len, 0), kInputTruncated);
  Datagram bad_cmd = ok;
  bad_cmd[4] = 85;
  EXPECT_EQ(k.Input(bad_cmd, 0), kInputBadCommand);
  EXPECT_EQ(k.counters().in_errors, 6u);
  EXPECT_EQ(k.RecvQueueSize(), 0u);

  // Segments before the bad one are applied; a short tail is ignored.
  Datagram two = Encode({Push(0, "first"), Push(1, "x", 0, 0, 128, 0, kConv + 1)});
  EXPECT_EQ(k.Input(two, 0), kInputInvalid);
  EXPECT_EQ(RecvString(k), "first");
  Datagram tail = Encode({Push(1, "second")});
  tail.insert(tail.end(), 23, 0xee);
  EXPECT_EQ(k.Input(tail, 0), kInputOk);
  EXPECT_EQ(RecvString(k), "second");
}

TEST(KcpInput, CapturedKcpGoDatagramsAreReceived) {
  // docs/protocol.md Appendix A.3 (KCP part of pkt0..pkt2).
  const char* hex[] = {
      "443322115100200000000000000000000000000001000000"
      "41",
      "44332211510020000500000001000000000000000a000000"
      "42424242424242424242",
      "44332211510020000b0000000200000000000000050000004343434343",
  };
  for (Flavor f : {Flavor::kIkcp, Flavor::kKcpGo}) {
    Probe p(f);
    for (const char* h : hex) {
      const std::string bytes = absl::HexStringToBytes(h);
      ASSERT_EQ(p.kcp.Input(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                bytes.size()),
                            100),
                kInputOk);
    }
    EXPECT_EQ(p.kcp.rmt_wnd(), 32u);
    EXPECT_EQ(RecvString(p.kcp), "A");
    EXPECT_EQ(RecvString(p.kcp), "BBBBBBBBBB");
    EXPECT_EQ(RecvString(p.kcp), "CCCCC");
    EXPECT_EQ(p.kcp.Recv(absl::Span<uint8_t>()), kRecvEmpty);
  }
}

// --- Send / Recv (docs/protocol.md §2.4, §2.5) ------------------------------

TEST_P(BothFlavors, MessageModeFragmentsAndReassembles) {
  Probe a(GetParam()), b(GetParam());
  a.kcp.SetNoDelay(1, 10, 0, 1);
  const std::string big(3 * 1376 + 5, 'z');
  ASSERT_EQ(
      a.kcp.Send(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(big.data()), big.size())),
      static_cast<int>(big.size()));
  a.kcp.Update(0);
  a.kcp.Flush(0);
  std::vector<Seg> segs = a.TakeSegments();
  ASSERT_EQ(segs.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(segs[i].h.frg, 3 - i);
    EXPECT_EQ(segs[i].h.sn, static_cast<uint32_t>(i));
  }
  // Incomplete until the last fragment arrives.
  b.kcp.Input(Encode({segs[0], segs[1], segs[2]}), 0);
  EXPECT_EQ(b.kcp.PeekSize(), -1);
  std::vector<uint8_t> buf(big.size());
  EXPECT_EQ(b.kcp.Recv(absl::MakeSpan(buf)), kRecvIncomplete);
  b.kcp.Input(Encode({segs[3]}), 0);
  EXPECT_EQ(b.kcp.PeekSize(), static_cast<int>(big.size()));
  EXPECT_EQ(b.kcp.Recv(absl::MakeSpan(buf).first(big.size() - 1)), kRecvBufferTooSmall);
  EXPECT_EQ(RecvString(b.kcp), big);
}

TEST_P(BothFlavors, StreamModeTopsUpLastQueuedSegment) {
  Probe a(GetParam());
  a.kcp.SetStreamMode(true);
  a.kcp.SetNoDelay(1, 10, 0, 1);
  const uint8_t ten[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(a.kcp.Send(ten), 10);
  EXPECT_EQ(a.kcp.Send(ten), 10);
  EXPECT_EQ(a.kcp.WaitSnd(), 1u);
  std::vector<uint8_t> more(1376 * 2, 9);
  EXPECT_EQ(a.kcp.Send(more), static_cast<int>(more.size()));
  EXPECT_EQ(a.kcp.WaitSnd(), 3u);  // 1376 | 1376 | 20
  a.kcp.Update(0);
  std::vector<Seg> segs = a.TakeSegments();
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].data.size(), 1376u);
  EXPECT_EQ(segs[2].data.size(), 20u);
  for (const Seg& s : segs) EXPECT_EQ(s.h.frg, 0);
  EXPECT_EQ(segs[0].data.substr(0, 20),
            std::string("\1\2\3\4\5\6\7\10\11\12\1\2\3\4\5\6\7\10\11\12"));
}

TEST(KcpSend, LimitsAndEmptyPerFlavor) {
  Probe i(Flavor::kIkcp), g(Flavor::kKcpGo);
  const size_t mss = 1376;
  std::vector<uint8_t> d(mss * 128);
  // ikcp: count must stay below 128; kcp-go: at most 255 (§2.4).
  EXPECT_EQ(i.kcp.Send(absl::MakeConstSpan(d).first(mss * 127)), static_cast<int>(mss * 127));
  EXPECT_EQ(i.kcp.Send(absl::MakeConstSpan(d).first(mss * 127 + 1)), kSendTooLarge);
  std::vector<uint8_t> e(mss * 256);
  EXPECT_EQ(g.kcp.Send(absl::MakeConstSpan(e).first(mss * 255)), static_cast<int>(mss * 255));
  EXPECT_EQ(g.kcp.Send(absl::MakeConstSpan(e).first(mss * 255 + 1)), kSendTooLarge);
  // Empty: kcp-go refuses, ikcp queues one empty message.
  EXPECT_EQ(g.kcp.Send({}), kSendEmpty);
  const uint32_t before = i.kcp.WaitSnd();
  EXPECT_EQ(i.kcp.Send({}), 0);
  EXPECT_EQ(i.kcp.WaitSnd(), before + 1);
}

TEST_P(BothFlavors, RecvEmptyAndZeroLengthMessage) {
  Probe b(GetParam());
  std::vector<uint8_t> buf(16);
  EXPECT_EQ(b.kcp.Recv(absl::MakeSpan(buf)), kRecvEmpty);
  EXPECT_EQ(b.kcp.PeekSize(), -1);
  b.kcp.Input(Encode({Push(0, "")}), 0);
  EXPECT_EQ(b.kcp.PeekSize(), 0);
  EXPECT_EQ(b.kcp.Recv(absl::MakeSpan(buf)), 0);
  EXPECT_EQ(b.kcp.Recv(absl::MakeSpan(buf)), kRecvEmpty);
}

TEST_P(BothFlavors, OutOfOrderDuplicateAndOutOfWindow) {
  Probe b(GetParam());
  const uint32_t wnd = b.kcp.rcv_wnd();
  b.kcp.Input(Encode({Push(2, "c"), Push(1, "b"), Push(1, "b")}), 0);
  EXPECT_EQ(b.kcp.RecvBufferSize(), 2u);
  EXPECT_EQ(b.kcp.counters().repeat_segs, 1u);
  EXPECT_EQ(b.kcp.Recv(absl::Span<uint8_t>()), kRecvEmpty);
  b.kcp.Input(Encode({Push(wnd, "beyond window")}), 0);  // dropped, no ACK
  b.kcp.Input(Encode({Push(0, "a")}), 0);
  EXPECT_EQ(b.kcp.rcv_nxt(), 3u);
  EXPECT_EQ(RecvString(b.kcp), "a");
  EXPECT_EQ(RecvString(b.kcp), "b");
  EXPECT_EQ(RecvString(b.kcp), "c");
  b.kcp.Input(Encode({Push(0, "old")}), 0);  // re-ACKed, not stored
  EXPECT_EQ(b.kcp.RecvQueueSize(), 0u);
  EXPECT_EQ(b.kcp.counters().repeat_segs, 3u);
  b.kcp.Update(0);
  b.kcp.Flush(0);
  std::vector<uint32_t> acked;
  for (const Seg& s : b.TakeSegments()) {
    if (s.h.cmd == kCmdAck) acked.push_back(s.h.sn);
  }
  if (GetParam() == Flavor::kIkcp) {
    // One ACK per in-window PUSH, in arrival order (§2.6).
    EXPECT_EQ(acked, (std::vector<uint32_t>{2, 1, 1, 0, 0}));
  } else {
    // kcp-go filter: sn < rcv_nxt dropped except the last entry (§2.6).
    EXPECT_EQ(acked, (std::vector<uint32_t>{0}));
  }
}

// A receiver acknowledges segments in the order it takes them in, so an ACK
// below one already seen names a segment that reached it late: FEC rebuilt
// it (after the segments behind it), or the path reordered it. Counted once
// per segment, before the datagram's una passes it, and not for segments
// that were resent (RetransSegs has those).
TEST_P(BothFlavors, CountsSegmentsAcknowledgedOutOfOrder) {
  Probe a(GetParam());
  a.kcp.SetNoDelay(1, 10, 0, 1);
  ASSERT_TRUE(a.kcp.SetWindowSize(64, 64).ok());
  const std::vector<uint8_t> data(10, 0x5a);
  for (int i = 0; i < 6; ++i) a.kcp.Send(data);
  a.kcp.Update(0);
  a.kcp.Flush(0);
  ASSERT_EQ(a.TakeSegments().size(), 6u);
  // 0 was lost and rebuilt after 1 and 2 came; the receiver's una is 3 by
  // the time it acknowledges.
  a.kcp.Input(Encode({Ack(1, 0, 3), Ack(2, 0, 3), Ack(0, 0, 3)}), 0);
  EXPECT_EQ(a.kcp.snd_una(), 3u);
  EXPECT_EQ(a.kcp.counters().late_acked_segs, 1u);
  // (An ACK of 4 alone would have kcp-go's flavor resend 3 at once: with
  // nothing new to send, one overtaking ACK is enough. Resent, 3 would be
  // RetransSegs'.)
  a.kcp.Input(Encode({Ack(4, 0, 5), Ack(3, 0, 5)}), 0);
  EXPECT_EQ(a.kcp.counters().late_acked_segs, 2u);
  a.kcp.Input(Encode({Ack(3, 0, 5), Ack(1, 0, 5)}), 0);  // duplicates
  EXPECT_EQ(a.kcp.counters().late_acked_segs, 2u);
  // 5 times out and is resent, then acknowledged after a new segment.
  a.kcp.Update(2000);
  a.kcp.Flush(2000);
  ASSERT_GE(a.kcp.counters().retrans_segs, 1u);
  a.kcp.Send(data);
  a.kcp.Flush(2000);
  a.kcp.Input(Encode({Ack(6, 2000, 7), Ack(5, 2000, 7)}), 2000);
  EXPECT_EQ(a.kcp.snd_una(), 7u);
  EXPECT_EQ(a.kcp.counters().late_acked_segs, 2u);
}

// --- Output, headroom (docs/architecture.md, kcp.h) -------------------------

class RecordingSink : public OutputSink {
 public:
  explicit RecordingSink(size_t size) : size_(size) {}
  absl::Span<uint8_t> AcquireBuffer() override {
    buffers_.emplace_back(size_, 0xab);
    return absl::MakeSpan(buffers_.back());
  }
  void Emit(absl::Span<uint8_t> buffer, size_t length) override {
    EXPECT_EQ(buffer.data(), buffers_.back().data());
    lengths_.push_back(length);
  }
  size_t size_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::vector<size_t> lengths_;
};

TEST_P(BothFlavors, WritesAtHeadroomAndLeavesItUntouched) {
  RecordingSink sink(28 + 1400 + 16);
  Kcp k(kConv, &sink, GetParam());
  ASSERT_TRUE(k.SetHeadroom(28, 16).ok());
  k.SetNoDelay(1, 10, 0, 1);
  std::vector<uint8_t> data(3000, 0x5a);
  k.Send(data);
  k.Update(0);
  ASSERT_EQ(sink.lengths_.size(), 3u);  // 1376 + 1376 + 248 bytes of data
  size_t total = 0;
  for (size_t i = 0; i < sink.buffers_.size(); ++i) {
    const std::vector<uint8_t>& b = sink.buffers_[i];
    for (size_t j = 0; j < 28; ++j) ASSERT_EQ(b[j], 0xab);
    EXPECT_LE(sink.lengths_[i], 1400u);
    Datagram d(b.begin() + 28, b.begin() + 28 + sink.lengths_[i]);
    for (const Seg& s : Parse(d)) total += s.data.size();
    for (size_t j = 28 + sink.lengths_[i]; j < b.size(); ++j) ASSERT_EQ(b[j], 0xab);
  }
  EXPECT_EQ(total, 3000u);
  EXPECT_EQ(k.counters().out_datagrams, 3u);
}

TEST(KcpOutput, TooSmallSinkBufferIsReturnedAndCounted) {
  RecordingSink sink(100);  // smaller than headroom + mtu
  Kcp k(kConv, &sink, Flavor::kKcpGo);
  k.SetNoDelay(1, 10, 0, 1);
  const uint8_t x[5] = {};
  k.Send(x);
  k.Flush(0);
  ASSERT_EQ(sink.lengths_.size(), 1u);
  EXPECT_EQ(sink.lengths_[0], 0u);
  EXPECT_EQ(k.counters().output_buffer_errors, 1u);
  EXPECT_EQ(k.counters().out_datagrams, 0u);
}

TEST_P(BothFlavors, DatagramsNeverExceedMtuAndPackAcksFirst) {
  Probe b(GetParam());
  ASSERT_TRUE(b.kcp.SetMtu(200).ok());
  b.kcp.SetNoDelay(1, 10, 0, 1);
  // 20 out-of-order PUSHes -> 20 pending ACKs (none filtered: all >= rcv_nxt).
  std::vector<Seg> pushes;
  for (uint32_t sn = 1; sn <= 20; ++sn) pushes.push_back(Push(sn, ""));
  b.kcp.Input(Encode(pushes), 0);
  std::vector<uint8_t> payload(500, 1);
  b.kcp.Send(payload);
  b.kcp.Update(0);
  b.kcp.Flush(0);
  int acks = 0;
  bool seen_push = false;
  for (const Datagram& d : b.out) {
    EXPECT_LE(d.size(), 200u);
    for (const Seg& s : Parse(d)) {
      if (s.h.cmd == kCmdAck) {
        EXPECT_FALSE(seen_push) << "ACKs come before data (§2.8)";
        ++acks;
      } else if (s.h.cmd == kCmdPush) {
        seen_push = true;
      }
    }
  }
  EXPECT_EQ(acks, 20);
  EXPECT_TRUE(seen_push);
}

// --- Congestion start (docs/protocol.md §2.3 note) --------------------------

TEST_P(BothFlavors, FirstFlushWithCongestionControlSendsNoData) {
  Probe a(GetParam());
  const uint8_t x[3] = {1, 2, 3};
  a.kcp.Send(x);
  a.kcp.Update(1000);  // first flush: cwnd 0 -> no data, then cwnd = 1
  EXPECT_TRUE(a.out.empty());
  EXPECT_EQ(a.kcp.cwnd(), 1u);
  a.kcp.Update(1100);
  std::vector<Seg> segs = a.TakeSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.cmd, kCmdPush);
  EXPECT_EQ(segs[0].h.ts, 1100u);
  EXPECT_EQ(segs[0].h.wnd, a.kcp.rcv_wnd());
}

// --- RTO back-off per nodelay mode (docs/protocol.md §2.7) ------------------

// Times (ms after the first send) at which one never-acknowledged segment is
// transmitted, the engine flushed at exactly the instants it asks for.
std::vector<uint32_t> TransmitTimes(Flavor f, int nodelay, int count) {
  Probe a(f);
  a.kcp.SetNoDelay(nodelay, 10, 0, 1);
  const uint8_t x[1] = {7};
  a.kcp.Send(x);
  uint32_t now = 0;
  a.kcp.Update(now);  // starts the clock and sends
  std::vector<uint32_t> times;
  uint32_t delay = a.kcp.Flush(now);
  for (int guard = 0; guard < 100000 && static_cast<int>(times.size()) < count; ++guard) {
    for (const Seg& s : a.TakeSegments()) {
      if (s.h.cmd == kCmdPush) times.push_back(s.h.ts);
    }
    now += delay;  // Flush returns the delay until it is needed again
    delay = a.kcp.Flush(now);
  }
  times.resize(std::min<size_t>(times.size(), count));
  return times;
}

TEST(KcpRto, BackOffPerNodelayMode) {
  // rx_rto stays at its initial 200 ms (no ACK ever arrives).
  // ikcp nodelay 0: first timer rto + rto/8 = 225; then rto += max(rto, 200):
  //   400 -> 625, 800 -> 1425, 1600 -> 3025.
  EXPECT_EQ(TransmitTimes(Flavor::kIkcp, 0, 5), (std::vector<uint32_t>{0, 225, 625, 1425, 3025}));
  // ikcp nodelay 1: first 200; rto += rto/2: 300 -> 500, 450 -> 950, 675 -> 1625.
  EXPECT_EQ(TransmitTimes(Flavor::kIkcp, 1, 5), (std::vector<uint32_t>{0, 200, 500, 950, 1625}));
  // ikcp nodelay 2: rto += rx_rto/2 = 100: 300 -> 500, 400 -> 900, 500 -> 1400.
  EXPECT_EQ(TransmitTimes(Flavor::kIkcp, 2, 5), (std::vector<uint32_t>{0, 200, 500, 900, 1400}));
  // kcp-go nodelay 0: first 200; rto += rx_rto: 400 -> 600, 600 -> 1200, 800 -> 2000.
  EXPECT_EQ(TransmitTimes(Flavor::kKcpGo, 0, 5), (std::vector<uint32_t>{0, 200, 600, 1200, 2000}));
  // kcp-go nodelay != 0: rto += rx_rto/2: 300 -> 500, 400 -> 900, 500 -> 1400.
  EXPECT_EQ(TransmitTimes(Flavor::kKcpGo, 1, 5), (std::vector<uint32_t>{0, 200, 500, 900, 1400}));
  EXPECT_EQ(TransmitTimes(Flavor::kKcpGo, 2, 5), (std::vector<uint32_t>{0, 200, 500, 900, 1400}));
}

// --- Dead link (docs/protocol.md §2.14) --------------------------------------

TEST_P(BothFlavors, DeadLinkAfterTwentyTransmissions) {
  Probe a(GetParam());
  a.kcp.SetNoDelay(1, 10, 0, 1);
  const uint8_t x[1] = {7};
  a.kcp.Send(x);
  uint32_t now = 0, pushes = 0;
  a.kcp.Update(now);
  while (!a.kcp.dead_link() && now < 10000000) {
    for (const Seg& s : a.TakeSegments()) pushes += s.h.cmd == kCmdPush;
    now += a.kcp.Flush(now);
  }
  for (const Seg& s : a.TakeSegments()) pushes += s.h.cmd == kCmdPush;
  EXPECT_TRUE(a.kcp.dead_link());
  EXPECT_EQ(a.kcp.state(), 0xFFFFFFFFu);
  EXPECT_EQ(pushes, 20u);
  EXPECT_EQ(a.kcp.counters().lost_segs, 19u);
  EXPECT_EQ(a.kcp.counters().retrans_segs, 19u);
}

// --- RTT estimator (docs/protocol.md §2.9) -----------------------------------

TEST(KcpRtt, KcpGoOneSampleFromLastAckAtInputTime) {
  Probe a(Flavor::kKcpGo);
  a.kcp.SetNoDelay(0, 10, 0, 1);
  std::vector<uint8_t> d(3 * 1376, 1);
  a.kcp.Send(d);
  a.kcp.Flush(1000);  // sn 0..2 sent with ts 1000
  // Two ACKs in one datagram: only the last one's ts counts, rtt = now - ts.
  ASSERT_EQ(a.kcp.Input(Encode({Ack(0, 900, 0), Ack(1, 1000, 0)}), 1100), kInputOk);
  // First sample 100: srtt 100, rttvar 50, rto = 100 + max(10, 200) = 300.
  EXPECT_EQ(a.kcp.srtt(), 100);
  EXPECT_EQ(a.kcp.rttvar(), 50);
  EXPECT_EQ(a.kcp.rto(), 300u);
  // Second sample 20: delta -80; srtt += -80>>3 = -10 -> 90; |delta| 80;
  // 20 < 90 - 50 -> rttvar += (80-50)>>5 = 0 -> 50; rto = 90 + 200 = 290.
  ASSERT_EQ(a.kcp.Input(Encode({Ack(2, 1080, 0)}), 1100), kInputOk);
  EXPECT_EQ(a.kcp.srtt(), 90);
  EXPECT_EQ(a.kcp.rttvar(), 50);
  EXPECT_EQ(a.kcp.rto(), 290u);
  // A FEC-recovered datagram takes no sample and does not set rmt_wnd (§2.5).
  ASSERT_EQ(a.kcp.Input(Encode({Ack(5, 0, 3, /*wnd=*/7)}), 50000, /*fec_recovered=*/true),
            kInputOk);
  EXPECT_EQ(a.kcp.srtt(), 90);
  EXPECT_EQ(a.kcp.rmt_wnd(), 128u);  // from the last regular datagram
  ASSERT_EQ(a.kcp.Input(Encode({Cmd(kCmdWins, 7, 3)}), 50000), kInputOk);
  EXPECT_EQ(a.kcp.rmt_wnd(), 7u);
}

TEST(KcpRtt, IkcpSamplesEveryAckAtUpdateTime) {
  Probe a(Flavor::kIkcp);
  a.kcp.SetNoDelay(0, 10, 0, 1);
  std::vector<uint8_t> d(2 * 1376, 1);
  a.kcp.Send(d);
  a.kcp.Update(1000);
  a.kcp.Update(1010);  // current = 1010
  // Input's own time is not used by ikcp: rtt = 1010 - ts for each ACK.
  ASSERT_EQ(a.kcp.Input(Encode({Ack(0, 910, 0), Ack(1, 1000, 0)}), 99999), kInputOk);
  // Sample 100: srtt 100, rttval 50. Sample 10: delta 90; rttval = (150 + 90)/4
  // = 60; srtt = (700 + 10)/8 = 88; rto = 88 + max(10, 240) = 328.
  EXPECT_EQ(a.kcp.srtt(), 88);
  EXPECT_EQ(a.kcp.rttvar(), 60);
  EXPECT_EQ(a.kcp.rto(), 328u);
}

// --- Immediate output from Input (kcp-go, docs/protocol.md §2.6) -----------

TEST(KcpGoInput, FlushesWhenUnaAdvances) {
  for (Flavor f : {Flavor::kIkcp, Flavor::kKcpGo}) {
    Probe a(f);
    a.kcp.SetNoDelay(1, 10, 0, 1);
    ASSERT_TRUE(a.kcp.SetWindowSize(2, 0).ok());
    std::vector<uint8_t> d(4 * 1376, 1);
    a.kcp.Send(d);
    a.kcp.Update(0);
    EXPECT_EQ(a.TakeSegments().size(), 2u);  // window 2
    ASSERT_EQ(a.kcp.Input(Encode({Ack(0, 0, 1)}), 5), kInputOk);
    const std::vector<Seg> segs = a.TakeSegments();
    if (f == Flavor::kKcpGo) {
      ASSERT_EQ(segs.size(), 1u);  // sn 2 goes out from inside Input
      EXPECT_EQ(segs[0].h.sn, 2u);
    } else {
      EXPECT_TRUE(segs.empty());  // ikcp waits for the next Update
    }
  }
}

TEST(KcpGoInput, AckClockingAndAckNoDelay) {
  Probe b(Flavor::kKcpGo);
  ASSERT_TRUE(b.kcp.SetWindowSize(128, 128).ok());
  // mtu/24 = 58 pending ACKs make Input send an ACK-only datagram (KG-HEAD).
  std::vector<Seg> pushes;
  for (uint32_t sn = 1; sn <= 57; ++sn) pushes.push_back(Push(sn, ""));
  b.kcp.Input(Encode(pushes), 0);
  EXPECT_TRUE(b.out.empty());
  b.kcp.Input(Encode({Push(58, "")}), 0);
  std::vector<Seg> segs = b.TakeSegments();
  EXPECT_EQ(segs.size(), 58u);
  for (const Seg& s : segs) EXPECT_EQ(s.h.cmd, kCmdAck);

  Probe c(Flavor::kKcpGo);
  c.kcp.SetAckNoDelay(true);
  c.kcp.Input(Encode({Push(0, "x")}), 0);
  segs = c.TakeSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.cmd, kCmdAck);
  EXPECT_EQ(segs[0].h.una, 1u);
}

// SetAwaitFirstSegment: segments after 0 are ignored (no ACK, not kept)
// until segment 0 arrives; from then on input is as usual.
TEST(KcpGoInput, AwaitFirstSegmentIgnoresLaterSegmentsUntilSegmentZero) {
  Probe c(Flavor::kKcpGo);
  c.kcp.SetAckNoDelay(true);
  c.kcp.SetAwaitFirstSegment(true);
  c.kcp.Input(Encode({Push(1, "b"), Push(2, "c")}), 0);
  EXPECT_TRUE(c.out.empty());  // nothing acknowledged
  EXPECT_EQ(c.kcp.rcv_nxt(), 0u);
  c.kcp.Input(Encode({Push(0, "a")}), 0);
  std::vector<Seg> segs = c.TakeSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.cmd, kCmdAck);
  EXPECT_EQ(segs[0].h.sn, 0u);
  EXPECT_EQ(c.kcp.rcv_nxt(), 1u);
  // The peer sends 1 and 2 again; now they are taken (kcp-go acknowledges
  // only the last ACK below rcv_nxt: una 3 covers both).
  c.kcp.Input(Encode({Push(1, "b"), Push(2, "c")}), 0);
  segs = c.TakeSegments();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().h.cmd, kCmdAck);
  EXPECT_EQ(segs.back().h.una, 3u);
  EXPECT_EQ(c.kcp.rcv_nxt(), 3u);

  // Without it, later segments are acknowledged before segment 0.
  Probe d(Flavor::kKcpGo);
  d.kcp.SetAckNoDelay(true);
  d.kcp.Input(Encode({Push(1, "b")}), 0);
  segs = d.TakeSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.sn, 1u);
}

TEST(KcpGoInput, DeferredInputFlushSendsABatchsAcksInOneDatagram) {
  Probe c(Flavor::kKcpGo);
  c.kcp.SetAckNoDelay(true);
  c.kcp.SetDeferInputFlush(true);
  for (uint32_t sn = 0; sn < 10; ++sn) c.kcp.Input(Encode({Push(sn, "x")}), 0);
  EXPECT_TRUE(c.out.empty());  // nothing until the batch ends
  EXPECT_TRUE(c.kcp.input_flush_deferred());
  EXPECT_FALSE(c.kcp.Idle());
  c.kcp.FlushDeferred(0);
  ASSERT_EQ(c.out.size(), 1u);  // one datagram...
  std::vector<Seg> segs = c.TakeSegments();
  // ...with kcp-go's ACK filter applied: only the last in-order ACK.
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.cmd, kCmdAck);
  EXPECT_EQ(segs[0].h.sn, 9u);
  EXPECT_EQ(segs[0].h.una, 10u);
  EXPECT_FALSE(c.kcp.input_flush_deferred());
  c.kcp.FlushDeferred(0);
  EXPECT_TRUE(c.out.empty());  // nothing twice
}

TEST(KcpGoSchedule, NextFlushWaitsForTheRtoNotTheInterval) {
  Probe a(Flavor::kKcpGo);
  a.kcp.SetNoDelay(1, 10, 2, 1);
  uint32_t at = 0;
  EXPECT_FALSE(a.kcp.NextFlush(0, &at));  // idle: nothing to schedule
  a.kcp.Send(std::vector<uint8_t>(100, 1));
  ASSERT_TRUE(a.kcp.NextFlush(5, &at));
  // Queued, not yet sent: the next interval after the last flush (time 0),
  // as kcp-go's updater would (a writer without write delay flushes itself).
  EXPECT_EQ(at, 10u);
  a.kcp.Flush(5);
  a.TakeSegments();
  ASSERT_TRUE(a.kcp.NextFlush(6, &at));
  // Only the retransmission timer (rto 200 from 5), not the 10 ms interval.
  EXPECT_EQ(at, 5u + a.kcp.rto());
  // An acknowledgement ends it: idle again.
  ASSERT_EQ(a.kcp.Input(Encode({Ack(0, 5, 1)}), 20), kInputOk);
  EXPECT_FALSE(a.kcp.NextFlush(20, &at));

  Probe b(Flavor::kKcpGo);
  b.kcp.SetNoDelay(1, 10, 2, 1);
  ASSERT_EQ(b.kcp.Input(Encode({Push(0, "x")}), 100), kInputOk);
  b.kcp.Flush(100);  // sends the ACK ...
  ASSERT_EQ(b.kcp.Input(Encode({Push(1, "y")}), 103), kInputOk);
  ASSERT_TRUE(b.kcp.NextFlush(103, &at));
  EXPECT_EQ(at, 110u);  // ... an owed ACK rides the interval grid after the last flush
}

TEST(KcpGoFlush, FastAndEarlyRetransmit) {
  Probe a(Flavor::kKcpGo);
  a.kcp.SetNoDelay(1, 10, 2, 1);
  std::vector<uint8_t> d(4 * 1376, 1);
  a.kcp.Send(d);
  a.kcp.Flush(0);
  a.TakeSegments();
  // ACKs for 1 and 2 (ts 0 >= seg ts 0): sn 0 reaches fastack 2 = resend and
  // Input retransmits it at once, then waits for the RTO (sentinel).
  ASSERT_EQ(a.kcp.Input(Encode({Ack(1, 0, 0), Ack(2, 0, 0)}), 3), kInputOk);
  std::vector<Seg> segs = a.TakeSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.sn, 0u);
  EXPECT_EQ(segs[0].h.ts, 3u);
  EXPECT_EQ(a.kcp.counters().fast_retrans_segs, 1u);
  ASSERT_EQ(a.kcp.Input(Encode({Ack(3, 0, 0)}), 4), kInputOk);
  EXPECT_TRUE(a.TakeSegments().empty());
  // Early retransmit: fastack > 0 below threshold and nothing new queued.
  Probe e(Flavor::kKcpGo);
  e.kcp.SetNoDelay(1, 10, 5, 1);
  e.kcp.Send(d);
  e.kcp.Flush(0);
  e.TakeSegments();
  ASSERT_EQ(e.kcp.Input(Encode({Ack(1, 0, 0)}), 2), kInputOk);
  EXPECT_TRUE(e.TakeSegments().empty());  // threshold 5 not reached
  e.kcp.Flush(2);
  segs = e.TakeSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].h.sn, 0u);
  EXPECT_EQ(e.kcp.counters().early_retrans_segs, 1u);
}

TEST(IkcpFlush, FastRetransmitConservativeAndLimited) {
  Probe a(Flavor::kIkcp);
  a.kcp.SetNoDelay(1, 10, 1, 1);
  a.kcp.SetFastLimit(2);
  std::vector<uint8_t> d(3 * 1376, 1);
  a.kcp.Send(d);
  a.kcp.Update(0);
  a.TakeSegments();
  int retransmits = 0;
  for (uint32_t t = 1; t <= 6; ++t) {
    a.kcp.Update(t * 10);  // current
    // ACK for sn 2 with a newer ts: sn 0 and 1 each get fastack 1.
    a.kcp.Input(Encode({Ack(2, t * 10, 0)}), t * 10);
    a.kcp.Flush(t * 10);
    for (const Seg& s : a.TakeSegments()) retransmits += s.h.cmd == kCmdPush && s.h.sn == 0;
  }
  // xmit 1 -> 2 -> 3; "xmit <= fastlimit" stops it at 3 transmissions (§2.7).
  EXPECT_EQ(retransmits, 2);
}

// --- Window probing (docs/protocol.md §2.11, §2.5 fast recover) -------------

TEST_P(BothFlavors, WindowFullProbeAndReopen) {
  const Flavor f = GetParam();
  KcpPair pair(f, f, {.delay_ms = 5}, {.delay_ms = 5});
  for (Kcp* k : {&pair.a(), &pair.b()}) {
    k->SetNoDelay(1, 10, 2, 1);
    ASSERT_TRUE(k->SetWindowSize(8, 8).ok());  // ikcp raises rcv to 128
  }
  int wasks = 0, wins_zero = 0, wins_open = 0;
  pair.tap = [&](bool a_to_b, absl::Span<const uint8_t> d) {
    Datagram dg(d.begin(), d.end());
    for (const Seg& s : Parse(dg)) {
      if (a_to_b && s.h.cmd == kCmdWask) ++wasks;
      if (!a_to_b && s.h.cmd == kCmdWins) ++(s.h.wnd == 0 ? wins_zero : wins_open);
    }
  };
  const uint32_t rcv_wnd = pair.b().rcv_wnd();
  const uint32_t total = rcv_wnd + 40;
  std::vector<uint8_t> msg(100, 3);
  for (uint32_t i = 0; i < total; ++i) pair.a().Send(msg);
  // The receiver does not read: its queue fills and it advertises 0.
  ASSERT_TRUE(
      pair.Run(Drive::kUpdateCheck, 60000,
               [&] { return pair.a().rmt_wnd() == 0 && pair.b().RecvQueueSize() == rcv_wnd; }, {}));
  const uint32_t stalled = pair.a().WaitSnd();
  EXPECT_GE(stalled, 40u - 8u);  // at most one window went on into rcv_buf
  const uint32_t probe_init = f == Flavor::kIkcp ? 7000 : 500;
  // Within PROBE_INIT * 1.5 the sender asks (WASK) and the receiver tells
  // its still-zero window (WINS).
  ASSERT_FALSE(pair.Run(Drive::kUpdateCheck, probe_init * 3 / 2 + 100, [] { return false; }, {}));
  EXPECT_GE(wasks, 1);
  EXPECT_GE(wins_zero, 1);
  EXPECT_EQ(pair.a().rmt_wnd(), 0u);
  EXPECT_EQ(pair.a().WaitSnd(), stalled);  // nothing moves while the window is 0
  // Reading reopens the window: the receiver's WINS ("fast recover", §2.5)
  // lets the sender finish without waiting for the next probe.
  std::vector<uint8_t> buf(200);
  uint32_t got = 0;
  const uint64_t reopen_at = pair.clock().now_ms();
  ASSERT_TRUE(pair.Run(
      Drive::kUpdateCheck, 60000, [&] { return got == total && pair.a().WaitSnd() == 0; },
      [&] {
        while (pair.b().Recv(absl::MakeSpan(buf)) == 100) ++got;
      }));
  EXPECT_GE(wins_open, 1);
  EXPECT_LT(pair.clock().now_ms() - reopen_at, probe_init);
}

TEST(KcpProbe, WaskTimingFollowsProbeInit) {
  for (Flavor f : {Flavor::kIkcp, Flavor::kKcpGo}) {
    Probe a(f);
    a.kcp.SetNoDelay(1, 10, 0, 1);
    // A real zero window: the peer acknowledged segment 0 and then
    // advertised 0 while more data waits (kcp.h "Window probes").
    const uint8_t x[1] = {1};
    a.kcp.Send(x);
    a.kcp.Update(0);
    ASSERT_EQ(a.kcp.Input(Encode({Ack(0, 0, 1, 0)}), 0), kInputOk);  // peer window 0
    EXPECT_EQ(a.kcp.rmt_wnd(), 0u);
    EXPECT_TRUE(a.kcp.peer_acknowledged());
    a.kcp.Send(x);
    a.TakeSegments();
    std::vector<uint32_t> wasks;
    for (uint32_t t = 0; t <= 30000; t += 10) {
      a.kcp.Update(t);
      for (const Seg& s : a.TakeSegments()) {
        if (s.h.cmd == kCmdWask) wasks.push_back(t);
      }
    }
    // probe_wait = PROBE_INIT at the first flush with data waiting (t=10);
    // WASK at t >= ts_probe, then probe_wait += probe_wait/2 (§2.11).
    if (f == Flavor::kIkcp) {
      EXPECT_EQ(wasks, (std::vector<uint32_t>{7010, 7010 + 10500}));
    } else {
      ASSERT_GE(wasks.size(), 4u);
      EXPECT_EQ(wasks[0], 510u);
      EXPECT_EQ(wasks[1], 510u + 750u);
      EXPECT_EQ(wasks[2], 2390u);  // due at 2385, seen at the 10 ms tick 2390
      EXPECT_EQ(wasks[3], 4080u);  // 2390 + 1687 = 4077 -> tick 4080
    }
  }
}

// Issue 16, defect 4: one forged PUSH advertising a zero window made the
// engine send WASKs to its source for as long as the session lived. Without
// an acknowledgement from the peer, or without data waiting, nothing but the
// ACK that datagram asked for goes out, however long the clock runs.
TEST(KcpProbe, ZeroWindowFromAFreshPeerBuysOnlyItsAck) {
  for (Flavor f : {Flavor::kIkcp, Flavor::kKcpGo}) {
    for (const bool data_waiting : {false, true}) {
      SCOPED_TRACE(testing::Message() << (f == Flavor::kIkcp ? "ikcp" : "kcp-go")
                                      << (data_waiting ? ", data waiting" : ", nothing to send"));
      Probe a(f);
      a.kcp.SetNoDelay(1, 10, 0, 1);
      a.kcp.Update(0);
      ASSERT_EQ(a.kcp.Input(Encode({Push(0, "x", 0, 0, /*wnd=*/0)}), 0), kInputOk);
      EXPECT_EQ(a.kcp.rmt_wnd(), 0u);
      if (data_waiting) {
        const uint8_t reply[1] = {2};
        a.kcp.Send(reply);  // an application that answers: still never acknowledged
      }
      int acks = 0, others = 0;
      // Ten minutes: five times the probe back-off's 120 s cap.
      for (uint32_t t = 0; t <= 600000; t += 10) {
        a.kcp.Update(t);
        for (const Seg& s : a.TakeSegments()) ++(s.h.cmd == kCmdAck ? acks : others);
      }
      EXPECT_EQ(acks, 1);
      EXPECT_EQ(others, 0);  // no WASK, and no data behind the zero window
      EXPECT_FALSE(a.kcp.peer_acknowledged());
      EXPECT_EQ(a.kcp.Idle(), !data_waiting);
      uint32_t at = 0;
      EXPECT_TRUE(!a.kcp.NextFlush(600000, &at) || at - 600000 > 600000u)
          << "woken at " << at << " with nothing it may send";
    }
  }
}

// Acknowledged, but nothing waits for the window: nothing to probe for.
TEST(KcpProbe, NoProbeWithoutDataWaiting) {
  for (Flavor f : {Flavor::kIkcp, Flavor::kKcpGo}) {
    Probe a(f);
    a.kcp.SetNoDelay(1, 10, 0, 1);
    const uint8_t x[1] = {1};
    a.kcp.Send(x);
    a.kcp.Update(0);
    ASSERT_EQ(a.kcp.Input(Encode({Ack(0, 0, 1, 0)}), 0), kInputOk);
    ASSERT_TRUE(a.kcp.peer_acknowledged());
    a.TakeSegments();
    int sent = 0;
    for (uint32_t t = 0; t <= 300000; t += 10) {
      a.kcp.Update(t);
      sent += static_cast<int>(a.TakeSegments().size());
    }
    EXPECT_EQ(sent, 0);
    EXPECT_TRUE(a.kcp.Idle());
  }
}

// --- Check / Update (docs/protocol.md §2.12) ---------------------------------

TEST_P(BothFlavors, CheckFollowsIkcpCheck) {
  Probe a(GetParam());
  a.kcp.SetNoDelay(1, 50, 0, 1);
  EXPECT_EQ(a.kcp.Check(1234), 1234u);  // not updated yet
  a.kcp.Update(1000);                   // ts_flush = 1050
  EXPECT_EQ(a.kcp.Check(1000), 1050u);
  EXPECT_EQ(a.kcp.Check(1049), 1050u);
  EXPECT_EQ(a.kcp.Check(1050), 1050u);           // due
  EXPECT_EQ(a.kcp.Check(1000 + 20000), 21000u);  // more than 10 s off: reset
  const uint8_t x[1] = {1};
  a.kcp.Send(x);
  a.kcp.Flush(1010);   // sent at 1010, resendts = 1010 + 200
  a.kcp.Update(1050);  // ts_flush = 1100
  EXPECT_EQ(a.kcp.Check(1060), 1100u);
  a.kcp.Update(1100);
  a.kcp.Update(1150);
  a.kcp.Update(1200);  // ts_flush 1250, resend at 1210
  EXPECT_EQ(a.kcp.Check(1200), 1210u);
  EXPECT_EQ(a.kcp.Check(1210), 1210u);
}

// --- Configuration ------------------------------------------------------------

TEST(KcpConfig, WindowAndMtuRules) {
  Probe i(Flavor::kIkcp), g(Flavor::kKcpGo);
  ASSERT_TRUE(i.kcp.SetWindowSize(16, 16).ok());
  EXPECT_EQ(i.kcp.snd_wnd(), 16u);
  EXPECT_EQ(i.kcp.rcv_wnd(), 128u);  // ikcp_wndsize minimum (§2.13)
  ASSERT_TRUE(g.kcp.SetWindowSize(16, 16).ok());
  EXPECT_EQ(g.kcp.rcv_wnd(), 16u);
  ASSERT_TRUE(g.kcp.SetWindowSize(0, -1).ok());  // unchanged
  EXPECT_EQ(g.kcp.snd_wnd(), 16u);
  EXPECT_EQ(g.kcp.SetWindowSize(70000, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g.kcp.SetMtu(49).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g.kcp.SetMtu(70000).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(g.kcp.SetMtu(1500).ok());
  EXPECT_EQ(g.kcp.mss(), 1476u);
  std::vector<uint8_t> d(1476, 1);
  g.kcp.Send(d);
  EXPECT_EQ(g.kcp.SetMtu(1400).code(), absl::StatusCode::kFailedPrecondition);
  g.kcp.SetNoDelay(-1, 3, -1, -1);
  EXPECT_EQ(g.kcp.interval(), 10u);
  g.kcp.SetNoDelay(1, 9000, 2, 1);
  EXPECT_EQ(g.kcp.interval(), 5000u);
  EXPECT_EQ(g.kcp.min_rto(), 30u);
  EXPECT_EQ(g.kcp.fast_resend(), 2);
  EXPECT_FALSE(g.kcp.congestion_control());
}

TEST(KcpConfig, LargeMtuChainsBlocks) {
  KcpPair pair(Flavor::kKcpGo, Flavor::kKcpGo, {.delay_ms = 1}, {.delay_ms = 1});
  for (Kcp* k : {&pair.a(), &pair.b()}) {
    ASSERT_TRUE(k->SetMtu(9000).ok());
    k->SetNoDelay(1, 10, 2, 1);
  }
  std::vector<uint8_t> msg(8976 * 3 + 17);
  FillPattern(5, 0, msg.data(), msg.size());
  pair.a().Send(msg);
  std::vector<uint8_t> buf(msg.size());
  int n = -1;
  ASSERT_TRUE(pair.Run(
      Drive::kFlushSchedule, 10000, [&] { return n >= 0; },
      [&] { n = pair.b().Recv(absl::MakeSpan(buf)); }));
  ASSERT_EQ(n, static_cast<int>(msg.size()));
  EXPECT_EQ(buf, msg);
}

// --- Idle sessions ------------------------------------------------------------

TEST_P(BothFlavors, IdleSessionGivesMemoryBack) {
  KcpPair pair(GetParam(), GetParam(), {.delay_ms = 5}, {.delay_ms = 5});
  for (Kcp* k : {&pair.a(), &pair.b()}) k->SetNoDelay(1, 10, 2, 1);
  std::vector<uint8_t> msg(5000, 1);
  for (int i = 0; i < 20; ++i) pair.a().Send(msg);
  std::vector<uint8_t> buf(5000);
  int got = 0;
  ASSERT_TRUE(pair.Run(
      Drive::kUpdateCheck, 60000, [&] { return got == 20 && pair.a().WaitSnd() == 0; },
      [&] {
        while (pair.b().Recv(absl::MakeSpan(buf)) > 0) ++got;
      }));
  EXPECT_GT(pair.a().MemoryFootprint(), 10000u);  // rings and blocks still held
  EXPECT_TRUE(pair.a().Idle());                   // but nothing to send
  EXPECT_FALSE(pair.a().Dormant());
  ASSERT_FALSE(pair.Run(Drive::kUpdateCheck, 6000, [] { return false; }, {}));
  for (Kcp* k : {&pair.a(), &pair.b()}) {
    EXPECT_TRUE(k->Dormant());
    // Only the private pool object and the callback sink's buffer remain.
    EXPECT_LT(k->MemoryFootprint(), 1600u);
  }
}

TEST(KcpPool, SmallBlocksChainInBothModes) {
  for (bool stream : {false, true}) {
    SegmentPool pool(100);  // every segment spans many blocks
    std::vector<Datagram> out;
    Kcp a(
        kConv, [&](absl::Span<const uint8_t> d) { out.emplace_back(d.begin(), d.end()); },
        Flavor::kKcpGo, &pool);
    Kcp b(
        kConv, [](absl::Span<const uint8_t>) {}, Flavor::kKcpGo, &pool);
    a.SetStreamMode(stream);
    b.SetStreamMode(stream);
    a.SetNoDelay(1, 10, 0, 1);
    std::vector<uint8_t> msg(5000);
    FillPattern(9, 0, msg.data(), msg.size());
    a.Send(absl::MakeConstSpan(msg).subspan(0, 150));
    a.Send(absl::MakeConstSpan(msg).subspan(150, 150));
    a.Send(absl::MakeConstSpan(msg).subspan(300));
    a.Flush(0);
    for (const Datagram& d : out) ASSERT_EQ(b.Input(d, 0), kInputOk);
    std::vector<uint8_t> got, buf(5000);
    std::vector<int> sizes;
    for (int n; (n = b.Recv(absl::MakeSpan(buf))) >= 0;) {
      got.insert(got.end(), buf.begin(), buf.begin() + n);
      sizes.push_back(n);
    }
    EXPECT_EQ(got, msg);
    if (stream) {
      EXPECT_EQ(sizes, (std::vector<int>{1376, 1376, 1376, 872}));
    } else {
      EXPECT_EQ(sizes, (std::vector<int>{150, 150, 4700}));
    }
  }
}

TEST(KcpPool, SharedPoolReceivesBlocksBack) {
  SegmentPool pool;
  std::vector<Datagram> out;
  {
    Kcp a(
        kConv, [&](absl::Span<const uint8_t> d) { out.emplace_back(d.begin(), d.end()); },
        Flavor::kKcpGo, &pool);
    Kcp b(
        kConv, [](absl::Span<const uint8_t>) {}, Flavor::kKcpGo, &pool);
    a.SetNoDelay(1, 10, 0, 1);
    std::vector<uint8_t> d(10 * 1376, 1);
    a.Send(d);
    EXPECT_EQ(pool.blocks_in_use(), 10u);
    a.Flush(0);
    for (const Datagram& dg : out) b.Input(dg, 0);
    EXPECT_EQ(pool.blocks_in_use(), 20u);  // 10 in flight at a, 10 unread at b
    ASSERT_EQ(a.Input(Encode({Ack(9, 0, 10)}), 1), kInputOk);
    EXPECT_EQ(pool.blocks_in_use(), 10u);
  }
  EXPECT_EQ(pool.blocks_in_use(), 0u);  // destructors return everything
  EXPECT_EQ(pool.free_blocks(), 20u);
  EXPECT_EQ(pool.allocations(), 20u);
  pool.Trim(5);
  EXPECT_EQ(pool.free_blocks(), 5u);
  // Reuse first; the allocator again only past the free list.
  std::vector<SegmentPool::Block*> taken;
  for (int i = 0; i < 7; ++i) taken.push_back(pool.Allocate());
  EXPECT_EQ(pool.allocations(), 22u);
  for (SegmentPool::Block* b : taken) pool.Release(b);
}

}  // namespace
}  // namespace kcpp::kcp
