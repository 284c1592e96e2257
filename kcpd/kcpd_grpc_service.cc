#include "kcpd/kcpd_grpc_service.h"

#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "kcpd/internal/api_errors.h"

namespace kcpp::service {

grpc::Status ToGrpcStatus(const absl::Status& status) { return internal::ToGrpcStatus(status); }

namespace {

// Finishes a unary call with `status`, and logs refusals so an operator sees
// what clients got wrong.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, absl::string_view method,
                                 const absl::Status& status) {
  if (!status.ok()) {
    Log(status.code() == absl::StatusCode::kInternal ? LogLevel::kError : LogLevel::kInfo,
        absl::StrCat(method, " -> ", status.ToString(absl::StatusToStringMode::kWithNoExtraData)));
  } else if (LogEnabled(LogLevel::kDebug)) {
    Log(LogLevel::kDebug, absl::StrCat(method, " -> OK"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The uid of the process at the other end of the call's connection. kcpd
// hands gRPC each control connection it accepted as a descriptor
// (grpc::AddInsecureChannelFromFd), and gRPC names such a peer "fd:<n>";
// the descriptor stays open for as long as the call lives, so asking the
// kernel (SO_PEERCRED) about it now is asking about this caller. nullopt for
// any other kind of channel (in-process, or a listening port in tests).
std::optional<uint32_t> PeerUid(const std::string& peer) {
  int fd = -1;
  if (!absl::StartsWith(peer, "fd:") || !absl::SimpleAtoi(peer.substr(3), &fd) || fd < 0) {
    return std::nullopt;
  }
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    return std::nullopt;
  }
  return cred.uid;
}

// One WatchSessionEvents call: writes the subscription's events one at a
// time. Shared ownership keeps it alive while the hub's wake callback runs;
// gRPC's own reference is dropped in OnDone.
class WatchReactor final : public grpc::ServerWriteReactor<kcpp::v1::SessionEvent>,
                           public std::enable_shared_from_this<WatchReactor> {
 public:
  static grpc::ServerWriteReactor<kcpp::v1::SessionEvent>* Start(
      ControlPlane* plane, const kcpp::v1::WatchSessionEventsRequest& request,
      std::optional<uint32_t> uid) {
    auto reactor = std::shared_ptr<WatchReactor>(new WatchReactor(plane));
    reactor->self_ = reactor;
    std::weak_ptr<WatchReactor> weak = reactor;
    absl::StatusOr<std::shared_ptr<internal::EventHub::Subscription>> sub =
        plane->Watch(request, uid, [weak] {
          if (std::shared_ptr<WatchReactor> r = weak.lock()) r->Pump();
        });
    if (!sub.ok()) {
      Log(LogLevel::kInfo,
          absl::StrCat("WatchSessionEvents -> ",
                       sub.status().ToString(absl::StatusToStringMode::kWithNoExtraData)));
      reactor->FinishOnce(ToGrpcStatus(sub.status()));
      return reactor.get();
    }
    {
      std::lock_guard<std::mutex> lock(reactor->mu_);
      reactor->sub_ = *std::move(sub);
    }
    Log(LogLevel::kDebug, "WatchSessionEvents: watcher added");
    // Tells the client the watch is registered (kcpd.proto): it can now act
    // without missing events.
    reactor->StartSendInitialMetadata();
    reactor->Pump();
    return reactor.get();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) cancelled_ = true;
    }
    Pump();
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    Pump();
  }

  void OnDone() override {
    std::shared_ptr<internal::EventHub::Subscription> sub;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sub = sub_;
    }
    if (sub != nullptr) plane_->Unwatch(sub);
    Log(LogLevel::kDebug, "WatchSessionEvents: watcher gone");
    std::shared_ptr<WatchReactor> keep = std::move(self_);  // may free this at scope end
  }

  // Starts the next write, or finishes, unless a write is in flight.
  void Pump() {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_ || writing_ || sub_ == nullptr) return;
      if (cancelled_) {
        finish = ToGrpcStatus(absl::CancelledError("watch cancelled"));
      } else if (internal::EventPtr e = sub_->PopShared()) {
        current_ = std::move(e);  // shared with the other watchers: no copy
        writing_ = true;
      } else if (std::optional<absl::Status> end = sub_->Finished()) {
        finish = ToGrpcStatus(*end);
      } else {
        return;  // nothing to do until the next wake
      }
      if (finish.has_value()) finished_ = true;
    }
    // gRPC calls happen without our lock: their reactions may run inline.
    if (finish.has_value()) {
      Finish(*finish);
    } else {
      StartWrite(current_.get());
    }
  }

 private:
  explicit WatchReactor(ControlPlane* plane) : plane_(plane) {}

  void FinishOnce(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  ControlPlane* const plane_;
  std::shared_ptr<WatchReactor> self_;  // gRPC's reference, dropped in OnDone
  std::mutex mu_;
  std::shared_ptr<internal::EventHub::Subscription> sub_;  // guarded by mu_
  bool writing_ = false;                                   // guarded by mu_
  bool cancelled_ = false;                                 // guarded by mu_
  bool finished_ = false;                                  // guarded by mu_
  internal::EventPtr current_;                             // held by the write in flight
};

}  // namespace

grpc::ServerUnaryReactor* KcpdGrpcService::CreateListener(
    grpc::CallbackServerContext* context, const kcpp::v1::CreateListenerRequest* request,
    kcpp::v1::Listener* response) {
  return Finish(context, "CreateListener", plane_->CreateListener(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::GetListener(grpc::CallbackServerContext* context,
                                                       const kcpp::v1::GetListenerRequest* request,
                                                       kcpp::v1::Listener* response) {
  return Finish(context, "GetListener", plane_->GetListener(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::ListListeners(
    grpc::CallbackServerContext* context, const kcpp::v1::ListListenersRequest* request,
    kcpp::v1::ListListenersResponse* response) {
  return Finish(context, "ListListeners", plane_->ListListeners(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::DeleteListener(
    grpc::CallbackServerContext* context, const kcpp::v1::DeleteListenerRequest* request,
    google::protobuf::Empty*) {
  return Finish(context, "DeleteListener", plane_->DeleteListener(*request));
}

grpc::ServerUnaryReactor* KcpdGrpcService::DialSession(grpc::CallbackServerContext* context,
                                                       const kcpp::v1::DialSessionRequest* request,
                                                       kcpp::v1::DialSessionResponse* response) {
  return Finish(context, "DialSession", plane_->DialSession(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::GetSession(grpc::CallbackServerContext* context,
                                                      const kcpp::v1::GetSessionRequest* request,
                                                      kcpp::v1::Session* response) {
  return Finish(context, "GetSession", plane_->GetSession(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::ListSessions(
    grpc::CallbackServerContext* context, const kcpp::v1::ListSessionsRequest* request,
    kcpp::v1::ListSessionsResponse* response) {
  return Finish(context, "ListSessions", plane_->ListSessions(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::UpdateSession(
    grpc::CallbackServerContext* context, const kcpp::v1::UpdateSessionRequest* request,
    kcpp::v1::Session* response) {
  return Finish(context, "UpdateSession", plane_->UpdateSession(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::CloseSession(
    grpc::CallbackServerContext* context, const kcpp::v1::CloseSessionRequest* request,
    google::protobuf::Empty*) {
  return Finish(context, "CloseSession", plane_->CloseSession(*request));
}

grpc::ServerUnaryReactor* KcpdGrpcService::OpenStream(grpc::CallbackServerContext* context,
                                                      const kcpp::v1::OpenStreamRequest* request,
                                                      kcpp::v1::Stream* response) {
  return Finish(context, "OpenStream", plane_->OpenStream(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::AttachOob(grpc::CallbackServerContext* context,
                                                     const kcpp::v1::AttachOobRequest* request,
                                                     kcpp::v1::DataAttachment* response) {
  return Finish(context, "AttachOob", plane_->AttachOob(*request, response));
}

grpc::ServerUnaryReactor* KcpdGrpcService::CloseStream(grpc::CallbackServerContext* context,
                                                       const kcpp::v1::CloseStreamRequest* request,
                                                       google::protobuf::Empty*) {
  return Finish(context, "CloseStream", plane_->CloseStream(*request));
}

grpc::ServerWriteReactor<kcpp::v1::SessionEvent>* KcpdGrpcService::WatchSessionEvents(
    grpc::CallbackServerContext* context, const kcpp::v1::WatchSessionEventsRequest* request) {
  return WatchReactor::Start(plane_, *request, PeerUid(context->peer()));
}

grpc::ServerUnaryReactor* KcpdGrpcService::GetStats(grpc::CallbackServerContext* context,
                                                    const kcpp::v1::GetStatsRequest*,
                                                    kcpp::v1::Stats* response) {
  return Finish(context, "GetStats", plane_->GetStats(response));
}

grpc::ServerGenericBidiReactor* DenyAllService::CreateReactor(grpc::GenericCallbackServerContext*) {
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const std::string& message) {
      Finish(ToGrpcStatus(internal::WithErrorReason(absl::PermissionDeniedError(message),
                                                    internal::kReasonUidNotAllowed)));
    }
    void OnDone() override { delete this; }
  };
  return new Reactor(message_);
}

}  // namespace kcpp::service
