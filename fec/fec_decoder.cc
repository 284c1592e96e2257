#include "fec/fec_decoder.h"

#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::fec {

namespace {

// A private pool serves one decoder: a small decode-matrix cache.
ShardPoolOptions PrivatePoolOptions() {
  ShardPoolOptions o;
  o.decode_cache = {16, size_t{64} << 10};
  return o;
}

}  // namespace

absl::StatusOr<FecDecoder> FecDecoder::Create(const FecDecoderOptions& options) {
  if (options.max_packet_size < kFecDataHeaderSize ||
      options.max_packet_size > kFecHeaderSize + 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat("FecDecoder: max_packet_size must be in [", kFecDataHeaderSize, ", ",
                     kFecHeaderSize + 0xFFFF, "]; got ", options.max_packet_size));
  }
  if (options.max_shard_sets < 1 || options.max_shard_sets > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FecDecoder: max_shard_sets must be in [1, 16]; got ", options.max_shard_sets));
  }
  std::unique_ptr<ShardPool> own_pool;
  ShardPool* pool = options.pool;
  if (pool == nullptr) {
    own_pool = std::make_unique<ShardPool>(PrivatePoolOptions());
    pool = own_pool.get();
  }
  FecDecoder d(options, std::move(own_pool), pool);
  absl::Status st = d.Configure(options.data_shards, options.parity_shards);
  if (!st.ok()) return st;
  return d;
}

FecDecoder::FecDecoder(const FecDecoderOptions& options, std::unique_ptr<ShardPool> own_pool,
                       ShardPool* pool)
    : max_packet_size_(options.max_packet_size),
      max_shard_sets_(options.max_shard_sets),
      auto_tune_enabled_(options.auto_tune),
      own_pool_(std::move(own_pool)),
      pool_(pool),
      groups_(options.max_shard_sets + 1) {}

FecDecoder::FecDecoder(FecDecoder&& other) noexcept
    : max_packet_size_(other.max_packet_size_),
      max_shard_sets_(other.max_shard_sets_),
      auto_tune_enabled_(other.auto_tune_enabled_),
      own_pool_(std::move(other.own_pool_)),
      pool_(std::exchange(other.pool_, nullptr)),
      data_shards_(other.data_shards_),
      parity_shards_(other.parity_shards_),
      shards_per_group_(other.shards_per_group_),
      paws_(other.paws_),
      group_space_(other.group_space_),
      rs_(std::exchange(other.rs_, nullptr)),
      max_held_bytes_(other.max_held_bytes_),
      groups_(std::move(other.groups_)),
      have_newest_(other.have_newest_),
      newest_group_(other.newest_group_),
      held_bytes_(std::exchange(other.held_bytes_, 0)),
      auto_tune_(other.auto_tune_),
      should_tune_(other.should_tune_),
      counters_(other.counters_) {
  other.groups_.clear();
}

FecDecoder& FecDecoder::operator=(FecDecoder&& other) noexcept {
  if (this == &other) return *this;
  ReleaseAll();
  max_packet_size_ = other.max_packet_size_;
  max_shard_sets_ = other.max_shard_sets_;
  auto_tune_enabled_ = other.auto_tune_enabled_;
  own_pool_ = std::move(other.own_pool_);
  pool_ = std::exchange(other.pool_, nullptr);
  data_shards_ = other.data_shards_;
  parity_shards_ = other.parity_shards_;
  shards_per_group_ = other.shards_per_group_;
  paws_ = other.paws_;
  group_space_ = other.group_space_;
  rs_ = std::exchange(other.rs_, nullptr);
  max_held_bytes_ = other.max_held_bytes_;
  groups_ = std::move(other.groups_);
  other.groups_.clear();
  have_newest_ = other.have_newest_;
  newest_group_ = other.newest_group_;
  held_bytes_ = std::exchange(other.held_bytes_, 0);
  auto_tune_ = other.auto_tune_;
  should_tune_ = other.should_tune_;
  counters_ = other.counters_;
  return *this;
}

FecDecoder::~FecDecoder() { ReleaseAll(); }

void FecDecoder::ReleaseAll() {
  if (pool_ == nullptr) return;  // moved from
  for (Group& g : groups_) ReleaseShards(g);
  if (rs_ != nullptr) pool_->ReleaseCodec(rs_);
  rs_ = nullptr;
  pool_ = nullptr;
}

absl::Status FecDecoder::Configure(int data_shards, int parity_shards) {
  absl::StatusOr<ReedSolomon*> rs = pool_->AcquireCodec(data_shards, parity_shards);
  if (!rs.ok()) return rs.status();
  for (Group& g : groups_) {
    ReleaseShards(g);
    g.live = false;
  }
  if (rs_ != nullptr) pool_->ReleaseCodec(rs_);
  rs_ = *rs;
  data_shards_ = data_shards;
  parity_shards_ = parity_shards;
  shards_per_group_ = data_shards + parity_shards;
  paws_ = SeqidSpace(data_shards, parity_shards);
  group_space_ = paws_ / shards_per_group_;
  max_held_bytes_ = groups_.size() * shards_per_group_ * (max_packet_size_ - kFecHeaderSize);
  have_newest_ = false;
  return absl::OkStatus();
}

void FecDecoder::TrimPrivatePool() {
  if (own_pool_ != nullptr && held_bytes_ == 0 &&
      own_pool_->bytes_free() + own_pool_->scratch_bytes() != 0) {
    own_pool_->Trim(0);
  }
}

void FecDecoder::ReleaseShards(Group& g) {
  if (g.table == nullptr) return;
  uint8_t** shards = Shards(g);
  const uint16_t* lengths = Lengths(g);
  for (int pos = 0; pos < shards_per_group_; ++pos) {
    if (shards[pos] == nullptr) continue;
    pool_->Release(shards[pos], lengths[pos]);
    held_bytes_ -= ShardPool::BlockCapacity(lengths[pos]);
  }
  pool_->Release(g.table, table_bytes());
  held_bytes_ -= ShardPool::BlockCapacity(table_bytes());
  g.table = nullptr;
}

FecDecoder::Result FecDecoder::Decode(absl::Span<const uint8_t> packet) {
  // A private pool's scratch may still hold the previous call's recovered
  // packets: given back now that they are no longer needed.
  TrimPrivatePool();
  Result r;
  const absl::Span<const uint8_t>* recovered = nullptr;
  size_t n = 0;
  switch (ClassifyFecPacket(packet)) {
    case FecPacketType::kRawKcp:
      r.kind = Kind::kNotFec;
      r.payload = packet;
      return r;
    case FecPacketType::kOob:
      if (packet.size() < kFecOobHeaderSize) break;
      ++counters_.oob_packets;
      r.kind = Kind::kOob;
      r.oob_conv = LoadLe32(packet.data() + kFecDataHeaderSize);
      r.payload = packet.subspan(kFecOobHeaderSize);
      return r;
    case FecPacketType::kData:
      if (packet.size() < kFecDataHeaderSize) break;
      ++counters_.data_packets;
      r.kind = Kind::kData;
      r.payload = packet.subspan(kFecDataHeaderSize);
      n = Store(packet, /*is_data=*/true, &recovered);
      r.recovered = absl::MakeConstSpan(recovered, n);
      if (n == 0) TrimPrivatePool();
      return r;
    case FecPacketType::kParity:
      if (packet.size() < kFecDataHeaderSize) break;
      ++counters_.parity_packets;
      r.kind = Kind::kParity;
      n = Store(packet, /*is_data=*/false, &recovered);
      r.recovered = absl::MakeConstSpan(recovered, n);
      if (n == 0) TrimPrivatePool();
      return r;
  }
  ++counters_.malformed;
  r.kind = Kind::kMalformed;
  return r;
}

size_t FecDecoder::Store(absl::Span<const uint8_t> packet, bool is_data,
                         const absl::Span<const uint8_t>** recovered) {
  const uint32_t seqid = LoadLe32(packet.data());
  if (auto_tune_enabled_) auto_tune_.Sample(is_data, seqid);
  if (seqid >= paws_) {
    ++counters_.malformed;
    return 0;
  }
  const int position = static_cast<int>(seqid % shards_per_group_);
  if ((position < data_shards_) != is_data) {
    if (!auto_tune_enabled_) {
      ++counters_.malformed;
      return 0;
    }
    should_tune_ = true;
  }
  if (should_tune_) {
    // Store nothing until the peer's counts are known (kcp-go HEAD).
    const int ds = auto_tune_.FindPeriod(true);
    const int ps = auto_tune_.FindPeriod(false);
    if (ds > 0 && ps > 0 && ds + ps < 256) {
      if ((ds != data_shards_ || ps != parity_shards_) && Configure(ds, ps).ok()) {
        ++counters_.retunes;
      }
      should_tune_ = false;
    }
    return 0;
  }
  if (packet.size() > max_packet_size_) {
    ++counters_.oversized;
    return 0;
  }
  Group* g = FindOrOpenGroup(seqid / shards_per_group_);
  if (g == nullptr || g->decoded) {
    ++counters_.late;
    return 0;
  }
  if (g->table != nullptr && Shards(*g)[position] != nullptr) {
    ++counters_.duplicates;
    return 0;
  }
  const size_t len = packet.size() - kFecHeaderSize;
  const size_t cost = ShardPool::BlockCapacity(len) +
                      (g->table == nullptr ? ShardPool::BlockCapacity(table_bytes()) : 0);
  if (held_bytes_ + cost > max_held_bytes_) {
    ++counters_.over_memory_bound;
    return 0;
  }
  held_bytes_ += cost;
  if (g->table == nullptr) {
    g->table = pool_->Allocate(table_bytes());
    memset(g->table, 0, sizeof(uint8_t*) * shards_per_group_);
  }
  uint8_t* block = pool_->Allocate(len);
  memcpy(block, packet.data() + kFecHeaderSize, len);
  Shards(*g)[position] = block;
  Lengths(*g)[position] = static_cast<uint16_t>(len);
  ++g->count;
  if (is_data) ++g->data_count;
  if (len > g->max_len) g->max_len = static_cast<uint16_t>(len);
  if (g->count < data_shards_) return 0;
  return DecodeGroup(*g, recovered);
}

FecDecoder::Group* FecDecoder::FindOrOpenGroup(uint32_t group_id) {
  // Signed distance in the circular group-id space.
  const auto distance = [this](uint32_t a, uint32_t b) -> int64_t {
    int64_t d = (int64_t{a} - b) % group_space_;
    if (d < 0) d += group_space_;
    if (d > int64_t{group_space_} / 2) d -= group_space_;
    return d;
  };
  if (!have_newest_) {
    have_newest_ = true;
    newest_group_ = group_id;
  } else {
    const int64_t d = distance(group_id, newest_group_);
    if (d > 0) {
      newest_group_ = group_id;
      for (Group& g : groups_) {
        if (g.live && distance(newest_group_, g.id) > max_shard_sets_) CloseGroup(g);
      }
    } else if (-d > max_shard_sets_) {
      return nullptr;  // older than every group kept
    }
  }
  Group* free_slot = nullptr;
  for (Group& g : groups_) {
    if (g.live && g.id == group_id) return &g;
    if (!g.live && free_slot == nullptr) free_slot = &g;
  }
  // Live groups span at most max_shard_sets + 1 consecutive ids, one slot
  // each, so a slot is always free here.
  if (free_slot == nullptr) return nullptr;
  Group& g = *free_slot;
  g.live = true;
  g.decoded = false;
  g.id = group_id;
  g.count = 0;
  g.data_count = 0;
  g.max_len = 0;
  return &g;
}

void FecDecoder::CloseGroup(Group& g) {
  if (!g.decoded) ++counters_.short_groups;
  ReleaseShards(g);
  g.live = false;
}

size_t FecDecoder::DecodeGroup(Group& g, const absl::Span<const uint8_t>** recovered) {
  g.decoded = true;
  if (g.data_count == data_shards_) {
    ++counters_.full_shard_sets;
    ReleaseShards(g);
    return 0;
  }
  // Shards = size|payload (or parity) zero-padded to the longest (§4.5): in
  // place where the block is long enough, else in the pool's pad scratch.
  // Lost data shards are rebuilt in its output scratch, after the views
  // returned for them.
  uint8_t** shards = Shards(g);
  const uint16_t* lengths = Lengths(g);
  const size_t len = g.max_len;
  int short_blocks = 0;
  for (int pos = 0; pos < shards_per_group_; ++pos) {
    if (shards[pos] != nullptr && ShardPool::BlockCapacity(lengths[pos]) < len) ++short_blocks;
  }
  uint8_t* pad = short_blocks == 0 ? nullptr : pool_->PadScratch(short_blocks * len);
  const int missing = data_shards_ - g.data_count;
  const size_t views_bytes = (sizeof(absl::Span<const uint8_t>) * missing + 15) / 16 * 16;
  uint8_t* out = pool_->OutScratch(views_bytes + missing * len);
  auto* views = reinterpret_cast<absl::Span<const uint8_t>*>(out);
  out += views_bytes;
  uint8_t* ptrs[ReedSolomon::kMaxTotalShards];
  ShardMask present;
  for (int pos = 0; pos < shards_per_group_; ++pos) {
    uint8_t* s = shards[pos];
    if (s == nullptr) {
      ptrs[pos] = nullptr;
      if (pos < data_shards_) {
        ptrs[pos] = out;
        out += len;
      }
      continue;
    }
    present.set(pos);
    const size_t n = lengths[pos];
    if (ShardPool::BlockCapacity(n) < len) {
      memcpy(pad, s, n);
      s = pad;
      pad += len;
    }
    memset(s + n, 0, len - n);
    ptrs[pos] = s;
  }
  size_t n = 0;
  if (!rs_->ReconstructData(absl::MakeConstSpan(ptrs, shards_per_group_), present, len).ok()) {
    ++counters_.errors;
  } else {
    for (int pos = 0; pos < data_shards_; ++pos) {
      if (present[pos]) continue;
      const uint8_t* r = ptrs[pos];
      const size_t size = LoadLe16(r);
      if (size >= 2 && size <= len) {
        new (&views[n++]) absl::Span<const uint8_t>(r + 2, size - 2);
        ++counters_.recovered;
      } else {
        ++counters_.errors;
      }
    }
  }
  ReleaseShards(g);
  *recovered = views;
  return n;
}

}  // namespace kcpp::fec
