#include "kcpd/health/health.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>

#include <algorithm>
#include <memory>

#include "grpc/health/v1/health.pb.h"

namespace kcpp::kcpd {
namespace {

// ProtoServerReflectionPlugin's name().
constexpr char kReflectionPlugin[] = "proto_server_reflection";

// Takes the reflection plugin off one builder's list.
class NoReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                                    return p->name() == kReflectionPlugin;
                                  }),
                   plugins->end());
  }
};

}  // namespace

void EnableHealthAndReflection() {
  // (Also makes sure grpc.health.v1's generated descriptor is linked in and
  // registered, whatever the linker's --as-needed would drop.)
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void WithoutHealthOrReflection(grpc::ServerBuilder* builder) {
  // A null health service turns the default one off for this server.
  builder->SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder->SetOption(std::make_unique<NoReflection>());
}

absl::Status MarkServing(grpc::Server* server, const std::vector<std::string>& services) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) {
    return absl::FailedPreconditionError(
        "the control server has no health service (EnableHealthAndReflection was not called "
        "before it was built)");
  }
  health->SetServingStatus(true);  // "" and every service set so far
  for (const std::string& service : services) health->SetServingStatus(service, true);
  return absl::OkStatus();
}

void MarkNotServing(grpc::Server* server) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) health->Shutdown();
}

}  // namespace kcpp::kcpd
