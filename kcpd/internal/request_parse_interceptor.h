// A gRPC server interceptor that turns "the request could not be parsed"
// into INVALID_ARGUMENT.
//
// gRPC's callback API (which kcpd's services use) drops the reason when a
// request message fails to deserialise — a truncated protobuf, a proto3
// string field that is not valid UTF-8, bytes of some other message — and
// finishes the call with a bare UNIMPLEMENTED (grpcpp's
// server_callback_handlers.h, gRPC 1.51), which tells the client the method
// does not exist. This interceptor notices the missing request
// (POST_RECV_MESSAGE without a message) and rewrites that status, naming the
// method.
//
//   grpc::ServerBuilder builder;
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
//   f.push_back(std::make_unique<UnparsableRequestInterceptorFactory>());
//   builder.experimental().SetInterceptorCreators(std::move(f));
#ifndef KCPP_KCPD_INTERNAL_REQUEST_PARSE_INTERCEPTOR_H_
#define KCPP_KCPD_INTERNAL_REQUEST_PARSE_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

namespace kcpp::service::internal {

class UnparsableRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_REQUEST_PARSE_INTERCEPTOR_H_
