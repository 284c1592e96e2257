#include "snappy/framing.h"

#include <snappy.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kcpp::snappy_framing {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// Text-like data snappy compresses well.
Bytes Compressible(size_t n, uint32_t seed) {
  static const char* kWords[] = {"smux ", "stream ", "kcp ", "window ", "frame ", "\n"};
  std::mt19937 rng(seed);
  Bytes b;
  while (b.size() < n) {
    const char* w = kWords[rng() % 6];
    b.insert(b.end(), w, w + std::char_traits<char>::length(w));
  }
  b.resize(n);
  return b;
}

struct Chunk {
  uint8_t type;
  size_t body_size;
};

// Walks the chunk headers of a well-formed framed stream.
std::vector<Chunk> Chunks(const Bytes& framed) {
  std::vector<Chunk> out;
  size_t i = 0;
  while (i + 4 <= framed.size()) {
    const size_t len = framed[i + 1] | framed[i + 2] << 8 | framed[i + 3] << 16;
    out.push_back({framed[i], len});
    i += 4 + len;
  }
  EXPECT_EQ(i, framed.size());
  return out;
}

absl::StatusOr<Bytes> DecodeInPieces(const Bytes& framed, std::mt19937& rng, size_t max_piece) {
  FramingDecoder dec;
  Bytes out;
  absl::Span<const uint8_t> in(framed);
  while (true) {
    const size_t piece = std::min(in.size(), 1 + rng() % max_piece);
    absl::Span<const uint8_t> chunk = in.subspan(0, piece);
    while (!chunk.empty()) {
      absl::StatusOr<size_t> used = dec.Feed(chunk);
      if (!used.ok()) return used.status();
      chunk.remove_prefix(*used);
      in.remove_prefix(*used);
      // Take the decoded bytes in two steps to exercise partial consumption.
      const size_t half = dec.decoded().size() / 2;
      out.insert(out.end(), dec.decoded().begin(), dec.decoded().begin() + half);
      dec.ConsumeDecoded(half);
      out.insert(out.end(), dec.decoded().begin(), dec.decoded().end());
      dec.ConsumeDecoded(dec.decoded().size());
    }
    if (in.empty()) break;
  }
  absl::Status end = dec.Finish();
  if (!end.ok()) return end;
  return out;
}

TEST(FramingEncoder, EmptyStreamIsEmpty) {
  FramingEncoder enc;
  enc.Write({});
  enc.Flush();
  EXPECT_TRUE(enc.output().empty());
  auto decoded = DecodeFramed({});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->empty());
}

TEST(FramingEncoder, SmallWriteIsStreamIdentifierThenUncompressedChunk) {
  const Bytes hello = {'h', 'e', 'l', 'l', 'o'};
  const Bytes framed = EncodeFramed(hello);
  ASSERT_EQ(framed.size(), 10u + 4 + 4 + 5);
  EXPECT_EQ(Bytes(framed.begin(), framed.begin() + 10),
            Bytes({0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}));
  EXPECT_EQ(framed[10], 0x01);  // uncompressed
  EXPECT_EQ(framed[11], 9);     // CRC + 5 bytes
  EXPECT_EQ(framed[12], 0);
  EXPECT_EQ(framed[13], 0);
  const uint32_t crc = framed[14] | framed[15] << 8 | framed[16] << 16 | uint32_t{framed[17]} << 24;
  EXPECT_EQ(crc, MaskedCrc32c(hello));
  EXPECT_EQ(Bytes(framed.begin() + 18, framed.end()), hello);
}

TEST(FramingEncoder, CompressibleChunkIsCompressedWithLibsnappyBlock) {
  const Bytes data = Compressible(10000, 1);
  const Bytes framed = EncodeFramed(data);
  std::vector<Chunk> chunks = Chunks(framed);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].type, kChunkStreamIdentifier);
  EXPECT_EQ(chunks[1].type, kChunkCompressed);
  EXPECT_LT(chunks[1].body_size, data.size() / 2);
  // The body after the CRC is a plain snappy block.
  std::string raw;
  ASSERT_TRUE(::snappy::Uncompress(reinterpret_cast<const char*>(framed.data()) + 18,
                                   chunks[1].body_size - 4, &raw));
  EXPECT_EQ(Bytes(raw.begin(), raw.end()), data);
}

TEST(FramingEncoder, IncompressibleChunkIsStored) {
  const Bytes data = RandomBytes(30000, 2);
  FramingEncoder enc;
  enc.Write(data);
  enc.Flush();
  std::vector<Chunk> chunks = Chunks(Bytes(enc.output().begin(), enc.output().end()));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].type, kChunkUncompressed);
  EXPECT_EQ(chunks[1].body_size, 4 + data.size());
  EXPECT_EQ(enc.uncompressed_chunks(), 1u);
  EXPECT_EQ(enc.compressed_chunks(), 0u);
}

// golang/snappy Writer.Write: a write larger than the free buffer space goes
// out directly if the buffer is empty (65536-byte chunks plus the rest), else
// fills the buffer, flushes it, and buffers what is left.
TEST(FramingEncoder, ChunkingFollowsGoBufferedWriter) {
  const Bytes big = RandomBytes(2 * 65536 + 5, 3);
  FramingEncoder enc;
  enc.Write(big);
  EXPECT_EQ(enc.buffered(), 0u);
  std::vector<Chunk> chunks = Chunks(Bytes(enc.output().begin(), enc.output().end()));
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[1].body_size, 4 + 65536u);
  EXPECT_EQ(chunks[2].body_size, 4 + 65536u);
  EXPECT_EQ(chunks[3].body_size, 4 + 5u);
  enc.ConsumeOutput(enc.output().size());

  enc.Write(absl::MakeConstSpan(big).subspan(0, 10));
  EXPECT_EQ(enc.buffered(), 10u);
  EXPECT_TRUE(enc.output().empty());
  enc.Write(absl::MakeConstSpan(big).subspan(0, 65536));
  EXPECT_EQ(enc.buffered(), 10u);  // 65526 filled the buffer and went out
  chunks = Chunks(Bytes(enc.output().begin(), enc.output().end()));
  ASSERT_EQ(chunks.size(), 1u);  // no second stream identifier
  EXPECT_EQ(chunks[0].type, kChunkUncompressed);
  EXPECT_EQ(chunks[0].body_size, 4 + 65536u);
  enc.Flush();
  EXPECT_EQ(enc.buffered(), 0u);
  EXPECT_EQ(enc.bytes_in(), big.size() + 10 + 65536);
}

TEST(Framing, RoundTripRandomSizesAndSplits) {
  std::mt19937 rng(4);
  for (int round = 0; round < 60; ++round) {
    const size_t n = round < 10 ? round : rng() % (300 * 1024);
    const Bytes data = (round % 2) ? Compressible(n, round) : RandomBytes(n, round);
    // Several writes of random sizes with flushes in between, as smux frames.
    FramingEncoder enc;
    Bytes framed;
    for (size_t i = 0; i < n;) {
      const size_t w = std::min(n - i, size_t{1} + rng() % 100000);
      enc.Write(absl::MakeConstSpan(data).subspan(i, w));
      if (rng() % 2) enc.Flush();
      framed.insert(framed.end(), enc.output().begin(), enc.output().end());
      enc.ConsumeOutput(enc.output().size());
      i += w;
    }
    enc.Flush();
    framed.insert(framed.end(), enc.output().begin(), enc.output().end());
    EXPECT_EQ(enc.bytes_out(), framed.size());
    absl::StatusOr<Bytes> decoded = DecodeInPieces(framed, rng, round % 3 == 0 ? 7 : 90000);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(*decoded, data) << "round " << round;
  }
}

TEST(FramingDecoder, ConsumesNothingWhileDecodedIsPending) {
  const Bytes a = EncodeFramed(RandomBytes(100, 5));
  Bytes two = a;
  two.insert(two.end(), a.begin() + 10, a.end());  // a second data chunk
  FramingDecoder dec;
  auto used = dec.Feed(two);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, a.size());  // stopped after the first data chunk
  EXPECT_EQ(dec.decoded().size(), 100u);
  auto again = dec.Feed(absl::MakeConstSpan(two).subspan(*used));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
  dec.ConsumeDecoded(100);
  again = dec.Feed(absl::MakeConstSpan(two).subspan(*used));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, two.size() - a.size());
  EXPECT_EQ(dec.decoded().size(), 100u);
  EXPECT_TRUE(dec.Finish().ok());
}

TEST(FramingDecoder, SkipsPaddingAndSkippableChunksAndRepeatedIdentifier) {
  Bytes s(kStreamIdentifier, kStreamIdentifier + 10);
  s.insert(s.end(), {0xfe, 3, 0, 0, 9, 9, 9});  // padding
  s.insert(s.end(), {0x80, 0, 0, 0});           // empty skippable
  s.insert(s.end(), {0xfd, 1, 0, 0, 7});        // skippable
  s.insert(s.end(), kStreamIdentifier, kStreamIdentifier + 10);
  const Bytes data = Compressible(5000, 6);
  const Bytes framed = EncodeFramed(data);
  s.insert(s.end(), framed.begin() + 10, framed.end());
  std::mt19937 rng(1);
  auto decoded = DecodeInPieces(s, rng, 3);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, data);
}

TEST(FramingDecoder, EmptyUncompressedChunk) {
  Bytes s(kStreamIdentifier, kStreamIdentifier + 10);
  const uint32_t crc = MaskedCrc32c({});
  s.insert(s.end(), {0x01, 4, 0, 0, static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8),
                     static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 24)});
  auto decoded = DecodeFramed(s);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->empty());
}

void ExpectError(const Bytes& s, absl::StatusCode code, const std::string& fragment) {
  // Whole and byte by byte: the same verdict either way.
  auto whole = DecodeFramed(s);
  ASSERT_FALSE(whole.ok());
  EXPECT_EQ(whole.status().code(), code) << whole.status();
  EXPECT_THAT(std::string(whole.status().message()), testing::HasSubstr(fragment));
  std::mt19937 rng(9);
  auto pieces = DecodeInPieces(s, rng, 1);
  ASSERT_FALSE(pieces.ok());
  EXPECT_EQ(pieces.status(), whole.status());
}

TEST(FramingDecoder, HostileInputs) {
  const Bytes id(kStreamIdentifier, kStreamIdentifier + 10);
  const Bytes good = EncodeFramed(Compressible(3000, 7));
  ASSERT_EQ(Chunks(good)[1].type, kChunkCompressed);

  ExpectError(Bytes(good.begin() + 10, good.end()), absl::StatusCode::kDataLoss,
              "not the stream identifier");
  Bytes bad_id = id;
  bad_id[9] = 'y';
  ExpectError(bad_id, absl::StatusCode::kDataLoss, "sNaPpY");
  ExpectError({0xff, 7, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y', 0}, absl::StatusCode::kDataLoss,
              "length 7");

  Bytes reserved = id;
  reserved.insert(reserved.end(), {0x02, 0, 0, 0});
  ExpectError(reserved, absl::StatusCode::kUnimplemented, "unskippable chunk type 0x2");
  Bytes reserved7f = id;
  reserved7f.insert(reserved7f.end(), {0x7f, 1, 0, 0, 0});
  ExpectError(reserved7f, absl::StatusCode::kUnimplemented, "0x7f");

  Bytes too_long = id;  // 76495-byte skippable chunk: golang/snappy refuses it too
  too_long.insert(too_long.end(), {0x80, 0xcf, 0x2a, 0x01});
  ExpectError(too_long, absl::StatusCode::kUnimplemented, "76495");

  Bytes short_crc = id;
  short_crc.insert(short_crc.end(), {0x00, 3, 0, 0, 1, 2, 3});
  ExpectError(short_crc, absl::StatusCode::kDataLoss, "no room for its CRC");
  short_crc[10] = 0x01;
  ExpectError(short_crc, absl::StatusCode::kDataLoss, "no room for its CRC");

  Bytes big_stored = id;  // 65537 stored bytes
  big_stored.insert(big_stored.end(), {0x01, 0x05, 0x00, 0x01});
  big_stored.resize(big_stored.size() + 65541);
  ExpectError(big_stored, absl::StatusCode::kDataLoss, "more than 65536");

  Bytes bad_crc = good;
  bad_crc[14] ^= 1;
  ExpectError(bad_crc, absl::StatusCode::kDataLoss, "CRC-32C mismatch in compressed");
  Bytes bad_stored_crc = EncodeFramed(RandomBytes(100, 8));
  bad_stored_crc.back() ^= 0x80;
  ExpectError(bad_stored_crc, absl::StatusCode::kDataLoss, "CRC-32C mismatch in uncompressed");

  Bytes bad_block = good;
  bad_block[18] = 0xff;  // varint length of the snappy block: now unterminated / huge
  bad_block[19] = 0xff;
  bad_block[20] = 0xff;
  bad_block[21] = 0xff;
  bad_block[22] = 0xff;
  ExpectError(bad_block, absl::StatusCode::kDataLoss, "corrupt block length");

  // A valid snappy block that decodes to 65537 bytes.
  const Bytes big(65537, 'a');
  std::string block;
  ::snappy::Compress(reinterpret_cast<const char*>(big.data()), big.size(), &block);
  Bytes oversize = id;
  const size_t body = 4 + block.size();
  oversize.insert(oversize.end(),
                  {0x00, static_cast<uint8_t>(body), static_cast<uint8_t>(body >> 8),
                   static_cast<uint8_t>(body >> 16), 0, 0, 0, 0});
  oversize.insert(oversize.end(), block.begin(), block.end());
  ExpectError(oversize, absl::StatusCode::kDataLoss, "decodes to 65537");

  // Valid length, garbage tags.
  Bytes garbage = id;
  garbage.insert(garbage.end(), {0x00, 10, 0, 0, 0, 0, 0, 0, 100, 0xfe, 0xff, 0xff, 0xff, 0xff});
  ExpectError(garbage, absl::StatusCode::kDataLoss, "corrupt snappy block");
}

TEST(FramingDecoder, TruncationIsReportedByFinish) {
  const Bytes good = EncodeFramed(Compressible(3000, 10));
  for (size_t cut = 1; cut < good.size(); ++cut) {
    FramingDecoder dec;
    auto used = dec.Feed(absl::MakeConstSpan(good).subspan(0, cut));
    ASSERT_TRUE(used.ok());
    const bool on_boundary = cut == 10;
    EXPECT_EQ(dec.Finish().ok(), on_boundary) << cut;
  }
}

TEST(FramingDecoder, ErrorsAreSticky) {
  FramingDecoder dec;
  const uint8_t bad[] = {0x00, 0, 0, 0};
  EXPECT_FALSE(dec.Feed(bad).ok());
  const Bytes good = EncodeFramed(RandomBytes(10, 11));
  auto again = dec.Feed(good);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.status(), dec.status());
  EXPECT_FALSE(dec.Finish().ok());
}

}  // namespace
}  // namespace kcpp::snappy_framing
