// The tunnels' service answers with the same google.rpc error details as
// kcpd's own (AIP-193, docs/kcpd.md "Errors"): both share kcpd's control
// socket, and a client reads one kind of error from both.
#include "tunnel/tunnel_grpc_service.h"

#include <memory>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tunnel/tunnel_manager.h"

namespace kcpp::service::tunnel {
namespace {

google::rpc::ErrorInfo InfoOf(const grpc::Status& s, google::rpc::Status* rpc) {
  EXPECT_TRUE(rpc->ParseFromString(s.error_details())) << s.error_message();
  google::rpc::ErrorInfo info;
  EXPECT_GE(rpc->details_size(), 1);
  if (rpc->details_size() >= 1) {
    EXPECT_TRUE(rpc->details(0).UnpackTo(&info));
  }
  EXPECT_EQ(info.domain(), "kcpd.kcpp");
  return info;
}

TEST(TunnelGrpcServiceTest, ErrorsCarryGoogleRpcDetails) {
  TunnelManagerOptions options;
  options.engine_loops = 1;
  absl::StatusOr<std::unique_ptr<TunnelManager>> manager = TunnelManager::Create(options);
  ASSERT_TRUE(manager.ok()) << manager.status();
  TunnelGrpcService service(manager->get());

  kcpp::v1::GetTunnelRequest request;
  kcpp::v1::Tunnel tunnel;
  request.set_name("listeners/web");
  grpc::Status s = service.GetTunnel(nullptr, &request, &tunnel);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rpc;
  EXPECT_EQ(InfoOf(s, &rpc).reason(), "INVALID_RESOURCE_NAME");
  google::rpc::BadRequest bad;
  ASSERT_EQ(rpc.details_size(), 2);
  ASSERT_TRUE(rpc.details(1).UnpackTo(&bad));
  EXPECT_EQ(bad.field_violations(0).field(), "name");

  request.set_name("tunnels/none");
  s = service.GetTunnel(nullptr, &request, &tunnel);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_FALSE(InfoOf(s, &rpc).reason().empty());
}

// A tunnel's KCP sessions show what adaptive parity measures and sends, as
// kcpd's own sessions do (kcpd.proto Session).
TEST(TunnelGrpcServiceTest, SessionsShowLateAcknowledgementsAndParitySent) {
  TunnelSnapshot t;
  t.id = "t1";
  t.config = DefaultKcptunConfig(TunnelRole::kClient);
  TunnelSessionInfo measured;
  measured.number = 1;
  measured.session.counters.early_retransmitted_segments = 4;
  measured.session.counters.late_acknowledged_segments = 11;
  measured.session.fec_parity_sending = 2;
  measured.session.fec_loss_estimate = 0.008;
  TunnelSessionInfo unmeasured;  // no adaptive parity, or no window closed yet
  unmeasured.number = 2;
  unmeasured.session.fec_parity_sending = 3;
  unmeasured.session.fec_loss_estimate = -1;
  t.sessions = {measured, unmeasured};
  const kcpp::v1::Tunnel p = TunnelToProto(t);
  ASSERT_EQ(p.sessions_size(), 2);
  EXPECT_EQ(p.sessions(0).counters().early_retransmitted_segments(), 4u);
  EXPECT_EQ(p.sessions(0).counters().late_acknowledged_segments(), 11u);
  EXPECT_EQ(p.sessions(0).fec_parity_sending(), 2u);
  ASSERT_TRUE(p.sessions(0).has_fec_loss_estimate());
  EXPECT_EQ(p.sessions(0).fec_loss_estimate(), 0.008);
  EXPECT_EQ(p.sessions(1).fec_parity_sending(), 3u);
  EXPECT_FALSE(p.sessions(1).has_fec_loss_estimate());
}

}  // namespace
}  // namespace kcpp::service::tunnel
