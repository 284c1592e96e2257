#include "transport/listener.h"

#include <utility>

#include "transport/internal/listener_core.h"

namespace kcpp::transport {

Listener::Listener(std::shared_ptr<internal::ListenerState> shared) : shared_(std::move(shared)) {}

Listener::~Listener() { Close(); }

absl::StatusOr<std::unique_ptr<Session>> Listener::Accept(absl::Time deadline) {
  return shared_->Accept(deadline);
}

void Listener::SetAcceptCallback(absl::AnyInvocable<void(std::unique_ptr<Session>)> on_accept) {
  shared_->SetAcceptCallback(std::move(on_accept));
}

void Listener::Close(bool close_sessions) { shared_->Close(close_sessions); }

const SocketAddress& Listener::local_address() const { return shared_->local(); }
const ListenerOptions& Listener::options() const { return shared_->options(); }
ListenerStats Listener::GetStats() const { return shared_->GetStats(); }

}  // namespace kcpp::transport
