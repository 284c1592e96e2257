// Where kcpd puts its sockets, shared by kcpd and kcpctl so both agree
// without flags.
#ifndef KCPP_KCPD_INTERNAL_PATHS_H_
#define KCPP_KCPD_INTERNAL_PATHS_H_

#include <cstdlib>
#include <string>

namespace kcpp::service::internal {

inline constexpr char kControlSocketName[] = "control.sock";
inline constexpr char kStreamSocketName[] = "data.sock";
inline constexpr char kSeqpacketSocketName[] = "data-seqpacket.sock";

// "$XDG_RUNTIME_DIR/kcpd" when XDG_RUNTIME_DIR is set (a user's session),
// else "/run/kcpd" (a system service).
inline std::string DefaultSocketDirectory() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/kcpd";
  return "/run/kcpd";
}

inline std::string DefaultControlSocket() {
  return DefaultSocketDirectory() + "/" + kControlSocketName;
}

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_PATHS_H_
