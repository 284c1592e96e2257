// Defect 6 of issue 16: kcpd checked only the last component of its socket
// path. With a parent directory owned by another uid, that uid can rename
// kcpd's directory away and serve a fake control.sock in its place,
// capturing root's `kcpctl listeners create --key=...` with the passphrase.
// Now kcpd refuses to start on such a path, and kcpctl refuses to send
// anything to it, or to a socket owned by a stranger.
//
// usage: socket_path_test <path of kcpd> <path of kcpctl> [gtest flags]
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"
#include "tests/hardening/sockets/kcpd_process.h"

namespace kcpp::hardening {
namespace {

std::string g_kcpd;
std::string g_kcpctl;
constexpr uid_t kStranger = 65534;

kcpp::test::SubprocessResult Kcpctl(const std::string& socket, const std::string& command) {
  auto p = kcpp::test::Subprocess::Start({g_kcpctl, "--socket=" + socket, command});
  EXPECT_TRUE(p.ok()) << p.status();
  return (*p)->Wait();
}

class SocketPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "run as root: these tests give directories to uid 65534";
  }
  TempDir tmp_;
};

TEST_F(SocketPathTest, KcpdRefusesASocketDirectoryWhoseParentAnotherUidOwns) {
  const std::string parent = tmp_.path() + "/theirs";
  ASSERT_EQ(mkdir(parent.c_str(), 0755), 0);
  ASSERT_EQ(chown(parent.c_str(), kStranger, kStranger), 0);
  const std::string log = tmp_.path() + "/kcpd.log";
  // kcpd creates parent/kcpd itself (its own, mode 0700): the old check
  // looked only at that directory and started.
  auto kcpd = KcpdProcess::Start(g_kcpd, parent + "/kcpd/control.sock", log, {});
  if (kcpd->ready()) {
    ADD_FAILURE() << "kcpd started on a path the owner of " << parent << " can replace";
    kcpd->Stop();
    return;
  }
  EXPECT_EQ(kcpd->Wait(), 1);
  EXPECT_NE(ReadFile(log).find("directory " + parent + " is owned by uid 65534"),
            std::string::npos)
      << ReadFile(log);
}

TEST_F(SocketPathTest, KcpctlRefusesBeforeSendingAnything) {
  const std::string dir = tmp_.path() + "/kcpd";
  auto kcpd = KcpdProcess::Start(g_kcpd, dir + "/control.sock", tmp_.path() + "/kcpd.log", {});
  ASSERT_TRUE(kcpd->ready()) << ReadFile(tmp_.path() + "/kcpd.log");
  kcpp::test::SubprocessResult r = Kcpctl(dir + "/control.sock", "stats");
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // The stranger gets the parent: kcpctl no longer trusts what is below it.
  ASSERT_EQ(chown(tmp_.path().c_str(), kStranger, kStranger), 0);
  r = Kcpctl(dir + "/control.sock", "stats");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find(tmp_.path() + " is owned by uid 65534"), std::string::npos)
      << r.err;
  ASSERT_EQ(chown(tmp_.path().c_str(), 0, 0), 0);
  EXPECT_EQ(kcpd->Stop(), 0);

  // A socket a stranger bound (a fake kcpd) in a directory that is ours.
  const std::string fake = dir + "/fake.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, fake.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(lchown(fake.c_str(), kStranger, kStranger), 0);
  r = Kcpctl(fake, "stats");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("it is owned by uid 65534"), std::string::npos) << r.err;
  // Nothing was sent: the fake server has no connection waiting.
  pollfd pfd{fd, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
  close(fd);
}

}  // namespace
}  // namespace kcpp::hardening

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <path of kcpd> <path of kcpctl> [gtest flags]\n", argv[0]);
    return 2;
  }
  kcpp::hardening::g_kcpd = argv[1];
  kcpp::hardening::g_kcpctl = argv[2];
  return RUN_ALL_TESTS();
}
