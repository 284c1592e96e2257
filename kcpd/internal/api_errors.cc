#include "kcpd/internal/api_errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace kcpp::service::internal {
namespace {

// Payload keys are the details' Any type URLs, so packing is a copy.
constexpr absl::string_view kErrorInfoUrl = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr absl::string_view kBadRequestUrl = "type.googleapis.com/google.rpc.BadRequest";

}  // namespace

absl::Status InvalidFieldError(absl::string_view field, absl::string_view description,
                               absl::string_view reason) {
  return WithFieldViolation(
      absl::InvalidArgumentError(field.empty() ? std::string(description)
                                               : absl::StrCat(field, " ", description)),
      field, description, reason);
}

absl::Status WithFieldViolation(absl::Status status, absl::string_view field,
                                absl::string_view description, absl::string_view reason) {
  if (status.ok()) return status;
  google::rpc::BadRequest bad;
  google::rpc::BadRequest::FieldViolation* v = bad.add_field_violations();
  v->set_field(std::string(field));
  v->set_description(std::string(description));
  status.SetPayload(kBadRequestUrl, absl::Cord(bad.SerializeAsString()));
  return WithErrorReason(std::move(status), reason, {});
}

absl::Status WithErrorReason(
    absl::Status status, absl::string_view reason,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> metadata) {
  if (status.ok()) return status;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [key, value] : metadata) {
    (*info.mutable_metadata())[std::string(key)] = std::string(value);
  }
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

std::string ReasonForCode(absl::StatusCode code) {
  // Spelled out rather than derived from absl::StatusCodeToString, whose
  // text is not promised to stay the same.
  switch (code) {
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal:
      return "INTERNAL";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  google::protobuf::Any* info = rpc.add_details();
  info->set_type_url(std::string(kErrorInfoUrl));
  if (absl::optional<absl::Cord> payload = status.GetPayload(kErrorInfoUrl)) {
    info->set_value(std::string(*payload));
  } else {
    google::rpc::ErrorInfo fallback;
    fallback.set_reason(ReasonForCode(status.code()));
    fallback.set_domain(std::string(kErrorDomain));
    info->set_value(fallback.SerializeAsString());
  }
  if (absl::optional<absl::Cord> payload = status.GetPayload(kBadRequestUrl)) {
    google::protobuf::Any* bad = rpc.add_details();
    bad->set_type_url(std::string(kBadRequestUrl));
    bad->set_value(std::string(*payload));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), rpc.message(),
                      rpc.SerializeAsString());
}

}  // namespace kcpp::service::internal
