#include "crypt/replay_window.h"

#include <openssl/rand.h>

#include "base/endian.h"

namespace kcpp::crypt {

void ReplayStamp::Store(uint8_t* nonce) const {
  StoreLe32(nonce, milliseconds);
  StoreLe64(nonce + 4, counter);
}

ReplayStamp ReplayStamp::Load(const uint8_t* nonce) {
  return ReplayStamp{LoadLe32(nonce), LoadLe64(nonce + 4)};
}

uint64_t ReplayCounter::RandomStart() {
  uint8_t b[8];
  RAND_bytes(b, sizeof(b));
  return LoadLe64(b) & ((uint64_t{1} << 62) - 1);
}

bool StampIsFresh(uint32_t stamp_ms32, int64_t now_ms, int64_t start_ms, int64_t max_skew_ms) {
  const int64_t age = static_cast<int32_t>(static_cast<uint32_t>(now_ms) - stamp_ms32);
  if (age > max_skew_ms || -age > max_skew_ms) return false;
  // Once the receiver is older than the skew, anything fresh is after its
  // start anyway (and the 32-bit difference to an old start would wrap).
  if (now_ms - start_ms > max_skew_ms) return true;
  // Strictly after: the stamp of a datagram sealed in the very millisecond
  // the receiver started may predate it (the sender retransmits, re-stamped).
  return static_cast<int32_t>(stamp_ms32 - static_cast<uint32_t>(start_ms)) > 0;
}

ReplayWindow::Verdict ReplayWindow::Check(uint64_t counter) const {
  if (empty_ || counter > highest_) return Verdict::kNew;
  if (highest_ - counter >= kWindowSize) return Verdict::kTooOld;
  const uint64_t bit = counter % (kWords * 64);
  return (bits_[bit / 64] >> (bit % 64)) & 1 ? Verdict::kDuplicate : Verdict::kNew;
}

ReplayWindow::Verdict ReplayWindow::Admit(uint64_t counter) {
  const Verdict v = Check(counter);
  if (v != Verdict::kNew) return v;
  if (empty_ || counter > highest_) {
    // Clear the words the window slides over (all of them after a jump of
    // a whole ring or more).
    const uint64_t new_word = counter / 64;
    if (empty_ || new_word - highest_ / 64 >= kWords) {
      bits_.fill(0);
    } else {
      for (uint64_t w = highest_ / 64 + 1; w <= new_word; ++w) bits_[w % kWords] = 0;
    }
    highest_ = counter;
    empty_ = false;
  }
  const uint64_t bit = counter % (kWords * 64);
  bits_[bit / 64] |= uint64_t{1} << (bit % 64);
  return v;
}

}  // namespace kcpp::crypt
