#include "transport/session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/internal/session_core.h"
#include "transport/internal/session_shared.h"

namespace kcpp::transport {
namespace {

using internal::SessionCore;
using internal::SessionShared;

// Runs `fn(core)` on the session's loop and returns its result, or
// `if_gone` when the session or its engine is gone.
template <typename T, typename Fn>
T OnLoop(SessionShared& shared, T if_gone, Fn fn) {
  T result = if_gone;
  shared.loop().RunSync([&] {
    auto* core = static_cast<SessionCore*>(shared.loop().FindObject(shared.id()));
    if (core != nullptr && !core->finished()) result = fn(*core);
  });
  return result;
}

}  // namespace

Session::Session(std::shared_ptr<internal::SessionShared> shared) : shared_(std::move(shared)) {}

Session::~Session() { Close(); }

absl::StatusOr<size_t> Session::Read(absl::Span<uint8_t> out, absl::Time deadline) {
  return shared_->channel().Read(out, deadline);
}

absl::StatusOr<size_t> Session::Write(absl::Span<const uint8_t> data, absl::Time deadline) {
  if (data.empty()) return 0;
  const size_t max = shared_->max_message_bytes();
  if (max > 0 && data.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat("message of ", data.size(),
                                                   " bytes exceeds the maximum of ", max,
                                                   " (255 fragments of mss)"));
  }
  return shared_->channel().Write(data, deadline);
}

absl::Status Session::WaitAcknowledged(absl::Time deadline) {
  return shared_->channel().WaitAcknowledged(deadline);
}

void Session::Close() { shared_->channel().Close(); }

absl::Status Session::SendOob(absl::Span<const uint8_t> data) {
  return OnLoop(*shared_, absl::UnavailableError("session is closed"),
                [&](SessionCore& core) { return core.SendOob(data); });
}

size_t Session::oob_max_size() const {
  return OnLoop(*shared_, size_t{0}, [](SessionCore& core) { return core.oob_max_size(); });
}

void Session::SetCallbacks(SessionCallbacks callbacks) {
  SessionShared* shared = shared_.get();
  shared->loop().Post([shared = shared_, callbacks = std::move(callbacks)]() mutable {
    auto* core = static_cast<SessionCore*>(shared->loop().FindObject(shared->id()));
    if (core != nullptr && !core->finished()) {
      core->SetCallbacks(std::move(callbacks));
      return;
    }
    // It ended before the callbacks arrived: it still reports its end.
    std::optional<absl::Status> why = shared->final_status();
    if (why && callbacks.on_closed) callbacks.on_closed(*std::move(why));
  });
}

absl::Status Session::Tune(const SessionTuning& tuning) {
  return OnLoop(*shared_, absl::UnavailableError("session is closed"),
                [&](SessionCore& core) { return core.Tune(tuning); });
}

uint32_t Session::conv() const { return shared_->conv(); }
int Session::loop_index() const { return shared_->loop().index(); }
const SocketAddress& Session::local_address() const { return shared_->local(); }
SocketAddress Session::remote_address() const { return shared_->remote(); }
const SessionOptions& Session::options() const { return shared_->options(); }

absl::StatusOr<SessionInfo> Session::GetInfo() const {
  std::optional<SessionInfo> info;
  const bool ran = shared_->loop().RunSync([&] {
    auto* core = static_cast<SessionCore*>(shared_->loop().FindObject(shared_->id()));
    if (core != nullptr && !core->finished()) info = core->Info();
  });
  if (info) return *std::move(info);
  if (std::optional<SessionInfo> last = shared_->final_info()) return *std::move(last);
  if (!ran) return absl::UnavailableError("the engine shut down");
  return absl::UnavailableError("session is gone");
}

}  // namespace kcpp::transport
