// Interop with the real kcp-go (Debian 5.6.1): kcpgo_crypt_vectors.go seals
// datagrams with kcp-go's ciphers (and Go's GCM / ChaCha20-Poly1305 in kcp-go
// HEAD's AEAD layout) with a fixed nonce. For every line we (1) seal the same
// plaintext with the same nonce and expect identical bytes, and (2) open
// kcp-go's bytes and expect the original payload.
//
// Usage: kcpgo_interop_test <path to kcpgo_crypt_vectors>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "crypt/packet_cipher.h"
#include "gtest/gtest.h"

namespace kcpp::crypt {
namespace {

const char* g_generator = nullptr;

// Same recipe as payloadByte in kcpgo_crypt_vectors.go.
uint8_t PayloadByte(size_t i, size_t size) { return static_cast<uint8_t>(i * 7 + size * 13 + 1); }

struct Vector {
  std::string name;
  size_t size;
  std::string hex;
};

std::vector<Vector> RunGenerator() {
  std::vector<Vector> out;
  FILE* f = popen(g_generator, "r");
  if (f == nullptr) return out;
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  if (pclose(f) != 0) return {};
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 3) continue;
    Vector v;
    v.name = parts[0];
    if (!absl::SimpleAtoi(parts[1], &v.size)) continue;
    v.hex = parts[2];
    out.push_back(v);
  }
  return out;
}

TEST(KcpGoInterop, SealMatchesAndOpensEveryCipher) {
  ASSERT_NE(g_generator, nullptr) << "pass the generator path as argv[1]";
  std::vector<Vector> vectors = RunGenerator();
  // 13 classic ciphers x 11 sizes + 4 AEADs x 6 sizes.
  ASSERT_EQ(vectors.size(), 13u * 11 + 4 * 6);
  std::map<std::string, int> per_cipher;
  const auto pass = DeriveKcptunKey("it's a secrect");
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.name + " " + std::to_string(v.size));
    auto c = NewKcptunPacketCipher(v.name, pass);
    ASSERT_TRUE(c.ok()) << c.status();
    const PacketCipher& cipher = **c;
    ASSERT_GE(v.size, cipher.overhead());
    const size_t len = v.size - cipher.overhead();
    std::vector<uint8_t> d(v.size, 0);
    std::vector<uint8_t> nonce(cipher.nonce_size());
    for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(0xa0 + i);
    for (size_t i = 0; i < len; ++i) d[cipher.header_size() + i] = PayloadByte(i, v.size);
    ASSERT_TRUE(cipher.SealWithNonce(absl::MakeSpan(d), nonce));
    const std::string ours = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
    EXPECT_EQ(ours, v.hex);

    std::string theirs = absl::HexStringToBytes(v.hex);
    std::vector<uint8_t> t(theirs.begin(), theirs.end());
    OpenResult r = cipher.Open(absl::MakeSpan(t));
    ASSERT_TRUE(r.ok()) << DropReasonName(r.reason);
    ASSERT_EQ(r.payload.size(), len);
    for (size_t i = 0; i < len; ++i) ASSERT_EQ(r.payload[i], PayloadByte(i, v.size)) << i;
    ++per_cipher[v.name];
  }
  EXPECT_EQ(per_cipher.size(), 17u);
}

}  // namespace
}  // namespace kcpp::crypt

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kcpp::crypt::g_generator = argv[1];
  return RUN_ALL_TESTS();
}
