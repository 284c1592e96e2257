#include "fec/fec_encoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::fec {

absl::StatusOr<FecEncoder> FecEncoder::Create(const FecEncoderOptions& options) {
  const size_t min_size = options.header_offset + kFecDataHeaderSize;
  const size_t max_size = options.header_offset + kFecHeaderSize + 0xFFFF;
  if (options.max_packet_size < min_size || options.max_packet_size > max_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FecEncoder: max_packet_size must be in [", min_size, ", ", max_size,
        "] for header_offset ", options.header_offset, "; got ", options.max_packet_size));
  }
  absl::StatusOr<ReedSolomon> rs = ReedSolomon::Create(options.data_shards, options.parity_shards);
  if (!rs.ok()) return rs.status();
  return FecEncoder(options, std::move(*rs));
}

FecEncoder::FecEncoder(const FecEncoderOptions& options, ReedSolomon rs)
    : data_shards_(options.data_shards),
      parity_shards_(options.parity_shards),
      header_offset_(options.header_offset),
      max_packet_size_(options.max_packet_size),
      slot_size_(options.max_packet_size - options.header_offset - kFecHeaderSize),
      policy_(options.parity_policy),
      idle_threshold_ms_(options.idle_threshold_ms),
      paws_(SeqidSpace(options.data_shards, options.parity_shards)),
      rs_(std::move(rs)),
      cache_(size_t(options.data_shards) * slot_size_),
      shard_len_(options.data_shards),
      buffers_(options.parity_shards),
      data_ptrs_(options.data_shards),
      parity_ptrs_(options.parity_shards) {
  for (int i = 0; i < data_shards_; ++i) data_ptrs_[i] = &cache_[i * slot_size_];
}

absl::StatusOr<int> FecEncoder::Encode(absl::Span<uint8_t> packet, uint32_t now_ms,
                                       ParitySink& sink) {
  const size_t size = packet.size();
  if (size < header_offset_ + kFecDataHeaderSize || size > max_packet_size_) {
    return absl::InvalidArgumentError(absl::StrCat("FecEncoder: packet of ", size, " bytes; need [",
                                                   header_offset_ + kFecDataHeaderSize, ", ",
                                                   max_packet_size_, "]"));
  }
  // Header: seqid | 0xF1 | size = bytes from the size field to the end.
  uint8_t* header = packet.data() + header_offset_;
  StoreLe32(header, next_);
  StoreLe16(header + 4, kFlagData);
  const size_t shard_len = size - header_offset_ - kFecHeaderSize;
  StoreLe16(header + kFecHeaderSize, static_cast<uint16_t>(shard_len));
  Advance(1);
  ++counters_.data_packets;

  memcpy(&cache_[shard_count_ * slot_size_], header + kFecHeaderSize, shard_len);
  shard_len_[shard_count_] = shard_len;
  ++shard_count_;
  max_size_ = std::max(max_size_, size);

  int emitted = 0;
  if (shard_count_ == data_shards_) {
    bool emit = true;
    if (policy_ == ParityPolicy::kSkipWhenIdle) {
      // kcp-go compares the time since the previous data packet (the first
      // packet ever counts as idle: its predecessor time is 0).
      emit = have_last_time_ && static_cast<int32_t>(now_ms - last_data_ms_) <
                                    static_cast<int64_t>(idle_threshold_ms_);
    }
    if (emit) {
      emitted = EmitParity(sink);
    } else {
      ++counters_.groups_skipped_idle;
      Advance(parity_shards_);
    }
    shard_count_ = 0;
    max_size_ = 0;
  }
  have_last_time_ = true;
  last_data_ms_ = now_ms;
  return emitted;
}

int FecEncoder::EmitParity(ParitySink& sink) {
  const size_t len = max_size_ - header_offset_ - kFecHeaderSize;
  for (auto& b : buffers_) b = {};
  if (!sink.AcquireParityBuffers(max_size_, absl::MakeSpan(buffers_)) ||
      std::any_of(buffers_.begin(), buffers_.end(),
                  [&](const absl::Span<uint8_t>& b) { return b.size() < max_size_; })) {
    ++counters_.groups_skipped_no_buffer;
    Advance(parity_shards_);
    return 0;
  }
  // Zero padding from each shard's end to the group's longest (§4.3).
  for (int i = 0; i < data_shards_; ++i) {
    memset(&cache_[i * slot_size_] + shard_len_[i], 0, len - shard_len_[i]);
  }
  for (int p = 0; p < parity_shards_; ++p) {
    parity_ptrs_[p] = buffers_[p].data() + header_offset_ + kFecHeaderSize;
  }
  // Cannot fail: the counts and pointers are valid by construction.
  (void)rs_.Encode(data_ptrs_, parity_ptrs_, len);
  for (int p = 0; p < parity_shards_; ++p) {
    uint8_t* header = buffers_[p].data() + header_offset_;
    StoreLe32(header, next_);
    StoreLe16(header + 4, kFlagParity);
    Advance(1);
  }
  for (int p = 0; p < parity_shards_; ++p) sink.EmitParity(buffers_[p].first(max_size_));
  counters_.parity_packets += parity_shards_;
  ++counters_.groups_encoded;
  return parity_shards_;
}

absl::Status FecEncoder::SealOob(absl::Span<uint8_t> packet) const {
  const size_t size = packet.size();
  if (size < header_offset_ + kFecOobHeaderSize ||
      size - header_offset_ - kFecHeaderSize > 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat("FecEncoder: OOB packet of ", size, " bytes; need at least ",
                     header_offset_ + kFecOobHeaderSize, " and a size field below 65536"));
  }
  uint8_t* header = packet.data() + header_offset_;
  StoreLe32(header, kOobSeqid);
  StoreLe16(header + 4, kFlagOob);
  StoreLe16(header + kFecHeaderSize, static_cast<uint16_t>(size - header_offset_ - kFecHeaderSize));
  return absl::OkStatus();
}

}  // namespace kcpp::fec
