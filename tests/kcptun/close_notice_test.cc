// kcpp's smux close notice (docs/protocol.md §6.2: a NOP on stream id
// 0x21657962, "bye!") against Debian's kcptun-server (kcptun 20210922, smux
// 1.5.16, kcp-go 5.6.1), which does not know it: kcpd sends it as the last
// frame of every session it closes, so kcptun must take it for what smux
// says a NOP is, a keepalive.
//
// The notice goes first here, on a live session, before the stream that
// kcptun then echoes through to a TCP target: had kcptun's smux taken it for
// a protocol error, it would have closed the session and nothing would come
// back. Then the notice's real place (after the FIN, as the last frame), and
// a second session to the same kcptun-server, which still serves.
// smux v1 and v2, with and without snappy.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "smux/frame.h"
#include "smux/session.h"
#include "snappy/framing.h"
#include "tests/kcptun/harness.h"
#include "transport/engine.h"
#include "tunnel/kcptun_config.h"

namespace kcpp::test {
namespace {

using service::tunnel::KcptunConfig;
using service::tunnel::TunnelRole;

// Bounds a failure only (a hang guard); nothing here depends on speed.
absl::Time Guard() { return absl::Now() + absl::Seconds(60); }

// One smux client session over a dialled KCP session, driven from the test
// thread: the C++ end kcpd would be, frame for frame, without kcpd.
class SmuxClient final : public smux::SessionHandler {
 public:
  SmuxClient(transport::Session* kcp, const smux::Config& config, bool snappy)
      : kcp_(kcp), snappy_(snappy) {
    mux_ = *smux::Session::Create(smux::Role::kClient, config, this, NowMs());
  }

  smux::Session& mux() { return *mux_; }
  const std::string& received() const { return received_; }
  bool fin() const { return fin_; }
  const absl::Status& died() const { return died_; }

  // Writes all of `data` on `id` (waiting for room).
  void Send(smux::StreamId id, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size() && Step()) {
      absl::StatusOr<size_t> n = mux_->Write(
          id, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()) + sent,
                                  data.size() - sent));
      ASSERT_TRUE(n.ok()) << n.status();
      sent += *n;
    }
    Flush();
  }

  // Everything echoed, then our FIN and the far end's: kcptun closes a
  // connection both ways once one direction ends, so the FIN waits for the
  // echo.
  bool Echo(smux::StreamId id, const std::string& data) {
    Send(id, data);
    if (!RunUntil([&] { return received_.size() >= data.size(); })) return false;
    EXPECT_TRUE(mux_->CloseWrite(id).ok());
    return RunUntil([&] { return fin_; });
  }

  // Moves bytes both ways until `done()`; false if the session died or the
  // guard passed first.
  template <typename Done>
  bool RunUntil(Done done) {
    const absl::Time give_up = Guard();
    while (!done()) {
      if (absl::Now() >= give_up || !Step()) return false;
    }
    return true;
  }

  // smux::SessionHandler.
  void OnStreamOpened(smux::StreamId id) override { mux_->CloseStream(id).IgnoreError(); }
  void OnStreamData(smux::StreamId id, absl::Span<const uint8_t> data) override {
    received_.append(reinterpret_cast<const char*>(data.data()), data.size());
    EXPECT_TRUE(mux_->Consume(id, data.size()).ok());
  }
  void OnStreamFin(smux::StreamId) override { fin_ = true; }
  void OnSessionClosed(const absl::Status& status) override { died_ = status; }

  // Everything smux queued, into the KCP session.
  void Flush() {
    while (true) {
      absl::Span<const uint8_t> out;
      if (snappy_) {
        if (encoder_.output().empty() && !mux_->output().empty()) {
          encoder_.Write(mux_->output());  // kcptun: Flush after every write
          encoder_.Flush();
          mux_->ConsumeOutput(mux_->output().size());
        }
        out = encoder_.output();
      } else {
        out = mux_->output();
      }
      if (out.empty()) return;
      absl::StatusOr<size_t> n = kcp_->Write(out, Guard());
      ASSERT_TRUE(n.ok()) << n.status();
      if (snappy_) {
        encoder_.ConsumeOutput(*n);
      } else {
        mux_->ConsumeOutput(*n);
      }
    }
  }

 private:
  static int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

  // One round: output out, what arrived (within 20 ms) in, keepalive.
  bool Step() {
    Flush();
    uint8_t buf[65536];
    absl::StatusOr<size_t> n =
        kcp_->Read(absl::MakeSpan(buf), absl::Now() + absl::Milliseconds(20));
    if (n.ok()) {
      Feed(absl::MakeConstSpan(buf, *n));
    } else if (!absl::IsDeadlineExceeded(n.status())) {
      ADD_FAILURE() << "the KCP session failed: " << n.status();
      return false;
    }
    mux_->OnTimer(NowMs());
    return !mux_->is_closed();
  }

  void Feed(absl::Span<const uint8_t> in) {
    if (!snappy_) {
      ASSERT_EQ(mux_->Feed(in), in.size());  // we consume at once: never blocked
      return;
    }
    while (!in.empty() || !decoder_.decoded().empty()) {
      if (!decoder_.decoded().empty()) {
        const size_t used = mux_->Feed(decoder_.decoded());
        if (used == 0) return;  // the session died
        decoder_.ConsumeDecoded(used);
        continue;
      }
      absl::StatusOr<size_t> used = decoder_.Feed(in);
      ASSERT_TRUE(used.ok()) << used.status();
      in.remove_prefix(*used);
      if (*used == 0 && decoder_.decoded().empty()) return;
    }
  }

  transport::Session* const kcp_;
  const bool snappy_;
  std::unique_ptr<smux::Session> mux_;
  snappy_framing::FramingEncoder encoder_;
  snappy_framing::FramingDecoder decoder_;
  std::string received_;
  bool fin_ = false;
  absl::Status died_;
};

std::string Data(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  FillTestData(seed, 0, reinterpret_cast<uint8_t*>(s.data()), n);
  return s;
}

class CloseNotice : public ::testing::TestWithParam<std::tuple<int /*smuxver*/, bool /*nocomp*/>> {
 protected:
  std::vector<std::string> Flags() const {
    const auto& [smuxver, nocomp] = GetParam();
    std::vector<std::string> f = {"-crypt",   "aes", "-key", "close notice", "-mode",
                                  "fast3",    "-smuxver", absl::StrCat(smuxver)};
    if (nocomp) f.push_back("-nocomp");
    return f;
  }
};

TEST_P(CloseNotice, KcptunServerTakesItForAKeepaliveAndKeepsServing) {
  TcpEchoServer echo;
  std::vector<std::string> server_flags = Flags();
  server_flags.insert(server_flags.end(), {"-t", echo.address()});
  absl::StatusOr<KcptunProcess> server = StartKcptunServer(server_flags);
  ASSERT_TRUE(server.ok()) << server.status();

  std::vector<std::string> client_flags = Flags();
  client_flags.insert(client_flags.end(), {"-r", server->address, "-l", "127.0.0.1:0"});
  absl::StatusOr<KcptunConfig> config =
      service::tunnel::LoadKcptunConfig(TunnelRole::kClient, client_flags, std::nullopt, nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  const transport::SessionOptions options = service::tunnel::ToSessionOptions(*config);
  const smux::Config smux_config = service::tunnel::ToSmuxConfig(*config);
  const bool snappy = !config->nocomp;
  absl::StatusOr<std::unique_ptr<transport::Engine>> engine = transport::Engine::Create({});
  ASSERT_TRUE(engine.ok()) << engine.status();

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "first session" : "second session");
    absl::StatusOr<std::unique_ptr<transport::Session>> kcp =
        (*engine)->Dial(server->address, options);
    ASSERT_TRUE(kcp.ok()) << kcp.status();
    SmuxClient client(kcp->get(), smux_config, snappy);
    // The notice first: the very first frame kcptun's smux reads.
    ASSERT_TRUE(client.mux().SendCloseNotice().ok());
    const absl::StatusOr<smux::StreamId> id = client.mux().OpenStream();
    ASSERT_TRUE(id.ok()) << id.status();
    const std::string data = Data(200000, 11 + round);
    // The target echoes everything, then closes after our FIN: kcptun
    // carried the stream after the notice.
    ASSERT_TRUE(client.Echo(*id, data))
        << "no echo and FIN from kcptun; smux: " << client.died() << ", "
        << client.received().size() << " of " << data.size() << " bytes back";
    EXPECT_TRUE(client.received() == data) << client.received().size() << " of " << data.size();
    EXPECT_TRUE(client.died().ok()) << client.died();
    EXPECT_EQ(client.mux().stats().frames_received[smux::kCmdSyn], 0u);
  }
  // Once more with the notice as kcpd sends it: after the FIN, last; the
  // server's KCP acknowledges it (kcptun reads it with its smux).
  absl::StatusOr<std::unique_ptr<transport::Session>> kcp =
      (*engine)->Dial(server->address, options);
  ASSERT_TRUE(kcp.ok()) << kcp.status();
  SmuxClient client(kcp->get(), smux_config, snappy);
  const absl::StatusOr<smux::StreamId> id = client.mux().OpenStream();
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string data = Data(1000, 21);
  ASSERT_TRUE(client.Echo(*id, data)) << client.died();
  EXPECT_TRUE(client.received() == data);
  ASSERT_TRUE(client.mux().SendCloseNotice().ok());
  client.mux().Close();
  client.Flush();
  EXPECT_TRUE((*kcp)->WaitAcknowledged(Guard()).ok());
  EXPECT_EQ(echo.accepted(), 3);
}

INSTANTIATE_TEST_SUITE_P(All, CloseNotice,
                         ::testing::Combine(::testing::Values(1, 2), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<CloseNotice::ParamType>& info) {
                           return absl::StrCat("smux", std::get<0>(info.param),
                                               std::get<1>(info.param) ? "_nocomp" : "_snappy");
                         });

}  // namespace
}  // namespace kcpp::test
