// kcpp_peer: kcpp's transport speaking tests/interop/kcpgo_peer.go's protocol,
// flag for flag, so the transport benchmark (bench/transport_compare.py) runs
// {kcpp, kcp-go} servers x clients identically.
//
// Server: kcpp_peer -role server -addr 127.0.0.1:0 [session flags] [-sink]
//   prints "LISTENING <addr>" once bound, then serves every session: reads an
//   8-byte little-endian length N, then N bytes, and echoes the N bytes back
//   (or, with -sink, answers with the 32-byte SHA-256 of the N bytes).
//   -sessions K exits once K sessions were served and closed.
// Client: kcpp_peer -role client -addr HOST:PORT -bytes N [session flags] [-sink]
//   sends the length, then N bytes of the pattern, reads the echo (or digest)
//   and checks it; prints "OK <bytes> <seconds> <MB/s>" or exits 1.
//
// Benchmark modes, as kcpgo_peer's -bench (see its header):
//   server -bench bulk   length N, N bytes compared with the pattern, answer:
//                        8 bytes, how many matched.
//   server -bench echo   echoes whatever each read returns, at once.
//   client -bench bulk   prints "OK <bytes> <seconds> <MB/s>".
//   client -bench rtt    prints "RTT <count> <p50> <p90> <p99> <max> <mean>" (us).
// and one only this side has (the client of the many-sessions test, used
// against both servers):
//   client -bench many -conns N -size S -period_ms P
//                        dials N sessions; each sends S pattern bytes every P
//                        ms (phases spread evenly) to a "-bench echo" server
//                        and reads the echo. Prints "READY <N>" once every
//                        session has had one echo back, then runs until
//                        SIGTERM/SIGINT or -duration seconds and prints
//                        "DONE <sent> <echoed>" (messages) and
//                        "RTT <count> <p50> <p90> <p99> <max> <mean>" (us): each
//                        message's echo time under that load, from READY on
//                        (to ~6 % resolution; see LatencyHistogram).
//
// Session settings are kcpgo_peer's tune(): stream mode, windows -sndwnd /
// -rcvwnd, -mtu, no write delay, ACK no-delay, 4 MiB socket buffers.
//
// The server runs entirely in the transport's callbacks (accept, readable,
// writable, closed) on the event-loop threads: no thread per session, which
// is how a kcpp server of thousands of sessions is written. Clients use the
// blocking API from application threads, like kcpgo_peer's goroutines.
#include <openssl/sha.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/endian.h"
#include "transport/engine.h"

ABSL_FLAG(std::string, role, "server", "server or client");
ABSL_FLAG(std::string, addr, "127.0.0.1:0", "listen or dial address");
ABSL_FLAG(std::string, crypt, "none", "kcptun cipher name, or null for no crypt layer");
ABSL_FLAG(std::string, key, "it's a secrect", "passphrase (PBKDF2 as kcptun)");
ABSL_FLAG(int, ds, 0, "FEC data shards");
ABSL_FLAG(int, ps, 0, "FEC parity shards");
ABSL_FLAG(std::string, mode, "fast3", "normal, fast, fast2, fast3");
ABSL_FLAG(int, sndwnd, 1024, "send window (segments)");
ABSL_FLAG(int, rcvwnd, 1024, "receive window (segments)");
ABSL_FLAG(int, mtu, 1400, "MTU");
ABSL_FLAG(std::string, congestion, kcpp::transport::SessionOptions{}.congestion,
          "congestion control: bbr, kcp-go or none (kcpp only; kcp-go's side has none)");
ABSL_FLAG(int64_t, bytes, 1 << 20, "client: bytes to send");
ABSL_FLAG(bool, sink, false, "answer with a SHA-256 digest instead of echoing");
ABSL_FLAG(int, sessions, 0, "server: exit after serving this many sessions (0 = forever)");
ABSL_FLAG(std::string, bench, "", "benchmark mode: server bulk|echo, client bulk|rtt|many");
ABSL_FLAG(int, count, 2000, "client -bench rtt: round trips measured");
ABSL_FLAG(int, warmup, 200, "client -bench rtt: round trips before measuring");
ABSL_FLAG(int, size, 1024, "client -bench rtt/many: message size in bytes");
ABSL_FLAG(int, conns, 1000, "client -bench many: sessions");
ABSL_FLAG(int, period_ms, 1000, "client -bench many: each session sends one message per period");
ABSL_FLAG(int, duration, 0, "client -bench many: seconds to run after READY (0 = until a signal)");
ABSL_FLAG(int, loops, 0, "event-loop threads (0: one per core)");
ABSL_FLAG(int, busy_poll_us, kcpp::transport::EngineOptions{}.busy_poll_us,
          "EngineOptions::busy_poll_us (0: never poll before sleeping)");
ABSL_FLAG(bool, async, false,
          "client -bench rtt: drive the round trips from the session's callbacks on the loop "
          "thread instead of blocking Write/Read on the main thread");
ABSL_FLAG(bool, stats, false,
          "client -bench bulk/rtt: print the session's and the engine's counters to stderr; "
          "server: the engine's, at exit");
ABSL_FLAG(int, trace_ms, 0,
          "client -bench bulk: every N ms print one line of the session's state to stderr "
          "(controller, windows, pacing rate, queued segments, retransmissions; 0: none)");

namespace {

using kcpp::LoadLe64;
using kcpp::StoreLe64;
using kcpp::transport::Engine;
using kcpp::transport::Listener;
using kcpp::transport::Session;
using kcpp::transport::SessionCallbacks;
using kcpp::transport::SessionOptions;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "kcpp_peer: %s\n", what.c_str());
  std::exit(1);
}

// Two periods of the pattern byte i = (i*7 + i>>8) & 0xff (period 65536):
// any 64 KiB window of the stream at offset o is Pattern(o, n).
constexpr size_t kPeriod = 1 << 16;
const uint8_t* PatternTable() {
  static const uint8_t* table = [] {
    auto* t = new uint8_t[2 * kPeriod];
    for (uint64_t i = 0; i < 2 * kPeriod; ++i) t[i] = static_cast<uint8_t>(i * 7 + (i >> 8));
    return t;
  }();
  return table;
}
const uint8_t* Pattern(uint64_t offset) { return PatternTable() + (offset & (kPeriod - 1)); }


// kcpgo_peer's block() + tune().
SessionOptions PeerOptions() {
  SessionOptions o;
  o.crypt = absl::GetFlag(FLAGS_crypt);
  o.key = absl::GetFlag(FLAGS_key);
  o.data_shards = absl::GetFlag(FLAGS_ds);
  o.parity_shards = absl::GetFlag(FLAGS_ps);
  absl::StatusOr<kcpp::transport::NoDelay> nd =
      kcpp::transport::NoDelay::FromMode(absl::GetFlag(FLAGS_mode));
  if (!nd.ok()) Die(nd.status().ToString());
  o.nodelay = *nd;
  o.stream_mode = true;
  o.send_window = absl::GetFlag(FLAGS_sndwnd);
  o.receive_window = absl::GetFlag(FLAGS_rcvwnd);
  o.mtu = absl::GetFlag(FLAGS_mtu);
  o.congestion = absl::GetFlag(FLAGS_congestion);
  o.write_delay = false;
  o.ack_nodelay = true;
  o.socket_buffer_bytes = 4 << 20;
  absl::Status s = o.Validate();
  if (!s.ok()) Die(s.ToString());
  return o;
}

// ---- server -----------------------------------------------------------------

enum class ServerMode { kEcho, kSink, kBenchBulk, kBenchEcho };

// One accepted session, driven by its callbacks on its loop thread.
class Conn {
 public:
  Conn(std::unique_ptr<Session> session, ServerMode mode, absl::AnyInvocable<void()> on_served)
      : session_(std::move(session)), mode_(mode), on_served_(std::move(on_served)) {
    if (mode_ == ServerMode::kSink) SHA256_Init(&sha_);
    if (mode_ == ServerMode::kBenchEcho) phase_ = Phase::kBody;
  }

  void Install() {
    SessionCallbacks cb;
    cb.on_readable = [this] { Pump(); };
    cb.on_writable = [this] { Pump(); };
    cb.on_closed = [this](absl::Status why) {
      if (!served_) {
        served_ = true;
        if (!why.ok() && mode_ != ServerMode::kBenchEcho) {
          std::fprintf(stderr, "kcpp_peer: session: %s\n", why.ToString().c_str());
        }
        on_served_();
      }
    };
    session_->SetCallbacks(std::move(cb));
  }

 private:
  enum class Phase { kHeader, kBody, kDone };

  // Sends what is pending, then reads and handles as long as both sides flow.
  void Pump() {
    static thread_local std::vector<uint8_t> buf(64 * 1024);
    while (true) {
      if (pending_off_ < pending_.size()) {
        absl::StatusOr<size_t> w = session_->TryWrite(
            absl::MakeConstSpan(pending_.data() + pending_off_, pending_.size() - pending_off_));
        if (!w.ok()) return;  // full (on_writable calls again) or failed (on_closed)
        pending_off_ += *w;
        if (pending_off_ < pending_.size()) return;
        pending_.clear();
        pending_off_ = 0;
      }
      if (phase_ == Phase::kDone) {
        session_->Close();  // lingers until everything is acknowledged
        return;
      }
      size_t want = buf.size();
      if (phase_ == Phase::kHeader) want = 8 - header_got_;
      if (phase_ == Phase::kBody && mode_ != ServerMode::kBenchEcho) {
        want = static_cast<size_t>(std::min<uint64_t>(want, total_ - off_));
      }
      if (mode_ == ServerMode::kBenchEcho) want = 16 * 1024;  // as kcpgo_peer's serveEcho
      absl::StatusOr<size_t> r = session_->TryRead(absl::MakeSpan(buf.data(), want));
      if (!r.ok()) return;  // nothing more now, or failed (on_closed follows)
      Handle(buf.data(), *r);
    }
  }

  void Handle(const uint8_t* data, size_t n) {
    if (phase_ == Phase::kHeader) {
      std::memcpy(header_ + header_got_, data, n);
      header_got_ += n;
      if (header_got_ < 8) return;
      total_ = LoadLe64(header_);
      phase_ = Phase::kBody;
      if (total_ == 0) Finish();
      return;
    }
    switch (mode_) {
      case ServerMode::kEcho:
      case ServerMode::kBenchEcho:
        pending_.insert(pending_.end(), data, data + n);
        break;
      case ServerMode::kSink:
        SHA256_Update(&sha_, data, n);
        break;
      case ServerMode::kBenchBulk:
        if (std::memcmp(data, Pattern(off_), n) == 0) good_ += n;
        break;
    }
    off_ += n;
    if (mode_ != ServerMode::kBenchEcho && off_ == total_) Finish();
  }

  void Finish() {
    phase_ = Phase::kDone;
    if (mode_ == ServerMode::kSink) {
      pending_.resize(SHA256_DIGEST_LENGTH);
      SHA256_Final(pending_.data(), &sha_);
    } else if (mode_ == ServerMode::kBenchBulk) {
      pending_.resize(8);
      StoreLe64(pending_.data(), good_);
    }
  }

  std::unique_ptr<Session> session_;
  const ServerMode mode_;
  absl::AnyInvocable<void()> on_served_;
  Phase phase_ = Phase::kHeader;
  uint8_t header_[8];
  size_t header_got_ = 0;
  uint64_t total_ = 0;
  uint64_t off_ = 0;
  uint64_t good_ = 0;
  SHA256_CTX sha_;
  std::vector<uint8_t> pending_;
  size_t pending_off_ = 0;
  bool served_ = false;
};

int RunServer(std::unique_ptr<Engine> engine) {
  const std::string bench = absl::GetFlag(FLAGS_bench);
  ServerMode mode;
  if (bench.empty()) {
    mode = absl::GetFlag(FLAGS_sink) ? ServerMode::kSink : ServerMode::kEcho;
  } else if (bench == "bulk") {
    mode = ServerMode::kBenchBulk;
  } else if (bench == "echo") {
    mode = ServerMode::kBenchEcho;
  } else {
    std::fprintf(stderr, "kcpp_peer: unknown server -bench \"%s\"\n", bench.c_str());
    return 2;
  }
  kcpp::transport::ListenerOptions lo;
  lo.session = PeerOptions();
  absl::StatusOr<std::unique_ptr<Listener>> l = engine->Listen(absl::GetFlag(FLAGS_addr), lo);
  if (!l.ok()) Die(l.status().ToString());

  const int limit = absl::GetFlag(FLAGS_sessions);
  std::mutex mu;
  std::condition_variable cv;
  int served = 0;
  std::vector<std::unique_ptr<Conn>> conns;  // guarded by mu; freed after the engine stops
  (*l)->SetAcceptCallback([&](std::unique_ptr<Session> s) {
    auto conn = std::make_unique<Conn>(std::move(s), mode, [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++served;
      cv.notify_all();
    });
    Conn* c = conn.get();
    {
      std::lock_guard<std::mutex> lock(mu);
      conns.push_back(std::move(conn));
    }
    c->Install();
  });
  std::printf("LISTENING %s\n", (*l)->local_address().ToString().c_str());
  std::fflush(stdout);
  {
    std::unique_lock<std::mutex> lock(mu);
    while (!g_stop.load() && (limit == 0 || served < limit)) {
      cv.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  if (absl::GetFlag(FLAGS_stats)) {
    const kcpp::transport::EngineStats e = engine->GetStats();
    std::fprintf(stderr, "ENGINE busy polls %llu hits %llu\n",
                 static_cast<unsigned long long>(e.busy_polls),
                 static_cast<unsigned long long>(e.busy_poll_hits));
  }
  // No callback runs once the engine is gone; then the Conns can go.
  l->reset();
  engine.reset();
  conns.clear();
  return 0;
}

// ---- clients ----------------------------------------------------------------

std::unique_ptr<Session> DialPeer(Engine& engine) {
  absl::StatusOr<std::unique_ptr<Session>> s =
      engine.Dial(absl::GetFlag(FLAGS_addr), PeerOptions());
  if (!s.ok()) Die(s.status().ToString());
  return *std::move(s);
}

absl::Time Guard() { return absl::Now() + absl::Seconds(300); }

// -stats: the session's counters, for profiling (bench/README.md "transport").
void MaybePrintStats(Engine& engine, Session& s) {
  if (!absl::GetFlag(FLAGS_stats)) return;
  const kcpp::transport::EngineStats e = engine.GetStats();
  std::fprintf(stderr, "ENGINE busy polls %llu hits %llu\n",
               static_cast<unsigned long long>(e.busy_polls),
               static_cast<unsigned long long>(e.busy_poll_hits));
  absl::StatusOr<kcpp::transport::SessionInfo> info = s.GetInfo();
  if (!info.ok()) return;
  const kcpp::transport::Counters& c = info->counters;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(stderr,
               "STATS datagrams out %llu in %llu | segments out %llu in %llu | retransmitted "
               "%llu (lost %llu fast %llu early %llu) late %llu repeat %llu | send drops %llu | fec "
               "recovered %llu parity in %llu | srtt %u ms rto %u ms cwnd %u rmt_wnd %u | wire out "
               "%llu parity out %llu withheld %llu sending %d | pacing %llu B/s | %s\n",
               u(c.packets_sent), u(c.packets_received), u(c.segments_sent), u(c.segments_received),
               u(c.retransmitted_segments), u(c.lost_segments), u(c.fast_retransmitted_segments),
               u(c.early_retransmitted_segments), u(c.late_acknowledged_segments),
               u(c.repeat_segments), u(c.send_drops),
               u(c.fec_recovered), u(c.fec_parity_shards), info->srtt_ms, info->rto_ms,
               info->congestion_window, info->remote_window, u(c.wire_bytes_sent),
               u(c.fec_parity_sent), u(c.fec_parity_withheld), info->fec_parity_sending,
               u(info->pacing_rate), info->congestion.c_str());
}

void ReadFull(Session& s, uint8_t* out, size_t n, const char* what) {
  size_t got = 0;
  while (got < n) {
    absl::StatusOr<size_t> r = s.Read(absl::MakeSpan(out + got, n - got), Guard());
    if (!r.ok()) Die(absl::StrCat("read ", what, ": ", r.status().ToString()));
    got += *r;
  }
}

// Writes the 8-byte length, then `total` pattern bytes in 64 KiB writes.
std::thread StartWriter(Session& s, uint64_t total, absl::Status* result) {
  return std::thread([&s, total, result] {
    uint8_t header[8];
    StoreLe64(header, total);
    absl::StatusOr<size_t> w = s.Write(header, Guard());
    for (uint64_t off = 0; w.ok() && off < total;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kPeriod, total - off));
      w = s.Write(absl::MakeConstSpan(Pattern(off), n), Guard());
      off += n;
    }
    *result = w.status();
  });
}

void PrintOk(uint64_t total, absl::Time start) {
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("OK %llu %.3f %.1f\n", static_cast<unsigned long long>(total), secs,
              static_cast<double>(total) / secs / 1e6);
  std::fflush(stdout);
}

// kcpgo_peer's client(): echo or digest of the pattern, checked.
int RunClient(Engine& engine) {
  std::unique_ptr<Session> s = DialPeer(engine);
  const uint64_t total = static_cast<uint64_t>(absl::GetFlag(FLAGS_bytes));
  const absl::Time start = absl::Now();
  absl::Status write_status;
  std::thread writer = StartWriter(*s, total, &write_status);
  if (absl::GetFlag(FLAGS_sink)) {
    SHA256_CTX want;
    SHA256_Init(&want);
    for (uint64_t off = 0; off < total;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kPeriod, total - off));
      SHA256_Update(&want, Pattern(off), n);
      off += n;
    }
    uint8_t want_digest[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
    SHA256_Final(want_digest, &want);
    ReadFull(*s, got, sizeof(got), "digest");
    if (std::memcmp(got, want_digest, sizeof(got)) != 0) Die("digest mismatch");
  } else {
    std::vector<uint8_t> buf(64 * 1024);
    for (uint64_t off = 0; off < total;) {
      absl::StatusOr<size_t> r = s->Read(absl::MakeSpan(buf), Guard());
      if (!r.ok()) Die(absl::StrCat("read at ", off, ": ", r.status().ToString()));
      if (off + *r > total) Die("peer sent more than it was sent");
      for (size_t i = 0; i < *r;) {
        const size_t n = std::min(*r - i, kPeriod);
        if (std::memcmp(buf.data() + i, Pattern(off + i), n) != 0) {
          Die(absl::StrCat("echo mismatch near byte ", off + i));
        }
        i += n;
      }
      off += *r;
    }
  }
  writer.join();
  if (!write_status.ok()) Die(absl::StrCat("write: ", write_status.ToString()));
  PrintOk(total, start);
  s->Close();
  return 0;
}

// -trace_ms: a thread that prints the session's state while a transfer runs
// (the transfer's own timing is taken without it).
std::mutex g_trace_mu;
std::condition_variable g_trace_cv;
bool g_trace_stop = false;

std::thread StartTracer(Session& s, absl::Time start) {
  const int period_ms = absl::GetFlag(FLAGS_trace_ms);
  if (period_ms <= 0) return std::thread();
  return std::thread([&s, start, period_ms] {
    std::unique_lock<std::mutex> lock(g_trace_mu);
    while (!g_trace_cv.wait_for(lock, std::chrono::milliseconds(period_ms),
                                [] { return g_trace_stop; })) {
      absl::StatusOr<kcpp::transport::SessionInfo> i = s.GetInfo();
      if (!i.ok()) return;
      std::fprintf(stderr,
                   "trace %.3f s: srtt %u rto %u wnd snd %u rmt %u cwnd %u waiting %u queued %zu "
                   "pacing %.1f Mbit/s parity %d (loss %.2f %%) out %llu retrans %llu (rto %llu fast %llu) "
                   "late %llu | %s\n",
                   absl::ToDoubleSeconds(absl::Now() - start), i->srtt_ms, i->rto_ms,
                   i->send_window, i->remote_window, i->congestion_window, i->segments_waiting,
                   i->outbound_queued_bytes, static_cast<double>(i->pacing_rate) * 8 / 1e6,
                   i->fec_parity_sending, i->fec_loss_estimate * 100,
                   static_cast<unsigned long long>(i->counters.packets_sent),
                   static_cast<unsigned long long>(i->counters.retransmitted_segments),
                   static_cast<unsigned long long>(i->counters.lost_segments),
                   static_cast<unsigned long long>(i->counters.fast_retransmitted_segments),
                   static_cast<unsigned long long>(i->counters.late_acknowledged_segments),
                   i->congestion.c_str());
    }
  });
}

void StopTracer(std::thread& tracer) {
  if (!tracer.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(g_trace_mu);
    g_trace_stop = true;
  }
  g_trace_cv.notify_all();
  tracer.join();
}

// -bench bulk.
int RunClientBulk(Engine& engine) {
  std::unique_ptr<Session> s = DialPeer(engine);
  const uint64_t total = static_cast<uint64_t>(absl::GetFlag(FLAGS_bytes));
  const absl::Time start = absl::Now();
  absl::Status write_status;
  std::thread writer = StartWriter(*s, total, &write_status);
  std::thread tracer = StartTracer(*s, start);
  uint8_t reply[8];
  ReadFull(*s, reply, sizeof(reply), "answer");
  const absl::Time end = absl::Now();
  StopTracer(tracer);
  writer.join();
  if (!write_status.ok()) Die(absl::StrCat("write: ", write_status.ToString()));
  if (LoadLe64(reply) != total) {
    Die(absl::StrCat("server matched ", LoadLe64(reply), " of ", total, " bytes"));
  }
  const double secs = absl::ToDoubleSeconds(end - start);
  std::printf("OK %llu %.3f %.1f\n", static_cast<unsigned long long>(total), secs,
              static_cast<double>(total) / secs / 1e6);
  std::fflush(stdout);
  MaybePrintStats(engine, *s);
  s->Close();
  return 0;
}

// -bench rtt.
void FillMessage(std::vector<uint8_t>& msg, uint64_t off) {
  for (size_t j = 0; j < msg.size();) {
    const size_t n = std::min(msg.size() - j, kPeriod);
    std::memcpy(msg.data() + j, Pattern(off + j), n);
    j += n;
  }
}

// -bench rtt -async: each echo's arrival (on_readable, on the loop thread)
// records the sample and sends the next message from there.
std::vector<double> RttFromCallbacks(Session& s, size_t size, int total, int warmup) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::string error;
    int i = 0;
    size_t got_bytes = 0;
    absl::Time start;
    std::vector<uint8_t> msg, got;
    std::vector<double> samples;
  } st;
  st.msg.resize(size);
  st.got.resize(size);
  auto finish = [&st](std::string error) {
    std::lock_guard<std::mutex> lock(st.mu);
    st.error = std::move(error);
    st.done = true;
    st.cv.notify_all();
  };
  auto send = [&st, &s, size] {
    FillMessage(st.msg, uint64_t{static_cast<uint64_t>(st.i)} * size);
    st.got_bytes = 0;
    st.start = absl::Now();
    absl::StatusOr<size_t> w = s.TryWrite(st.msg);
    return w.ok() && *w == size;  // the outbound queue is empty: it fits
  };
  SessionCallbacks cb;
  cb.on_readable = [&] {
    while (!st.done) {
      absl::StatusOr<size_t> r =
          s.TryRead(absl::MakeSpan(st.got.data() + st.got_bytes, size - st.got_bytes));
      if (!r.ok()) {
        if (!absl::IsDeadlineExceeded(r.status())) finish(r.status().ToString());
        return;
      }
      st.got_bytes += *r;
      if (st.got_bytes < size) continue;
      const double us = absl::ToDoubleMicroseconds(absl::Now() - st.start);
      if (st.got != st.msg) return finish(absl::StrCat("echo mismatch in message ", st.i));
      if (st.i >= warmup) st.samples.push_back(us);
      if (++st.i == total) return finish("");
      if (!send()) return finish("write failed");
    }
  };
  cb.on_closed = [&](absl::Status why) { finish(why.ToString()); };
  s.SetCallbacks(std::move(cb));
  // The first message from this thread; the loop sees st through the
  // session's lock (TryWrite) before any callback can run.
  if (!send()) Die("first write failed");
  {
    std::unique_lock<std::mutex> lock(st.mu);
    st.cv.wait(lock, [&] { return st.done; });
  }
  // The callbacks reference `st`: replace them, and wait for the loop to have
  // done so (GetInfo runs on the loop after the queued SetCallbacks).
  s.SetCallbacks({});
  (void)s.GetInfo();
  if (!st.error.empty()) Die(st.error);
  return std::move(st.samples);
}

int RunClientRtt(Engine& engine) {
  std::unique_ptr<Session> s = DialPeer(engine);
  const size_t size = static_cast<size_t>(absl::GetFlag(FLAGS_size));
  const int count = absl::GetFlag(FLAGS_count), warmup = absl::GetFlag(FLAGS_warmup);
  std::vector<double> samples;
  if (absl::GetFlag(FLAGS_async)) {
    samples = RttFromCallbacks(*s, size, warmup + count, warmup);
  } else {
    std::vector<uint8_t> got(size), msg(size);
    samples.reserve(static_cast<size_t>(count));
    for (int i = 0; i < warmup + count; ++i) {
      FillMessage(msg, uint64_t{static_cast<uint64_t>(i)} * size);
      const absl::Time start = absl::Now();
      absl::StatusOr<size_t> w = s->Write(msg, Guard());
      if (!w.ok()) Die(absl::StrCat("write: ", w.status().ToString()));
      ReadFull(*s, got.data(), size, "echo");
      const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
      if (got != msg) Die(absl::StrCat("echo mismatch in message ", i));
      if (i >= warmup) samples.push_back(us);
    }
  }
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double p) {
    int i = static_cast<int>(p * static_cast<double>(samples.size()) + 0.999999) - 1;
    return samples[static_cast<size_t>(std::max(i, 0))];
  };
  double sum = 0;
  for (double v : samples) sum += v;
  std::printf("RTT %zu %.1f %.1f %.1f %.1f %.1f\n", samples.size(), rank(0.50), rank(0.90),
              rank(0.99), samples.back(), sum / static_cast<double>(samples.size()));
  std::fflush(stdout);
  MaybePrintStats(engine, *s);
  s->Close();
  return 0;
}

// Latencies in microseconds from many threads, into log-linear buckets: 16
// per power of two (each within ~6 % of the values it holds), lock-free.
class LatencyHistogram {
 public:
  void Add(int64_t us) {
    const uint64_t v = us < 0 ? 0 : static_cast<uint64_t>(us);
    buckets_[Index(v)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    uint64_t m = max_.load(std::memory_order_relaxed);
    while (v > m && !max_.compare_exchange_weak(m, v)) {
    }
  }
  uint64_t count() const { return count_.load(); }
  // The smallest bucket value with at least q of the samples at or below it.
  double Quantile(double q) const {
    const uint64_t total = count();
    if (total == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load();
      if (seen >= rank) return static_cast<double>(Lower(i));
    }
    return static_cast<double>(max_.load());
  }
  double max() const { return static_cast<double>(max_.load()); }
  double mean() const {
    return count() ? static_cast<double>(sum_.load()) / static_cast<double>(count()) : 0;
  }

 private:
  static constexpr int kSub = 4;  // 2^4 buckets per power of two
  static constexpr size_t kBuckets = (64 - kSub + 1) << kSub;
  static size_t Index(uint64_t v) {
    if (v < (uint64_t{1} << kSub)) return static_cast<size_t>(v);
    const int e = 63 - __builtin_clzll(v);  // v in [2^e, 2^(e+1))
    const uint64_t sub = (v >> (e - kSub)) & ((uint64_t{1} << kSub) - 1);
    return (static_cast<size_t>(e - kSub + 1) << kSub) + static_cast<size_t>(sub);
  }
  static uint64_t Lower(size_t i) {
    if (i < (size_t{1} << kSub)) return i;
    const int e = static_cast<int>(i >> kSub) + kSub - 1;
    const uint64_t sub = i & ((size_t{1} << kSub) - 1);
    return (uint64_t{1} << e) | (sub << (e - kSub));
  }
  std::atomic<uint64_t> buckets_[kBuckets] = {};
  std::atomic<uint64_t> count_{0}, sum_{0}, max_{0};
};

int64_t NowUs() { return absl::ToUnixMicros(absl::Now()); }

// -bench many: N sessions, one message each per period.
int RunClientMany(std::unique_ptr<Engine> engine) {
  const int n = absl::GetFlag(FLAGS_conns);
  const size_t size = static_cast<size_t>(absl::GetFlag(FLAGS_size));
  const absl::Duration period = absl::Milliseconds(absl::GetFlag(FLAGS_period_ms));
  struct Peer {
    std::unique_ptr<Session> session;
    std::atomic<uint64_t> echoed_bytes{0};
    std::atomic<int64_t> sent_at_us{0};  // the message in flight (one per period)
  };
  std::vector<Peer> peers(static_cast<size_t>(n));
  std::atomic<int> ready{0};
  std::atomic<bool> measuring{false};
  std::atomic<uint64_t> echoed_total{0};
  LatencyHistogram rtt;
  for (Peer& p : peers) {
    p.session = DialPeer(*engine);
    Peer* pp = &p;
    SessionCallbacks cb;
    cb.on_readable = [pp, size, &ready, &echoed_total, &measuring, &rtt] {
      uint8_t buf[4096];
      while (true) {
        absl::StatusOr<size_t> r = pp->session->TryRead(absl::MakeSpan(buf));
        if (!r.ok()) return;
        const uint64_t before = pp->echoed_bytes.fetch_add(*r);
        if (before < size && before + *r >= size) ready.fetch_add(1);
        // A message's echo is complete when the count crosses a multiple of
        // the size.
        if ((before + *r) / size > before / size && measuring.load(std::memory_order_relaxed)) {
          rtt.Add(NowUs() - pp->sent_at_us.load(std::memory_order_relaxed));
        }
        echoed_total.fetch_add(*r);
      }
    };
    p.session->SetCallbacks(std::move(cb));
  }
  std::vector<uint8_t> msg(Pattern(0), Pattern(0) + std::min(size, kPeriod));
  msg.resize(size);
  const absl::Time start = absl::Now();
  uint64_t sent = 0;
  bool announced = false;
  absl::Time stop_at = absl::InfiniteFuture();
  const int duration = absl::GetFlag(FLAGS_duration);
  // Session i sends at start + i*period/n + k*period.
  for (uint64_t tick = 0; !g_stop.load(); ++tick) {
    const uint64_t i = tick % static_cast<uint64_t>(n);
    const absl::Time due = start + period * static_cast<double>(tick) / n;
    const absl::Time now = absl::Now();
    if (due > now) absl::SleepFor(due - now);  // pacing the load, not synchronisation
    peers[i].sent_at_us.store(NowUs(), std::memory_order_relaxed);
    absl::StatusOr<size_t> w = peers[i].session->TryWrite(msg);
    if (w.ok()) ++sent;
    if (!announced && ready.load() == n) {
      announced = true;
      measuring.store(true);
      std::printf("READY %d\n", n);
      std::fflush(stdout);
      if (duration > 0) stop_at = absl::Now() + absl::Seconds(duration);
    }
    if (absl::Now() >= stop_at) break;
  }
  std::printf("DONE %llu %llu\n", static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(echoed_total.load() / size));
  std::printf("RTT %llu %.1f %.1f %.1f %.1f %.1f\n", static_cast<unsigned long long>(rtt.count()),
              rtt.Quantile(0.50), rtt.Quantile(0.90), rtt.Quantile(0.99), rtt.max(), rtt.mean());
  std::fflush(stdout);
  // No callback runs once the engine is gone; then `peers` can go.
  engine.reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kcpp side of the transport benchmark; see the header of bench/kcpp_peer.cc");
  absl::ParseCommandLine(argc, argv);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  // Thousands of sessions: one socket each on the client side.
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  kcpp::transport::EngineOptions eo;
  eo.loops = absl::GetFlag(FLAGS_loops);
  eo.busy_poll_us = absl::GetFlag(FLAGS_busy_poll_us);
  eo.name = "kcpp_peer";
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(eo);
  if (!engine.ok()) Die(engine.status().ToString());
  const std::string role = absl::GetFlag(FLAGS_role), bench = absl::GetFlag(FLAGS_bench);
  if (role == "server") return RunServer(*std::move(engine));
  if (bench.empty()) return RunClient(**engine);
  if (bench == "bulk") return RunClientBulk(**engine);
  if (bench == "rtt") return RunClientRtt(**engine);
  if (bench == "many") return RunClientMany(*std::move(engine));
  std::fprintf(stderr, "kcpp_peer: unknown client -bench \"%s\"\n", bench.c_str());
  return 2;
}
