// OOB datagrams through kcpd (AttachOob; docs/kcpd.md "OOB datagrams"):
// real kcpd processes (transport backend) on loopback, this test playing the
// applications on their SOCK_SEQPACKET OOB attachments.
//
//   app A <-seqpacket-> kcpd A <-UDP: 0xF3 datagrams-> kcpd B <-seqpacket-> app B
//
// Covers: datagrams both ways between two applications, byte-exact and one
// packet per datagram; the bounds (no FEC: FAILED_PRECONDITION; a second
// attachment: ALREADY_EXISTS; a datagram over the maximum dropped whole and
// counted; datagrams with nobody attached dropped and counted, never kept
// for a later application; a reader that does not read: drops counted, kcpd
// keeps nothing beyond the socket's buffer, and datagrams flow again once
// it reads); Debian's kcp-go 5.6.1 (which has no OOB) keeps serving a
// session that OOB datagrams reached; and `kcpctl oob` (lines <-> datagrams).
//
// Datagrams are unreliable. These tests run on loopback, where nothing is
// lost or reordered between two UDP sockets, so they assert that every
// datagram sent arrives (or is counted where it was dropped), without
// retrying anything.
//
// usage: oob_test <kcpd> <kcpgo_peer> <kcpctl> [gtest flags]
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "testing/subprocess.h"
#include "tests/sidecar/kcpd_harness.h"

namespace kcpp::sidecar {
namespace {

using service::testing::Process;
using service::testing::ReadN;
using service::testing::ShortTempDir;
using service::testing::WriteAll;

// One packet, whole: its size as sent (MSG_TRUNC), so a cut packet shows.
std::string RecvPacket(int fd, int flags = 0) {
  std::string buf(65536, '\0');
  const ssize_t n = ::recv(fd, buf.data(), buf.size(), flags | MSG_TRUNC);
  if (n < 0) return "";
  EXPECT_LE(static_cast<size_t>(n), buf.size());
  buf.resize(static_cast<size_t>(n));
  return buf;
}

void SendPacket(int fd, const std::string& p) {
  ASSERT_EQ(::send(fd, p.data(), p.size(), MSG_NOSIGNAL), static_cast<ssize_t>(p.size()));
}

// Two kcpd, A dialled B: the two ends of one session.
struct Pair {
  Kcpd a, b;
  std::string a_session, b_session;
};

void Connect(Pair& p, const v1::SessionOptions& o) {
  const Link link = ListenAndDial(p.a, p.b, o);
  p.a_session = link.dialled.session().name();
  p.b_session = SessionOf(link.accepted);
}

TEST(OobTest, DatagramsFlowBothWaysBetweenTwoApplicationsThroughTwoKcpd) {
  Pair p;
  Connect(p, FecOptions());
  UniqueFd a = p.a.AttachOobApp(p.a_session);
  UniqueFd b = p.b.AttachOobApp(p.b_session);
  const size_t max = p.a.Session(p.a_session).oob_max_datagram_size();
  ASSERT_GT(max, 1000u);  // mtu 1400 minus the crypt, FEC and conv headers
  EXPECT_EQ(p.b.Session(p.b_session).oob_max_datagram_size(), max);

  // Sizes from 1 byte to the maximum, each datagram one packet each way.
  std::vector<std::string> up, down;
  for (int i = 0; i < 40; ++i) {
    up.push_back(Pattern(i == 0 ? max : 1 + (i * 37) % max, i));
    down.push_back(Pattern(i == 0 ? 1 : max - (i * 29) % max, 100 + i));
  }
  for (const std::string& d : up) SendPacket(a.get(), d);
  for (const std::string& d : up) EXPECT_EQ(RecvPacket(b.get()), d);
  for (const std::string& d : down) SendPacket(b.get(), d);
  for (const std::string& d : down) EXPECT_EQ(RecvPacket(a.get()), d);

  const v1::Session sa = p.a.Session(p.a_session);
  EXPECT_TRUE(sa.oob_attached());
  EXPECT_EQ(sa.oob().datagrams_sent(), up.size());
  EXPECT_EQ(sa.oob().datagrams_received(), down.size());
  EXPECT_EQ(p.b.Stats().oob().datagrams_received(), up.size());
  EXPECT_EQ(p.b.Stats().oob().datagrams_sent(), down.size());

  // Closing the connection detaches; the application reads end-of-file
  // when the session ends.
  v1::CloseSessionRequest close;
  close.set_name(p.b_session);
  grpc::ClientContext c;
  google::protobuf::Empty empty;
  ASSERT_TRUE(p.b.stub()->CloseSession(&c, close, &empty).ok());
  char byte;
  EXPECT_EQ(::recv(b.get(), &byte, 1, 0), 0);
}

TEST(OobTest, NoFecIsRefusedAndSaysWhy) {
  Pair p;
  v1::SessionOptions o = FecOptions();
  o.set_data_shards(0);
  o.set_parity_shards(0);
  Connect(p, o);
  v1::DataAttachment a;
  const grpc::Status s = p.a.AttachOob(p.a_session, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "FEC")) << s.error_message();
  EXPECT_EQ(p.a.Session(p.a_session).oob_max_datagram_size(), 0u);
  EXPECT_EQ(p.b.AttachOob("sessions/999", &a).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(OobTest, BoundsTooLargeUnattachedSecondAttachment) {
  Pair p;
  Connect(p, FecOptions());
  UniqueFd a = p.a.AttachOobApp(p.a_session);
  const size_t max = p.a.Session(p.a_session).oob_max_datagram_size();

  // Nobody attached on B: dropped and counted there, not kept for later.
  SendPacket(a.get(), "to nobody");
  p.b.AwaitSession(p.b_session,
                   [](const v1::Session& s) { return s.oob().dropped_unattached() == 1; });
  UniqueFd b = p.b.AttachOobApp(p.b_session);
  // A datagram over the maximum: dropped whole by kcpd A (never cut).
  SendPacket(a.get(), Pattern(max + 1, 1));
  SendPacket(a.get(), "after");
  // B's first datagram is the last one: the one before was dropped whole
  // (kcpd A reads its application's packets in order).
  EXPECT_EQ(RecvPacket(b.get()), "after");
  EXPECT_EQ(p.b.Session(p.b_session).oob().dropped_unattached(), 1u);
  EXPECT_EQ(p.a.Session(p.a_session).oob().dropped_too_large(), 1u);
  EXPECT_EQ(p.a.Session(p.a_session).oob().datagrams_sent(), 2u);

  // At most one attachment per session.
  v1::DataAttachment second;
  const grpc::Status s = p.b.AttachOob(p.b_session, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  // The session's streams are unaffected by all of it: the first stream
  // still exists on both sides.
  EXPECT_EQ(p.a.Session(p.a_session).stream_count(), 1u);
  EXPECT_EQ(p.b.Session(p.b_session).stream_count(), 1u);
}

TEST(OobTest, ASlowReaderCostsDropsNotMemory) {
  Pair p;
  Connect(p, FecOptions());
  UniqueFd a = p.a.AttachOobApp(p.a_session);
  UniqueFd b = p.b.AttachOobApp(p.b_session);
  // B does not read: 1000 datagrams of 1000 bytes are five times what a
  // Unix socket buffers by default (net.core.wmem_default, ~208 KiB).
  // They go in batches of 50, each waited for: a burst of all 1000 would
  // overflow kcpd B's UDP receive buffer, the one place loopback loses.
  // Every datagram reaches kcpd B and is either queued in B's socket or
  // dropped as it was full.
  constexpr int kCount = 1000;
  constexpr int kBatch = 50;
  v1::Session sb;
  for (int sent = 0; sent < kCount;) {
    for (int i = 0; i < kBatch; ++i, ++sent) SendPacket(a.get(), Pattern(1000, sent));
    sb = p.b.AwaitSession(p.b_session, [&](const v1::Session& s) {
      return s.oob().datagrams_received() + s.oob().dropped_reader_full() ==
             static_cast<uint64_t>(sent);
    });
  }
  EXPECT_GT(sb.oob().dropped_reader_full(), 0u);
  EXPECT_EQ(sb.oob().dropped_unattached(), 0u);
  // What B's socket holds is exactly what kcpd counted as delivered, in
  // order, each whole: the first ones, until the socket was full.
  uint64_t read = 0;
  for (std::string d = RecvPacket(b.get(), MSG_DONTWAIT); !d.empty();
       d = RecvPacket(b.get(), MSG_DONTWAIT)) {
    EXPECT_EQ(d, Pattern(1000, static_cast<int>(read)));
    ++read;
  }
  EXPECT_EQ(read, sb.oob().datagrams_received());
  // Once the reader caught up, datagrams flow again.
  SendPacket(a.get(), "again");
  EXPECT_EQ(RecvPacket(b.get()), "again");
}

TEST(OobTest, KcpGoWithoutOobKeepsServingTheSession) {
  // Debian's kcp-go 5.6.1 predates OOB (v5.6.60): its FEC decoder meets
  // flag 0xF3 datagrams it does not know.
  std::unique_ptr<test::Subprocess> peer;
  const std::string address = StartKcpgoServer(&peer);
  ASSERT_FALSE(address.empty());

  Kcpd k;
  v1::SessionOptions o = FecOptions();
  o.set_framing(v1::FRAMING_RAW);
  o.set_stream_mode(true);
  const v1::DialSessionResponse d = k.Dial(address, o);
  UniqueFd oob = k.AttachOobApp(d.session().name());
  // The stream's application.
  UniqueFd app = Attach(d.stream());
  ASSERT_TRUE(app.valid());

  // kcpgo_peer's protocol: an 8-byte little-endian length, the bytes; it
  // echoes them as they come, in 64 KiB chunks (one message per session).
  const size_t n = 256 << 10, half = n / 2;
  const std::string data = Pattern(n, 7);
  // The first half through the stream first: the session refuses OOB before
  // anything came from the peer (kcp-go 5.6.1 would take it for a new
  // session, docs/protocol.md §4.8).
  WriteAll(app.get(), EchoHeader(n) + data.substr(0, half));
  EXPECT_TRUE(ReadN(app.get(), half) == data.substr(0, half));
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) SendPacket(oob.get(), Pattern(1 + i * 20, i));
  // 12+ bytes starting with four zero bytes: 5.6.1 would read sn 0 of a new
  // conversation and drop the session. Refused and counted, not sent.
  SendPacket(oob.get(), std::string(4, '\0') + "then more bytes");
  SendPacket(oob.get(), "last");
  k.AwaitSession(d.session().name(), [&](const v1::Session& s) {
    return s.oob().datagrams_sent() == kCount + 1 && s.oob().dropped_refused() == 1;
  });
  // The same session, after the datagrams reached kcp-go: the second half.
  std::thread writer([&] { WriteAll(app.get(), data.substr(half)); });
  const std::string rest = ReadN(app.get(), n - half);
  writer.join();
  EXPECT_TRUE(rest == data.substr(half)) << rest.size() << " of " << n - half;
  // kcp-go sent no OOB of its own.
  EXPECT_EQ(k.Session(d.session().name()).oob().datagrams_received(), 0u);
}

TEST(OobTest, KcpctlOobTurnsLinesIntoDatagramsAndBack) {
  Pair p;
  Connect(p, FecOptions());
  UniqueFd b = p.b.AttachOobApp(p.b_session);
  const size_t max = p.a.Session(p.a_session).oob_max_datagram_size();
  // stdin is a FIFO this test writes, so kcpctl stays attached until the
  // test has seen a datagram reach it.
  ShortTempDir dir;
  const std::string fifo = dir.path() + "/stdin";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Process::Options o;
  o.argv = {Binary("kcpctl"), "--socket=" + p.a.control(), "oob", p.a_session};
  o.stdin_path = fifo;
  std::unique_ptr<Process> kcpctl = Process::Start(o);
  UniqueFd in(::open(fifo.c_str(), O_WRONLY | O_CLOEXEC));  // kcpctl opened it too
  ASSERT_TRUE(in.valid());
  const std::string lines = "one\n\n" + std::string(max + 1, 'x') + "\ntwo\n";
  ASSERT_EQ(::write(in.get(), lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  // Empty lines and lines over the maximum are not sent.
  EXPECT_EQ(RecvPacket(b.get()), "one");
  EXPECT_EQ(RecvPacket(b.get()), "two");
  SendPacket(b.get(), "from b");
  p.a.AwaitSession(p.a_session,
                   [](const v1::Session& s) { return s.oob().datagrams_received() == 1; });
  in.reset();  // end of stdin: kcpctl ends its attachment, then exits
  const service::testing::ProcessResult r = kcpctl->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from b\n");
  EXPECT_TRUE(absl::StrContains(r.err, "not sent")) << r.err;
  EXPECT_EQ(p.a.Session(p.a_session).oob().datagrams_sent(), 2u);
}

}  // namespace
}  // namespace kcpp::sidecar

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!kcpp::sidecar::InitBinaries(argc, argv, {"kcpd", "kcpgo_peer", "kcpctl"})) return 2;
  return RUN_ALL_TESTS();
}
