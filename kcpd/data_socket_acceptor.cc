#include "kcpd/data_socket_acceptor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/errno_status.h"
#include "base/log.h"
#include "kcpd/internal/attach_protocol.h"

namespace kcpp::service {

using internal::AttachRequestParse;
using internal::AttachSocketKind;

struct DataSocketAcceptor::Pending {
  UniqueFd fd;
  AttachSocketKind kind;
  absl::Time deadline;
  std::string received;  // at most kAttachRequestSize bytes
  uid_t uid = 0;
};

namespace {

// One line, best effort (the application may already be gone), then close.
void Refuse(UniqueFd fd, absl::string_view reason) {
  const std::string line = internal::FormatAttachError(reason);
  (void)!::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataSocketAcceptor>> DataSocketAcceptor::Start(Options options,
                                                                              Handler* handler) {
  absl::StatusOr<UnixListener> stream =
      UnixListener::Listen(options.stream_socket_path, SOCK_STREAM, options.socket_mode);
  if (!stream.ok()) return stream.status();
  absl::StatusOr<UnixListener> seqpacket = UnixListener::Listen(
      options.seqpacket_socket_path, SOCK_SEQPACKET, options.socket_mode);
  if (!seqpacket.ok()) return seqpacket.status();
  std::unique_ptr<DataSocketAcceptor> a(new DataSocketAcceptor(
      std::move(options), handler, *std::move(stream), *std::move(seqpacket)));
  if (!a->wake_fd_.valid()) return ErrnoStatus("eventfd");
  a->thread_ = std::thread([p = a.get()] { p->Loop(); });
  return a;
}

DataSocketAcceptor::DataSocketAcceptor(Options options, Handler* handler,
                                       UnixListener stream,
                                       UnixListener seqpacket)
    : options_(std::move(options)),
      handler_(handler),
      stream_(std::move(stream)),
      seqpacket_(std::move(seqpacket)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

DataSocketAcceptor::~DataSocketAcceptor() { Stop(); }

void DataSocketAcceptor::Stop() {
  if (stopped_) return;
  stopped_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  stream_.Close();
  seqpacket_.Close();
}

void DataSocketAcceptor::Loop() {
  std::list<Pending> pending;
  std::vector<pollfd> fds;
  std::vector<std::list<Pending>::iterator> owners;
  AcceptBackoff backoff;
  absl::Time paused_until = absl::InfinitePast();  // out of descriptors: not accepting
  while (true) {
    fds.clear();
    owners.clear();
    const bool accepting = absl::Now() >= paused_until;
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({accepting ? stream_.fd() : -1, POLLIN, 0});  // poll skips -1
    fds.push_back({accepting ? seqpacket_.fd() : -1, POLLIN, 0});
    absl::Time next_deadline = accepting ? absl::InfiniteFuture() : paused_until;
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      fds.push_back({it->fd.get(), POLLIN, 0});
      owners.push_back(it);
      next_deadline = std::min(next_deadline, it->deadline);
    }
    int timeout_ms = -1;
    if (next_deadline != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(next_deadline - absl::Now()) + 1, 0, 60000));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      Log(LogLevel::kError, ErrnoStatus("data sockets: poll").ToString());
      return;
    }
    if (fds[0].revents != 0) return;  // Stop()

    // New connections.
    for (int i : {1, 2}) {
      if (fds[i].revents == 0 || fds[i].fd < 0) continue;
      const AttachSocketKind kind =
          i == 1 ? AttachSocketKind::kStream : AttachSocketKind::kSeqpacket;
      while (absl::Now() >= paused_until) {
        AcceptResult r = AcceptConnection(fds[i].fd, &spare_);
        if (r.kind == AcceptResult::Kind::kNone) break;
        if (r.kind != AcceptResult::Kind::kAccepted) {
          const absl::Duration pause = backoff.Next();
          paused_until = absl::Now() + pause;
          accept_log_.Log(LogLevel::kWarning,
                          absl::StrCat("data sockets: accept: ", std::strerror(r.error),
                                       r.shed ? "; closed a pending connection unanswered" : "",
                                       "; accepting again in ", absl::FormatDuration(pause),
                                       " (", pending.size(), " handshakes in progress)"));
          break;
        }
        backoff.Reset();
        UniqueFd fd = std::move(r.fd);
        absl::StatusOr<PeerCredentials> peer = GetPeerCredentials(fd.get());
        if (!peer.ok() || !options_.allow.Allows(peer->uid)) {
          const std::string who = peer.ok() ? absl::StrCat("uid ", peer->uid) : "unknown uid";
          refused_log_.Log(LogLevel::kWarning,
                           absl::StrCat("refused a data connection from ", who,
                                        " (allowed: ", options_.allow.ToString(), ")"));
          Refuse(std::move(fd), absl::StrCat(who, " is not allowed to attach to this kcpd"));
          handler_->Refused();
          continue;
        }
        const size_t of_uid = std::count_if(pending.begin(), pending.end(),
                                            [&](const Pending& p) { return p.uid == peer->uid; });
        if (pending.size() >= options_.max_pending_handshakes ||
            of_uid >= options_.max_pending_handshakes_per_uid) {
          limit_log_.Log(LogLevel::kWarning,
                         absl::StrCat("refused a data connection from uid ", peer->uid, ": ",
                                      of_uid, " of its and ", pending.size(),
                                      " in all are in their handshake"));
          Refuse(std::move(fd), "too many attachments in progress; try again");
          handler_->Refused();
          continue;
        }
        pending.push_back(
            Pending{std::move(fd), kind, absl::Now() + options_.handshake_timeout, {}, peer->uid});
      }
    }

    // Handshakes.
    const absl::Time now = absl::Now();
    for (size_t i = 3; i < fds.size(); ++i) {
      auto it = owners[i - 3];
      Pending& p = *it;
      if (fds[i].revents == 0) {
        if (p.deadline <= now) {
          Refuse(std::move(p.fd), absl::StrCat("no attach request within ",
                                               absl::FormatDuration(options_.handshake_timeout)));
          handler_->Refused();
          pending.erase(it);
        }
        continue;
      }
      bool closed = false;
      if (p.kind == AttachSocketKind::kSeqpacket) {
        // One packet is the whole request; MSG_TRUNC reports a longer one.
        char buf[internal::kAttachRequestSize + 1];
        const ssize_t n = ::recv(p.fd.get(), buf, sizeof(buf), MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
          closed = true;
        } else {
          p.received.assign(buf, std::min(static_cast<size_t>(n), sizeof(buf)));
        }
      } else {
        char buf[internal::kAttachRequestSize];
        const size_t want = internal::kAttachRequestSize - p.received.size();
        const ssize_t n = ::recv(p.fd.get(), buf, want, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
          closed = true;
        } else {
          p.received.append(buf, static_cast<size_t>(n));
        }
      }
      if (closed) {  // the application gave up before finishing its request
        handler_->Refused();
        pending.erase(it);
        continue;
      }
      AttachRequestParse parse = internal::ParseAttachRequest(p.received);
      if (parse.status == AttachRequestParse::Status::kNeedMore) {
        if (p.kind == AttachSocketKind::kStream) continue;
        // A packet is all there is: a short one can never become a request.
        parse.status = AttachRequestParse::Status::kError;
        parse.error = "the attach request must be one 72-byte packet";
      }
      if (parse.status == AttachRequestParse::Status::kError) {
        Log(LogLevel::kInfo,
            absl::StrCat("refused a data connection (uid ", p.uid, "): ", parse.error));
        Refuse(std::move(p.fd), parse.error);
        handler_->Refused();
        pending.erase(it);
        continue;
      }
      absl::StatusOr<StreamRef> stream = handler_->Redeem(parse.token, p.kind);
      if (!stream.ok()) {
        Log(LogLevel::kInfo,
            absl::StrCat("refused an attachment (uid ", p.uid, "): ", stream.status().message()));
        Refuse(std::move(p.fd), stream.status().message());
        pending.erase(it);
        continue;
      }
      // A fresh socket has room for 3 bytes; if the application is already
      // gone the send fails and the backend sees end-of-file on the
      // connection, which ends the stream like any closed connection.
      // OOB attachments are answered by the backend once attached
      // (SessionBackend::AttachOob): datagrams are not kept for an
      // application that was told OK before it could receive them.
      if (!stream->oob) {
        const std::string ok = internal::FormatAttachOk();
        (void)!::send(p.fd.get(), ok.data(), ok.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      handler_->Attach(*stream, std::move(p.fd));
      pending.erase(it);
    }
  }
}

}  // namespace kcpp::service
