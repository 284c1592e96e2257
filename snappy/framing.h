// The snappy framing format, as kcptun puts it under smux (docs/protocol.md
// §6.1): byte-compatible with golang/snappy's NewBufferedWriter (flushed after
// every write, as kcptun's CompStream does) and NewReader.
//
// A framed stream is a sequence of chunks, each `type u8 | length u24 LE |
// body[length]` (google/snappy framing_format.txt):
//   0xff  stream identifier, body "sNaPpY"; first in every non-empty stream
//   0x00  compressed data:   masked CRC-32C u32 LE of the uncompressed data |
//                            snappy block (libsnappy's RawCompress format)
//   0x01  uncompressed data: masked CRC-32C u32 LE | the data
//   0xfe  padding, 0x80-0xfd reserved skippable: skipped
//   0x02-0x7f reserved unskippable: error
// A data chunk holds at most 65536 uncompressed bytes. The CRC mask is
// ((crc >> 15) | (crc << 17)) + 0xa282ead8.
//
// Usage, sending (bytes in, framed bytes out; nothing is written anywhere):
//   FramingEncoder enc;
//   enc.Write(frame_bytes);
//   enc.Flush();                       // kcptun flushes after every write
//   Send(enc.output());                // to the KCP session, in any pieces
//   enc.ConsumeOutput(enc.output().size());
//
// Receiving (any split of the framed stream):
//   FramingDecoder dec;
//   while (!in.empty()) {
//     KCPP_ASSIGN_OR_RETURN(size_t used, dec.Feed(in));
//     in.remove_prefix(used);
//     Deliver(dec.decoded());          // at most one chunk, <= 65536 bytes
//     dec.ConsumeDecoded(dec.decoded().size());
//   }
//
// Thread safety: none; one encoder / decoder per byte stream, used by one
// thread at a time. Neither allocates once warm (buffers are kept).
#ifndef KCPP_SNAPPY_FRAMING_H_
#define KCPP_SNAPPY_FRAMING_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kcpp::snappy_framing {

// Most uncompressed bytes in one data chunk (framing_format.txt §4.2,
// golang/snappy maxBlockSize).
inline constexpr size_t kMaxChunkDataSize = 65536;
// Longest chunk body golang/snappy's Reader accepts, of any chunk type:
// CRC + MaxEncodedLen(65536) = 4 + 76490. Longer chunks are rejected as
// unsupported, exactly as golang/snappy does.
inline constexpr size_t kMaxChunkBodySize = 76494;
// Chunk header: type u8 + length u24 LE.
inline constexpr size_t kChunkHeaderSize = 4;
// The stream identifier chunk, `ff 06 00 00 "sNaPpY"`.
inline constexpr uint8_t kStreamIdentifier[10] = {0xff, 0x06, 0x00, 0x00, 's',
                                                  'N',  'a',  'P',  'p',  'Y'};

// Chunk types (framing_format.txt §4).
enum ChunkType : uint8_t {
  kChunkCompressed = 0x00,
  kChunkUncompressed = 0x01,
  kChunkPadding = 0xfe,
  kChunkStreamIdentifier = 0xff,
};

// The masked CRC-32C of `data` carried by data chunks (golang/snappy crc()).
uint32_t MaskedCrc32c(absl::Span<const uint8_t> data);

// Streaming encoder. Output accumulates in an internal buffer the caller
// drains with output() / ConsumeOutput(); it grows as needed, so a caller
// that stops draining holds everything it wrote (the caller is the one
// deciding how much to write).
class FramingEncoder {
 public:
  FramingEncoder();
  FramingEncoder(const FramingEncoder&) = delete;
  FramingEncoder& operator=(const FramingEncoder&) = delete;

  // Appends `data` to the stream, with golang/snappy Writer.Write's exact
  // chunking: if it does not fit in the 65536-byte input buffer, a non-empty
  // buffer is filled and emitted, and an empty buffer is bypassed (all of
  // `data` is emitted directly, in 65536-byte chunks plus a shorter last
  // one). Whatever remains stays buffered until Flush().
  void Write(absl::Span<const uint8_t> data);

  // Emits the buffered input as one data chunk; nothing if nothing is
  // buffered. The stream identifier precedes the first chunk of the stream.
  // A chunk is compressed unless that saves less than 1/8 of its size, in
  // which case it is stored uncompressed (golang/snappy's rule).
  void Flush();

  // Framed bytes ready to send (valid until the next non-const call).
  absl::Span<const uint8_t> output() const {
    return absl::MakeConstSpan(out_.get() + out_begin_, out_end_ - out_begin_);
  }
  // Drops the first `n` bytes of output(); n <= output().size().
  void ConsumeOutput(size_t n);

  // Input bytes buffered and not yet emitted (Flush emits them).
  size_t buffered() const { return in_size_; }

  // Totals since construction.
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  uint64_t compressed_chunks() const { return compressed_chunks_; }
  uint64_t uncompressed_chunks() const { return uncompressed_chunks_; }

 private:
  void EmitChunks(const uint8_t* data, size_t size);
  void EmitChunk(const uint8_t* data, size_t size);
  uint8_t* ReserveOutput(size_t n);

  std::unique_ptr<uint8_t[]> in_;  // kMaxChunkDataSize
  size_t in_size_ = 0;
  std::unique_ptr<uint8_t[]> out_;
  size_t out_capacity_ = 0;
  size_t out_begin_ = 0;
  size_t out_end_ = 0;
  bool wrote_stream_identifier_ = false;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t compressed_chunks_ = 0;
  uint64_t uncompressed_chunks_ = 0;
};

// Streaming decoder for hostile input. Memory is bounded by one chunk: a
// 65536-byte decoded buffer, plus a kMaxChunkBodySize buffer used only for a
// compressed chunk that arrives split across Feed calls. Accepts exactly the
// streams golang/snappy's Reader accepts (including the empty stream and
// repeated stream identifiers), with the same chunk length limits.
class FramingDecoder {
 public:
  FramingDecoder();
  FramingDecoder(const FramingDecoder&) = delete;
  FramingDecoder& operator=(const FramingDecoder&) = delete;

  // Consumes a prefix of `input` and returns its length. Stops early as soon
  // as a data chunk has been decoded and is waiting in decoded(); while
  // decoded() is non-empty it consumes nothing. Errors are sticky (every
  // later call returns the same status):
  //   DataLoss: corrupt stream (no stream identifier first, bad stream
  //     identifier, chunk too short for its CRC, CRC mismatch, invalid snappy
  //     block, more than 65536 decoded bytes in a chunk);
  //   Unimplemented: reserved unskippable chunk type (0x02-0x7f) or a chunk
  //     body longer than kMaxChunkBodySize (golang/snappy's ErrUnsupported).
  absl::StatusOr<size_t> Feed(absl::Span<const uint8_t> input);

  // Decoded bytes of the last chunk not yet consumed (valid until the next
  // non-const call).
  absl::Span<const uint8_t> decoded() const {
    return absl::MakeConstSpan(decoded_.get() + decoded_begin_, decoded_end_ - decoded_begin_);
  }
  // Drops the first `n` bytes of decoded(); n <= decoded().size().
  void ConsumeDecoded(size_t n);

  // To be called at the end of the framed stream: OK if it ended on a chunk
  // boundary (or was empty), DataLoss if it stopped inside a chunk, or the
  // sticky error. Does not look at decoded().
  absl::Status Finish() const;

  // The sticky error, or OK.
  const absl::Status& status() const { return status_; }

 private:
  enum class State : uint8_t {
    kHeader,
    kStreamIdentifier,
    kCompressed,
    kUncompressedCrc,
    kUncompressedData,
    kSkip,
  };

  absl::Status Fail(absl::Status status);
  absl::Status StartChunk();
  absl::Status DecodeCompressed(const uint8_t* body, size_t size);

  State state_ = State::kHeader;
  bool seen_stream_identifier_ = false;
  uint8_t header_[kChunkHeaderSize];
  size_t header_size_ = 0;  // bytes of header_ (or of the small body) held
  uint8_t small_[8];        // stream identifier body or CRC being collected
  size_t chunk_size_ = 0;   // body length of the current chunk
  size_t chunk_have_ = 0;   // body bytes of the current chunk seen so far
  uint32_t expected_crc_ = 0;
  std::unique_ptr<uint8_t[]> chunk_;  // split compressed chunk; lazily made
  std::unique_ptr<uint8_t[]> decoded_;
  size_t decoded_begin_ = 0;
  size_t decoded_end_ = 0;
  absl::Status status_;
};

// One-shot helpers (tests, tools): the framed form of `data` as one Write and
// one Flush, and the decoded form of a complete framed stream.
std::vector<uint8_t> EncodeFramed(absl::Span<const uint8_t> data);
absl::StatusOr<std::vector<uint8_t>> DecodeFramed(absl::Span<const uint8_t> framed);

}  // namespace kcpp::snappy_framing

#endif  // KCPP_SNAPPY_FRAMING_H_
