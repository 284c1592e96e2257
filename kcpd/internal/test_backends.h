// The data planes a kcpd binary offers besides "transport" (kcpd --backend).
//
// kcpd_main.cc declares the choice; each kcpd binary links one definition:
//   //kcpd:kcpd                         internal/no_test_backends.cc: none.
//   //kcpd:kcpd_fake_backend_for_test   testing/fake_backend_choice.cc
//     (testonly)                        (testonly): "fake", the in-memory
//                                       FakeBackend for tests of the control
//                                       plane and of the process.
// So test code never ships in the daemon users run: the FakeBackend class is
// not even linked into it (kcpd_binary_test checks both binaries).
#ifndef KCPP_KCPD_INTERNAL_TEST_BACKENDS_H_
#define KCPP_KCPD_INTERNAL_TEST_BACKENDS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kcpd/session_backend.h"

namespace kcpp::service::internal {

// The backend called `name` (anything but "transport"), or InvalidArgument
// naming the backends this binary has; the message is meant for the user who
// typed --backend.
absl::StatusOr<std::unique_ptr<SessionBackend>> MakeTestBackend(absl::string_view name);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_TEST_BACKENDS_H_
