// Attaching to a TUN device that lives in a named network namespace.
//
//   absl::StatusOr<TunDevice> tun = OpenTunInNamespace("kcpp-a", "lkem-a");
//
// The device must exist (tools/linkem/netns.sh creates persistent ones with
// `ip tuntap add ... mode tun`); this opens /dev/net/tun, enters the
// namespace (/run/netns/NAME, as `ip netns` names it) just long enough for
// TUNSETIFF to find the device there, and returns to the caller's namespace.
// The fd keeps working from any namespace. The device is opened without
// packet information or virtio-net headers, so the kernel hands it one IP
// packet per read, segmenting any GSO/TSO packet in software first.
//
// Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root). Call it before starting
// threads: setns() changes the namespace of the calling thread only.
#ifndef KCPP_TOOLS_LINKEM_TUN_DEVICE_H_
#define KCPP_TOOLS_LINKEM_TUN_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kcpp::linkem {

// An attached TUN device.
struct TunDevice {
  int fd = -1;  // the caller closes it
  int mtu = 0;  // the device's MTU when it was opened
};

// Opens TUN device `device` in network namespace `netns` ("" = the current
// one), or returns an error naming what to fix.
absl::StatusOr<TunDevice> OpenTunInNamespace(const std::string& netns, const std::string& device);

}  // namespace kcpp::linkem

#endif  // KCPP_TOOLS_LINKEM_TUN_DEVICE_H_
