#include "kcpctl/kcpctl_tunnels.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "proto/kcpp/v1/tunnel.grpc.pb.h"
#include "tunnel/kcptun_config.h"

namespace kcpp::service::tunnel {

const char kKcpctlTunnelsUsage[] =
    R"(  tunnels list [--full] | get T [--full] | delete T
  tunnels create [ID] client|server -- [kcptun-client|-server flags, -c FILE]
                                kcptun-compatible tunnels (docs/tunnel.md)
)";

namespace {

// kcpctl's exit codes (docs/kcpd.md).
int ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 0;
    case grpc::StatusCode::NOT_FOUND:
      return 2;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 3;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return 4;
    case grpc::StatusCode::UNAVAILABLE:
      return 5;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 6;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      return 7;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 8;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return 9;
    default:
      return 10;
  }
}

int Usage(const std::string& message) {
  std::cerr << "kcpctl: " << message << " (kcpctl help)\n";
  return 1;
}

int Failed(const grpc::Status& s) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int code = static_cast<int>(s.error_code());
  std::cerr << "kcpctl: " << (code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN") << ": "
            << s.error_message() << "\n";
  return ExitCodeFor(s.error_code());
}

std::string Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

std::string Bytes(uint64_t b) {
  if (b < 1024) return absl::StrCat(b, " B");
  if (b < (1 << 20)) return absl::StrFormat("%.1f KiB", b / 1024.0);
  if (b < (1ull << 30)) return absl::StrFormat("%.1f MiB", b / 1048576.0);
  return absl::StrFormat("%.2f GiB", b / 1073741824.0);
}

std::string Seconds(const google::protobuf::Duration& d) {
  return absl::StrFormat("%.1fs", d.seconds() + d.nanos() / 1e9);
}

const char* RoleName(kcpp::v1::TunnelRole r) {
  return r == kcpp::v1::TUNNEL_ROLE_CLIENT   ? "client"
         : r == kcpp::v1::TUNNEL_ROLE_SERVER ? "server"
                                             : "?";
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::string out;
  for (const std::string& s : v) absl::StrAppend(&out, out.empty() ? "" : ",", s);
  return out;
}

std::string Table(const kcpp::v1::ListTunnelsResponse& r) {
  std::string out = absl::StrFormat("%-16s %-6s %-22s %-22s %5s %8s %10s %10s\n", "TUNNEL", "ROLE",
                                    "LISTEN", "REMOTE", "KCP", "STREAMS", "TO KCP", "FROM KCP");
  for (const kcpp::v1::Tunnel& t : r.tunnels()) {
    const auto& c = t.counters();
    absl::StrAppend(
        &out,
        absl::StrFormat("%-16s %-6s %-22s %-22s %5d %8d %10s %10s\n", t.name().substr(8),
                        RoleName(t.role()), Join(t.listen_addresses()), Join(t.remote_addresses()),
                        t.sessions_size(), c.streams_opened() - c.streams_closed(),
                        Bytes(c.bytes_to_kcp()), Bytes(c.bytes_from_kcp())));
  }
  return out;
}

std::string Describe(const kcpp::v1::Tunnel& t) {
  const auto& c = t.counters();
  std::string out = absl::StrCat(
      t.name(), "  (", RoleName(t.role()), ")\n  listen    ", Join(t.listen_addresses()),
      "\n  remote    ", Join(t.remote_addresses()), "\n  streams   ", c.streams_opened(),
      " opened, ", c.streams_closed(), " closed",
      t.role() == kcpp::v1::TUNNEL_ROLE_CLIENT
          ? absl::StrCat(" (TCP accepted ", c.tcp_accepted(), ", refused ", c.tcp_refused(), ")")
          : absl::StrCat(" (target connects ", c.target_connects(), ", failed ",
                         c.target_connect_failures(), ")"),
      "\n  bytes     ", Bytes(c.bytes_to_kcp()), " to KCP, ", Bytes(c.bytes_from_kcp()),
      " from KCP\n  sessions  ", c.sessions_created(), " created, ", c.sessions_closed(),
      " closed, ", c.sessions_expired(), " expired, ", c.sessions_dead(), " dead\n  settings ");
  for (const kcpp::v1::KcptunSetting& s : t.settings()) {
    absl::StrAppend(&out, " ", s.name(), "=", s.value());
  }
  absl::StrAppend(&out, "\n");
  for (const std::string& w : t.warnings()) absl::StrAppend(&out, "  warning: ", w, "\n");
  if (t.sessions_size() > 0) {
    absl::StrAppend(
        &out, absl::StrFormat("\n  %-4s %-10s %-22s %7s %7s %10s %10s %8s %s\n", "KCP", "CONV",
                              "REMOTE", "STREAMS", "RTT", "SENT", "RECEIVED", "RETRANS", "AGE"));
    for (const kcpp::v1::TunnelSession& s : t.sessions()) {
      absl::StrAppend(&out, absl::StrFormat("  %-4d %-10u %-22s %7u %5ums %10s %10s %8u %s%s\n",
                                            s.number(), s.conv(), s.remote_address(), s.streams(),
                                            s.rtt_ms(), Bytes(s.counters().bytes_sent()),
                                            Bytes(s.counters().bytes_received()),
                                            s.counters().retransmitted_segments(), Seconds(s.age()),
                                            s.expired() ? " expired" : ""));
    }
  }
  if (t.streams_size() > 0) {
    absl::StrAppend(&out, absl::StrFormat("\n  %-40s %-22s %10s %10s %s\n", "STREAM", "TCP PEER",
                                          "TO KCP", "FROM KCP", "STATE"));
    for (const kcpp::v1::TunnelStream& s : t.streams()) {
      std::string state = s.connecting() ? "connecting" : "open";
      if (s.tcp_eof()) state += ", tcp eof";
      if (s.stream_fin()) state += ", peer fin";
      absl::StrAppend(&out,
                      absl::StrFormat("  %-40s %-22s %10s %10s %s\n", s.name(), s.tcp_peer(),
                                      Bytes(s.bytes_to_kcp()), Bytes(s.bytes_from_kcp()), state));
    }
  }
  return out;
}

std::string Qualify(const std::string& name) {
  return absl::StartsWith(name, "tunnels/") ? name : "tunnels/" + name;
}

}  // namespace

int RunKcpctlTunnels(const std::vector<std::string>& w, const KcpctlTunnelOptions& o) {
  if (w.size() < 2) return Usage("tunnels needs list, get, create or delete");
  auto stub = kcpp::v1::KcpdTunnels::NewStub(
      grpc::CreateChannel("unix:" + o.socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + o.timeout));
  const kcpp::v1::TunnelView view =
      o.full ? kcpp::v1::TUNNEL_VIEW_FULL : kcpp::v1::TUNNEL_VIEW_BASIC;
  const std::string& verb = w[1];
  if (verb == "list" && w.size() == 2) {
    kcpp::v1::ListTunnelsRequest request;
    request.set_view(view);
    kcpp::v1::ListTunnelsResponse response;
    grpc::Status s = stub->ListTunnels(&context, request, &response);
    if (!s.ok()) return Failed(s);
    std::cout << (o.json ? Json(response) : Table(response));
    return 0;
  }
  if (verb == "get" && w.size() == 3) {
    kcpp::v1::GetTunnelRequest request;
    request.set_name(Qualify(w[2]));
    request.set_view(view);
    kcpp::v1::Tunnel response;
    grpc::Status s = stub->GetTunnel(&context, request, &response);
    if (!s.ok()) return Failed(s);
    std::cout << (o.json ? Json(response) : Describe(response));
    return 0;
  }
  if (verb == "delete" && w.size() == 3) {
    kcpp::v1::DeleteTunnelRequest request;
    request.set_name(Qualify(w[2]));
    google::protobuf::Empty response;
    grpc::Status s = stub->DeleteTunnel(&context, request, &response);
    if (!s.ok()) return Failed(s);
    if (!o.json) std::cout << "deleted " << request.name() << "\n";
    return 0;
  }
  if (verb == "create") {
    size_t i = 2;
    kcpp::v1::CreateTunnelRequest request;
    if (i < w.size() && w[i] != "client" && w[i] != "server") request.set_tunnel_id(w[i++]);
    if (i >= w.size() || (w[i] != "client" && w[i] != "server")) {
      return Usage("tunnels create needs [ID] client|server -- [kcptun flags]");
    }
    const TunnelRole role = w[i] == "client" ? TunnelRole::kClient : TunnelRole::kServer;
    request.mutable_config()->set_role(role == TunnelRole::kClient ? kcpp::v1::TUNNEL_ROLE_CLIENT
                                                                   : kcpp::v1::TUNNEL_ROLE_SERVER);
    std::vector<std::string> args(w.begin() + i + 1, w.end());
    // Check the flags here (usage errors never reach kcpd) and lift out -c.
    KcptunConfig scratch = DefaultKcptunConfig(role);
    absl::StatusOr<KcptunFlags> flags = ApplyKcptunFlags(args, std::nullopt, &scratch);
    if (!flags.ok()) return Usage(std::string(flags.status().message()));
    if (flags->help) {
      std::cout << KcptunUsage(role);
      return 0;
    }
    if (!flags->json_path.empty()) {
      absl::StatusOr<std::string> text = ReadSmallFile(flags->json_path, 1 << 20);
      if (!text.ok()) return Usage(std::string(text.status().message()));
      request.mutable_config()->set_json(*text);
      args.erase(args.begin() + flags->json_flag_index,
                 args.begin() + flags->json_flag_index + flags->json_flag_count);
    }
    for (const std::string& a : args) request.mutable_config()->add_args(a);
    kcpp::v1::Tunnel response;
    grpc::Status s = stub->CreateTunnel(&context, request, &response);
    if (!s.ok()) return Failed(s);
    std::cout << (o.json ? Json(response) : Describe(response));
    return 0;
  }
  return Usage(absl::StrCat("bad arguments for tunnels ", verb));
}

}  // namespace kcpp::service::tunnel
