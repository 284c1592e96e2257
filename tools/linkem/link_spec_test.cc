#include "tools/linkem/link_spec.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kcpp::linkem {
namespace {

using ::testing::HasSubstr;

TEST(LinkSpecTest, ParsesRates) {
  EXPECT_EQ(*ParseRateBps("0"), 0);
  EXPECT_EQ(*ParseRateBps("2500000"), 2'500'000);
  EXPECT_EQ(*ParseRateBps("800k"), 800'000);
  EXPECT_EQ(*ParseRateBps("100M"), 100'000'000);
  EXPECT_EQ(*ParseRateBps("100mbit"), 100'000'000);
  EXPECT_EQ(*ParseRateBps("1.5Gbit"), 1'500'000'000);
  EXPECT_EQ(*ParseRateBps("1G"), 1'000'000'000);
  EXPECT_EQ(*ParseRateBps("10Mbps"), 10'000'000);
  EXPECT_THAT(ParseRateBps("100X").status().message(), HasSubstr("unit must be k, M or G"));
  EXPECT_THAT(ParseRateBps("fast").status().message(), HasSubstr("not a number"));
  EXPECT_FALSE(ParseRateBps("-1M").ok());
  EXPECT_FALSE(ParseRateBps("").ok());
}

TEST(LinkSpecTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationUs("0"), 0);
  EXPECT_EQ(*ParseDurationUs("25ms"), 25'000);
  EXPECT_EQ(*ParseDurationUs("1.5s"), 1'500'000);
  EXPECT_EQ(*ParseDurationUs("300us"), 300);
  EXPECT_THAT(ParseDurationUs("25").status().message(), HasSubstr("with a unit"));
  EXPECT_FALSE(ParseDurationUs("-1ms").ok());
  EXPECT_FALSE(ParseDurationUs("2h").ok());
}

TEST(LinkSpecTest, ParsesProbabilities) {
  EXPECT_DOUBLE_EQ(*ParseProbability("0.01"), 0.01);
  EXPECT_DOUBLE_EQ(*ParseProbability("1%"), 0.01);
  EXPECT_DOUBLE_EQ(*ParseProbability("0.5%"), 0.005);
  EXPECT_DOUBLE_EQ(*ParseProbability("1"), 1);
  EXPECT_FALSE(ParseProbability("1.01").ok());
  EXPECT_FALSE(ParseProbability("101%").ok());
  EXPECT_FALSE(ParseProbability("1x").ok());
}

TEST(LinkSpecTest, ParsesQueues) {
  EXPECT_EQ(ParseQueue("150000")->bytes, 150'000);
  EXPECT_EQ(ParseQueue("64KiB")->bytes, 65'536);
  EXPECT_EQ(ParseQueue("2MB")->bytes, 2'000'000);
  EXPECT_EQ(ParseQueue("0")->bytes, 0);
  EXPECT_DOUBLE_EQ(ParseQueue("1bdp")->bdp, 1);
  EXPECT_DOUBLE_EQ(ParseQueue("2.5BDP")->bdp, 2.5);
  EXPECT_FALSE(ParseQueue("0bdp").ok());
  EXPECT_FALSE(ParseQueue("12 parsecs").ok());
}

TEST(LinkSpecTest, SplitsDirections) {
  EXPECT_EQ(*SplitDirections("25ms"), std::make_pair(std::string("25ms"), std::string("25ms")));
  EXPECT_EQ(*SplitDirections("10M/1M"), std::make_pair(std::string("10M"), std::string("1M")));
  EXPECT_FALSE(SplitDirections("1/2/3").ok());
}

TEST(LinkSpecTest, AppliesOverBaseAndQueueSeesFinalRateAndDelays) {
  LinkSpec spec;
  spec.rate = "100M/10M";
  spec.delay = "20ms/30ms";
  spec.queue = "1bdp";
  spec.loss = "1%";
  absl::StatusOr<LinkPair> l = spec.Apply(LinkPair{});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->a2b.rate_bps, 100'000'000);
  EXPECT_EQ(l->b2a.rate_bps, 10'000'000);
  EXPECT_EQ(l->a2b.delay_us, 20'000);
  EXPECT_EQ(l->b2a.delay_us, 30'000);
  // Each direction's rate x the 50 ms round trip.
  EXPECT_EQ(l->a2b.queue_bytes, 625'000);
  EXPECT_EQ(l->b2a.queue_bytes, 62'500);
  EXPECT_DOUBLE_EQ(l->a2b.loss, 0.01);
  EXPECT_EQ(l->a2b.jitter_us, 0);  // untouched
}

TEST(LinkSpecTest, ErrorsNameTheFlag) {
  LinkSpec spec;
  spec.delay = "25";
  EXPECT_THAT(spec.Apply({}).status().message(), HasSubstr("--delay"));
  spec = {};
  spec.queue = "1bdp";
  EXPECT_THAT(spec.Apply({}).status().message(), HasSubstr("needs a rate and a delay"));
  spec = {};
  spec.ge_enter_bad = "0.1";
  spec.ge_exit_bad = "0";
  EXPECT_THAT(spec.Apply({}).status().message(), HasSubstr("ge_exit_bad must be > 0"));
}

TEST(ProfileTest, ProfilesAreValidDistinctAndAsSpecified) {
  std::set<std::string> names;
  for (const Profile& p : Profiles()) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    const LinkPair l = p.Links(7);
    EXPECT_TRUE(l.a2b.Validate().ok()) << p.name;
    EXPECT_EQ(l.a2b.delay_us + l.b2a.delay_us, p.rtt_us) << p.name;
    EXPECT_EQ(l.a2b.queue_bytes, BdpBytes(p.rate_bps, p.rtt_us)) << p.name;
    EXPECT_EQ(l.a2b.seed, 7u);
    EXPECT_EQ(l.b2a.seed, 8u);
  }
  EXPECT_GE(names.size(), 6u);
  const Profile* bursty = *FindProfile("bursty_20m_80ms_2pct");
  EXPECT_NEAR(bursty->LossRate(), 0.02, 1e-9);
  EXPECT_DOUBLE_EQ(bursty->ge_exit_bad, 0.25);
  EXPECT_NEAR((*FindProfile("sat_10m_600ms_0.5pct"))->LossRate(), 0.005, 1e-12);
  EXPECT_THAT(FindProfile("moon").status().message(), HasSubstr("clean_1g_1ms"));
  EXPECT_THAT(ProfilesAsJsonLines(), HasSubstr("\"name\":\"clean_100m_50ms\""));
}

}  // namespace
}  // namespace kcpp::linkem
