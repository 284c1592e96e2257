// kcpp's transport against the real kcp-go 5.6.1 (Debian's
// golang-github-xtaci-kcp-dev, driven by kcpgo_peer.go): every cipher kcp-go
// has, FEC off and 10/3, both directions, 16 MiB echoed byte-exact; and one
// run with loss injected between the two.
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"
#include "tools/lossy_relay/lossy_relay.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp {
namespace {

const char* g_peer = nullptr;
constexpr uint64_t kBytes = 16 << 20;
// Windows of both peers. Loopback needs little; a 1024-segment window with
// congestion control off (kcptun's nc=1) lets a CPU-starved peer (slow
// ciphers, a busy CI machine) drown in retransmission bursts.
constexpr int kWindow = 256;

// A hang detector, not a timing check: a CPU-starved machine may be slow.
absl::Time Guard() { return absl::Now() + absl::Seconds(300); }

// kcpgo_peer's tune(): fast3, stream mode, MTU 1400, windows from flags.
// `congestion`: kcpp's side only (the wire format is the same for every
// controller, which is what these tests prove).
transport::SessionOptions PeerOptions(const std::string& crypt, bool fec,
                                      const std::string& congestion = "kcp-go") {
  transport::SessionOptions o;
  o.crypt = crypt;
  o.congestion = congestion;
  o.key = "it's a secrect";
  o.nodelay = transport::NoDelay::Fast3();
  o.stream_mode = true;
  o.send_window = o.receive_window = kWindow;
  o.mtu = 1400;
  o.ack_nodelay = true;
  o.socket_buffer_bytes = 4 << 20;
  if (fec) {
    o.data_shards = 10;
    o.parity_shards = 3;
  }
  return o;
}

std::vector<std::string> PeerArgs(const std::string& crypt, bool fec) {
  return {"-crypt",  crypt,
          "-ds",     fec ? "10" : "0",
          "-ps",     fec ? "3" : "0",
          "-sndwnd", std::to_string(kWindow),
          "-rcvwnd", std::to_string(kWindow)};
}

// Starts a kcp-go server; returns it and its address.
std::unique_ptr<test::Subprocess> StartGoServer(const std::string& crypt, bool fec,
                                                std::string* address) {
  std::vector<std::string> argv = {g_peer,        "-role",     "server", "-addr",
                                   "127.0.0.1:0", "-sessions", "1"};
  for (const std::string& a : PeerArgs(crypt, fec)) argv.push_back(a);
  auto p = test::Subprocess::Start(argv);
  EXPECT_TRUE(p.ok()) << p.status();
  std::optional<std::string> line = (*p)->ReadLine();
  EXPECT_TRUE(line.has_value());
  std::vector<std::string> words = absl::StrSplit(line.value_or(""), ' ');
  EXPECT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0], "LISTENING");
  *address = words.size() == 2 ? words[1] : "";
  return *std::move(p);
}

// Every datagram kcp-go sent passed our integrity check — except with sm4:
// kcp-go 5.6.1's SM4 (github.com/tjfoc/gmsm/sm4.Sm4Cipher) keeps scratch
// blocks (block1, block2) inside the cipher object, and kcp-go's reader and
// writer goroutines use that one object concurrently, so kcp-go itself
// corrupts a few of its SM4 datagrams under load (the defect of issue 6 (b),
// within one session). Those arrive with a bad CRC and are retransmitted;
// the stream stays byte-exact, which the transfer checks. Our SM4 is checked
// byte-for-byte against kcp-go's in crypt/kcpgo_interop_test.
void ExpectNoChecksumErrors(const std::string& crypt, uint64_t errors) {
  if (crypt != "sm4") {
    EXPECT_EQ(errors, 0u);
  }
}

// (cipher, FEC on, kcpp's congestion control).
class KcpGoInterop
    : public ::testing::TestWithParam<std::tuple<std::string, bool, std::string>> {};

TEST_P(KcpGoInterop, KcppClientToKcpGoServer) {
  const auto& [crypt, fec, congestion] = GetParam();
  std::string address;
  std::unique_ptr<test::Subprocess> server = StartGoServer(crypt, fec, &address);
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  auto session = engine->Dial(address, PeerOptions(crypt, fec, congestion));
  ASSERT_TRUE(session.ok()) << session.status();
  absl::Status s = transport::testing::PeerProtocolClient(**session, kBytes, Guard());
  absl::StatusOr<transport::SessionInfo> info = (*session)->GetInfo();
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(s.ok()) << s << "\n"
                      << transport::testing::Describe(*info) << "\n"
                      << server->Wait().err;
  ExpectNoChecksumErrors(crypt, info->counters.checksum_errors);
  EXPECT_EQ(info->counters.bytes_received, kBytes);
  if (fec) {
    EXPECT_GT(info->counters.fec_parity_shards, 0u);  // kcp-go's parity reached us
  }
  if (fec && congestion == "bbr") {
    // Adaptive parity: loopback loses nothing, so parity was withheld, and
    // kcp-go 5.6.1's decoder took the rest of every group as it came.
    EXPECT_GT(info->counters.fec_parity_withheld, 0u) << transport::testing::Describe(*info);
  }
}

TEST_P(KcpGoInterop, KcpGoClientToKcppServer) {
  const auto& [crypt, fec, congestion] = GetParam();
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  transport::ListenerOptions lo;
  lo.session = PeerOptions(crypt, fec, congestion);
  auto listener = engine->Listen("127.0.0.1:0", lo);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::vector<std::string> argv = {g_peer,
                                   "-role",
                                   "client",
                                   "-addr",
                                   (*listener)->local_address().ToString(),
                                   "-bytes",
                                   std::to_string(kBytes)};
  for (const std::string& a : PeerArgs(crypt, fec)) argv.push_back(a);
  auto client = test::Subprocess::Start(argv);
  ASSERT_TRUE(client.ok());
  auto session = (*listener)->Accept(Guard());
  ASSERT_TRUE(session.ok()) << session.status();
  absl::Status served = transport::testing::PeerProtocolServe(**session, Guard());
  if (served.ok()) served = (*session)->WaitAcknowledged(Guard());  // loopback: no loss
  test::SubprocessResult r = (*client)->Wait();
  EXPECT_TRUE(served.ok()) << served;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("OK " + std::to_string(kBytes), 0), 0u) << r.out;
  ExpectNoChecksumErrors(crypt, (*session)->GetInfo()->counters.checksum_errors);
}

std::vector<std::string> KcpGoCiphers() {
  return {"null",    "none",  "aes",  "aes-128", "aes-192", "salsa20", "blowfish",
          "twofish", "cast5", "3des", "tea",     "xtea",    "xor",     "sm4"};
}

std::string CaseName(
    const ::testing::TestParamInfo<std::tuple<std::string, bool, std::string>>& info) {
  std::string name = std::get<0>(info.param) + (std::get<1>(info.param) ? "_fec" : "_plain");
  if (std::get<2>(info.param) != "kcp-go") name += "_" + std::get<2>(info.param);
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryCipher, KcpGoInterop,
                         ::testing::Combine(::testing::ValuesIn(KcpGoCiphers()), ::testing::Bool(),
                                            ::testing::Values("kcp-go")),
                         CaseName);

// Every congestion controller of kcpp's side against kcp-go's receiver and
// sender: pacing and the model change only when kcpp transmits.
INSTANTIATE_TEST_SUITE_P(EveryController, KcpGoInterop,
                         ::testing::Combine(::testing::Values("aes", "null"), ::testing::Bool(),
                                            ::testing::Values("bbr", "none")),
                         CaseName);

// SessionOptions::kcp_flavor "ikcp": a session under ikcp.c's rules against
// the real kcp-go, both directions of a transfer.
TEST(KcpGoInteropFlavor, IkcpRulesClientToKcpGoServer) {
  std::string address;
  std::unique_ptr<test::Subprocess> server = StartGoServer("aes", true, &address);
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  transport::SessionOptions o = PeerOptions("aes", true);
  o.kcp_flavor = "ikcp";
  auto session = engine->Dial(address, o);
  ASSERT_TRUE(session.ok()) << session.status();
  absl::Status s = transport::testing::PeerProtocolClient(**session, 4 << 20, Guard());
  ASSERT_TRUE(s.ok()) << s << "\n" << server->Wait().err;
  EXPECT_EQ((*session)->GetInfo()->counters.bytes_received, uint64_t{4} << 20);
}

// Loss between kcp-go and kcpp: 10% each way, AES + FEC 10/3; FEC and
// retransmission together still deliver every byte, with each of kcpp's
// congestion controllers.
class KcpGoInteropLossy : public ::testing::TestWithParam<std::string> {};

TEST_P(KcpGoInteropLossy, KcppClientThroughALossyLinkToKcpGo) {
  std::string address;
  std::unique_ptr<test::Subprocess> server = StartGoServer("aes", true, &address);
  tools::LossyRelay::Options ro;
  ro.target = *transport::SocketAddress::Parse(address);
  ro.to_target.loss = ro.to_client.loss = 0.10;
  ro.seed = 11;
  auto relay = tools::LossyRelay::Start(ro);
  ASSERT_TRUE(relay.ok());
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  auto session =
      engine->Dial((*relay)->address().ToString(), PeerOptions("aes", true, GetParam()));
  ASSERT_TRUE(session.ok());
  absl::Status s = transport::testing::PeerProtocolClient(**session, 4 << 20, Guard());
  ASSERT_TRUE(s.ok()) << s;
  transport::SessionInfo info = *(*session)->GetInfo();
  EXPECT_GT((*relay)->stats().dropped, 0u);
  EXPECT_GT(info.counters.fec_recovered + info.counters.retransmitted_segments, 0u);
}

INSTANTIATE_TEST_SUITE_P(EveryController, KcpGoInteropLossy,
                         ::testing::Values("kcp-go", "none", "bbr"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace kcpp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH_TO_KCPGO_PEER\n", argv[0]);
    return 2;
  }
  kcpp::g_peer = argv[1];
  return RUN_ALL_TESTS();
}
