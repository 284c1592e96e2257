#include "kcpctl/kcpctl_format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "kcpd/internal/proto_time.h"

namespace kcpp::service::internal {
namespace {

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", TimeFromProto(t), absl::LocalTimeZone());
}

std::string Framing(const kcpp::v1::SessionOptions& o) {
  if (o.framing() == kcpp::v1::FRAMING_RAW) {
    return o.stream_mode() ? "raw" : "raw/messages";
  }
  return absl::StrCat("smux v", o.smux().version() == 0 ? 2 : o.smux().version());
}

std::string Crypt(const kcpp::v1::SessionOptions& o) {
  return o.crypt().empty() ? "null" : o.crypt();
}

std::string Fec(const kcpp::v1::SessionOptions& o) {
  if (o.data_shards() == 0) return "off";
  return absl::StrCat(o.data_shards(), "/", o.parity_shards());
}

std::string Mode(const kcpp::v1::SessionOptions& o) {
  if (o.mode() == kcpp::v1::MODE_MANUAL) {
    const auto& n = o.nodelay();
    return absl::StrCat("manual (", n.nodelay(), ",", n.interval_ms(), ",", n.resend(), ",",
                        n.no_congestion_window() ? 1 : 0, ")");
  }
  if (o.mode() == kcpp::v1::MODE_UNSPECIFIED) return "default";
  std::string name = kcpp::v1::Mode_Name(o.mode()).substr(5);  // "MODE_"
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  return name;
}

std::string Options(const kcpp::v1::SessionOptions& o) {
  return absl::StrCat("crypt ", Crypt(o), ", fec ", Fec(o), ", mode ", Mode(o), ", mtu ", o.mtu(),
                      ", windows ", o.send_window(), "/", o.receive_window(), ", ", Framing(o));
}

std::string Lower(absl::string_view enum_name) {
  std::string s(enum_name);
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

}  // namespace

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidArgument;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kExitPermission;
    case absl::StatusCode::kUnavailable:
      return kExitUnavailable;
    case absl::StatusCode::kAlreadyExists:
      return kExitAlreadyExists;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return kExitFailedPrecondition;
    case absl::StatusCode::kResourceExhausted:
      return kExitResourceExhausted;
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return kExitDeadline;
    default:
      return kExitOther;
  }
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      absl::StrAppend(&l, cells[c]);
      if (c + 1 < cells.size()) l.append(width[c] - cells[c].size() + 2, ' ');
    }
    absl::StrAppend(&out, l, "\n");
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) return absl::StrCat("-", HumanDuration(-d));
  if (d < absl::Seconds(1)) return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
  // Two units at most, the smaller one truncated: an operator reads "3m12s"
  // or "2d5h", not nanoseconds.
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60, "s");
  if (s < 86400) return absl::StrCat(s / 3600, "h", s % 3600 / 60, "m");
  return absl::StrCat(s / 86400, "d", s % 86400 / 3600, "h");
}

std::string SessionsDescriptions(const std::vector<kcpp::v1::Session>& sessions) {
  std::string out;
  for (const auto& s : sessions) {
    if (!out.empty()) out += "\n";
    out += DescribeSession(s);
  }
  return out;
}

std::string ListenersTable(const std::vector<kcpp::v1::Listener>& listeners) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : listeners) {
    rows.push_back({l.name(), l.bound_address(), absl::StrCat(l.active_sessions()),
                    absl::StrCat(l.sessions_accepted()), absl::StrCat(l.datagrams_dropped()),
                    Crypt(l.session_options()), Fec(l.session_options()),
                    Framing(l.session_options())});
  }
  return FormatTable(
      {"NAME", "ADDRESS", "SESSIONS", "ACCEPTED", "DROPPED", "CRYPT", "FEC", "FRAMING"}, rows);
}

std::string SessionsTable(const std::vector<kcpp::v1::Session>& sessions) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sessions) {
    rows.push_back({s.name(), s.listener().empty() ? "(dialled)" : s.listener(), s.remote_address(),
                    absl::StrCat(s.conv()), Lower(kcpp::v1::Session::State_Name(s.state())),
                    absl::StrCat(s.stream_count()), HumanBytes(s.counters().bytes_sent()),
                    HumanBytes(s.counters().bytes_received()), absl::StrCat(s.rtt_ms(), " ms")});
  }
  return FormatTable(
      {"NAME", "LISTENER", "REMOTE", "CONV", "STATE", "STREAMS", "SENT", "RECEIVED", "RTT"}, rows);
}

std::string DescribeListener(const kcpp::v1::Listener& l) {
  return absl::StrCat(
      "name:      ", l.name(), "\naddress:   ", l.address(), "\nbound:     ", l.bound_address(),
      "\noptions:   ", Options(l.session_options()), "\nbacklog:   ", l.accept_backlog(),
      ", max sessions ", l.max_sessions(), "\nsessions:  ", l.active_sessions(), " active, ",
      l.sessions_accepted(), " accepted", "\ndropped:   ", l.datagrams_dropped(),
      " datagrams\ncreated:   ", Time(l.create_time()), "\n");
}

std::string DescribeStream(const kcpp::v1::Stream& st) {
  std::string out =
      absl::StrCat("stream:    ", st.name(), " (", Lower(kcpp::v1::Stream::State_Name(st.state())),
                   st.accepted() ? ", opened by the peer" : "", ")\n");
  if (st.bytes_sent() != 0 || st.bytes_received() != 0) {
    absl::StrAppend(&out, "  bytes:   ", HumanBytes(st.bytes_sent()), " sent, ",
                    HumanBytes(st.bytes_received()), " received\n");
  }
  if (st.has_attachment()) {
    const auto& a = st.attachment();
    absl::StrAppend(&out, "  attach:  connect to ", a.socket_path(), " (",
                    a.socket_type() == kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET
                        ? "SOCK_SEQPACKET"
                        : "SOCK_STREAM",
                    ") and send \"ATTACH <token>\\n\" before ", Time(a.expire_time()),
                    "\n  token:   ", a.token(), "\n");
  }
  return out;
}

// What this side's FEC sends now, after the counters of what it received:
// "; sending 2 per group, loss estimate 0.84 %" (adaptive parity, its first
// window measured), "; sending 3 per group" (fixed parity, or not measured
// yet), nothing without FEC.
std::string ParitySending(const kcpp::v1::Session& s) {
  if (s.options().data_shards() == 0 && s.fec_parity_sending() == 0) return "";
  std::string out = absl::StrCat("; sending ", s.fec_parity_sending(), " per group");
  if (s.has_fec_loss_estimate()) {
    absl::StrAppend(&out, absl::StrFormat(", loss estimate %.2f %%", s.fec_loss_estimate() * 100));
  }
  return out;
}

std::string DescribeSession(const kcpp::v1::Session& s) {
  const auto& c = s.counters();
  std::string out = absl::StrCat(
      "name:      ", s.name(), "\nlistener:  ", s.listener().empty() ? "(dialled)" : s.listener(),
      "\nlocal:     ", s.local_address(), "\nremote:    ", s.remote_address(),
      "\nconv:      ", s.conv(), "\nstate:     ", Lower(kcpp::v1::Session::State_Name(s.state())),
      "\noptions:   ", Options(s.options()), "\nrtt:       ", s.rtt_ms(), " ms (rto ", s.rto_ms(),
      " ms)\nbytes:     ", HumanBytes(c.bytes_sent()), " sent, ", HumanBytes(c.bytes_received()),
      " received\npackets:   ", c.packets_sent(), " sent, ", c.packets_received(),
      " received\nsegments:  ", c.segments_sent(), " sent, ", c.segments_received(), " received, ",
      c.retransmitted_segments(), " retransmitted (", c.fast_retransmitted_segments(), " fast, ",
      c.early_retransmitted_segments(), " early, ", c.lost_segments(), " lost), ",
      c.late_acknowledged_segments(), " acknowledged late", "\nfec:       ", c.fec_recovered(),
      " recovered, ", c.fec_errors(), " errors, ", c.fec_parity_shards(), " parity shards received",
      ParitySending(s), "\nerrors:    ", c.checksum_errors(), " checksum, ", c.input_errors(),
      " input\nstreams:   ", s.stream_count(), "\ncreated:   ", Time(s.create_time()), "\n");
  for (const auto& st : s.streams()) absl::StrAppend(&out, DescribeStream(st));
  return out;
}

std::string DescribeStats(const kcpp::v1::Stats& s) {
  const auto& c = s.counters();
  return absl::StrCat(
      "version:     ", s.version(), " (backend ", s.backend(), ", ", s.event_loops(),
      " event loops)\nuptime:      ",
      HumanDuration(absl::Seconds(s.uptime().seconds()) + absl::Nanoseconds(s.uptime().nanos())),
      "\nlisteners:   ", s.listeners(), "\nsessions:    ", s.active_sessions(), " active (",
      s.sessions_dialed(), " dialled, ", s.sessions_accepted(), " accepted, ", s.sessions_closed(),
      " closed, ", s.peers_dead(), " peers dead)\nstreams:     ", s.active_streams(),
      " active\nattachments: ", s.attachments(), " accepted, ", s.attachments_refused(),
      " refused\nwatchers:    ", s.watchers(), "\nrefused:     ", s.control_connections_refused(),
      " control connections (uid not allowed)\nbytes:       ", HumanBytes(c.bytes_sent()),
      " sent, ", HumanBytes(c.bytes_received()), " received\npackets:     ", c.packets_sent(),
      " sent, ", c.packets_received(), " received, ", c.retransmitted_segments(),
      " segments retransmitted\npolling:     ", s.busy_polls(), " busy polls, ", s.busy_poll_hits(),
      " caught a datagram\npools:       ", HumanBytes(s.pool_bytes()), ", ", s.pool_allocations(),
      " allocations (+", s.queue_chunk_allocations(), " queue chunks)\n");
}

std::string EventLine(const kcpp::v1::SessionEvent& e) {
  std::string line =
      absl::StrCat(Time(e.time()), "  ", kcpp::v1::SessionEvent::Type_Name(e.type()), "  ",
                   e.stream().name().empty() ? e.session().name() : e.stream().name());
  switch (e.type()) {
    case kcpp::v1::SessionEvent::SESSION_ACCEPTED:
    case kcpp::v1::SessionEvent::SESSION_DIALED:
      absl::StrAppend(
          &line, "  remote ", e.session().remote_address(), " conv ", e.session().conv(),
          e.session().listener().empty() ? "" : absl::StrCat(" via ", e.session().listener()));
      break;
    case kcpp::v1::SessionEvent::STREAM_ACCEPTED:
      if (e.stream().has_attachment()) {
        absl::StrAppend(&line, "  attach ", e.stream().attachment().socket_path(), " token ",
                        e.stream().attachment().token());
      }
      break;
    case kcpp::v1::SessionEvent::STATS:
      absl::StrAppend(&line, "  sent ", HumanBytes(e.session().counters().bytes_sent()),
                      " received ", HumanBytes(e.session().counters().bytes_received()), " rtt ",
                      e.session().rtt_ms(), " ms retransmitted ",
                      e.session().counters().retransmitted_segments());
      break;
    default:
      break;
  }
  if (!e.reason().empty()) absl::StrAppend(&line, "  (", e.reason(), ")");
  return line;
}

std::string ToJson(const google::protobuf::Message& message, bool one_line) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = !one_line;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

}  // namespace kcpp::service::internal
