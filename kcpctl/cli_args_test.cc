#include "kcpctl/cli_args.h"

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

const std::vector<OptionSpec> kKnown = {{"json", false},
                                        {"socket", true},
                                        {"sndwnd", true},
                                        {"timeout", true},
                                        {"close_sessions", false}};

TEST(CliArgs, PositionalsAndOptionsAnywhere) {
  auto a =
      CliArgs::Parse({"sessions", "--json", "get", "--socket", "/s", "5", "--sndwnd=128"}, kKnown);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->positional(), (std::vector<std::string>{"sessions", "get", "5"}));
  EXPECT_TRUE(a->Has("json"));
  EXPECT_EQ(*a->Get("socket"), "/s");
  EXPECT_EQ(**a->GetUint("sndwnd", 65535), 128u);
  EXPECT_FALSE(a->Has("timeout"));
  EXPECT_FALSE(a->GetUint("timeout", 10)->has_value());
  EXPECT_EQ(**a->GetBool("json"), true);
}

TEST(CliArgs, MistakesAreReported) {
  EXPECT_EQ(CliArgs::Parse({"--nope"}, kKnown).status().message(), "unknown option --nope");
  EXPECT_EQ(CliArgs::Parse({"--socket"}, kKnown).status().message(),
            "option --socket needs a value");
  EXPECT_EQ(CliArgs::Parse({"--json", "--json"}, kKnown).status().message(),
            "option --json given twice");
  auto a = CliArgs::Parse({"--sndwnd=-1", "--timeout=soon", "--json=maybe"}, kKnown);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->GetUint("sndwnd", 65535).ok());
  EXPECT_FALSE(a->GetDuration("timeout").ok());
  EXPECT_FALSE(a->GetBool("json").ok());
  a = CliArgs::Parse({"--sndwnd=70000"}, kKnown);
  EXPECT_EQ(a->GetUint("sndwnd", 65535).status().message(),
            "--sndwnd wants a whole number 0..65535, got \"70000\"");
}

TEST(CliArgs, DoubleDashEndsOptions) {
  auto a = CliArgs::Parse({"--json", "--", "--socket"}, kKnown);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->positional(), (std::vector<std::string>{"--socket"}));
}

}  // namespace
}  // namespace kcpp::service::internal
