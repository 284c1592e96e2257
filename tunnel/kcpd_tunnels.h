// kcpd's tunnel mode: what kcpd_main.cc needs to run kcptun-compatible
// tunnels (docs/tunnel.md), kept here so the daemon's own file only calls in.
//
//   kcpd [kcpd flags] tunnel client [kcptun-client flags]   # replaces kcptun-client
//   kcpd [kcpd flags] tunnel server [kcptun-server flags]   # replaces kcptun-server
//   e.g. kcpd --control_socket=/run/kcpd/c.sock tunnel server -c /etc/kcptun/server.json
//
// kcpd's own flags come first and use the --name=value form; everything
// after "tunnel client|server" is kcptun's command line, unchanged (-c FILE,
// KCPTUN_KEY from the environment, -h for kcptun-style help). More tunnels
// can be created and inspected through the KcpdTunnels API (kcpctl tunnels).
//
//   KCPP_ASSIGN_OR_RETURN(TunnelCommand cmd, ExtractTunnelCommand(&argc, argv));
//   ... absl::ParseCommandLine(argc, argv) ...
//   KCPP_ASSIGN_OR_RETURN(auto tunnels, KcpdTunnels::Create(log));
//   builder.RegisterService(tunnels->service());
//   ... server started ...
//   KCPP_RETURN_IF_ERROR(tunnels->StartCommandTunnel(cmd));
//   ... SIGTERM ...
//   tunnels->Shutdown(deadline);
#ifndef KCPP_TUNNEL_KCPD_TUNNELS_H_
#define KCPP_TUNNEL_KCPD_TUNNELS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tunnel/kcptun_config.h"
#include "tunnel/tunnel_grpc_service.h"
#include "tunnel/tunnel_manager.h"

namespace kcpp::service::tunnel {

// The tunnel of kcpd's command line, if any.
struct TunnelCommand {
  std::optional<KcptunConfig> config;  // nullopt: no "tunnel" command
  std::vector<std::string> warnings;   // kcpd vs kcptun differences, for the log
};

// Takes "tunnel client|server ARGS..." out of argv (shrinking *argc) and
// reads ARGS as kcptun does (defaults, flags, -c file, KCPTUN_KEY, mode).
// With -h / --help in ARGS, prints kcptun-style usage and exits 0. Errors
// (unknown role, bad flag, unreadable or malformed -c file) say what is
// wrong, in kcptun's words where kcptun has them. Call before absl parses
// argv: kcpd's flags must precede "tunnel".
absl::StatusOr<TunnelCommand> ExtractTunnelCommand(int* argc, char** argv);

class KcpdTunnels {
 public:
  // `log(level, message)`: 0 error .. 3 debug, any thread. Tunnels get
  // --tunnel_loops event loops and a transport engine of their own.
  static absl::StatusOr<std::unique_ptr<KcpdTunnels>> Create(
      std::function<void(int level, const std::string& message)> log);
  ~KcpdTunnels();

  // kcpp.v1.KcpdTunnels, to register on kcpd's gRPC server.
  grpc::Service* service() { return &service_; }
  TunnelManager* manager() { return manager_.get(); }

  // Starts the command line's tunnel (named after its role) if there is one;
  // logs the warnings. Errors as TunnelManager::CreateTunnel.
  absl::Status StartCommandTunnel(const TunnelCommand& command);

  // Stops every tunnel (as TunnelManager::Shutdown).
  void Shutdown(absl::Time deadline);

 private:
  KcpdTunnels(std::unique_ptr<TunnelManager> manager,
              std::function<void(int, const std::string&)> log);

  std::unique_ptr<TunnelManager> manager_;
  TunnelGrpcService service_;
  std::function<void(int, const std::string&)> log_;
};

}  // namespace kcpp::service::tunnel

#endif  // KCPP_TUNNEL_KCPD_TUNNELS_H_
