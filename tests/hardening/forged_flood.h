// Shared by the hardening benchmarks: forged single-datagram sessions against
// one kcpd listener, and the process's resident memory.
#ifndef KCPP_TESTS_HARDENING_FORGED_FLOOD_H_
#define KCPP_TESTS_HARDENING_FORGED_FLOOD_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "kcpd/control_plane.h"
#include "proto/kcpp/v1/kcpd.pb.h"
#include "tests/flood/flooder.h"

namespace kcpp::hardening {

// VmRSS of this process in KiB, -1 if /proc does not say.
long RssKiB();

// Sends one forged crypt-none PUSH (sn 0, random conv, up to `max_payload`
// bytes) from each of `ports` source ports to `listener`, in rounds of 1000
// ports whose sockets stay open in `flooders` (a port reused by a later
// round would replace its session, not add one), waiting after each round
// until the listener stops accepting. `listener` is refreshed as it goes.
absl::Status FloodListener(service::ControlPlane& plane, int ports, int max_payload,
                           kcpp::v1::Listener* listener,
                           std::vector<std::unique_ptr<flood::Flooder>>* flooders);

}  // namespace kcpp::hardening

#endif  // KCPP_TESTS_HARDENING_FORGED_FLOOD_H_
