#include "crypt/replay_window.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"

#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"

namespace kcpp::crypt {
namespace {

using Verdict = ReplayWindow::Verdict;
constexpr uint64_t kW = ReplayWindow::kWindowSize;

TEST(ReplayWindowTest, InOrderThenDuplicates) {
  ReplayWindow w;
  EXPECT_TRUE(w.empty());
  for (uint64_t c = 1000; c < 1000 + 5000; ++c) ASSERT_EQ(w.Admit(c), Verdict::kNew) << c;
  EXPECT_EQ(w.highest(), 5999u);
  EXPECT_EQ(w.Admit(5999), Verdict::kDuplicate);
  EXPECT_EQ(w.Admit(5999 - kW + 1), Verdict::kDuplicate);  // oldest still tracked
  EXPECT_EQ(w.Admit(5999 - kW), Verdict::kTooOld);
  EXPECT_EQ(w.Admit(1000), Verdict::kTooOld);
}

TEST(ReplayWindowTest, ReorderedWithinTheWindowAcceptedOnce) {
  ReplayWindow w;
  ASSERT_EQ(w.Admit(10000), Verdict::kNew);
  // Everything below it inside the window arrives late, backwards.
  for (uint64_t c = 9999; c > 10000 - kW; --c) ASSERT_EQ(w.Admit(c), Verdict::kNew) << c;
  for (uint64_t c = 9999; c > 10000 - kW; --c) ASSERT_EQ(w.Admit(c), Verdict::kDuplicate) << c;
  EXPECT_EQ(w.Admit(10000 - kW), Verdict::kTooOld);
  // A gap, then the gap's counters arrive.
  ASSERT_EQ(w.Admit(10100), Verdict::kNew);
  for (uint64_t c = 10001; c < 10100; c += 2) ASSERT_EQ(w.Admit(c), Verdict::kNew) << c;
  for (uint64_t c = 10001; c < 10100; c += 2) ASSERT_EQ(w.Admit(c), Verdict::kDuplicate) << c;
  EXPECT_EQ(w.highest(), 10100u);
}

TEST(ReplayWindowTest, CheckChangesNothing) {
  ReplayWindow w;
  EXPECT_EQ(w.Check(5), Verdict::kNew);
  EXPECT_TRUE(w.empty());
  ASSERT_EQ(w.Admit(5), Verdict::kNew);
  EXPECT_EQ(w.Check(5), Verdict::kDuplicate);
  EXPECT_EQ(w.Check(6), Verdict::kNew);
  EXPECT_EQ(w.Admit(6), Verdict::kNew);
}

TEST(ReplayWindowTest, TooOldAfterTheWindowMoved) {
  ReplayWindow w;
  ASSERT_EQ(w.Admit(100), Verdict::kNew);
  ASSERT_EQ(w.Admit(101), Verdict::kNew);
  // One step just past the window: 100 and 101 fall out.
  ASSERT_EQ(w.Admit(101 + kW), Verdict::kNew);
  EXPECT_EQ(w.Admit(101), Verdict::kTooOld);
  EXPECT_EQ(w.Admit(100), Verdict::kTooOld);
  EXPECT_EQ(w.Admit(102), Verdict::kNew);  // still inside, never seen
  // A jump of many rings clears everything; the bits of the old ring must
  // not make new counters look like duplicates.
  const uint64_t far = 101 + kW + 64 * 1000 + 7;
  ASSERT_EQ(w.Admit(far), Verdict::kNew);
  for (uint64_t c = far - 1; c > far - kW; --c) ASSERT_EQ(w.Admit(c), Verdict::kNew) << c;
}

TEST(ReplayWindowTest, SlidingBySmallStepsClearsReusedWords) {
  // A counter whose bit position was used one ring ago must read as new.
  ReplayWindow w;
  for (uint64_t c = 0; c < 20000; c += 3) ASSERT_EQ(w.Admit(c), Verdict::kNew) << c;
  for (uint64_t c = 20000 - kW + 1; c < 20000; ++c) {
    EXPECT_EQ(w.Check(c), c % 3 == 0 ? Verdict::kDuplicate : Verdict::kNew) << c;
  }
}

TEST(ReplayWindowTest, CountersNearTheTopOf64Bits) {
  ReplayWindow w;
  const uint64_t top = ~uint64_t{0};
  ASSERT_EQ(w.Admit(top - 5000), Verdict::kNew);
  ASSERT_EQ(w.Admit(top), Verdict::kNew);
  EXPECT_EQ(w.Admit(top), Verdict::kDuplicate);
  EXPECT_EQ(w.Admit(top - 1), Verdict::kNew);
  EXPECT_EQ(w.Admit(top - 5000), Verdict::kTooOld);
  // Nothing wraps: a small counter (a sender that wrapped, which ours never
  // does) is far behind, not ahead.
  EXPECT_EQ(w.Admit(0), Verdict::kTooOld);
  EXPECT_EQ(w.Admit(1), Verdict::kTooOld);
}

TEST(ReplayWindowTest, ANewSenderIsANewWindow) {
  // A peer's new session (its epoch) starts at an unrelated random counter;
  // kcpp gives every session its own window, so a lower start is fine there
  // and the old session's window is not consulted.
  ReplayWindow old_session, new_session;
  ASSERT_EQ(old_session.Admit(1u << 30), Verdict::kNew);
  EXPECT_EQ(old_session.Admit(5), Verdict::kTooOld);
  EXPECT_EQ(new_session.Admit(5), Verdict::kNew);
}

TEST(ReplayCounterTest, StartsBelow2To62AndCounts) {
  std::set<uint64_t> starts;
  for (int i = 0; i < 64; ++i) {
    const uint64_t s = ReplayCounter::RandomStart();
    EXPECT_LT(s, uint64_t{1} << 62);
    starts.insert(s);
  }
  EXPECT_EQ(starts.size(), 64u);  // 64 draws of 62 bits: a repeat means a broken source
  ReplayCounter c(41);
  EXPECT_EQ(c.Next(7).counter, 41u);
  const ReplayStamp s = c.Next(9);
  EXPECT_EQ(s.counter, 42u);
  EXPECT_EQ(s.milliseconds, 9u);
  EXPECT_EQ(c.next(), 43u);
}

TEST(ReplayStampTest, WireLayoutIsMillisecondsThenCounterLittleEndian) {
  // The vector of docs/protocol.md §11.10.
  uint8_t nonce[kAeadNonceSize];
  ReplayStamp{0x5f5e1000u, 0x0123456789abcdefu}.Store(nonce);
  const uint8_t want[kAeadNonceSize] = {0x00, 0x10, 0x5e, 0x5f, 0xef, 0xcd,
                                        0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
  for (size_t i = 0; i < kAeadNonceSize; ++i) EXPECT_EQ(nonce[i], want[i]) << i;
  const ReplayStamp back = ReplayStamp::Load(nonce);
  EXPECT_EQ(back.milliseconds, 0x5f5e1000u);
  EXPECT_EQ(back.counter, 0x0123456789abcdefu);
}

TEST(ReplayStampTest, SealedVectorOfTheProtocolPage) {
  // docs/protocol.md §11.10: aes-128-gcm with kcptun's default key, the
  // stamp above as the nonce, Appendix A.1's PUSH segment as the plaintext
  // (computed independently with Python's cryptography).
  auto cipher = NewKcptunPacketCipher("aes-128-gcm", DeriveKcptunKey("it's a secrect"));
  ASSERT_TRUE(cipher.ok());
  const std::string segment = absl::HexStringToBytes(
      "4433221151002000e803000000000000000000000500000068656c6c6f");
  std::vector<uint8_t> d(kAeadNonceSize + segment.size() + kAeadTagSize);
  std::memcpy(d.data() + kAeadNonceSize, segment.data(), segment.size());
  uint8_t nonce[kAeadNonceSize];
  ReplayStamp{0x5f5e1000u, 0x0123456789abcdefu}.Store(nonce);
  ASSERT_TRUE((*cipher)->SealWithNonce(absl::MakeSpan(d), nonce));
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(d.data()),
                                                     d.size())),
            "00105e5fefcdab8967452301"
            "7f46e7c1f3c60629463ac910114e4424bb7ac5fcdad9b47df950072212"
            "4a0bdb629cb5903e3051cee3a8c69f4b");
  // Opening leaves the nonce in clear: the receiver reads the stamp there.
  ASSERT_TRUE((*cipher)->Open(absl::MakeSpan(d)).ok());
  EXPECT_EQ(ReplayStamp::Load(d.data()).counter, 0x0123456789abcdefu);
}

TEST(StampIsFreshTest, WithinTheSkewEitherWay) {
  const int64_t start = 1'700'000'000'000;  // Unix ms
  const int64_t now = start + 3'600'000;    // the receiver has run for an hour
  const int64_t skew = 60'000;
  auto at = [](int64_t ms) { return static_cast<uint32_t>(ms); };
  EXPECT_TRUE(StampIsFresh(at(now), now, start, skew));
  EXPECT_TRUE(StampIsFresh(at(now - skew), now, start, skew));
  EXPECT_TRUE(StampIsFresh(at(now + skew), now, start, skew));
  EXPECT_FALSE(StampIsFresh(at(now - skew - 1), now, start, skew));
  EXPECT_FALSE(StampIsFresh(at(now + skew + 1), now, start, skew));
  EXPECT_FALSE(StampIsFresh(at(now - 86'400'000), now, start, skew));  // a day old
  EXPECT_FALSE(StampIsFresh(0, now, start, skew));                      // kcp-go's random nonce, say
}

TEST(StampIsFreshTest, ARestartedReceiverRefusesWhatWasStampedBeforeItStarted) {
  const int64_t start = 1'700'000'000'000;
  const int64_t skew = 60'000;
  auto at = [](int64_t ms) { return static_cast<uint32_t>(ms); };
  // Ten seconds after the restart: a datagram captured one second before it
  // is within the skew but older than the receiver.
  EXPECT_FALSE(StampIsFresh(at(start - 1000), start + 10'000, start, skew));
  EXPECT_FALSE(StampIsFresh(at(start - 1), start + 10'000, start, skew));
  EXPECT_FALSE(StampIsFresh(at(start), start + 10'000, start, skew));
  EXPECT_TRUE(StampIsFresh(at(start + 1), start + 10'000, start, skew));
  EXPECT_TRUE(StampIsFresh(at(start + 5000), start + 10'000, start, skew));
  // Once the receiver is older than the skew, only the skew applies.
  EXPECT_TRUE(StampIsFresh(at(start + 2 * skew), start + 2 * skew + 10, start, skew));
}

TEST(StampIsFreshTest, MillisecondsWrapEvery49Days) {
  // Around the 2^32 ms wrap the signed difference still works.
  const int64_t wrap = int64_t{1} << 32;
  const int64_t now = 400 * wrap + 500;  // 500 ms after a wrap
  const int64_t start = now - 10 * 86'400'000LL;
  EXPECT_TRUE(StampIsFresh(static_cast<uint32_t>(now - 1000), now, start, 60'000));
  EXPECT_EQ(static_cast<uint32_t>(now - 1000), 0xFFFFFE0Cu);  // before the wrap
  EXPECT_FALSE(StampIsFresh(static_cast<uint32_t>(now - 61'000), now, start, 60'000));
}

}  // namespace
}  // namespace kcpp::crypt
