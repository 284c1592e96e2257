#include "tunnel/internal/json.h"

#include <string>

#include "gtest/gtest.h"

namespace kcpp::service::tunnel::internal {
namespace {

using Type = JsonValue::Type;

TEST(Json, ParsesAnObjectWithEveryValueType) {
  absl::StatusOr<JsonValue> v = ParseJson(R"( {
    "s": "a\"b\\c\/d\n", "i": -12, "f": 1.5e-3, "t": true, "n": null,
    "a": [1, [], {}], "o": {"x": false}
  } )");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->type, Type::kObject);
  ASSERT_EQ(v->members.size(), 7u);
  EXPECT_EQ(v->members[0].first, "s");
  EXPECT_EQ(v->members[0].second.text, "a\"b\\c/d\n");
  EXPECT_EQ(v->members[1].second.type, Type::kNumber);
  EXPECT_EQ(v->members[1].second.text, "-12");
  EXPECT_EQ(v->members[2].second.text, "1.5e-3");
  EXPECT_TRUE(v->members[3].second.boolean);
  EXPECT_EQ(v->members[4].second.type, Type::kNull);
  EXPECT_EQ(v->members[5].second.elements.size(), 3u);
  EXPECT_EQ(v->members[6].second.members[0].first, "x");
  EXPECT_EQ(v->members[1].second.line, 2);
  EXPECT_EQ(v->members[1].second.column, 31);
}

TEST(Json, UnicodeEscapesAndSurrogatesAsGoDecodesThem) {
  // U+00E9, U+20AC, U+1F600 (surrogate pair), then a lone high surrogate
  // and a lone low surrogate (each U+FFFD in Go).
  absl::StatusOr<JsonValue> v = ParseJson(R"("\u00e9\u20AC\ud83d\ude00\ud800x\udc00")");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->text, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbdx\xef\xbf\xbd");
  // A high surrogate followed by an escape that is not a low surrogate.
  v = ParseJson(R"("\ud800\u0041")");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->text,
            "\xef\xbf\xbd"
            "A");
}

TEST(Json, InvalidUtf8BecomesReplacementCharacters) {
  absl::StatusOr<JsonValue> v = ParseJson("\"a\xff\xc3\xa9\xe2\x82\"");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->text, "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(Json, OnlyTheFirstValueIsRead) {
  // encoding/json.Decoder.Decode reads one value and leaves the rest.
  absl::StatusOr<JsonValue> v = ParseJson("{\"a\": 1} trailing {");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->members.size(), 1u);
}

TEST(Json, RejectsWhatRfc8259Rejects) {
  for (const char* bad : {"",          "   ",
                          "{",         "{\"a\"}",
                          "{\"a\":}",  "{\"a\":1,}",
                          "[1,]",      "[1 2]",
                          "[01]",      "-",
                          "1.",        "1e",
                          "+1",        ".5",
                          "tru",       "nul",
                          "\"abc",     "\"\\x\"",
                          "\"\\u12\"", "\"a\tb\"",
                          "{'a':1}",   "{\"a\":1 \"b\":2}",
                          "/*c*/{}",   "{1:2}"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

TEST(Json, ErrorsSayWhere) {
  absl::StatusOr<JsonValue> v = ParseJson("{\n  \"mtu\" 1400\n}");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "line 2, column 9: expected ':' after an object key");
}

TEST(Json, NestingIsBounded) {
  std::string deep(kMaxJsonDepth, '[');
  deep += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJson(deep).ok());
  std::string deeper(kMaxJsonDepth + 1, '[');
  deeper += std::string(kMaxJsonDepth + 1, ']');
  absl::StatusOr<JsonValue> v = ParseJson(deeper);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("nested too deeply"), absl::string_view::npos);
  // Far deeper input fails the same way, without exhausting the stack.
  EXPECT_FALSE(ParseJson(std::string(1 << 20, '[')).ok());
}

}  // namespace
}  // namespace kcpp::service::tunnel::internal
