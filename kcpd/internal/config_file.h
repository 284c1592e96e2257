// kcpd's --config file: a kcpp.v1.KcpdConfig in protobuf text format
// (proto/kcpp/v1/kcpd_config.proto).
#ifndef KCPP_KCPD_INTERNAL_CONFIG_FILE_H_
#define KCPP_KCPD_INTERNAL_CONFIG_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/kcpp/v1/kcpd_config.pb.h"

namespace kcpp::service::internal {

// Parses `text`; errors say "<name>:<line>:<column>: <what>" (InvalidArgument).
absl::StatusOr<kcpp::v1::KcpdConfig> ParseKcpdConfig(absl::string_view text,
                                                     absl::string_view name);
// Reads and parses the file at `path` (NotFound / PermissionDenied if it
// cannot be read).
absl::StatusOr<kcpp::v1::KcpdConfig> LoadKcpdConfig(const std::string& path);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_CONFIG_FILE_H_
