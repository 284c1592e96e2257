// Test-only access to Session internals (the QUICHE *_peer.h pattern), for
// states that are impractical to reach through the API, such as the end of
// the 32-bit stream id space.
#ifndef KCPP_SMUX_INTERNAL_SESSION_PEER_H_
#define KCPP_SMUX_INTERNAL_SESSION_PEER_H_

#include <cstdint>

#include "smux/internal/contiguous_byte_queue.h"
#include "smux/session.h"

namespace kcpp::smux::internal {

class SessionPeer {
 public:
  // The id counter; OpenStream adds 2 before using it.
  static void SetNextStreamId(Session& s, uint32_t counter) { s.next_stream_id_ = counter; }
  static int64_t ReceiveBudget(const Session& s) { return s.receive_budget_; }
  static size_t OutputCapacity(const Session& s) { return s.output_->capacity(); }
};

}  // namespace kcpp::smux::internal

#endif  // KCPP_SMUX_INTERNAL_SESSION_PEER_H_
