#include "tools/linkem/tun_device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::linkem {
namespace {

std::string Errno() { return std::strerror(errno); }

// Closes an fd at scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(Fd&& o) {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<TunDevice> OpenTunInNamespace(const std::string& netns, const std::string& device) {
  if (device.empty() || device.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrCat("device name must be 1-", IFNAMSIZ - 1, " characters, got \"", device, "\""));
  }
  Fd home(-1);
  if (!netns.empty()) {
    home = Fd(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (home.get() < 0) {
      return absl::UnavailableError(absl::StrCat("open /proc/self/ns/net: ", Errno()));
    }
    const std::string path = "/run/netns/" + netns;
    Fd target(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (target.get() < 0) {
      return absl::NotFoundError(absl::StrCat("network namespace \"", netns, "\" (", path,
                                              "): ", Errno(),
                                              "; create it with tools/linkem/netns.sh up"));
    }
    if (setns(target.get(), CLONE_NEWNET) != 0) {
      return absl::PermissionDeniedError(absl::StrCat("setns ", netns, ": ", Errno()));
    }
  }
  // Everything between here and the return to `home` runs inside the
  // target namespace. A TUN file belongs to the namespace it was opened in
  // (TUNSETIFF looks the device up there), so it is opened only now.
  std::string error;
  int mtu = -1;
  Fd tun(open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (tun.get() < 0) {
    error = absl::StrCat("open /dev/net/tun: ", Errno(), " (is the tun module loaded? root?)");
  } else {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, device.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (ioctl(tun.get(), TUNSETIFF, &ifr) != 0) {
      const bool busy = errno == EBUSY;
      error = absl::StrCat("TUNSETIFF ", device, " in namespace \"", netns, "\": ", Errno(),
                           busy ? " (another linkem is attached to it)"
                                : " (does the device exist? tools/linkem/netns.sh up creates it)");
    } else {
      Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq q{};
      std::strncpy(q.ifr_name, device.c_str(), IFNAMSIZ - 1);
      if (sock.get() >= 0 && ioctl(sock.get(), SIOCGIFMTU, &q) == 0) {
        mtu = q.ifr_mtu;
      } else {
        error = absl::StrCat("SIOCGIFMTU ", device, ": ", Errno());
      }
    }
  }
  if (home.get() >= 0 && setns(home.get(), CLONE_NEWNET) != 0) {
    return absl::InternalError(absl::StrCat("setns back to the original namespace: ", Errno()));
  }
  if (!error.empty()) return absl::UnavailableError(error);
  return TunDevice{tun.release(), mtu};
}

}  // namespace kcpp::linkem
