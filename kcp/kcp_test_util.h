// Test-only harness: two Kcp engines joined by a pair of FakeLinks and
// driven by one FakeClock, either ikcp style (Update + Check) or kcp-go
// style (Flush at the returned delay). Used by kcp/'s tests; no sleeping.
#ifndef KCPP_KCP_KCP_TEST_UTIL_H_
#define KCPP_KCP_KCP_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kcp/kcp.h"
#include "testing/fake_clock.h"
#include "testing/fake_link.h"

namespace kcpp::kcp {

// How the harness calls the engines' timers.
enum class Drive {
  kUpdateCheck,    // Update(now) every step, sleep until min(Check())
  kFlushSchedule,  // Flush(now) when due, next due = now + returned delay
};

// A nodelay preset (docs/protocol.md §6.3).
struct Preset {
  const char* name;
  int nodelay, interval, resend, nc;
};
inline constexpr Preset kPresetDefault{"default", 0, 100, 0, 0};  // ikcp's defaults
inline constexpr Preset kPresetNormal{"normal", 0, 40, 2, 1};
inline constexpr Preset kPresetFast{"fast", 0, 30, 2, 1};
inline constexpr Preset kPresetFast2{"fast2", 1, 20, 2, 1};
inline constexpr Preset kPresetFast3{"fast3", 1, 10, 2, 1};

inline void ApplyPreset(Kcp& k, const Preset& p) {
  k.SetNoDelay(p.nodelay, p.interval, p.resend, p.nc);
}

class KcpPair {
 public:
  KcpPair(Flavor flavor_a, Flavor flavor_b, const test::FakeLinkOptions& ab,
          const test::FakeLinkOptions& ba, uint32_t conv = 0x11223344)
      : ab_(ab), ba_(ba) {
    a_ = std::make_unique<Kcp>(
        conv, [this](absl::Span<const uint8_t> d) { ab_.Send(d, clock_.now_ms()); }, flavor_a);
    b_ = std::make_unique<Kcp>(
        conv, [this](absl::Span<const uint8_t> d) { ba_.Send(d, clock_.now_ms()); }, flavor_b);
  }

  Kcp& a() { return *a_; }
  Kcp& b() { return *b_; }
  test::FakeClock& clock() { return clock_; }
  test::FakeLink& ab() { return ab_; }
  test::FakeLink& ba() { return ba_; }
  uint64_t steps() const { return steps_; }
  // Sees every datagram delivered (a_to_b tells the direction).
  std::function<void(bool a_to_b, absl::Span<const uint8_t>)> tap;

  // Runs steps until `done()` holds (true) or virtual time passes `max_ms`
  // (false). `on_step` runs once per step after deliveries, before timers:
  // the application's reads and writes go there.
  bool Run(Drive drive, uint64_t max_ms, const std::function<bool()>& done,
           const std::function<void()>& on_step) {
    const uint64_t end = clock_.now_ms() + max_ms;
    for (;;) {
      const uint64_t now = clock_.now_ms();
      const uint32_t now32 = clock_.now_ms32();
      ++steps_;
      for (;;) {
        size_t n = ab_.DeliverDue(now, [&](absl::Span<const uint8_t> d) {
          if (tap) tap(true, d);
          b_->Input(d, now32);
        });
        n += ba_.DeliverDue(now, [&](absl::Span<const uint8_t> d) {
          if (tap) tap(false, d);
          a_->Input(d, now32);
        });
        if (n == 0) break;
      }
      if (on_step) on_step();
      if (done()) return true;
      uint64_t next;
      if (drive == Drive::kUpdateCheck) {
        a_->Update(now32);
        b_->Update(now32);
        next = now + std::min(Until(a_->Check(now32)), Until(b_->Check(now32)));
      } else {
        if (now >= next_a_) next_a_ = now + a_->Flush(now32);
        if (now >= next_b_) next_b_ = now + b_->Flush(now32);
        next = std::min(next_a_, next_b_);
      }
      if (auto t = ab_.NextDeliveryTime()) next = std::min(next, *t);
      if (auto t = ba_.NextDeliveryTime()) next = std::min(next, *t);
      next = std::max(next, now + 1);
      if (next > end) return done();
      clock_.AdvanceTo(next);
    }
  }

 private:
  uint64_t Until(uint32_t t32) const {
    const int32_t d = static_cast<int32_t>(t32 - clock_.now_ms32());
    return d > 0 ? static_cast<uint64_t>(d) : 0;
  }

  test::FakeClock clock_{1000};
  test::FakeLink ab_, ba_;
  std::unique_ptr<Kcp> a_, b_;
  uint64_t next_a_ = 0, next_b_ = 0;
  uint64_t steps_ = 0;
};

// Deterministic payload bytes: byte `i` of stream `seed` is byte i % 8 of
// PatternWord(seed, i / 8).
inline uint64_t PatternWord(uint64_t seed, uint64_t w) {
  uint64_t x = w * 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return x;
}
inline void FillPattern(uint64_t seed, uint64_t offset, uint8_t* out, size_t n) {
  while (n > 0 && (offset & 7) != 0) {
    *out++ = static_cast<uint8_t>(PatternWord(seed, offset >> 3) >> (8 * (offset & 7)));
    ++offset;
    --n;
  }
  while (n >= 8) {
    const uint64_t x = PatternWord(seed, offset >> 3);
    for (int k = 0; k < 8; ++k) out[k] = static_cast<uint8_t>(x >> (8 * k));
    out += 8;
    offset += 8;
    n -= 8;
  }
  for (size_t k = 0; k < n; ++k) {
    out[k] = static_cast<uint8_t>(PatternWord(seed, (offset + k) >> 3) >> (8 * ((offset + k) & 7)));
  }
}

}  // namespace kcpp::kcp

#endif  // KCPP_KCP_KCP_TEST_UTIL_H_
