// PacketCipher: docs/protocol.md Appendix A.1 vectors (produced by kcp-go
// 5.6.1), round trips, tamper/wrong-key/short-packet rejection, factory
// errors.
#include "crypt/packet_cipher.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kcpp::crypt {
namespace {

using ::testing::HasSubstr;

std::string ToHex(absl::Span<const uint8_t> b) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::array<uint8_t, 32> Pass() { return DeriveKcptunKey("it's a secrect"); }

std::unique_ptr<PacketCipher> Kcptun(absl::string_view name) {
  auto c = NewKcptunPacketCipher(name, Pass());
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(DeriveKcptunKey, AppendixA1) {
  EXPECT_EQ(ToHex(Pass()), "25d7d7bd51050742d8d791f2b653c6c8b2366b7e25a124cf7a2e12eaf4ffa444");
}

// Appendix A.1: kcp-go BlockCrypt.Encrypt on the raw 45-byte buffer 00..2c.
TEST(PacketCipher, AppendixA1RawVectors) {
  const std::pair<const char*, const char*> kVectors[] = {
      {"aes",
       "86834343335b168ca911bf584a05f9900e1c6fda2c822a981eb60909411c15690afb116b0d6073935dd1a399f"
       "9"},
      {"aes-128",
       "ddd7e0a7981ba3e2a7f6d51f2a2663184531e844fe0ddec4d65df15b489c5ba3e15ff1881eaf077a23107a108"
       "6"},
      {"aes-192",
       "b9db59f7dd1bce4922855fb7f8f8e261a4937c0d7360349b24871684eb7bca422017d9f232c59cd2e4603e846"
       "3"},
      {"tea",
       "fc9c4eb4a8e9502bde3d3c8b0679084d963bc6bfca609b1ba987df5d5e088440024c54fe55fe7a44ffe41b540"
       "e"},
      {"xtea",
       "09256989438dfb5af0f2a323dfd1ac2c9af741cc94cf83fec52a72395260600933396d604d06cba2459225658"
       "d"},
      {"blowfish",
       "186797305116055ece6531b898c4b2352cc7452301c8434ae21a1256aeb7305fb08d8648ad906dcc13c8fef8f"
       "0"},
      {"cast5",
       "bb8f8d2209e0131c7d027b3e28d6b45788b9c798dc5b25fc905f95636f61bb1cf570dd159b95dc560e2c33a7c"
       "e"},
      {"3des",
       "5dca5d4fac8f6accf083365ae9eb528a24c6879fd6daee12f406f9a17955efec4fa86c417ab7d94fa77377224"
       "4"},
      {"twofish",
       "79a0668add94e7387471af7514bb1065027a4425d5bd62db2ba645c8b7f41fe83931f68d4c3ad655e8b372730"
       "8"},
      {"sm4",
       "0340e44fd923bb2259e375a7ab6ee54de9bca063ac2859b4bfd05a8a7ada8cfee0ee39b42f17db450a2e938ba"
       "4"},
      {"salsa20",
       "00010203040506079aaa6e7faf75365c40a4761a0c7be4446a8a411f62e5954a4ac802ddae0f35e6455e56815"
       "a"},
      {"xor",
       "0fff8b84a99173765c7011c3f60cb8237bdf1315a6805604d54b25a70367b293d08e441c63be35690d89fadcb"
       "2"},
      {"none",
       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2"
       "c"},
  };
  for (const auto& [name, want] : kVectors) {
    auto c = Kcptun(name);
    ASSERT_NE(c, nullptr);
    std::vector<uint8_t> buf(45);
    for (int i = 0; i < 45; ++i) buf[i] = static_cast<uint8_t>(i);
    ASSERT_TRUE(c->EncryptRaw(absl::MakeSpan(buf)));
    EXPECT_EQ(ToHex(buf), want) << name;
    ASSERT_TRUE(c->DecryptRaw(absl::MakeSpan(buf)));
    for (int i = 0; i < 45; ++i) ASSERT_EQ(buf[i], i) << name;
  }
}

TEST(PacketCipher, AppendixA1XorTable) {
  auto c = Kcptun("xor");
  std::vector<uint8_t> zeros(32, 0);
  c->EncryptRaw(absl::MakeSpan(zeros));
  EXPECT_EQ(ToHex(zeros), "0ffe8987ad94757154791bc8fa01b62c6bce0106b2954013cd523fbc1f7aac8c");
}

// CRC-32/IEEE(00..2c) = d7bcf3c5, stored little-endian at bytes 16..19.
TEST(PacketCipher, AppendixA1CrcInNoneHeader) {
  auto c = Kcptun("none");
  std::vector<uint8_t> d(20 + 45, 0xee);
  for (int i = 0; i < 45; ++i) d[20 + i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> nonce(16, 0x11);
  ASSERT_TRUE(c->SealWithNonce(absl::MakeSpan(d), nonce));
  EXPECT_EQ(ToHex(absl::MakeConstSpan(d).subspan(16, 4)), "c5f3bcd7");
  EXPECT_EQ(ToHex(absl::MakeConstSpan(d).subspan(0, 16)), std::string(32, '1'));
}

std::vector<std::string> AllNames() {
  std::vector<std::string> v;
  for (absl::string_view n : SupportedCipherNames()) v.emplace_back(n);
  return v;
}

class EveryCipher : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCipher, OverheadMatchesLayout) {
  auto c = Kcptun(GetParam());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name(), GetParam());
  switch (c->layout()) {
    case CipherLayout::kClassic:
      EXPECT_EQ(c->header_size(), 20u);
      EXPECT_EQ(c->trailer_size(), 0u);
      break;
    case CipherLayout::kAead:
      EXPECT_EQ(c->header_size(), 12u);
      EXPECT_EQ(c->trailer_size(), 16u);
      break;
    case CipherLayout::kNull:
      EXPECT_EQ(c->overhead(), 0u);
      break;
  }
}

// Every payload size 0..1500: Seal then Open returns the payload unchanged.
TEST_P(EveryCipher, RoundTripEverySize) {
  auto c = Kcptun(GetParam());
  ASSERT_NE(c, nullptr);
  std::vector<uint8_t> d;
  for (size_t len = 0; len <= 1500; ++len) {
    d.assign(c->overhead() + len, 0);
    for (size_t i = 0; i < len; ++i) d[c->header_size() + i] = static_cast<uint8_t>(i * 31 + len);
    ASSERT_TRUE(c->Seal(absl::MakeSpan(d)));
    if (len >= 16 && c->layout() != CipherLayout::kNull && GetParam() != "none") {
      // The payload must not appear in clear.
      bool same = true;
      for (size_t i = 0; i < len && same; ++i) {
        same = d[c->header_size() + i] == static_cast<uint8_t>(i * 31 + len);
      }
      ASSERT_FALSE(same) << "len " << len;
    }
    OpenResult r = c->Open(absl::MakeSpan(d));
    ASSERT_TRUE(r.ok()) << "len " << len << " " << DropReasonName(r.reason);
    ASSERT_EQ(r.payload.size(), len);
    ASSERT_EQ(r.payload.data(), d.data() + c->header_size());
    for (size_t i = 0; i < len; ++i) {
      ASSERT_EQ(r.payload[i], static_cast<uint8_t>(i * 31 + len)) << "len " << len << " i " << i;
    }
  }
}

// SealBatch seals each datagram exactly as Seal does with the nonce it drew
// (each opens to its payload, and re-sealing the payload with that nonce
// gives the same bytes), whatever the mix of sizes.
TEST_P(EveryCipher, SealBatchEqualsSealOneByOne) {
  auto c = Kcptun(GetParam());
  ASSERT_NE(c, nullptr);
  constexpr size_t kCount = 21;
  std::vector<std::vector<uint8_t>> payloads(kCount), sealed(kCount);
  std::vector<absl::Span<uint8_t>> spans;
  for (size_t j = 0; j < kCount; ++j) {
    const size_t len = j % 4 == 1 ? j * 11 : 1350 + j;
    payloads[j].resize(len);
    for (size_t i = 0; i < len; ++i) payloads[j][i] = static_cast<uint8_t>(i * 29 + j);
    sealed[j].assign(c->overhead() + len, 0);
    std::copy(payloads[j].begin(), payloads[j].end(), sealed[j].begin() + c->header_size());
    spans.push_back(absl::MakeSpan(sealed[j]));
  }
  ASSERT_TRUE(c->SealBatch(spans));
  for (size_t j = 0; j < kCount; ++j) {
    // The nonce Seal would have written: in clear for AEAD, under the
    // cipher for the classic layout.
    std::vector<uint8_t> clear = sealed[j];
    if (c->layout() == CipherLayout::kClassic) {
      ASSERT_TRUE(c->DecryptRaw(absl::MakeSpan(clear)));
    }
    std::vector<uint8_t> again(c->overhead() + payloads[j].size(), 0);
    std::copy(payloads[j].begin(), payloads[j].end(), again.begin() + c->header_size());
    ASSERT_TRUE(c->SealWithNonce(absl::MakeSpan(again),
                                 absl::MakeConstSpan(clear.data(), c->nonce_size())));
    EXPECT_EQ(again, sealed[j]) << "datagram " << j;
    OpenResult r = c->Open(absl::MakeSpan(sealed[j]));
    ASSERT_TRUE(r.ok()) << "datagram " << j << " " << DropReasonName(r.reason);
    EXPECT_TRUE(
        std::equal(r.payload.begin(), r.payload.end(), payloads[j].begin(), payloads[j].end()))
        << "datagram " << j;
  }
}

// A datagram too short for the header: nothing in the batch is sealed (the
// null cipher has no header: even an empty datagram is fine).
TEST_P(EveryCipher, SealBatchRefusesAShortDatagramAndSealsNone) {
  auto c = Kcptun(GetParam());
  ASSERT_NE(c, nullptr);
  std::vector<uint8_t> good(c->overhead() + 100, 7);
  std::vector<uint8_t> bad(c->overhead() > 0 ? c->overhead() - 1 : 0, 7);
  const std::vector<uint8_t> good_before = good, bad_before = bad;
  std::vector<absl::Span<uint8_t>> spans = {absl::MakeSpan(good), absl::MakeSpan(bad)};
  if (c->overhead() == 0) {
    EXPECT_TRUE(c->SealBatch(spans));
    return;
  }
  EXPECT_FALSE(c->SealBatch(spans));
  EXPECT_EQ(good, good_before);
  EXPECT_EQ(bad, bad_before);
}

// Random nonces differ between packets, so equal payloads seal differently.
TEST_P(EveryCipher, NoncesAreFresh) {
  auto c = Kcptun(GetParam());
  std::vector<uint8_t> a(c->overhead() + 40, 5), b = a;
  ASSERT_TRUE(c->Seal(absl::MakeSpan(a)));
  ASSERT_TRUE(c->Seal(absl::MakeSpan(b)));
  if (c->nonce_size() > 0) {
    EXPECT_NE(a, b);
  } else {
    EXPECT_EQ(a, b);  // null: nothing random, nothing changed
    EXPECT_EQ(a, std::vector<uint8_t>(40, 5));
  }
}

// Flip every bit of a sealed datagram. Any flip that changes the bytes the
// integrity check covers must be rejected. kcp-go's classic layout does not
// protect the nonce itself (CRC covers bytes 20..); a flip in the nonce may
// then be accepted, but it must never change the delivered payload.
TEST_P(EveryCipher, FlippedBitNeverChangesAcceptedPayload) {
  auto c = Kcptun(GetParam());
  const size_t len = 53;
  std::vector<uint8_t> plain(len);
  for (size_t i = 0; i < len; ++i) plain[i] = static_cast<uint8_t>(i * 5 + 1);
  std::vector<uint8_t> sealed(c->overhead() + len);
  std::copy(plain.begin(), plain.end(), sealed.begin() + c->header_size());
  ASSERT_TRUE(c->Seal(absl::MakeSpan(sealed)));
  int rejected = 0;
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    std::vector<uint8_t> d = sealed;
    d[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    OpenResult r = c->Open(absl::MakeSpan(d));
    const bool nonce_byte = c->layout() == CipherLayout::kClassic && bit / 8 < 16;
    if (c->layout() == CipherLayout::kNull) {
      // null has no integrity check: the flipped datagram is the payload.
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r.payload.size(), d.size());
      continue;
    }
    if (!nonce_byte) {
      ASSERT_FALSE(r.ok()) << "bit " << bit;
      ASSERT_EQ(r.reason, c->layout() == CipherLayout::kAead ? DropReason::kAuthenticationFailed
                                                             : DropReason::kChecksumMismatch);
    }
    if (r.ok()) {
      ASSERT_EQ(std::vector<uint8_t>(r.payload.begin(), r.payload.end()), plain) << "bit " << bit;
    } else {
      ++rejected;
    }
  }
  if (c->layout() != CipherLayout::kNull) {
    EXPECT_GE(rejected, static_cast<int>((sealed.size() - 16) * 8));
  }
}

TEST_P(EveryCipher, WrongKeyRejected) {
  const std::string name = GetParam();
  const bool keyless = name == "none" || name == "null";
  auto sender = Kcptun(name);
  auto other = NewKcptunPacketCipher(name, DeriveKcptunKey("another password"));
  ASSERT_TRUE(other.ok());
  for (size_t len : {0, 1, 24, 100, 1400}) {
    std::vector<uint8_t> d(sender->overhead() + len, 0x42);
    ASSERT_TRUE(sender->Seal(absl::MakeSpan(d)));
    // none/null ignore the key, so any key opens them.
    EXPECT_EQ((*other)->Open(absl::MakeSpan(d)).ok(), keyless) << name << " len " << len;
  }
}

TEST_P(EveryCipher, ShortDatagramsRejected) {
  auto c = Kcptun(GetParam());
  for (size_t n = 0; n < c->overhead(); ++n) {
    std::vector<uint8_t> d(n, 0);
    EXPECT_FALSE(c->Seal(absl::MakeSpan(d))) << n;
    OpenResult r = c->Open(absl::MakeSpan(d));
    EXPECT_EQ(r.reason, DropReason::kTooShort) << n;
    EXPECT_TRUE(r.payload.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(All, EveryCipher, ::testing::ValuesIn(AllNames()), [](const auto& info) {
  std::string s = info.param;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
});

TEST(NewPacketCipher, WrongKeySizeMessage) {
  std::vector<uint8_t> key(20, 1);
  auto c = NewPacketCipher("aes", key);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "key must be 16, 24 or 32 bytes for aes, got 20");
  EXPECT_EQ(NewPacketCipher("sm4", key).status().message(), "key must be 16 bytes for sm4, got 20");
  EXPECT_EQ(NewPacketCipher("3des", key).status().message(),
            "key must be 24 bytes for 3des, got 20");
  EXPECT_EQ(NewPacketCipher("blowfish", std::vector<uint8_t>(57, 1)).status().message(),
            "key must be 1 to 56 bytes for blowfish, got 57");
  EXPECT_FALSE(NewPacketCipher("aes-128-gcm", key).ok());
  EXPECT_FALSE(NewPacketCipher("chacha20-poly1305", std::vector<uint8_t>(16, 1)).ok());
}

TEST(NewPacketCipher, UnknownName) {
  auto c = NewPacketCipher("rot13", std::vector<uint8_t>(16, 1));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("unknown cipher \"rot13\""));
}

TEST(NewPacketCipher, AesKeyLengthSelectsVariant) {
  // aes with a 16-byte key is AES-128: same output as aes-128.
  const auto pass = Pass();
  std::vector<uint8_t> key(pass.begin(), pass.begin() + 16);
  auto a = NewPacketCipher("aes", key);
  auto b = NewPacketCipher("aes-128", key);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<uint8_t> x(45, 9), y(45, 9);
  (*a)->EncryptRaw(absl::MakeSpan(x));
  (*b)->EncryptRaw(absl::MakeSpan(y));
  EXPECT_EQ(x, y);
}

TEST(PacketCipher, AeadAndNullHaveNoRawTransform) {
  std::vector<uint8_t> b(10, 0);
  EXPECT_FALSE(Kcptun("aes-128-gcm")->EncryptRaw(absl::MakeSpan(b)));
  EXPECT_FALSE(Kcptun("null")->DecryptRaw(absl::MakeSpan(b)));
}

}  // namespace
}  // namespace kcpp::crypt
