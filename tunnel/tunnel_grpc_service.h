// TunnelGrpcService: kcpp.v1.KcpdTunnels (proto/kcpp/v1/tunnel.proto) on a
// TunnelManager. kcpd registers it on its control socket's gRPC server,
// beside kcpp.v1.Kcpd, so the same uid checks apply.
//
//   TunnelGrpcService service(manager.get());
//   builder.RegisterService(&service);
//
// Thread-safe (the manager is).
#ifndef KCPP_TUNNEL_TUNNEL_GRPC_SERVICE_H_
#define KCPP_TUNNEL_TUNNEL_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/kcpp/v1/tunnel.grpc.pb.h"
#include "tunnel/kcptun_config.h"
#include "tunnel/tunnel_manager.h"

namespace kcpp::service::tunnel {

class TunnelGrpcService final : public kcpp::v1::KcpdTunnels::Service {
 public:
  // `manager` must outlive the service.
  explicit TunnelGrpcService(TunnelManager* manager) : manager_(manager) {}

  grpc::Status CreateTunnel(grpc::ServerContext* context,
                            const kcpp::v1::CreateTunnelRequest* request,
                            kcpp::v1::Tunnel* response) override;
  grpc::Status GetTunnel(grpc::ServerContext* context, const kcpp::v1::GetTunnelRequest* request,
                         kcpp::v1::Tunnel* response) override;
  grpc::Status ListTunnels(grpc::ServerContext* context,
                           const kcpp::v1::ListTunnelsRequest* request,
                           kcpp::v1::ListTunnelsResponse* response) override;
  grpc::Status DeleteTunnel(grpc::ServerContext* context,
                            const kcpp::v1::DeleteTunnelRequest* request,
                            google::protobuf::Empty* response) override;

 private:
  TunnelManager* const manager_;
};

// A tunnel config from the API's kcptun terms: `config.args` as kcptun's
// command line (no -c), then `config.json` as its -c file, then kcptun's
// mode preset and kcpd's checks. InvalidArgument says what is wrong.
absl::StatusOr<KcptunConfig> KcptunConfigFromProto(const kcpp::v1::KcptunConfig& config,
                                                   std::vector<std::string>* warnings);

// The API's view of a tunnel.
kcpp::v1::Tunnel TunnelToProto(const TunnelSnapshot& snapshot);

}  // namespace kcpp::service::tunnel

#endif  // KCPP_TUNNEL_TUNNEL_GRPC_SERVICE_H_
