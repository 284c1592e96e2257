#include "kcpd/internal/backend_state.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "kcpd/internal/proto_time.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/internal/resource_names.h"

namespace kcpp::service::internal {

using kcpp::v1::SessionEvent;

void CountersToProto(const transport::Counters& c, kcpp::v1::Counters* p) {
  p->set_packets_sent(c.packets_sent);
  p->set_packets_received(c.packets_received);
  p->set_wire_bytes_sent(c.wire_bytes_sent);
  p->set_wire_bytes_received(c.wire_bytes_received);
  p->set_segments_sent(c.segments_sent);
  p->set_segments_received(c.segments_received);
  p->set_retransmitted_segments(c.retransmitted_segments);
  p->set_fast_retransmitted_segments(c.fast_retransmitted_segments);
  p->set_early_retransmitted_segments(c.early_retransmitted_segments);
  p->set_lost_segments(c.lost_segments);
  p->set_late_acknowledged_segments(c.late_acknowledged_segments);
  p->set_repeat_segments(c.repeat_segments);
  p->set_fec_recovered(c.fec_recovered);
  p->set_fec_errors(c.fec_errors);
  p->set_fec_parity_shards(c.fec_parity_shards);
  p->set_checksum_errors(c.checksum_errors);
  p->set_input_errors(c.input_errors + c.kcp_input_errors);
}

void OobCountsToProto(const OobPort::Counts& c, kcpp::v1::OobCounters* p) {
  p->set_datagrams_sent(c.sent);
  p->set_datagrams_received(c.received);
  p->set_dropped_unattached(c.dropped_unattached);
  p->set_dropped_reader_full(c.dropped_reader_full);
  p->set_dropped_too_large(c.dropped_too_large);
  p->set_dropped_refused(c.dropped_refused);
}

std::shared_ptr<SessionRecord> BackendState::FindSession(uint64_t id) {
  auto it = sessions.find(id);
  return it == sessions.end() ? nullptr : it->second;
}

kcpp::v1::Stream BackendState::StreamProto(const SessionRecord& s, const StreamRecord& st) {
  kcpp::v1::Stream p;
  p.set_name(StreamName({s.id, st.id}));
  p.set_state(st.state);
  p.set_accepted(st.accepted);
  p.set_bytes_sent(st.counters->sent.load(std::memory_order_relaxed));
  p.set_bytes_received(st.counters->received.load(std::memory_order_relaxed));
  TimeToProto(st.create_time, p.mutable_create_time());
  return p;
}

kcpp::v1::Session BackendState::SessionProto(const SessionRecord& s, bool with_streams,
                                             const transport::SessionInfo* info) const {
  kcpp::v1::Session p;
  p.set_name(SessionName(s.id));
  if (!s.listener_id.empty()) p.set_listener(ListenerName(s.listener_id));
  p.set_local_address(s.local.ToString());
  p.set_remote_address(s.remote.ToString());
  p.set_conv(s.conv);
  p.set_state(s.state);
  SessionConfigToProto(s.config, p.mutable_options());
  if (info != nullptr) {
    CountersToProto(info->counters, p.mutable_counters());
    p.set_rtt_ms(info->srtt_ms);
    p.set_rto_ms(info->rto_ms);
    p.set_fec_parity_sending(static_cast<uint32_t>(std::max(0, info->fec_parity_sending)));
    // The transport's -1 (no adaptive parity, or no window measured yet)
    // is the field left unset.
    if (info->fec_loss_estimate >= 0) p.set_fec_loss_estimate(info->fec_loss_estimate);
  }
  // Application bytes: what the streams' applications wrote and read (the
  // KCP payload also carries smux and snappy framing).
  uint64_t sent = s.gone_bytes_sent;
  uint64_t received = s.gone_bytes_received;
  for (const auto& [id, st] : s.streams) {
    sent += st.counters->sent.load(std::memory_order_relaxed);
    received += st.counters->received.load(std::memory_order_relaxed);
    if (with_streams) *p.add_streams() = StreamProto(s, st);
  }
  p.mutable_counters()->set_bytes_sent(sent);
  p.mutable_counters()->set_bytes_received(received);
  TimeToProto(s.create_time, p.mutable_create_time());
  p.set_stream_count(static_cast<uint32_t>(s.streams.size()));
  p.set_oob_max_datagram_size(static_cast<uint32_t>(s.oob->max_size()));
  p.set_oob_attached(s.oob->attached());
  OobCountsToProto(s.oob->counts(), p.mutable_oob());
  return p;
}

kcpp::v1::Listener BackendState::ListenerProto(const ListenerRecord& l) const {
  kcpp::v1::Listener p;
  p.set_name(ListenerName(l.id));
  p.set_address(l.config.address.ToString());
  p.set_bound_address(l.bound.ToString());
  SessionConfigToProto(l.config.session, p.mutable_session_options());
  p.set_accept_backlog(static_cast<uint32_t>(l.config.transport.accept_backlog));
  p.set_max_sessions(static_cast<uint32_t>(l.config.transport.max_sessions));
  TimeToProto(l.create_time, p.mutable_create_time());
  p.set_sessions_accepted(l.accepted);
  uint32_t active = 0;
  for (const auto& [id, s] : sessions) {
    if (s->listener_id == l.id) ++active;
  }
  p.set_active_sessions(active);
  if (l.listener != nullptr) {
    const transport::ListenerStats st = l.listener->GetStats();
    p.set_datagrams_dropped(st.dropped_checksum + st.dropped_no_conv + st.dropped_mid_conversation +
                            st.dropped_conv_mismatch + st.dropped_backlog_full +
                            st.dropped_session_limit + st.dropped_truncated);
  }
  return p;
}

void BackendState::Emit(SessionEvent::Type type, const SessionRecord& s, const StreamRecord* st,
                        absl::string_view reason, const transport::SessionInfo* info) {
  if (sink == nullptr) return;
  SessionEvent e;
  e.set_type(type);
  *e.mutable_session() = SessionProto(s, /*with_streams=*/false, info);
  if (type == SessionEvent::SESSION_CLOSED || type == SessionEvent::SESSION_CLOSED_BY_PEER) {
    e.mutable_session()->set_state(kcpp::v1::Session::CLOSED);
  }
  if (type == SessionEvent::SESSION_PEER_DEAD) {
    e.mutable_session()->set_state(kcpp::v1::Session::PEER_DEAD);
  }
  if (st != nullptr) {
    *e.mutable_stream() = StreamProto(s, *st);
    if (type == SessionEvent::STREAM_CLOSED)
      e.mutable_stream()->set_state(kcpp::v1::Stream::CLOSED);
  }
  TimeToProto(absl::Now(), e.mutable_time());
  e.set_reason(std::string(reason));
  sink->OnEvent(e);
}

void BackendState::EndStream(SessionRecord& s, uint32_t stream_id, absl::string_view reason) {
  auto it = s.streams.find(stream_id);
  if (it == s.streams.end()) return;
  Emit(SessionEvent::STREAM_CLOSED, s, &it->second, reason);
  const uint64_t sent = it->second.counters->sent.load(std::memory_order_relaxed);
  const uint64_t received = it->second.counters->received.load(std::memory_order_relaxed);
  s.gone_bytes_sent += sent;
  s.gone_bytes_received += received;
  s.streams.erase(it);
}

void BackendState::EndSession(uint64_t session_id, SessionEnd end, absl::string_view reason,
                              const transport::SessionInfo* info) {
  auto it = sessions.find(session_id);
  if (it == sessions.end()) return;
  SessionRecord& s = *it->second;
  while (!s.streams.empty()) EndStream(s, s.streams.begin()->first, reason);
  Emit(end == SessionEnd::kPeerDead       ? SessionEvent::SESSION_PEER_DEAD
       : end == SessionEnd::kClosedByPeer ? SessionEvent::SESSION_CLOSED_BY_PEER
                                          : SessionEvent::SESSION_CLOSED,
       s, nullptr, reason, info);
  ++sessions_closed;
  if (end == SessionEnd::kPeerDead) ++peers_dead;
  gone_bytes_sent += s.gone_bytes_sent;
  gone_bytes_received += s.gone_bytes_received;
  gone_oob += s.oob->counts();
  sessions.erase(it);
  session_ended.notify_all();
}

}  // namespace kcpp::service::internal
