#include "tunnel/tunnel_grpc_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kcpd/internal/api_errors.h"

namespace kcpp::service::tunnel {
namespace {

constexpr absl::string_view kPrefix = "tunnels/";

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // A setting kcpd does not implement is a bad argument to this API.
  const absl::StatusCode code =
      s.code() == absl::StatusCode::kUnimplemented ? absl::StatusCode::kInvalidArgument : s.code();
  // The same google.rpc error details as kcpd's own service (AIP-193).
  absl::Status mapped(code, s.message());
  s.ForEachPayload([&mapped](absl::string_view url, const absl::Cord& payload) {
    mapped.SetPayload(url, payload);
  });
  return kcpp::service::internal::ToGrpcStatus(mapped);
}

absl::StatusOr<std::string> TunnelId(absl::string_view name) {
  if (!absl::StartsWith(name, kPrefix) || name.size() == kPrefix.size()) {
    return kcpp::service::internal::InvalidFieldError(
        "name", absl::StrCat("must be \"tunnels/{tunnel}\", got \"", name, "\""),
        kcpp::service::internal::kReasonInvalidResourceName);
  }
  return std::string(name.substr(kPrefix.size()));
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

void SetCounters(const transport::Counters& c, kcpp::v1::Counters* out) {
  out->set_bytes_sent(c.bytes_sent);
  out->set_bytes_received(c.bytes_received);
  out->set_packets_sent(c.packets_sent);
  out->set_packets_received(c.packets_received);
  out->set_wire_bytes_sent(c.wire_bytes_sent);
  out->set_wire_bytes_received(c.wire_bytes_received);
  out->set_segments_sent(c.segments_sent);
  out->set_segments_received(c.segments_received);
  out->set_retransmitted_segments(c.retransmitted_segments);
  out->set_fast_retransmitted_segments(c.fast_retransmitted_segments);
  out->set_early_retransmitted_segments(c.early_retransmitted_segments);
  out->set_lost_segments(c.lost_segments);
  out->set_late_acknowledged_segments(c.late_acknowledged_segments);
  out->set_repeat_segments(c.repeat_segments);
  out->set_fec_recovered(c.fec_recovered);
  out->set_fec_errors(c.fec_errors);
  out->set_fec_parity_shards(c.fec_parity_shards);
  out->set_checksum_errors(c.checksum_errors);
  out->set_input_errors(c.input_errors);
}

}  // namespace

absl::StatusOr<KcptunConfig> KcptunConfigFromProto(const kcpp::v1::KcptunConfig& config,
                                                   std::vector<std::string>* warnings) {
  TunnelRole role;
  switch (config.role()) {
    case kcpp::v1::TUNNEL_ROLE_CLIENT:
      role = TunnelRole::kClient;
      break;
    case kcpp::v1::TUNNEL_ROLE_SERVER:
      role = TunnelRole::kServer;
      break;
    default:
      return absl::InvalidArgumentError(
          "config.role must be TUNNEL_ROLE_CLIENT or TUNNEL_ROLE_SERVER");
  }
  KcptunConfig c = DefaultKcptunConfig(role);
  const std::vector<std::string> args(config.args().begin(), config.args().end());
  absl::StatusOr<KcptunFlags> flags = ApplyKcptunFlags(args, std::nullopt, &c);
  if (!flags.ok()) return absl::InvalidArgumentError(flags.status().message());
  if (!flags->json_path.empty()) {
    return absl::InvalidArgumentError(
        "config.args: -c is read by the caller; send the file's text in config.json");
  }
  if (flags->help || flags->version) {
    return absl::InvalidArgumentError("config.args: -h / -v are not settings");
  }
  for (const std::string& a : flags->ignored_args) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.args: unexpected argument \"", a, "\" (flags only)"));
  }
  if (!config.json().empty()) {
    if (absl::Status s = ApplyKcptunJson(config.json(), &c); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: ", s.message()));
    }
  }
  if (absl::Status s = FinishKcptunConfig(&c, warnings); !s.ok()) return s;
  return c;
}

kcpp::v1::Tunnel TunnelToProto(const TunnelSnapshot& t) {
  kcpp::v1::Tunnel out;
  out.set_name(absl::StrCat(kPrefix, t.id));
  out.set_role(t.config.role == TunnelRole::kClient ? kcpp::v1::TUNNEL_ROLE_CLIENT
                                                    : kcpp::v1::TUNNEL_ROLE_SERVER);
  for (const std::string& a : t.listen_addresses) out.add_listen_addresses(a);
  for (const std::string& a : t.remote_addresses) out.add_remote_addresses(a);
  for (const auto& [name, value] : DescribeKcptunConfig(t.config)) {
    kcpp::v1::KcptunSetting* s = out.add_settings();
    s->set_name(name);
    s->set_value(value);
  }
  const absl::Duration since_epoch = t.create_time - absl::UnixEpoch();
  out.mutable_create_time()->set_seconds(absl::ToInt64Seconds(since_epoch));
  out.mutable_create_time()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch) % 1000000000));
  kcpp::v1::TunnelCounters* c = out.mutable_counters();
  c->set_tcp_accepted(t.counters.tcp_accepted);
  c->set_tcp_refused(t.counters.tcp_refused);
  c->set_target_connects(t.counters.target_connects);
  c->set_target_connect_failures(t.counters.target_connect_failures);
  c->set_streams_opened(t.counters.streams_opened);
  c->set_streams_closed(t.counters.streams_closed);
  c->set_bytes_to_kcp(t.counters.bytes_to_kcp);
  c->set_bytes_from_kcp(t.counters.bytes_from_kcp);
  c->set_sessions_created(t.counters.sessions_created);
  c->set_sessions_closed(t.counters.sessions_closed);
  c->set_sessions_expired(t.counters.sessions_expired);
  c->set_sessions_dead(t.counters.sessions_dead);
  for (const TunnelSessionInfo& s : t.sessions) {
    kcpp::v1::TunnelSession* o = out.add_sessions();
    o->set_number(s.number);
    o->set_conv(s.session.conv);
    o->set_local_address(s.session.local_address.ToString());
    o->set_remote_address(s.session.remote_address.ToString());
    o->set_rtt_ms(s.session.srtt_ms);
    o->set_rto_ms(s.session.rto_ms);
    o->set_streams(s.streams);
    o->set_expired(s.expired);
    SetDuration(s.age, o->mutable_age());
    SetCounters(s.session.counters, o->mutable_counters());
    o->set_smux_bytes_sent(s.smux_bytes_sent);
    o->set_smux_bytes_received(s.smux_bytes_received);
    o->set_send_window(s.session.send_window);
    o->set_remote_window(s.session.remote_window);
    o->set_segments_waiting(s.session.segments_waiting);
    o->set_fec_parity_sending(static_cast<uint32_t>(std::max(0, s.session.fec_parity_sending)));
    // -1 (no adaptive parity, or no window measured yet): left unset.
    if (s.session.fec_loss_estimate >= 0) o->set_fec_loss_estimate(s.session.fec_loss_estimate);
  }
  for (const TunnelStreamInfo& s : t.streams) {
    kcpp::v1::TunnelStream* o = out.add_streams();
    o->set_name(
        absl::StrCat(kPrefix, t.id, "/sessions/", s.session_number, "/streams/", s.stream_id));
    o->set_tcp_peer(s.tcp_peer);
    o->set_bytes_to_kcp(s.bytes_to_kcp);
    o->set_bytes_from_kcp(s.bytes_from_kcp);
    o->set_connecting(s.connecting);
    o->set_tcp_eof(s.tcp_eof);
    o->set_stream_fin(s.stream_fin);
    SetDuration(s.age, o->mutable_age());
  }
  return out;
}

grpc::Status TunnelGrpcService::CreateTunnel(grpc::ServerContext*,
                                             const kcpp::v1::CreateTunnelRequest* request,
                                             kcpp::v1::Tunnel* response) {
  std::vector<std::string> warnings;
  absl::StatusOr<KcptunConfig> config = KcptunConfigFromProto(request->config(), &warnings);
  if (!config.ok()) return ToGrpc(config.status());
  absl::StatusOr<TunnelSnapshot> t = manager_->CreateTunnel(request->tunnel_id(), *config);
  if (!t.ok()) return ToGrpc(t.status());
  *response = TunnelToProto(*t);
  for (const std::string& w : warnings) response->add_warnings(w);
  return grpc::Status::OK;
}

grpc::Status TunnelGrpcService::GetTunnel(grpc::ServerContext*,
                                          const kcpp::v1::GetTunnelRequest* request,
                                          kcpp::v1::Tunnel* response) {
  absl::StatusOr<std::string> id = TunnelId(request->name());
  if (!id.ok()) return ToGrpc(id.status());
  absl::StatusOr<TunnelSnapshot> t =
      manager_->GetTunnel(*id, request->view() == kcpp::v1::TUNNEL_VIEW_FULL);
  if (!t.ok()) return ToGrpc(t.status());
  *response = TunnelToProto(*t);
  return grpc::Status::OK;
}

grpc::Status TunnelGrpcService::ListTunnels(grpc::ServerContext*,
                                            const kcpp::v1::ListTunnelsRequest* request,
                                            kcpp::v1::ListTunnelsResponse* response) {
  for (const TunnelSnapshot& t :
       manager_->ListTunnels(request->view() == kcpp::v1::TUNNEL_VIEW_FULL)) {
    *response->add_tunnels() = TunnelToProto(t);
  }
  return grpc::Status::OK;
}

grpc::Status TunnelGrpcService::DeleteTunnel(grpc::ServerContext*,
                                             const kcpp::v1::DeleteTunnelRequest* request,
                                             google::protobuf::Empty*) {
  absl::StatusOr<std::string> id = TunnelId(request->name());
  if (!id.ok()) return ToGrpc(id.status());
  return ToGrpc(manager_->DeleteTunnel(*id));
}

}  // namespace kcpp::service::tunnel
