#include "transport/socket_address.h"

#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace kcpp::transport {
namespace {

TEST(SocketAddress, ParsesIpv4AndIpv6) {
  auto v4 = SocketAddress::Parse("127.0.0.1:4000");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_FALSE(v4->is_ipv6());
  EXPECT_EQ(v4->port(), 4000);
  EXPECT_EQ(v4->ToString(), "127.0.0.1:4000");

  auto v6 = SocketAddress::Parse("[::1]:65535");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_TRUE(v6->is_ipv6());
  EXPECT_EQ(v6->port(), 65535);
  EXPECT_EQ(v6->ToString(), "[::1]:65535");
}

TEST(SocketAddress, RejectsMalformedWithActionableMessages) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "localhost:80",
                          "::1:80", "[::1]80", "[::1", "1.2.3.4:-1", "1.2.3.4:8x"}) {
    auto a = SocketAddress::Parse(bad);
    EXPECT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(SocketAddress::Parse("localhost:80").status().message().find("numeric"),
            absl::string_view::npos);
}

// absl::SimpleAtoi skips surrounding whitespace and takes a sign, so these
// used to parse (issue 16, defect 7): a port is digits only, and no part of
// an address may hold whitespace or a control character.
TEST(SocketAddress, RejectsWhitespaceControlCharactersAndSignedPorts) {
  for (const char* bad :
       {"127.0.0.1:0\n", "1.2.3.4:80\n", "1.2.3.4:80\r\n", "1.2.3.4: 80", "1.2.3.4:80 ",
        "1.2.3.4:\t80", " 1.2.3.4:80", "1.2.3.4 :80", "[::1]:80\n", "[::1 ]:80", "1.2.3.4:+80",
        "1.2.3.4:-0", "[::1]:+80", "1.2.3.4:0x50", "1.2.3.4:000000000080", "1.2.3.4:\x7f"}) {
    auto a = SocketAddress::Parse(bad);
    EXPECT_FALSE(a.ok()) << absl::CHexEscape(bad);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << absl::CHexEscape(bad);
  }
  // The message names the offending character, escaped so that a log line
  // stays one line.
  const absl::Status newline = SocketAddress::Parse("127.0.0.1:0\n").status();
  EXPECT_NE(newline.message().find("\\n"), absl::string_view::npos) << newline;
  EXPECT_EQ(newline.message().find('\n'), absl::string_view::npos) << newline;
  const absl::Status plus = SocketAddress::Parse("1.2.3.4:+80").status();
  EXPECT_NE(plus.message().find("digits"), absl::string_view::npos) << plus;
  // Leading zeros within five digits are still a port.
  auto zeros = SocketAddress::Parse("1.2.3.4:00080");
  ASSERT_TRUE(zeros.ok()) << zeros.status();
  EXPECT_EQ(zeros->port(), 80);
}

TEST(SocketAddress, EqualityAndHashFollowAddressAndPort) {
  auto a = *SocketAddress::Parse("10.0.0.1:1");
  auto b = *SocketAddress::Parse("10.0.0.1:1");
  auto c = *SocketAddress::Parse("10.0.0.1:2");
  auto d = *SocketAddress::Parse("10.0.0.2:1");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_EQ(absl::Hash<SocketAddress>()(a), absl::Hash<SocketAddress>()(b));
  EXPECT_NE(absl::Hash<SocketAddress>()(a), absl::Hash<SocketAddress>()(c));
}

TEST(SocketAddress, RoundTripsThroughSockaddr) {
  auto a = *SocketAddress::Parse("[fe80::1]:9");
  auto b = SocketAddress::FromSockaddr(a.sockaddr_ptr(), a.sockaddr_len());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a, *b);
  sockaddr bogus{};
  bogus.sa_family = AF_UNIX;
  EXPECT_FALSE(SocketAddress::FromSockaddr(&bogus, sizeof(bogus)).ok());
}

}  // namespace
}  // namespace kcpp::transport
