// kcp-go's FEC decoder (wire-format.md §4.5, §4.6, §4.8): passes data packets
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
// decoder and stay valid until the next call on it.
//
// Groups are seqid / (data + parity). The decoder keeps the newest group and
// the max_shard_sets groups before it (kcp-go HEAD maxShardSets = 3); older
// ones are discarded, counted in `short_groups` if data was missing. A group
// is decoded once: later packets of a decoded group are ignored. Memory is
// fixed at creation (and on auto-tune): (max_shard_sets + 1) x (data +
// parity) x max_packet_size bytes. No allocation per packet once the erasure
// patterns seen have been cached by the Reed-Solomon codec.
//
// Auto-tune (§4.6): when a packet's flag disagrees with its position under
// the current (data, parity), the decoder stops storing packets (data still
// passes through) until the flags of the last 258 packets reveal the peer's
// counts, then switches to them (counted in `retunes`). As in kcp-go, the
// samples must hold a loss-free stretch of seqids from the oldest one through
// a whole data run and parity run, so detection waits for such a stretch.
// Create a decoder
// with (1, 1) to receive from a peer whose counts are unknown, as kcp-go does
// for a session without FEC. With auto_tune off, mismatching packets are
// dropped as malformed.
//
// Hostile input: every length is checked before it is read; seqids at or
// above the seqid space (§4.2) are not stored; oversized packets are not
// stored; nothing grows with input.
//
// Thread safety: none (one instance per session).
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
};

struct FecDecoderCounters {
  uint64_t data_packets = 0;     // 0xF1 packets (passed through)
  uint64_t parity_packets = 0;   // 0xF2 packets seen (kcp-go FECParityShards)
  uint64_t oob_packets = 0;      // 0xF3 packets (kcp-go OOBPackets)
  uint64_t recovered = 0;        // data packets rebuilt and returned (FECRecovered)
  uint64_t full_shard_sets = 0;  // groups that completed with no data lost (FECFullShardSet)
  uint64_t errors = 0;           // reconstruction failed or bad recovered size (FECErrs)
  uint64_t short_groups = 0;     // groups discarded with data still missing (FECShortShards)
  uint64_t malformed = 0;        // too short, seqid >= seqid space, flag/position mismatch
  uint64_t oversized = 0;        // longer than max_packet_size: not stored
  uint64_t duplicates = 0;       // seqid already stored
  uint64_t late = 0;             // for a group already decoded or too old
  uint64_t retunes = 0;          // auto-tune switched (data, parity)
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

  FecDecoder(FecDecoder&&) noexcept;
  FecDecoder& operator=(FecDecoder&&) noexcept;
  ~FecDecoder();

  // Processes the bytes after the crypt header of one datagram. Never reads
  // outside `packet`; the views returned are valid until the next call.
  Result Decode(absl::Span<const uint8_t> packet);

  // Current (data, parity), which auto-tune may have changed.
  int data_shards() const { return data_shards_; }
  int parity_shards() const { return parity_shards_; }
  const FecDecoderCounters& counters() const { return counters_; }

 private:
  struct Group;
  explicit FecDecoder(const FecDecoderOptions& options);
  absl::Status Configure(int data_shards, int parity_shards);
  // Stores a data/parity packet; returns the number of recovered packets
  // written to recovered_.
  size_t Store(absl::Span<const uint8_t> packet, bool is_data);
  Group* FindOrOpenGroup(uint32_t group_id);
  size_t DecodeGroup(Group& g);
  void CloseGroup(Group& g);
  uint8_t* shard(const Group& g, int position);

  // Options.
  size_t max_packet_size_;
  size_t slot_size_;  // max_packet_size - 6: bytes stored per shard
  int max_shard_sets_;
  bool auto_tune_enabled_;

  // Current code.
  int data_shards_ = 0;
  int parity_shards_ = 0;
  int shards_per_group_ = 0;
  uint32_t paws_ = 0;
  uint32_t group_space_ = 0;  // paws_ / shards_per_group_
  std::unique_ptr<ReedSolomon> rs_;

  // Live groups (max_shard_sets + 1 slots) and their shard storage.
  std::vector<Group> groups_;
  std::vector<uint8_t> storage_;
  bool have_newest_ = false;
  uint32_t newest_group_ = 0;

  internal::AutoTune auto_tune_;
  bool should_tune_ = false;

  std::vector<uint8_t*> shard_ptrs_;
  std::vector<absl::Span<const uint8_t>> recovered_;
  FecDecoderCounters counters_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_FEC_DECODER_H_
