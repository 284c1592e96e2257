// FakeClock: a manually advanced millisecond clock for sans-IO tests.
//
// kcpp's cores (kcp/, fec/, crypt/) take time as an argument; tests drive
// them from one FakeClock so a run is reproducible and never sleeps:
//
//   kcpp::test::FakeClock clock;
//   engine.Update(clock.now_ms32());
//   clock.AdvanceTo(engine.Check(clock.now_ms32()));
//
// The clock is 64-bit internally; now_ms32() is the wrap-around 32-bit view
// KCP uses on the wire (docs/protocol.md §0, `_itimediff`). Not thread-safe.
#ifndef KCPP_TESTING_FAKE_CLOCK_H_
#define KCPP_TESTING_FAKE_CLOCK_H_

#include <cstdint>

namespace kcpp::test {

class FakeClock {
 public:
  explicit FakeClock(uint64_t start_ms = 0) : now_ms_(start_ms) {}

  // Milliseconds since the clock's epoch.
  uint64_t now_ms() const { return now_ms_; }
  // The same instant truncated to 32 bits (KCP's `current`).
  uint32_t now_ms32() const { return static_cast<uint32_t>(now_ms_); }

  void Advance(uint64_t ms) { now_ms_ += ms; }
  // Moves to `t_ms` if it is later than now; never goes backwards.
  void AdvanceTo(uint64_t t_ms) {
    if (t_ms > now_ms_) now_ms_ = t_ms;
  }
  // Moves to the 32-bit instant `t32` interpreted as at most 2^31 - 1 ms
  // ahead of now (KCP deadlines such as Kcp::Check); earlier or equal
  // instants leave the clock unchanged.
  void AdvanceTo32(uint32_t t32) {
    const int32_t diff = static_cast<int32_t>(t32 - now_ms32());
    if (diff > 0) now_ms_ += static_cast<uint64_t>(diff);
  }

 private:
  uint64_t now_ms_;
};

}  // namespace kcpp::test

#endif  // KCPP_TESTING_FAKE_CLOCK_H_
