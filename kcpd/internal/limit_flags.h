// kcpd's flags for the resources callers and peers may hold: watchers
// (WatchSessionEvents) and streams waiting for an application to attach.
// Defined here rather than in kcpd_main.cc so the limits, their defaults
// and their checks sit next to each other (docs/kcpd.md "Limits").
//
//   ControlPlaneOptions plane_options;
//   KCPP_RETURN_IF_ERROR(internal::ApplyLimitFlags(&plane_options));
#ifndef KCPP_KCPD_INTERNAL_LIMIT_FLAGS_H_
#define KCPP_KCPD_INTERNAL_LIMIT_FLAGS_H_

#include "absl/status/status.h"
#include "kcpd/control_plane.h"

namespace kcpp::service::internal {

// Copies --max_watchers, --max_watchers_per_uid, --max_watch_queue,
// --max_watch_queue_bytes, --max_pending_attachments,
// --max_pending_attachments_per_listener and --local_attachment_reserve into
// `options`; INVALID_ARGUMENT naming the flag if one is out of range.
absl::Status ApplyLimitFlags(ControlPlaneOptions* options);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_LIMIT_FLAGS_H_
