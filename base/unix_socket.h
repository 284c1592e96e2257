// Unix-socket plumbing for kcpd's control and data sockets: private socket
// directories, listening sockets that replace stale files safely, peer
// credentials (SO_PEERCRED) and the uid allow-list.
//
//   KCPP_RETURN_IF_ERROR(EnsurePrivateDirectory("/run/user/1000/kcpd", 0700));
//   KCPP_ASSIGN_OR_RETURN(UnixListener l,
//       UnixListener::Listen("/run/user/1000/kcpd/control.sock", SOCK_STREAM, 0600));
//   int fd = accept4(l.fd(), nullptr, nullptr, SOCK_CLOEXEC);
//   KCPP_ASSIGN_OR_RETURN(PeerCredentials peer, GetPeerCredentials(fd));
//   if (!allow.Allows(peer.uid)) ...
#ifndef KCPP_BASE_UNIX_SOCKET_H_
#define KCPP_BASE_UNIX_SOCKET_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

namespace kcpp {

// Longest path a sockaddr_un holds (107 bytes plus the terminating NUL).
inline constexpr size_t kMaxUnixSocketPath = 107;

// Makes `dir` a directory kcpd may put sockets in: creates it (only the last
// component, with `create_mode`) if missing, then refuses (FailedPrecondition,
// saying what is wrong) a symlink, a non-directory, a directory owned by
// another uid than ours, or one writable by group or others.
absl::Status EnsurePrivateDirectory(const std::string& dir, mode_t create_mode);

// The StrictModes check of a socket path (as OpenSSH checks ~/.ssh), for kcpd
// before it binds and for kcpctl before it sends anything: refuses
// (FailedPrecondition, naming the directory and what is wrong) a path that
// a uid other than root and `self` could swap for a socket of its own.
// Every directory above the socket's directory (the path as written and as
// resolved, symlinks followed) must be owned by root or `self` and not be
// writable by group or others — unless it has the sticky bit (as /tmp has)
// and is owned by root or `self`: in a sticky directory only an entry's owner
// can rename or remove it, so there the next component must itself be owned
// by root or `self` (anyone may create entries in /tmp). The socket's own
// directory must not be writable by group or others; its owner may be any
// uid when its parent is private (root or `self` chose that owner: it is
// kcpd's, e.g. systemd's RuntimeDirectory= for User=kcpd), else root or
// `self`. Returns the owner of the socket's directory. A relative path is
// taken from the current directory.
absl::StatusOr<uid_t> CheckSocketPath(const std::string& socket_path, uid_t self);

// kcpctl, before it connects: CheckSocketPath, then the socket itself (if it
// exists; a missing one fails at connect as before) must be a socket, not a
// symlink, owned by its directory's owner (kcpd's uid), root or `self`.
absl::Status CheckSocketToConnect(const std::string& socket_path, uid_t self);

// A listening Unix socket bound to a path, owned exclusively.
//
// Listen() takes an flock on "<path>.lock" (left in place on exit: removing
// a lock file races with the next owner) so two kcpd never bind the same
// path. A socket file already at `path` is probed by connecting to it: if
// something answers, Listen fails with AlreadyExists ("a live kcpd..."); if
// nothing does, the file is stale and is replaced. Anything else at `path`
// (a regular file, a symlink) is refused. The socket gets `mode` (chmod
// after bind; the directory's permissions protect the moment between).
//
// Close() (and the destructor) closes the socket and unlinks `path` if it
// still names the socket this object bound.
class UnixListener {
 public:
  // `type` is SOCK_STREAM or SOCK_SEQPACKET. The fd is non-blocking.
  static absl::StatusOr<UnixListener> Listen(const std::string& path, int type, mode_t mode,
                                             int backlog = 128);

  UnixListener(UnixListener&&) = default;
  UnixListener& operator=(UnixListener&& other) {
    Close();
    fd_ = std::move(other.fd_);
    lock_ = std::move(other.lock_);
    path_ = std::move(other.path_);
    type_ = other.type_;
    dev_ = other.dev_;
    ino_ = other.ino_;
    return *this;
  }
  ~UnixListener() { Close(); }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  int type() const { return type_; }
  void Close();

 private:
  UnixListener() = default;
  UniqueFd fd_;
  UniqueFd lock_;
  std::string path_;
  int type_ = 0;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// A blocking connection to the Unix socket at `path` (close-on-exec).
absl::StatusOr<UniqueFd> ConnectUnix(const std::string& path, int type);

// A descriptor held in reserve (an open /dev/null) so that a server that ran
// out of descriptors can still take a pending connection off its listening
// socket and close it. Without that, the connection stays pending, the
// socket stays readable and the accept loop spins on EMFILE.
class SpareDescriptor {
 public:
  SpareDescriptor() { Take(); }
  bool held() const { return fd_.valid(); }
  // Frees the spare, accepts one pending connection on `listen_fd` and
  // closes it at once, then takes the spare again. True if a connection was
  // shed this way.
  bool ShedOne(int listen_fd);

 private:
  void Take();
  UniqueFd fd_;
};

// One accept4() on a non-blocking listening socket (the connection
// non-blocking and close-on-exec), for kcpd's accept loops.
struct AcceptResult {
  enum class Kind {
    kAccepted,           // `fd` is the connection
    kNone,               // nothing pending (or a connection aborted before we took it)
    kOutOfDescriptors,   // EMFILE/ENFILE: one pending connection was shed if a spare
                         // was held; the caller must stop accepting for a while
    kError,              // anything else (`error` is errno)
  };
  Kind kind = Kind::kNone;
  UniqueFd fd;
  int error = 0;
  bool shed = false;  // kOutOfDescriptors: a pending connection was closed
};
AcceptResult AcceptConnection(int listen_fd, SpareDescriptor* spare);

// How long an accept loop stops accepting after kOutOfDescriptors: doubles
// from 50 ms to at most 1 s while descriptors stay exhausted, back to 50 ms
// after a successful accept.
class AcceptBackoff {
 public:
  absl::Duration Next();
  void Reset() { next_ = absl::ZeroDuration(); }

 private:
  absl::Duration next_ = absl::ZeroDuration();
};

// Who is at the other end of a connected Unix socket (SO_PEERCRED: the
// credentials the peer had when it called connect()).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
absl::StatusOr<PeerCredentials> GetPeerCredentials(int fd);

// The uids allowed to use kcpd: its own uid plus a configured list.
class UidAllowList {
 public:
  UidAllowList(uid_t own_uid, std::vector<uid_t> others);
  bool Allows(uid_t uid) const;
  // "0" or "0, 1000, 1001".
  std::string ToString() const;

 private:
  std::vector<uid_t> uids_;  // sorted, own uid included
};

}  // namespace kcpp

#endif  // KCPP_BASE_UNIX_SOCKET_H_
