// The test twin of kcpd (//kcpd:kcpd_fake_backend_for_test): "fake" is the
// in-memory FakeBackend (internal/test_backends.h).
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kcpd/internal/test_backends.h"
#include "kcpd/testing/fake_backend.h"

namespace kcpp::service::internal {

absl::StatusOr<std::unique_ptr<SessionBackend>> MakeTestBackend(absl::string_view name) {
  if (name == "fake") return std::make_unique<FakeBackend>();
  return absl::InvalidArgumentError(
      absl::StrCat("--backend must be \"transport\" or \"fake\", got \"", name, "\""));
}

}  // namespace kcpp::service::internal
