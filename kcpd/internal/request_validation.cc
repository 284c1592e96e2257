#include "kcpd/internal/request_validation.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "kcpd/internal/api_errors.h"
#include "kcpd/internal/proto_time.h"

namespace kcpp::service::internal {
namespace {

using kcpp::v1::Mode;
using kcpp::v1::SessionOptions;

constexpr int kMaxAcceptBacklog = 65535;
constexpr int kMaxListenerSessions = 1 << 20;
// kcpd's default for a listener's live sessions (the transport library's is
// 65536). Anyone whose datagrams pass the cipher (anyone, with crypt none
// or null; replays from new addresses, with any cipher) can fill it, and an
// idle session holds ~5-13 KiB (docs/kcpd.md "Limits"): ~200 MiB per
// listener at most here, against ~850 MiB at 65536.
constexpr int kDefaultListenerSessions = 16384;
// smux buffers: beyond this a single session could pin a large part of the
// machine's memory; kcptun's largest documented setting is 4 MiB.
constexpr int64_t kMaxSmuxBuffer = 256 << 20;

// INVALID_ARGUMENT "<field><message>" with a BadRequest field violation
// (AIP-193). `message` either continues the path (".send_window must be ...")
// or starts the description (" must be ...", ": ..."); the violation's field
// is the whole path.
absl::Status Invalid(absl::string_view field, absl::string_view message) {
  size_t end = 0;
  if (absl::StartsWith(message, ".")) {
    end = message.find_first_of(" :");
    if (end == absl::string_view::npos) end = message.size();
  }
  const std::string path = absl::StrCat(field, message.substr(0, end));
  absl::string_view description = message.substr(end);
  absl::ConsumePrefix(&description, ":");
  return WithFieldViolation(absl::InvalidArgumentError(absl::StrCat(field, message)), path,
                            absl::StripLeadingAsciiWhitespace(description));
}

// An address is printable ASCII without spaces. SocketAddress::Parse reads
// the port with absl::SimpleAtoi, which skips surrounding whitespace, so
// without this "127.0.0.1:0\n" would be taken for "127.0.0.1:0"; and an
// address with a control character in it would reach kcpd's log and the
// answers to other clients as it was sent.
absl::Status CheckAddressCharacters(absl::string_view text, absl::string_view field) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return Invalid(field, absl::StrCat(" must not contain whitespace, control or non-ASCII "
                                         "characters, got \"",
                                         absl::CEscape(text), "\""));
    }
  }
  return absl::OkStatus();
}

// A uint32 proto field that must fit an int before range checks.
absl::Status ToInt(uint64_t value, absl::string_view field, absl::string_view name, int* out) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return Invalid(field, absl::StrCat(".", name, " is out of range: ", value));
  }
  *out = static_cast<int>(value);
  return absl::OkStatus();
}

absl::Status DurationToMs(const google::protobuf::Duration& proto, absl::string_view field,
                          absl::string_view name, int* out) {
  const std::string path = absl::StrCat(field, ".", name);
  KCPP_ASSIGN_OR_RETURN(absl::Duration d, DurationFromProto(proto, path));
  if (d < absl::ZeroDuration() || d > absl::Hours(24 * 24)) {
    return Invalid(path, absl::StrCat(" must be 0..576h, got ", absl::FormatDuration(d)));
  }
  *out = static_cast<int>(absl::ToInt64Milliseconds(d));
  return absl::OkStatus();
}

absl::StatusOr<transport::NoDelay> NoDelayFromProto(const kcpp::v1::NoDelay& p,
                                                    absl::string_view field) {
  transport::NoDelay n;
  KCPP_RETURN_IF_ERROR(ToInt(p.nodelay(), field, "nodelay", &n.nodelay));
  KCPP_RETURN_IF_ERROR(ToInt(p.interval_ms(), field, "interval_ms", &n.interval_ms));
  KCPP_RETURN_IF_ERROR(ToInt(p.resend(), field, "resend", &n.resend));
  n.no_congestion_window = p.no_congestion_window();
  return n;
}

// Mode (+ nodelay for MODE_MANUAL) -> knobs. `has_nodelay` is whether the
// request carries a nodelay message.
absl::StatusOr<transport::NoDelay> NoDelayForMode(Mode mode, bool has_nodelay,
                                                  const kcpp::v1::NoDelay& nodelay,
                                                  absl::string_view field) {
  if (mode != kcpp::v1::MODE_MANUAL && has_nodelay) {
    return Invalid(field,
                   ".nodelay is only used with mode MODE_MANUAL; set mode: MODE_MANUAL or drop "
                   "nodelay");
  }
  switch (mode) {
    case kcpp::v1::MODE_UNSPECIFIED:
      return transport::NoDelay{};
    case kcpp::v1::MODE_NORMAL:
      return transport::NoDelay::Normal();
    case kcpp::v1::MODE_FAST:
      return transport::NoDelay::Fast();
    case kcpp::v1::MODE_FAST2:
      return transport::NoDelay::Fast2();
    case kcpp::v1::MODE_FAST3:
      return transport::NoDelay::Fast3();
    case kcpp::v1::MODE_MANUAL:
      if (!has_nodelay) {
        return Invalid(field,
                       ".mode MODE_MANUAL needs .nodelay (nodelay, interval_ms, resend, "
                       "no_congestion_window)");
      }
      return NoDelayFromProto(nodelay, absl::StrCat(field, ".nodelay"));
    default:
      return Invalid(field, absl::StrCat(".mode has an unknown value ", static_cast<int>(mode)));
  }
}

Mode ModeFor(const transport::NoDelay& n) {
  if (n == transport::NoDelay{}) return kcpp::v1::MODE_UNSPECIFIED;
  if (n == transport::NoDelay::Normal()) return kcpp::v1::MODE_NORMAL;
  if (n == transport::NoDelay::Fast()) return kcpp::v1::MODE_FAST;
  if (n == transport::NoDelay::Fast2()) return kcpp::v1::MODE_FAST2;
  if (n == transport::NoDelay::Fast3()) return kcpp::v1::MODE_FAST3;
  return kcpp::v1::MODE_MANUAL;
}

absl::Status DscpFromProto(uint32_t dscp, absl::string_view field, int* out) {
  if (dscp > 63) {
    return Invalid(field,
                   absl::StrCat(".dscp must be 1..63 (0 leaves the socket alone), got ", dscp));
  }
  *out = dscp == 0 ? -1 : static_cast<int>(dscp);
  return absl::OkStatus();
}

absl::Status WithField(absl::Status status, absl::string_view field) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

absl::StatusOr<smux::Config> SmuxFromProto(const kcpp::v1::SmuxOptions& p,
                                           absl::string_view field) {
  smux::Config s = KcpdSmuxDefaults();
  const std::string path = absl::StrCat(field, ".smux");
  if (p.version() != 0) {
    if (p.version() != 1 && p.version() != 2) {
      return Invalid(
          path, absl::StrCat(".version must be 1 or 2 (and equal the peer's), got ", p.version()));
    }
    s.version = static_cast<int>(p.version());
  }
  absl::Duration interval = absl::Milliseconds(s.keep_alive_interval_ms);
  absl::Duration timeout = absl::Milliseconds(s.keep_alive_timeout_ms);
  if (p.has_keepalive_interval()) {
    KCPP_ASSIGN_OR_RETURN(interval,
                          DurationFromProto(p.keepalive_interval(), path + ".keepalive_interval"));
  }
  if (p.has_keepalive_timeout()) {
    KCPP_ASSIGN_OR_RETURN(timeout,
                          DurationFromProto(p.keepalive_timeout(), path + ".keepalive_timeout"));
  }
  if (interval < absl::Milliseconds(100) || interval > absl::Hours(1)) {
    return Invalid(path, absl::StrCat(".keepalive_interval must be 100ms..1h, got ",
                                      absl::FormatDuration(interval)));
  }
  if (timeout <= interval || timeout > absl::Hours(24)) {
    return Invalid(path,
                   absl::StrCat(".keepalive_timeout must exceed keepalive_interval (",
                                absl::FormatDuration(interval), ") and be at most 24h, got ",
                                absl::FormatDuration(timeout)));
  }
  // smux counts in milliseconds (what the session used before, too).
  s.keep_alive_interval_ms = absl::ToInt64Milliseconds(interval);
  s.keep_alive_timeout_ms = absl::ToInt64Milliseconds(timeout);
  if (p.max_frame_size() != 0) {
    if (p.max_frame_size() > 65535) {
      return Invalid(path,
                     absl::StrCat(".max_frame_size must be 1..65535, got ", p.max_frame_size()));
    }
    s.max_frame_size = static_cast<int>(p.max_frame_size());
  }
  if (p.max_receive_buffer() != 0) {
    if (p.max_receive_buffer() > kMaxSmuxBuffer) {
      return Invalid(path, absl::StrCat(".max_receive_buffer must be at most ", kMaxSmuxBuffer,
                                        " bytes, got ", p.max_receive_buffer()));
    }
    s.max_receive_buffer = static_cast<int>(p.max_receive_buffer());
  }
  if (p.max_stream_buffer() != 0) {
    if (p.max_stream_buffer() > kMaxSmuxBuffer) {
      return Invalid(path, absl::StrCat(".max_stream_buffer must be at most ", kMaxSmuxBuffer,
                                        " bytes, got ", p.max_stream_buffer()));
    }
    s.max_stream_buffer = static_cast<int>(p.max_stream_buffer());
  }
  if (s.max_stream_buffer > s.max_receive_buffer) {
    return Invalid(
        path, absl::StrCat(".max_stream_buffer (", s.max_stream_buffer,
                           ") must not exceed max_receive_buffer (", s.max_receive_buffer, ")"));
  }
  return s;
}

}  // namespace

absl::StatusOr<SessionConfig> SessionConfigFromProto(const SessionOptions& p,
                                                     absl::string_view field) {
  SessionConfig c;
  transport::SessionOptions& t = c.transport;

  t.crypt = p.crypt().empty() ? "null" : p.crypt();
  t.key = p.key();
  KCPP_RETURN_IF_ERROR(ToInt(p.data_shards(), field, "data_shards", &t.data_shards));
  KCPP_RETURN_IF_ERROR(ToInt(p.parity_shards(), field, "parity_shards", &t.parity_shards));
  if (p.mtu() != 0) KCPP_RETURN_IF_ERROR(ToInt(p.mtu(), field, "mtu", &t.mtu));
  if (p.send_window() != 0) {
    KCPP_RETURN_IF_ERROR(ToInt(p.send_window(), field, "send_window", &t.send_window));
  }
  if (p.receive_window() != 0) {
    KCPP_RETURN_IF_ERROR(ToInt(p.receive_window(), field, "receive_window", &t.receive_window));
  }
  KCPP_ASSIGN_OR_RETURN(t.nodelay, NoDelayForMode(p.mode(), p.has_nodelay(), p.nodelay(), field));
  t.stream_mode = p.stream_mode();
  t.ack_nodelay = p.ack_nodelay();
  t.write_delay = p.write_delay();
  KCPP_RETURN_IF_ERROR(DscpFromProto(p.dscp(), field, &t.dscp));
  KCPP_RETURN_IF_ERROR(
      ToInt(p.socket_buffer_bytes(), field, "socket_buffer_bytes", &t.socket_buffer_bytes));
  if (p.rate_limit_bytes_per_second() >
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Invalid(field, absl::StrCat(".rate_limit_bytes_per_second is out of range: ",
                                       p.rate_limit_bytes_per_second()));
  }
  t.rate_limit_bytes_per_second = static_cast<int64_t>(p.rate_limit_bytes_per_second());
  if (p.has_close_linger()) {
    KCPP_RETURN_IF_ERROR(DurationToMs(p.close_linger(), field, "close_linger", &t.close_linger_ms));
  }
  if (p.dead_link() != 0) {
    KCPP_RETURN_IF_ERROR(ToInt(p.dead_link(), field, "dead_link", &t.dead_link));
  }
  if (p.has_idle_timeout()) {
    KCPP_RETURN_IF_ERROR(DurationToMs(p.idle_timeout(), field, "idle_timeout", &t.idle_timeout_ms));
  }
  if (p.has_dead_link_min()) {
    KCPP_RETURN_IF_ERROR(
        DurationToMs(p.dead_link_min(), field, "dead_link_min", &t.dead_link_min_ms));
  }
  switch (p.congestion()) {
    case kcpp::v1::CONGESTION_CONTROL_UNSPECIFIED:
      break;  // the transport's default
    case kcpp::v1::CONGESTION_CONTROL_KCP_GO:
      t.congestion = "kcp-go";
      break;
    case kcpp::v1::CONGESTION_CONTROL_NONE:
      t.congestion = "none";
      break;
    case kcpp::v1::CONGESTION_CONTROL_BBR:
      t.congestion = "bbr";
      break;
    default:
      return Invalid(field, absl::StrCat(".congestion has an unknown value ",
                                         static_cast<int>(p.congestion())));
  }
  t.fec_adaptive_parity = !p.fec_fixed_parity();
  t.replay_protection = p.replay_protection();
  if (p.has_replay_max_skew()) {
    KCPP_RETURN_IF_ERROR(
        DurationToMs(p.replay_max_skew(), field, "replay_max_skew", &t.replay_max_skew_ms));
  }
  t.fec_skip_idle_parity = p.fec_skip_idle_parity();

  switch (p.framing()) {
    case kcpp::v1::FRAMING_UNSPECIFIED:
    case kcpp::v1::FRAMING_SMUX:
      c.framing = Framing::kSmux;
      t.stream_mode = true;  // as kcptun: smux frames ride a byte stream
      break;
    case kcpp::v1::FRAMING_RAW:
      c.framing = Framing::kRaw;
      break;
    default:
      return Invalid(field,
                     absl::StrCat(".framing has an unknown value ", static_cast<int>(p.framing())));
  }
  if (c.framing == Framing::kSmux) {
    KCPP_ASSIGN_OR_RETURN(c.smux, SmuxFromProto(p.smux(), field));
  } else if (p.has_smux()) {
    return Invalid(field, ".smux is only used with framing FRAMING_SMUX");
  }
  switch (p.compression()) {
    case kcpp::v1::COMPRESSION_UNSPECIFIED:
    case kcpp::v1::COMPRESSION_NONE:
      c.compression = Compression::kNone;
      break;
    case kcpp::v1::COMPRESSION_SNAPPY:
      if (c.framing != Framing::kSmux) {
        return Invalid(field, ".compression COMPRESSION_SNAPPY needs framing FRAMING_SMUX");
      }
      c.compression = Compression::kSnappy;
      break;
    default:
      return Invalid(field, absl::StrCat(".compression has an unknown value ",
                                         static_cast<int>(p.compression())));
  }

  KCPP_RETURN_IF_ERROR(WithField(t.Validate(), field));
  if (t.key.empty() && t.crypt != "null" && t.crypt != "none") {
    return Invalid(field, absl::StrCat(".key is required with crypt \"", t.crypt,
                                       "\" (a passphrase, as kcptun's --key)"));
  }
  return c;
}

void SessionConfigToProto(const SessionConfig& c, SessionOptions* p) {
  const transport::SessionOptions& t = c.transport;
  p->Clear();
  p->set_crypt(t.crypt);
  p->set_data_shards(static_cast<uint32_t>(t.data_shards));
  p->set_parity_shards(static_cast<uint32_t>(t.parity_shards));
  p->set_mtu(static_cast<uint32_t>(t.mtu));
  p->set_send_window(static_cast<uint32_t>(t.send_window));
  p->set_receive_window(static_cast<uint32_t>(t.receive_window));
  p->set_mode(ModeFor(t.nodelay));
  if (p->mode() == kcpp::v1::MODE_MANUAL) {
    p->mutable_nodelay()->set_nodelay(static_cast<uint32_t>(t.nodelay.nodelay));
    p->mutable_nodelay()->set_interval_ms(static_cast<uint32_t>(t.nodelay.interval_ms));
    p->mutable_nodelay()->set_resend(static_cast<uint32_t>(t.nodelay.resend));
    p->mutable_nodelay()->set_no_congestion_window(t.nodelay.no_congestion_window);
  }
  p->set_stream_mode(t.stream_mode);
  p->set_ack_nodelay(t.ack_nodelay);
  p->set_write_delay(t.write_delay);
  p->set_dscp(t.dscp < 0 ? 0 : static_cast<uint32_t>(t.dscp));
  p->set_socket_buffer_bytes(static_cast<uint32_t>(t.socket_buffer_bytes));
  p->set_rate_limit_bytes_per_second(static_cast<uint64_t>(t.rate_limit_bytes_per_second));
  p->set_congestion(t.congestion == "bbr"    ? kcpp::v1::CONGESTION_CONTROL_BBR
                    : t.congestion == "none" ? kcpp::v1::CONGESTION_CONTROL_NONE
                                             : kcpp::v1::CONGESTION_CONTROL_KCP_GO);
  p->set_fec_fixed_parity(!t.fec_adaptive_parity);
  p->set_replay_protection(t.replay_protection);
  DurationToProto(absl::Milliseconds(t.replay_max_skew_ms), p->mutable_replay_max_skew());
  p->set_framing(c.framing == Framing::kSmux ? kcpp::v1::FRAMING_SMUX : kcpp::v1::FRAMING_RAW);
  if (c.framing == Framing::kSmux) {
    kcpp::v1::SmuxOptions* s = p->mutable_smux();
    s->set_version(static_cast<uint32_t>(c.smux.version));
    DurationToProto(absl::Milliseconds(c.smux.keep_alive_interval_ms),
                    s->mutable_keepalive_interval());
    DurationToProto(absl::Milliseconds(c.smux.keep_alive_timeout_ms),
                    s->mutable_keepalive_timeout());
    s->set_max_frame_size(static_cast<uint32_t>(c.smux.max_frame_size));
    s->set_max_receive_buffer(static_cast<uint32_t>(c.smux.max_receive_buffer));
    s->set_max_stream_buffer(static_cast<uint32_t>(c.smux.max_stream_buffer));
  }
  p->set_compression(c.compression == Compression::kSnappy ? kcpp::v1::COMPRESSION_SNAPPY
                                                           : kcpp::v1::COMPRESSION_NONE);
  DurationToProto(absl::Milliseconds(t.close_linger_ms), p->mutable_close_linger());
  p->set_dead_link(static_cast<uint32_t>(t.dead_link));
  DurationToProto(absl::Milliseconds(t.dead_link_min_ms), p->mutable_dead_link_min());
  if (t.idle_timeout_ms > 0) {
    DurationToProto(absl::Milliseconds(t.idle_timeout_ms), p->mutable_idle_timeout());
  }
  p->set_fec_skip_idle_parity(t.fec_skip_idle_parity);
}

absl::StatusOr<ListenerConfig> ListenerConfigFromProto(const kcpp::v1::Listener& listener,
                                                       absl::string_view field) {
  ListenerConfig c;
  if (listener.address().empty()) {
    return Invalid(field,
                   ".address is required: a numeric \"ip:port\" or \"[ipv6]:port\" to "
                   "bind (port 0 picks a free one)");
  }
  KCPP_RETURN_IF_ERROR(
      CheckAddressCharacters(listener.address(), absl::StrCat(field, ".address")));
  absl::StatusOr<transport::SocketAddress> address =
      transport::SocketAddress::Parse(listener.address());
  if (!address.ok()) {
    return Invalid(field, absl::StrCat(".address: ", address.status().message()));
  }
  c.address = *address;
  if (listener.accept_backlog() > kMaxAcceptBacklog) {
    return Invalid(field, absl::StrCat(".accept_backlog must be 1..", kMaxAcceptBacklog,
                                       " (0 = 128), got ", listener.accept_backlog()));
  }
  if (listener.accept_backlog() != 0) {
    c.transport.accept_backlog = static_cast<int>(listener.accept_backlog());
  }
  if (listener.max_sessions() > kMaxListenerSessions) {
    return Invalid(field, absl::StrCat(".max_sessions must be 1..", kMaxListenerSessions,
                                       " (0 = ", kDefaultListenerSessions, "), got ",
                                       listener.max_sessions()));
  }
  c.transport.max_sessions = listener.max_sessions() != 0
                                 ? static_cast<int>(listener.max_sessions())
                                 : kDefaultListenerSessions;
  KCPP_ASSIGN_OR_RETURN(c.session, SessionConfigFromProto(listener.session_options(),
                                                          absl::StrCat(field, ".session_options")));
  c.transport.session = c.session.transport;
  KCPP_RETURN_IF_ERROR(WithField(c.transport.Validate(), field));
  return c;
}

absl::StatusOr<transport::SocketAddress> ParseRemoteAddress(absl::string_view text,
                                                            absl::string_view field) {
  if (text.empty()) {
    return Invalid(field, " is required: the peer's numeric \"ip:port\" or \"[ipv6]:port\"");
  }
  KCPP_RETURN_IF_ERROR(CheckAddressCharacters(text, field));
  absl::StatusOr<transport::SocketAddress> address = transport::SocketAddress::Parse(text);
  if (!address.ok()) return Invalid(field, absl::StrCat(": ", address.status().message()));
  if (address->port() == 0) {
    return Invalid(field, absl::StrCat(" needs a port 1..65535, got \"", text, "\""));
  }
  if (address->ToString() ==
      absl::StrCat(address->is_ipv6() ? "[::]" : "0.0.0.0", ":", address->port())) {
    return Invalid(field, absl::StrCat(" must be a peer's address, not the unspecified address \"",
                                       text, "\""));
  }
  return *address;
}

absl::StatusOr<SessionTuning> SessionTuningFromUpdate(const kcpp::v1::UpdateSessionRequest& request,
                                                      const transport::SessionOptions& current) {
  static constexpr absl::string_view kUpdatable[] = {"options.send_window",
                                                     "options.receive_window",
                                                     "options.mode",
                                                     "options.nodelay",
                                                     "options.ack_nodelay",
                                                     "options.write_delay",
                                                     "options.rate_limit_bytes_per_second",
                                                     "options.dscp"};
  const SessionOptions& o = request.session().options();
  std::vector<std::string> paths(request.update_mask().paths().begin(),
                                 request.update_mask().paths().end());
  if (paths.empty()) {
    // AIP-134: no mask = every updatable field that is set.
    if (o.send_window() != 0) paths.push_back("options.send_window");
    if (o.receive_window() != 0) paths.push_back("options.receive_window");
    if (o.mode() != kcpp::v1::MODE_UNSPECIFIED) paths.push_back("options.mode");
    if (o.has_nodelay()) paths.push_back("options.nodelay");
    if (o.ack_nodelay()) paths.push_back("options.ack_nodelay");
    if (o.write_delay()) paths.push_back("options.write_delay");
    if (o.rate_limit_bytes_per_second() != 0) {
      paths.push_back("options.rate_limit_bytes_per_second");
    }
    if (o.dscp() != 0) paths.push_back("options.dscp");
  }
  if (paths.empty()) {
    const std::string message =
        absl::StrCat("nothing to update: list the fields in update_mask (",
                     absl::StrJoin(kUpdatable, ", "), ") or set them to non-zero values");
    return WithFieldViolation(absl::InvalidArgumentError(message), "update_mask", message);
  }
  SessionTuning t;
  bool mode = false;
  bool nodelay = false;
  for (const std::string& path : paths) {
    if (path == "options.send_window") {
      int v = 0;
      KCPP_RETURN_IF_ERROR(ToInt(o.send_window(), "session.options", "send_window", &v));
      t.send_window = v == 0 ? transport::SessionOptions{}.send_window : v;
    } else if (path == "options.receive_window") {
      int v = 0;
      KCPP_RETURN_IF_ERROR(ToInt(o.receive_window(), "session.options", "receive_window", &v));
      t.receive_window = v == 0 ? transport::SessionOptions{}.receive_window : v;
    } else if (path == "options.mode") {
      mode = true;
    } else if (path == "options.nodelay") {
      nodelay = true;
    } else if (path == "options.ack_nodelay") {
      t.ack_nodelay = o.ack_nodelay();
    } else if (path == "options.write_delay") {
      t.write_delay = o.write_delay();
    } else if (path == "options.rate_limit_bytes_per_second") {
      if (o.rate_limit_bytes_per_second() >
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Invalid("session.options.rate_limit_bytes_per_second",
                       absl::StrCat(" is out of range: ", o.rate_limit_bytes_per_second()));
      }
      t.rate_limit_bytes_per_second = static_cast<int64_t>(o.rate_limit_bytes_per_second());
    } else if (path == "options.dscp") {
      int dscp = -1;
      KCPP_RETURN_IF_ERROR(DscpFromProto(o.dscp(), "session.options", &dscp));
      t.dscp = dscp;
    } else {
      return WithFieldViolation(
          absl::InvalidArgumentError(absl::StrCat("update_mask path \"", path,
                                                  "\" cannot be updated; updatable paths: ",
                                                  absl::StrJoin(kUpdatable, ", "))),
          "update_mask.paths",
          absl::StrCat("\"", path, "\" cannot be updated; updatable paths: ",
                       absl::StrJoin(kUpdatable, ", ")));
    }
  }
  if (mode || nodelay) {
    // options.nodelay alone means manual knobs.
    const kcpp::v1::Mode m = (nodelay && !mode) ? kcpp::v1::MODE_MANUAL : o.mode();
    if (nodelay && m != kcpp::v1::MODE_MANUAL) {
      return Invalid("session.options.nodelay",
                     " can only be updated with mode MODE_MANUAL (or without options.mode in "
                     "the mask)");
    }
    KCPP_ASSIGN_OR_RETURN(t.nodelay, NoDelayForMode(m, nodelay, o.nodelay(), "session.options"));
  }
  transport::SessionOptions after = current;
  ApplyTuning(t, after);
  KCPP_RETURN_IF_ERROR(WithField(after.Validate(), "session.options"));
  return t;
}

kcpp::v1::DataAttachment::SocketType AttachSocketType(const SessionOptions& effective) {
  return effective.framing() == kcpp::v1::FRAMING_RAW && !effective.stream_mode()
             ? kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET
             : kcpp::v1::DataAttachment::SOCKET_TYPE_STREAM;
}

}  // namespace kcpp::service::internal
