// kcpctl's output: human-readable tables and descriptions, protobuf JSON for
// scripts, and the exit codes scripts can rely on.
#ifndef KCPP_KCPCTL_KCPCTL_FORMAT_H_
#define KCPP_KCPCTL_KCPCTL_FORMAT_H_

#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/kcpp/v1/kcpd.pb.h"

namespace kcpp::service::internal {

// kcpctl's exit codes (documented in `kcpctl help` and docs/kcpd.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,               // bad command line (kcpctl never asked kcpd)
  kExitNotFound = 2,            // NOT_FOUND
  kExitInvalidArgument = 3,     // INVALID_ARGUMENT, OUT_OF_RANGE
  kExitPermission = 4,          // PERMISSION_DENIED, UNAUTHENTICATED
  kExitUnavailable = 5,         // UNAVAILABLE: kcpd not running (or shutting down)
  kExitAlreadyExists = 6,       // ALREADY_EXISTS
  kExitFailedPrecondition = 7,  // FAILED_PRECONDITION, ABORTED
  kExitResourceExhausted = 8,   // RESOURCE_EXHAUSTED
  kExitDeadline = 9,            // DEADLINE_EXCEEDED (--timeout), CANCELLED
  kExitOther = 10,              // anything else (INTERNAL, UNIMPLEMENTED, ...)
};
int ExitCodeFor(absl::StatusCode code);

// Columns padded to their widest cell, two spaces apart, header first.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

std::string ListenersTable(const std::vector<kcpp::v1::Listener>& listeners);
std::string SessionsTable(const std::vector<kcpp::v1::Session>& sessions);
// `sessions list --full`: each session described in full (DescribeSession,
// with its streams), a blank line between them.
std::string SessionsDescriptions(const std::vector<kcpp::v1::Session>& sessions);
std::string DescribeListener(const kcpp::v1::Listener& listener);
std::string DescribeSession(const kcpp::v1::Session& session);
// With its attachment (if any): where to connect and what to send.
std::string DescribeStream(const kcpp::v1::Stream& stream);
std::string DescribeStats(const kcpp::v1::Stats& stats);
// One line per watch event.
std::string EventLine(const kcpp::v1::SessionEvent& event);

// Protobuf JSON with the .proto field names and every field present (so
// scripts see zeros), pretty-printed unless `one_line`.
std::string ToJson(const google::protobuf::Message& message, bool one_line);

// "850ms", "12s", "3m12s", "2h5m", "3d4h": two units at most, truncated.
std::string HumanDuration(absl::Duration d);

// "1.5 MiB", "312 B".
std::string HumanBytes(uint64_t bytes);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPCTL_KCPCTL_FORMAT_H_
