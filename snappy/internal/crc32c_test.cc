#include "snappy/internal/crc32c.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::snappy_framing::internal {
namespace {

// Check values from RFC 3720 (iSCSI) Appendix B.4 and the CRC catalogue
// ("123456789" -> 0xe3069283).
struct Vector {
  std::vector<uint8_t> data;
  uint32_t crc;
};

std::vector<Vector> SpecVectors() {
  std::vector<Vector> v;
  v.push_back({std::vector<uint8_t>{'1', '2', '3', '4', '5', '6', '7', '8', '9'}, 0xe3069283});
  v.push_back({std::vector<uint8_t>(32, 0x00), 0x8a9136aa});
  v.push_back({std::vector<uint8_t>(32, 0xff), 0x62a8ab43});
  std::vector<uint8_t> up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  v.push_back({up, 0x46dd794e});
  v.push_back({down, 0x113fdb5c});
  v.push_back({{0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
               0xd9963a56});
  v.push_back({{}, 0});
  return v;
}

TEST(Crc32c, SpecVectors) {
  for (const Vector& v : SpecVectors()) {
    EXPECT_EQ(Crc32c(0, v.data.data(), v.data.size()), v.crc) << v.data.size();
  }
}

// Every length up to a few of ISA-L's blocks and every alignment against a
// bit-at-a-time reference: its kernels switch at several lengths.
uint32_t BitwiseCrc32c(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0x82f63b78u : 0);
  }
  return ~c;
}

TEST(Crc32c, MatchesBitwiseReferenceAllLengthsAndOffsets) {
  std::mt19937 rng(42);
  std::vector<uint8_t> buf(3 * 1536 + 64);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len + offset <= buf.size(); len += (len < 2000 ? 1 : 37)) {
      const uint8_t* p = buf.data() + offset;
      ASSERT_EQ(Crc32c(0, p, len), BitwiseCrc32c(p, len)) << offset << " " << len;
    }
  }
}

// Crc32c(Crc32c(0, a), b) == Crc32c(0, a || b): the streaming contract.
TEST(Crc32c, ExtendEqualsOneShot) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(10000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint32_t whole = Crc32c(0, buf.data(), buf.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{1536}, size_t{4097}, size_t{9999}}) {
    const uint32_t a = Crc32c(0, buf.data(), split);
    EXPECT_EQ(Crc32c(a, buf.data() + split, buf.size() - split), whole) << split;
  }
}

}  // namespace
}  // namespace kcpp::snappy_framing::internal
