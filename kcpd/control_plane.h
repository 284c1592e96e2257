// ControlPlane: what kcpd's API does, without gRPC — validates requests,
// names resources, issues and redeems attach tokens, fans events out to
// watchers, and drives a SessionBackend.
//
//   FakeBackend backend;
//   ControlPlane plane(&backend, {.stream_socket_path = "/run/kcpd/data.sock", ...});
//   kcpp::v1::DialSessionResponse dialled;
//   absl::Status s = plane.DialSession(request, &dialled);   // INVALID_ARGUMENT, ...
//   // The data acceptor, when an application presents a token:
//   absl::StatusOr<StreamRef> stream = plane.RedeemAttachToken(token, kind);
//   plane.CompleteAttach(*stream, std::move(connection));
//
// KcpdGrpcService (kcpd_grpc_service.h) puts this on the wire. Every method
// returns the status the RPC returns: codes and messages as kcpd.proto says.
//
// Thread-safe. A janitor thread closes streams whose attach token expired
// unused (and streams that could not get a token at all).
#ifndef KCPP_KCPD_CONTROL_PLANE_H_
#define KCPP_KCPD_CONTROL_PLANE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "kcpd/internal/attach_token_registry.h"
#include "kcpd/internal/event_hub.h"
#include "kcpd/session_backend.h"
#include "proto/kcpp/v1/kcpd.pb.h"

namespace kcpp::service {

struct ControlPlaneOptions {
  // Data sockets, as reported in DataAttachment.socket_path.
  std::string stream_socket_path;
  std::string seqpacket_socket_path;
  // How long an attach token stays valid; a stream nobody attached to by
  // then is closed.
  absl::Duration attach_timeout = absl::Seconds(30);
  // Streams waiting for an application to attach, at most; of those, the
  // streams peers opened through one listener (or through the sessions kcpd
  // dialled) at most max_pending_attachments_per_listener, and peers never
  // take the last local_attachment_reserve (those are for DialSession and
  // OpenStream). A peer's stream over a limit is dropped and counted
  // (Listener.attachments_dropped, Stats.attachments_dropped).
  size_t max_pending_attachments = 16384;
  size_t max_pending_attachments_per_listener = 4096;
  size_t local_attachment_reserve = 1024;
  // Watchers (WatchSessionEvents), at most, and per uid; events (and bytes
  // of events) a watcher may fall behind before it is ended.
  size_t max_watchers = 128;
  size_t max_watchers_per_uid = 16;
  size_t max_watch_queue = 4096;
  size_t max_watch_queue_bytes = 1 << 20;
  // Reported in Stats.version.
  std::string version = "kcpd";
  // Never goes backwards; defaults to a monotonic clock. Tests substitute one.
  std::function<absl::Time()> monotonic_clock = nullptr;
  // Runs the janitor thread (tests that drive expiry by hand turn it off and
  // call CollectExpiredAttachments()).
  bool run_janitor = true;
};

class ControlPlane final : public SessionEventSink {
 public:
  // `backend` must outlive this object; its event sink is set to this.
  ControlPlane(SessionBackend* backend, ControlPlaneOptions options);
  // Ends watches (as BeginShutdown), detaches from the backend's events and
  // stops the janitor.
  ~ControlPlane() override;
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // ---- The API (kcpd.proto) --------------------------------------------
  absl::Status CreateListener(const kcpp::v1::CreateListenerRequest& request,
                              kcpp::v1::Listener* response);
  absl::Status GetListener(const kcpp::v1::GetListenerRequest& request,
                           kcpp::v1::Listener* response);
  absl::Status ListListeners(const kcpp::v1::ListListenersRequest& request,
                             kcpp::v1::ListListenersResponse* response);
  absl::Status DeleteListener(const kcpp::v1::DeleteListenerRequest& request);
  absl::Status DialSession(const kcpp::v1::DialSessionRequest& request,
                           kcpp::v1::DialSessionResponse* response);
  absl::Status GetSession(const kcpp::v1::GetSessionRequest& request, kcpp::v1::Session* response);
  absl::Status ListSessions(const kcpp::v1::ListSessionsRequest& request,
                            kcpp::v1::ListSessionsResponse* response);
  absl::Status UpdateSession(const kcpp::v1::UpdateSessionRequest& request,
                             kcpp::v1::Session* response);
  absl::Status CloseSession(const kcpp::v1::CloseSessionRequest& request);
  absl::Status OpenStream(const kcpp::v1::OpenStreamRequest& request, kcpp::v1::Stream* response);
  absl::Status CloseStream(const kcpp::v1::CloseStreamRequest& request);
  absl::Status GetStats(kcpp::v1::Stats* response);
  // AttachOob: a token for the session's OOB datagrams (one pending per
  // session: a new call replaces it), redeemed on the SOCK_SEQPACKET socket.
  absl::Status AttachOob(const kcpp::v1::AttachOobRequest& request,
                         kcpp::v1::DataAttachment* response);
  // WatchSessionEvents from a caller with `uid` (nullopt if unknown):
  // validates the request and subscribes; `wake` as EventHub::Subscribe.
  // RESOURCE_EXHAUSTED over max_watchers or max_watchers_per_uid.
  absl::StatusOr<std::shared_ptr<internal::EventHub::Subscription>> Watch(
      const kcpp::v1::WatchSessionEventsRequest& request, std::optional<uint32_t> uid,
      std::function<void()> wake);
  // The same for a caller of unknown uid (in-process callers, tests).
  absl::StatusOr<std::shared_ptr<internal::EventHub::Subscription>> Watch(
      const kcpp::v1::WatchSessionEventsRequest& request, std::function<void()> wake) {
    return Watch(request, std::nullopt, std::move(wake));
  }
  void Unwatch(const std::shared_ptr<internal::EventHub::Subscription>& subscription);

  // ---- Data sockets ------------------------------------------------------
  // An application presented `token` on a `kind` data socket. On success the
  // caller answers "OK\n" and then calls CompleteAttach; on error it answers
  // "ERR <message>" (the refusal is counted).
  absl::StatusOr<StreamRef> RedeemAttachToken(absl::string_view token,
                                              internal::AttachSocketKind kind);
  // Hands the connection to the backend (which closes it on error).
  void CompleteAttach(StreamRef stream, UniqueFd connection);
  // A data connection refused before its token was looked at (uid not
  // allowed, malformed request).
  void CountRefusedAttachment();
  // A control connection refused because of its uid.
  void CountRefusedControlConnection();

  // ---- Life cycle --------------------------------------------------------
  // From now on every call returns UNAVAILABLE ("kcpd is shutting down") and
  // every watch ends with it. The backend is left to the caller (it shuts it
  // down after this). Idempotent.
  void BeginShutdown();
  // Closes streams whose attach token expired (the janitor calls this).
  void CollectExpiredAttachments();

  // SessionEventSink: called by the backend.
  void OnEvent(const kcpp::v1::SessionEvent& event) override;

 private:
  absl::Status CheckServing() const;
  // Adds `attachment` for a new stream of a session with these effective
  // options; on failure the stream is queued for closing.
  absl::Status Attach(const kcpp::v1::SessionOptions& options, kcpp::v1::Stream* stream,
                      const internal::AttachOrigin& origin);
  // Adds what the control plane counts about a listener.
  void AddListenerCounts(kcpp::v1::Listener* listener) const;
  absl::Time WallExpiry(absl::Time monotonic_expiry) const;
  void JanitorLoop();

  SessionBackend* const backend_;
  const ControlPlaneOptions options_;
  const std::function<absl::Time()> clock_;
  const absl::Time start_;
  internal::AttachTokenRegistry tokens_;
  internal::EventHub hub_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> attachments_{0};
  std::atomic<uint64_t> attachments_refused_{0};
  std::atomic<uint64_t> control_refused_{0};
  std::atomic<uint64_t> next_listener_number_{1};
  std::atomic<uint64_t> attachments_dropped_{0};
  mutable std::mutex dropped_mu_;
  // Peers' streams dropped per listener name ("listeners/x").
  absl::flat_hash_map<std::string, uint64_t> dropped_by_listener_;  // guarded by dropped_mu_

  std::mutex janitor_mu_;
  std::condition_variable janitor_cv_;  // janitor_stop_, janitor_kick_, to_close_ changed
  bool janitor_stop_ = false;           // guarded by janitor_mu_
  uint64_t janitor_kick_ = 0;           // guarded by janitor_mu_
  // Streams to close for want of a token (queued from OnEvent, which must
  // not call the backend).
  std::vector<std::pair<StreamRef, std::string>> to_close_;  // guarded by janitor_mu_
  std::thread janitor_;
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_CONTROL_PLANE_H_
