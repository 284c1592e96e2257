// Published test vectors for the block ciphers crypt/ uses: the hand-written
// TEA, XTEA, Twofish, SM4, Salsa20, and BoringSSL's Blowfish and CAST5 called
// the way packet_cipher.cc calls them.
#include <openssl/aes.h>
#include <openssl/blowfish.h>
#include <openssl/cast.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crypt/internal/aesni_cfb.h"
#include "crypt/internal/cfb.h"
#include "crypt/internal/salsa20.h"
#include "crypt/internal/sm4.h"
#include "crypt/internal/tea.h"
#include "crypt/internal/twofish.h"
#include "gtest/gtest.h"

namespace kcpp::crypt::internal {
namespace {

std::vector<uint8_t> Hex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string ToHex(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

template <class Cipher>
std::string Encrypt(const Cipher& c, const std::string& pt_hex) {
  std::vector<uint8_t> pt = Hex(pt_hex), out(pt.size());
  c.EncryptBlock(pt.data(), out.data());
  return ToHex(out.data(), out.size());
}

// TEA, Wheeler & Needham's original 64 rounds (32 cycles); vectors as listed
// with golang.org/x/crypto/tea.
TEST(Tea, PublishedVectors64Rounds) {
  std::vector<uint8_t> zero(16, 0), ones(16, 0xff);
  EXPECT_EQ(Encrypt(Tea(zero.data(), 64), "0000000000000000"), "41ea3a0a94baa940");
  EXPECT_EQ(Encrypt(Tea(ones.data(), 64), "ffffffffffffffff"), "319bbefb016abdb2");
}

// XTEA vectors (Needham & Wheeler XTEA, big-endian words).
TEST(Xtea, PublishedVectors) {
  std::vector<uint8_t> k = Hex("000102030405060708090a0b0c0d0e0f");
  std::vector<uint8_t> zero(16, 0);
  EXPECT_EQ(Encrypt(Xtea(k.data()), "4142434445464748"), "497df3d072612cb5");
  EXPECT_EQ(Encrypt(Xtea(k.data()), "4141414141414141"), "e78f2d13744341d8");
  EXPECT_EQ(Encrypt(Xtea(k.data()), "5a5b6e278948d77f"), "4141414141414141");
  EXPECT_EQ(Encrypt(Xtea(zero.data()), "4142434445464748"), "a0390589f8b8efa5");
  EXPECT_EQ(Encrypt(Xtea(zero.data()), "4141414141414141"), "ed23375a821a8c2d");
}

// Twofish paper, appendix "Test Vectors" (ecb_tbl.txt first entries).
TEST(Twofish, PaperVectors) {
  std::vector<uint8_t> k128(16, 0);
  EXPECT_EQ(Encrypt(Twofish(k128.data(), 16), "00000000000000000000000000000000"),
            "9f589f5cf6122c32b6bfec2f2ae8c35a");
  std::vector<uint8_t> k192 = Hex("0123456789abcdeffedcba98765432100011223344556677");
  EXPECT_EQ(Encrypt(Twofish(k192.data(), 24), "00000000000000000000000000000000"),
            "cfd1d2e5a9be9cdf501f13b892bd2248");
  std::vector<uint8_t> k256 =
      Hex("0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff");
  EXPECT_EQ(Encrypt(Twofish(k256.data(), 32), "00000000000000000000000000000000"),
            "37527be0052334b89f0cfccae87cfa20");
}

// Twofish ecb_tbl.txt iteration: key_{i+1} = key_i[..] shifted, pt_{i+1} =
// ct_i. Second and third 128-bit entries.
TEST(Twofish, PaperTableChain128) {
  std::vector<uint8_t> key(16, 0), pt(16, 0), ct(16);
  Twofish(key.data(), 16).EncryptBlock(pt.data(), ct.data());  // I=1
  // I=2: KEY=0, PT=CT(1)
  std::vector<uint8_t> ct2(16);
  Twofish(key.data(), 16).EncryptBlock(ct.data(), ct2.data());
  EXPECT_EQ(ToHex(ct2.data(), 16), "d491db16e7b1c39e86cb086b789f5419");
  // I=3: KEY=PT(2)=CT(1), PT=CT(2)
  std::vector<uint8_t> ct3(16);
  Twofish(ct.data(), 16).EncryptBlock(ct2.data(), ct3.data());
  EXPECT_EQ(ToHex(ct3.data(), 16), "019f9809de1711858faac3a3ba20fbc3");
}

// GB/T 32907-2016 Appendix A, example 1.
TEST(Sm4, StandardExample) {
  std::vector<uint8_t> k = Hex("0123456789abcdeffedcba9876543210");
  EXPECT_EQ(Encrypt(Sm4(k.data()), "0123456789abcdeffedcba9876543210"),
            "681edf34d206965e86b3e94f536e4246");
}

// GB/T 32907-2016 Appendix A, example 2: the same block encrypted 1,000,000
// times with the same key.
TEST(Sm4, StandardExampleMillion) {
  std::vector<uint8_t> k = Hex("0123456789abcdeffedcba9876543210");
  std::vector<uint8_t> b = k;
  Sm4 c(k.data());
  for (int i = 0; i < 1000000; ++i) c.EncryptBlock(b.data(), b.data());
  EXPECT_EQ(ToHex(b.data(), 16), "595298c7c6fd271f0402f804c33d3f66");
}

// ECRYPT eSTREAM Salsa20/20 verified.test-vectors, set 6: XOR of every
// 64-byte block of the first 131072 keystream bytes.
TEST(Salsa20, EcryptSet6XorDigest) {
  struct Vector {
    const char* key;
    const char* iv;
    const char* digest;
  } vectors[] = {
      {"0053A6F94C9FF24598EB3E91E4378ADD3083D6297CCF2275C81B6EC11467BA0D", "0D74DB42A91077DE",
       "C349B6A51A3EC9B712EAED3F90D8BCEE69B7628645F251A996F55260C62EF31FD6C6B0AEA94E136C9D984AD2DF"
       "3578F78E457527B03A0450580DD874F63B1AB9"},
  };
  for (const Vector& v : vectors) {
    std::vector<uint8_t> key = Hex(v.key), iv = Hex(v.iv);
    std::vector<uint8_t> stream(131072, 0);
    Salsa20XorKeyStream(stream.data(), stream.size(), iv.data(), key.data());
    uint8_t x[64] = {0};
    for (size_t i = 0; i < stream.size(); ++i) x[i % 64] ^= stream[i];
    std::string want = v.digest;
    for (auto& ch : want) ch = static_cast<char>(std::tolower(ch));
    EXPECT_EQ(ToHex(x, 64), want);
  }
}

// Keystream continuity: one call equals the same bytes produced in pieces
// that straddle 64-byte block boundaries (counter handling).
TEST(Salsa20, SplitCallsDoNotMatterForFreshStreams) {
  std::vector<uint8_t> key(32, 7), iv(8, 3), a(300, 0);
  Salsa20XorKeyStream(a.data(), a.size(), iv.data(), key.data());
  std::vector<uint8_t> b(300, 0);
  Salsa20XorKeyStream(b.data(), 64, iv.data(), key.data());
  EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.begin() + 64),
            std::vector<uint8_t>(b.begin(), b.begin() + 64));
  EXPECT_NE(std::vector<uint8_t>(a.begin(), a.begin() + 64),
            std::vector<uint8_t>(a.begin() + 64, a.begin() + 128));
}

// Blowfish: Schneier's published vectors (vectors.txt, first entries).
TEST(BoringSslBlowfish, SchneierVectors) {
  struct {
    const char *key, *pt, *ct;
  } v[] = {{"0000000000000000", "0000000000000000", "4ef997456198dd78"},
           {"ffffffffffffffff", "ffffffffffffffff", "51866fd5b85ecb8a"},
           {"3000000000000000", "1000000000000001", "7d856f9a613063f2"}};
  for (auto& t : v) {
    std::vector<uint8_t> k = Hex(t.key), p = Hex(t.pt), out(8);
    BF_KEY key;
    BF_set_key(&key, k.size(), k.data());
    BF_ecb_encrypt(p.data(), out.data(), &key, BF_ENCRYPT);
    EXPECT_EQ(ToHex(out.data(), 8), t.ct);
  }
}

// CAST-128: RFC 2144 Appendix B.1, 128-bit key.
TEST(BoringSslCast5, Rfc2144Vector) {
  std::vector<uint8_t> k = Hex("0123456712345678234567893456789a"), p = Hex("0123456789abcdef"),
                       out(8);
  CAST_KEY key;
  CAST_set_key(&key, k.size(), k.data());
  CAST_ecb_encrypt(p.data(), out.data(), &key, CAST_ENCRYPT);
  EXPECT_EQ(ToHex(out.data(), 8), "238b4fe5847e44b2");
}

// The generic CFB template over BoringSSL's AES_encrypt (the fallback when
// AES-NI is missing) and the AES-NI fast path must agree on every length,
// and CfbDecrypt (multi-block keystream) must invert both.
struct AesEncryptBlock {
  static constexpr size_t kBlockSize = 16;
  AES_KEY key;
  void EncryptBlock(const uint8_t* in, uint8_t* out) const { AES_encrypt(in, out, &key); }
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    for (size_t i = 0; i < n; ++i) EncryptBlock(in + 16 * i, out + 16 * i);
  }
};

void AesEncryptThunk(const uint8_t* in, uint8_t* out, const void* key) {
  AES_encrypt(in, out, static_cast<const AES_KEY*>(key));
}

bool CpuHasAes() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#else
  return false;
#endif
}

// An AES key of `bits` (bytes i * `step` + bits) and whether the AES-NI
// path accepts BoringSSL's schedule of it.
bool MakeAesKey(unsigned bits, unsigned step, AesEncryptBlock* block) {
  std::vector<uint8_t> key(bits / 8);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * step + bits);
  EXPECT_EQ(AES_set_encrypt_key(key.data(), bits, &block->key), 0);
  return AesniUsable(block->key.rd_key, block->key.rounds, &AesEncryptThunk, &block->key);
}

TEST(Cfb, GenericAndAesniPathsAgree) {
  for (unsigned bits : {128u, 192u, 256u}) {
    AesEncryptBlock block;
    const bool aesni = MakeAesKey(bits, 3, &block);
    // A CPU with AES-NI must get the fast path: BoringSSL's AES-NI key
    // schedule stores rounds as 9/11/13, which once turned it off unnoticed.
    EXPECT_EQ(aesni, CpuHasAes()) << bits << " bits, AES_KEY.rounds " << block.key.rounds;
    for (size_t n = 0; n <= 2100; n += (n < 70 ? 1 : 97)) {
      std::vector<uint8_t> plain(n);
      for (size_t i = 0; i < n; ++i) plain[i] = static_cast<uint8_t>(i * 11 + n);
      std::vector<uint8_t> a = plain;
      CfbEncrypt(block, a.data(), n);
      if (aesni) {
        std::vector<uint8_t> b = plain;
        AesniCfbEncrypt(block.key.rd_key, block.key.rounds, b.data(), n);
        ASSERT_EQ(a, b) << bits << " " << n;
      }
      if (n >= 16) {
        ASSERT_NE(a, plain);
      }
      CfbDecrypt(block, a.data(), n);
      ASSERT_EQ(a, plain) << bits << " " << n;
    }
  }
}

// Many buffers at once (chains interleaved 8, 4 and 2 at a time, lengths
// that end mid-block, empty ones) give exactly what one buffer at a time does.
TEST(Cfb, AesniManyEqualsOneAtATime) {
  for (unsigned bits : {128u, 192u, 256u}) {
    AesEncryptBlock block;
    // Without AES-NI the function is never called (AesCfbTransform checks).
    const bool aesni = MakeAesKey(bits, 5, &block);
    ASSERT_EQ(aesni, CpuHasAes());
    if (!aesni) continue;
    for (size_t count : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{8}, size_t{15},
                         size_t{19}, size_t{64}}) {
      std::vector<std::vector<uint8_t>> one(count), many(count);
      std::vector<uint8_t*> p(count);
      std::vector<size_t> n(count);
      for (size_t j = 0; j < count; ++j) {
        // Mostly MTU-sized, as a burst is; some short, odd and empty ones.
        const size_t len = j % 5 == 3 ? (j * 37) % 61 : 1400 + (j % 4) * 17 - (j % 2) * 1400;
        one[j].resize(len);
        for (size_t i = 0; i < len; ++i) one[j][i] = static_cast<uint8_t>(i * 13 + j * 7 + bits);
        many[j] = one[j];
        AesniCfbEncrypt(block.key.rd_key, block.key.rounds, one[j].data(), len);
        p[j] = many[j].data();
        n[j] = len;
      }
      AesniCfbEncryptMany(block.key.rd_key, block.key.rounds, p.data(), n.data(), count);
      for (size_t j = 0; j < count; ++j) {
        ASSERT_EQ(many[j], one[j]) << bits << " bits, buffer " << j << " of " << count;
      }
    }
  }
}

}  // namespace
}  // namespace kcpp::crypt::internal
