#include "crypt/packet_cipher.h"

#include <libdeflate.h>
#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/blowfish.h>
#include <openssl/cast.h>
#include <openssl/cipher.h>
#include <openssl/des.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/endian.h"
#include "crypt/internal/aesni_cfb.h"
#include "crypt/internal/bytes.h"
#include "crypt/internal/cfb.h"
#include "crypt/internal/nonce_pool.h"
#include "crypt/internal/salsa20.h"
#include "crypt/internal/sm4.h"
#include "crypt/internal/tea.h"
#include "crypt/internal/twofish.h"

namespace kcpp::crypt {
namespace {

uint32_t Crc32(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(libdeflate_crc32(0, p, n));
}

// ---------------------------------------------------------------------------
// Block ciphers from BoringSSL, in the shape internal/cfb.h expects.

class AesBlock {
 public:
  static constexpr size_t kBlockSize = 16;
  AesBlock(const uint8_t* key, size_t len) {
    AES_set_encrypt_key(key, static_cast<unsigned>(len * 8), &key_);
    const EVP_CIPHER* ecb = len == 16   ? EVP_aes_128_ecb()
                            : len == 24 ? EVP_aes_192_ecb()
                                        : EVP_aes_256_ecb();
    ctx_ = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx_, ecb, nullptr, key, nullptr);
    EVP_CIPHER_CTX_set_padding(ctx_, 0);
  }
  ~AesBlock() {
    EVP_CIPHER_CTX_free(ctx_);
    OPENSSL_cleanse(&key_, sizeof(key_));
  }
  AesBlock(const AesBlock&) = delete;
  AesBlock& operator=(const AesBlock&) = delete;

  void EncryptBlock(const uint8_t* in, uint8_t* out) const { AES_encrypt(in, out, &key_); }
  const AES_KEY& key() const { return key_; }
  // Many blocks through EVP's ECB, which dispatches to the pipelined AES-NI
  // (or vector-permute) multi-block routine. For inputs that are a whole
  // number of blocks, EVP_EncryptUpdate only reads the context (cipher.c:
  // `buf_len == 0 && block_remainder == 0` fast path), so concurrent calls on
  // one context are race-free; the tsan test exercises this.
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    int out_len = 0;
    EVP_EncryptUpdate(ctx_, out, &out_len, in, static_cast<int>(n * 16));
  }

 private:
  AES_KEY key_;
  EVP_CIPHER_CTX* ctx_;
};

class BlowfishBlock {
 public:
  static constexpr size_t kBlockSize = 8;
  BlowfishBlock(const uint8_t* key, size_t len) { BF_set_key(&key_, len, key); }
  ~BlowfishBlock() { OPENSSL_cleanse(&key_, sizeof(key_)); }
  void EncryptBlock(const uint8_t* in, uint8_t* out) const {
    BF_ecb_encrypt(in, out, &key_, BF_ENCRYPT);
  }
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    for (size_t i = 0; i < n; ++i) EncryptBlock(in + 8 * i, out + 8 * i);
  }

 private:
  BF_KEY key_;
};

class Cast5Block {
 public:
  static constexpr size_t kBlockSize = 8;
  explicit Cast5Block(const uint8_t* key) { CAST_set_key(&key_, 16, key); }
  ~Cast5Block() { OPENSSL_cleanse(&key_, sizeof(key_)); }
  void EncryptBlock(const uint8_t* in, uint8_t* out) const {
    CAST_ecb_encrypt(in, out, &key_, CAST_ENCRYPT);
  }
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    for (size_t i = 0; i < n; ++i) EncryptBlock(in + 8 * i, out + 8 * i);
  }

 private:
  CAST_KEY key_;
};

class TripleDesBlock {
 public:
  static constexpr size_t kBlockSize = 8;
  // Go's des.NewTripleDESCipher: EDE with k1 = key[0:8], k2 = [8:16],
  // k3 = [16:24]; parity bits ignored.
  explicit TripleDesBlock(const uint8_t* key) {
    for (int i = 0; i < 3; ++i) {
      DES_cblock k;
      std::memcpy(k.bytes, key + 8 * i, 8);
      DES_set_key_unchecked(&k, &ks_[i]);
    }
  }
  ~TripleDesBlock() { OPENSSL_cleanse(ks_, sizeof(ks_)); }
  void EncryptBlock(const uint8_t* in, uint8_t* out) const {
    DES_cblock i, o;
    std::memcpy(i.bytes, in, 8);
    DES_ecb3_encrypt(&i, &o, &ks_[0], &ks_[1], &ks_[2], DES_ENCRYPT);
    std::memcpy(out, o.bytes, 8);
  }
  void EncryptBlocks(const uint8_t* in, uint8_t* out, size_t n) const {
    for (size_t i = 0; i < n; ++i) EncryptBlock(in + 8 * i, out + 8 * i);
  }

 private:
  DES_key_schedule ks_[3];
};

// ---------------------------------------------------------------------------
// Whole-datagram transforms (kcp-go BlockCrypt equivalents).

template <class Block>
class CfbTransform {
 public:
  template <class... Args>
  explicit CfbTransform(Args&&... args) : block_(std::forward<Args>(args)...) {}
  void Encrypt(uint8_t* p, size_t n) const { internal::CfbEncrypt(block_, p, n); }
  void Decrypt(uint8_t* p, size_t n) const { internal::CfbDecrypt(block_, p, n); }

 private:
  Block block_;
};

// kcp-go salsa20: bytes 0..7 are the nonce, left in clear; the rest is XORed
// with the keystream (docs/protocol.md §3.3).
class Salsa20Transform {
 public:
  explicit Salsa20Transform(absl::Span<const uint8_t> key) {
    std::memset(key_, 0, sizeof(key_));
    std::memcpy(key_, key.data(), std::min<size_t>(key.size(), 32));
  }
  ~Salsa20Transform() { OPENSSL_cleanse(key_, sizeof(key_)); }
  void Encrypt(uint8_t* p, size_t n) const {
    if (n > 8) internal::Salsa20XorKeyStream(p + 8, n - 8, p, key_);
  }
  void Decrypt(uint8_t* p, size_t n) const { Encrypt(p, n); }

 private:
  uint8_t key_[32];
};

#if defined(__x86_64__)
__attribute__((target("avx2"))) void XorIntoAvx2(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i + 32));
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), a0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), a1);
  }
  internal::XorInto(dst + i, src + i, n - i);
}
bool HasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
#endif

// kcp-go xor: byte i ^= table[i], table = PBKDF2-HMAC-SHA1(key,
// "sH3CIVoF#rWLtJo6", 32, 1500).
class XorTransform {
 public:
  explicit XorTransform(absl::Span<const uint8_t> key) {
    static constexpr char kSalt[] = "sH3CIVoF#rWLtJo6";
    PKCS5_PBKDF2_HMAC_SHA1(reinterpret_cast<const char*>(key.data()), key.size(),
                           reinterpret_cast<const uint8_t*>(kSalt), sizeof(kSalt) - 1, 32,
                           kXorTableSize, table_);
  }
  ~XorTransform() { OPENSSL_cleanse(table_, sizeof(table_)); }
  void Encrypt(uint8_t* p, size_t n) const {
#if defined(__x86_64__)
    if (avx2_) return XorIntoAvx2(p, table_, std::min(n, kXorTableSize));
#endif
    internal::XorInto(p, table_, std::min(n, kXorTableSize));
  }
  void Decrypt(uint8_t* p, size_t n) const { Encrypt(p, n); }

 private:
  uint8_t table_[kXorTableSize];
#if defined(__x86_64__)
  bool avx2_ = HasAvx2();
#endif
};

// AES in kcp-go CFB: encryption through the AES-NI fast path when usable,
// decryption through the multi-block EVP path of AesBlock.
class AesCfbTransform {
 public:
  AesCfbTransform(const uint8_t* key, size_t len) : block_(key, len) {
    aesni_ = internal::AesniUsable(block_.key().rd_key, block_.key().rounds, &EncryptThunk,
                                   &block_.key());
  }
  void Encrypt(uint8_t* p, size_t n) const {
    if (aesni_) {
      internal::AesniCfbEncrypt(block_.key().rd_key, block_.key().rounds, p, n);
    } else {
      internal::CfbEncrypt(block_, p, n);
    }
  }
  void Decrypt(uint8_t* p, size_t n) const { internal::CfbDecrypt(block_, p, n); }
  // Encrypt of each buffer, the chains interleaved (AesniCfbEncryptMany).
  void EncryptMany(uint8_t* const* p, const size_t* n, size_t count) const {
    if (!aesni_) {
      for (size_t i = 0; i < count; ++i) Encrypt(p[i], n[i]);
      return;
    }
    internal::AesniCfbEncryptMany(block_.key().rd_key, block_.key().rounds, p, n, count);
  }

 private:
  static void EncryptThunk(const uint8_t* in, uint8_t* out, const void* key) {
    AES_encrypt(in, out, static_cast<const AES_KEY*>(key));
  }
  AesBlock block_;
  bool aesni_ = false;
};

// Encrypts `count` buffers in place: one at a time, or AES's interleaved
// chains.
template <class Transform>
void EncryptEach(const Transform& t, uint8_t* const* p, const size_t* n, size_t count) {
  for (size_t i = 0; i < count; ++i) t.Encrypt(p[i], n[i]);
}
void EncryptEach(const AesCfbTransform& t, uint8_t* const* p, const size_t* n, size_t count) {
  t.EncryptMany(p, n, count);
}

class NoneTransform {
 public:
  void Encrypt(uint8_t*, size_t) const {}
  void Decrypt(uint8_t*, size_t) const {}
};

// ---------------------------------------------------------------------------
// The three layouts.

template <class Transform>
class ClassicCipher final : public PacketCipher {
 public:
  template <class... Args>
  explicit ClassicCipher(absl::string_view name, Args&&... args)
      : PacketCipher(name, CipherLayout::kClassic, kClassicHeaderSize, 0, kClassicNonceSize),
        transform_(std::forward<Args>(args)...) {}

  bool SealWithNonce(absl::Span<uint8_t> d, absl::Span<const uint8_t> nonce) const override {
    if (d.size() < kClassicHeaderSize || nonce.size() != kClassicNonceSize) return false;
    std::memcpy(d.data(), nonce.data(), kClassicNonceSize);
    SealRest(d);
    return true;
  }
  OpenResult Open(absl::Span<uint8_t> d) const override {
    OpenResult r;
    if (d.size() < kClassicHeaderSize) {
      r.reason = DropReason::kTooShort;
      return r;
    }
    transform_.Decrypt(d.data(), d.size());
    const uint32_t want = LoadLe32(d.data() + kClassicNonceSize);
    if (Crc32(d.data() + kClassicHeaderSize, d.size() - kClassicHeaderSize) != want) {
      r.reason = DropReason::kChecksumMismatch;
      return r;
    }
    r.payload = d.subspan(kClassicHeaderSize);
    return r;
  }
  bool EncryptRaw(absl::Span<uint8_t> b) const override {
    transform_.Encrypt(b.data(), b.size());
    return true;
  }
  bool DecryptRaw(absl::Span<uint8_t> b) const override {
    transform_.Decrypt(b.data(), b.size());
    return true;
  }

 protected:
  // Every header first (nonce, CRC), then one EncryptEach over the batch.
  void SealEach(absl::Span<const absl::Span<uint8_t>> datagrams) const override {
    constexpr size_t kChunk = 64;
    uint8_t* p[kChunk];
    size_t n[kChunk];
    while (!datagrams.empty()) {
      const size_t count = std::min(kChunk, datagrams.size());
      for (size_t i = 0; i < count; ++i) {
        absl::Span<uint8_t> d = datagrams[i];
        internal::FillNonce(d.data(), kClassicNonceSize);
        StampCrc(d);
        p[i] = d.data();
        n[i] = d.size();
      }
      EncryptEach(transform_, p, n, count);
      datagrams.remove_prefix(count);
    }
  }

 private:
  static void StampCrc(absl::Span<uint8_t> d) {
    StoreLe32(d.data() + kClassicNonceSize,
              Crc32(d.data() + kClassicHeaderSize, d.size() - kClassicHeaderSize));
  }
  void SealRest(absl::Span<uint8_t> d) const {
    StampCrc(d);
    transform_.Encrypt(d.data(), d.size());
  }
  Transform transform_;
};

class NullCipher final : public PacketCipher {
 public:
  NullCipher() : PacketCipher("null", CipherLayout::kNull, 0, 0, 0) {}
  bool SealWithNonce(absl::Span<uint8_t>, absl::Span<const uint8_t> nonce) const override {
    return nonce.empty();
  }
  OpenResult Open(absl::Span<uint8_t> d) const override {
    OpenResult r;
    r.payload = d;
    return r;
  }
  bool EncryptRaw(absl::Span<uint8_t>) const override { return false; }
  bool DecryptRaw(absl::Span<uint8_t>) const override { return false; }
};

class AeadCipher final : public PacketCipher {
 public:
  AeadCipher(absl::string_view name, const EVP_AEAD* aead, absl::Span<const uint8_t> key)
      : PacketCipher(name, CipherLayout::kAead, kAeadNonceSize, kAeadTagSize, kAeadNonceSize) {
    EVP_AEAD_CTX_zero(&ctx_);
    ok_ = EVP_AEAD_CTX_init(&ctx_, aead, key.data(), key.size(), kAeadTagSize, nullptr) == 1;
  }
  ~AeadCipher() override { EVP_AEAD_CTX_cleanup(&ctx_); }
  bool initialized() const { return ok_; }

  bool SealWithNonce(absl::Span<uint8_t> d, absl::Span<const uint8_t> nonce) const override {
    if (d.size() < overhead() || nonce.size() != kAeadNonceSize) return false;
    std::memcpy(d.data(), nonce.data(), kAeadNonceSize);
    return SealRest(d);
  }
  OpenResult Open(absl::Span<uint8_t> d) const override {
    OpenResult r;
    if (d.size() < overhead()) {
      r.reason = DropReason::kTooShort;
      return r;
    }
    uint8_t* body = d.data() + kAeadNonceSize;
    const size_t body_len = d.size() - kAeadNonceSize;
    size_t out_len = 0;
    if (EVP_AEAD_CTX_open(&ctx_, body, &out_len, body_len, d.data(), kAeadNonceSize, body, body_len,
                          nullptr, 0) != 1) {
      ERR_clear_error();
      r.reason = DropReason::kAuthenticationFailed;
      return r;
    }
    r.payload = d.subspan(kAeadNonceSize, out_len);
    return r;
  }
  bool EncryptRaw(absl::Span<uint8_t>) const override { return false; }
  bool DecryptRaw(absl::Span<uint8_t>) const override { return false; }

 private:
  bool SealRest(absl::Span<uint8_t> d) const {
    uint8_t* body = d.data() + kAeadNonceSize;
    const size_t max_out = d.size() - kAeadNonceSize;
    const size_t in_len = max_out - kAeadTagSize;
    size_t out_len = 0;
    if (EVP_AEAD_CTX_seal(&ctx_, body, &out_len, max_out, d.data(), kAeadNonceSize, body, in_len,
                          nullptr, 0) != 1) {
      ERR_clear_error();
      return false;
    }
    return true;
  }
  EVP_AEAD_CTX ctx_;
  bool ok_ = false;
};

// ---------------------------------------------------------------------------
// Factory.

absl::Status KeySizeError(absl::string_view name, absl::string_view sizes, size_t got) {
  return absl::InvalidArgumentError(
      absl::StrCat("key must be ", sizes, " bytes for ", name, ", got ", got));
}

constexpr absl::string_view kNames[] = {"aes",
                                        "aes-128",
                                        "aes-192",
                                        "aes-256",
                                        "tea",
                                        "xtea",
                                        "blowfish",
                                        "cast5",
                                        "3des",
                                        "twofish",
                                        "sm4",
                                        "salsa20",
                                        "xor",
                                        "none",
                                        "null",
                                        "aes-128-gcm",
                                        "aes-192-gcm",
                                        "aes-256-gcm",
                                        "chacha20-poly1305"};

template <class T, class... Args>
std::unique_ptr<PacketCipher> MakeClassic(absl::string_view name, Args&&... args) {
  return std::make_unique<ClassicCipher<T>>(name, std::forward<Args>(args)...);
}

absl::StatusOr<std::unique_ptr<PacketCipher>> MakeAead(absl::string_view name, const EVP_AEAD* aead,
                                                       absl::Span<const uint8_t> key) {
  auto c = std::make_unique<AeadCipher>(name, aead, key);
  if (!c->initialized()) {
    ERR_clear_error();
    return absl::InternalError(absl::StrCat("BoringSSL refused the key for ", name));
  }
  return std::unique_ptr<PacketCipher>(std::move(c));
}

}  // namespace

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNone:
      return "none";
    case DropReason::kTooShort:
      return "too_short";
    case DropReason::kChecksumMismatch:
      return "checksum_mismatch";
    case DropReason::kAuthenticationFailed:
      return "authentication_failed";
  }
  return "unknown";
}

PacketCipher::PacketCipher(absl::string_view name, CipherLayout layout, size_t header,
                           size_t trailer, size_t nonce)
    : layout_(layout), header_size_(header), trailer_size_(trailer), nonce_size_(nonce) {
  const size_t n = std::min(name.size(), sizeof(name_) - 1);
  std::memcpy(name_, name.data(), n);
  name_[n] = '\0';
}

bool PacketCipher::Seal(absl::Span<uint8_t> datagram) const {
  if (datagram.size() < overhead()) return false;
  if (nonce_size_ == 0) return SealWithNonce(datagram, {});
  uint8_t nonce[kClassicNonceSize];
  internal::FillNonce(nonce, nonce_size_);
  return SealWithNonce(datagram, absl::MakeConstSpan(nonce, nonce_size_));
}

bool PacketCipher::SealBatch(absl::Span<const absl::Span<uint8_t>> datagrams) const {
  for (absl::Span<uint8_t> d : datagrams) {
    if (d.size() < overhead()) return false;
  }
  SealEach(datagrams);
  return true;
}

void PacketCipher::SealEach(absl::Span<const absl::Span<uint8_t>> datagrams) const {
  for (absl::Span<uint8_t> d : datagrams) Seal(d);
}

absl::Span<const absl::string_view> SupportedCipherNames() { return kNames; }

absl::StatusOr<std::unique_ptr<PacketCipher>> NewPacketCipher(absl::string_view name,
                                                              absl::Span<const uint8_t> key) {
  const size_t n = key.size();
  const uint8_t* k = key.data();
  auto exact = [&](size_t want, absl::string_view text) -> absl::Status {
    return n == want ? absl::OkStatus() : KeySizeError(name, text, n);
  };
  auto aes_like = [&]() -> absl::Status {
    return (n == 16 || n == 24 || n == 32) ? absl::OkStatus()
                                           : KeySizeError(name, "16, 24 or 32", n);
  };
  if (name == "aes") {
    if (auto s = aes_like(); !s.ok()) return s;
    return MakeClassic<AesCfbTransform>(name, k, n);
  }
  if (name == "aes-128" || name == "aes-192" || name == "aes-256") {
    const size_t want = name == "aes-128" ? 16 : name == "aes-192" ? 24 : 32;
    if (auto s = exact(want, absl::StrCat(want)); !s.ok()) return s;
    return MakeClassic<AesCfbTransform>(name, k, n);
  }
  if (name == "tea") {
    if (auto s = exact(16, "16"); !s.ok()) return s;
    return MakeClassic<CfbTransform<internal::Tea>>(name, k, 16);
  }
  if (name == "xtea") {
    if (auto s = exact(16, "16"); !s.ok()) return s;
    return MakeClassic<CfbTransform<internal::Xtea>>(name, k);
  }
  if (name == "blowfish") {
    if (n < 1 || n > 56) return KeySizeError(name, "1 to 56", n);
    return MakeClassic<CfbTransform<BlowfishBlock>>(name, k, n);
  }
  if (name == "cast5") {
    if (auto s = exact(16, "16"); !s.ok()) return s;
    return MakeClassic<CfbTransform<Cast5Block>>(name, k);
  }
  if (name == "3des") {
    if (auto s = exact(24, "24"); !s.ok()) return s;
    return MakeClassic<CfbTransform<TripleDesBlock>>(name, k);
  }
  if (name == "twofish") {
    if (auto s = aes_like(); !s.ok()) return s;
    return MakeClassic<CfbTransform<internal::Twofish>>(name, k, n);
  }
  if (name == "sm4") {
    if (auto s = exact(16, "16"); !s.ok()) return s;
    return MakeClassic<CfbTransform<internal::Sm4>>(name, k);
  }
  if (name == "salsa20") {
    if (n < 1 || n > 32) return KeySizeError(name, "1 to 32", n);
    return MakeClassic<Salsa20Transform>(name, key);
  }
  if (name == "xor") {
    if (n < 1) return KeySizeError(name, "at least 1", n);
    return MakeClassic<XorTransform>(name, key);
  }
  if (name == "none") return MakeClassic<NoneTransform>(name);
  if (name == "null") return std::unique_ptr<PacketCipher>(std::make_unique<NullCipher>());
  if (name == "aes-128-gcm" || name == "aes-192-gcm" || name == "aes-256-gcm") {
    const size_t want = name == "aes-128-gcm" ? 16 : name == "aes-192-gcm" ? 24 : 32;
    if (auto s = exact(want, absl::StrCat(want)); !s.ok()) return s;
    const EVP_AEAD* aead = want == 16   ? EVP_aead_aes_128_gcm()
                           : want == 24 ? EVP_aead_aes_192_gcm()
                                        : EVP_aead_aes_256_gcm();
    return MakeAead(name, aead, key);
  }
  if (name == "chacha20-poly1305") {
    if (auto s = exact(32, "32"); !s.ok()) return s;
    return MakeAead(name, EVP_aead_chacha20_poly1305(), key);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown cipher \"", name,
      "\"; expected one of aes, aes-128, aes-192, aes-256, tea, xtea, blowfish, cast5, 3des, "
      "twofish, sm4, salsa20, xor, none, null, aes-128-gcm, aes-192-gcm, aes-256-gcm, "
      "chacha20-poly1305"));
}

std::array<uint8_t, 32> DeriveKcptunKey(absl::string_view passphrase) {
  static constexpr char kSalt[] = "kcp-go";
  std::array<uint8_t, 32> out;
  PKCS5_PBKDF2_HMAC_SHA1(passphrase.data(), passphrase.size(),
                         reinterpret_cast<const uint8_t*>(kSalt), sizeof(kSalt) - 1, 4096,
                         out.size(), out.data());
  return out;
}

absl::StatusOr<std::unique_ptr<PacketCipher>> NewKcptunPacketCipher(
    absl::string_view name, const std::array<uint8_t, 32>& derived_key) {
  size_t len = 32;
  if (name == "aes-128" || name == "tea" || name == "xtea" || name == "cast5" || name == "sm4" ||
      name == "aes-128-gcm") {
    len = 16;
  } else if (name == "aes-192" || name == "3des" || name == "aes-192-gcm") {
    len = 24;
  }
  return NewPacketCipher(name, absl::MakeConstSpan(derived_key.data(), len));
}

}  // namespace kcpp::crypt
