#include "service/control_socket_server.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "service/internal/log.h"

namespace kcpp::service {

using internal::Log;
using internal::LogLevel;

absl::StatusOr<std::unique_ptr<ControlSocketServer>> ControlSocketServer::Start(
    Options options, grpc::Server* allowed, grpc::Server* denied,
    std::function<void()> on_refused) {
  absl::StatusOr<internal::UnixListener> listener =
      internal::UnixListener::Listen(options.path, SOCK_STREAM, options.mode);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<ControlSocketServer> s(new ControlSocketServer(
      std::move(options), *std::move(listener), allowed, denied, std::move(on_refused)));
  if (!s->wake_fd_.valid()) return ErrnoStatus("eventfd");
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

ControlSocketServer::ControlSocketServer(Options options, internal::UnixListener listener,
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
  pollfd fds[2] = {{wake_fd_.get(), POLLIN, 0}, {listener_.fd(), POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, ErrnoStatus("control socket: poll").ToString());
      return;
    }
    if (fds[0].revents != 0) return;  // Stop()
    while (true) {
      // gRPC wants a non-blocking descriptor.
      UniqueFd fd(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd.valid()) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          Log(LogLevel::kWarning, ErrnoStatus("control socket: accept").ToString());
        }
        break;
      }
      absl::StatusOr<internal::PeerCredentials> peer = internal::GetPeerCredentials(fd.get());
      if (peer.ok() && options_.allow.Allows(peer->uid)) {
        if (internal::LogEnabled(LogLevel::kDebug)) {
          Log(LogLevel::kDebug,
              absl::StrCat("control connection from uid ", peer->uid, " pid ", peer->pid));
        }
        grpc::AddInsecureChannelFromFd(allowed_, fd.release());
        continue;
      }
      Log(LogLevel::kWarning,
          absl::StrCat("refused a control connection from ",
                       peer.ok() ? absl::StrCat("uid ", peer->uid, " pid ", peer->pid)
                                 : std::string("an unknown uid"),
                       " (allowed uids: ", options_.allow.ToString(), ")"));
      on_refused_();
      grpc::AddInsecureChannelFromFd(denied_, fd.release());
    }
  }
}

}  // namespace kcpp::service
