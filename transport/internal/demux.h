// Listener demultiplexing, exactly as kcp-go (docs/protocol.md §5.2), as pure
// logic: which session a datagram belongs to and whether it may create one.
//
// Identify() reads the conversation id and sequence number of a datagram
// *after* the crypt layer (so from the FEC header, or the KCP header when FEC
// is off). DemuxTable decides, per datagram: feed an existing session,
// replace it (a new conv with sn == 0 from the same address: the peer
// restarted), create one, or drop, and bounds how many sessions and how many
// not-yet-accepted sessions forged packets can make a listener hold.
#ifndef KCPP_TRANSPORT_INTERNAL_DEMUX_H_
#define KCPP_TRANSPORT_INTERNAL_DEMUX_H_

#include <cstddef>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "transport/socket_address.h"

namespace kcpp::transport::internal {

// FEC packet type flags at offset 4 of the FEC header (§4.1, §4.8).
inline constexpr uint16_t kFecTypeData = 0xF1;
inline constexpr uint16_t kFecTypeParity = 0xF2;
inline constexpr uint16_t kFecTypeOob = 0xF3;
inline constexpr size_t kKcpHeaderBytes = 24;
inline constexpr size_t kFecHeaderBytes = 8;
inline constexpr uint8_t kKcpCmdPush = 81;

struct PacketIdentity {
  bool has_conv = false;
  uint32_t conv = 0;
  bool has_sn = false;
  uint32_t sn = 0;
  uint8_t cmd = 0;   // the first KCP segment's command (81 PUSH .. 84 WINS), when has_sn
  uint32_t una = 0;  // the first KCP segment's una, when has_sn

  // The first datagram of a new conversation: a PUSH of sn 0 (kcp-go's
  // replacement rule, §5.2).
  bool StartsConversation() const { return has_sn && sn == 0 && cmd == kKcpCmdPush; }
  // May be a new conversation: a PUSH from a peer that has received nothing
  // yet (una 0) — its first datagram, or a later one when that was lost.
  bool MayStartConversation() const { return has_sn && una == 0 && cmd == kKcpCmdPush; }
};

// `payload`: a decrypted datagram without its crypt header.
inline PacketIdentity Identify(absl::Span<const uint8_t> payload) {
  auto u16 = [&](size_t at) { return static_cast<uint16_t>(payload[at] | (payload[at + 1] << 8)); };
  auto u32 = [&](size_t at) {
    return static_cast<uint32_t>(payload[at]) | (static_cast<uint32_t>(payload[at + 1]) << 8) |
           (static_cast<uint32_t>(payload[at + 2]) << 16) |
           (static_cast<uint32_t>(payload[at + 3]) << 24);
  };
  PacketIdentity id;
  if (payload.size() >= 6) {
    const uint16_t flag = u16(4);
    if (flag == kFecTypeData) {
      // seqid u32 | flag u16 | size u16 | KCP header...
      if (payload.size() >= kFecHeaderBytes + kKcpHeaderBytes) {
        id.has_conv = id.has_sn = true;
        id.conv = u32(kFecHeaderBytes);
        id.cmd = payload[kFecHeaderBytes + 4];
        id.sn = u32(kFecHeaderBytes + 12);
        id.una = u32(kFecHeaderBytes + 16);
      }
      return id;
    }
    if (flag == kFecTypeParity) return id;  // parity carries no conv
    if (flag == kFecTypeOob) {
      if (payload.size() >= kFecHeaderBytes + 4) {
        id.has_conv = true;
        id.conv = u32(kFecHeaderBytes);
      }
      return id;
    }
  }
  if (payload.size() >= kKcpHeaderBytes) {
    id.has_conv = id.has_sn = true;
    id.conv = u32(0);
    id.cmd = payload[4];
    id.sn = u32(12);
    id.una = u32(16);
  }
  return id;
}

// What to do with one datagram.
enum class DemuxAction {
  kFeed,                 // deliver to the existing session
  kReplace,              // close the existing session, then create a new one and feed it
  kCreate,               // create a session and feed it
  kDropNoConv,           // unknown address and nothing identifies a session (parity first, garbage)
  kDropMidConversation,  // unknown address, a conv, but not a PUSH with una 0
  kDropConvMismatch,  // known address, other conv, not a conversation's first PUSH (§5.2 step 5)
  kDropBacklogFull,   // too many sessions waiting to be accepted
  kDropSessionLimit,  // the listener holds its maximum number of sessions
};

// Per-listener table: remote address -> session. `Session` is whatever the
// caller stores (a pointer or id). Not thread-safe (one event loop).
template <typename Session>
class DemuxTable {
 public:
  struct Limits {
    size_t max_sessions = 65536;  // sessions alive in this table
    size_t accept_backlog = 128;  // created but not yet accepted (kcp-go acceptBacklog)
  };

  explicit DemuxTable(Limits limits) : limits_(limits) {}

  // Decides, without changing the table.
  DemuxAction Decide(const SocketAddress& from, const PacketIdentity& id,
                     size_t pending_accept) const {
    auto it = sessions_.find(from);
    if (it != sessions_.end()) {
      if (!id.has_conv || id.conv == it->second.conv) return DemuxAction::kFeed;
      if (!id.StartsConversation()) return DemuxAction::kDropConvMismatch;
      // The replacement waits for Accept like any new session; while the
      // backlog is full the old session stays (kcp-go closes it first).
      if (pending_accept >= limits_.accept_backlog) return DemuxAction::kDropBacklogFull;
      return DemuxAction::kReplace;
    }
    if (!id.has_conv) return DemuxAction::kDropNoConv;
    // Only a peer that has received nothing yet (a PUSH with una 0) makes a
    // session. kcp-go makes one from any datagram with a conv (§5.2), which
    // strands a peer whose old session ended here: the new one acknowledges
    // its retransmissions (they are inside its window) but can never deliver
    // them (its rcv_nxt is 0), so the peer neither progresses nor reaches
    // dead link. una 0 rather than sn 0, so a lost first datagram does not
    // keep a new client out until that one is retransmitted first.
    if (!id.MayStartConversation()) return DemuxAction::kDropMidConversation;
    if (pending_accept >= limits_.accept_backlog) return DemuxAction::kDropBacklogFull;
    if (sessions_.size() >= limits_.max_sessions) return DemuxAction::kDropSessionLimit;
    return DemuxAction::kCreate;
  }

  Session* Find(const SocketAddress& from) {
    auto it = sessions_.find(from);
    return it == sessions_.end() ? nullptr : &it->second.session;
  }
  void Insert(const SocketAddress& from, uint32_t conv, Session session) {
    sessions_.insert_or_assign(from, Entry{conv, std::move(session)});
  }
  // Forgets `from` (local close: late retransmissions then create a new
  // session, as in kcp-go).
  void Erase(const SocketAddress& from) { sessions_.erase(from); }
  size_t size() const { return sessions_.size(); }
  const Limits& limits() const { return limits_; }

  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (auto& [addr, entry] : sessions_) fn(addr, entry.session);
  }

 private:
  struct Entry {
    uint32_t conv;
    Session session;
  };
  Limits limits_;
  absl::flat_hash_map<SocketAddress, Entry> sessions_;
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_DEMUX_H_
