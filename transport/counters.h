// Counters of kcpp sessions: kcp-go's SNMP set (docs/protocol.md §5.9) plus the
// drops kcpp adds, per session and summed per engine.
//
// Values only grow; all are totals since the session (or engine) started.
// Copyable snapshot, no synchronisation inside: obtain one from
// Session::GetInfo() or Engine::GetStats().
#ifndef KCPP_TRANSPORT_COUNTERS_H_
#define KCPP_TRANSPORT_COUNTERS_H_

#include <cstdint>

namespace kcpp::transport {

struct Counters {
  // Application payload bytes written to / read from sessions (kcp-go
  // BytesSent / BytesReceived).
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  // UDP datagrams and their bytes, every header included (OutPkts, InPkts,
  // OutBytes, InBytes).
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t wire_bytes_sent = 0;
  uint64_t wire_bytes_received = 0;
  // KCP segments (OutSegs, InSegs).
  uint64_t segments_sent = 0;
  uint64_t segments_received = 0;
  // Retransmissions: all = lost + fast + early (RetransSegs, LostSegs,
  // FastRetransSegs, EarlyRetransSegs).
  uint64_t retransmitted_segments = 0;
  uint64_t lost_segments = 0;
  uint64_t fast_retransmitted_segments = 0;
  uint64_t early_retransmitted_segments = 0;
  // Segments sent once that the peer acknowledged after a later one: lost
  // and rebuilt by its FEC before any resend (or reordered on the way).
  // With the retransmissions, what adaptive parity measures loss by. kcpp only.
  uint64_t late_acknowledged_segments = 0;
  // Duplicate PUSH segments received in regular datagrams (RepeatSegs).
  uint64_t repeat_segments = 0;
  // FEC (FECRecovered, FECErrs, FECParityShards, FECFullShardSet,
  // FECShortShards).
  uint64_t fec_recovered = 0;
  uint64_t fec_errors = 0;
  uint64_t fec_parity_shards = 0;
  uint64_t fec_full_shard_sets = 0;
  uint64_t fec_short_shards = 0;
  // Parity shards this side sent, and those it computed but withheld
  // (adaptive parity, SessionOptions::fec_adaptive_parity). kcpp only.
  uint64_t fec_parity_sent = 0;
  uint64_t fec_parity_withheld = 0;
  // Datagrams that failed the CRC-32 or AEAD check (InCsumErrors).
  uint64_t checksum_errors = 0;
  // Datagrams rejected before KCP: wrong source, malformed FEC (InErrs).
  uint64_t input_errors = 0;
  // Datagrams KCP's Input refused (KCPInErrors).
  uint64_t kcp_input_errors = 0;
  // Unreliable out-of-band datagrams (kcp-go OOBPackets, §4.8).
  uint64_t oob_packets_sent = 0;
  uint64_t oob_packets_received = 0;
  // Datagrams dropped on the way out because the socket stayed full (KCP
  // retransmits them).
  uint64_t send_drops = 0;
  // Times the peer's address changed and the session followed it
  // (ListenerOptions::follow_address_changes).
  uint64_t address_changes = 0;
  // Authenticated datagrams dropped as replays (SessionOptions::
  // replay_protection): counter already seen, or too far behind the newest.
  uint64_t replays_rejected = 0;
  // Datagrams an accepted session did not send to a peer address that had
  // not yet acknowledged anything: ACKs, window probes and announcements,
  // keepalives (and their FEC parity) beyond one datagram and the bytes
  // received per datagram received from it (SECURITY.md, amplification).
  uint64_t unverified_replies_dropped = 0;

  Counters& operator+=(const Counters& o);
};

inline Counters& Counters::operator+=(const Counters& o) {
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  packets_sent += o.packets_sent;
  packets_received += o.packets_received;
  wire_bytes_sent += o.wire_bytes_sent;
  wire_bytes_received += o.wire_bytes_received;
  segments_sent += o.segments_sent;
  segments_received += o.segments_received;
  retransmitted_segments += o.retransmitted_segments;
  lost_segments += o.lost_segments;
  fast_retransmitted_segments += o.fast_retransmitted_segments;
  early_retransmitted_segments += o.early_retransmitted_segments;
  late_acknowledged_segments += o.late_acknowledged_segments;
  repeat_segments += o.repeat_segments;
  fec_recovered += o.fec_recovered;
  fec_errors += o.fec_errors;
  fec_parity_shards += o.fec_parity_shards;
  fec_full_shard_sets += o.fec_full_shard_sets;
  fec_short_shards += o.fec_short_shards;
  fec_parity_sent += o.fec_parity_sent;
  fec_parity_withheld += o.fec_parity_withheld;
  checksum_errors += o.checksum_errors;
  input_errors += o.input_errors;
  kcp_input_errors += o.kcp_input_errors;
  oob_packets_sent += o.oob_packets_sent;
  oob_packets_received += o.oob_packets_received;
  send_drops += o.send_drops;
  address_changes += o.address_changes;
  replays_rejected += o.replays_rejected;
  unverified_replies_dropped += o.unverified_replies_dropped;
  return *this;
}

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_COUNTERS_H_
