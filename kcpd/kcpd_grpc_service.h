// KcpdGrpcService: the kcpp.v1.Kcpd gRPC service (proto/kcpp/v1/kcpd.proto)
// on top of a ControlPlane, with gRPC's callback API (no thread is held per
// call; a WatchSessionEvents stream costs a queue, not a thread).
//
//   ControlPlane plane(&backend, options);
//   KcpdGrpcService service(&plane);
//   grpc::ServerBuilder builder;          // no listening port: kcpd hands it
//   builder.RegisterService(&service);    // connections whose uid it checked
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   grpc::AddInsecureChannelFromFd(server.get(), fd);
//
// DenyAllService answers every call with PERMISSION_DENIED; kcpd serves the
// connections of uids that are not allowed with it, so their callers get a
// status that says what to do instead of a bare disconnect.
#ifndef KCPP_KCPD_KCPD_GRPC_SERVICE_H_
#define KCPP_KCPD_KCPD_GRPC_SERVICE_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "kcpd/control_plane.h"

namespace kcpp::service {

// absl::Status -> grpc::Status (the code numbers are the same), with the
// google.rpc error details of kcpd/internal/api_errors.h (AIP-193).
grpc::Status ToGrpcStatus(const absl::Status& status);

class KcpdGrpcService final : public kcpp::v1::Kcpd::CallbackService {
 public:
  // `plane` must outlive the service.
  explicit KcpdGrpcService(ControlPlane* plane) : plane_(plane) {}

  grpc::ServerUnaryReactor* CreateListener(grpc::CallbackServerContext* context,
                                           const kcpp::v1::CreateListenerRequest* request,
                                           kcpp::v1::Listener* response) override;
  grpc::ServerUnaryReactor* GetListener(grpc::CallbackServerContext* context,
                                        const kcpp::v1::GetListenerRequest* request,
                                        kcpp::v1::Listener* response) override;
  grpc::ServerUnaryReactor* ListListeners(grpc::CallbackServerContext* context,
                                          const kcpp::v1::ListListenersRequest* request,
                                          kcpp::v1::ListListenersResponse* response) override;
  grpc::ServerUnaryReactor* DeleteListener(grpc::CallbackServerContext* context,
                                           const kcpp::v1::DeleteListenerRequest* request,
                                           google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* DialSession(grpc::CallbackServerContext* context,
                                        const kcpp::v1::DialSessionRequest* request,
                                        kcpp::v1::DialSessionResponse* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const kcpp::v1::GetSessionRequest* request,
                                       kcpp::v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const kcpp::v1::ListSessionsRequest* request,
                                         kcpp::v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateSession(grpc::CallbackServerContext* context,
                                          const kcpp::v1::UpdateSessionRequest* request,
                                          kcpp::v1::Session* response) override;
  grpc::ServerUnaryReactor* CloseSession(grpc::CallbackServerContext* context,
                                         const kcpp::v1::CloseSessionRequest* request,
                                         google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* OpenStream(grpc::CallbackServerContext* context,
                                       const kcpp::v1::OpenStreamRequest* request,
                                       kcpp::v1::Stream* response) override;
  grpc::ServerUnaryReactor* CloseStream(grpc::CallbackServerContext* context,
                                        const kcpp::v1::CloseStreamRequest* request,
                                        google::protobuf::Empty* response) override;
  grpc::ServerWriteReactor<kcpp::v1::SessionEvent>* WatchSessionEvents(
      grpc::CallbackServerContext* context,
      const kcpp::v1::WatchSessionEventsRequest* request) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const kcpp::v1::GetStatsRequest* request,
                                     kcpp::v1::Stats* response) override;
  grpc::ServerUnaryReactor* AttachOob(grpc::CallbackServerContext* context,
                                      const kcpp::v1::AttachOobRequest* request,
                                      kcpp::v1::DataAttachment* response) override;

 private:
  ControlPlane* const plane_;
};

// Every method of every service: PERMISSION_DENIED with `message`.
class DenyAllService final : public grpc::CallbackGenericService {
 public:
  explicit DenyAllService(std::string message) : message_(std::move(message)) {}
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

 private:
  const std::string message_;
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_KCPD_GRPC_SERVICE_H_
