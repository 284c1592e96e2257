#include "kcpd/internal/attach_token_registry.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

constexpr StreamRef kStream{7, 3};
const absl::Time kT0 = absl::FromUnixSeconds(1000);

AttachTokenRegistry MakeRegistry(size_t max_pending = 16) {
  return AttachTokenRegistry({.ttl = absl::Seconds(30), .max_pending = max_pending});
}

TEST(AttachTokenRegistry, TokenRedeemsOnceForItsStream) {
  AttachTokenRegistry r = MakeRegistry();
  auto issued = r.Issue(kStream, AttachSocketKind::kStream, kT0);
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->token.size(), 64u);
  EXPECT_EQ(issued->token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(issued->expire, kT0 + absl::Seconds(30));
  EXPECT_EQ(r.pending(), 1u);

  auto got = r.Redeem(issued->token, AttachSocketKind::kStream, kT0 + absl::Seconds(29));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == kStream);
  EXPECT_EQ(r.pending(), 0u);

  auto again = r.Redeem(issued->token, AttachSocketKind::kStream, kT0 + absl::Seconds(29));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("already used"), absl::string_view::npos);
}

TEST(AttachTokenRegistry, WrongTokensAreRefusedWithTheirReason) {
  AttachTokenRegistry r = MakeRegistry();
  auto issued = r.Issue(kStream, AttachSocketKind::kStream, kT0);
  ASSERT_TRUE(issued.ok());
  std::string wrong = issued->token;
  wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(r.Redeem(wrong, AttachSocketKind::kStream, kT0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(r.Redeem("xyz", AttachSocketKind::kStream, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string upper = issued->token;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  if (upper != issued->token) {
    EXPECT_EQ(r.Redeem(upper, AttachSocketKind::kStream, kT0).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  // The real token still works after the failed attempts.
  EXPECT_TRUE(r.Redeem(issued->token, AttachSocketKind::kStream, kT0).ok());
}

TEST(AttachTokenRegistry, WrongSocketKindIsRefusedWithoutConsumingTheToken) {
  AttachTokenRegistry r = MakeRegistry();
  auto issued = r.Issue(kStream, AttachSocketKind::kSeqpacket, kT0);
  ASSERT_TRUE(issued.ok());
  auto wrong = r.Redeem(issued->token, AttachSocketKind::kStream, kT0);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("SOCK_SEQPACKET"), absl::string_view::npos);
  EXPECT_TRUE(r.Redeem(issued->token, AttachSocketKind::kSeqpacket, kT0).ok());
}

TEST(AttachTokenRegistry, ExpiredTokensAreRefusedAndTheirStreamsCollectedOnce) {
  AttachTokenRegistry r = MakeRegistry();
  auto a = r.Issue({1, 0}, AttachSocketKind::kStream, kT0);
  auto b = r.Issue({2, 0}, AttachSocketKind::kStream, kT0 + absl::Seconds(10));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*r.NextExpiry(), kT0 + absl::Seconds(30));

  EXPECT_TRUE(r.CollectExpired(kT0 + absl::Seconds(29)).empty());
  // At exactly ttl the token is expired even before anyone collects.
  auto late = r.Redeem(a->token, AttachSocketKind::kStream, kT0 + absl::Seconds(30));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);

  std::vector<StreamRef> expired = r.CollectExpired(kT0 + absl::Seconds(30));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_TRUE(expired[0] == (StreamRef{1, 0}));
  EXPECT_TRUE(r.CollectExpired(kT0 + absl::Seconds(31)).empty());  // reported once
  EXPECT_EQ(r.pending(), 1u);
  EXPECT_EQ(*r.NextExpiry(), kT0 + absl::Seconds(40));

  late = r.Redeem(a->token, AttachSocketKind::kStream, kT0 + absl::Seconds(45));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(late.status().message().find("expired"), absl::string_view::npos);

  // Explanations are kept for another ttl, then the token reads as unknown.
  r.CollectExpired(kT0 + absl::Seconds(70));
  EXPECT_EQ(r.Redeem(a->token, AttachSocketKind::kStream, kT0 + absl::Seconds(70)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AttachTokenRegistry, RevokedTokenSaysTheStreamClosed) {
  AttachTokenRegistry r = MakeRegistry();
  auto issued = r.Issue(kStream, AttachSocketKind::kStream, kT0);
  ASSERT_TRUE(issued.ok());
  r.Revoke(kStream);
  EXPECT_EQ(r.pending(), 0u);
  auto got = r.Redeem(issued->token, AttachSocketKind::kStream, kT0);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(got.status().message().find("closed"), absl::string_view::npos);
  EXPECT_TRUE(r.CollectExpired(kT0 + absl::Seconds(31)).empty());  // nothing left to close
}

TEST(AttachTokenRegistry, PendingTokensAreBounded) {
  AttachTokenRegistry r = MakeRegistry(/*max_pending=*/3);
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.Issue({1, i}, AttachSocketKind::kStream, kT0).ok());
  }
  auto full = r.Issue({1, 9}, AttachSocketKind::kStream, kT0);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  r.Revoke({1, 0});
  EXPECT_TRUE(r.Issue({1, 9}, AttachSocketKind::kStream, kT0).ok());
}

TEST(AttachTokenRegistry, PeersTakeAtMostTheirShareAndNeverTheLocalReserve) {
  AttachTokenRegistry r(
      {.ttl = absl::Seconds(30), .max_pending = 10, .max_pending_per_pool = 4, .local_reserve = 3});
  const AttachOrigin web = AttachOrigin::Remote("listeners/web");
  const AttachOrigin api = AttachOrigin::Remote("listeners/api");
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(r.Issue({1, i}, AttachSocketKind::kStream, kT0, web).ok());
  }
  // listeners/web has its share: more of its streams are refused...
  auto over = r.Issue({1, 9}, AttachSocketKind::kStream, kT0, web);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("listeners/web"), absl::string_view::npos);
  EXPECT_NE(over.status().message().find("--max_pending_attachments_per_listener"),
            absl::string_view::npos);
  EXPECT_EQ(r.pending_in("listeners/web"), 4u);
  // ...while another listener still gets its own, up to the local reserve.
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.Issue({2, i}, AttachSocketKind::kStream, kT0, api).ok());
  }
  auto reserve = r.Issue({2, 9}, AttachSocketKind::kStream, kT0, api);
  EXPECT_EQ(reserve.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(reserve.status().message().find("--local_attachment_reserve"),
            absl::string_view::npos);
  // Local calls take the reserve, and then nothing is left for anyone.
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.Issue({3, i}, AttachSocketKind::kStream, kT0).ok());
  }
  EXPECT_EQ(r.Issue({3, 9}, AttachSocketKind::kStream, kT0).status().code(),
            absl::StatusCode::kResourceExhausted);
  // A redeemed, revoked or expired token gives its pool's slot back.
  r.Revoke({1, 0});
  EXPECT_EQ(r.pending_in("listeners/web"), 3u);
  r.Revoke({3, 0});
  EXPECT_TRUE(r.Issue({3, 9}, AttachSocketKind::kStream, kT0).ok());
  EXPECT_EQ(r.CollectExpired(kT0 + absl::Seconds(31)).size(), 9u);
  EXPECT_EQ(r.pending_in("listeners/web"), 0u);
  EXPECT_EQ(r.pending_in("listeners/api"), 0u);
  EXPECT_EQ(r.pending(), 0u);
}

TEST(AttachTokenRegistry, TokensAreDistinct) {
  AttachTokenRegistry r = MakeRegistry(/*max_pending=*/2000);
  absl::flat_hash_set<std::string> seen;
  for (uint32_t i = 0; i < 1000; ++i) {
    auto issued = r.Issue({1, i}, AttachSocketKind::kStream, kT0);
    ASSERT_TRUE(issued.ok());
    EXPECT_TRUE(seen.insert(issued->token).second);
  }
}

TEST(AttachTokenRegistry, ReissueForAStreamReplacesItsToken) {
  AttachTokenRegistry r = MakeRegistry();
  auto first = r.Issue(kStream, AttachSocketKind::kStream, kT0);
  auto second = r.Issue(kStream, AttachSocketKind::kStream, kT0);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(r.pending(), 1u);
  EXPECT_FALSE(r.Redeem(first->token, AttachSocketKind::kStream, kT0).ok());
  EXPECT_TRUE(r.Redeem(second->token, AttachSocketKind::kStream, kT0).ok());
}

}  // namespace
}  // namespace kcpp::service::internal
