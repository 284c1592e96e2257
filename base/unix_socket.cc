#include "base/unix_socket.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/errno_status.h"
#include "base/log.h"

namespace kcpp {
namespace {

absl::StatusOr<sockaddr_un> MakeAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() > kMaxUnixSocketPath) {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", path, "\" is ", path.size(),
                                                   " bytes; a Unix socket path must be 1..",
                                                   kMaxUnixSocketPath, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

std::string Octal(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

// "/a/b/c" -> {"/", "/a", "/a/b", "/a/b/c"}; empty components and "." dropped
// ("..", which the kernel resolves, is kept as written).
std::vector<std::string> Prefixes(const std::string& absolute) {
  std::vector<std::string> out = {"/"};
  std::string current;
  size_t i = 0;
  while (i < absolute.size()) {
    const size_t slash = absolute.find('/', i);
    const size_t end = slash == std::string::npos ? absolute.size() : slash;
    const std::string part = absolute.substr(i, end - i);
    i = end + 1;
    if (part.empty() || part == ".") continue;
    current += "/" + part;
    out.push_back(current);
  }
  return out;
}

std::string DirectoryOf(const std::string& path) {
  std::string absolute = path;
  if (absolute.empty() || absolute[0] != '/') {
    char cwd[4096];
    absolute = std::string(::getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : ".") + "/" + absolute;
  }
  const size_t slash = absolute.rfind('/');
  return slash == 0 ? "/" : absolute.substr(0, slash);
}

// The rule of CheckSocketPath for one chain of directories, root first.
absl::StatusOr<uid_t> CheckDirectoryChain(const std::vector<std::string>& chain, uid_t self,
                                          const std::string& socket_path) {
  const auto trusted = [self](uid_t uid) { return uid == 0 || uid == self; };
  const auto refuse = [&](const std::string& why) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing socket path ", socket_path, ": ", why,
                     ", so another uid could replace the socket; use a directory only root "
                     "or uid ",
                     self, " can change"));
  };
  bool parent_shared = false;  // the previous directory was sticky and world-writable
  for (size_t i = 0; i < chain.size(); ++i) {
    const std::string& dir = chain[i];
    struct stat link {};
    struct stat st {};
    if (::lstat(dir.c_str(), &link) != 0 || ::stat(dir.c_str(), &st) != 0) {
      return ErrnoStatus(absl::StrCat("cannot check socket path ", socket_path, ": stat ", dir));
    }
    if (parent_shared && !trusted(link.st_uid)) {
      return refuse(absl::StrCat(dir, " is owned by uid ", link.st_uid, " inside the sticky, "
                                 "world-writable ", chain[i - 1], " (whoever created it owns it)"));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("refusing socket path ", socket_path, ": ", dir, " is not a directory"));
    }
    const bool writable = (st.st_mode & 022) != 0;
    if (i + 1 == chain.size()) {  // the socket's own directory
      if (writable) {
        return refuse(absl::StrCat("its directory ", dir, " is writable by group or others (mode ",
                                   Octal(st.st_mode), ")"));
      }
      return st.st_uid;
    }
    if (!trusted(st.st_uid)) {
      return refuse(absl::StrCat("directory ", dir, " is owned by uid ", st.st_uid,
                                 ", not by root or uid ", self,
                                 " (its owner can rename what is in it)"));
    }
    if (writable && (st.st_mode & S_ISVTX) == 0) {
      return refuse(absl::StrCat("directory ", dir, " is writable by group or others (mode ",
                                 Octal(st.st_mode), ") without the sticky bit"));
    }
    parent_shared = writable;
  }
  return absl::InternalError("empty directory chain");  // Prefixes always has "/"
}

}  // namespace

absl::Status EnsurePrivateDirectory(const std::string& dir, mode_t create_mode) {
  bool created = false;
  if (::mkdir(dir.c_str(), create_mode) == 0) {
    created = true;
  } else if (errno == ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create socket directory ", dir,
                     ": its parent directory does not exist (kcpd creates only the last part)"));
  } else if (errno != EEXIST) {
    return ErrnoStatus(absl::StrCat("cannot create socket directory ", dir));
  }
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return absl::FailedPreconditionError(absl::StrCat(
          "socket directory ", dir, " is a symlink or not a directory; refusing to use it"));
    }
    return ErrnoStatus(absl::StrCat("cannot open socket directory ", dir));
  }
  if (created && ::fchmod(fd.get(), create_mode) != 0) {  // umask may have narrowed it
    return ErrnoStatus(absl::StrCat("cannot chmod socket directory ", dir));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(absl::StrCat("cannot stat ", dir));
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat("socket directory ", dir, " is owned by uid ",
                                                      st.st_uid, ", not by kcpd's uid ",
                                                      ::geteuid(), "; refusing to use it"));
  }
  if ((st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket directory ", dir, " is writable by group or others (mode ",
                     Octal(st.st_mode), "); chmod go-w it or choose another directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uid_t> CheckSocketPath(const std::string& socket_path, uid_t self) {
  const std::string dir = DirectoryOf(socket_path);
  // As written: the directories each name is looked up in, and symlinks
  // found on the way (their containing directories decide who can swap them).
  absl::StatusOr<uid_t> owner = CheckDirectoryChain(Prefixes(dir), self, socket_path);
  if (!owner.ok()) return owner.status();
  // As resolved: the directories the symlinks lead through.
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) {
    return ErrnoStatus(absl::StrCat("cannot resolve ", dir));
  }
  if (dir == resolved) return owner;
  return CheckDirectoryChain(Prefixes(resolved), self, socket_path);
}

absl::Status CheckSocketToConnect(const std::string& socket_path, uid_t self) {
  absl::StatusOr<uid_t> directory_owner = CheckSocketPath(socket_path, self);
  if (!directory_owner.ok()) return directory_owner.status();
  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();  // connecting says "is kcpd running?"
    return ErrnoStatus(absl::StrCat("cannot stat ", socket_path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing ", socket_path, ": it is not a socket",
                     S_ISLNK(st.st_mode) ? " (a symlink)" : ""));
  }
  if (st.st_uid != *directory_owner && st.st_uid != 0 && st.st_uid != self) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing socket ", socket_path, ": it is owned by uid ", st.st_uid,
        ", not by its directory's owner (uid ", *directory_owner, ", kcpd's), root or uid ", self,
        "; another uid may be impersonating kcpd"));
  }
  return absl::OkStatus();
}

absl::StatusOr<UnixListener> UnixListener::Listen(const std::string& path, int type, mode_t mode,
                                                  int backlog) {
  absl::StatusOr<sockaddr_un> addr = MakeAddress(path);
  if (!addr.ok()) return addr.status();

  UnixListener l;
  l.path_ = path;
  l.type_ = type;
  const std::string lock_path = path + ".lock";
  l.lock_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!l.lock_.valid()) return ErrnoStatus(absl::StrCat("cannot open lock file ", lock_path));
  if (::flock(l.lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::AlreadyExistsError(absl::StrCat("another kcpd is using ", path, " (it holds ",
                                                   lock_path, "); stop it or choose another path"));
    }
    return ErrnoStatus(absl::StrCat("cannot lock ", lock_path));
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket; remove it or choose another path"));
    }
    UniqueFd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe.valid()) return ErrnoStatus("socket");
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0 ||
        errno == EAGAIN || errno == EINPROGRESS) {
      return absl::AlreadyExistsError(absl::StrCat("a live server already answers on ", path,
                                                   "; stop it first or choose another path"));
    }
    Log(LogLevel::kInfo, absl::StrCat("replacing stale socket ", path, " (nothing answers)"));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(absl::StrCat("cannot remove stale socket ", path));
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("cannot stat ", path));
  }

  l.fd_.reset(::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!l.fd_.valid()) return ErrnoStatus("socket(AF_UNIX)");
  if (::bind(l.fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return ErrnoStatus(absl::StrCat("cannot bind ", path));
  }
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(absl::StrCat("cannot stat ", path));
  l.dev_ = st.st_dev;
  l.ino_ = st.st_ino;
  if (::chmod(path.c_str(), mode) != 0) {
    const absl::Status s = ErrnoStatus(absl::StrCat("cannot chmod ", path));
    l.Close();
    return s;
  }
  if (::listen(l.fd_.get(), backlog) != 0) {
    const absl::Status s = ErrnoStatus(absl::StrCat("cannot listen on ", path));
    l.Close();
    return s;
  }
  return l;
}

void UnixListener::Close() {
  if (!fd_.valid()) return;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
  fd_.reset();
  lock_.reset();
}

absl::StatusOr<UniqueFd> ConnectUnix(const std::string& path, int type) {
  absl::StatusOr<sockaddr_un> addr = MakeAddress(path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket(AF_UNIX)");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return ErrnoStatus(absl::StrCat("cannot connect to ", path));
  }
  return fd;
}

void SpareDescriptor::Take() {
  if (!fd_.valid()) fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

bool SpareDescriptor::ShedOne(int listen_fd) {
  if (!fd_.valid()) {
    Take();  // maybe a descriptor was freed since
    if (!fd_.valid()) return false;
  }
  fd_.reset();
  UniqueFd shed(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  const bool ok = shed.valid();
  shed.reset();
  Take();
  return ok;
}

AcceptResult AcceptConnection(int listen_fd, SpareDescriptor* spare) {
  AcceptResult r;
  r.fd.reset(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (r.fd.valid()) {
    r.kind = AcceptResult::Kind::kAccepted;
    return r;
  }
  r.error = errno;
  switch (r.error) {
    case EAGAIN:
    case EINTR:
    case ECONNABORTED:
      r.kind = AcceptResult::Kind::kNone;
      break;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      r.kind = AcceptResult::Kind::kOutOfDescriptors;
      r.shed = spare != nullptr && spare->ShedOne(listen_fd);
      break;
    default:
      r.kind = AcceptResult::Kind::kError;
      break;
  }
  return r;
}

absl::Duration AcceptBackoff::Next() {
  next_ = next_ == absl::ZeroDuration() ? absl::Milliseconds(50)
                                        : std::min(next_ * 2, absl::Seconds(1));
  return next_;
}

absl::StatusOr<PeerCredentials> GetPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoStatus("getsockopt(SO_PEERCRED)");
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

UidAllowList::UidAllowList(uid_t own_uid, std::vector<uid_t> others) : uids_(std::move(others)) {
  uids_.push_back(own_uid);
  std::sort(uids_.begin(), uids_.end());
  uids_.erase(std::unique(uids_.begin(), uids_.end()), uids_.end());
}

bool UidAllowList::Allows(uid_t uid) const {
  return std::binary_search(uids_.begin(), uids_.end(), uid);
}

std::string UidAllowList::ToString() const { return absl::StrJoin(uids_, ", "); }

}  // namespace kcpp
