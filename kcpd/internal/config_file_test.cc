#include "kcpd/internal/config_file.h"

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

TEST(KcpdConfig, ParsesTheDocumentedExample) {
  auto c = ParseKcpdConfig(R"pb(
                             # comments are fine
                             allow_uids: 1000
                             listeners {
                               id: "tunnel"
                               listener {
                                 address: "0.0.0.0:29900"
                                 session_options {
                                   crypt: "aes"
                                   key: "it's a secrect"
                                   mode: MODE_FAST3
                                   data_shards: 10
                                   parity_shards: 3
                                 }
                               }
                             }
                           )pb",
                           "kcpd.textproto");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->listeners_size(), 1);
  EXPECT_EQ(c->listeners(0).id(), "tunnel");
  EXPECT_EQ(c->listeners(0).listener().session_options().mode(), kcpp::v1::MODE_FAST3);
  EXPECT_EQ(c->allow_uids(0), 1000u);
}

TEST(KcpdConfig, ErrorsPointAtTheLine) {
  auto c = ParseKcpdConfig("listeners {\n  id: \"a\"\n  adress: \"x\"\n}\n", "k.textproto");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().substr(0, 14), "k.textproto:3:") << c.status();
  EXPECT_NE(c.status().message().find("adress"), absl::string_view::npos);
}

TEST(KcpdConfig, MissingFile) {
  auto c = LoadKcpdConfig("/nonexistent/kcpd.textproto");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/kcpd.textproto"), absl::string_view::npos);
}

}  // namespace
}  // namespace kcpp::service::internal
