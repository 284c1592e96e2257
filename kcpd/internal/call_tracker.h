// CallTracker: counts the gRPC calls in flight on the servers it is installed
// on, so kcpd's shutdown can tell "calls are still running" (they get the
// grace period) from "only idle connections remain" (nothing to wait for).
//
// Why kcpd needs it: grpc::Server::Shutdown(deadline) waits until every
// connection is gone, idle ones included, and only at the deadline closes
// the rest. A client that merely holds an open channel (kcpctl in a script,
// a Python client between calls) made every SIGTERM wait out the whole
// grace. kcpd waits for calls instead, then shuts down with a deadline of
// now, which closes the idle connections at once.
//
//   CallTracker calls;
//   builder.experimental().SetInterceptorCreators(...calls.NewInterceptorFactory()...);
//   ...
//   const bool idle = calls.WaitUntilIdle(absl::Now() + grace);
//   server->Shutdown(idle ? now : deadline);
#ifndef KCPP_KCPD_INTERNAL_CALL_TRACKER_H_
#define KCPP_KCPD_INTERNAL_CALL_TRACKER_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kcpp::service::internal {

class CallTracker {
 public:
  // A factory for one server's interceptors (each server needs its own
  // factory object); the tracker must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  int in_flight() const;

  // Blocks until no call is in flight (true) or `deadline` passes (false).
  bool WaitUntilIdle(absl::Time deadline) const;

 private:
  friend class CallCounter;
  void Add(int delta);
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_CALL_TRACKER_H_
