// What the cipher layouts do and do not promise against an attacker on the
// path (SECURITY.md states these; the tests prove each sentence against our
// own PacketCipher, which is byte-compatible with kcp-go's, docs/protocol.md
// §3). A change that makes one of them fail (say, a MAC added to the classic
// layout) must update SECURITY.md too.
//
//   * Replay: every layout accepts the same datagram twice. Nothing in the
//     crypt layer remembers what it has seen; KCP drops a repeated segment
//     only inside its receive window, and a listener creates a new session
//     for a replay from a new source address.
//   * Classic layout, stream-like ciphers (salsa20, xor) and none: CRC-32 is
//     linear, and the payload is XORed with a keystream (or not encrypted),
//     so an attacker who flips payload bits can fix the CRC by flipping the
//     matching CRC bits: chosen, undetected modifications of any captured
//     datagram without the key.
//   * Classic layout, CFB block ciphers: flipping ciphertext bits of the last
//     block flips the same plaintext bits and disturbs nothing after it; a
//     flip pattern whose CRC-32 difference is zero (one exists among any 33
//     bits, found by Gaussian elimination) is accepted without the key.
//   * AEAD (aes-*-gcm, chacha20-poly1305): every single-bit change anywhere
//     is rejected.
#include <zlib.h>

#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"

namespace kcpp::flood {
namespace {

using crypt::PacketCipher;

std::unique_ptr<PacketCipher> Cipher(const std::string& name) {
  auto c = crypt::NewKcptunPacketCipher(name, crypt::DeriveKcptunKey("forgery test key"));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// A sealed datagram of `payload` bytes (0, 1, 2, ...).
std::vector<uint8_t> Sealed(const PacketCipher& c, size_t payload) {
  std::vector<uint8_t> d(c.header_size() + payload + c.trailer_size());
  for (size_t i = 0; i < payload; ++i) d[c.header_size() + i] = static_cast<uint8_t>(i);
  EXPECT_TRUE(c.Seal(absl::MakeSpan(d)));
  return d;
}

std::optional<std::vector<uint8_t>> Open(const PacketCipher& c, std::vector<uint8_t> d) {
  crypt::OpenResult r = c.Open(absl::MakeSpan(d));
  if (!r.ok()) return std::nullopt;
  return std::vector<uint8_t>(r.payload.begin(), r.payload.end());
}

uint32_t Crc(const std::vector<uint8_t>& b) {
  return static_cast<uint32_t>(crc32(0, b.data(), static_cast<uInt>(b.size())));
}

// CRC-32's linear part over `n` bytes: crc(x ^ d) = crc(x) ^ Lin(d).
uint32_t Lin(const std::vector<uint8_t>& delta) {
  return Crc(delta) ^ Crc(std::vector<uint8_t>(delta.size(), 0));
}

std::vector<std::string> ClassicCiphers() {
  return {"aes",   "aes-128", "aes-192", "tea",     "xtea", "blowfish", "twofish",
          "cast5", "3des",    "sm4",     "salsa20", "xor",  "none"};
}

class EveryCheckedLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCheckedLayout, AcceptsTheSameDatagramTwice) {
  auto c = Cipher(GetParam());
  ASSERT_NE(c, nullptr);
  const std::vector<uint8_t> d = Sealed(*c, 100);
  const auto first = Open(*c, d);
  const auto replay = Open(*c, d);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(*first, *replay);
}

INSTANTIATE_TEST_SUITE_P(Layouts, EveryCheckedLayout, ::testing::ValuesIn([] {
                           std::vector<std::string> v = ClassicCiphers();
                           v.push_back("aes-128-gcm");
                           v.push_back("chacha20-poly1305");
                           return v;
                         }()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

class StreamLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamLayout, ChosenPayloadChangesPassWithAFixedUpCrc) {
  auto c = Cipher(GetParam());
  ASSERT_NE(c, nullptr);
  constexpr size_t kPayload = 60;
  std::vector<uint8_t> d = Sealed(*c, kPayload);
  const std::vector<uint8_t> original = *Open(*c, d);
  // The attacker wants payload byte 7 to read 0xEE instead of 7 (a KCP
  // header field, say): XOR the difference into the ciphertext, and the
  // CRC difference into the CRC's position (bytes 16..19).
  std::vector<uint8_t> delta(kPayload, 0);
  delta[7] = 7 ^ 0xEE;
  for (size_t i = 0; i < kPayload; ++i) d[20 + i] ^= delta[i];
  const uint32_t crc_delta = Lin(delta);
  for (int i = 0; i < 4; ++i) d[16 + i] ^= static_cast<uint8_t>(crc_delta >> (8 * i));
  const auto forged = Open(*c, d);
  ASSERT_TRUE(forged.has_value()) << "the forgery was rejected";
  std::vector<uint8_t> expected = original;
  expected[7] = 0xEE;
  EXPECT_EQ(*forged, expected);
}

INSTANTIATE_TEST_SUITE_P(Layouts, StreamLayout, ::testing::Values("salsa20", "xor", "none"));

// A non-zero set of bits among `bits` (bit positions inside `region_bytes`)
// whose CRC-32 difference is zero.
std::vector<uint8_t> ZeroCrcDelta(size_t region_bytes) {
  const size_t bits = region_bytes * 8;
  EXPECT_GT(bits, 32u);
  // Gaussian elimination over GF(2): basis[b] = (vector with leading bit b,
  // which original bits combine into it).
  struct Row {
    uint32_t v;
    std::bitset<256> combo;
  };
  std::vector<std::optional<Row>> basis(32);
  for (size_t j = 0; j < bits; ++j) {
    std::vector<uint8_t> e(region_bytes, 0);
    e[j / 8] = static_cast<uint8_t>(1u << (j % 8));
    Row r{Lin(e), {}};
    r.combo.set(j);
    for (int b = 31; b >= 0 && r.v != 0; --b) {
      if (!(r.v >> b & 1)) continue;
      if (!basis[b]) {
        basis[b] = r;
        r.v = 0xFFFFFFFF;  // stored; not a dependency
        break;
      }
      r.v ^= basis[b]->v;
      r.combo ^= basis[b]->combo;
    }
    if (r.v == 0) {  // bit j depends on earlier ones: the combination sums to zero
      std::vector<uint8_t> delta(region_bytes, 0);
      for (size_t k = 0; k < bits; ++k) {
        if (r.combo.test(k)) delta[k / 8] ^= static_cast<uint8_t>(1u << (k % 8));
      }
      return delta;
    }
  }
  ADD_FAILURE() << "no dependency among " << bits << " bits";
  return {};
}

class CfbLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(CfbLayout, ALastBlockFlipWithZeroCrcDifferencePasses) {
  auto c = Cipher(GetParam());
  ASSERT_NE(c, nullptr);
  const size_t block = (GetParam() == "tea" || GetParam() == "xtea" || GetParam() == "blowfish" ||
                        GetParam() == "cast5" || GetParam() == "3des")
                           ? 8
                           : 16;
  constexpr size_t kPayload = 28;  // datagram of 48 bytes: whole blocks
  std::vector<uint8_t> d = Sealed(*c, kPayload);
  ASSERT_EQ(d.size(), 48u);
  const std::vector<uint8_t> original = *Open(*c, d);
  const size_t last = d.size() - block;  // the last block: after the CRC
  ASSERT_GE(last, 20u);
  // The CRC covers bytes 20..47; the flip lives in bytes last..47.
  const std::vector<uint8_t> region_delta = ZeroCrcDelta(block);
  ASSERT_FALSE(region_delta.empty());
  std::vector<uint8_t> payload_delta(kPayload, 0);
  for (size_t i = 0; i < block; ++i) {
    d[last + i] ^= region_delta[i];
    payload_delta[last - 20 + i] = region_delta[i];
  }
  ASSERT_EQ(Lin(payload_delta), 0u);
  const auto forged = Open(*c, d);
  ASSERT_TRUE(forged.has_value()) << "the forgery was rejected";
  std::vector<uint8_t> expected = original;
  for (size_t i = 0; i < kPayload; ++i) expected[i] ^= payload_delta[i];
  EXPECT_EQ(*forged, expected);
  EXPECT_NE(*forged, original);
}

INSTANTIATE_TEST_SUITE_P(Layouts, CfbLayout,
                         ::testing::Values("aes", "aes-128", "aes-192", "tea", "xtea", "blowfish",
                                           "twofish", "cast5", "3des", "sm4"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

class AeadLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(AeadLayout, RejectsEverySingleBitChange) {
  auto c = Cipher(GetParam());
  ASSERT_NE(c, nullptr);
  const std::vector<uint8_t> d = Sealed(*c, 60);
  ASSERT_TRUE(Open(*c, d).has_value());
  for (size_t bit = 0; bit < d.size() * 8; ++bit) {
    std::vector<uint8_t> e = d;
    e[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ASSERT_FALSE(Open(*c, e).has_value()) << "bit " << bit << " flipped and accepted";
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, AeadLayout,
                         ::testing::Values("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace kcpp::flood
