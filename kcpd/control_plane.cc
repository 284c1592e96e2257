#include "kcpd/control_plane.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/log.h"
#include "kcpd/internal/api_errors.h"
#include "kcpd/internal/proto_time.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/internal/resource_names.h"

namespace kcpp::service {

using internal::AttachSocketKind;
using kcpp::v1::SessionEvent;

namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

absl::Status ShuttingDown() {
  return internal::WithErrorReason(absl::UnavailableError("kcpd is shutting down"),
                                   internal::kReasonShuttingDown);
}

absl::Time SteadyNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

// AIP-158: 0 means the default, above the maximum means the maximum (a
// client asking for "everything" gets full pages, not an error), negative is
// an error.
absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) {
    return internal::InvalidFieldError(
        "page_size", absl::StrCat("must not be negative (0 means ", kDefaultPageSize, ", at most ",
                                  kMaxPageSize, " are returned), got ", requested));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min<int32_t>(requested, kMaxPageSize);
}

// Page tokens: web-safe base64 of "<kind>|<filter>|<last id>", so a token is
// only accepted for the listing (and filter) that produced it.
std::string MakePageToken(absl::string_view kind, absl::string_view filter,
                          absl::string_view last) {
  return absl::WebSafeBase64Escape(absl::StrCat(kind, "|", filter, "|", last));
}

absl::StatusOr<std::string> ReadPageToken(absl::string_view token, absl::string_view kind,
                                          absl::string_view filter) {
  std::string decoded;
  const absl::Status bad = internal::InvalidFieldError(
      "page_token",
      "is not one this listing returned (it must come from next_page_token of the same request)",
      internal::kReasonInvalidPageToken);
  if (token.size() > 512 || !absl::WebSafeBase64Unescape(token, &decoded)) return bad;
  std::vector<std::string> parts = absl::StrSplit(decoded, absl::MaxSplits('|', 2));
  if (parts.size() != 3 || parts[0] != kind || parts[1] != filter) return bad;
  return parts[2];
}

AttachSocketKind KindOf(kcpp::v1::DataAttachment::SocketType type) {
  return type == kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET ? AttachSocketKind::kSeqpacket
                                                                 : AttachSocketKind::kStream;
}

}  // namespace

ControlPlane::ControlPlane(SessionBackend* backend, ControlPlaneOptions options)
    : backend_(backend),
      options_(std::move(options)),
      clock_(options_.monotonic_clock ? options_.monotonic_clock : SteadyNow),
      start_(clock_()),
      tokens_({.ttl = options_.attach_timeout,
               .max_pending = options_.max_pending_attachments,
               .max_pending_per_pool = options_.max_pending_attachments_per_listener,
               .local_reserve = options_.local_attachment_reserve}),
      hub_({.max_queued_events = options_.max_watch_queue,
            .max_queued_bytes = options_.max_watch_queue_bytes,
            .max_watchers = options_.max_watchers,
            .max_watchers_per_uid = options_.max_watchers_per_uid},
           [this](const internal::WatchFilter& filter) {
             std::vector<kcpp::v1::Session> out;
             uint64_t after = 0;
             std::string listener_id;
             if (!filter.listener.empty()) {
               listener_id = *internal::ParseListenerName(filter.listener, "listener");
             }
             if (!filter.session.empty()) {
               auto id = internal::ParseSessionName(filter.session, "session");
               auto s = backend_->GetSession(*id, false);
               if (s.ok()) out.push_back(*std::move(s));
               return out;
             }
             while (true) {
               SessionPage page = backend_->ListSessions(after, kMaxPageSize, listener_id, false);
               for (auto& s : page.sessions) out.push_back(std::move(s));
               if (!page.more || out.empty()) break;
               after = *internal::ParseSessionName(out.back().name(), "name");
             }
             return out;
           }) {
  backend_->SetEventSink(this);
  if (options_.run_janitor) janitor_ = std::thread([this] { JanitorLoop(); });
}

ControlPlane::~ControlPlane() {
  BeginShutdown();
  backend_->SetEventSink(nullptr);
  {
    std::lock_guard<std::mutex> lock(janitor_mu_);
    janitor_stop_ = true;
  }
  janitor_cv_.notify_all();
  if (janitor_.joinable()) janitor_.join();
}

absl::Status ControlPlane::CheckServing() const {
  if (shutting_down_.load()) return ShuttingDown();
  return absl::OkStatus();
}

void ControlPlane::BeginShutdown() {
  if (shutting_down_.exchange(true)) return;
  hub_.Close(ShuttingDown());
}

absl::Time ControlPlane::WallExpiry(absl::Time monotonic_expiry) const {
  return absl::Now() + (monotonic_expiry - clock_());
}

absl::Status ControlPlane::Attach(const kcpp::v1::SessionOptions& options,
                                  kcpp::v1::Stream* stream, const internal::AttachOrigin& origin) {
  KCPP_ASSIGN_OR_RETURN(StreamRef ref, internal::ParseStreamName(stream->name(), "stream"));
  const kcpp::v1::DataAttachment::SocketType type = internal::AttachSocketType(options);
  absl::StatusOr<internal::AttachTokenRegistry::Issued> issued =
      tokens_.Issue(ref, KindOf(type), clock_(), origin);
  if (!issued.ok()) {
    // Without a token nobody can ever attach: the stream must go.
    {
      std::lock_guard<std::mutex> lock(janitor_mu_);
      to_close_.emplace_back(ref, std::string(issued.status().message()));
      ++janitor_kick_;
    }
    janitor_cv_.notify_all();
    return issued.status();
  }
  kcpp::v1::DataAttachment* a = stream->mutable_attachment();
  a->set_socket_type(type);
  a->set_socket_path(type == kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET
                         ? options_.seqpacket_socket_path
                         : options_.stream_socket_path);
  a->set_token(std::move(issued->token));
  internal::TimeToProto(WallExpiry(issued->expire), a->mutable_expire_time());
  {
    std::lock_guard<std::mutex> lock(janitor_mu_);
    ++janitor_kick_;  // the janitor may have to wake earlier
  }
  janitor_cv_.notify_all();
  return absl::OkStatus();
}

// ---- Listeners ----------------------------------------------------------------

absl::Status ControlPlane::CreateListener(const kcpp::v1::CreateListenerRequest& request,
                                          kcpp::v1::Listener* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  if (!request.listener_id().empty()) {
    KCPP_RETURN_IF_ERROR(internal::ValidateListenerId(request.listener_id(), "listener_id"));
  }
  KCPP_ASSIGN_OR_RETURN(ListenerConfig config,
                        internal::ListenerConfigFromProto(request.listener(), "listener"));
  if (!request.listener_id().empty()) {
    KCPP_ASSIGN_OR_RETURN(*response, backend_->CreateListener(request.listener_id(), config));
  } else {
    // "listener-N": the first free N (ids taken by users are skipped).
    while (true) {
      const std::string id = absl::StrCat("listener-", next_listener_number_.fetch_add(1));
      absl::StatusOr<kcpp::v1::Listener> l = backend_->CreateListener(id, config);
      if (l.ok()) {
        *response = *std::move(l);
        break;
      }
      if (l.status().code() != absl::StatusCode::kAlreadyExists ||
          backend_->GetListener(id).status().code() == absl::StatusCode::kNotFound) {
        return l.status();  // the address, not the id, was the problem
      }
    }
  }
  AddListenerCounts(response);
  Log(LogLevel::kInfo,
      absl::StrCat("created ", response->name(), " on ", response->bound_address()));
  return absl::OkStatus();
}

absl::Status ControlPlane::GetListener(const kcpp::v1::GetListenerRequest& request,
                                       kcpp::v1::Listener* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(std::string id, internal::ParseListenerName(request.name(), "name"));
  KCPP_ASSIGN_OR_RETURN(*response, backend_->GetListener(id));
  AddListenerCounts(response);
  return absl::OkStatus();
}

absl::Status ControlPlane::ListListeners(const kcpp::v1::ListListenersRequest& request,
                                         kcpp::v1::ListListenersResponse* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  std::string after;
  if (!request.page_token().empty()) {
    KCPP_ASSIGN_OR_RETURN(after, ReadPageToken(request.page_token(), "listeners", ""));
  }
  for (kcpp::v1::Listener& l : backend_->ListListeners()) {
    const std::string id = l.name().substr(strlen("listeners/"));
    if (!after.empty() && id <= after) continue;
    if (response->listeners_size() == page_size) {
      response->set_next_page_token(MakePageToken(
          "listeners", "", response->listeners(page_size - 1).name().substr(strlen("listeners/"))));
      break;
    }
    AddListenerCounts(&l);
    *response->add_listeners() = std::move(l);
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::DeleteListener(const kcpp::v1::DeleteListenerRequest& request) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(std::string id, internal::ParseListenerName(request.name(), "name"));
  KCPP_RETURN_IF_ERROR(backend_->DeleteListener(id, request.close_sessions()));
  {
    std::lock_guard<std::mutex> lock(dropped_mu_);
    dropped_by_listener_.erase(request.name());
  }
  Log(LogLevel::kInfo, absl::StrCat("deleted ", request.name(),
                                    request.close_sessions() ? " and closed its sessions" : ""));
  return absl::OkStatus();
}

// ---- Sessions -----------------------------------------------------------------

absl::Status ControlPlane::DialSession(const kcpp::v1::DialSessionRequest& request,
                                       kcpp::v1::DialSessionResponse* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(transport::SocketAddress remote,
                        internal::ParseRemoteAddress(request.remote_address(), "remote_address"));
  KCPP_ASSIGN_OR_RETURN(SessionConfig config,
                        internal::SessionConfigFromProto(request.options(), "options"));
  KCPP_ASSIGN_OR_RETURN(SessionBackend::Dialled d, backend_->Dial(remote, config, request.conv()));
  *response->mutable_session() = std::move(d.session);
  *response->mutable_stream() = std::move(d.stream);
  KCPP_RETURN_IF_ERROR(Attach(response->session().options(), response->mutable_stream(),
                              internal::AttachOrigin::Local()));
  Log(LogLevel::kInfo, absl::StrCat("dialled ", response->session().name(), " to ",
                                    response->session().remote_address(), " (conv ",
                                    response->session().conv(), ")"));
  return absl::OkStatus();
}

absl::Status ControlPlane::GetSession(const kcpp::v1::GetSessionRequest& request,
                                      kcpp::v1::Session* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(uint64_t id, internal::ParseSessionName(request.name(), "name"));
  if (!kcpp::v1::SessionView_IsValid(request.view())) {
    return internal::InvalidFieldError("view",
                                       absl::StrCat("has an unknown value ", request.view()));
  }
  KCPP_ASSIGN_OR_RETURN(*response,
                        backend_->GetSession(id, request.view() != kcpp::v1::SESSION_VIEW_BASIC));
  return absl::OkStatus();
}

absl::Status ControlPlane::ListSessions(const kcpp::v1::ListSessionsRequest& request,
                                        kcpp::v1::ListSessionsResponse* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  std::string listener_id;
  if (!request.listener().empty()) {
    KCPP_ASSIGN_OR_RETURN(listener_id, internal::ParseListenerName(request.listener(), "listener"));
  }
  if (!kcpp::v1::SessionView_IsValid(request.view())) {
    return internal::InvalidFieldError("view",
                                       absl::StrCat("has an unknown value ", request.view()));
  }
  uint64_t after = 0;
  if (!request.page_token().empty()) {
    KCPP_ASSIGN_OR_RETURN(std::string last,
                          ReadPageToken(request.page_token(), "sessions", listener_id));
    if (!absl::SimpleAtoi(last, &after)) {
      return internal::InvalidFieldError("page_token", "is not one this listing returned",
                                         internal::kReasonInvalidPageToken);
    }
  }
  SessionPage page = backend_->ListSessions(after, page_size, listener_id,
                                            request.view() == kcpp::v1::SESSION_VIEW_FULL);
  for (kcpp::v1::Session& s : page.sessions) *response->add_sessions() = std::move(s);
  if (page.more && response->sessions_size() > 0) {
    const uint64_t last =
        *internal::ParseSessionName(response->sessions(response->sessions_size() - 1).name(), "");
    response->set_next_page_token(MakePageToken("sessions", listener_id, absl::StrCat(last)));
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::UpdateSession(const kcpp::v1::UpdateSessionRequest& request,
                                         kcpp::v1::Session* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(uint64_t id,
                        internal::ParseSessionName(request.session().name(), "session.name"));
  // A malformed request is INVALID_ARGUMENT whether or not the session exists.
  KCPP_RETURN_IF_ERROR(
      internal::SessionTuningFromUpdate(request, transport::SessionOptions()).status());
  KCPP_ASSIGN_OR_RETURN(kcpp::v1::Session current, backend_->GetSession(id, false));
  // The session's current options, to validate what the update leads to.
  // Keys are never returned; a placeholder passes the "key is required"
  // check, which is about creating sessions, not tuning them.
  kcpp::v1::SessionOptions current_options = current.options();
  current_options.set_key("placeholder");
  KCPP_ASSIGN_OR_RETURN(SessionConfig config,
                        internal::SessionConfigFromProto(current_options, "session.options"));
  KCPP_ASSIGN_OR_RETURN(SessionTuning tuning,
                        internal::SessionTuningFromUpdate(request, config.transport));
  KCPP_ASSIGN_OR_RETURN(*response, backend_->TuneSession(id, tuning));
  Log(LogLevel::kInfo, absl::StrCat("updated ", response->name()));
  return absl::OkStatus();
}

absl::Status ControlPlane::CloseSession(const kcpp::v1::CloseSessionRequest& request) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(uint64_t id, internal::ParseSessionName(request.name(), "name"));
  KCPP_RETURN_IF_ERROR(backend_->CloseSession(id));
  Log(LogLevel::kInfo, absl::StrCat("closing ", request.name(), " (CloseSession)"));
  return absl::OkStatus();
}

absl::Status ControlPlane::OpenStream(const kcpp::v1::OpenStreamRequest& request,
                                      kcpp::v1::Stream* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(uint64_t id, internal::ParseSessionName(request.parent(), "parent"));
  KCPP_ASSIGN_OR_RETURN(kcpp::v1::Session session, backend_->GetSession(id, false));
  KCPP_ASSIGN_OR_RETURN(*response, backend_->OpenStream(id));
  return Attach(session.options(), response, internal::AttachOrigin::Local());
}

absl::Status ControlPlane::AttachOob(const kcpp::v1::AttachOobRequest& request,
                                     kcpp::v1::DataAttachment* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(uint64_t id, internal::ParseSessionName(request.session(), "session"));
  KCPP_RETURN_IF_ERROR(backend_->CheckOobAttachable(id));
  // A local call: it may use every slot, as DialSession and OpenStream do.
  // Issue replaces the session's token not yet redeemed, if any.
  KCPP_ASSIGN_OR_RETURN(internal::AttachTokenRegistry::Issued issued,
                        tokens_.Issue(StreamRef::Oob(id), AttachSocketKind::kSeqpacket, clock_()));
  response->set_socket_type(kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET);
  response->set_socket_path(options_.seqpacket_socket_path);
  response->set_token(std::move(issued.token));
  internal::TimeToProto(WallExpiry(issued.expire), response->mutable_expire_time());
  {
    std::lock_guard<std::mutex> lock(janitor_mu_);
    ++janitor_kick_;  // the janitor may have to wake earlier
  }
  janitor_cv_.notify_all();
  return absl::OkStatus();
}

absl::Status ControlPlane::CloseStream(const kcpp::v1::CloseStreamRequest& request) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(StreamRef ref, internal::ParseStreamName(request.name(), "name"));
  return backend_->CloseStream(ref, "closed by CloseStream");
}

absl::Status ControlPlane::GetStats(kcpp::v1::Stats* response) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  *response = backend_->GetStats();
  response->set_attachments(attachments_.load());
  response->set_attachments_refused(attachments_refused_.load());
  response->set_control_connections_refused(control_refused_.load());
  const internal::EventHub::Counters watch = hub_.counters();
  response->set_watchers(static_cast<uint32_t>(watch.watchers));
  response->set_watchers_refused(watch.refused);
  response->set_watchers_ended_behind(watch.ended_behind);
  response->set_watch_queued_events(watch.queued_events);
  response->set_watch_event_bytes(static_cast<uint64_t>(std::max<int64_t>(watch.event_bytes, 0)));
  response->set_attachments_pending(static_cast<uint32_t>(tokens_.pending()));
  response->set_attachments_dropped(attachments_dropped_.load());
  internal::DurationToProto(clock_() - start_, response->mutable_uptime());
  response->set_version(options_.version);
  response->set_backend(std::string(backend_->name()));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<internal::EventHub::Subscription>> ControlPlane::Watch(
    const kcpp::v1::WatchSessionEventsRequest& request, std::optional<uint32_t> uid,
    std::function<void()> wake) {
  KCPP_RETURN_IF_ERROR(CheckServing());
  KCPP_ASSIGN_OR_RETURN(internal::WatchFilter filter, internal::WatchFilterFromRequest(request));
  return hub_.Subscribe(std::move(filter), uid, std::move(wake));
}

void ControlPlane::AddListenerCounts(kcpp::v1::Listener* listener) const {
  listener->set_attachments_pending(static_cast<uint32_t>(tokens_.pending_in(listener->name())));
  std::lock_guard<std::mutex> lock(dropped_mu_);
  auto it = dropped_by_listener_.find(listener->name());
  listener->set_attachments_dropped(it == dropped_by_listener_.end() ? 0 : it->second);
}

void ControlPlane::Unwatch(const std::shared_ptr<internal::EventHub::Subscription>& subscription) {
  hub_.Unsubscribe(subscription);
}

// ---- Events -------------------------------------------------------------------

void ControlPlane::OnEvent(const SessionEvent& event) {
  switch (event.type()) {
    case SessionEvent::STREAM_ACCEPTED: {
      // A peer opened it: it waits in its listener's share of the slots
      // (the peers of dialled sessions share one pool), never in the
      // reserve for local calls.
      const std::string& listener = event.session().listener();
      SessionEvent e = event;
      const absl::Status attached =
          Attach(event.session().options(), e.mutable_stream(),
                 internal::AttachOrigin::Remote(
                     listener.empty() ? std::string("the peers of dialled sessions") : listener));
      if (!attached.ok()) {
        // Dropped unannounced (a FRAMING_RAW session ends with its stream);
        // logged at 1, 2, 4, 8... drops so a flood cannot flood the log.
        const uint64_t dropped = ++attachments_dropped_;
        if (!listener.empty()) {
          std::lock_guard<std::mutex> lock(dropped_mu_);
          ++dropped_by_listener_[listener];
        }
        if ((dropped & (dropped - 1)) == 0) {
          Log(LogLevel::kWarning,
              absl::StrCat("dropped ", e.stream().name(), " from ",
                           event.session().remote_address(), " (", dropped,
                           " streams opened by peers dropped so far): ", attached.message()));
        }
        return;  // it will end with STREAM_CLOSED; nobody could attach anyway
      }
      Log(LogLevel::kDebug, absl::StrCat("stream accepted: ", e.stream().name()));
      hub_.Publish(e);
      return;
    }
    case SessionEvent::STREAM_CLOSED: {
      absl::StatusOr<StreamRef> ref = internal::ParseStreamName(event.stream().name(), "");
      if (ref.ok()) tokens_.Revoke(*ref);
      Log(LogLevel::kDebug,
          absl::StrCat("stream closed: ", event.stream().name(), " (", event.reason(), ")"));
      break;
    }
    case SessionEvent::SESSION_ACCEPTED:
      Log(LogLevel::kInfo,
          absl::StrCat(event.session().listener(), " accepted ", event.session().name(), " from ",
                       event.session().remote_address()));
      break;
    case SessionEvent::SESSION_CLOSED:
    case SessionEvent::SESSION_CLOSED_BY_PEER:
    case SessionEvent::SESSION_PEER_DEAD:
      if (absl::StatusOr<uint64_t> id = internal::ParseSessionName(event.session().name(), "");
          id.ok()) {
        tokens_.Revoke(StreamRef::Oob(*id));  // its OOB token, if one waits
      }
      if (event.type() == SessionEvent::SESSION_PEER_DEAD) {
        Log(LogLevel::kWarning,
            absl::StrCat(event.session().name(), " to ", event.session().remote_address(),
                         ": peer dead: ", event.reason()));
        break;
      }
      Log(LogLevel::kInfo, absl::StrCat(event.session().name(), " closed: ", event.reason()));
      break;
    default:
      break;
  }
  hub_.Publish(event);
}

// ---- Data sockets -------------------------------------------------------------

absl::StatusOr<StreamRef> ControlPlane::RedeemAttachToken(absl::string_view token,
                                                          AttachSocketKind kind) {
  if (shutting_down_.load()) {
    ++attachments_refused_;
    return ShuttingDown();
  }
  absl::StatusOr<StreamRef> ref = tokens_.Redeem(token, kind, clock_());
  if (ref.ok() && ref->oob) {
    // Refused here, with an ERR line the application can read, rather than
    // after "OK": another application attached meanwhile, the session ended.
    if (const absl::Status s = backend_->CheckOobAttachable(ref->session_id); !s.ok()) ref = s;
  }
  // Counted before the application is told "OK", so anyone who saw the OK
  // also sees the count.
  ++(ref.ok() ? attachments_ : attachments_refused_);
  return ref;
}

void ControlPlane::CompleteAttach(StreamRef stream, UniqueFd connection) {
  const absl::Status s =
      stream.oob ? backend_->AttachOob(stream.session_id, std::move(connection))
                 : backend_->AttachStream(stream, std::move(connection));
  const std::string what = stream.oob
                               ? absl::StrCat("the OOB datagrams of ",
                                              internal::SessionName(stream.session_id))
                               : internal::StreamName(stream);
  if (!s.ok()) {
    Log(LogLevel::kWarning, absl::StrCat("attaching ", what, " failed: ", s.ToString()));
    return;
  }
  Log(LogLevel::kDebug, absl::StrCat("attached ", what));
}

void ControlPlane::CountRefusedAttachment() { ++attachments_refused_; }

void ControlPlane::CountRefusedControlConnection() { ++control_refused_; }

void ControlPlane::CollectExpiredAttachments() {
  std::vector<std::pair<StreamRef, std::string>> close;
  for (const StreamRef& ref : tokens_.CollectExpired(clock_())) {
    if (ref.oob) continue;  // an OOB token just lapses: there is no stream to close
    close.emplace_back(ref, absl::StrCat("no application attached within ",
                                         absl::FormatDuration(options_.attach_timeout)));
  }
  const size_t expired = close.size();
  {
    std::lock_guard<std::mutex> lock(janitor_mu_);
    for (auto& c : to_close_) close.push_back(std::move(c));
    to_close_.clear();
  }
  for (size_t i = 0; i < close.size(); ++i) {
    const auto& [ref, why] = close[i];
    const absl::Status s = backend_->CloseStream(ref, why);
    // Streams that got no token were logged (rate-limited) when refused: a
    // flood of them must not flood the log here.
    if (s.ok()) {
      Log(i < expired ? LogLevel::kInfo : LogLevel::kDebug,
          absl::StrCat("closed ", internal::StreamName(ref), ": ", why));
    }
  }
}

void ControlPlane::JanitorLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(janitor_mu_);
      const uint64_t kick = janitor_kick_;
      const std::optional<absl::Time> next = tokens_.NextExpiry();
      const absl::Duration wait =
          next.has_value() ? std::max(*next - clock_(), absl::ZeroDuration()) : absl::Hours(1);
      const auto woken = [this, kick]() {
        return janitor_stop_ || janitor_kick_ != kick || !to_close_.empty();
      };
      // `wait` is measured on our monotonic clock; the condition variable's
      // timeout on the steady one: equal rates, so sleeping that long is right.
      janitor_cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), woken);
      if (janitor_stop_) return;
    }
    CollectExpiredAttachments();
  }
}

}  // namespace kcpp::service
