// UniqueFd: sole owner of a file descriptor, closed when the owner goes away.
//
//   UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
//   if (!fd.valid()) return ErrnoStatus("socket");
//   Use(fd.get());                 // still owned
//   Adopt(fd.release());           // ownership passed on; fd is empty now
//
// Move-only. An empty UniqueFd holds -1. close() errors are ignored (the
// descriptor is gone either way on Linux).
//
// Thread safety: none; one owner at a time, as for the descriptor itself.
#ifndef KCPP_BASE_UNIQUE_FD_H_
#define KCPP_BASE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace kcpp {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of `fd` (which may be -1).
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  // The descriptor, still owned; -1 if empty.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing; returns the descriptor.
  int release() { return std::exchange(fd_, -1); }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace kcpp

#endif  // KCPP_BASE_UNIQUE_FD_H_
