// absl::Status from errno, with the code a caller can act on.
#ifndef KCPP_SERVICE_INTERNAL_ERRNO_STATUS_H_
#define KCPP_SERVICE_INTERNAL_ERRNO_STATUS_H_

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kcpp::service::internal {

// "<what>: <description of err>" with absl::ErrnoToStatusCode(err) as the
// code (ENOENT -> NotFound, EACCES -> PermissionDenied, EEXIST ->
// AlreadyExists, ...). Thread-safe (no strerror buffer).
inline absl::Status ErrnoStatus(absl::string_view what, int err = errno) {
  const char* text = strerrordesc_np(err);
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(what, ": ", text != nullptr ? text : "unknown error ",
                                   text != nullptr ? "" : std::to_string(err)));
}

}  // namespace kcpp::service::internal

#endif  // KCPP_SERVICE_INTERNAL_ERRNO_STATUS_H_
