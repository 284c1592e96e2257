// Validation of kcpd requests: proto values -> checked C++ configuration.
//
// Every function returns InvalidArgument with a message that names the
// request field (as a path, e.g. "options.send_window") and says what is
// allowed, so kcpctl users and API clients can fix the call. Range checks
// are transport::SessionOptions::Validate's (the same rules a library user
// gets), applied after mapping proto defaults (zero values) to kcp-go's.
//
//   KCPP_ASSIGN_OR_RETURN(SessionConfig config,
//                         SessionConfigFromProto(request.options(), "options"));
#ifndef KCPP_KCPD_INTERNAL_REQUEST_VALIDATION_H_
#define KCPP_KCPD_INTERNAL_REQUEST_VALIDATION_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kcpd/session_config.h"
#include "proto/kcpp/v1/kcpd.pb.h"
#include "transport/socket_address.h"

namespace kcpp::service::internal {

// Zero values become kcp-go's defaults (kcpd.proto SessionOptions). `field`
// prefixes error messages ("options", "listener.session_options").
absl::StatusOr<SessionConfig> SessionConfigFromProto(const kcpp::v1::SessionOptions& proto,
                                                     absl::string_view field);

// The effective options as the API reports them (key omitted; mode is the
// preset the nodelay knobs equal, else MODE_MANUAL with nodelay). Feeding
// the result back to SessionConfigFromProto (with a key) gives `config`.
void SessionConfigToProto(const SessionConfig& config, kcpp::v1::SessionOptions* proto);

// `listener.address` (required, port 0 allowed), accept_backlog (0 -> 128,
// at most 65535), max_sessions (0 -> 65536, at most 1048576) and
// session_options. `field` prefixes messages ("listener").
absl::StatusOr<ListenerConfig> ListenerConfigFromProto(const kcpp::v1::Listener& listener,
                                                       absl::string_view field);

// A peer address to dial: numeric "ip:port" / "[ipv6]:port", port 1..65535,
// not the unspecified address.
absl::StatusOr<transport::SocketAddress> ParseRemoteAddress(absl::string_view text,
                                                            absl::string_view field);

// UpdateSessionRequest -> the tuning to apply (kcpd.proto documents the
// updatable paths). The result applied to `current` passes
// transport::SessionOptions::Validate. An empty mask means every updatable
// field that is set to a non-zero value; a request that changes nothing is
// InvalidArgument.
absl::StatusOr<SessionTuning> SessionTuningFromUpdate(const kcpp::v1::UpdateSessionRequest& request,
                                                      const transport::SessionOptions& current);

// The data socket a stream of a session with these (effective) options
// attaches over: SEQPACKET for raw message-mode sessions, else STREAM.
kcpp::v1::DataAttachment::SocketType AttachSocketType(const kcpp::v1::SessionOptions& effective);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_REQUEST_VALIDATION_H_
