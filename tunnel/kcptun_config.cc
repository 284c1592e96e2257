#include "tunnel/kcptun_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/errno_status.h"
#include "base/unique_fd.h"
#include "tunnel/internal/json.h"

namespace kcpp::service::tunnel {
namespace {

using internal::JsonValue;

enum class Kind { kString, kInt, kBool };
enum RoleMask : int { kClientRole = 1, kServerRole = 2, kBothRoles = 3 };

// One kcptun setting: its flag names (first is the long name), JSON key,
// roles, where it lives in KcptunConfig, and kcptun's usage line.
struct Field {
  std::vector<absl::string_view> flags;
  absl::string_view json;
  Kind kind = Kind::kString;
  int roles = 0;
  std::string KcptunConfig::*str = nullptr;
  int KcptunConfig::*num = nullptr;
  bool KcptunConfig::*flag = nullptr;
  absl::string_view usage;
  bool hidden = false;
};

// The parts every field has; S, I and B add the member it sets.
Field Common(std::vector<absl::string_view> flags, absl::string_view json, Kind kind, int roles,
             absl::string_view usage, bool hidden) {
  Field f;
  f.flags = std::move(flags);
  f.json = json;
  f.kind = kind;
  f.roles = roles;
  f.usage = usage;
  f.hidden = hidden;
  return f;
}
Field S(std::vector<absl::string_view> flags, absl::string_view json, int roles,
        std::string KcptunConfig::*m, absl::string_view usage) {
  Field f = Common(std::move(flags), json, Kind::kString, roles, usage, /*hidden=*/false);
  f.str = m;
  return f;
}
Field I(std::vector<absl::string_view> flags, absl::string_view json, int roles,
        int KcptunConfig::*m, absl::string_view usage, bool hidden = false) {
  Field f = Common(std::move(flags), json, Kind::kInt, roles, usage, hidden);
  f.num = m;
  return f;
}
Field B(std::vector<absl::string_view> flags, absl::string_view json, int roles,
        bool KcptunConfig::*m, absl::string_view usage, bool hidden = false) {
  Field f = Common(std::move(flags), json, Kind::kBool, roles, usage, hidden);
  f.flag = m;
  return f;
}

// kcptun-client / kcptun-server flags in kcptun's order (2021 client/main.go
// and server/main.go, then the 2025 additions).
const std::vector<Field>& Fields() {
  using C = KcptunConfig;
  static const auto* fields = new std::vector<Field>{
      S({"localaddr", "l"}, "localaddr", kClientRole, &C::localaddr, "local listen address"),
      S({"remoteaddr", "r"}, "remoteaddr", kClientRole, &C::remoteaddr,
        "kcp server address, \"IP:port\" or \"IP:minport-maxport\""),
      S({"listen", "l"}, "listen", kServerRole, &C::listen,
        "kcp server listen address, \"IP:port\" or \"IP:minport-maxport\""),
      S({"target", "t"}, "target", kServerRole, &C::target,
        "target server address, or path/to/unix_socket"),
      S({"key"}, "key", kBothRoles, &C::key,
        "pre-shared secret between client and server (env KCPTUN_KEY)"),
      S({"crypt"}, "crypt", kBothRoles, &C::crypt,
        "aes, aes-128, aes-128-gcm, aes-192, salsa20, blowfish, twofish, cast5, 3des, tea, xtea, "
        "xor, sm4, none, null"),
      S({"mode"}, "mode", kBothRoles, &C::mode, "profiles: fast3, fast2, fast, normal, manual"),
      B({"QPP"}, "qpp", kBothRoles, &C::qpp,
        "enable Quantum Permutation Pads (QPP) - not supported by kcpd"),
      I({"QPPCount"}, "qpp-count", kBothRoles, &C::qppcount, "the prime number of pads for QPP"),
      I({"conn"}, "conn", kClientRole, &C::conn, "set num of UDP connections to server"),
      I({"autoexpire"}, "autoexpire", kClientRole, &C::autoexpire,
        "set auto expiration time(in seconds) for a single UDP connection, 0 to disable"),
      I({"scavengettl"}, "scavengettl", kClientRole, &C::scavengettl,
        "set how long an expired connection can live (in seconds)"),
      I({"mtu"}, "mtu", kBothRoles, &C::mtu, "set maximum transmission unit for UDP packets"),
      I({"ratelimit"}, "ratelimit", kBothRoles, &C::ratelimit,
        "set maximum outgoing speed (in bytes per second) for a single KCP connection, 0 to "
        "disable"),
      I({"sndwnd"}, "sndwnd", kBothRoles, &C::sndwnd, "set send window size(num of packets)"),
      I({"rcvwnd"}, "rcvwnd", kBothRoles, &C::rcvwnd, "set receive window size(num of packets)"),
      I({"datashard", "ds"}, "datashard", kBothRoles, &C::datashard,
        "set reed-solomon erasure coding - datashard"),
      I({"parityshard", "ps"}, "parityshard", kBothRoles, &C::parityshard,
        "set reed-solomon erasure coding - parityshard"),
      I({"dscp"}, "dscp", kBothRoles, &C::dscp, "set DSCP(6bit)"),
      B({"nocomp"}, "nocomp", kBothRoles, &C::nocomp, "disable compression"),
      B({"acknodelay"}, "acknodelay", kBothRoles, &C::acknodelay,
        "flush ack immediately when a packet is received", /*hidden=*/true),
      I({"nodelay"}, "nodelay", kBothRoles, &C::nodelay, "", /*hidden=*/true),
      I({"interval"}, "interval", kBothRoles, &C::interval, "", /*hidden=*/true),
      I({"resend"}, "resend", kBothRoles, &C::resend, "", /*hidden=*/true),
      I({"nc"}, "nc", kBothRoles, &C::nc, "", /*hidden=*/true),
      I({"sockbuf"}, "sockbuf", kBothRoles, &C::sockbuf, "per-socket buffer in bytes"),
      I({"smuxver"}, "smuxver", kBothRoles, &C::smuxver, "specify smux version, available 1,2"),
      I({"smuxbuf"}, "smuxbuf", kBothRoles, &C::smuxbuf, "the overall de-mux buffer in bytes"),
      I({"framesize"}, "framesize", kBothRoles, &C::framesize, "smux max frame size"),
      I({"streambuf"}, "streambuf", kBothRoles, &C::streambuf,
        "per stream receive buffer in bytes, smux v2+"),
      I({"keepalive"}, "keepalive", kBothRoles, &C::keepalive, "seconds between heartbeats"),
      I({"closewait"}, "closewait", kBothRoles, &C::closewait,
        "the seconds to wait before tearing down a connection"),
      S({"snmplog"}, "snmplog", kBothRoles, &C::snmplog,
        "collect snmp to file (ignored by kcpd: counters are in its API)"),
      I({"snmpperiod"}, "snmpperiod", kBothRoles, &C::snmpperiod,
        "snmp collect period, in seconds"),
      B({"pprof"}, "pprof", kBothRoles, &C::pprof, "start profiling server on :6060 (ignored)"),
      S({"log"}, "log", kBothRoles, &C::log, "specify a log file to output (ignored: stderr)"),
      B({"quiet"}, "quiet", kBothRoles, &C::quiet, "to suppress the 'stream open/close' messages"),
      B({"tcp"}, "tcp", kBothRoles, &C::tcp,
        "to emulate a TCP connection(linux) - not supported by kcpd"),
  };
  return *fields;
}

int Mask(TunnelRole role) { return role == TunnelRole::kClient ? kClientRole : kServerRole; }

const Field* FindFlag(TunnelRole role, absl::string_view name) {
  for (const Field& f : Fields()) {
    if ((f.roles & Mask(role)) == 0) continue;
    for (absl::string_view n : f.flags) {
      if (n == name) return &f;
    }
  }
  return nullptr;
}

// Go's strconv.ParseInt(s, 0, 64) as flag.IntVar uses it: optional sign,
// 0x / 0o / 0b prefixes, a leading 0 for octal, '_' only between digits (or
// right after a prefix).
bool ParseGoInt(absl::string_view s, int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  char prev = '^';  // what came before: '^' start, '0' digit or prefix, '_'
  if (s.size() >= 2 && s[0] == '0') {
    const char p = absl::ascii_tolower(s[1]);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
      prev = '0';
    } else {
      base = 8;  // "017" is octal; "0" alone stays decimal
    }
  }
  uint64_t value = 0;
  bool any = false;
  for (char c : s) {
    if (c == '_') {
      if (prev != '0') return false;
      prev = '_';
      continue;
    }
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (value > (std::numeric_limits<uint64_t>::max() - d) / base) return false;
    value = value * base + d;
    any = true;
    prev = '0';
  }
  if (!any || prev == '_') return false;
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (value > limit + (negative ? 1 : 0)) return false;
  *out = negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
  return true;
}

// Go's strconv.ParseBool.
bool ParseGoBool(absl::string_view s, bool* out) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    *out = true;
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    *out = false;
    return true;
  }
  return false;
}

absl::Status SetFromFlag(const Field& f, absl::string_view name, absl::string_view value,
                         KcptunConfig* config) {
  switch (f.kind) {
    case Kind::kString:
      config->*f.str = std::string(value);
      return absl::OkStatus();
    case Kind::kBool: {
      bool b;
      if (!ParseGoBool(value, &b)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid boolean value \"", value, "\" for -", name, ": parse error"));
      }
      config->*f.flag = b;
      return absl::OkStatus();
    }
    case Kind::kInt: {
      int64_t v;
      if (!ParseGoInt(value, &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value \"", value, "\" for flag -", name, ": parse error"));
      }
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value \"", value, "\" for flag -", name, ": value out of range"));
      }
      config->*f.num = static_cast<int>(v);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// Go's encoding/json field matching: the exact key first, then a
// case-insensitive match (ASCII folding covers every kcptun key).
const Field* FindJsonField(TunnelRole role, absl::string_view key) {
  const Field* folded = nullptr;
  for (const Field& f : Fields()) {
    if ((f.roles & Mask(role)) == 0) continue;
    if (f.json == key) return &f;
    if (folded == nullptr && absl::EqualsIgnoreCase(f.json, key)) folded = &f;
  }
  return folded;
}

absl::Status JsonTypeError(const JsonValue& v, absl::string_view key, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("line ", v.line, ", column ", v.column,
                                                 ": cannot unmarshal ", JsonTypeName(v.type),
                                                 " into \"", key, "\" of type ", want));
}

}  // namespace

absl::string_view TunnelRoleName(TunnelRole role) {
  return role == TunnelRole::kClient ? "client" : "server";
}

KcptunConfig DefaultKcptunConfig(TunnelRole role) {
  KcptunConfig c;
  c.role = role;
  if (role == TunnelRole::kServer) {
    c.sndwnd = 1024;
    c.rcvwnd = 1024;
  }
  return c;
}

absl::StatusOr<KcptunFlags> ApplyKcptunFlags(absl::Span<const std::string> args,
                                             std::optional<std::string> env_key,
                                             KcptunConfig* config) {
  KcptunFlags result;
  if (env_key.has_value()) config->key = *env_key;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    // Go's flag.FlagSet.parseOne.
    if (arg.size() < 2 || arg[0] != '-') break;  // first positional argument
    int dashes = 1;
    if (arg[1] == '-') {
      dashes = 2;
      if (arg.size() == 2) {  // "--" ends the flags
        ++i;
        break;
      }
    }
    absl::string_view name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("bad flag syntax: ", arg));
    }
    std::optional<absl::string_view> value;
    if (const size_t eq = name.find('='); eq != absl::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "h" || name == "help") {
      result.help = true;
      continue;
    }
    if (name == "v" || name == "version") {
      result.version = true;
      continue;
    }
    if (name == "c") {
      result.json_flag_index = static_cast<int>(i);
      result.json_flag_count = value.has_value() ? 1 : 2;
      if (!value.has_value()) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError("flag needs an argument: -c");
        }
        value = args[++i];
      }
      result.json_path = std::string(*value);
      continue;
    }
    const Field* f = FindFlag(config->role, name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("flag provided but not defined: -", name,
                                                     " (kcptun-", TunnelRoleName(config->role),
                                                     " has no such flag)"));
    }
    if (f->kind == Kind::kBool) {
      absl::Status s = SetFromFlag(*f, name, value.value_or("true"), config);
      if (!s.ok()) return s;
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: -", name));
      }
      value = args[++i];
    }
    absl::Status s = SetFromFlag(*f, name, *value, config);
    if (!s.ok()) return s;
  }
  for (; i < args.size(); ++i) result.ignored_args.push_back(args[i]);
  return result;
}

absl::Status ApplyKcptunJson(absl::string_view json, KcptunConfig* config) {
  absl::StatusOr<JsonValue> parsed = internal::ParseJson(json);
  if (!parsed.ok()) return parsed.status();
  const JsonValue& root = *parsed;
  if (root.type == JsonValue::Type::kNull) return absl::OkStatus();  // as Go: nothing to do
  if (root.type != JsonValue::Type::kObject) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot unmarshal ", JsonTypeName(root.type), " into the kcptun config"));
  }
  for (const auto& [key, value] : root.members) {
    const Field* f = FindJsonField(config->role, key);
    if (f == nullptr || value.type == JsonValue::Type::kNull) continue;
    switch (f->kind) {
      case Kind::kString:
        if (value.type != JsonValue::Type::kString) return JsonTypeError(value, key, "string");
        config->*f->str = value.text;
        break;
      case Kind::kBool:
        if (value.type != JsonValue::Type::kBool) return JsonTypeError(value, key, "bool");
        config->*f->flag = value.boolean;
        break;
      case Kind::kInt: {
        if (value.type != JsonValue::Type::kNumber) return JsonTypeError(value, key, "int");
        // Go decodes an int field with strconv.ParseInt(literal, 10, 64):
        // fractions and exponents are type errors even when integral.
        int64_t v;
        if (!absl::SimpleAtoi(value.text, &v) ||
            value.text.find_first_of(".eE+") != std::string::npos) {
          return absl::InvalidArgumentError(absl::StrCat(
              "line ", value.line, ", column ", value.column, ": cannot unmarshal number ",
              value.text, " into \"", key, "\" of type int"));
        }
        if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
          return absl::InvalidArgumentError(absl::StrCat("line ", value.line, ": \"", key,
                                                         "\": ", value.text, " is out of range"));
        }
        config->*f->num = static_cast<int>(v);
        break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status FinishKcptunConfig(KcptunConfig* c, std::vector<std::string>* warnings) {
  auto warn = [&](std::string w) {
    if (warnings != nullptr) warnings->push_back(std::move(w));
  };
  // Mode presets (client/server main.go switch): other names keep the
  // manual values.
  if (c->mode == "normal") {
    c->nodelay = 0, c->interval = 40, c->resend = 2, c->nc = 1;
  } else if (c->mode == "fast") {
    c->nodelay = 0, c->interval = 30, c->resend = 2, c->nc = 1;
  } else if (c->mode == "fast2") {
    c->nodelay = 1, c->interval = 20, c->resend = 2, c->nc = 1;
  } else if (c->mode == "fast3") {
    c->nodelay = 1, c->interval = 10, c->resend = 2, c->nc = 1;
  } else if (c->mode != "manual") {
    warn(absl::StrCat("mode \"", c->mode,
                      "\" is not one of fast3, fast2, fast, normal: using the manual values "
                      "(nodelay, interval, resend, nc) as kcptun does"));
  }
  // Cipher selection (main.go switch): unknown names become aes.
  static constexpr absl::string_view kCiphers[] = {
      "aes", "aes-128", "aes-192", "salsa20", "blowfish", "twofish", "cast5",      "3des",
      "tea", "xtea",    "xor",     "sm4",     "none",     "null",    "aes-128-gcm"};
  if (std::find(std::begin(kCiphers), std::end(kCiphers), c->crypt) == std::end(kCiphers)) {
    warn(absl::StrCat("crypt \"", c->crypt, "\" is unknown: using aes, as kcptun does"));
    c->crypt = "aes";
  }
  if (c->tcp) {
    return absl::UnimplementedError(
        "tcp: kcpd does not emulate TCP (kcptun's tcpraw); run the tunnel over UDP");
  }
  if (c->qpp) {
    return absl::UnimplementedError("QPP: kcpd does not implement Quantum Permutation Pads");
  }
  if (!c->log.empty()) warn(absl::StrCat("log \"", c->log, "\" ignored: kcpd logs to stderr"));
  if (!c->snmplog.empty()) {
    warn(absl::StrCat("snmplog \"", c->snmplog,
                      "\" ignored: kcpd's counters are in its API (kcpctl tunnels get)"));
  }
  if (c->pprof) warn("pprof ignored: kcpd has no profiling server");
  if (c->closewait != 0) {
    warn(absl::StrCat("closewait ", c->closewait,
                      " ignored: kcpd forwards end-of-file at once, as kcptun 2021 does"));
  }

  // kcpd's checks (kcptun would often misbehave silently instead).
  auto range = [](absl::string_view name, int v, int lo, int hi) -> absl::Status {
    if (v >= lo && v <= hi) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(name, " must be ", lo, "..", hi, ", got ", v));
  };
  absl::Status s;
  if (c->role == TunnelRole::kClient) {
    if (!(s = range("conn", c->conn, 1, 256)).ok()) return s;
    if (!(s = range("autoexpire", c->autoexpire, 0, std::numeric_limits<int>::max())).ok()) {
      return s;
    }
    if (!(s = range("scavengettl", c->scavengettl, 0, std::numeric_limits<int>::max())).ok()) {
      return s;
    }
    if (c->autoexpire != 0 && c->scavengettl > c->autoexpire) {
      warn("scavengettl is bigger than autoexpire: expired sessions may compete for bandwidth");
    }
  }
  if (!(s = range("mtu", c->mtu, 50, 1500)).ok()) return s;
  if (!(s = range("sndwnd", c->sndwnd, 1, 65535)).ok()) return s;
  if (!(s = range("rcvwnd", c->rcvwnd, 1, 65535)).ok()) return s;
  if (!(s = range("dscp", c->dscp, 0, 63)).ok()) return s;
  if (!(s = range("nodelay", c->nodelay, 0, 2)).ok()) return s;
  if (!(s = range("interval", c->interval, 0, std::numeric_limits<int>::max())).ok()) return s;
  if (!(s = range("resend", c->resend, 0, std::numeric_limits<int>::max())).ok()) return s;
  if (!(s = range("nc", c->nc, 0, std::numeric_limits<int>::max())).ok()) return s;
  if (!(s = range("sockbuf", c->sockbuf, 0, std::numeric_limits<int>::max())).ok()) return s;
  if (!(s = range("ratelimit", c->ratelimit, 0, std::numeric_limits<int>::max())).ok()) return s;
  if (!(s = range("closewait", c->closewait, 0, 86400)).ok()) return s;
  if (!(s = range("keepalive", c->keepalive, 1, 86400)).ok()) return s;
  if (c->datashard < 0 || c->parityshard < 0 || c->datashard + c->parityshard > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("datashard and parityshard must be >= 0 with a sum <= 256, got ", c->datashard,
                     " and ", c->parityshard));
  }
  if (c->smuxver != 1 && c->smuxver != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported smux version: ", c->smuxver, " (smuxver must be 1 or 2)"));
  }
  if (absl::Status v = smux::ValidateConfig(ToSmuxConfig(*c)); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("smux: ", v.message()));
  }
  if (absl::Status v = ToSessionOptions(*c).Validate(); !v.ok()) return v;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_size) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(absl::StrCat("open ", path));
  std::string data;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("read ", path));
    }
    if (n == 0) break;
    if (data.size() + n > max_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than ", max_size, " bytes; not a kcptun config"));
    }
    data.append(buf, n);
  }
  return data;
}

absl::StatusOr<KcptunConfig> LoadKcptunConfig(
    TunnelRole role, absl::Span<const std::string> args, std::optional<std::string> env_key,
    std::vector<std::string>* warnings,
    std::function<absl::StatusOr<std::string>(const std::string&)> read_file) {
  KcptunConfig config = DefaultKcptunConfig(role);
  absl::StatusOr<KcptunFlags> flags = ApplyKcptunFlags(args, std::move(env_key), &config);
  if (!flags.ok()) return flags.status();
  if (flags->help) return absl::FailedPreconditionError(KcptunUsage(role));
  if (flags->version) return absl::FailedPreconditionError("kcptun-compatible tunnel of kcpd");
  for (const std::string& a : flags->ignored_args) {
    if (warnings != nullptr) {
      warnings->push_back(absl::StrCat("argument \"", a, "\" ignored (kcptun ignores it too)"));
    }
  }
  if (!flags->json_path.empty()) {
    absl::StatusOr<std::string> text =
        read_file ? read_file(flags->json_path)
                  : ReadSmallFile(flags->json_path, internal::kMaxJsonFileSize);
    if (!text.ok()) return text.status();
    if (absl::Status s = ApplyKcptunJson(*text, &config); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flags->json_path, ": ", s.message()));
    }
  }
  if (absl::Status s = FinishKcptunConfig(&config, warnings); !s.ok()) return s;
  return config;
}

transport::SessionOptions ToSessionOptions(const KcptunConfig& c) {
  transport::SessionOptions o;
  o.crypt = c.crypt;
  o.key = c.key;
  if (c.datashard > 0 && c.parityshard > 0) {
    o.data_shards = c.datashard;
    o.parity_shards = c.parityshard;
  }
  o.mtu = c.mtu;
  o.send_window = c.sndwnd;
  o.receive_window = c.rcvwnd;
  o.nodelay.nodelay = c.nodelay;
  o.nodelay.interval_ms = std::clamp(c.interval, 10, 5000);  // kcp-go SetNoDelay
  o.nodelay.resend = c.resend;
  o.nodelay.no_congestion_window = c.nc != 0;
  o.stream_mode = true;
  o.write_delay = false;
  o.ack_nodelay = c.acknodelay;
  o.dscp = c.dscp;
  o.socket_buffer_bytes = c.sockbuf;
  o.rate_limit_bytes_per_second = c.ratelimit;
  o.congestion = c.congestion;
  return o;
}

smux::Config ToSmuxConfig(const KcptunConfig& c) {
  smux::Config s = smux::DefaultConfig();
  s.version = c.smuxver;
  s.max_receive_buffer = c.smuxbuf;
  s.max_stream_buffer = c.streambuf;
  s.max_frame_size = c.framesize;
  s.keep_alive_interval_ms = int64_t{c.keepalive} * 1000;
  return s;
}

std::vector<std::pair<std::string, std::string>> DescribeKcptunConfig(const KcptunConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Field& f : Fields()) {
    if ((f.roles & Mask(c.role)) == 0) continue;
    std::string value;
    switch (f.kind) {
      case Kind::kString:
        value = f.str == &KcptunConfig::key ? "***" : c.*f.str;
        break;
      case Kind::kInt:
        value = absl::StrCat(c.*f.num);
        break;
      case Kind::kBool:
        value = c.*f.flag ? "true" : "false";
        break;
    }
    out.emplace_back(std::string(f.json), std::move(value));
  }
  return out;
}

std::string KcptunUsage(TunnelRole role) {
  const KcptunConfig d = DefaultKcptunConfig(role);
  std::string out = absl::StrCat("kcpd tunnel ", TunnelRoleName(role), ": kcptun-",
                                 TunnelRoleName(role), " compatible flags (docs/tunnel.md)\n");
  for (const Field& f : Fields()) {
    if ((f.roles & Mask(role)) == 0 || f.hidden) continue;
    std::string names;
    for (absl::string_view n : f.flags) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", n.size() == 1 ? "-" : "--", n);
    }
    std::string def;
    switch (f.kind) {
      case Kind::kString:
        def = absl::StrCat(" value (default \"", d.*f.str, "\")");
        break;
      case Kind::kInt:
        def = absl::StrCat(" value (default ", d.*f.num, ")");
        break;
      case Kind::kBool:
        break;
    }
    absl::StrAppend(&out, "  ", names, def, "\n      ", f.usage, "\n");
  }
  absl::StrAppend(&out,
                  "  -c value\n      config from json file, which will override the command "
                  "from shell\n");
  return out;
}

}  // namespace kcpp::service::tunnel
