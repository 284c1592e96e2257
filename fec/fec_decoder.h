// kcp-go's FEC decoder (docs/protocol.md §4.5, §4.6, §4.8): passes data packets
// straight through, keeps copies of the shards of the newest few groups, and
// reconstructs lost data packets from parity as soon as a group holds
// `data_shards` shards — what kcp-go HEAD's fecDecoder recovers.
//
// Decode takes the bytes after the crypt header of one received datagram:
//   * data (0xF1): returns its KCP bytes (a view into the input, no copy) for
//     immediate delivery to KCP, and stores a copy of the shard.
//   * parity (0xF2): stores it.
//   * OOB (0xF3, KG-HEAD >= v5.6.60): returns conv and payload; not decoded.
//   * anything else: kNotFec, the caller feeds the packet to KCP as raw KCP
//     (kcp-go accepts both on a session with or without FEC, §4.7).
// When a stored shard completes a group with lost data shards, the result
// also lists each recovered packet's KCP bytes (`size` field validated:
// 2 <= size <= shard length). kcp-go feeds those to KCP marked as recovered
// (no RTT sample, no window update). Recovered views point into the
// ShardPool's scratch and stay valid until the next Decode on any decoder
// sharing that pool, or the pool's Trim().
//
// Groups are seqid / (data + parity). The decoder keeps the newest group and
// the max_shard_sets groups before it (kcp-go HEAD maxShardSets = 3); older
// ones are discarded, counted in `short_groups` if data was missing. A group
// is decoded once, as soon as it holds data_shards shards: its storage goes
// back to the pool then, and later packets of it are ignored.
//
// Memory: each stored shard is copied into a ShardPool block sized to it,
// with a table of 10 x (data + parity) bytes per group holding shards; all
// of it returns to the pool when the group is decoded (as soon as it holds
// data_shards shards) or discarded. held_bytes() is what a decoder holds in
// the pool; it never exceeds max_held_bytes() = (max_shard_sets + 1) x
// (data + parity) x (max_packet_size - 6), the figure every decoder used to
// preallocate: a shard that would cross it is not stored (counted in
// `over_memory_bound`; only codes with many data shards per parity shard
// and shard lengths just above a size class, e.g. 200+1, can get there).
// Figures for 10+3, max_packet_size 1500, x86-64 (fec_memory_benchmark):
//   * idle (no group holding shards): sizeof(FecDecoder) = 1,776 bytes
//     (1,560 of them auto-tune samples) + 96 bytes of group headers; no
//     shard memory. (Before: 77,688 bytes of slots + ~8 KB of codec, group
//     and auto-tune state, from the first FEC packet on.)
//   * k shards of one incomplete group: + a 152-byte table + one block per
//     shard, ShardPool::BlockCapacity(its length): 40 bytes for an ACK-only
//     datagram, 1,528 for a full one.
//   * worst case, whatever a peer sends: 4 live groups of 9 full-size shards
//     + their tables, 55,616 bytes, and 57,144 within a call (the shard that
//     completes a group, before its release); max_held_bytes() is 77,688.
//     Auto-tune may switch to any code the peer's flags describe (data +
//     parity < 256); the bound is then that code's (up to 1.52 MB, as
//     before).
// The Reed-Solomon codec and its decode-matrix cache are the pool's, shared
// by every decoder of the same code on the thread (the cache was up to
// 8 MiB per decoder). No allocation per packet once the pool is warm and
// the erasure patterns seen are cached.
//
// Auto-tune (§4.6): when a packet's flag disagrees with its position under
// the current (data, parity), the decoder stops storing packets (data still
// passes through) until the flags of the last 258 packets reveal the peer's
// counts, then switches to them (counted in `retunes`). As in kcp-go, the
// samples must hold a loss-free stretch of seqids from the oldest one through
// a whole data run and parity run, so detection waits for such a stretch.
// Create a decoder with (1, 1) to receive from a peer whose counts are
// unknown, as kcp-go does for a session without FEC. With auto_tune off, mismatching packets are
// dropped as malformed.
//
// Hostile input: every length is checked before it is read; seqids at or
// above the seqid space (§4.2) are not stored; oversized packets are not
// stored; held memory is bounded as above (per code: auto-tune may switch to
// the peer's counts, up to 255 + 1).
//
// Thread safety: none (one instance per session, used by the thread of its
// ShardPool).
#ifndef KCPP_FEC_FEC_DECODER_H_
#define KCPP_FEC_FEC_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fec/fec_packet.h"
#include "fec/internal/auto_tune.h"
#include "fec/reed_solomon.h"
#include "fec/shard_pool.h"

namespace kcpp::fec {

struct FecDecoderOptions {
  // The peer's shard counts (1 <= each, sum <= 256). With auto_tune they are
  // only the starting point.
  int data_shards = 10;
  int parity_shards = 3;
  // Longest FEC packet (bytes after the crypt header) stored for recovery;
  // longer data packets are still passed through. kcp-go's mtuLimit.
  size_t max_packet_size = kMtuLimit;
  // Groups kept besides the newest (kcp-go HEAD maxShardSets). 1..16.
  int max_shard_sets = 3;
  bool auto_tune = true;
  // Where shard copies, scratch and the Reed-Solomon codec come from (not
  // owned; must outlive the decoder; same thread). nullptr: a private pool
  // (decode-matrix cache of 16 patterns / 64 KiB) whose memory goes back to
  // the allocator whenever no group holds shards.
  ShardPool* pool = nullptr;
};

struct FecDecoderCounters {
  uint64_t data_packets = 0;       // 0xF1 packets (passed through)
  uint64_t parity_packets = 0;     // 0xF2 packets seen (kcp-go FECParityShards)
  uint64_t oob_packets = 0;        // 0xF3 packets (kcp-go OOBPackets)
  uint64_t recovered = 0;          // data packets rebuilt and returned (FECRecovered)
  uint64_t full_shard_sets = 0;    // groups that completed with no data lost (FECFullShardSet)
  uint64_t errors = 0;             // reconstruction failed or bad recovered size (FECErrs)
  uint64_t short_groups = 0;       // groups discarded with data still missing (FECShortShards)
  uint64_t malformed = 0;          // too short, seqid >= seqid space, flag/position mismatch
  uint64_t oversized = 0;          // longer than max_packet_size: not stored
  uint64_t duplicates = 0;         // seqid already stored
  uint64_t late = 0;               // for a group already decoded or too old
  uint64_t retunes = 0;            // auto-tune switched (data, parity)
  uint64_t over_memory_bound = 0;  // not stored: held_bytes would exceed max_held_bytes
};

class FecDecoder {
 public:
  enum class Kind : uint8_t {
    kData,       // payload = KCP bytes
    kParity,     // payload empty
    kOob,        // payload = bytes after conv; oob_conv set
    kNotFec,     // payload = the whole packet: raw KCP
    kMalformed,  // FEC flag but too short to hold its header; payload empty
  };

  struct Result {
    Kind kind = Kind::kNotFec;
    absl::Span<const uint8_t> payload;
    uint32_t oob_conv = 0;
    // KCP bytes of data packets recovered by this call, in seqid order.
    absl::Span<const absl::Span<const uint8_t>> recovered;
  };

  // InvalidArgument on out-of-range options.
  static absl::StatusOr<FecDecoder> Create(const FecDecoderOptions& options);

  FecDecoder(FecDecoder&& other) noexcept;
  FecDecoder& operator=(FecDecoder&& other) noexcept;
  // Gives stored shards back to the pool.
  ~FecDecoder();

  // Processes the bytes after the crypt header of one datagram. Never reads
  // outside `packet`; the views returned are valid until the next call.
  Result Decode(absl::Span<const uint8_t> packet);

  // Current (data, parity), which auto-tune may have changed.
  int data_shards() const { return data_shards_; }
  int parity_shards() const { return parity_shards_; }
  const FecDecoderCounters& counters() const { return counters_; }
  // Pool bytes held now: stored shards' blocks (by capacity) and group
  // tables. 0 when no group holds shards.
  size_t held_bytes() const { return held_bytes_; }
  // The bound on held_bytes() for the current (data, parity).
  size_t max_held_bytes() const { return max_held_bytes_; }

 private:
  // One of the max_shard_sets + 1 group slots.
  struct Group {
    uint32_t id = 0;
    uint16_t count = 0;       // shards stored
    uint16_t data_count = 0;  // of which data
    uint16_t max_len = 0;     // longest stored shard
    bool live = false;
    bool decoded = false;
    // While shards are stored: a pool block of shards_per_group_ block
    // pointers (null = not received) followed by as many uint16 lengths.
    uint8_t* table = nullptr;
  };
  FecDecoder(const FecDecoderOptions& options, std::unique_ptr<ShardPool> own_pool,
             ShardPool* pool);
  absl::Status Configure(int data_shards, int parity_shards);
  // Stores a data/parity packet; returns the number of recovered packets
  // (views in the pool's output scratch, at *recovered).
  size_t Store(absl::Span<const uint8_t> packet, bool is_data,
               const absl::Span<const uint8_t>** recovered);
  Group* FindOrOpenGroup(uint32_t group_id);
  size_t DecodeGroup(Group& g, const absl::Span<const uint8_t>** recovered);
  void CloseGroup(Group& g);
  // Returns a group's shards and table to the pool.
  void ReleaseShards(Group& g);
  void ReleaseAll();
  // With a private pool and nothing held: its memory back to the allocator.
  void TrimPrivatePool();
  size_t table_bytes() const { return size_t(shards_per_group_) * (sizeof(uint8_t*) + 2); }
  static uint8_t** Shards(const Group& g) { return reinterpret_cast<uint8_t**>(g.table); }
  uint16_t* Lengths(const Group& g) const {
    return reinterpret_cast<uint16_t*>(g.table + sizeof(uint8_t*) * shards_per_group_);
  }

  // Options.
  size_t max_packet_size_;
  int max_shard_sets_;
  bool auto_tune_enabled_;
  std::unique_ptr<ShardPool> own_pool_;  // null when given a pool
  ShardPool* pool_;

  // Current code.
  int data_shards_ = 0;
  int parity_shards_ = 0;
  int shards_per_group_ = 0;
  uint32_t paws_ = 0;
  uint32_t group_space_ = 0;   // paws_ / shards_per_group_
  ReedSolomon* rs_ = nullptr;  // the pool's codec for the current code
  size_t max_held_bytes_ = 0;

  // Live groups (max_shard_sets + 1 slots).
  std::vector<Group> groups_;
  bool have_newest_ = false;
  uint32_t newest_group_ = 0;
  size_t held_bytes_ = 0;

  internal::AutoTune auto_tune_;
  bool should_tune_ = false;

  FecDecoderCounters counters_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_FEC_DECODER_H_
