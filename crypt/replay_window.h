// Replay protection for the AEAD layout, kcpp <-> kcpp only
// (docs/protocol.md §11.10; SessionOptions::replay_protection).
//
// With it on, the 12-byte AEAD nonce is not random but a stamp:
//
//   | milliseconds u32 LE | counter u64 LE |
//
// `milliseconds` is the sender's Unix time in ms, modulo 2^32; `counter`
// starts at a random value below 2^62 for each sending session and grows by
// one per datagram. The AEAD covers the nonce, so neither can be changed
// without the key. A receiver keeps a ReplayWindow per session over the
// peer's counter (RFC 6479's bitmap, as WireGuard does), and a datagram that
// would create a session must be fresh by the clock (StampIsFresh).
//
// Sans-IO: no clock, no socket, no allocation. The transport reads the
// clock and owns one window per session (transport/internal/session_core.cc).
//
//   ReplayCounter tx(ReplayCounter::RandomStart());
//   tx.Next(now_ms32).Store(nonce);                 // sender, per datagram
//   ReplayWindow rx;
//   if (!rx.Admit(ReplayStamp::Load(nonce).counter)) drop();  // receiver
#ifndef KCPP_CRYPT_REPLAY_WINDOW_H_
#define KCPP_CRYPT_REPLAY_WINDOW_H_

#include <array>
#include <cstdint>

namespace kcpp::crypt {

// The AEAD nonce of a replay-protected datagram.
struct ReplayStamp {
  uint32_t milliseconds = 0;  // sender's Unix time in ms, mod 2^32
  uint64_t counter = 0;       // per sending session, strictly increasing

  // Writes / reads the 12 nonce bytes (kAeadNonceSize).
  void Store(uint8_t* nonce) const;
  static ReplayStamp Load(const uint8_t* nonce);
};

// The sending half: one per session. Loop thread only.
class ReplayCounter {
 public:
  // A random start below 2^62 (BoringSSL RAND_bytes): two sessions' counter
  // ranges meet with negligible probability, so (ms, counter) never repeats
  // under the shared key, and a sender never wraps (2^62 datagrams).
  static uint64_t RandomStart();

  explicit ReplayCounter(uint64_t start) : next_(start) {}
  ReplayStamp Next(uint32_t now_ms32) { return ReplayStamp{now_ms32, next_++}; }
  uint64_t next() const { return next_; }

 private:
  uint64_t next_;
};

// Whether a datagram stamped `stamp_ms32` may create receiver state (a
// session): it is within `max_skew_ms` of this host's clock (`now_ms`, Unix
// ms) either way, and — while the receiver itself is younger than
// max_skew_ms — stamped strictly after the receiver's start (`start_ms`,
// Unix ms), so a datagram captured before a restart cannot create a session
// after it.
// Wrap-safe: compares on the signed 32-bit difference.
bool StampIsFresh(uint32_t stamp_ms32, int64_t now_ms, int64_t start_ms, int64_t max_skew_ms);

// RFC 6479 anti-replay window over a 64-bit counter: a ring of 64-bit words
// in which the newest kWords - 1 words' worth of counters are tracked
// exactly. Accepts each counter at most once; counters more than
// kWindowSize below the highest seen are refused as too old. 256 bytes of
// state, O(1) per datagram, no allocation.
class ReplayWindow {
 public:
  static constexpr int kWords = 32;
  // Counters tracked behind the highest: reordering deeper than this is
  // refused (KCP retransmits those segments).
  static constexpr uint64_t kWindowSize = (kWords - 1) * 64;  // 1984

  enum class Verdict : uint8_t {
    kNew,        // not seen: accept
    kDuplicate,  // seen before
    kTooOld,     // at least kWindowSize below the highest
  };

  // The verdict for `counter`, changing nothing.
  Verdict Check(uint64_t counter) const;
  // Check, and record `counter` if it is new. Call only after the datagram
  // authenticated, or a forgery could move the window.
  Verdict Admit(uint64_t counter);

  bool empty() const { return empty_; }
  // The highest counter admitted (meaningless while empty()).
  uint64_t highest() const { return highest_; }

 private:
  std::array<uint64_t, kWords> bits_{};
  uint64_t highest_ = 0;
  bool empty_ = true;
};

}  // namespace kcpp::crypt

#endif  // KCPP_CRYPT_REPLAY_WINDOW_H_
