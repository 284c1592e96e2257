// The shipping kcpd has no test code in it: --backend=fake is refused with a
// message that says where it went, and the FakeBackend class is not linked
// in. Each check is run on the test twin too, which must pass the opposite
// way, so a check that cannot see FakeBackend at all fails here.
//
// Usage (Bazel passes them): kcpd_binary_test <kcpd> <kcpd_fake_backend_for_test>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "kcpd/testing/test_util.h"

namespace kcpp::service {
namespace {

std::string g_kcpd;
std::string g_twin;

using testing::Process;
using testing::ProcessResult;
using testing::ShortTempDir;

std::string ReadBinary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The RTTI name of kcpp::service::FakeBackend (Itanium ABI), which every
// binary that links the class's vtable carries, stripped or not.
constexpr char kFakeBackendTypeName[] = "N4kcpp7service11FakeBackendE";

TEST(KcpdBinary, ShippingKcpdDoesNotLinkFakeBackend) {
  EXPECT_FALSE(absl::StrContains(ReadBinary(g_kcpd), kFakeBackendTypeName));
  EXPECT_TRUE(absl::StrContains(ReadBinary(g_twin), kFakeBackendTypeName))
      << "the check cannot see FakeBackend even where it is linked";
}

TEST(KcpdBinary, ShippingKcpdRefusesBackendFake) {
  ShortTempDir dir;
  Process::Options o;
  o.argv = {g_kcpd, "--backend=fake", "--control_socket=" + dir.path() + "/control.sock",
            "--ready_fd=3"};
  o.ready_fd = 3;
  std::unique_ptr<Process> kcpd = Process::Start(o);
  // A kcpd that took the flag would serve (and be killed when `kcpd` goes).
  ASSERT_EQ(kcpd->WaitReady(), "") << "kcpd serves with --backend=fake";
  const ProcessResult r = kcpd->Wait();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "this kcpd has only the \"transport\" backend")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "//kcpd:kcpd_fake_backend_for_test")) << r.err;
  EXPECT_FALSE(Exists(dir.path() + "/control.sock"));
}

TEST(KcpdBinary, TestTwinServesWithBackendFake) {
  ShortTempDir dir;
  Process::Options o;
  o.argv = {g_twin, "--backend=fake", "--control_socket=" + dir.path() + "/control.sock",
            "--ready_fd=3"};
  o.ready_fd = 3;
  std::unique_ptr<Process> twin = Process::Start(o);
  EXPECT_EQ(twin->WaitReady(), "ready");
  EXPECT_TRUE(Exists(dir.path() + "/control.sock"));
}

}  // namespace
}  // namespace kcpp::service

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <kcpd> <kcpd_fake_backend_for_test>\n", argv[0]);
    return 2;
  }
  kcpp::service::g_kcpd = std::filesystem::absolute(argv[1]);
  kcpp::service::g_twin = std::filesystem::absolute(argv[2]);
  return RUN_ALL_TESTS();
}
