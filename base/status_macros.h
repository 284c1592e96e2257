// Status propagation helpers for absl::Status / absl::StatusOr.
//
// Abseil 20220623 (Debian 12) ships no status macros, so kcpp keeps these two.
//
//   absl::Status Open(...) {
//     KCPP_RETURN_IF_ERROR(Validate(options));
//     KCPP_ASSIGN_OR_RETURN(int fd, MakeSocket(options));
//     ...
//   }
#ifndef KCPP_BASE_STATUS_MACROS_H_
#define KCPP_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status from the enclosing function if `expr` is not OK.
#define KCPP_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status kcpp_status_ = (expr);        \
    if (!kcpp_status_.ok()) return kcpp_status_; \
  } while (0)

#define KCPP_STATUS_CONCAT_INNER_(a, b) a##b
#define KCPP_STATUS_CONCAT_(a, b) KCPP_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (which may declare a variable).
#define KCPP_ASSIGN_OR_RETURN(lhs, rexpr) \
  KCPP_ASSIGN_OR_RETURN_IMPL_(KCPP_STATUS_CONCAT_(kcpp_statusor_, __LINE__), lhs, rexpr)

#define KCPP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // KCPP_BASE_STATUS_MACROS_H_
