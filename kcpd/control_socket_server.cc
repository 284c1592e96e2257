#include "kcpd/control_socket_server.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/errno_status.h"

namespace kcpp::service {


// A connection handed to gRPC, watched until it ends.
struct ControlSocketServer::Connection {
  UniqueFd watch;       // a duplicate of the descriptor gRPC owns; polled for POLLHUP
  uid_t uid = 0;
  absl::Time deadline;  // refused connections: shut down then; others: InfiniteFuture
};

absl::StatusOr<std::unique_ptr<ControlSocketServer>> ControlSocketServer::Start(
    Options options, grpc::Server* allowed, grpc::Server* denied,
    std::function<void()> on_refused) {
  absl::StatusOr<UnixListener> listener =
      // The longest backlog the kernel allows: a stranger churning connections
      // must then keep thousands pending to crowd an allowed client out.
      UnixListener::Listen(options.path, SOCK_STREAM, options.mode, SOMAXCONN);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<ControlSocketServer> s(new ControlSocketServer(
      std::move(options), *std::move(listener), allowed, denied, std::move(on_refused)));
  if (!s->wake_fd_.valid()) return ErrnoStatus("eventfd");
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

ControlSocketServer::ControlSocketServer(Options options, UnixListener listener,
                                         grpc::Server* allowed, grpc::Server* denied,
                                         std::function<void()> on_refused)
    : options_(std::move(options)),
      listener_(std::move(listener)),
      allowed_(allowed),
      denied_(denied),
      on_refused_(std::move(on_refused)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ControlSocketServer::~ControlSocketServer() { Stop(); }

void ControlSocketServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  listener_.Close();
}

void ControlSocketServer::Loop() {
  std::vector<Connection> connections;
  std::unordered_map<uid_t, size_t> per_uid;
  std::vector<pollfd> fds;
  AcceptBackoff backoff;
  absl::Time paused_until = absl::InfinitePast();

  // Takes one accepted connection: counted and handed to gRPC, or closed.
  // False if descriptors ran out.
  const auto take = [&](UniqueFd fd, absl::Time now) -> bool {
    absl::StatusOr<PeerCredentials> peer = GetPeerCredentials(fd.get());
    if (!peer.ok()) {
      refused_log_.Log(LogLevel::kWarning,
                       absl::StrCat("closed a control connection: ", peer.status().ToString()));
      on_refused_();
      return true;
    }
    const std::string who = absl::StrCat("uid ", peer->uid, " pid ", peer->pid);
    const bool allowed = options_.allow.Allows(peer->uid);
    if (allowed) {
      if (LogEnabled(LogLevel::kDebug)) {
        Log(LogLevel::kDebug, absl::StrCat("control connection from ", who));
      }
    } else {
      refused_log_.Log(LogLevel::kWarning,
                       absl::StrCat("refused a control connection from ", who,
                                    " (allowed uids: ", options_.allow.ToString(), ")"));
      on_refused_();
    }
    const size_t open = per_uid.count(peer->uid) != 0 ? per_uid[peer->uid] : 0;
    if (open >= options_.max_connections_per_uid ||
        connections.size() >= options_.max_connections) {
      limit_log_.Log(
          LogLevel::kWarning,
          open >= options_.max_connections_per_uid
              ? absl::StrCat("closed a control connection from ", who, " unanswered: uid ",
                             peer->uid, " has ", open,
                             " open (--max_control_connections_per_uid)")
              : absl::StrCat("closed a control connection from ", who, " unanswered: ",
                             connections.size(), " are open (--max_control_connections)"));
      return true;
    }
    UniqueFd watch(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!watch.valid()) {  // out of descriptors: better no connection than an uncounted one
      const int error = errno;
      const absl::Duration pause = backoff.Next();
      paused_until = now + pause;
      accept_log_.Log(LogLevel::kWarning,
                      absl::StrCat("closed a control connection from ", who,
                                   " unanswered: cannot watch it: ", std::strerror(error),
                                   "; accepting again in ", absl::FormatDuration(pause)));
      return false;
    }
    ++per_uid[peer->uid];
    connections.push_back(Connection{std::move(watch), peer->uid,
                                     allowed ? absl::InfiniteFuture()
                                             : now + options_.refusal_linger});
    grpc::AddInsecureChannelFromFd(allowed ? allowed_ : denied_, fd.release());
    return true;
  };

  while (true) {
    absl::Time now = absl::Now();
    const bool accepting = now >= paused_until;
    absl::Time wake_at = accepting ? absl::InfiniteFuture() : paused_until;
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({accepting ? listener_.fd() : -1, POLLIN, 0});  // poll skips -1
    for (const Connection& c : connections) {
      fds.push_back({c.watch.get(), 0, 0});  // POLLHUP is reported without asking
      wake_at = std::min(wake_at, c.deadline);
    }
    int timeout_ms = -1;
    if (wake_at != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(
          std::clamp<int64_t>(absl::ToInt64Milliseconds(wake_at - now) + 1, 0, 60000));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, ErrnoStatus("control socket: poll").ToString());
      return;
    }
    if (fds[0].revents != 0) return;  // Stop()

    // Connections that ended, and refused ones whose time is up. Shutting
    // the socket down (not just closing our duplicate) is what makes gRPC
    // see the end and close its descriptor.
    now = absl::Now();
    for (size_t i = connections.size(); i-- > 0;) {
      Connection& c = connections[i];
      bool ended = fds[2 + i].revents != 0;
      if (!ended && c.deadline <= now) {
        ::shutdown(c.watch.get(), SHUT_RDWR);
        ended = true;
      }
      if (!ended) continue;
      if (--per_uid[c.uid] == 0) per_uid.erase(c.uid);
      if (i + 1 != connections.size()) c = std::move(connections.back());
      connections.pop_back();
    }

    if (!accepting || fds[1].revents == 0) continue;
    while (now >= paused_until) {
      AcceptResult r = AcceptConnection(listener_.fd(), &spare_);
      if (r.kind == AcceptResult::Kind::kNone) break;
      if (r.kind == AcceptResult::Kind::kAccepted) {
        if (take(std::move(r.fd), now)) backoff.Reset();
        continue;
      }
      const absl::Duration pause = backoff.Next();
      paused_until = now + pause;
      accept_log_.Log(
          LogLevel::kWarning,
          absl::StrCat("control socket: accept: ", std::strerror(r.error),
                       r.shed ? "; closed a pending connection unanswered" : "",
                       "; accepting again in ", absl::FormatDuration(pause), " (",
                       connections.size(), " control connections open)"));
    }
  }
}

}  // namespace kcpp::service
