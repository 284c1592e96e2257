#include "base/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace kcpp {
namespace {

// A short directory under /tmp (Bazel's TEST_TMPDIR is too deep for sockets).
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kcpd-us-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// A socket file with nothing listening behind it (a crashed server's leftover).
void MakeStaleSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ASSERT_TRUE(Exists(path));
}

TEST(EnsurePrivateDirectory, CreatesWithTheModeAskedDespiteUmask) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/kcpd";
  const mode_t old = umask(0077);
  ASSERT_TRUE(EnsurePrivateDirectory(dir, 0711).ok());
  umask(old);
  EXPECT_EQ(ModeOf(dir), 0711u);
  // Existing and fine: accepted again.
  EXPECT_TRUE(EnsurePrivateDirectory(dir, 0700).ok());
}

TEST(EnsurePrivateDirectory, RefusesUnsafeDirectories) {
  TempDir tmp;
  const std::string target = tmp.path() + "/real";
  ASSERT_EQ(mkdir(target.c_str(), 0700), 0);
  const std::string link = tmp.path() + "/link";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  absl::Status s = EnsurePrivateDirectory(link, 0700);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("symlink"), absl::string_view::npos) << s;

  const std::string open_dir = tmp.path() + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  s = EnsurePrivateDirectory(open_dir, 0700);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("writable by group or others (mode 0777)"), absl::string_view::npos)
      << s;

  const std::string file = tmp.path() + "/file";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  EXPECT_EQ(EnsurePrivateDirectory(file, 0700).code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(EnsurePrivateDirectory(tmp.path() + "/missing/kcpd", 0700).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EnsurePrivateDirectory, RefusesADirectoryOwnedBySomeoneElse) {
  std::string dir;
  TempDir tmp;
  if (geteuid() == 0) {
    dir = tmp.path() + "/theirs";
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(chown(dir.c_str(), 65534, 65534), 0);
  } else {
    dir = "/";  // owned by root, and we are not root
  }
  const absl::Status s = EnsurePrivateDirectory(dir, 0700);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("is owned by uid"), absl::string_view::npos) << s;
}

// CheckSocketPath: the tests run as root (as CI does); chown to nobody
// (65534) is how "another uid" owns a directory.
constexpr uid_t kStranger = 65534;

std::string MakeDir(const std::string& path, mode_t mode, uid_t owner) {
  EXPECT_EQ(mkdir(path.c_str(), 0700), 0) << path;
  EXPECT_EQ(chmod(path.c_str(), mode), 0) << path;
  if (owner != geteuid()) EXPECT_EQ(chown(path.c_str(), owner, owner), 0) << path;
  return path;
}

void ExpectRefused(const absl::StatusOr<uid_t>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "accepted; expected a refusal naming " << needle;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find(needle), absl::string_view::npos) << r.status();
}

class SocketPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "run as root: these tests give directories to another uid";
  }
  TempDir tmp_;
  const uid_t self_ = geteuid();
};

TEST_F(SocketPathTest, PrivateChainsAreAccepted) {
  const std::string dir = MakeDir(tmp_.path() + "/kcpd", 0700, self_);
  auto owner = CheckSocketPath(dir + "/control.sock", self_);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(*owner, self_);
  // A socket directory of another uid (kcpd's own, e.g. systemd's
  // RuntimeDirectory=) under a private parent: that uid is kcpd's.
  const std::string theirs = MakeDir(tmp_.path() + "/run-kcpd", 0711, kStranger);
  owner = CheckSocketPath(theirs + "/control.sock", self_);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(*owner, kStranger);
}

TEST_F(SocketPathTest, AnAncestorOwnedByAnotherUidIsRefused) {
  // The attack: the parent's owner renames kcpd's directory away and
  // puts one with its own control.sock in its place.
  const std::string parent = MakeDir(tmp_.path() + "/theirs", 0755, kStranger);
  const std::string dir = MakeDir(parent + "/kcpd", 0700, self_);
  ExpectRefused(CheckSocketPath(dir + "/control.sock", self_),
                "directory " + parent + " is owned by uid 65534");
}

TEST_F(SocketPathTest, AGroupOrWorldWritableAncestorWithoutTheStickyBitIsRefused) {
  for (const mode_t mode : {0775, 0757, 0777}) {
    SCOPED_TRACE(mode);
    const std::string parent = MakeDir(tmp_.path() + "/open", mode, self_);
    const std::string dir = MakeDir(parent + "/kcpd", 0700, self_);
    ExpectRefused(CheckSocketPath(dir + "/control.sock", self_),
                  "directory " + parent + " is writable by group or others");
    ASSERT_EQ(rmdir(dir.c_str()), 0);
    ASSERT_EQ(rmdir(parent.c_str()), 0);
  }
}

TEST_F(SocketPathTest, StickyRootOwnedAncestorsAreAcceptedWhenWhatIsInThemIsOurs) {
  const std::string shared = MakeDir(tmp_.path() + "/tmp", 01777, 0);  // like /tmp
  const std::string ours = MakeDir(shared + "/kcpd", 0700, self_);
  EXPECT_TRUE(CheckSocketPath(ours + "/control.sock", self_).ok());
  // Anyone may create entries in /tmp: one a stranger made is theirs.
  const std::string planted = MakeDir(shared + "/planted", 0700, kStranger);
  ExpectRefused(CheckSocketPath(planted + "/control.sock", self_),
                planted + " is owned by uid 65534 inside the sticky, world-writable " + shared);
  // Sticky but owned by a stranger: the owner can rename anything in it.
  const std::string their_tmp = MakeDir(tmp_.path() + "/their-tmp", 01777, kStranger);
  const std::string in_theirs = MakeDir(their_tmp + "/kcpd", 0700, self_);
  ExpectRefused(CheckSocketPath(in_theirs + "/control.sock", self_),
                "directory " + their_tmp + " is owned by uid 65534");
}

TEST_F(SocketPathTest, TheSocketDirectoryMustNotBeWritableByOthers) {
  const std::string dir = MakeDir(tmp_.path() + "/kcpd", 01777, self_);
  ExpectRefused(CheckSocketPath(dir + "/control.sock", self_),
                "its directory " + dir + " is writable by group or others (mode 1777)");
}

TEST_F(SocketPathTest, SymlinksAreFollowedAndTheirTargetsChecked) {
  const std::string parent = MakeDir(tmp_.path() + "/theirs", 0755, kStranger);
  const std::string dir = MakeDir(parent + "/kcpd", 0700, self_);
  const std::string link = tmp_.path() + "/link";
  ASSERT_EQ(symlink(dir.c_str(), link.c_str()), 0);
  ExpectRefused(CheckSocketPath(link + "/control.sock", self_),
                "directory " + parent + " is owned by uid 65534");
}

TEST_F(SocketPathTest, KcpctlChecksTheSocketsOwner) {
  const std::string dir = MakeDir(tmp_.path() + "/kcpd", 0755, self_);
  const std::string path = dir + "/control.sock";
  EXPECT_TRUE(CheckSocketToConnect(path, self_).ok());  // missing: connecting will say so
  MakeStaleSocket(path);
  EXPECT_TRUE(CheckSocketToConnect(path, self_).ok());
  ASSERT_EQ(lchown(path.c_str(), kStranger, kStranger), 0);
  absl::Status s = CheckSocketToConnect(path, self_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("it is owned by uid 65534"), absl::string_view::npos) << s;
  // The socket of the directory's owner (kcpd running as another uid) is fine.
  ASSERT_EQ(chown(dir.c_str(), kStranger, kStranger), 0);
  EXPECT_TRUE(CheckSocketToConnect(path, self_).ok()) << CheckSocketToConnect(path, self_);
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_EQ(symlink("/tmp", path.c_str()), 0);
  s = CheckSocketToConnect(path, self_);
  EXPECT_NE(s.message().find("not a socket (a symlink)"), absl::string_view::npos) << s;
}

TEST(UnixListener, ListensWithModeAndReportsPeerCredentials) {
  TempDir tmp;
  const std::string path = tmp.path() + "/c.sock";
  auto l = UnixListener::Listen(path, SOCK_STREAM, 0600);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(ModeOf(path), 0600u);

  auto client = ConnectUnix(path, SOCK_STREAM);
  ASSERT_TRUE(client.ok()) << client.status();
  UniqueFd server(accept4(l->fd(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server.valid());
  auto peer = GetPeerCredentials(server.get());
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_EQ(peer->pid, getpid());

  l->Close();
  EXPECT_FALSE(Exists(path));
}

TEST(UnixListener, ReplacesAStaleSocket) {
  TempDir tmp;
  const std::string path = tmp.path() + "/c.sock";
  MakeStaleSocket(path);
  auto l = UnixListener::Listen(path, SOCK_STREAM, 0600);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE(ConnectUnix(path, SOCK_STREAM).ok());
}

TEST(UnixListener, RefusesALiveSocketWhetherLockedOrNot) {
  TempDir tmp;
  const std::string path = tmp.path() + "/c.sock";
  auto first = UnixListener::Listen(path, SOCK_SEQPACKET, 0600);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = UnixListener::Listen(path, SOCK_SEQPACKET, 0600);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find("another kcpd is using"), absl::string_view::npos)
      << second.status();
  EXPECT_TRUE(Exists(path));  // the live one's file was left alone

  // A live server that does not take the lock (e.g. an older kcpd): the
  // connect probe finds it.
  const std::string other = tmp.path() + "/o.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, other.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  auto third = UnixListener::Listen(other, SOCK_STREAM, 0600);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(third.status().message().find("a live server already answers"), absl::string_view::npos)
      << third.status();
  close(fd);
}

TEST(UnixListener, RefusesToReplaceSomethingElse) {
  TempDir tmp;
  const std::string path = tmp.path() + "/c.sock";
  close(open(path.c_str(), O_CREAT | O_WRONLY, 0600));
  auto l = UnixListener::Listen(path, SOCK_STREAM, 0600);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find("not a socket"), absl::string_view::npos);
  EXPECT_TRUE(Exists(path));
}

TEST(UnixListener, CloseLeavesAReplacementAlone) {
  TempDir tmp;
  const std::string path = tmp.path() + "/c.sock";
  auto l = UnixListener::Listen(path, SOCK_STREAM, 0600);
  ASSERT_TRUE(l.ok());
  // Someone removed our socket and put their own file there.
  ASSERT_EQ(unlink(path.c_str()), 0);
  close(open(path.c_str(), O_CREAT | O_WRONLY, 0600));
  l->Close();
  EXPECT_TRUE(Exists(path));
}

TEST(UnixListener, PathTooLongForSockaddr) {
  const std::string path = "/tmp/" + std::string(120, 'x');
  auto l = UnixListener::Listen(path, SOCK_STREAM, 0600);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(l.status().message().find("must be 1..107 bytes"), absl::string_view::npos)
      << l.status();
}

TEST(UidAllowList, OwnUidAndListed) {
  UidAllowList allow(1000, {1001, 0, 1001});
  EXPECT_TRUE(allow.Allows(1000));
  EXPECT_TRUE(allow.Allows(1001));
  EXPECT_TRUE(allow.Allows(0));
  EXPECT_FALSE(allow.Allows(65534));
  EXPECT_EQ(allow.ToString(), "0, 1000, 1001");
  EXPECT_FALSE(UidAllowList(0, {}).Allows(1000));
}

}  // namespace
}  // namespace kcpp
