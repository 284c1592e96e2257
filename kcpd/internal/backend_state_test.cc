// BackendState's read models: what the transport reports about a session
// reaches the API (and through it kcpctl and the metrics exporter).
#include "kcpd/internal/backend_state.h"

#include <mutex>
#include <string>

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

// Every transport counter set, each to a value of its own.
transport::Counters DistinctCounters() {
  transport::Counters c;
  uint64_t v = 1;
  for (uint64_t* f :
       {&c.bytes_sent, &c.bytes_received, &c.packets_sent, &c.packets_received,
        &c.wire_bytes_sent, &c.wire_bytes_received, &c.segments_sent, &c.segments_received,
        &c.retransmitted_segments, &c.lost_segments, &c.fast_retransmitted_segments,
        &c.early_retransmitted_segments, &c.late_acknowledged_segments, &c.repeat_segments,
        &c.fec_recovered, &c.fec_errors, &c.fec_parity_shards, &c.fec_full_shard_sets,
        &c.fec_short_shards, &c.fec_parity_sent, &c.fec_parity_withheld, &c.checksum_errors,
        &c.input_errors, &c.kcp_input_errors, &c.oob_packets_sent, &c.oob_packets_received,
        &c.send_drops, &c.address_changes, &c.replays_rejected,
        &c.unverified_replies_dropped}) {
    *f = v++;
  }
  return c;
}

// A field added to kcpp::v1::Counters that CountersToProto leaves at 0
// fails here. (bytes_sent and bytes_received are the applications' bytes,
// which SessionProto sums over the streams: KCP's payload also carries smux
// framing.)
TEST(BackendState, EveryCountersFieldIsMapped) {
  kcpp::v1::Counters p;
  CountersToProto(DistinctCounters(), &p);
  const google::protobuf::Descriptor* d = p.GetDescriptor();
  const google::protobuf::Reflection* r = p.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const std::string& name = d->field(i)->name();
    if (name == "bytes_sent" || name == "bytes_received") continue;
    EXPECT_NE(r->GetUInt64(p, d->field(i)), 0u) << "Counters." << name;
  }
  EXPECT_EQ(p.early_retransmitted_segments(), 12u);
  EXPECT_EQ(p.late_acknowledged_segments(), 13u);
  EXPECT_EQ(p.lost_segments(), 10u);
  EXPECT_EQ(p.input_errors(), 23u + 24u);  // malformed or wrong source + KCP refused
}

kcpp::v1::Session SessionWith(const transport::SessionInfo& info) {
  BackendState state;
  SessionRecord record;
  record.id = 7;
  std::lock_guard<std::mutex> lock(state.mu);
  return state.SessionProto(record, /*with_streams=*/false, &info);
}

TEST(BackendState, SessionShowsParitySentAndLossEstimate) {
  transport::SessionInfo info;
  info.srtt_ms = 40;
  info.fec_parity_sending = 2;
  info.fec_loss_estimate = 0.0125;
  info.counters.late_acknowledged_segments = 9;
  const kcpp::v1::Session p = SessionWith(info);
  EXPECT_EQ(p.name(), "sessions/7");
  EXPECT_EQ(p.rtt_ms(), 40u);
  EXPECT_EQ(p.fec_parity_sending(), 2u);
  ASSERT_TRUE(p.has_fec_loss_estimate());
  EXPECT_EQ(p.fec_loss_estimate(), 0.0125);
  EXPECT_EQ(p.counters().late_acknowledged_segments(), 9u);
}

// The transport's -1 (no adaptive parity, or its first window not closed)
// is no estimate, not a negative loss; a measured 0 is an estimate.
TEST(BackendState, NoLossEstimateLeavesTheFieldUnset) {
  transport::SessionInfo info;
  info.fec_parity_sending = 3;
  info.fec_loss_estimate = -1;
  kcpp::v1::Session p = SessionWith(info);
  EXPECT_EQ(p.fec_parity_sending(), 3u);
  EXPECT_FALSE(p.has_fec_loss_estimate());
  info.fec_loss_estimate = 0;
  p = SessionWith(info);
  ASSERT_TRUE(p.has_fec_loss_estimate());
  EXPECT_EQ(p.fec_loss_estimate(), 0);
}

}  // namespace
}  // namespace kcpp::service::internal
