// The named impairments at once, against the real kcp-go 5.6.1 (Debian's,
// driven by //tests/interop:kcpgo_peer): 10 % loss in bursts of 2, 10 %
// reordering, 5 % duplication and 2 % single-bit corruption, each way, AES +
// FEC 10/3 (kcptun's defaults). Both directions: kcpp dialling kcp-go's
// listener, and kcp-go dialling kcpp's. Each ends byte-exact (the peer
// protocol echoes the pattern and checks it on the client side), with the
// corrupted datagrams rejected by the CRC on our side.
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"
#include "tools/lossy_relay/lossy_relay.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp::scenarios {
namespace {

const char* g_peer = nullptr;
constexpr uint64_t kBytes = 2 << 20;

absl::Time Guard() { return absl::Now() + absl::Seconds(120); }

// kcpgo_peer's tune(): fast3, stream mode, windows 1024, MTU 1400, ack nodelay.
transport::SessionOptions PeerOptions() {
  transport::SessionOptions o;
  o.crypt = "aes";
  o.key = "it's a secrect";
  o.nodelay = transport::NoDelay::Fast3();
  o.stream_mode = true;
  o.send_window = o.receive_window = 1024;
  o.ack_nodelay = true;
  o.socket_buffer_bytes = 4 << 20;
  o.data_shards = 10;
  o.parity_shards = 3;
  return o;
}

const std::vector<std::string> kPeerFlags = {"-crypt", "aes", "-ds", "10", "-ps", "3"};

tools::LossyRelay::Options BadLink(const transport::SocketAddress& target) {
  tools::LossyRelay::Options ro;
  ro.target = target;
  ro.seed = 77;
  for (tools::LossyRelay::Impairment* d : {&ro.to_target, &ro.to_client}) {
    d->loss = 0.05;  // bursts of 2: ~10 % of datagrams
    d->loss_burst = 2;
    d->reorder = 0.10;
    d->reorder_delay_ms = 8;
    d->duplicate = 0.05;
    d->corrupt = 0.02;
  }
  return ro;
}

std::string DescribeRelay(const tools::LossyRelay::Stats& r) {
  return absl::StrCat("relay: received=", r.received, " dropped=", r.dropped,
                      " duplicated=", r.duplicated, " reordered=", r.reordered,
                      " corrupted=", r.corrupted);
}

std::string DescribeSession(const transport::SessionInfo& i) {
  const transport::Counters& c = i.counters;
  return absl::StrCat("session: state=", static_cast<int>(i.state), " srtt=", i.srtt_ms,
                      " rto=", i.rto_ms, " snd_wnd=", i.send_window, " rcv_wnd=", i.receive_window,
                      " rmt_wnd=", i.remote_window, " cwnd=", i.congestion_window,
                      " segments_waiting=", i.segments_waiting,
                      " outbound_queued=", i.outbound_queued_bytes,
                      " inbound_queued=", i.inbound_queued_bytes, " bytes_sent=", c.bytes_sent,
                      " bytes_received=", c.bytes_received, " pkts_sent=", c.packets_sent,
                      " pkts_received=", c.packets_received, " retrans=", c.retransmitted_segments,
                      " csum_err=", c.checksum_errors, " fec_recovered=", c.fec_recovered);
}

void ExpectImpaired(const tools::LossyRelay::Stats& r) {
  EXPECT_GT(r.dropped, 0u) << DescribeRelay(r);
  EXPECT_GT(r.duplicated, 0u) << DescribeRelay(r);
  EXPECT_GT(r.reordered, 0u) << DescribeRelay(r);
  EXPECT_GT(r.corrupted, 0u) << DescribeRelay(r);
}

TEST(KcpGoBadLink, KcppClientToKcpGoServer) {
  auto server =
      test::Subprocess::Start({g_peer, "-role", "server", "-addr", "127.0.0.1:0", "-sessions", "1",
                               "-crypt", "aes", "-ds", "10", "-ps", "3"});
  ASSERT_TRUE(server.ok()) << server.status();
  std::optional<std::string> line = (*server)->ReadLine();
  ASSERT_TRUE(line.has_value());
  std::vector<std::string> words = absl::StrSplit(*line, ' ');
  ASSERT_EQ(words.size(), 2u) << *line;
  ASSERT_EQ(words[0], "LISTENING");
  auto relay = tools::LossyRelay::Start(BadLink(*transport::SocketAddress::Parse(words[1])));
  ASSERT_TRUE(relay.ok()) << relay.status();
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  auto session = engine->Dial((*relay)->address().ToString(), PeerOptions());
  ASSERT_TRUE(session.ok()) << session.status();
  absl::Status s = transport::testing::PeerProtocolClient(**session, kBytes, Guard());
  const transport::SessionInfo info = *(*session)->GetInfo();
  ASSERT_TRUE(s.ok()) << s << "\n"
                      << DescribeRelay((*relay)->stats()) << "\n"
                      << DescribeSession(info);
  EXPECT_EQ(info.counters.bytes_received, kBytes);
  EXPECT_GT(info.counters.checksum_errors, 0u);  // corrupted echoes were caught
  EXPECT_EQ(info.counters.kcp_input_errors, 0u);
  ExpectImpaired((*relay)->stats());
}

TEST(KcpGoBadLink, KcpGoClientToKcppServer) {
  transport::EngineOptions eo;
  eo.loops = 1;
  auto engine = *transport::Engine::Create(eo);
  transport::ListenerOptions lo;
  lo.session = PeerOptions();
  auto listener = engine->Listen("127.0.0.1:0", lo);
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto relay = tools::LossyRelay::Start(BadLink((*listener)->local_address()));
  ASSERT_TRUE(relay.ok()) << relay.status();
  std::vector<std::string> argv = {g_peer,
                                   "-role",
                                   "client",
                                   "-addr",
                                   (*relay)->address().ToString(),
                                   "-bytes",
                                   std::to_string(kBytes)};
  argv.insert(argv.end(), kPeerFlags.begin(), kPeerFlags.end());
  auto client = test::Subprocess::Start(argv);
  ASSERT_TRUE(client.ok()) << client.status();
  auto session = (*listener)->Accept(Guard());
  ASSERT_TRUE(session.ok()) << session.status();
  absl::Status served = transport::testing::PeerProtocolServe(**session, Guard());
  // kcp-go's client has no deadline of its own: if we failed, end it.
  if (!served.ok()) (*client)->Kill(SIGKILL);
  test::SubprocessResult r = (*client)->Wait();
  ASSERT_TRUE(served.ok()) << served << "\n"
                           << DescribeRelay((*relay)->stats()) << "\n"
                           << DescribeSession(*(*session)->GetInfo());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("OK " + std::to_string(kBytes), 0), 0u) << r.out;
  const transport::SessionInfo info = *(*session)->GetInfo();
  EXPECT_GT(info.counters.checksum_errors, 0u);
  EXPECT_EQ(info.counters.kcp_input_errors, 0u);
  EXPECT_EQ((*listener)->GetStats().sessions_created, 1u);
  ExpectImpaired((*relay)->stats());
}

}  // namespace
}  // namespace kcpp::scenarios

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH_TO_KCPGO_PEER\n", argv[0]);
    return 2;
  }
  kcpp::scenarios::g_peer = argv[1];
  return RUN_ALL_TESTS();
}
