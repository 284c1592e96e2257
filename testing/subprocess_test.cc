#include "testing/subprocess.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace kcpp::test {
namespace {

TEST(Subprocess, LinesThenTheRestAndTheExitCode) {
  auto p = Subprocess::Start({"/bin/sh", "-c", "echo READY 1; echo two; echo oops >&2; exit 3"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->ReadLine(), "READY 1");
  SubprocessResult r = (*p)->Wait();
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "two\n");
  EXPECT_EQ(r.err, "oops\n");
}

TEST(Subprocess, StdinPipeAndEnvironment) {
  Subprocess::Options o;
  o.pipe_stdin = true;
  o.env = {"KCPP_SUBPROCESS_TEST=42"};
  auto p = Subprocess::Start({"/bin/sh", "-c", "echo $KCPP_SUBPROCESS_TEST; cat"}, o);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->WriteStdin("hello\n"));
  (*p)->CloseStdin();
  SubprocessResult r = (*p)->Wait();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "42\nhello\n");
}

TEST(Subprocess, KillReportsTheSignalAndMissingProgramsExit127) {
  auto p = Subprocess::Start({"/bin/sleep", "1000"});
  ASSERT_TRUE(p.ok());
  (*p)->Kill(SIGTERM);
  EXPECT_EQ((*p)->Wait().exit_code, 128 + SIGTERM);
  auto missing = Subprocess::Start({"/nonexistent/program"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ((*missing)->Wait().exit_code, 127);
}

}  // namespace
}  // namespace kcpp::test
