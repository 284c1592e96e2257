// Machine-readable error details for kcpd's API (AIP-193).
//
// Every error kcpd's gRPC services return carries a google.rpc.Status in the
// call's binary details (the grpc-status-details-bin trailer, which gRPC
// clients expose as e.g. grpc::Status::error_details()) with:
//   - a google.rpc.ErrorInfo, always: domain "kcpd.kcpp", a stable
//     UPPER_SNAKE reason per kind of failure (docs/kcpd.md "Errors" lists
//     them), and metadata where it helps (the resource name, the method);
//   - a google.rpc.BadRequest naming the request field, for INVALID_ARGUMENT
//     that a request field caused.
//
// Code below the gRPC layer stays absl::Status: the details travel as the
// status's payloads, keyed by their type URLs, and ToGrpcStatus packs them.
//
//   return InvalidFieldError("options.send_window", "must be 1..65535, got 0");
//   return WithErrorReason(absl::NotFoundError("no session sessions/7"),
//                          kReasonSessionNotFound, {{"name", "sessions/7"}});
//   reactor->Finish(ToGrpcStatus(status));
#ifndef KCPP_KCPD_INTERNAL_API_ERRORS_H_
#define KCPP_KCPD_INTERNAL_API_ERRORS_H_

#include <grpcpp/support/status.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kcpp::service::internal {

// ErrorInfo.domain of every kcpd error.
inline constexpr absl::string_view kErrorDomain = "kcpd.kcpp";

// ErrorInfo.reason values that code below the gRPC layer sets. Statuses that
// carry none get the reason of their code (ReasonForCode). Never rename one:
// clients switch on them.
inline constexpr absl::string_view kReasonInvalidField = "INVALID_FIELD";
inline constexpr absl::string_view kReasonInvalidResourceName = "INVALID_RESOURCE_NAME";
inline constexpr absl::string_view kReasonInvalidPageToken = "INVALID_PAGE_TOKEN";
inline constexpr absl::string_view kReasonRequestNotParsable = "REQUEST_NOT_PARSABLE";
inline constexpr absl::string_view kReasonSessionNotFound = "SESSION_NOT_FOUND";
inline constexpr absl::string_view kReasonListenerNotFound = "LISTENER_NOT_FOUND";
inline constexpr absl::string_view kReasonStreamNotFound = "STREAM_NOT_FOUND";
inline constexpr absl::string_view kReasonShuttingDown = "SHUTTING_DOWN";
inline constexpr absl::string_view kReasonUidNotAllowed = "UID_NOT_ALLOWED";

// INVALID_ARGUMENT "<field> <description>" with a BadRequest field violation
// for `field` (a path into the request, "options.send_window"; empty for the
// request as a whole) and ErrorInfo `reason`.
absl::Status InvalidFieldError(absl::string_view field, absl::string_view description,
                               absl::string_view reason = kReasonInvalidField);

// `status` (not OK, message unchanged) with a BadRequest field violation for
// `field` saying `description`, and ErrorInfo `reason`.
absl::Status WithFieldViolation(absl::Status status, absl::string_view field,
                                absl::string_view description,
                                absl::string_view reason = kReasonInvalidField);

// `status` (not OK) with ErrorInfo `reason` and `metadata`, replacing any
// reason it had.
absl::Status WithErrorReason(
    absl::Status status, absl::string_view reason,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> metadata = {});

// The reason of a status that carries none: the code's name ("NOT_FOUND",
// "RESOURCE_EXHAUSTED", ...).
std::string ReasonForCode(absl::StatusCode code);

// absl::Status -> grpc::Status (same code and message) with the
// google.rpc.Status details described above.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_API_ERRORS_H_
