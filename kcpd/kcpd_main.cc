// kcpd: the kcpp sidecar. Serves the kcpp.v1.Kcpd control API on a Unix
// socket and applications' session bytes on data sockets; see docs/kcpd.md.
//
//   kcpd                                  # sockets in $XDG_RUNTIME_DIR/kcpd or /run/kcpd
//   kcpd --config=/etc/kcpd/kcpd.textproto --allow_uid=1000,1001
//
// Exit status: 0 after a clean shutdown (SIGTERM / SIGINT), 1 if it could
// not start (bad flags included; the last line on stderr says why).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "base/unix_socket.h"
#include "kcpd/control_plane.h"
#include "kcpd/control_socket_server.h"
#include "kcpd/data_socket_acceptor.h"
#include "kcpd/health/health.h"
#include "kcpd/internal/call_tracker.h"
#include "kcpd/internal/config_file.h"
#include "kcpd/internal/limit_flags.h"
#include "kcpd/internal/paths.h"
#include "kcpd/internal/request_parse_interceptor.h"
#include "kcpd/internal/test_backends.h"
#include "kcpd/kcpd_grpc_service.h"
#include "kcpd/metrics/collector.h"
#include "kcpd/metrics/endpoint.h"
#include "kcpd/transport_backend.h"
#include "proto/kcpp/v1/tunnel.grpc.pb.h"
#include "tunnel/kcpd_tunnels.h"

ABSL_FLAG(std::string, control_socket, "",
          "Path of the control socket (gRPC). Default: <socket dir>/control.sock, where the "
          "socket dir is $XDG_RUNTIME_DIR/kcpd, or /run/kcpd without XDG_RUNTIME_DIR.");
ABSL_FLAG(std::string, data_socket_dir, "",
          "Directory of the data sockets (data.sock, data-seqpacket.sock). Default: the control "
          "socket's directory.");
ABSL_FLAG(std::vector<std::string>, allow_uid, {},
          "Comma-separated uids allowed to use kcpd besides its own (checked with SO_PEERCRED "
          "on every control and data connection). With other uids allowed, sockets are created "
          "mode 0666 and new socket directories 0711 so those users can reach them.");
ABSL_FLAG(std::string, config, "",
          "Text-format kcpp.v1.KcpdConfig file with listeners to create at start-up (and more "
          "allowed uids). See docs/kcpd.md.");
ABSL_FLAG(int, loops, 0, "Event-loop threads of the transport (0 = one per CPU core).");
ABSL_FLAG(int, io_threads, 0,
          "Where smux and the pumps between sessions and applications' sockets run: 0 (default) "
          "= on each session's own transport loop (no thread hand-off); N = on N threads of "
          "kcpd's own (keeps socket copies off the KCP threads, at two hand-offs per burst).");
ABSL_FLAG(int, busy_poll_us, kcpp::transport::EngineOptions{}.busy_poll_us,
          "Microseconds a transport loop polls for the next datagram before it sleeps, while "
          "such polls keep catching one (cuts wake-up latency; sparse traffic stops polling "
          "by itself). 0 never polls; at most 1000.");
ABSL_FLAG(int, v, 0,
          "Log verbosity: -1 warnings and errors only, 0 what happens (default), 1 debug.");
ABSL_FLAG(std::string, backend, "transport",
          "Data plane: \"transport\" (UDP/KCP), the only one of this kcpd.");
ABSL_FLAG(absl::Duration, attach_timeout, absl::Seconds(30),
          "How long an attach token stays valid; a stream nobody attached to by then is closed.");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(10),
          "On SIGTERM, how long sessions may flush unacknowledged data before they are dropped.");
ABSL_FLAG(absl::Duration, control_shutdown_grace, absl::Seconds(2),
          "On SIGTERM, how long control calls still running (a watch, a call that arrived "
          "just then) may finish before they are cancelled. Idle control connections are "
          "closed at once: they do not wait.");
ABSL_FLAG(int, max_control_connections_per_uid, 64,
          "Control connections one uid may have open at a time (refused ones included); one "
          "more is closed unanswered. Each costs kcpd two file descriptors.");
ABSL_FLAG(int, max_control_connections, 1024,
          "Control connections open at a time, all uids together; one more is closed "
          "unanswered.");
ABSL_FLAG(std::string, metrics_address, "",
          "Serve Prometheus metrics at http://ADDRESS/metrics: IPV4:PORT, or :PORT for "
          "127.0.0.1:PORT (loopback); port 0 picks a free one (logged). Empty (default): no "
          "metrics endpoint. It has no authentication: see docs/kcpd.md \"Metrics\".");
ABSL_FLAG(int, metrics_max_session_series, 100,
          "Per-session metric series for at most this many live sessions, the oldest; the rest "
          "count in the process-wide totals. 0..10000; 0: none.");
ABSL_FLAG(int, ready_fd, -1,
          "If >= 0, write \"ready\\n\" to this file descriptor (then close it) once kcpd "
          "serves; for scripts and tests. Under systemd (NOTIFY_SOCKET), READY=1 is sent too.");

namespace kcpp::service {
namespace {


constexpr char kVersion[] = "kcpd 0.1.0";

// Adapts ControlPlane to the data-socket acceptor.
class AttachHandler final : public DataSocketAcceptor::Handler {
 public:
  explicit AttachHandler(ControlPlane* plane) : plane_(plane) {}
  absl::StatusOr<StreamRef> Redeem(absl::string_view token,
                                   internal::AttachSocketKind kind) override {
    return plane_->RedeemAttachToken(token, kind);
  }
  void Attach(StreamRef stream, UniqueFd connection) override {
    plane_->CompleteAttach(stream, std::move(connection));
  }
  void Refused() override { plane_->CountRefusedAttachment(); }

 private:
  ControlPlane* const plane_;
};

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// systemd's readiness protocol (sd_notify), without linking libsystemd.
void NotifySystemd(absl::string_view state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || socket_path[0] == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(socket_path);
  if (len >= sizeof(addr.sun_path)) return;
  std::memcpy(addr.sun_path, socket_path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return;
  (void)!::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr),
                  static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
}

// Raises the soft limit on open files to the hard one: kcpd's connections,
// listeners and sessions all take descriptors, and the soft default (often
// 1024) is far below what the hard limit allows. Connection caps keep any one
// uid from taking them all.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0 && LogEnabled(LogLevel::kDebug)) {
    Log(LogLevel::kDebug, absl::StrCat("raised the open-files limit from ", before, " to ",
                                       static_cast<uint64_t>(limit.rlim_cur)));
  }
}

int Fail(const absl::Status& status) {
  Log(LogLevel::kError, std::string(status.message()));
  return 1;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kcpd: the kcpp sidecar. Applications manage KCP sessions through its gRPC API on a Unix "
      "socket (see kcpctl) and move bytes over its data sockets. Docs: docs/kcpd.md.");
  // "kcpd [flags] tunnel client|server [kcptun flags]" (docs/tunnel.md).
  absl::StatusOr<tunnel::TunnelCommand> tunnel_command = tunnel::ExtractTunnelCommand(&argc, argv);
  if (!tunnel_command.ok()) {
    std::fprintf(stderr, "kcpd: %s\n", std::string(tunnel_command.status().message()).c_str());
    return 1;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "kcpd: unexpected argument \"%s\" (kcpd takes only flags; --help)\n",
                 positional[1]);
    return 1;
  }
  const int v = absl::GetFlag(FLAGS_v);
  SetLogLevel(v < 0 ? LogLevel::kWarning : v == 0 ? LogLevel::kInfo : LogLevel::kDebug);

  // Signals are taken synchronously by the main thread (sigwait); every
  // thread created from here on inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();

  // Who may connect.
  std::vector<uid_t> allowed;
  for (const std::string& text : absl::GetFlag(FLAGS_allow_uid)) {
    uint32_t uid = 0;
    if (!absl::SimpleAtoi(text, &uid)) {
      std::fprintf(stderr, "kcpd: --allow_uid wants numeric uids, got \"%s\"\n", text.c_str());
      return 1;
    }
    allowed.push_back(uid);
  }
  kcpp::v1::KcpdConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::StatusOr<kcpp::v1::KcpdConfig> loaded =
        internal::LoadKcpdConfig(absl::GetFlag(FLAGS_config));
    if (!loaded.ok()) return Fail(loaded.status());
    config = *std::move(loaded);
    for (uint32_t uid : config.allow_uids()) allowed.push_back(uid);
  }
  const UidAllowList allow(::geteuid(), allowed);
  const bool others_allowed = allow.ToString() != absl::StrCat(::geteuid());
  const mode_t socket_mode = others_allowed ? 0666 : 0600;
  const mode_t dir_mode = others_allowed ? 0711 : 0700;

  // Where.
  std::string control_path = absl::GetFlag(FLAGS_control_socket);
  if (control_path.empty()) control_path = internal::DefaultControlSocket();
  if (control_path[0] != '/') {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--control_socket must be an absolute path, got \"", control_path, "\"")));
  }
  std::string data_dir = absl::GetFlag(FLAGS_data_socket_dir);
  if (data_dir.empty()) data_dir = Dirname(control_path);
  for (const std::string& dir : {Dirname(control_path), data_dir}) {
    const absl::Status s = EnsurePrivateDirectory(dir, dir_mode);
    if (!s.ok()) return Fail(s);
    // ... and no directory above it may be one another uid could rename.
    const absl::StatusOr<uid_t> owner =
        CheckSocketPath(dir + "/" + internal::kControlSocketName, ::geteuid());
    if (!owner.ok()) return Fail(owner.status());
    struct stat st {};
    if (others_allowed && ::stat(dir.c_str(), &st) == 0 && (st.st_mode & 0011) == 0) {
      Log(LogLevel::kWarning, absl::StrCat("other uids are allowed but cannot reach ", dir,
                                           " (no search permission for them); chmod 711 it"));
    }
  }
  const std::string stream_path = data_dir + "/" + internal::kStreamSocketName;
  const std::string seqpacket_path = data_dir + "/" + internal::kSeqpacketSocketName;

  if (absl::GetFlag(FLAGS_max_control_connections_per_uid) < 1 ||
      absl::GetFlag(FLAGS_max_control_connections) < 1 ||
      absl::GetFlag(FLAGS_max_control_connections_per_uid) >
          absl::GetFlag(FLAGS_max_control_connections)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--max_control_connections_per_uid (", absl::GetFlag(FLAGS_max_control_connections_per_uid),
        ") must be 1..--max_control_connections (", absl::GetFlag(FLAGS_max_control_connections),
        ")")));
  }

  std::optional<std::string> metrics_address;
  if (!absl::GetFlag(FLAGS_metrics_address).empty()) {
    absl::StatusOr<std::string> parsed =
        kcpd::metrics::ParseMetricsAddress(absl::GetFlag(FLAGS_metrics_address));
    if (!parsed.ok()) return Fail(parsed.status());
    metrics_address = *std::move(parsed);
  }
  const int max_session_series = absl::GetFlag(FLAGS_metrics_max_session_series);
  if (max_session_series < 0 || max_session_series > 10000) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--metrics_max_session_series must be 0..10000, got ", max_session_series)));
  }

  // The data plane.
  const int loops = absl::GetFlag(FLAGS_loops);
  if (loops < 0 || loops > 1024) {
    std::fprintf(stderr, "kcpd: --loops must be 0..1024 (0 = one per core), got %d\n", loops);
    return 1;
  }
  if (absl::GetFlag(FLAGS_io_threads) < 0 || absl::GetFlag(FLAGS_io_threads) > 1024) {
    std::fprintf(stderr, "kcpd: --io_threads must be 0..1024 (0 = as many as --loops), got %d\n",
                 absl::GetFlag(FLAGS_io_threads));
    return 1;
  }
  std::unique_ptr<SessionBackend> backend;
  const std::string backend_name = absl::GetFlag(FLAGS_backend);
  if (backend_name == "transport") {
    absl::StatusOr<std::unique_ptr<TransportBackend>> transport =
        TransportBackend::Create({.loops = loops,
                                  .io_threads = absl::GetFlag(FLAGS_io_threads),
                                  .busy_poll_us = absl::GetFlag(FLAGS_busy_poll_us)});
    if (!transport.ok()) return Fail(transport.status());
    backend = *std::move(transport);
  } else {
    // Only test builds of kcpd have other backends (internal/test_backends.h).
    absl::StatusOr<std::unique_ptr<SessionBackend>> test_backend =
        internal::MakeTestBackend(backend_name);
    if (!test_backend.ok()) {
      std::fprintf(stderr, "kcpd: %s\n", std::string(test_backend.status().message()).c_str());
      return 1;
    }
    backend = *std::move(test_backend);
    Log(LogLevel::kWarning, absl::StrCat("using the test backend \"", backend_name,
                                         "\": no UDP traffic; for tests only"));
  }

  // The control plane and its gRPC face. Servers without listening ports:
  // connections come from ControlSocketServer after their uid was checked.
  ControlPlaneOptions plane_options;
  plane_options.stream_socket_path = stream_path;
  plane_options.seqpacket_socket_path = seqpacket_path;
  plane_options.attach_timeout = absl::GetFlag(FLAGS_attach_timeout);
  plane_options.version = kVersion;
  if (absl::Status s = internal::ApplyLimitFlags(&plane_options); !s.ok()) return Fail(s);
  if (plane_options.attach_timeout < absl::Seconds(1)) {
    return Fail(absl::InvalidArgumentError("--attach_timeout must be at least 1s"));
  }
  auto plane = std::make_unique<ControlPlane>(backend.get(), plane_options);
  KcpdGrpcService service(plane.get());
  DenyAllService deny(
      absl::StrCat("your uid is not allowed to use this kcpd (allowed uids: ", allow.ToString(),
                   "); its operator can add it with --allow_uid"));
  // kcptun-compatible tunnels: their own loops and engine, the same socket.
  absl::StatusOr<std::unique_ptr<tunnel::KcpdTunnels>> tunnels = tunnel::KcpdTunnels::Create(
      [](int level, const std::string& m) { Log(static_cast<LogLevel>(level), m); });
  if (!tunnels.ok()) return Fail(tunnels.status());
  // grpc.health.v1.Health and server reflection on the control server, for
  // probes and grpcurl; not on the deny server (kcpd/health/health.h).
  kcpd::EnableHealthAndReflection();
  // Calls in flight on both servers: at shutdown, idle connections must not
  // hold kcpd for the grace period (internal/call_tracker.h).
  internal::CallTracker calls;
  grpc::ServerBuilder builder;
  {
    // Unparsable requests get INVALID_ARGUMENT, not gRPC's bare UNIMPLEMENTED.
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(calls.NewInterceptorFactory());
    f.push_back(std::make_unique<internal::UnparsableRequestInterceptorFactory>());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  builder.RegisterService(&service);
  builder.RegisterService((*tunnels)->service());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  grpc::ServerBuilder deny_builder;
  kcpd::WithoutHealthOrReflection(&deny_builder);
  deny_builder.RegisterCallbackGenericService(&deny);
  {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(calls.NewInterceptorFactory());
    deny_builder.experimental().SetInterceptorCreators(std::move(f));
  }
  std::unique_ptr<grpc::Server> deny_server = deny_builder.BuildAndStart();
  if (server == nullptr || deny_server == nullptr) {
    return Fail(absl::InternalError("could not start the gRPC server"));
  }

  // Listeners declared in the config file, through the API's own checks.
  for (const kcpp::v1::KcpdConfig::DeclaredListener& declared : config.listeners()) {
    kcpp::v1::CreateListenerRequest request;
    request.set_listener_id(declared.id());
    *request.mutable_listener() = declared.listener();
    kcpp::v1::Listener created;
    const absl::Status s = plane->CreateListener(request, &created);
    if (!s.ok()) {
      return Fail(absl::Status(s.code(), absl::StrCat(absl::GetFlag(FLAGS_config), ": listener \"",
                                                      declared.id(), "\": ", s.message())));
    }
  }

  if (absl::Status s = (*tunnels)->StartCommandTunnel(*tunnel_command); !s.ok()) return Fail(s);

  AttachHandler attach_handler(plane.get());
  DataSocketAcceptor::Options data_options;
  data_options.stream_socket_path = stream_path;
  data_options.seqpacket_socket_path = seqpacket_path;
  data_options.socket_mode = socket_mode;
  data_options.allow = allow;
  absl::StatusOr<std::unique_ptr<DataSocketAcceptor>> data =
      DataSocketAcceptor::Start(data_options, &attach_handler);
  if (!data.ok()) return Fail(data.status());
  ControlSocketServer::Options control_options;
  control_options.path = control_path;
  control_options.mode = socket_mode;
  control_options.allow = allow;
  control_options.max_connections_per_uid =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_control_connections_per_uid));
  control_options.max_connections =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_control_connections));
  absl::StatusOr<std::unique_ptr<ControlSocketServer>> control = ControlSocketServer::Start(
      std::move(control_options), server.get(), deny_server.get(),
      [p = plane.get()] { p->CountRefusedControlConnection(); });
  if (!control.ok()) return Fail(control.status());

  // Prometheus metrics, read through the API's own calls (kcpd/metrics).
  std::unique_ptr<kcpd::metrics::MetricsEndpoint> metrics;
  if (metrics_address.has_value()) {
    kcpd::metrics::StatsSource source;
    ControlPlane* const p = plane.get();
    source.get_stats = [p](kcpp::v1::Stats* stats) { return p->GetStats(stats); };
    source.list_listeners = [p](const kcpp::v1::ListListenersRequest& request,
                                kcpp::v1::ListListenersResponse* response) {
      return p->ListListeners(request, response);
    };
    source.list_sessions = [p](const kcpp::v1::ListSessionsRequest& request,
                               kcpp::v1::ListSessionsResponse* response) {
      return p->ListSessions(request, response);
    };
    kcpd::metrics::CollectorOptions collector_options;
    collector_options.max_session_series = static_cast<size_t>(max_session_series);
    absl::StatusOr<std::unique_ptr<kcpd::metrics::MetricsEndpoint>> endpoint =
        kcpd::metrics::MetricsEndpoint::Start(
            *metrics_address, std::make_shared<kcpd::metrics::KcpdCollector>(
                                  std::move(source), std::move(collector_options)));
    if (!endpoint.ok()) return Fail(endpoint.status());
    metrics = *std::move(endpoint);
    Log(LogLevel::kInfo,
        absl::StrCat("serving Prometheus metrics on http://", metrics->bound_address(),
                     "/metrics"));
  }
  if (absl::Status s = kcpd::MarkServing(server.get(), {kcpp::v1::Kcpd::service_full_name(),
                                                        kcpp::v1::KcpdTunnels::service_full_name()});
      !s.ok()) {
    return Fail(s);
  }

  Log(LogLevel::kInfo,
      absl::StrCat(kVersion, " ready: control ", control_path, ", data ", stream_path, " and ",
                   seqpacket_path, ", backend ", backend->name(), ", ", config.listeners_size(),
                   " listener(s) from config, allowed uids ", allow.ToString()));
  const int ready_fd = absl::GetFlag(FLAGS_ready_fd);
  if (ready_fd >= 0) {
    (void)!::write(ready_fd, "ready\n", 6);
    ::close(ready_fd);
  }
  NotifySystemd("READY=1");

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  Log(LogLevel::kInfo, absl::StrCat("received ", strsignal(signal_number), ": shutting down"));
  NotifySystemd("STOPPING=1");
  // Health checks answer NOT_SERVING from now on (clients that still hold a
  // connection; new ones find no socket).
  kcpd::MarkNotServing(server.get());
  // The metrics endpoint stops beside the drain: civetweb takes up to 2 s to
  // stop its threads, and what it reads answers UNAVAILABLE from now on.
  std::thread metrics_stop([&metrics] { metrics.reset(); });

  // Stop accepting, end watches, flush and close sessions, remove sockets.
  (*control)->Stop();
  (*data)->Stop();
  Log(LogLevel::kInfo, "removed the control and data sockets");
  plane->BeginShutdown();
  (*tunnels)->Shutdown(absl::Now() + absl::GetFlag(FLAGS_shutdown_timeout));
  const absl::Duration linger = absl::GetFlag(FLAGS_shutdown_timeout);
  backend->Shutdown(absl::Now() + linger);
  Log(LogLevel::kInfo, "sessions closed");
  // gRPC's Shutdown(deadline) waits for every connection to go, idle ones
  // too, until the deadline. The grace is for calls (watches end with the
  // plane above; a unary call that just arrived finishes): once none is in
  // flight, a deadline of now closes the idle connections at once.
  const absl::Time grace_end = absl::Now() + absl::GetFlag(FLAGS_control_shutdown_grace);
  const bool idle = calls.WaitUntilIdle(grace_end);
  Log(LogLevel::kInfo, idle ? "no control call in flight: closing control connections without "
                              "waiting for the grace period"
                            : absl::StrCat(calls.in_flight(),
                                           " control call(s) still in flight after the grace "
                                           "period: cancelling them"));
  const auto deadline = idle ? std::chrono::system_clock::now() : absl::ToChronoTime(grace_end);
  server->Shutdown(deadline);
  deny_server->Shutdown(deadline);
  server.reset();
  deny_server.reset();
  tunnels->reset();
  metrics_stop.join();  // (before the plane it reads goes)
  plane.reset();
  backend.reset();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace kcpp::service

int main(int argc, char** argv) { return kcpp::service::Run(argc, argv); }
