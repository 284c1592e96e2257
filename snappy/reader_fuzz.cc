// Fuzz target: FramingDecoder on hostile bytes. The first input byte picks
// how the rest is split across Feed calls (whole, fixed piece sizes, or
// byte by byte); each piece is copied into an exactly-sized heap buffer so
// ASan sees any over-read. Invariants checked: Feed never reports more bytes
// than it was given, decoded() never exceeds one chunk, an error is sticky,
// and the decoded bytes are the same whatever the split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "snappy/framing.h"

namespace {

// Returns false if the stream was rejected; fills `out` with decoded bytes.
bool Decode(const uint8_t* data, size_t size, size_t piece, std::vector<uint8_t>* out) {
  kcpp::snappy_framing::FramingDecoder dec;
  size_t pos = 0;
  while (pos < size) {
    const size_t n = std::min(piece, size - pos);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n]);
    std::copy(data + pos, data + pos + n, buf.get());
    absl::Span<const uint8_t> in(buf.get(), n);
    while (!in.empty()) {
      absl::StatusOr<size_t> used = dec.Feed(in);
      if (!used.ok()) {
        if (dec.Feed(in).ok() || dec.Finish().ok()) std::abort();  // sticky
        return false;
      }
      if (*used > in.size()) std::abort();
      if (dec.decoded().size() > kcpp::snappy_framing::kMaxChunkDataSize) std::abort();
      if (*used == 0 && dec.decoded().empty()) std::abort();  // no progress
      in.remove_prefix(*used);
      out->insert(out->end(), dec.decoded().begin(), dec.decoded().end());
      dec.ConsumeDecoded(dec.decoded().size());
    }
    pos += n;
  }
  return dec.Finish().ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const size_t kPieces[] = {1, 3, 4, 7, 64, 1000, 65536, SIZE_MAX};
  const size_t piece = kPieces[data[0] % 8];
  std::vector<uint8_t> whole, split;
  const bool ok_whole = Decode(data + 1, size - 1, SIZE_MAX, &whole);
  const bool ok_split = Decode(data + 1, size - 1, piece, &split);
  if (ok_whole != ok_split) std::abort();
  if (ok_whole && whole != split) std::abort();
  return 0;
}
