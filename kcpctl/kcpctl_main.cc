// kcpctl: the command-line client of kcpd's control API (kcpp.v1.Kcpd).
// `kcpctl help` lists the commands, options and exit codes; docs/kcpd.md has
// examples.
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "kcpd/internal/attach_protocol.h"
#include "kcpctl/cli_args.h"
#include "kcpctl/kcpctl_format.h"
#include "kcpd/internal/paths.h"
#include "kcpd/internal/proto_time.h"
#include "base/unix_socket.h"
#include "kcpctl/kcpctl_tunnels.h"

namespace kcpp::service {
namespace {

using internal::CliArgs;
using internal::OptionSpec;

constexpr char kUsage[] = R"(kcpctl: manage kcpd, the kcpp sidecar (docs/kcpd.md).

usage: kcpctl [--socket=PATH] [--json] [--timeout=DURATION] COMMAND ...

  listeners list
  listeners get LISTENER
  listeners create [ID] --address=IP:PORT [SESSION OPTIONS] [--backlog=N] [--max_sessions=N]
  listeners delete LISTENER [--close_sessions]
  sessions list [--listener=LISTENER] [--full]
  sessions get SESSION
  sessions dial IP:PORT [SESSION OPTIONS] [--conv=N]
  sessions update SESSION [--sndwnd=N] [--rcvwnd=N] [--mode=M] [--nodelay=N,I,R,NC]
                          [--acknodelay=BOOL] [--writedelay=BOOL] [--ratelimit=BYTES/S] [--dscp=N]
  sessions close SESSION
  streams open SESSION            another stream on a smux session
  streams close STREAM
  watch [--listener=L] [--session=S] [--types=T,...] [--stats_interval=5s] [--count=N]
  stats
  health [SERVICE]                    SERVING or NOT_SERVING (exit 0 only when SERVING):
                                      kcpd as a whole, or a service ("kcpp.v1.Kcpd")
  connect IP:PORT [SESSION OPTIONS]   dial, attach, copy stdin -> session -> stdout, then
                                      close the session (also on SIGINT / SIGTERM)
  accept LISTENER                     wait for a stream on LISTENER, attach, copy as connect
  attach TOKEN --path=SOCKET [--seqpacket]   attach to a stream by its token, copy as connect
  oob SESSION                         the session's OOB datagrams (FEC on; docs/kcpd.md):
                                      each stdin line is one datagram to the peer, each
                                      datagram from the peer one stdout line; ends at the
                                      end of stdin (empty lines are skipped)
  tunnels list [--full] | get T [--full] | delete T
  tunnels create [ID] client|server -- [kcptun-client|-server flags, -c FILE]
                                      kcptun-compatible tunnels (docs/tunnel.md)

Names: LISTENER is "listeners/ID" or just ID; SESSION "sessions/N" or N; STREAM
"sessions/N/streams/M".

Session options (kcptun's names): --crypt=aes|aes-128|...|none|null --key=PASSPHRASE
  --mode=normal|fast|fast2|fast3 --nodelay=N,I,R,NC (manual) --mtu=N --sndwnd=N --rcvwnd=N
  --datashard=N --parityshard=N --dscp=N --acknodelay --writedelay --streammode
  --framing=smux|raw --smuxver=1|2 --compression=none|snappy --ratelimit=BYTES/S
  --sockbuf=BYTES --keepalive=DURATION; kcpp's own: --congestion=bbr|kcp-go|none
  --fixedparity --replayprotection (AEAD, kcpp peers); --options='TEXTPROTO' (a
  kcpp.v1.SessionOptions, applied last)

Global options:
  --socket=PATH     kcpd's control socket (default $XDG_RUNTIME_DIR/kcpd/control.sock,
                    or /run/kcpd/control.sock)
  --json            print results as JSON (.proto field names; one object per line for watch)
  --timeout=10s     deadline of each call

Exit codes: 0 ok, 1 usage, 2 not found, 3 invalid argument, 4 permission denied,
5 kcpd unavailable, 6 already exists, 7 failed precondition (also a refused attach),
8 resource exhausted, 9 deadline exceeded, 10 other error.
)";

const std::vector<OptionSpec> kGlobal = {
    {"socket", true}, {"json", false}, {"timeout", true}, {"help", false}};
const std::vector<OptionSpec> kSessionOptions = {
    {"crypt", true},       {"key", true},     {"mode", true},        {"nodelay", true},
    {"mtu", true},         {"sndwnd", true},  {"rcvwnd", true},      {"datashard", true},
    {"parityshard", true}, {"dscp", true},    {"acknodelay", false}, {"writedelay", false},
    {"streammode", false}, {"framing", true}, {"smuxver", true},     {"compression", true},
    {"ratelimit", true},   {"sockbuf", true}, {"keepalive", true},   {"options", true},
    {"congestion", true},  {"fixedparity", false}, {"replayprotection", false}};
const std::vector<OptionSpec> kOther = {{"address", true},      {"backlog", true},
                                        {"max_sessions", true}, {"close_sessions", false},
                                        {"listener", true},     {"full", false},
                                        {"conv", true},         {"session", true},
                                        {"types", true},        {"stats_interval", true},
                                        {"count", true},        {"path", true},
                                        {"seqpacket", false}};

int Usage(const std::string& message) {
  std::cerr << "kcpctl: " << message << " (kcpctl help)\n";
  return internal::kExitUsage;
}

int Failed(const grpc::Status& status, const std::string& socket) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  std::cerr << "kcpctl: " << absl::StatusCodeToString(code) << ": " << status.error_message()
            << "\n";
  if (code == absl::StatusCode::kUnavailable &&
      !absl::StrContains(status.error_message(), "shutting down")) {
    std::cerr << "kcpctl: is kcpd running with its control socket at " << socket
              << "? (--socket=PATH to use another)\n";
  }
  return internal::ExitCodeFor(code);
}

std::string Qualify(absl::string_view collection, absl::string_view name) {
  if (absl::StrContains(name, '/')) return std::string(name);
  return absl::StrCat(collection, "/", name);
}

// Options whose presence matters: only the ones given are set.
absl::Status SessionOptionsFromArgs(const CliArgs& a, kcpp::v1::SessionOptions* o) {
  if (auto v = a.Get("crypt")) o->set_crypt(*v);
  if (auto v = a.Get("key")) o->set_key(*v);
  if (auto v = a.Get("mode")) {
    const std::string m = absl::AsciiStrToUpper(*v);
    kcpp::v1::Mode mode;
    if (!kcpp::v1::Mode_Parse("MODE_" + m, &mode) || mode == kcpp::v1::MODE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mode must be normal, fast, fast2, fast3 or manual, got \"", *v, "\""));
    }
    o->set_mode(mode);
  }
  if (auto v = a.Get("nodelay")) {
    std::vector<std::string> parts = absl::StrSplit(*v, ',');
    uint32_t n[4];
    bool ok = parts.size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) ok = absl::SimpleAtoi(parts[i], &n[i]);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nodelay wants NODELAY,INTERVAL_MS,RESEND,NC (e.g. 1,10,2,1), got \"", *v, "\""));
    }
    o->set_mode(kcpp::v1::MODE_MANUAL);
    o->mutable_nodelay()->set_nodelay(n[0]);
    o->mutable_nodelay()->set_interval_ms(n[1]);
    o->mutable_nodelay()->set_resend(n[2]);
    o->mutable_nodelay()->set_no_congestion_window(n[3] != 0);
  }
  const auto uint_option = [&](const char* name, auto setter) -> absl::Status {
    KCPP_ASSIGN_OR_RETURN(std::optional<uint64_t> v, a.GetUint(name, 0xFFFFFFFFu));
    if (v.has_value()) setter(static_cast<uint32_t>(*v));
    return absl::OkStatus();
  };
  KCPP_RETURN_IF_ERROR(uint_option("mtu", [&](uint32_t v) { o->set_mtu(v); }));
  KCPP_RETURN_IF_ERROR(uint_option("sndwnd", [&](uint32_t v) { o->set_send_window(v); }));
  KCPP_RETURN_IF_ERROR(uint_option("rcvwnd", [&](uint32_t v) { o->set_receive_window(v); }));
  KCPP_RETURN_IF_ERROR(uint_option("datashard", [&](uint32_t v) { o->set_data_shards(v); }));
  KCPP_RETURN_IF_ERROR(uint_option("parityshard", [&](uint32_t v) { o->set_parity_shards(v); }));
  KCPP_RETURN_IF_ERROR(uint_option("dscp", [&](uint32_t v) { o->set_dscp(v); }));
  KCPP_RETURN_IF_ERROR(uint_option("sockbuf", [&](uint32_t v) { o->set_socket_buffer_bytes(v); }));
  KCPP_RETURN_IF_ERROR(
      uint_option("smuxver", [&](uint32_t v) { o->mutable_smux()->set_version(v); }));
  KCPP_ASSIGN_OR_RETURN(std::optional<uint64_t> rate, a.GetUint("ratelimit", ~uint64_t{0}));
  if (rate.has_value()) o->set_rate_limit_bytes_per_second(*rate);
  if (auto v = a.Get("congestion")) {
    kcpp::v1::CongestionControl cc;
    std::string name = absl::AsciiStrToUpper(*v);
    absl::StrReplaceAll({{"-", "_"}}, &name);
    if (!kcpp::v1::CongestionControl_Parse("CONGESTION_CONTROL_" + name, &cc) ||
        cc == kcpp::v1::CONGESTION_CONTROL_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("--congestion must be bbr, kcp-go or none, got \"", *v, "\""));
    }
    o->set_congestion(cc);
  }
  KCPP_ASSIGN_OR_RETURN(std::optional<bool> fixed, a.GetBool("fixedparity"));
  if (fixed.has_value()) o->set_fec_fixed_parity(*fixed);
  KCPP_ASSIGN_OR_RETURN(std::optional<bool> replay, a.GetBool("replayprotection"));
  if (replay.has_value()) o->set_replay_protection(*replay);
  KCPP_ASSIGN_OR_RETURN(std::optional<bool> ack, a.GetBool("acknodelay"));
  if (ack.has_value()) o->set_ack_nodelay(*ack);
  KCPP_ASSIGN_OR_RETURN(std::optional<bool> wd, a.GetBool("writedelay"));
  if (wd.has_value()) o->set_write_delay(*wd);
  KCPP_ASSIGN_OR_RETURN(std::optional<bool> sm, a.GetBool("streammode"));
  if (sm.has_value()) o->set_stream_mode(*sm);
  if (auto v = a.Get("framing")) {
    if (*v == "smux") {
      o->set_framing(kcpp::v1::FRAMING_SMUX);
    } else if (*v == "raw") {
      o->set_framing(kcpp::v1::FRAMING_RAW);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--framing must be smux or raw, got \"", *v, "\""));
    }
  }
  if (auto v = a.Get("compression")) {
    if (*v == "none") {
      o->set_compression(kcpp::v1::COMPRESSION_NONE);
    } else if (*v == "snappy") {
      o->set_compression(kcpp::v1::COMPRESSION_SNAPPY);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--compression must be none or snappy, got \"", *v, "\""));
    }
  }
  KCPP_ASSIGN_OR_RETURN(std::optional<absl::Duration> keepalive, a.GetDuration("keepalive"));
  if (keepalive.has_value()) {
    internal::DurationToProto(*keepalive, o->mutable_smux()->mutable_keepalive_interval());
  }
  if (auto v = a.Get("options")) {
    kcpp::v1::SessionOptions extra;
    if (!google::protobuf::TextFormat::ParseFromString(*v, &extra)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--options is not a text-format kcpp.v1.SessionOptions: \"", *v, "\""));
    }
    o->MergeFrom(extra);
  }
  return absl::OkStatus();
}

// The data connection Pipe copies, for the signal handler; -1 otherwise.
volatile sig_atomic_t g_pipe_fd = -1;
volatile sig_atomic_t g_pipe_signal = 0;

// SIGINT / SIGTERM while piping: end the connection both ways, so that Pipe
// returns and `connect` still closes its session (only async-signal-safe
// calls here).
void StopPipe(int signal) {
  g_pipe_signal = signal;
  if (g_pipe_fd >= 0) ::shutdown(g_pipe_fd, SHUT_RDWR);
}

// While a pipe runs, SIGINT and SIGTERM shut its connection down (StopPipe);
// afterwards they are back to their defaults.
void CatchPipeSignals(int fd) {
  g_pipe_fd = fd;
  struct sigaction stop = {};
  stop.sa_handler = StopPipe;
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);
}

void ReleasePipeSignals() {
  g_pipe_fd = -1;
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

// Copies stdin to the attached connection (then half-closes it) and the
// connection to stdout, until both directions have ended: the far side ended
// the stream and everything from stdin was sent (or could not be). SIGINT or
// SIGTERM ends it early (exit status 128 + the signal).
int Pipe(UniqueFd connection) {
  const int fd = connection.get();
  CatchPipeSignals(fd);
  std::thread to_peer([fd] {
    std::vector<char> buf(256 << 10);
    while (true) {
      const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (::send(fd, buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::vector<char> buf(256 << 10);
  int result = internal::kExitOk;
  while (true) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bool ok = true;
    for (ssize_t done = 0; ok && done < n;) {
      const ssize_t w = ::write(STDOUT_FILENO, buf.data() + done, static_cast<size_t>(n - done));
      ok = w > 0;
      done += w;
    }
    if (!ok) {
      result = internal::kExitOther;
      break;
    }
  }
  // A second signal (say, while connect closes its session) ends kcpctl.
  ReleasePipeSignals();
  if (g_pipe_signal != 0) {
    to_peer.detach();  // it may sit in read(stdin) for ever; the process ends
    return 128 + g_pipe_signal;
  }
  to_peer.join();
  return result;
}

// `kcpctl oob`: each line of stdin (without its newline) is one packet, that
// is one OOB datagram, and each packet from kcpd one line of stdout, until
// stdin ends (then the attachment ends: kcpd closes it once it has read
// everything before the end) or a signal. Lines over `max` bytes are not
// sent (kcpd would drop them); empty ones neither (an empty packet would end
// the attachment).
int OobPipe(UniqueFd connection, size_t max) {
  const int fd = connection.get();
  CatchPipeSignals(fd);
  std::thread to_peer([fd, max] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      if (line.size() > max) {
        std::cerr << "kcpctl: a line of " << line.size()
                  << " bytes is over the session's OOB maximum of " << max << ": not sent\n";
        continue;
      }
      if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0) return;
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::vector<char> buf(65536);
  int result = internal::kExitOk;
  while (true) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::cout.write(buf.data(), n) << '\n' << std::flush;
    if (!std::cout) {
      result = internal::kExitOther;
      break;
    }
  }
  ReleasePipeSignals();
  if (g_pipe_signal != 0 || result != internal::kExitOk) {
    to_peer.detach();  // it may sit in read(stdin) for ever; the process ends
    return g_pipe_signal != 0 ? 128 + g_pipe_signal : result;
  }
  to_peer.join();
  return result;
}

// Refuses (exit 7) a socket path another uid could have swapped for its own
// socket (CheckSocketToConnect), before a request, passphrase or
// token is sent.
int RefusedSocket(const std::string& path) {
  const absl::Status s = CheckSocketToConnect(path, ::geteuid());
  if (s.ok()) return internal::kExitOk;
  std::cerr << "kcpctl: " << absl::StatusCodeToString(s.code()) << ": " << s.message() << "\n";
  return internal::ExitCodeFor(s.code());
}

// `oob_max` > 0: the attachment is a session's OOB datagrams (OobPipe).
int AttachAndPipe(const std::string& path, bool seqpacket, const std::string& token,
                  size_t oob_max = 0) {
  if (const int refused = RefusedSocket(path); refused != internal::kExitOk) return refused;
  absl::StatusOr<UniqueFd> fd =
      ConnectUnix(path, seqpacket ? SOCK_SEQPACKET : SOCK_STREAM);
  if (!fd.ok()) {
    std::cerr << "kcpctl: " << fd.status().message() << "\n";
    return internal::kExitUnavailable;
  }
  const std::string request = internal::FormatAttachRequest(token);
  if (::send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    std::cerr << "kcpctl: kcpd closed the data connection\n";
    return internal::kExitUnavailable;
  }
  // Read the answer byte by byte so no stream byte after it is consumed.
  std::string answer;
  internal::AttachResponseParse parse;
  while (parse.status == internal::AttachResponseParse::Status::kNeedMore) {
    char buf[internal::kMaxAttachResponseSize];
    const ssize_t n =
        seqpacket ? ::recv(fd->get(), buf, sizeof(buf), 0) : ::read(fd->get(), buf, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
    parse = internal::ParseAttachResponse(answer);
  }
  switch (parse.status) {
    case internal::AttachResponseParse::Status::kOk:
      return oob_max > 0 ? OobPipe(*std::move(fd), oob_max) : Pipe(*std::move(fd));
    case internal::AttachResponseParse::Status::kRefused:
      std::cerr << "kcpctl: attach refused: " << parse.reason << "\n";
      return internal::kExitFailedPrecondition;
    default:
      std::cerr << "kcpctl: kcpd did not answer the attach request properly\n";
      return internal::kExitOther;
  }
}

class Client {
 public:
  Client(std::string socket, absl::Duration timeout, bool json)
      : socket_(std::move(socket)),
        timeout_(timeout),
        json_(json),
        stub_(kcpp::v1::Kcpd::NewStub(
            grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()))) {}

  // One unary call with the deadline.
  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    return (stub_.get()->*method)(&context, request, response);
  }

  int Print(const google::protobuf::Message& m, const std::string& human) {
    std::cout << (json_ ? internal::ToJson(m, false) : human);
    return internal::kExitOk;
  }

  int Run(const std::vector<std::string>& words, const CliArgs& a);

 private:
  int Listeners(const std::vector<std::string>& w, const CliArgs& a);
  int Sessions(const std::vector<std::string>& w, const CliArgs& a);
  int Streams(const std::vector<std::string>& w, const CliArgs& a);
  int Watch(const CliArgs& a);
  int Connect(const std::vector<std::string>& w, const CliArgs& a);
  int Accept(const std::vector<std::string>& w);
  int Oob(const std::vector<std::string>& w);
  int Health(const std::string& service);
  int Fail(const grpc::Status& s) { return Failed(s, socket_); }

  const std::string socket_;
  const absl::Duration timeout_;
  const bool json_;
  std::unique_ptr<kcpp::v1::Kcpd::Stub> stub_;
};

int Client::Run(const std::vector<std::string>& w, const CliArgs& a) {
  const std::string& command = w[0];
  if (command == "listeners") return Listeners(w, a);
  if (command == "sessions") return Sessions(w, a);
  if (command == "streams") return Streams(w, a);
  if (command == "watch") {
    if (w.size() != 1) return Usage("watch takes no arguments");
    return Watch(a);
  }
  if (command == "tunnels") {  // kcptun-compatible tunnels (tunnel/)
    return tunnel::RunKcpctlTunnels(w, {socket_, timeout_, json_, a.Has("full")});
  }
  if (command == "stats") {
    if (w.size() != 1) return Usage("stats takes no arguments");
    kcpp::v1::Stats stats;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::GetStats, kcpp::v1::GetStatsRequest(), &stats);
    if (!s.ok()) return Fail(s);
    return Print(stats, internal::DescribeStats(stats));
  }
  if (command == "health") {
    if (w.size() > 2) return Usage("health takes at most one SERVICE");
    return Health(w.size() == 2 ? w[1] : "");
  }
  if (command == "connect") return Connect(w, a);
  if (command == "accept") return Accept(w);
  if (command == "oob") return Oob(w);
  if (command == "attach") {
    if (w.size() != 2 || !a.Has("path")) return Usage("attach needs TOKEN and --path=SOCKET");
    return AttachAndPipe(*a.Get("path"), a.Has("seqpacket"), w[1]);
  }
  return Usage(absl::StrCat("unknown command \"", command, "\""));
}

// grpc.health.v1.Health/Check, the probe Kubernetes and load balancers use.
int Client::Health(const std::string& service) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status s = health->Check(&context, request, &response);
  if (!s.ok()) return Fail(s);  // NOT_FOUND: kcpd has no such service
  Print(response,
        absl::StrCat(grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()),
                     "\n"));
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? internal::kExitOk
             : internal::kExitUnavailable;
}

int Client::Listeners(const std::vector<std::string>& w, const CliArgs& a) {
  if (w.size() < 2) return Usage("listeners needs list, get, create or delete");
  const std::string& verb = w[1];
  if (verb == "list") {
    kcpp::v1::ListListenersRequest request;
    request.set_page_size(1000);
    kcpp::v1::ListListenersResponse all;
    do {
      kcpp::v1::ListListenersResponse page;
      grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::ListListeners, request, &page);
      if (!s.ok()) return Fail(s);
      for (auto& l : *page.mutable_listeners()) *all.add_listeners() = std::move(l);
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    return Print(all, internal::ListenersTable({all.listeners().begin(), all.listeners().end()}));
  }
  if (verb == "get" && w.size() == 3) {
    kcpp::v1::GetListenerRequest request;
    request.set_name(Qualify("listeners", w[2]));
    kcpp::v1::Listener l;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::GetListener, request, &l);
    if (!s.ok()) return Fail(s);
    return Print(l, internal::DescribeListener(l));
  }
  if (verb == "create" && w.size() <= 3) {
    kcpp::v1::CreateListenerRequest request;
    if (w.size() == 3) request.set_listener_id(w[2]);
    if (!a.Has("address")) return Usage("listeners create needs --address=IP:PORT");
    request.mutable_listener()->set_address(*a.Get("address"));
    absl::Status parsed =
        SessionOptionsFromArgs(a, request.mutable_listener()->mutable_session_options());
    if (!parsed.ok()) return Usage(std::string(parsed.message()));
    auto backlog = a.GetUint("backlog", 0xFFFFFFFFu);
    auto max_sessions = a.GetUint("max_sessions", 0xFFFFFFFFu);
    if (!backlog.ok()) return Usage(std::string(backlog.status().message()));
    if (!max_sessions.ok()) return Usage(std::string(max_sessions.status().message()));
    if (backlog->has_value()) request.mutable_listener()->set_accept_backlog(**backlog);
    if (max_sessions->has_value()) request.mutable_listener()->set_max_sessions(**max_sessions);
    kcpp::v1::Listener l;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::CreateListener, request, &l);
    if (!s.ok()) return Fail(s);
    return Print(l, internal::DescribeListener(l));
  }
  if (verb == "delete" && w.size() == 3) {
    kcpp::v1::DeleteListenerRequest request;
    request.set_name(Qualify("listeners", w[2]));
    request.set_close_sessions(a.Has("close_sessions"));
    google::protobuf::Empty empty;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::DeleteListener, request, &empty);
    if (!s.ok()) return Fail(s);
    return Print(empty, absl::StrCat("deleted ", request.name(), "\n"));
  }
  return Usage(absl::StrCat("bad arguments for listeners ", verb));
}

int Client::Sessions(const std::vector<std::string>& w, const CliArgs& a) {
  if (w.size() < 2) return Usage("sessions needs list, get, dial, update or close");
  const std::string& verb = w[1];
  if (verb == "list" && w.size() == 2) {
    kcpp::v1::ListSessionsRequest request;
    request.set_page_size(1000);
    if (auto l = a.Get("listener")) request.set_listener(Qualify("listeners", *l));
    request.set_view(a.Has("full") ? kcpp::v1::SESSION_VIEW_FULL : kcpp::v1::SESSION_VIEW_BASIC);
    kcpp::v1::ListSessionsResponse all;
    do {
      kcpp::v1::ListSessionsResponse page;
      grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::ListSessions, request, &page);
      if (!s.ok()) return Fail(s);
      for (auto& x : *page.mutable_sessions()) *all.add_sessions() = std::move(x);
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    const std::vector<kcpp::v1::Session> sessions(all.sessions().begin(), all.sessions().end());
    // --full: what `sessions get` says of each (options, counters, streams),
    // which the table has no room for.
    return Print(all, a.Has("full") ? internal::SessionsDescriptions(sessions)
                                    : internal::SessionsTable(sessions));
  }
  if (verb == "get" && w.size() == 3) {
    kcpp::v1::GetSessionRequest request;
    request.set_name(Qualify("sessions", w[2]));
    kcpp::v1::Session session;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::GetSession, request, &session);
    if (!s.ok()) return Fail(s);
    return Print(session, internal::DescribeSession(session));
  }
  if (verb == "dial" && w.size() == 3) {
    kcpp::v1::DialSessionRequest request;
    request.set_remote_address(w[2]);
    absl::Status parsed = SessionOptionsFromArgs(a, request.mutable_options());
    if (!parsed.ok()) return Usage(std::string(parsed.message()));
    auto conv = a.GetUint("conv", 0xFFFFFFFFu);
    if (!conv.ok()) return Usage(std::string(conv.status().message()));
    if (conv->has_value()) request.set_conv(static_cast<uint32_t>(**conv));
    kcpp::v1::DialSessionResponse d;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::DialSession, request, &d);
    if (!s.ok()) return Fail(s);
    return Print(d, internal::DescribeSession(d.session()) + internal::DescribeStream(d.stream()));
  }
  if (verb == "update" && w.size() == 3) {
    kcpp::v1::UpdateSessionRequest request;
    request.mutable_session()->set_name(Qualify("sessions", w[2]));
    kcpp::v1::SessionOptions* o = request.mutable_session()->mutable_options();
    absl::Status parsed = SessionOptionsFromArgs(a, o);
    if (!parsed.ok()) return Usage(std::string(parsed.message()));
    const std::vector<std::pair<const char*, const char*>> paths = {
        {"sndwnd", "options.send_window"},
        {"rcvwnd", "options.receive_window"},
        {"mode", "options.mode"},
        {"nodelay", "options.nodelay"},
        {"acknodelay", "options.ack_nodelay"},
        {"writedelay", "options.write_delay"},
        {"ratelimit", "options.rate_limit_bytes_per_second"},
        {"dscp", "options.dscp"}};
    for (const auto& [flag, path] : paths) {
      if (a.Has(flag)) request.mutable_update_mask()->add_paths(path);
    }
    if (a.Has("nodelay")) {  // --nodelay sets mode manual; the mask names nodelay alone
      request.mutable_session()->mutable_options()->set_mode(kcpp::v1::MODE_MANUAL);
    }
    kcpp::v1::Session session;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::UpdateSession, request, &session);
    if (!s.ok()) return Fail(s);
    return Print(session, internal::DescribeSession(session));
  }
  if (verb == "close" && w.size() == 3) {
    kcpp::v1::CloseSessionRequest request;
    request.set_name(Qualify("sessions", w[2]));
    google::protobuf::Empty empty;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::CloseSession, request, &empty);
    if (!s.ok()) return Fail(s);
    return Print(empty, absl::StrCat("closing ", request.name(), "\n"));
  }
  return Usage(absl::StrCat("bad arguments for sessions ", verb));
}

int Client::Streams(const std::vector<std::string>& w, const CliArgs& a) {
  if (w.size() == 3 && w[1] == "open") {
    kcpp::v1::OpenStreamRequest request;
    request.set_parent(Qualify("sessions", w[2]));
    kcpp::v1::Stream stream;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::OpenStream, request, &stream);
    if (!s.ok()) return Fail(s);
    return Print(stream, internal::DescribeStream(stream));
  }
  if (w.size() == 3 && w[1] == "close") {
    kcpp::v1::CloseStreamRequest request;
    request.set_name(w[2]);
    google::protobuf::Empty empty;
    grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::CloseStream, request, &empty);
    if (!s.ok()) return Fail(s);
    return Print(empty, absl::StrCat("closed ", request.name(), "\n"));
  }
  return Usage("streams needs open SESSION or close STREAM");
}

int Client::Watch(const CliArgs& a) {
  kcpp::v1::WatchSessionEventsRequest request;
  if (auto l = a.Get("listener")) request.set_listener(Qualify("listeners", *l));
  if (auto s = a.Get("session")) request.set_session(Qualify("sessions", *s));
  if (auto types = a.Get("types")) {
    for (absl::string_view t : absl::StrSplit(*types, ',')) {
      kcpp::v1::SessionEvent::Type type;
      if (!kcpp::v1::SessionEvent::Type_Parse(absl::AsciiStrToUpper(t), &type)) {
        return Usage(absl::StrCat("--types: unknown event type \"", t, "\""));
      }
      request.add_types(type);
    }
  }
  auto interval = a.GetDuration("stats_interval");
  if (!interval.ok()) return Usage(std::string(interval.status().message()));
  if (interval->has_value()) {
    internal::DurationToProto(**interval, request.mutable_stats_interval());
  }
  auto count = a.GetUint("count", ~uint64_t{0});
  if (!count.ok()) return Usage(std::string(count.status().message()));

  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<kcpp::v1::SessionEvent>> reader =
      stub_->WatchSessionEvents(&context, request);
  reader->WaitForInitialMetadata();
  std::cerr << "kcpctl: watching\n" << std::flush;  // (stderr: JSON output stays clean)
  kcpp::v1::SessionEvent event;
  uint64_t seen = 0;
  while (reader->Read(&event)) {
    std::cout << (json_ ? internal::ToJson(event, true) : internal::EventLine(event) + "\n")
              << std::flush;
    if (count->has_value() && ++seen == **count) {
      context.TryCancel();
      return internal::kExitOk;
    }
  }
  grpc::Status s = reader->Finish();
  return s.ok() ? internal::kExitOk : Fail(s);
}

int Client::Connect(const std::vector<std::string>& w, const CliArgs& a) {
  if (w.size() != 2) return Usage("connect needs IP:PORT");
  kcpp::v1::DialSessionRequest request;
  request.set_remote_address(w[1]);
  absl::Status parsed = SessionOptionsFromArgs(a, request.mutable_options());
  if (!parsed.ok()) return Usage(std::string(parsed.message()));
  kcpp::v1::DialSessionResponse d;
  grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::DialSession, request, &d);
  if (!s.ok()) return Fail(s);
  std::cerr << "kcpctl: dialled " << d.session().name() << " to " << d.session().remote_address()
            << ", attaching " << d.stream().name() << "\n";
  const auto& att = d.stream().attachment();
  const int result =
      AttachAndPipe(att.socket_path(),
                    att.socket_type() == kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET,
                    att.token());
  // The session was dialled for this pipe alone: close it rather than leave
  // it open with no stream on both daemons (kcpd flushes what is in flight,
  // and a kcpd peer ends its side at once, SESSION_CLOSED_BY_PEER). The pipe
  // ends when this side has written its last byte and read the peer's
  // end-of-file, which can be before kcpd has read that last byte from the
  // connection; CloseSession stops reading at once, so after a normal end
  // wait (bounded) for kcpd to finish the stream first.
  if (result == internal::kExitOk) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    kcpp::v1::GetSessionRequest get;
    get.set_name(d.session().name());
    for (;;) {
      kcpp::v1::Session now;
      if (!Call(&kcpp::v1::Kcpd::Stub::GetSession, get, &now).ok() || now.stream_count() == 0) {
        break;
      }
      if (absl::Now() >= give_up) {
        std::cerr << "kcpctl: " << d.stream().name()
                  << " still has bytes in kcpd after 30 s; closing the session anyway\n";
        break;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  kcpp::v1::CloseSessionRequest close;
  close.set_name(d.session().name());
  google::protobuf::Empty empty;
  const grpc::Status closed = Call(&kcpp::v1::Kcpd::Stub::CloseSession, close, &empty);
  // NOT_FOUND: it ended already (its peer closed it, or it failed).
  if (!closed.ok() && closed.error_code() != grpc::StatusCode::NOT_FOUND) {
    std::cerr << "kcpctl: could not close " << d.session().name() << ": " << closed.error_message()
              << " (it stays open until its idle timeout, or `kcpctl sessions close "
              << d.session().name() << "`)\n";
  }
  return result;
}

int Client::Oob(const std::vector<std::string>& w) {
  if (w.size() != 2) return Usage("oob needs SESSION");
  kcpp::v1::GetSessionRequest get;
  get.set_name(Qualify("sessions", w[1]));
  kcpp::v1::Session session;
  grpc::Status s = Call(&kcpp::v1::Kcpd::Stub::GetSession, get, &session);
  if (!s.ok()) return Fail(s);
  kcpp::v1::AttachOobRequest request;
  request.set_session(session.name());
  kcpp::v1::DataAttachment att;
  s = Call(&kcpp::v1::Kcpd::Stub::AttachOob, request, &att);
  if (!s.ok()) return Fail(s);
  std::cerr << "kcpctl: attaching the OOB datagrams of " << session.name() << " (at most "
            << session.oob_max_datagram_size() << " bytes each)\n";
  return AttachAndPipe(att.socket_path(), /*seqpacket=*/true, att.token(),
                       std::max<size_t>(session.oob_max_datagram_size(), 1));
}

int Client::Accept(const std::vector<std::string>& w) {
  if (w.size() != 2) return Usage("accept needs LISTENER");
  kcpp::v1::WatchSessionEventsRequest request;
  request.set_listener(Qualify("listeners", w[1]));
  request.add_types(kcpp::v1::SessionEvent::STREAM_ACCEPTED);
  grpc::ClientContext context;
  auto reader = stub_->WatchSessionEvents(&context, request);
  // kcpd sends initial metadata once the watch is registered: from here on
  // no stream can be missed.
  reader->WaitForInitialMetadata();
  std::cerr << "kcpctl: waiting for a stream on " << request.listener() << "\n" << std::flush;
  kcpp::v1::SessionEvent event;
  if (!reader->Read(&event)) return Fail(reader->Finish());
  context.TryCancel();
  std::cerr << "kcpctl: accepted " << event.stream().name() << " from "
            << event.session().remote_address() << "\n";
  const auto& att = event.stream().attachment();
  return AttachAndPipe(att.socket_path(),
                       att.socket_type() == kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET,
                       att.token());
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::vector<OptionSpec> known = kGlobal;
  known.insert(known.end(), kSessionOptions.begin(), kSessionOptions.end());
  known.insert(known.end(), kOther.begin(), kOther.end());
  absl::StatusOr<CliArgs> a = CliArgs::Parse({argv + 1, argv + argc}, known);
  if (!a.ok()) return Usage(std::string(a.status().message()));
  const std::vector<std::string>& words = a->positional();
  if (a->Has("help") || words.empty() || words[0] == "help") {
    std::cout << kUsage;
    return words.empty() && !a->Has("help") ? internal::kExitUsage : internal::kExitOk;
  }
  auto timeout = a->GetDuration("timeout");
  if (!timeout.ok()) return Usage(std::string(timeout.status().message()));
  auto json = a->GetBool("json");
  if (!json.ok()) return Usage(std::string(json.status().message()));
  const std::string socket = a->Get("socket").value_or(internal::DefaultControlSocket());
  if (words[0] != "attach") {  // attach uses only the data socket, checked there
    if (const int refused = RefusedSocket(socket); refused != internal::kExitOk) return refused;
  }
  Client client(socket, timeout->value_or(absl::Seconds(10)), json->value_or(false));
  return client.Run(words, *a);
}

}  // namespace
}  // namespace kcpp::service

int main(int argc, char** argv) { return kcpp::service::Main(argc, argv); }
