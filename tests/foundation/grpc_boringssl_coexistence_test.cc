// gRPC (Debian's, linked to OpenSSL 3) and our statically linked, hidden
// BoringSSL in one process. Loading both with default symbol visibility
// crashes (see docs/build.md); this test keeps that from coming back.

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <openssl/aead.h>
#include <openssl/rand.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/foundation/echo.grpc.pb.h"

namespace {

// Seals and opens one record with BoringSSL's AES-128-GCM.
void BoringSslAesGcmRoundTrip() {
  uint8_t key[16];
  uint8_t nonce[12];
  ASSERT_EQ(RAND_bytes(key, sizeof(key)), 1);
  ASSERT_EQ(RAND_bytes(nonce, sizeof(nonce)), 1);
  EVP_AEAD_CTX ctx;
  ASSERT_EQ(EVP_AEAD_CTX_init(&ctx, EVP_aead_aes_128_gcm(), key, sizeof(key),
                              EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr),
            1);
  const std::string plain = "boringssl beside openssl";
  std::vector<uint8_t> sealed(plain.size() + EVP_AEAD_max_overhead(EVP_aead_aes_128_gcm()));
  size_t sealed_len = 0;
  ASSERT_EQ(
      EVP_AEAD_CTX_seal(&ctx, sealed.data(), &sealed_len, sealed.size(), nonce, sizeof(nonce),
                        reinterpret_cast<const uint8_t*>(plain.data()), plain.size(), nullptr, 0),
      1);
  EXPECT_EQ(sealed_len, plain.size() + 16);
  std::vector<uint8_t> opened(sealed_len);
  size_t opened_len = 0;
  ASSERT_EQ(EVP_AEAD_CTX_open(&ctx, opened.data(), &opened_len, opened.size(), nonce, sizeof(nonce),
                              sealed.data(), sealed_len, nullptr, 0),
            1);
  EXPECT_EQ(std::string(opened.begin(), opened.begin() + opened_len), plain);
  // A flipped bit must fail authentication.
  sealed[0] ^= 1;
  EXPECT_EQ(EVP_AEAD_CTX_open(&ctx, opened.data(), &opened_len, opened.size(), nonce, sizeof(nonce),
                              sealed.data(), sealed_len, nullptr, 0),
            0);
  EVP_AEAD_CTX_cleanup(&ctx);
}

// Builds gRPC TLS channel credentials and a channel: this runs gRPC's
// OpenSSL initialisation in this process.
void GrpcTlsChannel() {
  grpc::SslCredentialsOptions options;
  auto credentials = grpc::SslCredentials(options);
  ASSERT_NE(credentials, nullptr);
  auto channel = grpc::CreateChannel("ipv4:127.0.0.1:1", credentials);
  ASSERT_NE(channel, nullptr);
  auto stub = kcpp::testing::Echo::NewStub(channel);
  kcpp::testing::EchoRequest req;
  req.set_text("x");
  kcpp::testing::EchoResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // Nothing listens on port 1: the call must fail cleanly, not crash.
  grpc::Status status = stub->Say(&ctx, req, &resp);
  EXPECT_FALSE(status.ok());
}

TEST(GrpcBoringSslCoexistence, BoringSslFirstThenGrpc) {
  BoringSslAesGcmRoundTrip();
  GrpcTlsChannel();
  BoringSslAesGcmRoundTrip();
}

TEST(GrpcBoringSslCoexistence, GrpcFirstThenBoringSsl) {
  GrpcTlsChannel();
  BoringSslAesGcmRoundTrip();
  GrpcTlsChannel();
}

}  // namespace
