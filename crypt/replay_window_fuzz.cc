// Fuzz target: ReplayWindow against a plain model. The input is a sequence
// of 4-byte steps, each moving to a counter ahead of or behind the highest
// admitted (by up to 2^15, or by up to 2^47 for a jump): the window must
// admit exactly the counters the model says are new and in range, and never
// admit one twice. Also round-trips every counter through a stamp.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "crypt/packet_cipher.h"
#include "crypt/replay_window.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kcpp::crypt::ReplayStamp;
  using kcpp::crypt::ReplayWindow;
  ReplayWindow window;
  std::set<uint64_t> admitted;  // the model: every counter admitted so far
  uint64_t highest = 0;
  // Start near the top now and then, to cover counters close to 2^64.
  uint64_t base = size > 0 && data[0] == 0xff ? ~uint64_t{0} - 100000 : 1000000;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint8_t op = data[i];
    uint64_t delta = uint64_t{data[i + 1]} | uint64_t{data[i + 2]} << 8 | uint64_t{data[i + 3]} << 16;
    if (op & 0x40) delta <<= 24;  // a jump: whole windows at once
    else delta &= 0x7fff;
    const uint64_t ref = admitted.empty() ? base : highest;
    uint64_t c;
    if (op & 0x80) {
      c = ref - (delta > ref ? ref : delta);
    } else {
      c = ref + (delta > ~ref ? ~ref : delta);
    }
    const bool in_range = admitted.empty() || c > highest || highest - c < ReplayWindow::kWindowSize;
    const bool model_new = in_range && admitted.count(c) == 0;
    const ReplayWindow::Verdict v = window.Admit(c);
    if ((v == ReplayWindow::Verdict::kNew) != model_new) std::abort();
    if (!in_range && v != ReplayWindow::Verdict::kTooOld) std::abort();
    if (model_new) {
      admitted.insert(c);
      if (admitted.size() == 1 || c > highest) highest = c;
      // Nothing behind the window matters any more: keep the model small.
      if (highest >= ReplayWindow::kWindowSize) {
        admitted.erase(admitted.begin(), admitted.lower_bound(highest - ReplayWindow::kWindowSize));
      }
    }
    if (window.highest() != highest) std::abort();
    uint8_t nonce[kcpp::crypt::kAeadNonceSize];
    ReplayStamp{static_cast<uint32_t>(c), c}.Store(nonce);
    const ReplayStamp back = ReplayStamp::Load(nonce);
    if (back.counter != c || back.milliseconds != static_cast<uint32_t>(c)) std::abort();
  }
  return 0;
}
