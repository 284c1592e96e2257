// SessionAccess: how transport internals make Session handles (the
// constructor is private to keep internals out of the public API).
#ifndef KCPP_TRANSPORT_INTERNAL_SESSION_ACCESS_H_
#define KCPP_TRANSPORT_INTERNAL_SESSION_ACCESS_H_

#include <memory>

#include "transport/session.h"

namespace kcpp::transport::internal {

struct SessionAccess {
  static std::unique_ptr<Session> Make(std::shared_ptr<SessionShared> shared) {
    return std::unique_ptr<Session>(new Session(std::move(shared)));
  }
  static const std::shared_ptr<SessionShared>& Shared(const Session& s) { return s.shared_; }
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_SESSION_ACCESS_H_
