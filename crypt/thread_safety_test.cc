// One PacketCipher shared by several threads, as kcptun shares one cipher
// across sessions: every thread seals and opens its own packets through the
// same instance and checks every byte. kcp-go's ciphers fail this (shared
// scratch buffers); run under --config=tsan to prove there is no data race.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"

namespace kcpp::crypt {
namespace {

class SharedCipher : public ::testing::TestWithParam<const char*> {};

TEST_P(SharedCipher, ConcurrentSealOpenIsCorrect) {
  auto c = NewKcptunPacketCipher(GetParam(), DeriveKcptunKey("shared"));
  ASSERT_TRUE(c.ok()) << c.status();
  const PacketCipher& cipher = **c;
  constexpr int kThreads = 4;
  constexpr int kPackets = 300;
  std::atomic<int> bad{0}, good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> d;
      for (int p = 0; p < kPackets; ++p) {
        const size_t len = static_cast<size_t>((p * 37 + t * 101) % 1400);
        d.assign(cipher.overhead() + len, 0);
        for (size_t i = 0; i < len; ++i) {
          d[cipher.header_size() + i] = static_cast<uint8_t>(i ^ (t * 16 + p));
        }
        if (!cipher.Seal(absl::MakeSpan(d))) {
          ++bad;
          continue;
        }
        OpenResult r = cipher.Open(absl::MakeSpan(d));
        bool ok = r.ok() && r.payload.size() == len;
        for (size_t i = 0; ok && i < len; ++i) {
          ok = r.payload[i] == static_cast<uint8_t>(i ^ (t * 16 + p));
        }
        ok ? ++good : ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(good.load(), kThreads * kPackets);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, SharedCipher,
                         ::testing::Values("aes", "aes-128", "sm4", "twofish", "blowfish",
                                           "salsa20", "xor", "3des", "aes-128-gcm",
                                           "chacha20-poly1305"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace kcpp::crypt
