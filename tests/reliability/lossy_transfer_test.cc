// 64 MiB byte-exact between two kcpp endpoints through a lossy UDP relay
// (seeded drop, reordering, duplication, corruption) at 10% and 30% loss,
// with and without FEC (issue 6, "Reliability tests").
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/lossy_relay/lossy_relay.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp {
namespace {

constexpr uint64_t kBytes = 64 << 20;

class LossyTransfer : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(LossyTransfer, SixtyFourMiBArriveByteExact) {
  const auto [loss_percent, fec] = GetParam();
  transport::EngineOptions eo;
  eo.loops = 2;
  auto engine = *transport::Engine::Create(eo);
  transport::SessionOptions o;
  o.crypt = "aes-128";
  o.key = "lossy";
  o.nodelay = transport::NoDelay::Fast3();
  o.send_window = o.receive_window = 1024;
  o.socket_buffer_bytes = 4 << 20;
  if (fec) {
    o.data_shards = 10;
    o.parity_shards = 3;
  }
  transport::ListenerOptions lo;
  lo.session = o;
  auto listener = *engine->Listen("127.0.0.1:0", lo);

  tools::LossyRelay::Options ro;
  ro.target = listener->local_address();
  for (tools::LossyRelay::Impairment* i : {&ro.to_target, &ro.to_client}) {
    i->loss = loss_percent / 100.0;
    i->reorder = 0.02;
    i->duplicate = 0.01;
    i->corrupt = 0.001;  // caught by the CRC and retransmitted
  }
  ro.seed = static_cast<uint64_t>(loss_percent) * 2 + fec;
  auto relay = tools::LossyRelay::Start(ro);
  ASSERT_TRUE(relay.ok());

  auto client = *engine->Dial((*relay)->address().ToString(), o);
  ASSERT_TRUE(client->Write(absl::MakeConstSpan(std::vector<uint8_t>(1, 0))).ok());
  auto server = listener->Accept();
  ASSERT_TRUE(server.ok());
  uint8_t first[1];
  ASSERT_TRUE((*server)->Read(absl::MakeSpan(first)).ok());

  // A hang detector only (generous: a loaded machine is slow).
  const absl::Time guard = absl::Now() + absl::Minutes(10);
  absl::Status s = transport::testing::Transfer(*client, **server, kBytes, guard);
  ASSERT_TRUE(s.ok()) << s << "\nclient: " << transport::testing::Describe(*client->GetInfo())
                      << "\nserver: " << transport::testing::Describe(*(*server)->GetInfo());
  ASSERT_TRUE(client->WaitAcknowledged(guard).ok());
  const transport::SessionInfo info = *client->GetInfo();
  const tools::LossyRelay::Stats relayed = (*relay)->stats();
  EXPECT_GT(relayed.dropped, 0u);
  EXPECT_GT(info.counters.retransmitted_segments + info.counters.fec_recovered, 0u);
  if (fec) {
    EXPECT_GT((*server)->GetInfo()->counters.fec_recovered, 0u);
  }
  // Corrupted datagrams were refused by the CRC (the stream above is exact).
  EXPECT_GT(relayed.corrupted, 0u);
  EXPECT_GT(info.counters.checksum_errors + (*server)->GetInfo()->counters.checksum_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(LossAndFec, LossyTransfer,
                         ::testing::Combine(::testing::Values(10, 30), ::testing::Bool()),
                         [](const auto& info) {
                           return absl::StrCat("loss", std::get<0>(info.param),
                                               std::get<1>(info.param) ? "_fec" : "_nofec");
                         });

}  // namespace
}  // namespace kcpp
