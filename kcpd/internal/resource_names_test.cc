#include "kcpd/internal/resource_names.h"

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

TEST(ResourceNames, FormatAndParseRoundTrip) {
  EXPECT_EQ(ListenerName("web-1"), "listeners/web-1");
  EXPECT_EQ(SessionName(42), "sessions/42");
  EXPECT_EQ(StreamName({42, 3}), "sessions/42/streams/3");

  EXPECT_EQ(*ParseListenerName("listeners/web-1", "name"), "web-1");
  EXPECT_EQ(*ParseSessionName("sessions/42", "name"), 42u);
  EXPECT_EQ(*ParseSessionName("sessions/18446744073709551615", "name"), 18446744073709551615u);
  const StreamRef s = *ParseStreamName("sessions/42/streams/0", "name");
  EXPECT_EQ(s.session_id, 42u);
  EXPECT_EQ(s.stream_id, 0u);
  EXPECT_EQ(ParseStreamName("sessions/1/streams/4294967295", "name")->stream_id, 4294967295u);
}

TEST(ResourceNames, ListenerIds) {
  EXPECT_TRUE(ValidateListenerId("a", "id").ok());
  EXPECT_TRUE(ValidateListenerId("tunnel-2", "id").ok());
  EXPECT_TRUE(ValidateListenerId(std::string(63, 'a'), "id").ok());
  for (const char* bad : {"", "-a", "1a", "a-", "A", "a_b", "a b", "a/b", "ä"}) {
    const absl::Status s = ValidateListenerId(bad, "listener_id");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("listener_id must be 1..63 characters"), absl::string_view::npos)
        << s.message();
  }
  EXPECT_FALSE(ValidateListenerId(std::string(64, 'a'), "id").ok());
}

TEST(ResourceNames, MalformedNamesAreInvalidArgumentNamingTheField) {
  for (const char* bad : {"", "listeners/", "listener/a", "listeners/A", "listeners/a/b",
                          "sessions/1", "listeners/a-"}) {
    const auto r = ParseListenerName(bad, "name");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().substr(0, 5), "name ") << r.status().message();
  }
  for (const char* bad :
       {"", "sessions/", "sessions/0", "sessions/01", "sessions/-1", "sessions/+1", "sessions/1x",
        "sessions/18446744073709551616", "sessions/1/streams/1", "session/1", " sessions/1"}) {
    const auto r = ParseSessionName(bad, "parent");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().substr(0, 7), "parent ") << r.status().message();
  }
  for (const char* bad :
       {"", "sessions/1", "sessions/1/streams/", "sessions/1/streams/01", "sessions/0/streams/1",
        "sessions/1/streams/4294967296", "sessions/1/stream/1", "sessions/1/streams/1/x"}) {
    EXPECT_EQ(ParseStreamName(bad, "name").status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ResourceNames, ErrorsQuoteJunkReadably) {
  const std::string junk = std::string("sessions/\x01\xff") + std::string(200, 'x');
  const auto r = ParseSessionName(junk, "name");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 200u);
  EXPECT_NE(r.status().message().find("sessions/??"), absl::string_view::npos)
      << r.status().message();
}

}  // namespace
}  // namespace kcpp::service::internal
