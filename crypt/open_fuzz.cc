// Fuzz target: PacketCipher::Open of every cipher on hostile bytes. The first
// input byte selects the cipher; the rest is the datagram, copied into an
// exactly-sized heap buffer so ASan catches any over-read or over-write.
// Whatever Open returns must be a sub-span of the datagram.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "crypt/packet_cipher.h"

namespace {

using kcpp::crypt::PacketCipher;

const std::vector<std::unique_ptr<PacketCipher>>& Ciphers() {
  static const auto* ciphers = [] {
    auto* v = new std::vector<std::unique_ptr<PacketCipher>>;
    const auto key = kcpp::crypt::DeriveKcptunKey("fuzz");
    for (absl::string_view name : kcpp::crypt::SupportedCipherNames()) {
      auto c = kcpp::crypt::NewKcptunPacketCipher(name, key);
      if (!c.ok()) std::abort();
      v->push_back(std::move(*c));
    }
    return v;
  }();
  return *ciphers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& ciphers = Ciphers();
  const PacketCipher& c = *ciphers[data[0] % ciphers.size()];
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size - 1]);
  std::copy(data + 1, data + size, buf.get());
  absl::Span<uint8_t> d(buf.get(), size - 1);
  kcpp::crypt::OpenResult r = c.Open(d);
  if (r.ok()) {
    if (r.payload.data() < d.data() || r.payload.data() + r.payload.size() > d.data() + d.size()) {
      std::abort();
    }
    // Re-sealing an accepted payload must succeed in the same buffer.
    if (!c.Seal(d)) std::abort();
  }
  return 0;
}
