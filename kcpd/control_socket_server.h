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
//
// What a connection may hold (docs/kcpd.md "Limits"; SECURITY.md): every
// connection handed to gRPC is counted until it ends (the server keeps a
// duplicate of its descriptor and watches it for the hang-up), at most
// `max_connections_per_uid` per uid and `max_connections` in all; one more is
// closed at once, unanswered. A refused connection (uid not allowed) gets
// `refusal_linger` to read its PERMISSION_DENIED, then kcpd shuts the socket
// down, which makes gRPC close it too. So a uid kcpd does not allow holds at
// most 2 x max_connections_per_uid of kcpd's descriptors, each for at most
// refusal_linger. When descriptors run out anyway (EMFILE, ENFILE), a spare
// descriptor lets the loop take the pending connection off the socket and
// close it, and accepting pauses (50 ms, doubling to 1 s) instead of
// spinning; repeated log lines are rate-limited.
#ifndef KCPP_KCPD_CONTROL_SOCKET_SERVER_H_
#define KCPP_KCPD_CONTROL_SOCKET_SERVER_H_

#include <grpcpp/server.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "base/unix_socket.h"

namespace kcpp::service {

class ControlSocketServer {
 public:
  struct Options {
    std::string path;
    mode_t mode = 0600;
    UidAllowList allow{0, {}};
    // Connections open at a time, per peer uid and in all (each costs kcpd
    // two descriptors).
    size_t max_connections_per_uid = 64;
    size_t max_connections = 1024;
    // How long a refused connection may stay to read its PERMISSION_DENIED.
    absl::Duration refusal_linger = absl::Seconds(1);
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
  struct Connection;
  ControlSocketServer(Options options, UnixListener listener, grpc::Server* allowed,
                      grpc::Server* denied, std::function<void()> on_refused);
  void Loop();

  const Options options_;
  UnixListener listener_;
  grpc::Server* const allowed_;
  grpc::Server* const denied_;
  const std::function<void()> on_refused_;
  UniqueFd wake_fd_;
  SpareDescriptor spare_;
  LogRateLimiter refused_log_;
  LogRateLimiter limit_log_;
  LogRateLimiter accept_log_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_CONTROL_SOCKET_SERVER_H_
