#include "tunnel/kcpd_tunnels.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "kcp/congestion.h"

ABSL_FLAG(std::string, tunnel_congestion, "bbr",
          "Congestion control of the tunnels' KCP sessions: bbr (the default: paced at the "
          "path's measured rate), kcp-go (exactly kcptun's behaviour) or none. kcpd only: "
          "kcptun's own flags keep their meaning.");
ABSL_FLAG(int, tunnel_loops, 1,
          "Event loops of kcptun-compatible tunnels (TCP sockets, smux and snappy; KCP itself "
          "runs on the transport's loops). See docs/tunnel.md.");

namespace kcpp::service::tunnel {

absl::StatusOr<TunnelCommand> ExtractTunnelCommand(int* argc, char** argv) {
  TunnelCommand command;
  int at = -1;
  for (int i = 1; i < *argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--") == 0) break;
    if (a[0] == '-') continue;  // kcpd's flags use --name=value before "tunnel"
    if (std::strcmp(a, "tunnel") == 0) at = i;
    break;
  }
  if (at < 0) return command;
  if (at + 1 >= *argc) {
    return absl::InvalidArgumentError(
        "tunnel needs a role: kcpd tunnel client|server [kcptun flags] (docs/tunnel.md)");
  }
  TunnelRole role;
  const std::string role_name = argv[at + 1];
  if (role_name == "client") {
    role = TunnelRole::kClient;
  } else if (role_name == "server") {
    role = TunnelRole::kServer;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel role must be client or server, got \"", role_name, "\""));
  }
  std::vector<std::string> args(argv + at + 2, argv + *argc);
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help" || a == "-help" || a == "--h") {
      std::fputs(KcptunUsage(role).c_str(), stdout);
      std::exit(0);
    }
  }
  std::optional<std::string> env_key;
  if (const char* k = std::getenv("KCPTUN_KEY"); k != nullptr) env_key = k;
  absl::StatusOr<KcptunConfig> config =
      LoadKcptunConfig(role, args, std::move(env_key), &command.warnings);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat("tunnel ", role_name, ": ", config.status().message()));
  }
  command.config = *std::move(config);
  *argc = at;
  argv[at] = nullptr;
  return command;
}

KcpdTunnels::KcpdTunnels(std::unique_ptr<TunnelManager> manager,
                         std::function<void(int, const std::string&)> log)
    : manager_(std::move(manager)), service_(manager_.get()), log_(std::move(log)) {}

KcpdTunnels::~KcpdTunnels() = default;

absl::StatusOr<std::unique_ptr<KcpdTunnels>> KcpdTunnels::Create(
    std::function<void(int level, const std::string& message)> log) {
  TunnelManagerOptions o;
  o.loops = absl::GetFlag(FLAGS_tunnel_loops);
  o.congestion = absl::GetFlag(FLAGS_tunnel_congestion);
  if (absl::StatusOr<kcp::CongestionControl> cc = kcp::ParseCongestionControl(o.congestion);
      !cc.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tunnel_congestion: ", cc.status().message()));
  }
  o.log = log;
  absl::StatusOr<std::unique_ptr<TunnelManager>> m = TunnelManager::Create(o);
  if (!m.ok()) {
    return absl::Status(m.status().code(), absl::StrCat("--tunnel_loops: ", m.status().message()));
  }
  return std::unique_ptr<KcpdTunnels>(new KcpdTunnels(*std::move(m), std::move(log)));
}

absl::Status KcpdTunnels::StartCommandTunnel(const TunnelCommand& command) {
  if (!command.config.has_value()) return absl::OkStatus();
  for (const std::string& w : command.warnings) {
    if (log_) log_(1, absl::StrCat("tunnel: ", w));
  }
  const std::string id(TunnelRoleName(command.config->role));
  absl::StatusOr<TunnelSnapshot> t = manager_->CreateTunnel(id, *command.config);
  if (!t.ok()) {
    return absl::Status(t.status().code(), absl::StrCat("tunnel ", id, ": ", t.status().message()));
  }
  return absl::OkStatus();
}

void KcpdTunnels::Shutdown(absl::Time deadline) { manager_->Shutdown(deadline); }

}  // namespace kcpp::service::tunnel
