// A listener flooded with hostile datagrams from many source ports keeps
// serving a live session byte-exact, drops and counts what it cannot use,
// and holds no more sessions than its limits allow (ListenerOptions
// max_sessions and accept_backlog), whoever sends.
//
// Two kinds of attacker:
//   * without the key (random bytes, another key, truncated or oversized
//     datagrams): nothing passes the cipher, so nothing is created;
//   * with datagrams that pass the cipher (a key holder; anyone when the
//     crypt is none or null; and, to the listener, anyone replaying captured
//     genuine datagrams from new source addresses — the classic and AEAD
//     layouts have no replay protection): every such datagram from a new
//     address may create a session, so only the limits bound them, and only
//     an idle timeout gives their room back.
// See SECURITY.md. Every wait carries a guard deadline; nothing here depends
// on timing.
#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/flood/flooder.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp::flood {
namespace {

using transport::Session;

constexpr char kKey[] = "kcpp flood test key";

absl::Time Guard() { return absl::Now() + absl::Seconds(120); }

transport::SessionOptions LiveOptions() {
  transport::SessionOptions o;
  o.crypt = "aes";
  o.key = kKey;
  o.nodelay = transport::NoDelay::Fast3();
  o.stream_mode = true;
  o.send_window = o.receive_window = 512;
  o.socket_buffer_bytes = 4 << 20;
  return o;
}

std::string Describe(const transport::ListenerStats& s) {
  return absl::StrCat(
      "created=", s.sessions_created, " accepted=", s.sessions_accepted,
      " replaced=", s.sessions_replaced, " live=", s.live_sessions, " pending=", s.pending_accept,
      " drop_csum=", s.dropped_checksum, " drop_no_conv=", s.dropped_no_conv,
      " drop_conv_mismatch=", s.dropped_conv_mismatch, " drop_backlog=", s.dropped_backlog_full,
      " drop_limit=", s.dropped_session_limit, " drop_truncated=", s.dropped_truncated);
}

// A listener with one live, accepted, echoing session.
class LiveServer {
 public:
  explicit LiveServer(const transport::ListenerOptions& lo) {
    transport::EngineOptions eo;
    eo.loops = 2;
    eo.name = "flood";
    engine_ = *transport::Engine::Create(eo);
    listener_ = *engine_->Listen("127.0.0.1:0", lo);
    client_ = *engine_->Dial(listener_->local_address().ToString(), LiveOptions());
    // The live session exists before the flood starts.
    const uint8_t hello[1] = {42};
    EXPECT_TRUE(client_->Write(hello).ok());
    absl::StatusOr<std::unique_ptr<Session>> s = listener_->Accept(Guard());
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return;
    server_ = *std::move(s);
    uint8_t got[1];
    EXPECT_TRUE(server_->Read(absl::MakeSpan(got), Guard()).ok());
    echo_ = std::thread([this, deadline = Guard()] {
      std::vector<uint8_t> buf(64 * 1024);
      while (true) {
        absl::StatusOr<size_t> n = server_->Read(absl::MakeSpan(buf), deadline);
        if (!n.ok()) return;
        if (!server_->Write(absl::MakeConstSpan(buf.data(), *n), deadline).ok()) return;
      }
    });
  }
  ~LiveServer() {
    if (server_) server_->Close();
    if (echo_.joinable()) echo_.join();
    client_.reset();
    server_.reset();
    listener_.reset();
    engine_.reset();
  }

  transport::Listener& listener() { return *listener_; }
  Session& client() { return *client_; }
  uint32_t conv() const { return client_->conv(); }

 private:
  std::unique_ptr<transport::Engine> engine_;
  std::unique_ptr<transport::Listener> listener_;
  std::unique_ptr<Session> client_;
  std::unique_ptr<Session> server_;
  std::thread echo_;
};

// Holds every session handed to an accept callback; counts their ends.
class Holder {
 public:
  void Install(transport::Listener& l) {
    l.SetAcceptCallback([this, &l](std::unique_ptr<Session> s) {
      Session* raw = s.get();
      transport::SessionCallbacks cb;
      cb.on_closed = [this](absl::Status why) {
        std::lock_guard<std::mutex> lock(mu_);
        ++closed_;
        if (absl::IsUnavailable(why) &&
            why.message().find("idle timeout") != absl::string_view::npos)
          ++idle_closed_;
        cv_.notify_all();
      };
      raw->SetCallbacks(std::move(cb));
      // The listener's own count, read as each session arrives: the moments
      // it grows.
      const size_t live = l.GetStats().live_sessions;
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(std::move(s));
      max_live_ = std::max(max_live_, live);
      cv_.notify_all();
    });
  }
  // Waits until `n` sessions were accepted (false at the guard deadline).
  bool WaitAccepted(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, absl::ToChronoTime(Guard()), [&] { return held_.size() >= n; });
  }
  // Waits until `n` sessions ended by their idle timeout.
  bool WaitIdleClosed(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, absl::ToChronoTime(Guard()), [&] { return idle_closed_ >= n; });
  }
  // The listener's live sessions at its busiest (sampled at each accept).
  size_t max_live() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_live_;
  }
  size_t accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  // Drops the handles (before the engine goes).
  void Clear() {
    std::vector<std::unique_ptr<Session>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Session>> held_;
  size_t closed_ = 0;
  size_t idle_closed_ = 0;
  size_t max_live_ = 0;
};

TEST(ListenerFlood, WithoutTheKeyNothingGetsInAndTheLiveSessionIsByteExact) {
  transport::ListenerOptions lo;
  lo.session = LiveOptions();
  LiveServer live(lo);
  FloodOptions fo;
  fo.target = live.listener().local_address();
  fo.key = kKey;
  fo.source_ports = 64;
  fo.mix = {.random = 4, .wrong_key = 4, .truncated = 2, .oversized = 1};
  auto flood = Flooder::Start(fo);
  ASSERT_TRUE(flood.ok()) << flood.status();
  (*flood)->WaitSent(20000);
  const absl::Status echoed =
      transport::testing::Transfer(live.client(), live.client(), 8 << 20, Guard());
  (*flood)->Stop();
  const transport::ListenerStats s = live.listener().GetStats();
  ASSERT_TRUE(echoed.ok()) << echoed << "\n" << Describe(s);
  EXPECT_GE((*flood)->sent(), 20000u);
  EXPECT_EQ(s.sessions_created, 1u) << Describe(s);
  EXPECT_EQ(s.live_sessions, 1u) << Describe(s);
  EXPECT_GT(s.dropped_checksum, 0u) << Describe(s);
  EXPECT_GT(s.dropped_truncated, 0u) << Describe(s);  // the oversized ones
  // The flood came from other addresses: the live session saw none of it.
  EXPECT_EQ(live.client().GetInfo()->counters.checksum_errors, 0u);
}

TEST(ListenerFlood, DatagramsThatPassTheCipherCreateNoMoreThanMaxSessions) {
  transport::ListenerOptions lo;
  lo.session = LiveOptions();
  lo.max_sessions = 32;
  Holder holder;  // outlives the engine: its callbacks run on the loops
  LiveServer live(lo);
  holder.Install(live.listener());  // an application that accepts everything
  FloodOptions fo;
  fo.target = live.listener().local_address();
  fo.key = kKey;
  fo.source_ports = 256;
  fo.live_conv = live.conv();
  fo.mix = {.forged = 6, .parity = 1, .live_conv = 2};
  auto flood = Flooder::Start(fo);
  ASSERT_TRUE(flood.ok()) << flood.status();
  ASSERT_TRUE(holder.WaitAccepted(lo.max_sessions - 1)) << Describe(live.listener().GetStats());
  (*flood)->WaitSent((*flood)->sent() + 20000);  // keep knocking at the full table
  const absl::Status echoed =
      transport::testing::Transfer(live.client(), live.client(), 8 << 20, Guard());
  (*flood)->Stop();
  const transport::ListenerStats s = live.listener().GetStats();
  ASSERT_TRUE(echoed.ok()) << echoed << "\n" << Describe(s);
  // Sessions come and go (a new conv with sn 0 replaces an address's
  // session), but never more than max_sessions at once.
  EXPECT_LE(s.live_sessions, static_cast<uint32_t>(lo.max_sessions)) << Describe(s);
  EXPECT_LE(holder.max_live(), static_cast<size_t>(lo.max_sessions)) << Describe(s);
  EXPECT_GT(s.dropped_session_limit, 0u) << Describe(s);
  EXPECT_GT(s.dropped_no_conv, 0u) << Describe(s);  // parity from unknown addresses
  holder.Clear();
}

TEST(ListenerFlood, UnacceptedSessionsStayWithinTheAcceptBacklog) {
  transport::ListenerOptions lo;
  lo.session = LiveOptions();
  lo.accept_backlog = 8;
  lo.max_sessions = 1024;
  LiveServer live(lo);  // accepts the live session, then never again
  FloodOptions fo;
  fo.target = live.listener().local_address();
  fo.key = kKey;
  fo.source_ports = 64;
  fo.sn0_share = 0.5;  // a new conv with sn 0 from a known address replaces its session
  fo.mix = {.forged = 1};
  auto flood = Flooder::Start(fo);
  ASSERT_TRUE(flood.ok()) << flood.status();
  (*flood)->WaitSent(20000);
  const absl::Status echoed =
      transport::testing::Transfer(live.client(), live.client(), 4 << 20, Guard());
  (*flood)->Stop();
  const transport::ListenerStats s = live.listener().GetStats();
  ASSERT_TRUE(echoed.ok()) << echoed << "\n" << Describe(s);
  // Sessions waiting for Accept, and all sessions but the accepted live one,
  // stay within the backlog, replaced or not (kcp-go 5.6.1 checks its accept
  // channel's capacity after a replacement too).
  EXPECT_LE(s.pending_accept, static_cast<uint32_t>(lo.accept_backlog)) << Describe(s);
  EXPECT_LE(s.live_sessions, 1u + lo.accept_backlog) << Describe(s);
  EXPECT_GT(s.dropped_backlog_full, 0u) << Describe(s);
}

TEST(ListenerFlood, IdleTimeoutGivesTheRoomOfForgedSessionsBack) {
  transport::ListenerOptions lo;
  lo.session = LiveOptions();
  lo.session.idle_timeout_ms = 1000;
  lo.max_sessions = 16;
  Holder holder;  // outlives the engine: its callbacks run on the loops
  transport::EngineOptions eo;
  eo.loops = 2;
  auto engine = *transport::Engine::Create(eo);
  auto listener = *engine->Listen("127.0.0.1:0", lo);
  holder.Install(*listener);
  FloodOptions fo;
  fo.target = listener->local_address();
  fo.key = kKey;
  fo.source_ports = 64;
  fo.mix = {.forged = 1};
  auto flood = Flooder::Start(fo);
  ASSERT_TRUE(flood.ok()) << flood.status();
  // The forgeries fill the table, then keep knocking.
  ASSERT_TRUE(holder.WaitAccepted(lo.max_sessions)) << Describe(listener->GetStats());
  (*flood)->WaitSent((*flood)->sent() + 10000);
  (*flood)->Stop();
  EXPECT_GT(listener->GetStats().dropped_session_limit, 0u) << Describe(listener->GetStats());
  // A real client arrives while the table is full: its first datagrams are
  // dropped, its retransmissions get in once the forgeries timed out.
  transport::SessionOptions co = LiveOptions();
  auto client = *engine->Dial(listener->local_address().ToString(), co);
  const uint8_t hello[3] = {1, 2, 3};
  ASSERT_TRUE(client->Write(hello).ok());
  ASSERT_TRUE(client->WaitAcknowledged(Guard()).ok()) << Describe(listener->GetStats());
  // Every forgery that held a place ends by the idle timeout.
  ASSERT_TRUE(holder.WaitIdleClosed(lo.max_sessions)) << Describe(listener->GetStats());
  const transport::ListenerStats s = listener->GetStats();
  EXPECT_LE(s.live_sessions, 1u) << Describe(s);
  EXPECT_LE(holder.max_live(), static_cast<size_t>(lo.max_sessions)) << Describe(s);
  holder.Clear();
  client.reset();
  listener.reset();
  engine.reset();
}

}  // namespace
}  // namespace kcpp::flood
