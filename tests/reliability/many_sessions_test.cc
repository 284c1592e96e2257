// 1000 concurrent sessions through one listener, each echoing (issue 6), and
// many sessions on several loops sharing one cipher object without a single
// corrupted datagram (kcp-go's ciphers share scratch state and corrupt each
// other's packets, issue 6 (b)).
#include <sys/resource.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp {
namespace {

using transport::testing::AsyncEchoServer;
using transport::testing::PatternByte;

absl::Time Guard() { return absl::Now() + absl::Minutes(5); }

// Every dialled session has its own socket: lift the descriptor limit.
void RaiseFileLimit() {
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

struct Result {
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::string first_error;
  std::mutex mu;
  void Fail(const std::string& why) {
    ++failed;
    std::lock_guard<std::mutex> l(mu);
    if (first_error.empty()) first_error = why;
  }
};

// Each of `threads` threads owns a slice of the sessions: writes a distinct
// pattern on every one of them first, then reads every echo back.
void EchoAll(std::vector<std::unique_ptr<transport::Session>>& sessions, size_t bytes,
             int threads, Result* result) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<uint8_t> buf(bytes);
      for (size_t i = t; i < sessions.size(); i += threads) {
        for (size_t k = 0; k < bytes; ++k) buf[k] = PatternByte(i * 7919 + k);
        if (!sessions[i]->Write(buf, Guard()).ok()) result->Fail(absl::StrCat("write ", i));
      }
      for (size_t i = t; i < sessions.size(); i += threads) {
        size_t got = 0;
        while (got < bytes) {
          absl::StatusOr<size_t> n =
              sessions[i]->Read(absl::MakeSpan(buf.data() + got, bytes - got), Guard());
          if (!n.ok()) {
            result->Fail(absl::StrCat("session ", i, ": ", n.status().ToString()));
            break;
          }
          got += *n;
        }
        bool exact = got == bytes;
        for (size_t k = 0; exact && k < bytes; ++k) exact = buf[k] == PatternByte(i * 7919 + k);
        if (exact) {
          ++result->ok;
        } else if (got == bytes) {
          result->Fail(absl::StrCat("session ", i, " echoed other bytes"));
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
}

TEST(ManySessions, AThousandConcurrentSessionsThroughOneListenerAllEcho) {
  RaiseFileLimit();
  transport::EngineOptions eo;
  eo.loops = 2;
  auto engine = *transport::Engine::Create(eo);
  transport::ListenerOptions lo;
  lo.session.nodelay = transport::NoDelay::Fast2();
  lo.session.stream_mode = true;
  lo.accept_backlog = 2000;
  auto listener = *engine->Listen("127.0.0.1:0", lo);
  AsyncEchoServer echo(*listener);
  std::vector<std::unique_ptr<transport::Session>> sessions;
  for (int i = 0; i < 1000; ++i) {
    auto s = engine->Dial(listener->local_address().ToString(), lo.session);
    ASSERT_TRUE(s.ok()) << "session " << i << ": " << s.status();
    sessions.push_back(*std::move(s));
  }
  Result result;
  EchoAll(sessions, 4096, 8, &result);
  EXPECT_EQ(result.ok.load(), 1000) << result.first_error;
  EXPECT_EQ(result.failed.load(), 0) << result.first_error;
  EXPECT_EQ(echo.sessions(), 1000);
  const transport::ListenerStats stats = listener->GetStats();
  EXPECT_EQ(stats.sessions_created, 1000u);
  EXPECT_EQ(stats.live_sessions, 1000u);
  EXPECT_EQ(engine->GetStats().counters.checksum_errors, 0u);
}

TEST(ManySessions, OneSharedCipherAcrossLoopsCorruptsNothing) {
  RaiseFileLimit();
  transport::EngineOptions eo;
  eo.loops = 2;
  auto engine = *transport::Engine::Create(eo);
  for (const char* crypt : {"aes", "sm4", "salsa20", "blowfish"}) {
    transport::ListenerOptions lo;
    lo.session.crypt = crypt;
    lo.session.key = "one key for all";
    lo.session.nodelay = transport::NoDelay::Fast3();
    lo.session.stream_mode = true;
    lo.session.send_window = lo.session.receive_window = 256;
    auto listener = *engine->Listen("127.0.0.1:0", lo);
    AsyncEchoServer echo(*listener);
    std::vector<std::unique_ptr<transport::Session>> sessions;
    for (int i = 0; i < 16; ++i) {
      sessions.push_back(*engine->Dial(listener->local_address().ToString(), lo.session));
    }
    Result result;
    EchoAll(sessions, 512 * 1024, 16, &result);  // every session at once, both loops busy
    EXPECT_EQ(result.ok.load(), 16) << crypt << ": " << result.first_error;
    uint64_t checksum_errors = 0;
    for (auto& s : sessions) checksum_errors += s->GetInfo()->counters.checksum_errors;
    EXPECT_EQ(checksum_errors, 0u) << crypt;
    EXPECT_EQ(listener->GetStats().dropped_checksum, 0u) << crypt;
  }
}

}  // namespace
}  // namespace kcpp
