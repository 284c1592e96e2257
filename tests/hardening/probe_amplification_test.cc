// Issue 16, defect 4: window-probe amplification. One forged 44-byte PUSH
// advertising a zero window (crypt `none`: anyone can forge it, from any
// source address) made a listener's session send a WASK to that address at
// growing intervals for as long as it lived. The bound now promised
// (SECURITY.md "Spoofed sources and amplification"): an address that has
// not acknowledged anything gets at most one datagram per datagram it sent,
// and no more bytes than it sent.
//
// No test clock exists for the engine, so the period is bounded by the
// session itself: an idle timeout ends it, and the replies are counted once
// it has ended (all of them are in the attacker's socket by then: loopback
// delivers during sendmmsg). The count does not depend on how long that
// took; on the old code the first WASK left 500 ms after the PUSH and the
// idle timeout is 2.5 s, so it failed every time.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"
#include "kcp/segment.h"
#include "transport/engine.h"
#include "transport/socket_address.h"

namespace kcpp {
namespace {

using transport::SocketAddress;

// A bound UDP socket on 127.0.0.1 that sends forgeries and counts replies.
class Attacker {
 public:
  Attacker() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
    EXPECT_EQ(bind(fd_, any.sockaddr_ptr(), any.sockaddr_len()), 0);
  }
  ~Attacker() { close(fd_); }
  void SendTo(const SocketAddress& to, absl::Span<const uint8_t> d) {
    ASSERT_EQ(sendto(fd_, d.data(), d.size(), 0, to.sockaddr_ptr(), to.sockaddr_len()),
              static_cast<ssize_t>(d.size()));
  }
  // Datagrams waiting in the socket, and their bytes.
  void Drain(int* datagrams, size_t* bytes) {
    uint8_t buf[2048];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0) {
        ASSERT_EQ(errno, EAGAIN);
        return;
      }
      ++*datagrams;
      *bytes += static_cast<size_t>(n);
    }
  }

 private:
  int fd_ = -1;
};

// crypt `none` (nonce + CRC-32, nothing secret): one KCP PUSH, sn 0, no
// payload, advertising window `wnd`: 20 + 24 = 44 bytes.
std::vector<uint8_t> ForgedPush(uint32_t conv, uint16_t wnd) {
  auto cipher = *crypt::NewKcptunPacketCipher("none", crypt::DeriveKcptunKey("any"));
  std::vector<uint8_t> d(cipher->header_size() + kcp::kSegmentHeaderSize + cipher->trailer_size());
  kcp::SegmentHeader h;
  h.conv = conv;
  h.cmd = kcp::kCmdPush;
  h.wnd = wnd;
  kcp::EncodeSegmentHeader(h, d.data() + cipher->header_size());
  EXPECT_TRUE(cipher->Seal(absl::MakeSpan(d)));
  return d;
}

struct Outcome {
  int replies = 0;
  size_t reply_bytes = 0;
  size_t forged_bytes = 0;
  transport::Counters counters;
};

// One forged zero-window PUSH into a listener whose sessions end after
// `idle_timeout_ms` without input; what came back once the session ended.
Outcome ForgeOnce(const transport::SessionOptions& session) {
  Outcome out;
  auto engine = transport::Engine::Create({});
  EXPECT_TRUE(engine.ok()) << engine.status();
  transport::ListenerOptions lo;
  lo.session = session;
  auto listener = (*engine)->Listen("127.0.0.1:0", lo);
  EXPECT_TRUE(listener.ok()) << listener.status();
  Attacker attacker;
  const std::vector<uint8_t> forged = ForgedPush(0x5eed, /*wnd=*/0);
  out.forged_bytes = forged.size();
  attacker.SendTo((*listener)->local_address(), forged);
  auto accepted = (*listener)->Accept(absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(accepted.ok()) << accepted.status();
  if (!accepted.ok()) return out;
  // Read until the idle timeout fails the session (an event, not a sleep);
  // the forged PUSH carried nothing to read.
  uint8_t buf[16];
  absl::StatusOr<size_t> read;
  size_t delivered = 0;
  while ((read = (*accepted)->Read(absl::MakeSpan(buf), absl::Now() + absl::Seconds(60))).ok()) {
    delivered += *read;
  }
  EXPECT_TRUE(absl::IsUnavailable(read.status())) << read.status();
  EXPECT_EQ(delivered, 0u);
  auto info = (*accepted)->GetInfo();
  EXPECT_TRUE(info.ok()) << info.status();
  if (info.ok()) out.counters = info->counters;
  attacker.Drain(&out.replies, &out.reply_bytes);
  return out;
}

transport::SessionOptions Forgeable() {
  transport::SessionOptions o;
  o.crypt = "none";
  o.idle_timeout_ms = 2500;
  return o;
}

TEST(ProbeAmplification, AForgedZeroWindowGetsOneReplyNoLargerThanItself) {
  const Outcome o = ForgeOnce(Forgeable());
  EXPECT_LE(o.replies, 1) << "one forged datagram drew " << o.replies << " replies";
  EXPECT_LE(o.reply_bytes, o.forged_bytes);
  EXPECT_EQ(o.counters.packets_sent, static_cast<uint64_t>(o.replies));
}

// Keepalives (WINS every keepalive_ms) to an address that never
// acknowledged anything are replies too: held to the same budget, and
// counted when dropped.
TEST(ProbeAmplification, KeepalivesToAnUnverifiedAddressStayWithinTheBudget) {
  transport::SessionOptions s = Forgeable();
  s.keepalive_ms = 200;
  const Outcome o = ForgeOnce(s);
  EXPECT_LE(o.replies, 1) << "one forged datagram drew " << o.replies << " replies";
  EXPECT_LE(o.reply_bytes, o.forged_bytes);
  EXPECT_GT(o.counters.unverified_replies_dropped, 0u);
}

// With FEC on the listener, a raw forged PUSH draws a reply larger than
// itself (FEC header) and parity: the byte budget refuses them.
TEST(ProbeAmplification, RepliesLargerThanTheForgeryAreNotSent) {
  transport::SessionOptions s = Forgeable();
  s.data_shards = 1;
  s.parity_shards = 3;
  const Outcome o = ForgeOnce(s);
  EXPECT_LE(o.reply_bytes, o.forged_bytes);
  EXPECT_LE(o.replies, 1);
}

}  // namespace
}  // namespace kcpp
