// Health checking (grpc.health.v1.Health) and server reflection on kcpd's
// control server, for probes and tools that have no kcpd protos: Kubernetes
// gRPC probes, load balancers, grpcurl, kcpctl health (docs/kcpd.md
// "Health").
//
//   EnableHealthAndReflection();        // before BuildAndStart of the server
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   MarkServing(server.get(), {"kcpp.v1.Kcpd", "kcpp.v1.KcpdTunnels"});
//   ...
//   MarkNotServing(server.get());       // on SIGTERM, before draining
//
// Both services come from Debian's gRPC: the default health service
// (libgrpc++) and ProtoServerReflectionPlugin (libgrpc++_reflection, v1alpha,
// which grpcurl speaks). Linking this library also puts grpc.health.v1's
// descriptor into the process (//proto:health_cc_proto), so reflection can
// describe the health service: gRPC's own carries none.
#ifndef KCPP_KCPD_HEALTH_HEALTH_H_
#define KCPP_KCPD_HEALTH_HEALTH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace grpc {
class Server;
class ServerBuilder;
}  // namespace grpc

namespace kcpp::kcpd {

// Every server built from now on serves grpc.health.v1.Health and server
// reflection: both are process-wide switches in gRPC C++ (reflection is on
// in any process that links libgrpc++_reflection), so a server that must
// answer neither opts out with WithoutHealthOrReflection.
void EnableHealthAndReflection();

// For a server that must answer neither: kcpd's deny-everything server for
// uids not allowed, which answers every call PERMISSION_DENIED.
void WithoutHealthOrReflection(grpc::ServerBuilder* builder);

// Marks the server as a whole ("") and each of `services` (full names)
// SERVING. FAILED_PRECONDITION if the server was built without health
// checking (EnableHealthAndReflection was not called first).
absl::Status MarkServing(grpc::Server* server, const std::vector<std::string>& services);

// Every status NOT_SERVING, for good (gRPC's Shutdown of the service): Check
// answers NOT_SERVING, Watch streams are told at once. For shutdown.
void MarkNotServing(grpc::Server* server);

}  // namespace kcpp::kcpd

#endif  // KCPP_KCPD_HEALTH_HEALTH_H_
