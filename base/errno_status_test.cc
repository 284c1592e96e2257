#include "base/errno_status.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace kcpp {
namespace {

TEST(ErrnoStatus, SaysWhatFailedWhyAndTheErrnoName) {
  const absl::Status s = ErrnoStatus("cannot open /etc/kcpd.conf", ENOENT);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "cannot open /etc/kcpd.conf: No such file or directory (ENOENT)");
}

TEST(ErrnoStatus, DefaultsToErrno) {
  errno = EACCES;
  const absl::Status s = ErrnoStatus("bind 0.0.0.0:80");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "bind 0.0.0.0:80: Permission denied (EACCES)");
}

TEST(ErrnoStatus, AddressErrorsHaveCodesThatSayWhatIsWrong) {
  EXPECT_EQ(ErrnoStatus("bind", EADDRINUSE).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus("bind", EADDRNOTAVAIL).code(), absl::StatusCode::kInvalidArgument);
  // Everything else is Abseil's mapping.
  EXPECT_EQ(ErrnoStatus("socket", EMFILE).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("connect", ECONNREFUSED).code(), absl::StatusCode::kUnavailable);
}

TEST(ErrnoStatus, UnknownErrnoKeepsItsNumber) {
  const absl::Status s = ErrnoStatus("ioctl", 4242);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "ioctl: unknown error 4242");
}

}  // namespace
}  // namespace kcpp
