#include "base/endian.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace kcpp {
namespace {

TEST(Endian, LittleEndianPutsTheLeastSignificantByteFirst) {
  uint8_t b[8] = {};
  StoreLe16(b, 0x0102);
  EXPECT_EQ(b[0], 0x02);
  EXPECT_EQ(b[1], 0x01);
  StoreLe32(b, 0x01020304);
  EXPECT_EQ(b[0], 0x04);
  EXPECT_EQ(b[3], 0x01);
  StoreLe64(b, 0x0102030405060708);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b[i], 8 - i) << i;

  const uint8_t in[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(LoadLe16(in), 0x0708u);
  EXPECT_EQ(LoadLe32(in), 0x05060708u);
  EXPECT_EQ(LoadLe64(in), 0x0102030405060708u);
}

TEST(Endian, BigEndianPutsTheMostSignificantByteFirst) {
  uint8_t b[4] = {};
  StoreBe32(b, 0x01020304);
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[3], 0x04);
  EXPECT_EQ(LoadBe32(b), 0x01020304u);
}

// Unaligned addresses, and only the word's own bytes are written.
TEST(Endian, AnyAlignmentAndNoBytesOutsideTheWord) {
  uint8_t b[16];
  for (int offset = 0; offset < 8; ++offset) {
    for (uint8_t& x : b) x = 0xEE;
    StoreLe32(b + offset, 0xA1B2C3D4);
    EXPECT_EQ(LoadLe32(b + offset), 0xA1B2C3D4u);
    EXPECT_EQ(LoadBe32(b + offset), 0xD4C3B2A1u);
    for (int i = 0; i < 16; ++i) {
      if (i < offset || i >= offset + 4) EXPECT_EQ(b[i], 0xEE) << offset << " " << i;
    }
  }
}

}  // namespace
}  // namespace kcpp
