// Shared helpers for fec/ tests, fuzz targets and benchmarks (testonly).
#ifndef KCPP_FEC_INTERNAL_TEST_UTIL_H_
#define KCPP_FEC_INTERNAL_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fec/fec_encoder.h"

namespace kcpp::fec::testing {

// A ParitySink that hands out its own buffers (pre-filled with 0xCD so
// untouched headroom is visible) and keeps a copy of every emitted packet.
// Buffers are reused: no allocation once warm.
class CollectingParitySink : public ParitySink {
 public:
  bool refuse = false;   // AcquireParityBuffers fails
  size_t shortfall = 0;  // hand out buffers this much too small
  std::vector<std::vector<uint8_t>> emitted;

  bool AcquireParityBuffers(size_t size, absl::Span<absl::Span<uint8_t>> buffers) override {
    if (refuse) return false;
    if (pool_.size() < buffers.size()) pool_.resize(buffers.size());
    for (size_t i = 0; i < buffers.size(); ++i) {
      pool_[i].assign(size - shortfall, 0xCD);
      buffers[i] = absl::MakeSpan(pool_[i]);
    }
    return true;
  }
  void EmitParity(absl::Span<uint8_t> packet) override {
    emitted.emplace_back(packet.begin(), packet.end());
  }

 private:
  std::vector<std::vector<uint8_t>> pool_;
};

// A sink that drops what it is given (benchmarks, allocation tests).
class DiscardingParitySink : public ParitySink {
 public:
  explicit DiscardingParitySink(size_t capacity) {
    for (auto& b : bufs_) b.resize(capacity);
  }
  bool AcquireParityBuffers(size_t size, absl::Span<absl::Span<uint8_t>> buffers) override {
    if (buffers.size() > 256 || size > bufs_[0].size()) return false;
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i] = absl::MakeSpan(bufs_[i]);
    return true;
  }
  void EmitParity(absl::Span<uint8_t> packet) override { ++emitted; }
  size_t emitted = 0;

 private:
  std::vector<uint8_t> bufs_[256];
};

// header_offset bytes of 0xAB, 8 zero bytes for the FEC header, then `kcp`.
inline std::vector<uint8_t> DataBuffer(size_t header_offset, absl::Span<const uint8_t> kcp) {
  std::vector<uint8_t> b(header_offset, 0xAB);
  b.resize(header_offset + 8, 0);
  b.insert(b.end(), kcp.begin(), kcp.end());
  return b;
}

inline std::vector<uint8_t> FromHex(absl::string_view hex) {
  const std::string s = absl::HexStringToBytes(hex);
  return std::vector<uint8_t>(s.begin(), s.end());
}

inline std::string ToHex(absl::Span<const uint8_t> b) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

}  // namespace kcpp::fec::testing

#endif  // KCPP_FEC_INTERNAL_TEST_UTIL_H_
