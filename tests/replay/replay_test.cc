// Replay protection through real sessions (SessionOptions::replay_protection,
// docs/protocol.md §11.10). A Tap sits between a kcpp client and a kcpp
// server as an eavesdropper would: it relays every datagram and keeps a copy
// of what the client sent, then sends copies again — from the client's own
// address, or from an address of its own — into a live session, after the
// session's window has moved past them, and into a server restarted on the
// same port.
//
// No sleeps: the Tap, the server and the clients run on loopback with one
// event loop each, so the server handles datagrams in the order they reach
// its socket. Each replay is followed by a fresh message from a legitimate
// sender; once the server has read that message, the replay before it has
// been handled, and the counters are read.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypt/packet_cipher.h"
#include "crypt/replay_window.h"
#include "gtest/gtest.h"
#include "transport/engine.h"
#include "transport/listener.h"
#include "transport/options.h"
#include "transport/session.h"
#include "transport/socket_address.h"

namespace kcpp {
namespace {

using transport::Engine;
using transport::Listener;
using transport::ListenerOptions;
using transport::Session;
using transport::SessionOptions;
using transport::SocketAddress;

// Every blocking call's deadline: a hang detector only.
absl::Time Guard() { return absl::Now() + absl::Seconds(30); }

int BoundUdp() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) std::abort();
  return fd;
}

SocketAddress LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

// A relay between one client and a server that records the client's
// datagrams and can send any of them again.
class Tap {
 public:
  explicit Tap(SocketAddress server)
      : server_(std::move(server)), front_(BoundUdp()), back_(BoundUdp()), other_(BoundUdp()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Tap() {
    stop_ = true;
    thread_.join();
    close(front_);
    close(back_);
    close(other_);
  }
  // Where the client dials.
  std::string front() const { return LocalAddress(front_).ToString(); }
  // The client's address as the server sees it.
  SocketAddress back() const { return LocalAddress(back_); }
  SocketAddress other() const { return LocalAddress(other_); }

  std::vector<std::vector<uint8_t>> captured() const {
    std::lock_guard<std::mutex> lock(mu_);
    return captured_;
  }
  // Sends `d` to the server from the client's address (back) or from the
  // Tap's own other address.
  void ReplayAsClient(const std::vector<uint8_t>& d) { SendTo(back_, d); }
  void ReplayFromElsewhere(const std::vector<uint8_t>& d) { SendTo(other_, d); }

 private:
  void SendTo(int fd, const std::vector<uint8_t>& d) {
    ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, server_.sockaddr_ptr(), server_.sockaddr_len()),
              static_cast<ssize_t>(d.size()));
  }
  void Run() {
    uint8_t buf[2048];
    sockaddr_storage client{};
    socklen_t client_len = 0;
    while (!stop_) {
      pollfd p[2] = {{front_, POLLIN, 0}, {back_, POLLIN, 0}};
      if (poll(p, 2, 20) <= 0) continue;  // the timeout only re-checks stop_
      if (p[0].revents & POLLIN) {
        sockaddr_storage from{};
        socklen_t len = sizeof(from);
        const ssize_t n =
            recvfrom(front_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0) {
          client = from;
          client_len = len;
          {
            std::lock_guard<std::mutex> lock(mu_);
            captured_.emplace_back(buf, buf + n);
          }
          sendto(back_, buf, static_cast<size_t>(n), 0, server_.sockaddr_ptr(),
                 server_.sockaddr_len());
        }
      }
      if (p[1].revents & POLLIN) {
        const ssize_t n = recv(back_, buf, sizeof(buf), 0);
        if (n > 0 && client_len > 0) {
          sendto(front_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&client),
                 client_len);
        }
      }
    }
  }

  const SocketAddress server_;
  const int front_, back_, other_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::vector<uint8_t>> captured_;  // guarded by mu_
  std::thread thread_;
};

SessionOptions Protected() {
  SessionOptions o;
  o.crypt = "aes-128-gcm";
  o.key = "replay test";
  o.replay_protection = true;
  o.nodelay = transport::NoDelay::Fast3();
  o.send_window = o.receive_window = 1024;
  return o;
}

std::unique_ptr<Engine> OneLoopEngine() {
  transport::EngineOptions eo;
  eo.loops = 1;
  auto e = Engine::Create(eo);
  if (!e.ok()) std::abort();
  return *std::move(e);
}

void WriteMessage(Session& s, const std::string& m) {
  absl::StatusOr<size_t> n =
      s.Write(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(m.data()), m.size()), Guard());
  ASSERT_TRUE(n.ok()) << n.status();
}

// One message (message mode keeps write boundaries).
std::string ReadMessage(Session& s) {
  std::vector<uint8_t> buf(4096);
  absl::StatusOr<size_t> n = s.Read(absl::MakeSpan(buf), Guard());
  if (!n.ok()) return absl::StrCat("<", n.status().ToString(), ">");
  return std::string(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
}

transport::Counters CountersOf(const Session& s) {
  absl::StatusOr<transport::SessionInfo> info = s.GetInfo();
  if (!info.ok()) return {};
  return info->counters;
}

struct Server {
  std::unique_ptr<Engine> engine = OneLoopEngine();
  std::unique_ptr<Listener> listener;
  explicit Server(const std::string& address) {
    ListenerOptions lo;
    lo.session = Protected();
    auto l = engine->Listen(address, lo);
    if (!l.ok()) std::abort();
    listener = *std::move(l);
    // A datagram stamped in the listener's first millisecond may predate it
    // and is refused (its sender retransmits, re-stamped). Let the clock
    // pass that millisecond, so every count below is exact.
    const int64_t started = absl::ToUnixMillis(absl::Now());
    while (absl::ToUnixMillis(absl::Now()) <= started) {
    }
  }
};

TEST(ReplayTest, ReplaysIntoALiveSessionAreDroppedCountedAndMoveNothing) {
  Server server("127.0.0.1:0");
  Tap tap(server.listener->local_address());
  std::unique_ptr<Engine> client_engine = OneLoopEngine();
  auto client = client_engine->Dial(tap.front(), Protected());
  ASSERT_TRUE(client.ok()) << client.status();
  WriteMessage(**client, "hello 0");
  auto accepted = server.listener->Accept(Guard());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  Session& peer = **accepted;
  ASSERT_EQ(ReadMessage(peer), "hello 0");
  WriteMessage(**client, "hello 1");
  ASSERT_EQ(ReadMessage(peer), "hello 1");

  const std::vector<std::vector<uint8_t>> seen = tap.captured();
  ASSERT_GE(seen.size(), 2u);
  ASSERT_EQ(server.listener->GetStats().dropped_replay, 0u);
  // The datagram that created the session (PUSH sn 0), from the client's
  // address: its session's window has it already.
  tap.ReplayAsClient(seen.front());
  // The same from another address: a new conversation's first datagram,
  // which would create a second session (a ghost delivering "hello 0").
  tap.ReplayFromElsewhere(seen.front());
  // A later one from another address: would make the session follow the
  // replayer once the client is quiet.
  tap.ReplayFromElsewhere(seen.back());
  WriteMessage(**client, "hello 2");
  EXPECT_EQ(ReadMessage(peer), "hello 2");  // not "hello 0" again

  const transport::Counters c = CountersOf(peer);
  EXPECT_EQ(c.replays_rejected, 2u);  // the two that reached the session
  EXPECT_EQ(c.address_changes, 0u);
  EXPECT_EQ(peer.remote_address(), tap.back());
  const transport::ListenerStats ls = server.listener->GetStats();
  EXPECT_EQ(ls.dropped_replay, 3u);  // those two and the would-be ghost
  EXPECT_EQ(ls.sessions_created, 1u);
  EXPECT_EQ(server.listener->Accept(absl::InfinitePast()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CountersOf(**client).replays_rejected, 0u);
}

TEST(ReplayTest, ReplaysFromBeforeTheWindowMovedAreTooOld) {
  Server server("127.0.0.1:0");
  Tap tap(server.listener->local_address());
  std::unique_ptr<Engine> client_engine = OneLoopEngine();
  auto client = client_engine->Dial(tap.front(), Protected());
  ASSERT_TRUE(client.ok()) << client.status();
  WriteMessage(**client, "first");
  auto accepted = server.listener->Accept(Guard());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  Session& peer = **accepted;
  ASSERT_EQ(ReadMessage(peer), "first");
  const std::vector<uint8_t> early = tap.captured().front();

  // More datagrams than the window tracks: messages of 1000 bytes, one per
  // datagram (two never fit the 1400-byte MTU).
  const int kMessages = static_cast<int>(crypt::ReplayWindow::kWindowSize) + 200;
  std::thread reader([&] {
    for (int i = 0; i < kMessages; ++i) {
      if (ReadMessage(peer).size() != 1000) break;
    }
  });
  for (int i = 0; i < kMessages; ++i) WriteMessage(**client, std::string(1000, 'a' + i % 26));
  reader.join();
  ASSERT_GT(tap.captured().size(), crypt::ReplayWindow::kWindowSize + 1);

  tap.ReplayAsClient(early);                     // behind the window: too old
  tap.ReplayAsClient(tap.captured().back());     // inside it: a duplicate
  WriteMessage(**client, "last");
  EXPECT_EQ(ReadMessage(peer), "last");
  EXPECT_EQ(CountersOf(peer).replays_rejected, 2u);
  EXPECT_EQ(server.listener->GetStats().sessions_created, 1u);
}

TEST(ReplayTest, ARestartedServerCreatesNoSessionFromAReplay) {
  std::vector<uint8_t> first;
  std::string address;
  SocketAddress tapped_client;
  std::unique_ptr<Engine> client_engine = OneLoopEngine();
  std::unique_ptr<Tap> tap;
  {
    Server before("127.0.0.1:0");
    address = before.listener->local_address().ToString();
    tap = std::make_unique<Tap>(before.listener->local_address());
    auto client = client_engine->Dial(tap->front(), Protected());
    ASSERT_TRUE(client.ok()) << client.status();
    WriteMessage(**client, "before the restart");
    auto accepted = before.listener->Accept(Guard());
    ASSERT_TRUE(accepted.ok()) << accepted.status();
    ASSERT_EQ(ReadMessage(**accepted), "before the restart");
    first = tap->captured().front();
    tapped_client = tap->back();
  }  // the server's engine, listener and sessions are gone: a restart

  Server after(address);  // the same port, no state
  // The captured first datagram, from the address it came from, within the
  // clock skew (seconds old at most) — a kcp-go or plain kcpp server makes
  // a session of it and delivers "before the restart" again.
  tap->ReplayAsClient(first);
  // A legitimate new client after it.
  auto fresh = client_engine->Dial(address, Protected());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  WriteMessage(**fresh, "after the restart");
  auto accepted = after.listener->Accept(Guard());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  // The new client's session, not a ghost of the old one (the Tap's port).
  EXPECT_EQ((*accepted)->remote_address().port(), (*fresh)->local_address().port());
  EXPECT_NE((*accepted)->remote_address(), tapped_client);
  EXPECT_EQ(ReadMessage(**accepted), "after the restart");
  const transport::ListenerStats ls = after.listener->GetStats();
  EXPECT_EQ(ls.sessions_created, 1u);
  EXPECT_EQ(ls.dropped_replay, 1u);
  EXPECT_EQ(after.listener->Accept(absl::InfinitePast()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ReplayTest, ADatagramStampedLongAgoCreatesNoSession) {
  // What an eavesdropper captured an hour ago, then replayed: the AEAD still
  // accepts it (same key), the clock check does not. Built with the key
  // here, as the capture cannot be an hour old in a test.
  Server server("127.0.0.1:0");
  auto cipher = crypt::NewKcptunPacketCipher("aes-128-gcm", crypt::DeriveKcptunKey("replay test"));
  ASSERT_TRUE(cipher.ok());
  // A PUSH, sn 0, una 0, conv 0x01020304, 4 bytes of data.
  std::vector<uint8_t> d(crypt::kAeadNonceSize + 24 + 4 + crypt::kAeadTagSize, 0);
  uint8_t* k = d.data() + crypt::kAeadNonceSize;
  const uint8_t header[24] = {4, 3, 2, 1, 81, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0};
  std::memcpy(k, header, 24);
  std::memcpy(k + 24, "ping", 4);
  uint8_t nonce[crypt::kAeadNonceSize];
  const int64_t hour_ago = absl::ToUnixMillis(absl::Now()) - 3'600'000;
  crypt::ReplayStamp{static_cast<uint32_t>(hour_ago), 12345}.Store(nonce);
  ASSERT_TRUE((*cipher)->SealWithNonce(absl::MakeSpan(d), nonce));
  const int fd = BoundUdp();
  const SocketAddress to = server.listener->local_address();
  ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, to.sockaddr_ptr(), to.sockaddr_len()),
            static_cast<ssize_t>(d.size()));
  close(fd);
  // Then a legitimate client.
  std::unique_ptr<Engine> client_engine = OneLoopEngine();
  auto client = client_engine->Dial(to.ToString(), Protected());
  ASSERT_TRUE(client.ok());
  WriteMessage(**client, "now");
  auto accepted = server.listener->Accept(Guard());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(ReadMessage(**accepted), "now");
  EXPECT_EQ(server.listener->GetStats().sessions_created, 1u);
  EXPECT_EQ(server.listener->GetStats().dropped_replay, 1u);
  EXPECT_EQ(server.listener->Accept(absl::InfinitePast()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ReplayTest, OptionNeedsAnAeadCipher) {
  SessionOptions o = Protected();
  EXPECT_TRUE(o.Validate().ok());
  o.crypt = "aes";
  const absl::Status s = o.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("replay_protection needs an AEAD crypt"), absl::string_view::npos)
      << s;
  o.crypt = "chacha20-poly1305";
  o.replay_max_skew_ms = 10;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kcpp
