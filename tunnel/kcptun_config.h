// kcptun's configuration, read exactly as kcptun-client / kcptun-server read
// it, so an existing kcptun deployment switches to kcpd unchanged
// (docs/protocol.md §6.3).
//
// Every flag of Debian's kcptun (2021) and the names kcptun added by 2025
// (ratelimit, framesize, closewait, QPP, QPPCount, pprof), with kcptun's
// defaults per role, in the syntax of kcptun's command line (Go's flag
// package: -name value, -name=value, --name, bool flags bare or =true/false,
// short aliases -l -r -t -ds -ps, KCPTUN_KEY from the environment), and
// kcptun's JSON file (-c FILE: the same names as JSON keys, matched
// case-insensitively like Go's encoding/json, unknown keys ignored; the file
// overrides the command line). Then, as kcptun does, the -mode preset
// (normal, fast, fast2, fast3) replaces nodelay/interval/resend/nc unless
// the mode is "manual" (or any other name).
//
//   std::vector<std::string> warnings;
//   KCPP_ASSIGN_OR_RETURN(KcptunConfig c, LoadKcptunConfig(TunnelRole::kServer,
//       {"-t", "127.0.0.1:8080", "-c", "/etc/kcptun/server.json"}, {}, &warnings));
//   transport::SessionOptions kcp = ToSessionOptions(c);   // key derivation §3.6
//   smux::Config mux = ToSmuxConfig(c);
//
// Where kcpd differs from kcptun it says so in a warning or an error, never
// silently: unknown -crypt names fall back to aes with a warning (kcptun
// falls back silently; a kcptun peer with the same typo does the same);
// -tcp (tcpraw fake TCP) and -QPP are refused (not implemented); -log,
// -snmplog, -snmpperiod and -pprof are accepted and ignored with a warning
// (kcpd logs to stderr; its counters are in the gRPC API); so is a non-zero
// -closewait (kcptun 2025 delays forwarding end-of-file by it; kcpd forwards
// it at once, as Debian's kcptun 2021 does).
//
// Thread safety: plain functions on values.
#ifndef KCPP_TUNNEL_KCPTUN_CONFIG_H_
#define KCPP_TUNNEL_KCPTUN_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "smux/config.h"
#include "transport/options.h"

namespace kcpp::service::tunnel {

// Which end of a kcptun deployment a tunnel replaces.
enum class TunnelRole {
  kClient,  // kcptun-client: TCP listener -> smux streams over KCP to a server
  kServer,  // kcptun-server: KCP listener -> a TCP connection to the target per stream
};

absl::string_view TunnelRoleName(TunnelRole role);  // "client" / "server"

// Every kcptun setting under its kcptun name (JSON key / flag name in the
// comment when they differ from the member). Defaults are kcptun's for the
// role (DefaultKcptunConfig); fields of the other role are unused.
struct KcptunConfig {
  TunnelRole role = TunnelRole::kClient;

  // Client only.
  std::string localaddr = ":12948";      // -localaddr, -l: TCP listen address
  std::string remoteaddr = "vps:29900";  // -remoteaddr, -r: "host:port" or "host:min-max"
  int conn = 1;                          // KCP sessions; TCP connections spread round-robin
  int autoexpire = 0;                    // seconds a KCP session takes new streams; 0 = forever
  int scavengettl = 600;                 // seconds an expired session keeps its streams

  // Server only.
  std::string listen = ":29900";           // -listen, -l: UDP address (or port range)
  std::string target = "127.0.0.1:12948";  // -target, -t: "host:port" or a Unix socket path

  // Both.
  std::string key = "it's a secrect";  // (sic) kcptun's default; env KCPTUN_KEY
  std::string crypt = "aes";
  std::string mode = "fast";
  int mtu = 1350;
  int sndwnd = 128;  // server: 1024
  int rcvwnd = 512;  // server: 1024
  int datashard = 10;
  int parityshard = 3;
  int dscp = 0;
  bool nocomp = false;
  bool acknodelay = false;
  int nodelay = 0;    // manual mode (hidden flags)
  int interval = 50;  // ms
  int resend = 0;
  int nc = 0;
  int sockbuf = 4194304;
  int smuxver = 1;  // kcptun 2025: 2
  int smuxbuf = 4194304;
  int streambuf = 2097152;
  int framesize = 32768;  // smux MaxFrameSize (kcptun 2021 keeps smux's default; 2025: 8192)
  int keepalive = 10;     // seconds between smux NOPs
  int ratelimit = 0;      // bytes/s per KCP session, 0 = unlimited (2025)
  // Not a kcptun setting: kcpd's --tunnel_congestion (docs/tunnel.md), the
  // congestion control of what this end sends (transport/options.h).
  std::string congestion = "bbr";
  int closewait = 0;      // seconds (2025 name; accepted, not used: kcptun 2021 behaviour)
  std::string log;
  std::string snmplog;
  int snmpperiod = 60;
  bool quiet = false;  // no per-stream open/close log lines
  bool tcp = false;
  bool pprof = false;
  bool qpp = false;   // -QPP, JSON "qpp"
  int qppcount = 61;  // -QPPCount, JSON "qpp-count"
};

// kcptun's defaults for `role` (docs/protocol.md §6.3).
KcptunConfig DefaultKcptunConfig(TunnelRole role);

// What the command line said besides settings.
struct KcptunFlags {
  std::string json_path;  // -c FILE ("" if absent)
  // Where the (last) -c flag is in the arguments and how many of them it
  // takes (1 for "-c=FILE", 2 for "-c FILE"), so a client can lift it out.
  int json_flag_index = -1;
  int json_flag_count = 0;
  bool help = false;                      // -h / --help
  bool version = false;                   // -v / --version
  std::vector<std::string> ignored_args;  // positional arguments (kcptun ignores them)
};

// Applies kcptun command-line arguments (without the program name) to
// `config`. `env_key` is $KCPTUN_KEY if set (it replaces the default key;
// an explicit -key wins). InvalidArgument with kcptun's own wording for
// unknown flags ("flag provided but not defined: -x"), missing values and
// unparsable numbers.
absl::StatusOr<KcptunFlags> ApplyKcptunFlags(absl::Span<const std::string> args,
                                             std::optional<std::string> env_key,
                                             KcptunConfig* config);

// Applies the text of a kcptun JSON config file to `config` (the keys
// present override; null and unknown keys change nothing). InvalidArgument
// naming the line and key for malformed JSON and type mismatches (Go's
// decoder refuses them too: "mtu" must be an integer, "nocomp" a bool...).
absl::Status ApplyKcptunJson(absl::string_view json, KcptunConfig* config);

// The last steps of kcptun's start-up: the -mode preset, the crypt fallback,
// then checks of every value kcpd will use. Appends what kcpd does
// differently from kcptun to `warnings`.
absl::Status FinishKcptunConfig(KcptunConfig* config, std::vector<std::string>* warnings);

// All of the above, as `kcptun-<role> args...` would: defaults, flags, the
// -c file (read with `read_file`, default: from disk, at most 1 MiB), then
// FinishKcptunConfig. Help and version requests are errors here
// (FailedPrecondition carrying the usage text / version line).
absl::StatusOr<KcptunConfig> LoadKcptunConfig(
    TunnelRole role, absl::Span<const std::string> args, std::optional<std::string> env_key,
    std::vector<std::string>* warnings,
    std::function<absl::StatusOr<std::string>(const std::string&)> read_file = nullptr);

// Reads a whole file of at most `max_size` bytes.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_size);

// kcptun's session settings (client createConn / server accept loop):
// stream mode, no write delay, nodelay parameters (interval clamped to
// 10..5000 ms as kcp-go does), windows, MTU, ack nodelay, DSCP, socket
// buffers, rate limit, FEC (off unless both shard counts are > 0), and the
// key derived as kcptun does (PBKDF2-HMAC-SHA1, §3.6).
transport::SessionOptions ToSessionOptions(const KcptunConfig& config);

// kcptun's smux settings: smux DefaultConfig with version, receive buffer,
// stream buffer, frame size and keepalive interval from `config`.
smux::Config ToSmuxConfig(const KcptunConfig& config);

// The settings as (kcptun name, value) pairs in kcptun's order, key masked
// ("***"); for logs and the API. Only the fields of the config's role.
std::vector<std::pair<std::string, std::string>> DescribeKcptunConfig(const KcptunConfig& config);

// kcptun-style usage text for `role` (every flag, its default, its meaning).
std::string KcptunUsage(TunnelRole role);

}  // namespace kcpp::service::tunnel

#endif  // KCPP_TUNNEL_KCPTUN_CONFIG_H_
