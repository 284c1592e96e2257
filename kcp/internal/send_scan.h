// SendScan: the flush's fast path over KCP's send ring.
//
// A flush must look at every unacknowledged segment in flight, but almost
// all of them are merely waiting: sent, no duplicate-ACK count that could
// fire, retransmission timer still ahead. SendScan keeps, per ring slot, the
// two numbers that decide this (a state and the retransmission time) in two
// dense arrays, and Scan() checks four slots per SSE2 instruction, calling
// back only for slots that need the engine's attention and returning the
// nearest timer of the quiet ones. kcp::Kcp owns one, sized like its ring;
// Kcp decides the state of each slot (Kcp::ScanStateOf) and keeps it up to
// date whenever a segment changes.
//
// Sans-IO, no allocation after Resize.
#ifndef KCPP_KCP_INTERNAL_SEND_SCAN_H_
#define KCPP_KCP_INTERNAL_SEND_SCAN_H_

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <memory>

namespace kcpp::kcp::internal {

class SendScan {
 public:
  // Slot states. kQuiet: sent, unacknowledged, nothing pending but its
  // timer; kSkip: acknowledged; kAttention: anything else (unsent, or a
  // duplicate-ACK count that may fire).
  static constexpr uint32_t kQuiet = 0, kSkip = 1, kAttention = 2;
  // Scan's result when no quiet slot has a timer.
  static constexpr int32_t kNoTimer = 0x7fffffff;

  // `capacity` slots (the ring's, a power of two), all kQuiet with timer 0;
  // 0 frees the arrays.
  void Resize(uint32_t capacity) {
    capacity_ = capacity;
    slots_.reset(capacity == 0 ? nullptr : new uint32_t[2 * size_t{capacity}]());
  }
  uint32_t capacity() const { return capacity_; }

  void Set(uint32_t slot, uint32_t state, uint32_t resend_ms) {
    slots_[slot] = state;
    slots_[capacity_ + slot] = resend_ms;
  }
  void SetState(uint32_t slot, uint32_t state) { slots_[slot] = state; }
  uint32_t state(uint32_t slot) const { return slots_[slot]; }
  uint32_t resend(uint32_t slot) const { return slots_[capacity_ + slot]; }

  // Visits, in ring order from `head` (count slots, wrapping), every slot
  // that is not quiet-and-waiting: kAttention slots, and kQuiet slots whose
  // timer is due at `now_ms` (kSkip slots may be visited too, when they
  // share a group of four with one that is). Returns the smallest
  // resend - now over the quiet slots not visited (kNoTimer if none);
  // `visit` reports the others itself.
  template <typename Visit>
  int32_t Scan(uint32_t head, uint32_t count, uint32_t now_ms, Visit&& visit) const {
    const uint32_t mask = capacity_ - 1;
    const uint32_t* st = slots_.get();
    const uint32_t* rs = st + capacity_;
    int32_t min_d = kNoTimer;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    const __m128i skip = _mm_set1_epi32(kSkip);
    const __m128i nowv = _mm_set1_epi32(static_cast<int32_t>(now_ms));
    const __m128i big = _mm_set1_epi32(kNoTimer);
    __m128i minv = big;
#endif
    uint32_t i = 0;
    while (i < count) {
      const uint32_t p = (head + i) & mask;
      const uint32_t run = std::min(capacity_ - p, count - i);
      uint32_t k = 0;
#if defined(__SSE2__)
      for (; k + 4 <= run; k += 4) {
        const __m128i sv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st + p + k));
        const __m128i d =
            _mm_sub_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rs + p + k)), nowv);
        const __m128i quiet = _mm_cmpeq_epi32(sv, zero);
        const __m128i ok = _mm_or_si128(_mm_and_si128(quiet, _mm_cmpgt_epi32(d, zero)),
                                        _mm_cmpeq_epi32(sv, skip));
        if (_mm_movemask_epi8(ok) != 0xFFFF) {
          for (uint32_t j = 0; j < 4; ++j) visit(p + k + j);
          continue;
        }
        const __m128i dq = _mm_or_si128(_mm_and_si128(quiet, d), _mm_andnot_si128(quiet, big));
        const __m128i lt = _mm_cmplt_epi32(dq, minv);
        minv = _mm_or_si128(_mm_and_si128(lt, dq), _mm_andnot_si128(lt, minv));
      }
#endif
      for (; k < run; ++k) visit(p + k);
      i += run;
    }
#if defined(__SSE2__)
    alignas(16) int32_t lanes[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), minv);
    for (int32_t v : lanes) min_d = std::min(min_d, v);
#endif
    return min_d;
  }

 private:
  uint32_t capacity_ = 0;
  // [0, capacity): states; [capacity, 2 capacity): resend times (ms).
  std::unique_ptr<uint32_t[]> slots_;
};

}  // namespace kcpp::kcp::internal

#endif  // KCPP_KCP_INTERNAL_SEND_SCAN_H_
