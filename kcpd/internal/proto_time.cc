#include "kcpd/internal/proto_time.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kcpp::service::internal {

absl::StatusOr<absl::Duration> DurationFromProto(const google::protobuf::Duration& d,
                                                 absl::string_view field) {
  constexpr int64_t kMaxSeconds = 315576000000LL;  // google/protobuf/duration.proto
  const int64_t s = d.seconds();
  const int32_t n = d.nanos();
  if (s < -kMaxSeconds || s > kMaxSeconds || n < -999999999 || n > 999999999 || (s > 0 && n < 0) ||
      (s < 0 && n > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a valid duration (seconds ", s, ", nanos ", n, ")"));
  }
  return absl::Seconds(s) + absl::Nanoseconds(n);
}

void DurationToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

void TimeToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace kcpp::service::internal
