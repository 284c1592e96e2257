// Conversions between absl time types and google.protobuf.Duration /
// Timestamp, checked where the proto comes from a request.
#ifndef KCPP_KCPD_INTERNAL_PROTO_TIME_H_
#define KCPP_KCPD_INTERNAL_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kcpp::service::internal {

// InvalidArgument naming `field` if `d` is not a valid Duration (seconds
// beyond +-10000 years, nanos outside +-999999999 or of the other sign).
absl::StatusOr<absl::Duration> DurationFromProto(const google::protobuf::Duration& d,
                                                 absl::string_view field);
void DurationToProto(absl::Duration d, google::protobuf::Duration* out);
void TimeToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::Time TimeFromProto(const google::protobuf::Timestamp& t);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_PROTO_TIME_H_
