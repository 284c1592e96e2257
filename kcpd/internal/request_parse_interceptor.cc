#include "kcpd/internal/request_parse_interceptor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "kcpd/internal/api_errors.h"

namespace kcpp::service::internal {
namespace {

using grpc::experimental::InterceptionHookPoints;

class UnparsableRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit UnparsableRequestInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() != nullptr ? info->method() : "") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsable_ = true;
    }
    if (unparsable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      std::string message = absl::StrCat(
          "the request to ", method_,
          " is not a valid protobuf message of the method's request type (truncated, the wrong "
          "message, or a string field that is not valid UTF-8)");
      Log(LogLevel::kInfo, absl::StrCat(method_, " -> INVALID_ARGUMENT: ", message));
      // The request as a whole is at fault: a field violation with no field.
      methods->ModifySendStatus(
          ToGrpcStatus(WithErrorReason(InvalidFieldError("", message, kReasonRequestNotParsable),
                                       kReasonRequestNotParsable, {{"method", method_}})));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool unparsable_ = false;  // hooks of one call run one at a time
};

}  // namespace

grpc::experimental::Interceptor* UnparsableRequestInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new UnparsableRequestInterceptor(info);
}

}  // namespace kcpp::service::internal
