// ErrnoStatus: the absl::Status for a failed system call, from its errno.
//
//   if (::bind(fd, address, length) != 0) {
//     return ErrnoStatus(absl::StrCat("cannot bind ", text));
//   }
//   // AlreadyExists: "cannot bind 0.0.0.0:4000: Address already in use (EADDRINUSE)"
//
// The message is "<what>: <description> (<errno name>)": what was being
// done (say which file, address or socket), then the C library's
// description and the errno's symbolic name, which a user can search for.
// An errno the C library does not know reads "<what>: unknown error <n>".
//
// The code is absl::ErrnoToStatusCode(err) (ENOENT NotFound, EACCES and
// EPERM PermissionDenied, EMFILE and ENOMEM ResourceExhausted,
// ECONNREFUSED Unavailable, ...), except for the two errors of taking an
// address, where Abseil's codes mislead:
//   EADDRINUSE     AlreadyExists (Abseil: FailedPrecondition): another
//                  socket holds the address
//   EADDRNOTAVAIL  InvalidArgument (Abseil: AlreadyExists, which reads as
//                  "in use"): the address is not one of this host's
//
// Thread-safe (no strerror buffer).
#ifndef KCPP_BASE_ERRNO_STATUS_H_
#define KCPP_BASE_ERRNO_STATUS_H_

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kcpp {

// The status code for `err`, as described above.
absl::StatusCode ErrnoStatusCode(int err);

// "<what>: <description> (<ENAME>)" with ErrnoStatusCode(err). Pass `err`
// explicitly when anything between the failed call and this one (building
// `what`, a close()) may change errno.
absl::Status ErrnoStatus(absl::string_view what, int err = errno);

}  // namespace kcpp

#endif  // KCPP_BASE_ERRNO_STATUS_H_
