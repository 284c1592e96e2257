#include "fec/fec_encoder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::fec {

namespace {

// Decode caches of a private pool: an encoder never decodes.
ShardPoolOptions PrivatePoolOptions() {
  ShardPoolOptions o;
  o.decode_cache = {1, 0};
  return o;
}

}  // namespace

absl::StatusOr<FecEncoder> FecEncoder::Create(const FecEncoderOptions& options) {
  const size_t min_size = options.header_offset + kFecDataHeaderSize;
  const size_t max_size = options.header_offset + kFecHeaderSize + 0xFFFF;
  if (options.max_packet_size < min_size || options.max_packet_size > max_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FecEncoder: max_packet_size must be in [", min_size, ", ", max_size,
        "] for header_offset ", options.header_offset, "; got ", options.max_packet_size));
  }
  std::unique_ptr<ShardPool> own_pool;
  ShardPool* pool = options.pool;
  if (pool == nullptr) {
    own_pool = std::make_unique<ShardPool>(PrivatePoolOptions());
    pool = own_pool.get();
  }
  absl::StatusOr<ReedSolomon*> rs = pool->AcquireCodec(options.data_shards, options.parity_shards);
  if (!rs.ok()) return rs.status();
  return FecEncoder(options, std::move(own_pool), pool, *rs);
}

FecEncoder::FecEncoder(const FecEncoderOptions& options, std::unique_ptr<ShardPool> own_pool,
                       ShardPool* pool, ReedSolomon* rs)
    : data_shards_(options.data_shards),
      parity_shards_(options.parity_shards),
      send_parity_(options.parity_shards),
      header_offset_(options.header_offset),
      max_packet_size_(options.max_packet_size),
      policy_(options.parity_policy),
      idle_threshold_ms_(options.idle_threshold_ms),
      paws_(SeqidSpace(options.data_shards, options.parity_shards)),
      own_pool_(std::move(own_pool)),
      pool_(pool),
      rs_(rs) {}

FecEncoder::FecEncoder(FecEncoder&& other) noexcept
    : data_shards_(other.data_shards_),
      parity_shards_(other.parity_shards_),
      send_parity_(other.send_parity_),
      header_offset_(other.header_offset_),
      max_packet_size_(other.max_packet_size_),
      policy_(other.policy_),
      idle_threshold_ms_(other.idle_threshold_ms_),
      paws_(other.paws_),
      own_pool_(std::move(other.own_pool_)),
      pool_(std::exchange(other.pool_, nullptr)),
      rs_(std::exchange(other.rs_, nullptr)),
      next_(other.next_),
      shard_count_(std::exchange(other.shard_count_, 0)),
      max_size_(other.max_size_),
      have_last_time_(other.have_last_time_),
      last_data_ms_(other.last_data_ms_),
      shards_(std::exchange(other.shards_, nullptr)),
      min_capacity_(other.min_capacity_),
      counters_(other.counters_) {}

FecEncoder& FecEncoder::operator=(FecEncoder&& other) noexcept {
  if (this == &other) return *this;
  ReleaseAll();
  data_shards_ = other.data_shards_;
  parity_shards_ = other.parity_shards_;
  send_parity_ = other.send_parity_;
  header_offset_ = other.header_offset_;
  max_packet_size_ = other.max_packet_size_;
  policy_ = other.policy_;
  idle_threshold_ms_ = other.idle_threshold_ms_;
  paws_ = other.paws_;
  own_pool_ = std::move(other.own_pool_);
  pool_ = std::exchange(other.pool_, nullptr);
  rs_ = std::exchange(other.rs_, nullptr);
  next_ = other.next_;
  shard_count_ = std::exchange(other.shard_count_, 0);
  max_size_ = other.max_size_;
  have_last_time_ = other.have_last_time_;
  last_data_ms_ = other.last_data_ms_;
  shards_ = std::exchange(other.shards_, nullptr);
  min_capacity_ = other.min_capacity_;
  counters_ = other.counters_;
  return *this;
}

FecEncoder::~FecEncoder() { ReleaseAll(); }

void FecEncoder::ReleaseAll() {
  if (pool_ == nullptr) return;  // moved from
  ReleaseGroup();
  pool_->ReleaseCodec(rs_);
  rs_ = nullptr;
  pool_ = nullptr;
}

void FecEncoder::ReleaseGroup() {
  if (shards_ != nullptr) {
    pool_->ReleaseBlocks(shards_, shard_lengths(), shard_count_);
    pool_->Release(reinterpret_cast<uint8_t*>(shards_), table_bytes());
    shards_ = nullptr;
  }
  shard_count_ = 0;
  max_size_ = 0;
  min_capacity_ = SIZE_MAX;
  if (own_pool_ != nullptr) own_pool_->Trim(0);
}

size_t FecEncoder::held_bytes() const {
  if (shards_ == nullptr) return 0;
  size_t n = ShardPool::BlockCapacity(table_bytes());
  for (int i = 0; i < shard_count_; ++i) n += ShardPool::BlockCapacity(shard_lengths()[i]);
  return n;
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

  // Keep `size|KCP bytes` (the size field says how long it is) for parity.
  if (shards_ == nullptr) shards_ = reinterpret_cast<uint8_t**>(pool_->Allocate(table_bytes()));
  const int size_class = ShardPool::ClassOf(shard_len);
  uint8_t* block = pool_->AllocateInClass(size_class);
  memcpy(block, header + kFecHeaderSize, shard_len);
  shards_[shard_count_] = block;
  shard_lengths()[shard_count_] = static_cast<uint16_t>(shard_len);
  ++shard_count_;
  min_capacity_ = std::min(min_capacity_, ShardPool::kClassBytes[size_class]);
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
    if (emit && send_parity_ == 0) {
      ++counters_.groups_skipped_adaptive;
      Advance(parity_shards_);
    } else if (emit) {
      emitted = EmitParity(sink);
    } else {
      ++counters_.groups_skipped_idle;
      Advance(parity_shards_);
    }
    ReleaseGroup();
  }
  have_last_time_ = true;
  last_data_ms_ = now_ms;
  return emitted;
}

int FecEncoder::EmitParity(ParitySink& sink) {
  // The first `send` parity shards go out (SetParityToSend); the others are
  // computed into scratch and dropped, their seqids skipped.
  const int send = send_parity_;
  // Storage for `send` spans, of which only those are constructed (empty,
  // so a sink that fills fewer is caught by the size check).
  alignas(absl::Span<uint8_t>) unsigned char
      storage[sizeof(absl::Span<uint8_t>) * ReedSolomon::kMaxTotalShards];
  absl::Span<uint8_t>* buffers = reinterpret_cast<absl::Span<uint8_t>*>(storage);
  for (int p = 0; p < send; ++p) new (&buffers[p]) absl::Span<uint8_t>();
  const absl::Span<absl::Span<uint8_t>> parity_buffers(buffers, send);
  if (!sink.AcquireParityBuffers(max_size_, parity_buffers) ||
      std::any_of(parity_buffers.begin(), parity_buffers.end(),
                  [&](const absl::Span<uint8_t>& b) { return b.size() < max_size_; })) {
    ++counters_.groups_skipped_no_buffer;
    Advance(parity_shards_);
    return 0;
  }
  // RS input: every shard zero-padded to the group's longest (§4.3), in
  // place where its block is long enough, else in the pool's scratch.
  const size_t len = max_size_ - header_offset_ - kFecHeaderSize;
  const uint16_t* lengths = shard_lengths();
  const uint8_t* data[ReedSolomon::kMaxTotalShards];
  uint8_t* parity[ReedSolomon::kMaxTotalShards];
  // Parity shards not sent are computed into the pool's scratch, after the
  // padded data copies (if any).
  const int unsent = parity_shards_ - send;
  if (min_capacity_ >= len) {
    uint8_t* scratch = unsent > 0 ? pool_->PadScratch(unsent * len) : nullptr;
    for (int p = send; p < parity_shards_; ++p, scratch += len) parity[p] = scratch;
    // Every block holds the padded shard (the usual case: similar sizes).
    for (int i = 0; i < data_shards_; ++i) {
      if (lengths[i] < len) memset(shards_[i] + lengths[i], 0, len - lengths[i]);
      data[i] = shards_[i];
    }
  } else {
    // Blocks too short for the padded shard: copied into the pool's scratch.
    uint8_t copy[ReedSolomon::kMaxTotalShards];
    int copies = 0;
    for (int i = 0; i < data_shards_; ++i) {
      if (ShardPool::BlockCapacity(lengths[i]) < len) {
        copy[copies++] = static_cast<uint8_t>(i);
      } else {
        if (lengths[i] < len) memset(shards_[i] + lengths[i], 0, len - lengths[i]);
        data[i] = shards_[i];
      }
    }
    uint8_t* scratch = pool_->PadScratch((copies + unsent) * len);
    for (int k = 0; k < copies; ++k, scratch += len) {
      const int i = copy[k];
      memcpy(scratch, shards_[i], lengths[i]);
      memset(scratch + lengths[i], 0, len - lengths[i]);
      data[i] = scratch;
    }
    for (int p = send; p < parity_shards_; ++p, scratch += len) parity[p] = scratch;
  }
  for (int p = 0; p < send; ++p) {
    parity[p] = buffers[p].data() + header_offset_ + kFecHeaderSize;
  }
  // Cannot fail: the counts and pointers are valid by construction.
  (void)rs_->Encode(absl::MakeConstSpan(data, data_shards_),
                    absl::MakeConstSpan(parity, parity_shards_), len);
  for (int p = 0; p < send; ++p) {
    uint8_t* header = buffers[p].data() + header_offset_;
    StoreLe32(header, next_);
    StoreLe16(header + 4, kFlagParity);
    Advance(1);
  }
  Advance(unsent);
  for (int p = 0; p < send; ++p) sink.EmitParity(buffers[p].first(max_size_));
  counters_.parity_packets += send;
  counters_.parity_withheld += unsent;
  ++counters_.groups_encoded;
  return send;
}

void FecEncoder::SetParityToSend(int parity) {
  send_parity_ = std::min(std::max(parity, 0), parity_shards_);
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
