#include "base/errno_status.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kcpp {

absl::StatusCode ErrnoStatusCode(int err) {
  switch (err) {
    case EADDRINUSE:
      return absl::StatusCode::kAlreadyExists;
    case EADDRNOTAVAIL:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::ErrnoToStatusCode(err);
  }
}

absl::Status ErrnoStatus(absl::string_view what, int err) {
  const char* description = strerrordesc_np(err);
  const char* name = strerrorname_np(err);
  if (description == nullptr || name == nullptr) {
    return absl::Status(ErrnoStatusCode(err), absl::StrCat(what, ": unknown error ", err));
  }
  return absl::Status(ErrnoStatusCode(err), absl::StrCat(what, ": ", description, " (", name, ")"));
}

}  // namespace kcpp
