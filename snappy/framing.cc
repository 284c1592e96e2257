#include "snappy/framing.h"

#include <snappy.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/endian.h"
#include "snappy/internal/crc32c.h"

namespace kcpp::snappy_framing {
namespace {

constexpr size_t kCrcSize = 4;

inline void PutChunkHeader(uint8_t* p, uint8_t type, size_t body_size) {
  p[0] = type;
  p[1] = static_cast<uint8_t>(body_size);
  p[2] = static_cast<uint8_t>(body_size >> 8);
  p[3] = static_cast<uint8_t>(body_size >> 16);
}

inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace

uint32_t MaskedCrc32c(absl::Span<const uint8_t> data) {
  return Mask(internal::Crc32c(0, data.data(), data.size()));
}

// ---------------------------------------------------------------- encoder

FramingEncoder::FramingEncoder() : in_(new uint8_t[kMaxChunkDataSize]) {}

uint8_t* FramingEncoder::ReserveOutput(size_t n) {
  if (out_capacity_ - out_end_ >= n) return out_.get() + out_end_;
  const size_t used = out_end_ - out_begin_;
  if (out_capacity_ - used >= n && out_begin_ > 0) {
    std::memmove(out_.get(), out_.get() + out_begin_, used);
  } else {
    const size_t capacity = std::max(out_capacity_ * 2, used + n);
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[capacity]);
    if (used > 0) std::memcpy(bigger.get(), out_.get() + out_begin_, used);
    out_ = std::move(bigger);
    out_capacity_ = capacity;
  }
  out_begin_ = 0;
  out_end_ = used;
  return out_.get() + out_end_;
}

void FramingEncoder::ConsumeOutput(size_t n) {
  out_begin_ += std::min(n, out_end_ - out_begin_);
  if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
}

void FramingEncoder::Write(absl::Span<const uint8_t> data) {
  bytes_in_ += data.size();
  const uint8_t* p = data.data();
  size_t n = data.size();
  // golang/snappy Writer.Write (bufio.Writer's algorithm).
  while (n > kMaxChunkDataSize - in_size_) {
    if (in_size_ == 0) {
      EmitChunks(p, n);
      return;
    }
    const size_t take = kMaxChunkDataSize - in_size_;
    std::memcpy(in_.get() + in_size_, p, take);
    in_size_ += take;
    p += take;
    n -= take;
    Flush();
  }
  if (n > 0) std::memcpy(in_.get() + in_size_, p, n);
  in_size_ += n;
}

void FramingEncoder::Flush() {
  if (in_size_ == 0) return;
  EmitChunks(in_.get(), in_size_);
  in_size_ = 0;
}

void FramingEncoder::EmitChunks(const uint8_t* data, size_t size) {
  while (size > 0) {
    const size_t n = std::min(size, kMaxChunkDataSize);
    EmitChunk(data, n);
    data += n;
    size -= n;
  }
}

void FramingEncoder::EmitChunk(const uint8_t* data, size_t size) {
  const size_t prefix = wrote_stream_identifier_ ? 0 : sizeof(kStreamIdentifier);
  const size_t header = prefix + kChunkHeaderSize + kCrcSize;
  // Room for the compressed form; the uncompressed form never needs more.
  uint8_t* out = ReserveOutput(header + std::max(::snappy::MaxCompressedLength(size), size));
  if (prefix > 0) {
    std::memcpy(out, kStreamIdentifier, prefix);
    wrote_stream_identifier_ = true;
  }
  size_t compressed_size = 0;
  ::snappy::RawCompress(reinterpret_cast<const char*>(data), size,
                        reinterpret_cast<char*>(out + header), &compressed_size);
  uint8_t type = kChunkCompressed;
  size_t body = compressed_size;
  if (compressed_size >= size - size / 8) {  // saves less than 12.5%: store
    type = kChunkUncompressed;
    body = size;
    std::memcpy(out + header, data, size);
    ++uncompressed_chunks_;
  } else {
    ++compressed_chunks_;
  }
  PutChunkHeader(out + prefix, type, kCrcSize + body);
  StoreLe32(out + prefix + kChunkHeaderSize, Mask(internal::Crc32c(0, data, size)));
  out_end_ += header + body;
  bytes_out_ += header + body;
}

// ---------------------------------------------------------------- decoder

FramingDecoder::FramingDecoder() : decoded_(new uint8_t[kMaxChunkDataSize]) {}

absl::Status FramingDecoder::Fail(absl::Status status) {
  status_ = std::move(status);
  return status_;
}

void FramingDecoder::ConsumeDecoded(size_t n) {
  decoded_begin_ += std::min(n, decoded_end_ - decoded_begin_);
  if (decoded_begin_ == decoded_end_) decoded_begin_ = decoded_end_ = 0;
}

absl::Status FramingDecoder::Finish() const {
  if (!status_.ok()) return status_;
  if (state_ != State::kHeader || header_size_ != 0) {
    return absl::DataLossError("snappy framing: stream ends inside a chunk");
  }
  return absl::OkStatus();
}

absl::Status FramingDecoder::StartChunk() {
  const uint8_t type = header_[0];
  chunk_size_ = static_cast<size_t>(header_[1]) | static_cast<size_t>(header_[2]) << 8 |
                static_cast<size_t>(header_[3]) << 16;
  chunk_have_ = 0;
  header_size_ = 0;
  if (!seen_stream_identifier_) {
    if (type != kChunkStreamIdentifier) {
      return Fail(
          absl::DataLossError(absl::StrCat("snappy framing: stream starts with chunk type 0x",
                                           absl::Hex(type), ", not the stream identifier 0xff")));
    }
    seen_stream_identifier_ = true;
  }
  if (chunk_size_ > kMaxChunkBodySize) {
    return Fail(absl::UnimplementedError(absl::StrCat("snappy framing: chunk of ", chunk_size_,
                                                      " bytes exceeds the ", kMaxChunkBodySize,
                                                      "-byte limit of golang/snappy")));
  }
  switch (type) {
    case kChunkStreamIdentifier:
      if (chunk_size_ != sizeof(kStreamIdentifier) - kChunkHeaderSize) {
        return Fail(absl::DataLossError(absl::StrCat(
            "snappy framing: stream identifier chunk has length ", chunk_size_, ", want 6")));
      }
      state_ = State::kStreamIdentifier;
      return absl::OkStatus();
    case kChunkCompressed:
    case kChunkUncompressed:
      if (chunk_size_ < kCrcSize) {
        return Fail(absl::DataLossError(absl::StrCat("snappy framing: data chunk of ", chunk_size_,
                                                     " bytes has no room for its CRC")));
      }
      if (type == kChunkUncompressed && chunk_size_ - kCrcSize > kMaxChunkDataSize) {
        return Fail(absl::DataLossError(absl::StrCat("snappy framing: uncompressed chunk holds ",
                                                     chunk_size_ - kCrcSize, " bytes, more than ",
                                                     kMaxChunkDataSize)));
      }
      state_ = type == kChunkCompressed ? State::kCompressed : State::kUncompressedCrc;
      return absl::OkStatus();
    default:
      if (type <= 0x7f) {
        return Fail(absl::UnimplementedError(
            absl::StrCat("snappy framing: reserved unskippable chunk type 0x", absl::Hex(type))));
      }
      state_ = State::kSkip;  // padding 0xfe, reserved skippable 0x80-0xfd
      return absl::OkStatus();
  }
}

absl::Status FramingDecoder::DecodeCompressed(const uint8_t* body, size_t size) {
  const uint32_t crc = LoadLe32(body);
  const char* block = reinterpret_cast<const char*>(body + kCrcSize);
  const size_t block_size = size - kCrcSize;
  size_t n = 0;
  if (!::snappy::GetUncompressedLength(block, block_size, &n)) {
    return Fail(absl::DataLossError("snappy framing: corrupt block length in compressed chunk"));
  }
  if (n > kMaxChunkDataSize) {
    return Fail(absl::DataLossError(absl::StrCat("snappy framing: compressed chunk decodes to ", n,
                                                 " bytes, more than ", kMaxChunkDataSize)));
  }
  if (!::snappy::RawUncompress(block, block_size, reinterpret_cast<char*>(decoded_.get()))) {
    return Fail(absl::DataLossError("snappy framing: corrupt snappy block in compressed chunk"));
  }
  if (Mask(internal::Crc32c(0, decoded_.get(), n)) != crc) {
    return Fail(absl::DataLossError("snappy framing: CRC-32C mismatch in compressed chunk"));
  }
  decoded_begin_ = 0;
  decoded_end_ = n;
  state_ = State::kHeader;
  return absl::OkStatus();
}

absl::StatusOr<size_t> FramingDecoder::Feed(absl::Span<const uint8_t> input) {
  if (!status_.ok()) return status_;
  const uint8_t* p = input.data();
  size_t left = input.size();
  while (left > 0 && decoded_begin_ == decoded_end_) {
    switch (state_) {
      case State::kHeader: {
        const size_t take = std::min(left, kChunkHeaderSize - header_size_);
        std::memcpy(header_ + header_size_, p, take);
        header_size_ += take;
        p += take;
        left -= take;
        if (header_size_ == kChunkHeaderSize && !StartChunk().ok()) return status_;
        break;
      }
      case State::kStreamIdentifier: {
        const size_t take = std::min(left, chunk_size_ - chunk_have_);
        std::memcpy(small_ + chunk_have_, p, take);
        chunk_have_ += take;
        p += take;
        left -= take;
        if (chunk_have_ == chunk_size_) {
          if (std::memcmp(small_, kStreamIdentifier + kChunkHeaderSize, chunk_size_) != 0) {
            return Fail(absl::DataLossError("snappy framing: stream identifier is not \"sNaPpY\""));
          }
          state_ = State::kHeader;
        }
        break;
      }
      case State::kCompressed: {
        if (chunk_have_ == 0 && left >= chunk_size_) {  // whole chunk here: no copy
          if (!DecodeCompressed(p, chunk_size_).ok()) return status_;
          p += chunk_size_;
          left -= chunk_size_;
          break;
        }
        if (!chunk_) chunk_.reset(new uint8_t[kMaxChunkBodySize]);
        const size_t take = std::min(left, chunk_size_ - chunk_have_);
        std::memcpy(chunk_.get() + chunk_have_, p, take);
        chunk_have_ += take;
        p += take;
        left -= take;
        if (chunk_have_ == chunk_size_ && !DecodeCompressed(chunk_.get(), chunk_size_).ok()) {
          return status_;
        }
        break;
      }
      case State::kUncompressedCrc: {
        const size_t take = std::min(left, kCrcSize - chunk_have_);
        std::memcpy(small_ + chunk_have_, p, take);
        chunk_have_ += take;
        p += take;
        left -= take;
        if (chunk_have_ == kCrcSize) {
          expected_crc_ = LoadLe32(small_);
          state_ = State::kUncompressedData;
        }
        if (chunk_have_ < chunk_size_) break;
        [[fallthrough]];  // empty data: finish the chunk now
      }
      case State::kUncompressedData: {
        // The data goes straight into decoded_ (empty now); it is exposed
        // only once the CRC matched.
        const size_t have = chunk_have_ - kCrcSize;
        const size_t take = std::min(left, chunk_size_ - chunk_have_);
        std::memcpy(decoded_.get() + have, p, take);
        chunk_have_ += take;
        p += take;
        left -= take;
        if (chunk_have_ == chunk_size_) {
          const size_t n = chunk_size_ - kCrcSize;
          if (Mask(internal::Crc32c(0, decoded_.get(), n)) != expected_crc_) {
            return Fail(
                absl::DataLossError("snappy framing: CRC-32C mismatch in uncompressed chunk"));
          }
          decoded_begin_ = 0;
          decoded_end_ = n;
          state_ = State::kHeader;
        }
        break;
      }
      case State::kSkip: {
        const size_t take = std::min(left, chunk_size_ - chunk_have_);
        chunk_have_ += take;
        p += take;
        left -= take;
        if (chunk_have_ == chunk_size_) state_ = State::kHeader;
        break;
      }
    }
    // Chunks with an empty body complete as soon as their header does.
    if (state_ == State::kSkip && chunk_size_ == 0) state_ = State::kHeader;
  }
  return input.size() - left;
}

std::vector<uint8_t> EncodeFramed(absl::Span<const uint8_t> data) {
  FramingEncoder enc;
  enc.Write(data);
  enc.Flush();
  return std::vector<uint8_t>(enc.output().begin(), enc.output().end());
}

absl::StatusOr<std::vector<uint8_t>> DecodeFramed(absl::Span<const uint8_t> framed) {
  FramingDecoder dec;
  std::vector<uint8_t> out;
  while (true) {
    absl::StatusOr<size_t> used = dec.Feed(framed);
    if (!used.ok()) return used.status();
    framed.remove_prefix(*used);
    out.insert(out.end(), dec.decoded().begin(), dec.decoded().end());
    dec.ConsumeDecoded(dec.decoded().size());
    if (framed.empty()) break;
  }
  absl::Status end = dec.Finish();
  if (!end.ok()) return end;
  return out;
}

}  // namespace kcpp::snappy_framing
