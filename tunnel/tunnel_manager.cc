#include "tunnel/tunnel_manager.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "transport/event_loop.h"
#include "tunnel/internal/tunnel.h"

namespace kcpp::service::tunnel {
namespace {

absl::Status ValidateId(absl::string_view id) {
  if (id.empty() || id.size() > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel id must be 1..63 characters, got ", id.size()));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat("tunnel id \"", id, "\" may contain only letters, digits, '-' and '_'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

TunnelManager::TunnelManager(const TunnelManagerOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<TunnelManager>> TunnelManager::Create(
    const TunnelManagerOptions& options) {
  if (options.loops < 1 || options.loops > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel loops must be 1..256, got ", options.loops));
  }
  std::unique_ptr<TunnelManager> m(new TunnelManager(options));
  if (options.engine != nullptr) {
    m->engine_ = options.engine;
  } else {
    transport::EngineOptions eo;
    eo.loops = options.engine_loops;
    eo.name = "kcpd-kcp";
    absl::StatusOr<std::unique_ptr<transport::Engine>> engine = transport::Engine::Create(eo);
    if (!engine.ok()) return engine.status();
    m->own_engine_ = *std::move(engine);
    m->engine_ = m->own_engine_.get();
  }
  for (int i = 0; i < options.loops; ++i) {
    absl::StatusOr<std::unique_ptr<transport::EventLoop>> loop =
        transport::EventLoop::Create(absl::StrCat("kcpd-tun-", i));
    if (!loop.ok()) return loop.status();
    (*loop)->Start();
    m->loops_.push_back(*std::move(loop));
  }
  return m;
}

TunnelManager::~TunnelManager() {
  Shutdown(absl::Now());
  // Sessions fail first (their callbacks post to our loops), then the loops
  // run what was posted and stop.
  own_engine_.reset();
  for (auto& loop : loops_) loop->Stop();
  loops_.clear();
}

absl::StatusOr<TunnelSnapshot> TunnelManager::CreateTunnel(absl::string_view id,
                                                           const KcptunConfig& config) {
  std::string name(id);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shut_down_) return absl::UnavailableError("kcpd is shutting down");
    if (name.empty()) {
      do {
        name = absl::StrCat("t", next_number_++);
      } while (tunnels_.count(name) != 0);
    }
    if (absl::Status s = ValidateId(name); !s.ok()) return s;
    if (tunnels_.count(name) != 0) {
      return absl::AlreadyExistsError(absl::StrCat("tunnel \"", name, "\" already exists"));
    }
    tunnels_[name] = nullptr;  // reserved while it starts
  }
  TunnelEnvironment env;
  env.engine = engine_;
  for (auto& loop : loops_) env.loops.push_back(loop.get());
  env.log = options_.log;
  env.max_streams_per_session = options_.max_streams_per_session;
  env.max_sessions = options_.max_sessions_per_tunnel;
  KcptunConfig tuned = config;
  if (!options_.congestion.empty()) tuned.congestion = options_.congestion;
  absl::StatusOr<std::shared_ptr<Tunnel>> tunnel = Tunnel::Start(name, tuned, std::move(env));
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!tunnel.ok()) {
      tunnels_.erase(name);
      return tunnel.status();
    }
    if (!shut_down_) {
      tunnels_[name] = *tunnel;
      return (*tunnel)->Snapshot(/*with_streams=*/false);
    }
  }
  (*tunnel)->Stop();  // Shutdown came while it started
  return absl::UnavailableError("kcpd is shutting down");
}

absl::StatusOr<TunnelSnapshot> TunnelManager::GetTunnel(absl::string_view id, bool with_streams) {
  std::shared_ptr<Tunnel> t;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tunnels_.find(std::string(id));
    if (it == tunnels_.end() || it->second == nullptr) {
      return absl::NotFoundError(absl::StrCat("no tunnel \"", id, "\""));
    }
    t = it->second;
  }
  return t->Snapshot(with_streams);
}

std::vector<TunnelSnapshot> TunnelManager::ListTunnels(bool with_streams) {
  std::vector<std::shared_ptr<Tunnel>> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, t] : tunnels_) {
      if (t != nullptr) all.push_back(t);
    }
  }
  std::vector<TunnelSnapshot> out;
  for (const auto& t : all) out.push_back(t->Snapshot(with_streams));
  return out;
}

absl::Status TunnelManager::DeleteTunnel(absl::string_view id) {
  std::shared_ptr<Tunnel> t;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tunnels_.find(std::string(id));
    if (it == tunnels_.end() || it->second == nullptr) {
      return absl::NotFoundError(absl::StrCat("no tunnel \"", id, "\""));
    }
    t = std::move(it->second);
    tunnels_.erase(it);
  }
  t->Stop();
  return absl::OkStatus();
}

void TunnelManager::Shutdown(absl::Time deadline) {
  std::map<std::string, std::shared_ptr<Tunnel>> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    shut_down_ = true;
    for (auto& [id, t] : tunnels_) {
      if (t != nullptr) all[id] = std::move(t);
    }
    tunnels_.clear();
  }
  for (auto& [id, t] : all) t->Stop();
  (void)deadline;  // sessions flush within their own close linger
}

}  // namespace kcpp::service::tunnel
