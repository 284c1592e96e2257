#include "tests/soak/soak.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "transport/testing/transfer.h"

namespace kcpp::soak {

using transport::Session;

ProcessUsage ProcessUsage::Now() {
  ProcessUsage u;
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  u.rss_bytes = resident * sysconf(_SC_PAGESIZE);
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  u.cpu_seconds = static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
                  static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  return u;
}

struct Soak::Client {
  std::unique_ptr<Session> session;
  // Bytes of the pattern this client will have read back when the current
  // round is complete (set by Round before the write).
  std::atomic<uint64_t> target{0};
  uint64_t received = 0;  // loop thread only
};

Soak::Soak(const SoakOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<Soak>> Soak::Start(const SoakOptions& options) {
  std::unique_ptr<Soak> soak(new Soak(options));
  transport::EngineOptions eo;
  eo.loops = options.engine_loops;
  eo.name = "soak";
  absl::StatusOr<std::unique_ptr<transport::Engine>> engine = transport::Engine::Create(eo);
  if (!engine.ok()) return engine.status();
  soak->engine_ = *std::move(engine);
  transport::ListenerOptions lo;
  lo.session = options.session;
  lo.max_sessions = options.sessions + 16;
  lo.accept_backlog = options.sessions + 16;
  absl::StatusOr<std::unique_ptr<transport::Listener>> listener =
      soak->engine_->Listen("127.0.0.1:0", lo);
  if (!listener.ok()) return listener.status();
  soak->listener_ = *std::move(listener);
  Soak* self = soak.get();
  // The server side echoes on its loop thread.
  soak->listener_->SetAcceptCallback([self](std::unique_ptr<Session> s) {
    Session* raw = s.get();
    transport::SessionCallbacks cb;
    cb.on_readable = [self, raw] {
      uint8_t buf[4096];
      while (true) {
        absl::StatusOr<size_t> n = raw->TryRead(absl::MakeSpan(buf));
        if (!n.ok()) {
          if (!absl::IsDeadlineExceeded(n.status())) self->Fail(n.status());
          return;
        }
        absl::StatusOr<size_t> w = raw->TryWrite(absl::MakeConstSpan(buf, *n));
        if (!w.ok() || *w != *n) {
          self->Fail(absl::InternalError(absl::StrCat("echo write: ", w.status().ToString())));
          return;
        }
      }
    };
    raw->SetCallbacks(std::move(cb));
    std::lock_guard<std::mutex> lock(self->servers_mu_);
    self->servers_.push_back(std::move(s));
  });
  const std::string to = soak->listener_->local_address().ToString();
  for (int i = 0; i < options.sessions; ++i) {
    auto c = std::make_unique<Client>();
    absl::StatusOr<std::unique_ptr<Session>> s = soak->engine_->Dial(to, options.session);
    if (!s.ok()) return s.status();
    c->session = *std::move(s);
    Client* raw = c.get();
    transport::SessionCallbacks cb;
    cb.on_readable = [self, raw] { self->OnClientReadable(*raw); };
    c->session->SetCallbacks(std::move(cb));
    soak->clients_.push_back(std::move(c));
  }
  soak->message_.resize(static_cast<size_t>(options.message_bytes));
  return soak;
}

Soak::~Soak() {
  // No callback runs once the loops are joined; the handles go after.
  engine_.reset();
  clients_.clear();
  std::lock_guard<std::mutex> lock(servers_mu_);
  servers_.clear();
}

void Soak::Fail(absl::Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.ok()) failure_ = std::move(s);
  cv_.notify_all();
}

void Soak::OnClientReadable(Client& c) {
  uint8_t buf[4096];
  while (true) {
    absl::StatusOr<size_t> n = c.session->TryRead(absl::MakeSpan(buf));
    if (!n.ok()) {
      if (!absl::IsDeadlineExceeded(n.status())) Fail(n.status());
      return;
    }
    for (size_t i = 0; i < *n; ++i) {
      if (buf[i] != transport::testing::PatternByte(c.received + i)) {
        Fail(absl::DataLossError(absl::StrCat("session conv ", c.session->conv(), ": byte ",
                                              c.received + i, " is ", int{buf[i]})));
        return;
      }
    }
    c.received += *n;
    bytes_echoed_.fetch_add(*n, std::memory_order_relaxed);
    if (c.received == c.target.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mu_);
      ++caught_up_;
      cv_.notify_all();
    }
  }
}

absl::Status Soak::Round(absl::Time deadline, absl::Duration spread) {
  const uint64_t offset = static_cast<uint64_t>(rounds_) * message_.size();
  ++rounds_;
  transport::testing::FillPattern(absl::MakeSpan(message_), offset);
  constexpr size_t kGroup = 100;
  const size_t groups = (clients_.size() + kGroup - 1) / kGroup;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (i % kGroup == 0 && spread > absl::ZeroDuration()) {
      // Pacing the workload (not synchronisation): group g starts at
      // start + g * spread / groups.
      absl::SleepFor(start +
                     spread * static_cast<double>(i / kGroup) / static_cast<double>(groups) -
                     absl::Now());
    }
    Client& c = *clients_[i];
    c.target.store(offset + message_.size(), std::memory_order_release);
    absl::StatusOr<size_t> w = c.session->Write(message_, deadline);
    if (!w.ok()) return w.status();
  }
  const int64_t goal = static_cast<int64_t>(rounds_) * static_cast<int64_t>(clients_.size());
  std::unique_lock<std::mutex> lock(mu_);
  const bool done = cv_.wait_until(lock, absl::ToChronoTime(deadline),
                                   [&] { return !failure_.ok() || caught_up_ >= goal; });
  if (!failure_.ok()) return failure_;
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat("round ", rounds_, ": ", goal - caught_up_,
                                                    " sessions still waiting for their echo"));
  }
  return absl::OkStatus();
}

}  // namespace kcpp::soak
