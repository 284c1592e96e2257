#include "fec/fec_decoder.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::fec {

struct FecDecoder::Group {
  bool live = false;
  bool decoded = false;
  uint32_t id = 0;
  int count = 0;       // shards stored
  int data_count = 0;  // of which data
  size_t max_len = 0;  // longest stored shard
  size_t storage_offset = 0;
  ShardMask present;
  uint16_t len[ReedSolomon::kMaxTotalShards];
};

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
  FecDecoder d(options);
  absl::Status st = d.Configure(options.data_shards, options.parity_shards);
  if (!st.ok()) return st;
  return d;
}

FecDecoder::FecDecoder(const FecDecoderOptions& options)
    : max_packet_size_(options.max_packet_size),
      slot_size_(options.max_packet_size - kFecHeaderSize),
      max_shard_sets_(options.max_shard_sets),
      auto_tune_enabled_(options.auto_tune),
      groups_(options.max_shard_sets + 1) {}

FecDecoder::FecDecoder(FecDecoder&&) noexcept = default;
FecDecoder& FecDecoder::operator=(FecDecoder&&) noexcept = default;
FecDecoder::~FecDecoder() = default;

absl::Status FecDecoder::Configure(int data_shards, int parity_shards) {
  absl::StatusOr<ReedSolomon> rs = ReedSolomon::Create(data_shards, parity_shards);
  if (!rs.ok()) return rs.status();
  rs_ = std::make_unique<ReedSolomon>(std::move(*rs));
  data_shards_ = data_shards;
  parity_shards_ = parity_shards;
  shards_per_group_ = data_shards + parity_shards;
  paws_ = SeqidSpace(data_shards, parity_shards);
  group_space_ = paws_ / shards_per_group_;
  const size_t group_bytes = size_t(shards_per_group_) * slot_size_;
  storage_.resize(groups_.size() * group_bytes);
  for (size_t i = 0; i < groups_.size(); ++i) {
    groups_[i].live = false;
    groups_[i].storage_offset = i * group_bytes;
  }
  have_newest_ = false;
  shard_ptrs_.assign(shards_per_group_, nullptr);
  recovered_.resize(data_shards);
  return absl::OkStatus();
}

uint8_t* FecDecoder::shard(const Group& g, int position) {
  return &storage_[g.storage_offset + size_t(position) * slot_size_];
}

FecDecoder::Result FecDecoder::Decode(absl::Span<const uint8_t> packet) {
  Result r;
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
      r.recovered = absl::MakeConstSpan(recovered_.data(), Store(packet, /*is_data=*/true));
      return r;
    case FecPacketType::kParity:
      if (packet.size() < kFecDataHeaderSize) break;
      ++counters_.parity_packets;
      r.kind = Kind::kParity;
      r.recovered = absl::MakeConstSpan(recovered_.data(), Store(packet, /*is_data=*/false));
      return r;
  }
  ++counters_.malformed;
  r.kind = Kind::kMalformed;
  return r;
}

size_t FecDecoder::Store(absl::Span<const uint8_t> packet, bool is_data) {
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
  if (g->present[position]) {
    ++counters_.duplicates;
    return 0;
  }
  const size_t len = packet.size() - kFecHeaderSize;
  memcpy(shard(*g, position), packet.data() + kFecHeaderSize, len);
  g->len[position] = static_cast<uint16_t>(len);
  g->present.set(position);
  ++g->count;
  if (is_data) ++g->data_count;
  if (len > g->max_len) g->max_len = len;
  if (g->count < data_shards_) return 0;
  return DecodeGroup(*g);
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
  g.present.reset();
  return &g;
}

void FecDecoder::CloseGroup(Group& g) {
  if (!g.decoded) ++counters_.short_groups;
  g.live = false;
}

size_t FecDecoder::DecodeGroup(Group& g) {
  g.decoded = true;
  if (g.data_count == data_shards_) {
    ++counters_.full_shard_sets;
    return 0;
  }
  // Shards = size|payload (or parity) zero-padded to the longest (§4.5).
  for (int pos = 0; pos < shards_per_group_; ++pos) {
    shard_ptrs_[pos] = shard(g, pos);
    if (g.present[pos]) memset(shard_ptrs_[pos] + g.len[pos], 0, g.max_len - g.len[pos]);
  }
  if (!rs_->ReconstructData(shard_ptrs_, g.present, g.max_len).ok()) {
    ++counters_.errors;
    return 0;
  }
  size_t n = 0;
  for (int pos = 0; pos < data_shards_; ++pos) {
    if (g.present[pos]) continue;
    const uint8_t* r = shard_ptrs_[pos];
    const size_t size = LoadLe16(r);
    if (size >= 2 && size <= g.max_len) {
      recovered_[n++] = absl::MakeConstSpan(r + 2, size - 2);
      ++counters_.recovered;
    } else {
      ++counters_.errors;
    }
  }
  return n;
}

}  // namespace kcpp::fec
