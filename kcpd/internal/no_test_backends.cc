// The shipping kcpd: no data plane but "transport" (test_backends.h).
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kcpd/internal/test_backends.h"

namespace kcpp::service::internal {

absl::StatusOr<std::unique_ptr<SessionBackend>> MakeTestBackend(absl::string_view name) {
  if (name == "fake") {
    return absl::InvalidArgumentError(
        "--backend=fake: this kcpd has only the \"transport\" backend; the in-memory \"fake\" "
        "backend is for tests and is built only into the test binary "
        "//kcpd:kcpd_fake_backend_for_test");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--backend must be \"transport\", got \"", name, "\""));
}

}  // namespace kcpp::service::internal
