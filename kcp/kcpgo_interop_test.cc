// Interop with kcp-go's own KCP engine (Debian kcp-go 5.6.1, the real peer
// library): kcpgo_kcp_peer.go runs kcp-go's KCP behind a pipe; this test
// joins it to our engine through seeded lossy, reordering, duplicating
// FakeLinks and one virtual clock, and both sides send fragmented messages
// the other must receive byte-exact with their boundaries. Every datagram
// kcp-go emits must parse cleanly with our codec, and kcp-go's Input must
// accept every datagram we emit (the peer fails loudly otherwise).
//
// KcpGoDifferential goes further: kcp-go's KCP and our kKcpGo engine get
// identical calls and must emit byte-identical datagrams.
//
// Usage: kcpgo_interop_test <path to kcpgo_kcp_peer>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/endian.h"
#include "gtest/gtest.h"
#include "kcp/kcp.h"
#include "kcp/kcp_test_util.h"
#include "testing/fake_clock.h"
#include "testing/fake_link.h"

namespace kcpp::kcp {
namespace {

const char* g_peer_path = nullptr;

// The Go peer process and its framed pipe protocol.
class GoPeer {
 public:
  struct Frame {
    char op;
    std::vector<uint8_t> payload;
  };

  ~GoPeer() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    if (pid_ > 0) {
      int status;
      waitpid(pid_, &status, 0);
    }
  }

  bool Start(const char* path) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      execl(path, path, static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    signal(SIGPIPE, SIG_IGN);
    return true;
  }

  void Add(char op, absl::Span<const uint8_t> payload = {}) {
    uint8_t hdr[5] = {static_cast<uint8_t>(op)};
    StoreLe32(hdr + 1, static_cast<uint32_t>(payload.size()));
    batch_.insert(batch_.end(), hdr, hdr + 5);
    batch_.insert(batch_.end(), payload.begin(), payload.end());
  }
  void AddU32(char op, uint32_t v) {
    uint8_t b[4];
    StoreLe32(b, v);
    Add(op, b);
  }

  // Sends the batch plus 'E' and collects the replies up to the peer's 'E'.
  // Returns false (with error()) on an 'X' frame or a broken pipe.
  bool RoundTrip(std::vector<Frame>* replies) {
    Add('E');
    size_t off = 0;
    while (off < batch_.size()) {
      const ssize_t n = write(to_, batch_.data() + off, batch_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Fail("write to peer failed");
      off += static_cast<size_t>(n);
    }
    batch_.clear();
    replies->clear();
    for (;;) {
      uint8_t hdr[5];
      if (!ReadAll(hdr, 5)) return Fail("peer closed its output");
      Frame f{static_cast<char>(hdr[0]), std::vector<uint8_t>(LoadLe32(hdr + 1))};
      if (!ReadAll(f.payload.data(), f.payload.size())) return Fail("short frame from peer");
      if (f.op == 'E') {
        drifted_ = !f.payload.empty() && f.payload[0] != 0;
        return true;
      }
      if (f.op == 'X') return Fail(std::string(f.payload.begin(), f.payload.end()));
      replies->push_back(std::move(f));
    }
  }
  const std::string& error() const { return error_; }
  // The last batch ran long enough that kcp-go's clock may have advanced
  // by 1 ms inside it (see kcpgo_kcp_peer.go).
  bool drifted() const { return drifted_; }

 private:
  bool ReadAll(uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t r = read(from_, p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  bool Fail(std::string e) {
    error_ = std::move(e);
    return false;
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::vector<uint8_t> batch_;
  std::string error_;
  bool drifted_ = false;
};

struct InteropConfig {
  const char* name;
  Flavor flavor;
  Preset preset;
  double loss;
  uint32_t our_mtu, go_mtu;
  bool ack_nodelay;
  uint64_t bytes_each_way;
};

// One direction of message traffic: sizes and bytes both ends can recompute.
class MessageStream {
 public:
  MessageStream(uint64_t seed, size_t max_size, uint64_t total)
      : seed_(seed), rng_(static_cast<uint32_t>(seed)), max_(max_size), total_(total) {}
  bool done() const { return offset_ == total_; }
  uint64_t offset() const { return offset_; }
  // The next message (advances).
  std::vector<uint8_t> Next() {
    const size_t n = std::min<uint64_t>(1 + rng_() % max_, total_ - offset_);
    std::vector<uint8_t> m(n);
    FillPattern(seed_, offset_, m.data(), n);
    offset_ += n;
    ++count_;
    return m;
  }
  uint64_t count() const { return count_; }

 private:
  uint64_t seed_;
  std::mt19937 rng_;
  size_t max_;
  uint64_t total_;
  uint64_t offset_ = 0, count_ = 0;
};

class KcpGoInterop : public ::testing::TestWithParam<InteropConfig> {};

TEST_P(KcpGoInterop, MessagesBothWaysUnderLoss) {
  const InteropConfig& c = GetParam();
  ASSERT_NE(g_peer_path, nullptr) << "pass the peer's path as argv[1]";
  GoPeer go;
  ASSERT_TRUE(go.Start(g_peer_path));
  constexpr uint32_t kConv = 0x11223344;

  test::FakeClock clock(5000);
  test::FakeLinkOptions to_go{.loss = c.loss,
                              .duplicate = c.loss > 0 ? 0.02 : 0.0,
                              .delay_ms = 15,
                              .jitter_ms = 10,
                              .seed = 101};
  test::FakeLinkOptions from_go = to_go;
  from_go.seed = 202;
  test::FakeLink ab(to_go), ba(from_go);
  Kcp ours(
      kConv, [&](absl::Span<const uint8_t> d) { ab.Send(d, clock.now_ms()); }, c.flavor);
  ApplyPreset(ours, c.preset);
  ASSERT_TRUE(ours.SetWindowSize(128, 128).ok());
  ASSERT_TRUE(ours.SetMtu(c.our_mtu).ok());
  ours.SetAckNoDelay(c.ack_nodelay);

  uint8_t create[33];
  const int32_t params[8] = {static_cast<int32_t>(kConv),
                             c.preset.nodelay,
                             c.preset.interval,
                             c.preset.resend,
                             c.preset.nc,
                             128,
                             128,
                             static_cast<int32_t>(c.go_mtu)};
  for (int i = 0; i < 8; ++i) StoreLe32(create + 4 * i, static_cast<uint32_t>(params[i]));
  create[32] = c.ack_nodelay;
  go.Add('C', create);

  // Messages of up to 3 fragments on each side; kcp-go's receive side
  // reassembles by frg like ours (docs/protocol.md §2.4, §2.5).
  const uint32_t go_mss = c.go_mtu - 24;
  MessageStream our_tx(11, 3 * ours.mss(), c.bytes_each_way);
  MessageStream our_rx_expect(22, 3 * go_mss, c.bytes_each_way);  // what Go sends
  MessageStream go_tx(22, 3 * go_mss, c.bytes_each_way);
  MessageStream go_rx_expect(11, 3 * ours.mss(), c.bytes_each_way);  // what we send

  uint32_t go_waitsnd = 0, go_check = clock.now_ms32();
  uint64_t next_flush = 0;
  uint64_t datagrams_from_go = 0, datagrams_to_go = 0;
  std::vector<uint8_t> buf(4 * 65536);
  std::vector<GoPeer::Frame> replies;
  const uint64_t end = clock.now_ms() + 3600ull * 1000;
  while (!(our_rx_expect.done() && go_rx_expect.done())) {
    ASSERT_LT(clock.now_ms(), end) << "no progress: we got " << our_rx_expect.offset()
                                   << ", kcp-go got " << go_rx_expect.offset();
    const uint64_t now = clock.now_ms();
    const uint32_t now32 = clock.now_ms32();
    go.AddU32('T', now32);
    ab.DeliverDue(now, [&](absl::Span<const uint8_t> d) {
      ++datagrams_to_go;
      go.Add('I', d);
    });
    ba.DeliverDue(now, [&](absl::Span<const uint8_t> d) {
      ++datagrams_from_go;
      // kcp-go's datagrams parse cleanly with our codec, all segments ours.
      SegmentReader r(d, kConv);
      SegmentHeader h;
      absl::Span<const uint8_t> p;
      SegmentReader::Result res;
      while ((res = r.Next(&h, &p)) == SegmentReader::kOk) {
      }
      EXPECT_EQ(res, SegmentReader::kEnd);
      EXPECT_TRUE(r.rest().empty());
      EXPECT_LE(d.size(), c.go_mtu);
      ASSERT_EQ(ours.Input(d, now32), kInputOk);
    });
    // Applications.
    while (!our_tx.done() && ours.WaitSnd() < 2 * ours.snd_wnd()) {
      const std::vector<uint8_t> m = our_tx.Next();
      ASSERT_EQ(ours.Send(m), static_cast<int>(m.size()));
    }
    while (!go_tx.done() && go_waitsnd < 256) {
      const std::vector<uint8_t> m = go_tx.Next();
      go.Add('S', m);
      go_waitsnd += static_cast<uint32_t>((m.size() + go_mss - 1) / go_mss);
    }
    for (int n; (n = ours.Recv(absl::MakeSpan(buf))) >= 0;) {
      ASSERT_FALSE(our_rx_expect.done()) << "more data than kcp-go sent";
      const std::vector<uint8_t> want = our_rx_expect.Next();
      ASSERT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + n), want)
          << "message " << our_rx_expect.count() << " from kcp-go";
    }
    go.Add('U');
    go.Add('R');
    go.Add('Q');
    ASSERT_TRUE(go.RoundTrip(&replies)) << "kcp-go peer: " << go.error();
    for (GoPeer::Frame& f : replies) {
      if (f.op == 'O') {
        ba.Send(f.payload, now);
      } else if (f.op == 'M') {
        ASSERT_FALSE(go_rx_expect.done()) << "kcp-go received more than we sent";
        ASSERT_EQ(f.payload, go_rx_expect.Next())
            << "message " << go_rx_expect.count() << " at kcp-go";
      } else if (f.op == 'q') {
        go_waitsnd = LoadLe32(f.payload.data());
        go_check = LoadLe32(f.payload.data() + 4);
      }
    }
    // Our timers, then the next event.
    uint64_t next;
    if (c.flavor == Flavor::kKcpGo) {
      if (now >= next_flush) next_flush = now + ours.Flush(now32);
      next = next_flush;
    } else {
      ours.Update(now32);
      next = now + static_cast<uint32_t>(ours.Check(now32) - now32);
    }
    const int32_t go_in = static_cast<int32_t>(go_check - now32);
    next = std::min<uint64_t>(next, now + (go_in > 0 ? go_in : 0));
    if (auto t = ab.NextDeliveryTime()) next = std::min(next, *t);
    if (auto t = ba.NextDeliveryTime()) next = std::min(next, *t);
    clock.AdvanceTo(std::max(next, now + 1));
  }
  EXPECT_EQ(our_rx_expect.offset(), c.bytes_each_way);
  EXPECT_EQ(go_rx_expect.offset(), c.bytes_each_way);
  EXPECT_GT(datagrams_from_go, 100u);
  EXPECT_GT(datagrams_to_go, 100u);
  if (c.loss > 0) {
    EXPECT_GT(ours.counters().retrans_segs, 0u);
    EXPECT_GT(ab.stats().dropped + ba.stats().dropped, 0u);
  }
}

// A kcp-go receiver whose window really is zero (its application stopped
// reading) is still probed: our sender has been acknowledged and has data
// waiting, so it sends WASKs, kcp-go answers with WINS, and once kcp-go
// reads again everything arrives (kcp.h "Window probes").
TEST(KcpGoZeroWindow, AStalledKcpGoReceiverIsProbedAndResumes) {
  ASSERT_NE(g_peer_path, nullptr) << "pass the peer's path as argv[1]";
  GoPeer go;
  ASSERT_TRUE(go.Start(g_peer_path));
  constexpr uint32_t kConv = 0x0badf00d;
  test::FakeClock clock(5000);
  test::FakeLink ab({.delay_ms = 15, .seed = 1}), ba({.delay_ms = 15, .seed = 2});
  int wasks = 0, wins_zero = 0;
  Kcp ours(
      kConv,
      [&](absl::Span<const uint8_t> d) {
        SegmentReader r(d, kConv);
        SegmentHeader h;
        absl::Span<const uint8_t> p;
        while (r.Next(&h, &p) == SegmentReader::kOk) wasks += h.cmd == kCmdWask;
        ab.Send(d, clock.now_ms());
      },
      Flavor::kKcpGo);
  ours.SetNoDelay(1, 10, 2, 1);
  ASSERT_TRUE(ours.SetWindowSize(128, 128).ok());
  uint8_t create[33] = {};
  const int32_t params[8] = {static_cast<int32_t>(kConv), 1, 10, 2, 1, 32, 32, 1400};
  for (int i = 0; i < 8; ++i) StoreLe32(create + 4 * i, static_cast<uint32_t>(params[i]));
  go.Add('C', create);
  MessageStream tx(33, 1000, 200 * 1000), rx_expect(33, 1000, 200 * 1000);
  std::vector<GoPeer::Frame> replies;
  uint64_t next_flush = 0;
  uint64_t stalled_since = 0;
  bool reading = false;
  const uint64_t end = clock.now_ms() + 600ull * 1000;
  while (!rx_expect.done()) {
    ASSERT_LT(clock.now_ms(), end) << "kcp-go got " << rx_expect.offset() << " bytes";
    const uint64_t now = clock.now_ms();
    const uint32_t now32 = clock.now_ms32();
    go.AddU32('T', now32);
    ab.DeliverDue(now, [&](absl::Span<const uint8_t> d) { go.Add('I', d); });
    ba.DeliverDue(now, [&](absl::Span<const uint8_t> d) {
      SegmentReader r(d, kConv);
      SegmentHeader h;
      absl::Span<const uint8_t> p;
      while (r.Next(&h, &p) == SegmentReader::kOk) wins_zero += h.cmd == kCmdWins && h.wnd == 0;
      ASSERT_EQ(ours.Input(d, now32), kInputOk);
    });
    while (!tx.done() && ours.WaitSnd() < 2 * ours.snd_wnd()) {
      const std::vector<uint8_t> m = tx.Next();
      ASSERT_EQ(ours.Send(m), static_cast<int>(m.size()));
    }
    // kcp-go's application reads nothing until our side has seen its
    // window at 0 for 3 s.
    if (!reading && ours.rmt_wnd() == 0 && stalled_since == 0) stalled_since = now;
    if (!reading && stalled_since != 0 && now >= stalled_since + 3000) {
      reading = true;
      EXPECT_TRUE(ours.peer_acknowledged());
      EXPECT_GE(wasks, 1) << "a real zero window went unprobed";
      EXPECT_GE(wins_zero, 1) << "kcp-go did not answer a probe";
    }
    go.Add('U');
    if (reading) go.Add('R');
    ASSERT_TRUE(go.RoundTrip(&replies)) << "kcp-go peer: " << go.error();
    for (GoPeer::Frame& f : replies) {
      if (f.op == 'O') {
        ba.Send(f.payload, now);
      } else if (f.op == 'M') {
        ASSERT_EQ(f.payload, rx_expect.Next()) << "message " << rx_expect.count();
      }
    }
    if (now >= next_flush) next_flush = now + ours.Flush(now32);
    uint64_t next = std::min<uint64_t>(next_flush, now + 10);  // kcp-go's interval
    if (auto t = ab.NextDeliveryTime()) next = std::min(next, *t);
    if (auto t = ba.NextDeliveryTime()) next = std::min(next, *t);
    clock.AdvanceTo(std::max(next, now + 1));
  }
  EXPECT_TRUE(reading);
}

INSTANTIATE_TEST_SUITE_P(
    Kcp, KcpGoInterop,
    ::testing::Values(InteropConfig{"kcpgo_fast3_loss10", Flavor::kKcpGo, kPresetFast3, 0.10, 1400,
                                    1400, false, 2 << 20},
                      InteropConfig{"kcpgo_normal_loss30_mtu1200", Flavor::kKcpGo, kPresetNormal,
                                    0.30, 1400, 1200, false, 1 << 20},
                      InteropConfig{"kcpgo_fast2_acknodelay_loss10", Flavor::kKcpGo, kPresetFast2,
                                    0.10, 1350, 1400, true, 1 << 20},
                      InteropConfig{"ikcp_default_loss10", Flavor::kIkcp, kPresetDefault, 0.10,
                                    1400, 1400, false, 1 << 20},
                      InteropConfig{"ikcp_fast3_loss0", Flavor::kIkcp, kPresetFast3, 0.0, 1400,
                                    1400, false, 2 << 20}),
    [](const auto& info) { return std::string(info.param.name); });

// Differential test: kcp-go's KCP (G) and our kKcpGo engine (M) get the very
// same calls at the same virtual times - the same datagrams from a remote
// engine R, the same messages to send, Update and Recv in the same order -
// and must emit byte-identical datagrams and receive identical messages.
// The traffic stays where kcp-go 5.6.1 and KG-HEAD (our kKcpGo) behave alike:
// no loss, in-order delivery, the receive window never closes, fewer than
// mtu/24 ACKs pending between flushes (docs/protocol.md §2.15, §9).
// Segment headers of a datagram, one line each, for readable mismatches.
std::string Describe(const std::vector<uint8_t>& d) {
  std::string out;
  SegmentReader r(d);
  SegmentHeader h;
  absl::Span<const uint8_t> p;
  while (r.Next(&h, &p) == SegmentReader::kOk) {
    out += absl::StrCat("cmd=", h.cmd, " frg=", h.frg, " wnd=", h.wnd, " ts=", h.ts, " sn=", h.sn,
                        " una=", h.una, " len=", h.len, "\n");
  }
  return out;
}

// Zeroes the `ts` field of every segment of a datagram.
void ClearTs(std::vector<uint8_t>& d) {
  size_t off = 0;
  while (d.size() - off >= kSegmentHeaderSize) {
    const uint32_t len = LoadLe32(d.data() + off + 20);
    std::memset(d.data() + off + 8, 0, 4);
    off += kSegmentHeaderSize + len;
    if (off > d.size()) break;
  }
}

struct DiffConfig {
  const char* name;
  Preset preset;
  int window;
};

class KcpGoDifferential : public ::testing::TestWithParam<DiffConfig> {};

TEST_P(KcpGoDifferential, SameCallsSameBytes) {
  const DiffConfig& c = GetParam();
  ASSERT_NE(g_peer_path, nullptr) << "pass the peer's path as argv[1]";
  GoPeer go;
  ASSERT_TRUE(go.Start(g_peer_path));
  constexpr uint32_t kConv = 0x55667788;
  test::FakeClock clock(1000);
  test::FakeLink r_out({.delay_ms = 5, .seed = 1}), g_out({.delay_ms = 5, .seed = 2});
  std::vector<std::vector<uint8_t>> m_emitted;
  Kcp r(
      kConv, [&](absl::Span<const uint8_t> d) { r_out.Send(d, clock.now_ms()); }, Flavor::kKcpGo);
  Kcp m(
      kConv, [&](absl::Span<const uint8_t> d) { m_emitted.emplace_back(d.begin(), d.end()); },
      Flavor::kKcpGo);
  for (Kcp* k : {&r, &m}) {
    ApplyPreset(*k, c.preset);
    ASSERT_TRUE(k->SetWindowSize(c.window, c.window).ok());
  }
  uint8_t create[33];
  const int32_t params[8] = {static_cast<int32_t>(kConv),
                             c.preset.nodelay,
                             c.preset.interval,
                             c.preset.resend,
                             c.preset.nc,
                             c.window,
                             c.window,
                             1400};
  for (int i = 0; i < 8; ++i) StoreLe32(create + 4 * i, static_cast<uint32_t>(params[i]));
  create[32] = 0;
  go.Add('C', create);

  std::mt19937 rng(5);
  uint64_t r_offset = 0, g_offset = 0, compared = 0, messages = 0, drifted_steps = 0;
  std::vector<uint8_t> buf(1 << 16);
  std::vector<GoPeer::Frame> replies;
  for (int step = 0; step < 4000; ++step) {  // 20 s of virtual time
    const uint64_t now = clock.now_ms();
    const uint32_t now32 = clock.now_ms32();
    m_emitted.clear();
    go.AddU32('T', now32);
    r_out.DeliverDue(now, [&](absl::Span<const uint8_t> d) {
      go.Add('I', d);
      ASSERT_EQ(m.Input(d, now32), kInputOk);
    });
    g_out.DeliverDue(now,
                     [&](absl::Span<const uint8_t> d) { ASSERT_EQ(r.Input(d, now32), kInputOk); });
    // One message from R every step, and from G/M every other step, each
    // at most two segments.
    std::vector<uint8_t> msg(1 + rng() % (2 * r.mss()));
    FillPattern(3, r_offset, msg.data(), msg.size());
    r_offset += msg.size();
    r.Send(msg);
    if (step % 2 == 0) {
      std::vector<uint8_t> out(1 + rng() % (2 * m.mss()));
      FillPattern(4, g_offset, out.data(), out.size());
      g_offset += out.size();
      go.Add('S', out);
      ASSERT_EQ(m.Send(out), static_cast<int>(out.size()));
    }
    go.Add('U');
    m.Update(now32);
    go.Add('R');
    std::vector<std::vector<uint8_t>> m_received;
    for (int n; (n = m.Recv(absl::MakeSpan(buf))) >= 0;)
      m_received.emplace_back(buf.begin(), buf.begin() + n);
    ASSERT_TRUE(go.RoundTrip(&replies)) << "kcp-go peer: " << go.error();
    std::vector<std::vector<uint8_t>> g_emitted, g_received;
    for (GoPeer::Frame& f : replies) {
      if (f.op == 'O') {
        g_out.Send(f.payload, now);
        g_emitted.push_back(std::move(f.payload));
      } else if (f.op == 'M') {
        g_received.push_back(std::move(f.payload));
      }
    }
    ASSERT_EQ(m_emitted.size(), g_emitted.size()) << "step " << step;
    const bool drifted = go.drifted();
    drifted_steps += drifted;
    for (size_t i = 0; i < g_emitted.size(); ++i) {
      if (drifted) {  // kcp-go may have stamped `ts` 1 ms late: compare the rest
        ClearTs(m_emitted[i]);
        ClearTs(g_emitted[i]);
      }
      ASSERT_EQ(Describe(m_emitted[i]), Describe(g_emitted[i]))
          << "datagram " << i << " of step " << step;
      ASSERT_EQ(m_emitted[i], g_emitted[i]) << "datagram " << i << " of step " << step;
      ++compared;
    }
    ASSERT_EQ(m_received, g_received) << "step " << step;
    messages += g_received.size();
    r.Update(now32);
    while (r.Recv(absl::MakeSpan(buf)) >= 0) {
    }
    clock.Advance(5);
  }
  EXPECT_GT(compared, 1000u);
  EXPECT_GT(messages, 1000u);
  EXPECT_LT(drifted_steps, 400u) << "machine too busy for a meaningful comparison";
  RecordProperty("drifted_steps", static_cast<int>(drifted_steps));
}

INSTANTIATE_TEST_SUITE_P(Kcp, KcpGoDifferential,
                         ::testing::Values(DiffConfig{"default", kPresetDefault, 128},
                                           DiffConfig{"normal", kPresetNormal, 128},
                                           DiffConfig{"fast3", kPresetFast3, 32}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kcpp::kcp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kcpp::kcp::g_peer_path = argv[1];
  return RUN_ALL_TESTS();
}
