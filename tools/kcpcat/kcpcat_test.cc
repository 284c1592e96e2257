// The real kcpcat binary: it exits as soon as its work is done, without
// waiting out a deadline (issue 17), and its --oob datagrams go kcpcat to
// kcpcat and leave a kcp-go 5.6.1 session (which has no OOB) working.
//
//   kcpcat_test KCPCAT FAR_FUTURE_CLOCK_SO KCPGO_PEER
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"
#include "transport/engine.h"
#include "transport/listener.h"

namespace kcpp {
namespace {

std::string g_kcpcat, g_far_future_clock, g_kcpgo_peer;

test::Subprocess::Options PipeStdin() {
  test::Subprocess::Options o;
  o.pipe_stdin = true;
  return o;
}

// A child whose CLOCK_REALTIME reads a century ahead (far_future_clock.cc).
test::Subprocess::Options FarFutureClock() {
  test::Subprocess::Options o = PipeStdin();
  o.env = {"LD_PRELOAD=" + g_far_future_clock};
  return o;
}

// A hang detector, not a timing check: a starved machine may be slow, and
// a kcpcat that waits for a clock under the far-future clock never exits.
constexpr absl::Duration kGuard = absl::Seconds(60);

// Kills `p` (exit code 137) if it is still running after the guard, so that
// a ReadLine or Wait that would block for ever fails the test instead.
class Watchdog {
 public:
  explicit Watchdog(test::Subprocess& p)
      : thread_([this, &p] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(kGuard), [this] { return done_; })) {
            p.Kill(SIGKILL);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

test::SubprocessResult WaitOrKill(test::Subprocess& p) {
  Watchdog watchdog(p);
  return p.Wait();
}

// Subprocess reads stderr (where kcpcat -l says where it listens) only at
// Wait, so a kcpcat server is given a port that was free a moment ago.
std::string FreeUdpAddress() {
  auto engine = transport::Engine::Create({});
  EXPECT_TRUE(engine.ok());
  transport::ListenerOptions lo;
  auto l = (*engine)->Listen("127.0.0.1:0", lo);
  EXPECT_TRUE(l.ok());
  return (*l)->local_address().ToString();
}

transport::SessionOptions KcpcatDefaults() {
  // kcpcat's defaults (aes, kcptun's key, fast, FEC 10/3).
  transport::SessionOptions o;
  o.crypt = "aes";
  o.key = "it's a secrect";
  o.nodelay = *transport::NoDelay::FromMode("fast");
  o.send_window = 128;
  o.receive_window = 512;
  o.data_shards = 10;
  o.parity_shards = 3;
  return o;
}

// The mechanism check the tests below rely on: under the library,
// CLOCK_REALTIME reads a century ahead.
TEST(FarFutureClock, MovesTheWallClockACenturyAhead) {
  auto date = test::Subprocess::Start({"/bin/date", "-u", "+%Y"}, FarFutureClock());
  ASSERT_TRUE(date.ok()) << date.status();
  const test::SubprocessResult r = (*date)->Wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int year = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &year)) << r.out;
  EXPECT_GE(year, 2100);
}

// kcpcat sent 3 bytes to a peer that acknowledges and never answers, and
// must exit once they are acknowledged. Before, its reader thread noticed
// the end only when a 200 ms read deadline (absl::Now() + 200 ms) passed, so
// kcpcat took 210 ms for 3 bytes; under the far-future clock that deadline
// is a century away and the old kcpcat never exited (the guard killed it:
// exit code 137). Now the end is an event the main thread is woken by.
TEST(Kcpcat, ExitsOnceItsInputIsAcknowledgedWithoutWaitingForAClock) {
  auto engine = transport::Engine::Create({});
  ASSERT_TRUE(engine.ok());
  transport::ListenerOptions lo;
  lo.session = KcpcatDefaults();
  auto listener = (*engine)->Listen("127.0.0.1:0", lo);
  ASSERT_TRUE(listener.ok()) << listener.status();

  auto kcpcat = test::Subprocess::Start({g_kcpcat, (*listener)->local_address().ToString()},
                                        FarFutureClock());
  ASSERT_TRUE(kcpcat.ok()) << kcpcat.status();
  ASSERT_TRUE((*kcpcat)->WriteStdin("abc"));
  (*kcpcat)->CloseStdin();

  auto session = (*listener)->Accept(absl::Now() + kGuard);
  ASSERT_TRUE(session.ok()) << session.status();
  std::string got;
  while (got.size() < 3) {
    uint8_t buf[16];
    absl::StatusOr<size_t> n = (*session)->Read(absl::MakeSpan(buf), absl::Now() + kGuard);
    ASSERT_TRUE(n.ok()) << n.status();
    got.append(reinterpret_cast<char*>(buf), *n);
  }
  EXPECT_EQ(got, "abc");
  // The session stays open and silent: kcpcat's exit can come only from
  // the acknowledgement of its 3 bytes.
  const test::SubprocessResult r = WaitOrKill(**kcpcat);
  EXPECT_EQ(r.exit_code, 0) << "kcpcat did not exit once its input was acknowledged "
                               "(137: it was still waiting for a deadline)\n"
                            << r.err;
}

// The one-session server exits when its session ends (here: the idle
// timeout, on KCP's monotonic clock) while its stdin is still open. Before,
// it also waited for end-of-file on stdin (its main thread sat in read(0)),
// and its accept and read loops polled a stop flag on 200 ms wall-clock
// deadlines: the old kcpcat -l never exited here.
TEST(Kcpcat, ServerExitsWhenItsSessionEndsWithoutWaitingForAClock) {
  const std::string address = FreeUdpAddress();
  auto server = test::Subprocess::Start(
      {g_kcpcat, "-l", "--idle_timeout", "1", "--crypt", "none", address}, FarFutureClock());
  ASSERT_TRUE(server.ok()) << server.status();
  auto client =
      test::Subprocess::Start({g_kcpcat, "--crypt", "none", "--expect", "5", address}, PipeStdin());
  ASSERT_TRUE(client.ok());
  // The client's datagrams may precede the server's socket: it retransmits.
  ASSERT_TRUE((*client)->WriteStdin("hi\n"));
  (*client)->CloseStdin();
  ASSERT_TRUE((*server)->WriteStdin("back\n"));
  Watchdog server_guard(**server);
  EXPECT_EQ((*server)->ReadLine().value_or("(none)"), "hi");
  const test::SubprocessResult c = WaitOrKill(**client);
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "back\n");
  const test::SubprocessResult s = WaitOrKill(**server);
  EXPECT_EQ(s.exit_code, 0) << "kcpcat -l did not exit when its session timed out\n" << s.err;
  EXPECT_NE(s.err.find("idle timeout"), std::string::npos) << s.err;
}

// kcpcat --oob to kcpcat --oob: lines of stdin become OOB datagrams, each
// arriving datagram a line of stdout, both ways.
TEST(KcpcatOob, LinesTravelAsDatagramsBothWays) {
  const std::string address = FreeUdpAddress();
  auto server = test::Subprocess::Start({g_kcpcat, "-l", "--oob", "--stats", address}, PipeStdin());
  ASSERT_TRUE(server.ok()) << server.status();
  Watchdog server_guard(**server);  // a lost line: ReadLine would wait for ever
  // Sent once the client's session exists (accepted); stdin stays open.
  ASSERT_TRUE((*server)->WriteStdin("from server 1\nfrom server 2\n"));
  auto client = test::Subprocess::Start({g_kcpcat, "--oob", "--expect", "2", "--stats", address},
                                        PipeStdin());
  ASSERT_TRUE(client.ok());
  // A line longer than a datagram is not sent (and said so); the last line
  // has no newline: it is still a datagram.
  // A line that would make kcp-go 5.6.1's listener replace its session is
  // not sent either.
  ASSERT_TRUE((*client)->WriteStdin("one\n" + std::string(5000, 'x') + "\n\n" +
                                    std::string(4, '\0') + "8 more b\ntwo two\nthree"));
  (*client)->CloseStdin();
  EXPECT_EQ((*server)->ReadLine().value_or("(none)"), "one");
  EXPECT_EQ((*server)->ReadLine().value_or("(none)"), "");  // an empty datagram
  EXPECT_EQ((*server)->ReadLine().value_or("(none)"), "two two");
  EXPECT_EQ((*server)->ReadLine().value_or("(none)"), "three");
  const test::SubprocessResult c = WaitOrKill(**client);
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "from server 1\nfrom server 2\n");
  EXPECT_NE(c.err.find("oob out 4 in 2"), std::string::npos) << c.err;
  // --stats shows what adaptive parity (on by default: bbr, FEC 10/3)
  // measures and sends: a few segments close none of its 256-segment
  // windows, so every parity shard is sent and there is no estimate yet.
  EXPECT_NE(c.err.find(") acked late "), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("fec parity sending 3 per group, loss estimate none\n"), std::string::npos)
      << c.err;
  EXPECT_NE(c.err.find("(the largest OOB datagram) was not sent"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("line not sent: INVALID_ARGUMENT"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("starts with four zero bytes"), std::string::npos) << c.err;
  // A signal ends the server at once (no poll of a stop flag).
  (*server)->Kill(SIGTERM);
  const test::SubprocessResult s = WaitOrKill(**server);
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "");  // the stream's opening newline is not printed
  EXPECT_NE(s.err.find("oob out 2 in 4"), std::string::npos) << s.err;
}

TEST(KcpcatOob, RefusesWithoutFec) {
  auto p = test::Subprocess::Start(
      {g_kcpcat, "--oob", "--datashard", "0", "--parityshard", "0", "127.0.0.1:9"});
  ASSERT_TRUE(p.ok());
  const test::SubprocessResult r = WaitOrKill(**p);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--oob needs FEC on"), std::string::npos) << r.err;
}

// kcp-go 5.6.1 has no OOB: a dialled or accepted session reads a 0xF3
// datagram as a KCP segment of conv 0xFFFFFFFF, which its KCP refuses (a
// KCPInErrors count). Its listener first takes bytes 12-15 (the payload's
// first four) as the segment's sn: a datagram whose payload is 12 bytes or
// more and starts with four zero bytes is "sn 0 of a new conversation" and
// replaces the session (tried by hand: the stream then stops), which is why
// kcpcat does not send such lines. Any other datagram leaves the session
// working: the stream before and after 100 datagrams (text, as kcpcat's
// lines, up to the largest) is echoed byte-exact.
std::unique_ptr<test::Subprocess> StartKcpGoEcho(std::string* address) {
  auto p = test::Subprocess::Start({g_kcpgo_peer, "-role", "server", "-addr", "127.0.0.1:0",
                                    "-bench", "echo", "-crypt", "aes", "-ds", "10", "-ps", "3",
                                    "-mode", "fast", "-mtu", "1350"});
  EXPECT_TRUE(p.ok()) << p.status();
  std::vector<std::string> words = absl::StrSplit((*p)->ReadLine().value_or(""), ' ');
  EXPECT_EQ(words.size(), 2u);
  *address = words.size() == 2 ? words[1] : "";
  return *std::move(p);
}

absl::Status ReadExactly(transport::Session& s, size_t n, std::string* out) {
  out->clear();
  while (out->size() < n) {
    uint8_t buf[4096];
    absl::StatusOr<size_t> r = s.Read(absl::MakeSpan(buf), absl::Now() + kGuard);
    if (!r.ok()) return r.status();
    out->append(reinterpret_cast<char*>(buf), *r);
  }
  return absl::OkStatus();
}

TEST(KcpcatOob, KcpGo561SessionKeepsWorkingWhenDatagramsArrive) {
  std::string address;
  std::unique_ptr<test::Subprocess> peer = StartKcpGoEcho(&address);
  auto engine = transport::Engine::Create({});
  ASSERT_TRUE(engine.ok());
  auto session = (*engine)->Dial(address, KcpcatDefaults());
  ASSERT_TRUE(session.ok()) << session.status();
  transport::Session& s = **session;

  std::string before(20000, 'b'), echoed;
  ASSERT_TRUE(
      s.Write(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(before.data()), before.size()))
          .ok());
  ASSERT_TRUE(ReadExactly(s, before.size(), &echoed).ok());
  EXPECT_EQ(echoed, before);

  const size_t max = s.oob_max_size();
  ASSERT_GT(max, 0u);
  for (int i = 0; i < 100; ++i) {
    std::string line = absl::StrCat("line ", i, " ");
    line.resize(i % 3 == 0 ? max : line.size() + static_cast<size_t>(i), 'x');
    ASSERT_TRUE(
        s.SendOob(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(line.data()), line.size()))
            .ok());
  }

  std::string after(200000, 'a');
  for (size_t i = 0; i < after.size(); ++i) after[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(
      s.Write(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(after.data()), after.size()))
          .ok());
  absl::Status read = ReadExactly(s, after.size(), &echoed);
  if (!read.ok()) {
    peer->Kill(SIGKILL);  // a server runs until killed: Wait for its stderr
    FAIL() << read << "\nkcp-go: " << peer->Wait().err;
  }
  EXPECT_EQ(echoed, after);
  absl::StatusOr<transport::SessionInfo> info = s.GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counters.oob_packets_sent, 100u);
}

// The same through kcpcat: `kcpcat --oob` to kcp-go 5.6.1's echo server
// opens the session with its newline (echoed back and dropped), sends its
// lines as datagrams and exits 0; the server still echoes a plain kcpcat.
TEST(KcpcatOob, KcpcatOobAgainstKcpGo561) {
  std::string address;
  std::unique_ptr<test::Subprocess> peer = StartKcpGoEcho(&address);
  auto oob = test::Subprocess::Start({g_kcpcat, "--oob", "--mtu", "1350", address}, PipeStdin());
  ASSERT_TRUE(oob.ok());
  ASSERT_TRUE((*oob)->WriteStdin("hello\nkcp-go\n"));
  (*oob)->CloseStdin();
  const test::SubprocessResult r = WaitOrKill(**oob);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  auto plain = test::Subprocess::Start({g_kcpcat, "--expect", "6", address}, PipeStdin());
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE((*plain)->WriteStdin("still\n"));
  (*plain)->CloseStdin();
  const test::SubprocessResult p = WaitOrKill(**plain);
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out, "still\n");
}

}  // namespace
}  // namespace kcpp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s KCPCAT FAR_FUTURE_CLOCK_SO KCPGO_PEER\n", argv[0]);
    return 2;
  }
  kcpp::g_kcpcat = argv[1];
  kcpp::g_far_future_clock = argv[2];
  kcpp::g_kcpgo_peer = argv[3];
  // Under ASan the preloaded library comes before the ASan runtime, which
  // ASan refuses unless told it is fine; children inherit this (an entry
  // added per child would come after the inherited one, which wins).
  if (const char* asan = std::getenv("ASAN_OPTIONS"); asan != nullptr) {
    setenv("ASAN_OPTIONS", absl::StrCat(asan, ":verify_asan_link_order=0").c_str(), 1);
  }
  return RUN_ALL_TESTS();
}
