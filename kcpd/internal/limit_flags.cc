#include "kcpd/internal/limit_flags.h"

#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(int64_t, max_watchers, static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.max_watchers),
          "WatchSessionEvents calls served at a time, all uids together; one more is refused "
          "with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_watchers_per_uid, static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.max_watchers_per_uid),
          "WatchSessionEvents calls one uid may have open at a time; one more is refused with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_watch_queue, static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.max_watch_queue),
          "Events a watcher may fall behind before kcpd ends its watch with RESOURCE_EXHAUSTED "
          "(it re-lists and watches again).");
ABSL_FLAG(int64_t, max_watch_queue_bytes,
          static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.max_watch_queue_bytes),
          "Bytes of events a watcher may fall behind (events shared with other watchers count "
          "in full) before kcpd ends its watch with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_pending_attachments,
          static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.max_pending_attachments),
          "Streams waiting for an application to attach, at most (each holds an attach "
          "token for --attach_timeout).");
ABSL_FLAG(int64_t, max_pending_attachments_per_listener,
          static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.max_pending_attachments_per_listener),
          "Of those, the streams peers opened through one listener (the peers of sessions kcpd "
          "dialled share one more such share); a peer's stream over it is dropped and counted "
          "in the listener's attachments_dropped.");
ABSL_FLAG(int64_t, local_attachment_reserve,
          static_cast<int64_t>(kcpp::service::ControlPlaneOptions{}.local_attachment_reserve),
          "Of --max_pending_attachments, the slots peers can never take: kept for DialSession "
          "and OpenStream.");

namespace kcpp::service::internal {
namespace {

absl::Status Check(absl::string_view flag, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be ", min, "..", max, ", got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyLimitFlags(ControlPlaneOptions* options) {
  const int64_t watchers = absl::GetFlag(FLAGS_max_watchers);
  const int64_t per_uid = absl::GetFlag(FLAGS_max_watchers_per_uid);
  const int64_t queue = absl::GetFlag(FLAGS_max_watch_queue);
  const int64_t queue_bytes = absl::GetFlag(FLAGS_max_watch_queue_bytes);
  const int64_t pending = absl::GetFlag(FLAGS_max_pending_attachments);
  const int64_t share = absl::GetFlag(FLAGS_max_pending_attachments_per_listener);
  const int64_t reserve = absl::GetFlag(FLAGS_local_attachment_reserve);
  if (absl::Status s = Check("max_watchers", watchers, 1, 1 << 20); !s.ok()) return s;
  if (absl::Status s = Check("max_watchers_per_uid", per_uid, 1, watchers); !s.ok()) return s;
  if (absl::Status s = Check("max_watch_queue", queue, 1, 1 << 24); !s.ok()) return s;
  if (absl::Status s = Check("max_watch_queue_bytes", queue_bytes, 4096, int64_t{1} << 32);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Check("max_pending_attachments", pending, 1, 1 << 24); !s.ok()) return s;
  if (absl::Status s = Check("local_attachment_reserve", reserve, 0, pending - 1); !s.ok()) {
    return s;
  }
  if (absl::Status s = Check("max_pending_attachments_per_listener", share, 1, pending - reserve);
      !s.ok()) {
    return s;
  }
  options->max_watchers = static_cast<size_t>(watchers);
  options->max_watchers_per_uid = static_cast<size_t>(per_uid);
  options->max_watch_queue = static_cast<size_t>(queue);
  options->max_watch_queue_bytes = static_cast<size_t>(queue_bytes);
  options->max_pending_attachments = static_cast<size_t>(pending);
  options->max_pending_attachments_per_listener = static_cast<size_t>(share);
  options->local_attachment_reserve = static_cast<size_t>(reserve);
  return absl::OkStatus();
}

}  // namespace kcpp::service::internal
