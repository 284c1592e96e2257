// This host's wall clock in Unix milliseconds, for the replay stamps of
// SessionOptions::replay_protection (docs/protocol.md §11.10) — the only
// place kcpp puts its clock on the wire. Everything else runs on the
// loop's monotonic clock.
#ifndef KCPP_TRANSPORT_INTERNAL_WALL_CLOCK_H_
#define KCPP_TRANSPORT_INTERNAL_WALL_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace kcpp::transport::internal {

// CLOCK_REALTIME through the vDSO: tens of nanoseconds, read once per
// sealed batch and once per session-creating datagram.
inline int64_t WallClockMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_WALL_CLOCK_H_
