// kcp-go's FEC encoder (docs/protocol.md §4.2, §4.3): stamps the FEC header of
// every outgoing packet in place, groups `data_shards` packets and, when a
// group is complete, emits `parity_shards` Reed-Solomon parity packets —
// byte-identical to kcp-go's fecEncoder.
//
// Buffers carry headroom so no layer copies (docs/architecture.md): the
// caller passes each outgoing datagram as
//
//   [0, header_offset)                  free for the crypt header (0, 12, 20)
//   [header_offset, header_offset + 8)  free; Encode writes seqid|flag|size
//   [header_offset + 8, end)            the KCP bytes of one KCP output call
//
// Encode stamps the header, copies `size|KCP bytes` into a ShardPool block
// sized to it (reused: no allocation per packet once the pool is warm) and
// returns. The packet that
// completes a group also produces the parity packets: the encoder asks the
// ParitySink for buffers, writes each parity packet at `header_offset` in
// them (the crypt header space is left free) and hands them back in seqid
// order. Each parity packet is as long as the longest data packet of its
// group (header_offset included); its RS input is every data shard's
// `size|KCP bytes` zero-padded to that length (§4.3).
//
// Parity policy (§4.3):
//   kAlways        — every group gets parity. kcp-go <= v5.6.5, including
//                    Debian's 5.6.1. The default.
//   kSkipWhenIdle  — kcp-go >= v5.6.21: when the last two data packets of a
//                    group are >= idle_threshold_ms apart, no parity is sent
//                    and seqid advances by parity_shards, keeping the group
//                    grid aligned for the receiver.
// If the sink cannot provide buffers, that group's parity is skipped the same
// way (seqid advanced) and counted.
//
// Withholding parity (SetParityToSend, for adaptive parity): a group's
// parity is always computed for all parity_shards, but only the first k are
// sent; the seqids of the others are skipped, so every receiver, kcp-go
// 5.6.1 included, sees exactly what it would see had they been lost on the
// way: the data and parity positions of the group grid never change (which
// is what kcp-go's decoder checks before it auto-tunes), and a group with
// k parity shards still recovers up to k losses (docs/protocol.md §4.7).
// k = 0 skips the group's parity like kSkipWhenIdle.
//
// Memory (x86-64, 10+3, 20-byte crypt header, MTU 1500; measured by
// fec_memory_benchmark):
//   * idle (no group being filled): sizeof(FecEncoder) = 168 bytes and
//     nothing else; its Reed-Solomon codec is the pool's, shared by every
//     encoder and decoder of the thread with the same counts. (Before: 14,740
//     bytes of cache + ~2 KB of codec and pointer arrays, for its life.)
//   * k datagrams of a group being filled: + a 104-byte table of block
//     pointers and lengths + one block per datagram, ShardPool::BlockCapacity(KCP bytes
//     + 2): 40 bytes for a 24-byte ACK-only datagram, 72 for a small
//     one-segment message, 1,528 for a full 1400-byte datagram.
//   * worst case: 9 full-size blocks + the table between calls (13,856
//     bytes); the tenth completes the group and everything goes back.
//
// Usage:
//   ShardPool pool;  // one per thread, shared by its sessions (optional)
//   FecEncoderOptions options;
//   options.data_shards = 10;
//   options.parity_shards = 3;
//   options.header_offset = cipher->header_size();
//   options.pool = &pool;
//   KCPP_ASSIGN_OR_RETURN(FecEncoder enc, FecEncoder::Create(options));
//   // per KCP output, in a buffer with header_offset + 8 bytes of headroom:
//   KCPP_ASSIGN_OR_RETURN(int parity, enc.Encode(packet, now_ms, sink));
//   Seal and send `packet`; the sink seals and sends parity packets.
//
// Thread safety: none (one instance per session, used by the thread of its
// ShardPool).
#ifndef KCPP_FEC_FEC_ENCODER_H_
#define KCPP_FEC_FEC_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fec/fec_packet.h"
#include "fec/reed_solomon.h"
#include "fec/shard_pool.h"

namespace kcpp::fec {

namespace internal {
class FecEncoderPeer;
}  // namespace internal

enum class ParityPolicy : uint8_t { kAlways, kSkipWhenIdle };

struct FecEncoderOptions {
  // 1 <= data_shards, 1 <= parity_shards, data_shards + parity_shards <= 256.
  // kcp-go: FEC is off unless both are > 0; kcptun's defaults are 10 and 3.
  int data_shards = 10;
  int parity_shards = 3;
  // Bytes before the FEC header reserved for the crypt layer (§1): 0 without
  // encryption, 20 for kcp-go's classic ciphers, 12 for AEAD nonces.
  size_t header_offset = 0;
  // Largest packet.size() Encode accepts (header_offset included). kcp-go's
  // mtuLimit by default; at most header_offset + 6 + 65535.
  size_t max_packet_size = kMtuLimit;
  ParityPolicy parity_policy = ParityPolicy::kAlways;
  // kcp-go's maxFECEncodeLatency (ms); used by kSkipWhenIdle only.
  uint32_t idle_threshold_ms = 500;
  // Where shard copies, padding scratch and the Reed-Solomon codec come
  // from (not owned; must outlive the encoder; same thread). nullptr: a
  // private pool, whose blocks go back to the allocator after every group.
  ShardPool* pool = nullptr;
};

// Where parity packets go. Implemented by the transport (typically over its
// packet buffer pool).
class ParitySink {
 public:
  virtual ~ParitySink() = default;
  // Fills buffers[i] (buffers.size() == parity_shards) with writable
  // buffers of at least `size` bytes, or returns false if it cannot (then
  // none are used and this group's parity is skipped). `size` includes the
  // header_offset bytes of crypt headroom.
  virtual bool AcquireParityBuffers(size_t size, absl::Span<absl::Span<uint8_t>> buffers) = 0;
  // Called once per acquired buffer, in seqid order, with the finished
  // parity packet: the first `size` bytes of that buffer, whose first
  // header_offset bytes are untouched.
  virtual void EmitParity(absl::Span<uint8_t> packet) = 0;
};

struct FecEncoderCounters {
  uint64_t data_packets = 0;
  uint64_t parity_packets = 0;
  uint64_t groups_encoded = 0;
  uint64_t groups_skipped_idle = 0;       // kSkipWhenIdle decided no parity
  uint64_t groups_skipped_no_buffer = 0;  // the sink had no buffers
  uint64_t groups_skipped_adaptive = 0;   // SetParityToSend(0)
  uint64_t parity_withheld = 0;           // parity shards computed, not sent
};

class FecEncoder {
 public:
  // InvalidArgument on shard counts out of range or a max_packet_size that
  // cannot hold header_offset + 8 bytes or exceeds header_offset + 65541.
  static absl::StatusOr<FecEncoder> Create(const FecEncoderOptions& options);

  FecEncoder(FecEncoder&& other) noexcept;
  FecEncoder& operator=(FecEncoder&& other) noexcept;
  // Gives the blocks of an unfinished group back to the pool.
  ~FecEncoder();

  // Stamps `packet` (layout above; header_offset + 8 <= size <= max_packet_size)
  // as the next data packet and, if it completes a group, emits the group's
  // parity through `sink`. Returns the number of parity packets emitted.
  // `now_ms` is any millisecond clock (wrapping uint32 is fine); only
  // kSkipWhenIdle reads it. InvalidArgument, with nothing changed, if the
  // packet size is out of range.
  absl::StatusOr<int> Encode(absl::Span<uint8_t> packet, uint32_t now_ms, ParitySink& sink);

  // Stamps an out-of-band packet (KG-HEAD >= v5.6.60, §4.8): same layout as
  // Encode's, the KCP area holding conv (4 bytes) + payload. Writes seqid
  // 0xFFFFFFFF, flag 0xF3 and size; not part of any group, seqid unchanged.
  // InvalidArgument if packet.size() < header_offset + 12 or the size field
  // would overflow.
  absl::Status SealOob(absl::Span<uint8_t> packet) const;

  // Sends only the first `parity` (clamped to [0, parity_shards]) parity
  // shards of each group from the next completed group on (see the file
  // comment); parity_shards, the default, sends all.
  void SetParityToSend(int parity);
  int parity_to_send() const { return send_parity_; }

  // seqid the next data packet will carry.
  uint32_t next_seqid() const { return next_; }
  int data_shards() const { return data_shards_; }
  int parity_shards() const { return parity_shards_; }
  size_t header_offset() const { return header_offset_; }
  const FecEncoderCounters& counters() const { return counters_; }
  // Pool bytes held now (blocks by capacity, with the pointer table): 0
  // whenever no group is being filled.
  size_t held_bytes() const;

 private:
  friend class internal::FecEncoderPeer;
  FecEncoder(const FecEncoderOptions& options, std::unique_ptr<ShardPool> own_pool, ShardPool* pool,
             ReedSolomon* rs);
  void Advance(uint32_t n) { next_ = static_cast<uint32_t>((uint64_t{next_} + n) % paws_); }
  int EmitParity(ParitySink& sink);
  // Returns the group's blocks and table to the pool (and a private pool's
  // memory to the allocator).
  void ReleaseGroup();
  void ReleaseAll();
  size_t table_bytes() const { return size_t(data_shards_) * (sizeof(uint8_t*) + 2); }
  uint16_t* shard_lengths() const { return reinterpret_cast<uint16_t*>(shards_ + data_shards_); }

  int data_shards_;
  int parity_shards_;
  int send_parity_;
  size_t header_offset_;
  size_t max_packet_size_;
  ParityPolicy policy_;
  uint32_t idle_threshold_ms_;
  uint32_t paws_;
  std::unique_ptr<ShardPool> own_pool_;  // null when given a pool
  ShardPool* pool_;
  ReedSolomon* rs_;  // the pool's codec for (data_shards, parity_shards)

  uint32_t next_ = 0;
  int shard_count_ = 0;
  size_t max_size_ = 0;  // longest packet of the current group (with header_offset)
  bool have_last_time_ = false;
  uint32_t last_data_ms_ = 0;
  // While a group is being filled: a pool block of data_shards pointers to
  // the shard blocks (each holding `size|KCP bytes`), then their lengths.
  uint8_t** shards_ = nullptr;
  size_t min_capacity_ = SIZE_MAX;  // smallest block of the group
  FecEncoderCounters counters_;
};

}  // namespace kcpp::fec

#endif  // KCPP_FEC_FEC_ENCODER_H_
