// ControlSocketServer: accepts control connections on kcpd's Unix socket,
// checks each peer's uid (SO_PEERCRED) against the allow-list, and hands the
// connection to a gRPC server: the real one for allowed uids, the one that
// answers PERMISSION_DENIED for everybody else. gRPC cannot check peer
// credentials itself, which is why kcpd accepts the connections.
//
//   KCPP_ASSIGN_OR_RETURN(auto control,
//       ControlSocketServer::Start({.path = p, .mode = 0600, .allow = allow},
//                                  kcpd_server.get(), deny_server.get(), on_refused));
//   ...
//   control->Stop();   // no new connections; the socket file is removed
#ifndef KCPP_SERVICE_CONTROL_SOCKET_SERVER_H_
#define KCPP_SERVICE_CONTROL_SOCKET_SERVER_H_

#include <grpcpp/server.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "service/internal/unix_socket.h"

namespace kcpp::service {

class ControlSocketServer {
 public:
  struct Options {
    std::string path;
    mode_t mode = 0600;
    internal::UidAllowList allow{0, {}};
  };

  // Binds `options.path` (stale socket replaced, live one refused) and
  // starts accepting. Both servers must be started and outlive this object;
  // `on_refused` runs on the accepting thread for every refused connection.
  static absl::StatusOr<std::unique_ptr<ControlSocketServer>> Start(
      Options options, grpc::Server* allowed, grpc::Server* denied,
      std::function<void()> on_refused);
  ~ControlSocketServer();  // Stop()
  ControlSocketServer(const ControlSocketServer&) = delete;
  ControlSocketServer& operator=(const ControlSocketServer&) = delete;

  // Stops accepting and removes the socket file. Connections already handed
  // to gRPC stay until the server shuts down. Idempotent.
  void Stop();

 private:
  ControlSocketServer(Options options, internal::UnixListener listener, grpc::Server* allowed,
                      grpc::Server* denied, std::function<void()> on_refused);
  void Loop();

  const Options options_;
  internal::UnixListener listener_;
  grpc::Server* const allowed_;
  grpc::Server* const denied_;
  const std::function<void()> on_refused_;
  UniqueFd wake_fd_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace kcpp::service

#endif  // KCPP_SERVICE_CONTROL_SOCKET_SERVER_H_
