#include "kcpd/internal/call_tracker.h"

namespace kcpp::service::internal {

// gRPC creates one interceptor per call when the call starts and destroys it
// with the call, after its status went out: its lifetime is the call's.
class CallCounter final : public grpc::experimental::Interceptor {
 public:
  explicit CallCounter(CallTracker* tracker) : tracker_(tracker) { tracker_->Add(1); }
  ~CallCounter() override { tracker_->Add(-1); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  CallTracker* const tracker_;
};

namespace {

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(CallTracker* tracker) : tracker_(tracker) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new CallCounter(tracker_);
  }

 private:
  CallTracker* const tracker_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallTracker::NewInterceptorFactory() {
  return std::make_unique<Factory>(this);
}

void CallTracker::Add(int delta) {
  absl::MutexLock lock(&mu_);
  in_flight_ += delta;
}

bool CallTracker::IdleLocked() const { return in_flight_ == 0; }

int CallTracker::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

bool CallTracker::WaitUntilIdle(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(this, &CallTracker::IdleLocked), deadline);
}

}  // namespace kcpp::service::internal
