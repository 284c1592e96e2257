// Packet encryption compatible with kcp-go / kcptun (docs/protocol.md §3).
//
// A PacketCipher seals one outgoing UDP datagram in place and opens one
// incoming datagram in place. Three layouts exist (docs/protocol.md §1, §3):
//
//   classic (every kcp-go cipher: aes, tea, xtea, blowfish, cast5, 3des,
//   twofish, sm4, salsa20, xor, none):
//       | nonce 16 | crc32 4 (LE, over bytes 20..) | payload |
//       \______ whole datagram encrypted (CFB with kcp-go's fixed IV) _____/
//   AEAD (kcp-go >= v5.6.49 aes-*-gcm; chacha20-poly1305 is a kcpp extension
//   in the same layout):
//       | nonce 12 | ciphertext(payload) | tag 16 |       (no AAD, no CRC)
//   null: no header, nothing changed.
//
// Usage:
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<PacketCipher> cipher,
//                         NewKcptunPacketCipher("aes", DeriveKcptunKey(pw)));
//   // Sender: reserve cipher->header_size() bytes before the payload and
//   // cipher->trailer_size() after it, then:
//   cipher->Seal(absl::MakeSpan(datagram, header + payload_len + trailer));
//   // Receiver:
//   OpenResult r = cipher->Open(absl::MakeSpan(buf, received));
//   if (!r.ok()) { ++drops[static_cast<int>(r.reason)]; return; }
//   Consume(r.payload);  // points into buf
//
// Thread safety: every PacketCipher is immutable after construction; Seal and
// Open are const and keep their scratch on the stack, so one instance may be
// shared by any number of threads/sessions (unlike kcp-go's ciphers, which
// keep scratch buffers inside). Random nonces come from a per-thread pool
// refilled from BoringSSL's RAND_bytes 4 KiB at a time.
//
// Cost: one virtual call per packet, no allocation per packet.
#ifndef KCPP_CRYPT_PACKET_CIPHER_H_
#define KCPP_CRYPT_PACKET_CIPHER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kcpp::crypt {

// Classic layout: 16-byte nonce + 4-byte CRC-32 (docs/protocol.md §3.1).
inline constexpr size_t kClassicNonceSize = 16;
inline constexpr size_t kClassicHeaderSize = 20;
// AEAD layout: 12-byte nonce, 16-byte tag (docs/protocol.md §3.4).
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
// Length of the "xor" cipher's key table (kcp-go mtuLimit); bytes past it are
// left as they are, as kcp-go does.
inline constexpr size_t kXorTableSize = 1500;

// Why Open rejected a datagram. Callers count these (kcp-go counts both
// failures as InCsumErrors).
enum class DropReason : uint8_t {
  kNone = 0,              // accepted
  kTooShort,              // shorter than the cipher's overhead
  kChecksumMismatch,      // classic layout: CRC-32 after decryption differs
  kAuthenticationFailed,  // AEAD layout: tag check failed
};
inline constexpr int kNumDropReasons = 4;

// Stable lower-case name of `reason`, for counters and logs.
absl::string_view DropReasonName(DropReason reason);

// Result of PacketCipher::Open.
struct OpenResult {
  // The plaintext payload, a sub-span of the datagram passed to Open. Empty
  // unless ok().
  absl::Span<uint8_t> payload;
  DropReason reason = DropReason::kNone;
  bool ok() const { return reason == DropReason::kNone; }
};

// The layout family of a cipher.
enum class CipherLayout : uint8_t { kNull, kClassic, kAead };

// A packet cipher. Create with NewPacketCipher / NewKcptunPacketCipher.
class PacketCipher {
 public:
  virtual ~PacketCipher() = default;
  PacketCipher(const PacketCipher&) = delete;
  PacketCipher& operator=(const PacketCipher&) = delete;

  // The cipher name this object was created with ("aes", "sm4", ...).
  absl::string_view name() const { return name_; }
  CipherLayout layout() const { return layout_; }
  // Bytes before the payload the sender must reserve (20 classic, 12 AEAD,
  // 0 null). The FEC header or KCP data starts at this offset.
  size_t header_size() const { return header_size_; }
  // Bytes after the payload the sender must reserve (16 AEAD, else 0).
  size_t trailer_size() const { return trailer_size_; }
  // header_size() + trailer_size(): the smallest valid datagram.
  size_t overhead() const { return header_size_ + trailer_size_; }
  // Bytes of random nonce Seal writes (16 classic, 12 AEAD, 0 null).
  size_t nonce_size() const { return nonce_size_; }

  // Seals `datagram` in place. Layout on entry: header_size() bytes of
  // headroom (contents ignored) | payload | trailer_size() bytes of tailroom.
  // Draws a fresh random nonce. Returns false, leaving `datagram` untouched,
  // if datagram.size() < overhead().
  bool Seal(absl::Span<uint8_t> datagram) const;

  // Seals every datagram of `datagrams`, each exactly as Seal would (its own
  // fresh nonce, the same layout). Where a cipher's encryption is one serial
  // chain per datagram (AES in kcp-go's CFB mode), the chains of several
  // datagrams advance together: several times Seal's throughput for a
  // burst of packets. Returns false, sealing none, if any datagram is
  // shorter than overhead().
  bool SealBatch(absl::Span<const absl::Span<uint8_t>> datagrams) const;

  // As Seal, with a caller-chosen nonce of nonce_size() bytes. Meant for test
  // vectors and interop checks; reusing a nonce breaks AEAD security.
  // Returns false if the sizes are wrong.
  virtual bool SealWithNonce(absl::Span<uint8_t> datagram,
                             absl::Span<const uint8_t> nonce) const = 0;

  // Opens `datagram` in place (it is overwritten even when rejected) and
  // returns the payload or the reason for dropping it. Safe on any input:
  // never reads or writes outside `datagram`.
  // Integrity: AEAD authenticates everything. The classic layout only has a
  // CRC-32 over bytes 20.. (kcp-go's design): it detects corruption, not
  // forgery, and some changes confined to the 16 nonce bytes are accepted
  // (e.g. bytes 0..7 with 8-byte block ciphers, 0..15 with xor and none) —
  // the payload is then unchanged.
  virtual OpenResult Open(absl::Span<uint8_t> datagram) const = 0;

  // kcp-go's BlockCrypt.Encrypt / Decrypt: transform the whole buffer in
  // place with no header handling (Appendix A.1 vectors are defined this
  // way). Classic ciphers only; return false for null and AEAD ciphers.
  virtual bool EncryptRaw(absl::Span<uint8_t> buffer) const = 0;
  virtual bool DecryptRaw(absl::Span<uint8_t> buffer) const = 0;

 protected:
  PacketCipher(absl::string_view name, CipherLayout layout, size_t header, size_t trailer,
               size_t nonce);

  // SealBatch after its checks: every datagram is at least overhead() long.
  // The default seals them one by one.
  virtual void SealEach(absl::Span<const absl::Span<uint8_t>> datagrams) const;

 private:
  char name_[24];
  CipherLayout layout_;
  size_t header_size_;
  size_t trailer_size_;
  size_t nonce_size_;
};

// Creates the cipher `name` with exactly `key`. Names and key sizes:
//   aes (16/24/32 -> AES-128/192/256), aes-128 (16), aes-192 (24),
//   aes-256 (32), tea (16; kcp-go's 16-round TEA), xtea (16),
//   blowfish (1..56), cast5 (16), 3des (24), twofish (16/24/32), sm4 (16),
//   salsa20 (1..32, zero-padded to 32 as kcp-go does), xor (any, >= 1),
//   none (ignored), null (ignored),
//   aes-128-gcm (16), aes-192-gcm (24), aes-256-gcm (32),
//   chacha20-poly1305 (32).
// Errors: InvalidArgument for an unknown name or a wrong key size, e.g.
// "key must be 16, 24 or 32 bytes for aes, got 20".
absl::StatusOr<std::unique_ptr<PacketCipher>> NewPacketCipher(absl::string_view name,
                                                              absl::Span<const uint8_t> key);

// kcptun's key: PBKDF2-HMAC-SHA1(passphrase, "kcp-go", 4096, 32)
// (docs/protocol.md §3.6).
std::array<uint8_t, 32> DeriveKcptunKey(absl::string_view passphrase);

// Creates cipher `name` as kcptun does from its 32-byte derived key: the key
// is truncated per docs/protocol.md §3.3 (aes-128, tea, xtea, cast5, sm4,
// aes-128-gcm: 16 bytes; aes-192, 3des, aes-192-gcm: 24; everything else the
// full 32). Unlike kcptun, an unknown name is an error, not a silent fallback
// to aes.
absl::StatusOr<std::unique_ptr<PacketCipher>> NewKcptunPacketCipher(
    absl::string_view name, const std::array<uint8_t, 32>& derived_key);

// Names accepted by NewPacketCipher, in a stable order.
absl::Span<const absl::string_view> SupportedCipherNames();

}  // namespace kcpp::crypt

#endif  // KCPP_CRYPT_PACKET_CIPHER_H_
