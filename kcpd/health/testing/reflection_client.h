// ReflectionClient: a test's grpcurl. One exchange on
// grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo, with the
// messages built from the descriptors libgrpc++_reflection registers (Debian
// installs no headers for them).
#ifndef KCPP_KCPD_HEALTH_TESTING_REFLECTION_CLIENT_H_
#define KCPP_KCPD_HEALTH_TESTING_REFLECTION_CLIENT_H_

#include <google/protobuf/dynamic_message.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace kcpp::kcpd {

class ReflectionClient {
 public:
  explicit ReflectionClient(std::shared_ptr<grpc::Channel> channel);

  struct Answer {
    grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
    std::string text;  // the ServerReflectionResponse in text format
  };

  // `request_text`: a ServerReflectionRequest in text format, e.g.
  // `list_services: ""` or `file_containing_symbol: "kcpp.v1.Kcpd"`.
  Answer Ask(const std::string& request_text);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  google::protobuf::DynamicMessageFactory factory_;
};

// The service names a list_services answer lists.
std::vector<std::string> ListedServices(const std::string& answer_text);

}  // namespace kcpp::kcpd

#endif  // KCPP_KCPD_HEALTH_TESTING_REFLECTION_CLIENT_H_
