// kcpctl's "tunnels" command: the command-line client of kcpp.v1.KcpdTunnels
// (docs/tunnel.md), called from kcpctl_main.cc.
//
//   kcpctl tunnels list [--full]
//   kcpctl tunnels get TUNNEL [--full]
//   kcpctl tunnels create [ID] client|server -- [kcptun flags, -c FILE]
//   kcpctl tunnels delete TUNNEL
//
// kcptun's flags follow "--" exactly as kcptun-client / kcptun-server take
// them; a -c FILE is read here (by the caller's uid) and sent as JSON text.
// Output: tables by default, protobuf JSON with --json; exit codes as the
// rest of kcpctl (docs/kcpd.md).
#ifndef KCPP_KCPCTL_KCPCTL_TUNNELS_H_
#define KCPP_KCPCTL_KCPCTL_TUNNELS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kcpp::service::tunnel {

struct KcpctlTunnelOptions {
  std::string socket;  // kcpd's control socket path
  absl::Duration timeout = absl::Seconds(10);
  bool json = false;
  bool full = false;  // --full: streams too
};

// `words` starts with "tunnels". Returns kcpctl's exit code.
int RunKcpctlTunnels(const std::vector<std::string>& words, const KcpctlTunnelOptions& options);

// The usage lines of the tunnels command, for kcpctl help.
extern const char kKcpctlTunnelsUsage[];

}  // namespace kcpp::service::tunnel

#endif  // KCPP_KCPCTL_KCPCTL_TUNNELS_H_
