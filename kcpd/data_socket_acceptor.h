// DataSocketAcceptor: kcpd's data sockets. Applications connect, present a
// stream's attach token (internal/attach_protocol.h; docs/kcpd.md
// "Attaching"), and from kcpd's "OK\n" on the connection is that stream.
//
//   DataSocketAcceptor::Options o;
//   o.stream_socket_path = dir + "/data.sock";            // SOCK_STREAM
//   o.seqpacket_socket_path = dir + "/data-seqpacket.sock";  // SOCK_SEQPACKET
//   KCPP_ASSIGN_OR_RETURN(auto acceptor, DataSocketAcceptor::Start(o, &handler));
//   ...
//   acceptor->Stop();   // stops accepting, removes both socket files
//
// One thread accepts on both sockets and runs every handshake without
// blocking: a connection whose uid is not allowed (SO_PEERCRED), whose first
// bytes are not an attach request, or that sends nothing for
// handshake_timeout, gets one "ERR <reason>\n" line and is closed; so does a
// token the handler refuses (wrong, expired, reused, ...). At most
// max_pending_handshakes connections wait at a time, and
// max_pending_handshakes_per_uid of one uid; more are refused at once, so a
// flood of idle connections costs a bounded amount of memory and descriptors.
// When descriptors run out anyway (EMFILE, ENFILE), a spare descriptor lets
// the loop take the pending connection off the socket and close it, and
// accepting pauses (50 ms, doubling to 1 s) instead of spinning; repeated log
// lines are rate-limited.
#ifndef KCPP_KCPD_DATA_SOCKET_ACCEPTOR_H_
#define KCPP_KCPD_DATA_SOCKET_ACCEPTOR_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "base/unix_socket.h"
#include "kcpd/internal/attach_token_registry.h"
#include "kcpd/session_backend.h"

namespace kcpp::service {

class DataSocketAcceptor {
 public:
  // What the acceptor asks of kcpd (ControlPlane in production).
  class Handler {
   public:
    virtual ~Handler() = default;
    // The stream `token` attaches, or why not (the message becomes the ERR line).
    virtual absl::StatusOr<StreamRef> Redeem(absl::string_view token,
                                             internal::AttachSocketKind kind) = 0;
    // After "OK\n" was sent: the connection now belongs to the stream.
    virtual void Attach(StreamRef stream, UniqueFd connection) = 0;
    // A connection refused before a token was looked at.
    virtual void Refused() = 0;
  };

  struct Options {
    std::string stream_socket_path;
    std::string seqpacket_socket_path;
    mode_t socket_mode = 0600;
    UidAllowList allow{0, {}};
    absl::Duration handshake_timeout = absl::Seconds(10);
    size_t max_pending_handshakes = 256;
    size_t max_pending_handshakes_per_uid = 64;
  };

  // Binds both sockets (UnixListener: stale files replaced, live
  // ones refused) and starts the accepting thread. `handler` must outlive
  // the acceptor.
  static absl::StatusOr<std::unique_ptr<DataSocketAcceptor>> Start(Options options,
                                                                   Handler* handler);
  ~DataSocketAcceptor();  // Stop()
  DataSocketAcceptor(const DataSocketAcceptor&) = delete;
  DataSocketAcceptor& operator=(const DataSocketAcceptor&) = delete;

  // Stops accepting, drops handshakes in progress, removes the socket files.
  // Attached connections are not affected. Idempotent.
  void Stop();

 private:
  struct Pending;
  DataSocketAcceptor(Options options, Handler* handler, UnixListener stream,
                     UnixListener seqpacket);
  void Loop();

  const Options options_;
  Handler* const handler_;
  UnixListener stream_;
  UnixListener seqpacket_;
  UniqueFd wake_fd_;
  SpareDescriptor spare_;
  LogRateLimiter refused_log_;
  LogRateLimiter limit_log_;
  LogRateLimiter accept_log_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_DATA_SOCKET_ACCEPTOR_H_
