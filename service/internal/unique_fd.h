// UniqueFd: sole owner of a file descriptor, closed on destruction.
//
//   UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
//   if (!fd.valid()) return ErrnoStatus("socket");
//   Use(fd.get());                // still owned
//   grpc::AddInsecureChannelFromFd(server, fd.release());   // ownership passed on
#ifndef KCPP_SERVICE_INTERNAL_UNIQUE_FD_H_
#define KCPP_SERVICE_INTERNAL_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace kcpp::service::internal {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_SERVICE_INTERNAL_UNIQUE_FD_H_
