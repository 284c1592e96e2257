// Resource names of the kcpd API (proto/kcpp/v1/kcpd.proto, AIP-122):
//
//   listeners/{listener}                 listener ids: [a-z][a-z0-9-]{0,62}, not ending in '-'
//   sessions/{session}                   session ids: decimal 1..2^64-1, no leading zeros
//   sessions/{session}/streams/{stream}  stream ids: decimal 0..2^32-1, no leading zeros
//
// Parsers return InvalidArgument naming the request field and the expected
// shape, e.g. `name must look like "sessions/{session}" (a decimal id), got
// "sessions/x"`, so a user can correct the call.
#ifndef KCPP_KCPD_INTERNAL_RESOURCE_NAMES_H_
#define KCPP_KCPD_INTERNAL_RESOURCE_NAMES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kcpd/session_backend.h"

namespace kcpp::service::internal {

std::string ListenerName(absl::string_view listener_id);
std::string SessionName(uint64_t session_id);
std::string StreamName(StreamRef stream);

// NOT_FOUND "no session sessions/7" (and so on) with ErrorInfo reason
// SESSION_NOT_FOUND / LISTENER_NOT_FOUND / STREAM_NOT_FOUND and the name in
// its metadata (kcpd/internal/api_errors.h), for every backend alike.
absl::Status SessionNotFound(uint64_t session_id);
absl::Status ListenerNotFound(absl::string_view listener_id);
absl::Status StreamNotFound(StreamRef stream);

// OK if `id` is a valid listener id; `field` names the request field.
absl::Status ValidateListenerId(absl::string_view id, absl::string_view field);

// "listeners/{listener}" -> listener id.
absl::StatusOr<std::string> ParseListenerName(absl::string_view name, absl::string_view field);
// "sessions/{session}" -> session id.
absl::StatusOr<uint64_t> ParseSessionName(absl::string_view name, absl::string_view field);
// "sessions/{session}/streams/{stream}" -> (session id, stream id).
absl::StatusOr<StreamRef> ParseStreamName(absl::string_view name, absl::string_view field);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_RESOURCE_NAMES_H_
