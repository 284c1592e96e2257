// A trivial fuzz target that exists to prove --config=fuzz builds and runs:
// it parses a tiny length-prefixed record format with bounds checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  unsigned sum = 0;
  while (pos < size) {
    const size_t len = data[pos++];
    if (len > size - pos) break;  // the bounds check under test
    for (size_t i = 0; i < len; ++i) sum += data[pos + i];
    pos += len;
  }
  if (sum == 0xFFFFFFFFu) std::abort();  // unreachable for inputs < 16 MiB
  return 0;
}
