// kcpcat: netcat for KCP, on kcpp's transport, talking to kcp-go / kcptun
// peers or to itself.
//
//   kcpcat [flags] HOST:PORT           client: stdin -> session -> stdout
//   kcpcat -l [flags] ADDR:PORT        server: one session, session <-> stdio
//   kcpcat -l --echo ADDR:PORT         server: echo every session (many)
//   kcpcat -l --sink ADDR:PORT         server: read and discard (many)
//
// Session flags are named as kcptun's (--crypt, --key, --mode, --mtu,
// --sndwnd, --rcvwnd, --datashard, --parityshard, --nodelay/--interval/
// --resend/--nc with --mode manual, --acknodelay, --dscp, --sockbuf), plus
// --stream and --congestion (kcpp's choice of congestion control, see
// transport/options.h), and --replay_protection (kcpp to kcpp only, with an
// AEAD --crypt, on both ends: docs/protocol.md §11.10). The key is derived as
// kcptun does (PBKDF2-SHA1, "kcp-go", 4096).
//
// A client exits once stdin has ended, everything it sent is acknowledged
// and, with --expect N, N bytes have arrived. KCP has no close, so a server
// in the one-session mode exits when --idle_timeout passes with nothing from
// the peer, or on SIGINT/SIGTERM. --stats prints the session's counters to
// stderr at exit.
//
// --echo and --sink serve many sessions at once without a thread each: every
// session is driven by its callbacks on the engine's loop threads (as
// bench/kcpp_peer does), and the main thread frees the ones that ended. At
// most --max_sessions (default 128) are live; a session beyond that is
// refused by the listener (its datagrams dropped and counted, so a client
// retries until a place frees) and the count is printed at exit. Each live
// session may hold up to a few MiB (SECURITY.md, "Resource exhaustion"):
// size --max_sessions to memory, and set --idle_timeout so that sessions
// whose peer went away (or never existed: forged datagrams with --crypt
// none) give their place back.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "transport/engine.h"

ABSL_FLAG(bool, l, false, "listen (server) instead of dialling");
ABSL_FLAG(bool, echo, false, "server: echo every session's bytes back");
ABSL_FLAG(bool, sink, false, "server: read and discard every session's bytes");
ABSL_FLAG(std::string, crypt, "aes",
          "cipher (kcptun names): aes, aes-128, aes-192, salsa20, blowfish, twofish, cast5, 3des, "
          "tea, xtea, xor, sm4, none, null, aes-128-gcm, aes-192-gcm, aes-256-gcm, "
          "chacha20-poly1305");
ABSL_FLAG(std::string, key, "it's a secrect", "pre-shared passphrase (kcptun's default)");
ABSL_FLAG(std::string, mode, "fast", "normal, fast, fast2, fast3 or manual");
ABSL_FLAG(int, mtu, 1350, "largest UDP payload");
ABSL_FLAG(int, sndwnd, 128, "send window (segments)");
ABSL_FLAG(int, rcvwnd, 512, "receive window (segments)");
ABSL_FLAG(int, datashard, 10, "FEC data shards (0 with --parityshard 0: FEC off)");
ABSL_FLAG(int, parityshard, 3, "FEC parity shards");
ABSL_FLAG(int, nodelay, 0, "manual mode: nodelay");
ABSL_FLAG(int, interval, 50, "manual mode: interval (ms)");
ABSL_FLAG(int, resend, 0, "manual mode: fast resend");
ABSL_FLAG(int, nc, 0, "manual mode: 1 disables congestion control");
ABSL_FLAG(bool, acknodelay, false, "flush ACKs immediately");
ABSL_FLAG(std::string, congestion, kcpp::transport::SessionOptions{}.congestion,
          "congestion control of what this side sends: bbr (paced at the measured path "
          "rate), kcp-go (KCP's window, off with --nc 1 as in kcp-go) or none");
ABSL_FLAG(int, dscp, -1, "DSCP (0..63)");
ABSL_FLAG(int, sockbuf, 4194304, "socket buffer bytes");
ABSL_FLAG(bool, stream, true, "stream mode");
ABSL_FLAG(bool, replay_protection, false,
          "drop replayed datagrams (kcpp peers only, both ends, an AEAD --crypt such as "
          "aes-128-gcm; docs/protocol.md §11.10)");
ABSL_FLAG(int64_t, expect, -1, "client: exit after receiving this many bytes (-1: don't wait)");
ABSL_FLAG(int, idle_timeout, 0, "seconds without datagrams after which a session ends (0: never)");
ABSL_FLAG(int, loops, 0, "event-loop threads (0: one per core)");
ABSL_FLAG(bool, stats, false, "print the session's counters to stderr at exit");
ABSL_FLAG(int, max_sessions, 128,
          "server with --echo or --sink: sessions served at once; datagrams that would start "
          "another are dropped and counted (each session may hold a few MiB)");

namespace {

using kcpp::transport::Engine;
using kcpp::transport::Session;
using kcpp::transport::SessionCallbacks;
using kcpp::transport::SessionOptions;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }


// A pipe holds 64 KiB by default, so at hundreds of MB/s the process at its
// other end is woken (and kcpcat with it) every 64 KiB: thousands of context
// switches a second on each side. Linux lets a pipe grow to
// /proc/sys/fs/pipe-max-size (1 MiB by default) for anyone; a failure leaves
// it as it was, only slower.
void EnlargePipe(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
  fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

absl::StatusOr<SessionOptions> OptionsFromFlags() {
  SessionOptions o;
  o.crypt = absl::GetFlag(FLAGS_crypt);
  o.key = absl::GetFlag(FLAGS_key);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "manual") {
    o.nodelay = {absl::GetFlag(FLAGS_nodelay), absl::GetFlag(FLAGS_interval),
                 absl::GetFlag(FLAGS_resend), absl::GetFlag(FLAGS_nc) != 0};
  } else {
    absl::StatusOr<kcpp::transport::NoDelay> nd = kcpp::transport::NoDelay::FromMode(mode);
    if (!nd.ok()) return nd.status();
    o.nodelay = *nd;
  }
  o.mtu = absl::GetFlag(FLAGS_mtu);
  o.send_window = absl::GetFlag(FLAGS_sndwnd);
  o.receive_window = absl::GetFlag(FLAGS_rcvwnd);
  o.data_shards = absl::GetFlag(FLAGS_datashard);
  o.parity_shards = absl::GetFlag(FLAGS_parityshard);
  if (o.data_shards == 0 || o.parity_shards == 0) o.data_shards = o.parity_shards = 0;
  o.ack_nodelay = absl::GetFlag(FLAGS_acknodelay);
  o.congestion = absl::GetFlag(FLAGS_congestion);
  o.dscp = absl::GetFlag(FLAGS_dscp);
  o.socket_buffer_bytes = absl::GetFlag(FLAGS_sockbuf);
  o.stream_mode = absl::GetFlag(FLAGS_stream);
  o.replay_protection = absl::GetFlag(FLAGS_replay_protection);
  o.idle_timeout_ms = absl::GetFlag(FLAGS_idle_timeout) * 1000;
  absl::Status s = o.Validate();
  if (!s.ok()) return s;
  return o;
}

void PrintStats(Session& s) {
  absl::StatusOr<kcpp::transport::SessionInfo> info = s.GetInfo();
  if (!info.ok()) return;
  const kcpp::transport::Counters& c = info->counters;
  std::fprintf(stderr,
               "kcpcat: conv %08x %s <-> %s\n"
               "  bytes sent %llu received %llu | datagrams out %llu in %llu | segments out %llu "
               "in %llu\n"
               "  retransmitted %llu (lost %llu fast %llu early %llu) repeat %llu\n"
               "  fec recovered %llu errors %llu parity %llu | checksum errors %llu input errors "
               "%llu\n"
               "  srtt %u ms rto %u ms windows snd %u rcv %u remote %u\n",
               info->conv, info->local_address.ToString().c_str(),
               info->remote_address.ToString().c_str(),
               static_cast<unsigned long long>(c.bytes_sent),
               static_cast<unsigned long long>(c.bytes_received),
               static_cast<unsigned long long>(c.packets_sent),
               static_cast<unsigned long long>(c.packets_received),
               static_cast<unsigned long long>(c.segments_sent),
               static_cast<unsigned long long>(c.segments_received),
               static_cast<unsigned long long>(c.retransmitted_segments),
               static_cast<unsigned long long>(c.lost_segments),
               static_cast<unsigned long long>(c.fast_retransmitted_segments),
               static_cast<unsigned long long>(c.early_retransmitted_segments),
               static_cast<unsigned long long>(c.repeat_segments),
               static_cast<unsigned long long>(c.fec_recovered),
               static_cast<unsigned long long>(c.fec_errors),
               static_cast<unsigned long long>(c.fec_parity_shards),
               static_cast<unsigned long long>(c.checksum_errors),
               static_cast<unsigned long long>(c.input_errors), info->srtt_ms, info->rto_ms,
               info->send_window, info->receive_window, info->remote_window);
}

// Session -> stdout until the session ends, `expect` bytes arrived or stop.
void CopyToStdout(Session& s, int64_t expect, std::atomic<bool>* done) {
  std::vector<uint8_t> buf(256 * 1024);
  int64_t total = 0;
  while (!g_stop.load() && (expect < 0 || total < expect)) {
    absl::StatusOr<size_t> n = s.Read(absl::MakeSpan(buf), absl::Now() + absl::Milliseconds(200));
    if (!n.ok()) {
      if (absl::IsDeadlineExceeded(n.status())) continue;
      if (!absl::IsFailedPrecondition(n.status())) {
        std::fprintf(stderr, "kcpcat: %s\n", n.status().ToString().c_str());
      }
      break;
    }
    size_t off = 0;
    while (off < *n) {
      const ssize_t w = write(1, buf.data() + off, *n - off);
      if (w <= 0) {
        done->store(true);
        return;
      }
      off += static_cast<size_t>(w);
    }
    total += static_cast<int64_t>(*n);
  }
  done->store(true);
}

// stdin -> session until EOF; returns false on a session error.
bool CopyFromStdin(Session& s) {
  std::vector<uint8_t> buf(256 * 1024);
  while (!g_stop.load()) {
    const ssize_t n = read(0, buf.data(), buf.size());
    if (n <= 0) return true;
    absl::StatusOr<size_t> w = s.Write(absl::MakeConstSpan(buf.data(), static_cast<size_t>(n)));
    if (!w.ok()) {
      std::fprintf(stderr, "kcpcat: %s\n", w.status().ToString().c_str());
      return false;
    }
  }
  return true;
}

int RunClient(Engine& engine, const std::string& address, const SessionOptions& o) {
  absl::StatusOr<std::unique_ptr<Session>> s = engine.Dial(address, o);
  if (!s.ok()) {
    std::fprintf(stderr, "kcpcat: %s\n", s.status().ToString().c_str());
    return 1;
  }
  std::atomic<bool> read_done{false};
  std::thread reader([&] { CopyToStdout(**s, absl::GetFlag(FLAGS_expect), &read_done); });
  bool ok = CopyFromStdin(**s);
  if (ok) {
    absl::Status acked = (*s)->WaitAcknowledged();
    if (!acked.ok()) {
      std::fprintf(stderr, "kcpcat: %s\n", acked.ToString().c_str());
      ok = false;
    }
  }
  if (absl::GetFlag(FLAGS_expect) < 0) g_stop.store(true);
  reader.join();
  if (absl::GetFlag(FLAGS_stats)) PrintStats(**s);
  (*s)->Close();
  return ok ? 0 : 1;
}

// One session of the --echo/--sink server, driven by its callbacks on its
// loop thread: no thread of its own.
class Conn {
 public:
  Conn(std::unique_ptr<Session> session, bool echo) : session_(std::move(session)), echo_(echo) {}
  Session& session() { return *session_; }

  // `on_closed` runs once, on the loop thread, when the session has ended.
  void Install(absl::AnyInvocable<void()> on_closed) {
    SessionCallbacks cb;
    cb.on_readable = [this] { Pump(); };
    cb.on_writable = [this] { Pump(); };
    cb.on_closed = [done = std::move(on_closed)](absl::Status) mutable { done(); };
    session_->SetCallbacks(std::move(cb));
  }

 private:
  // Sends what is pending, then reads (and echoes) while both sides flow.
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
      absl::StatusOr<size_t> r = session_->TryRead(absl::MakeSpan(buf));
      if (!r.ok()) return;  // nothing more now, or failed (on_closed follows)
      if (echo_) pending_.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
    }
  }

  std::unique_ptr<Session> session_;
  const bool echo_;
  std::vector<uint8_t> pending_;  // at most one read's bytes
  size_t pending_off_ = 0;
};

// The --echo/--sink server's sessions. Callbacks on the loop threads reach
// it until the engine is gone, so it outlives RunServer (main frees it after
// the engine).
struct ManyState {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Conn>> live;  // guarded by mu
  std::vector<Conn*> ended;                 // guarded by mu: on_closed ran
};
std::unique_ptr<ManyState> g_many;

// --echo / --sink: every session on the engine's callbacks; the main thread
// frees those that ended. The listener's max_sessions is the bound.
int ServeMany(kcpp::transport::Listener& listener, bool echo) {
  g_many = std::make_unique<ManyState>();
  ManyState* st = g_many.get();
  listener.SetAcceptCallback([st, echo](std::unique_ptr<Session> s) {
    auto conn = std::make_unique<Conn>(std::move(s), echo);
    Conn* c = conn.get();
    {
      std::lock_guard<std::mutex> lock(st->mu);
      st->live.push_back(std::move(conn));
    }
    c->Install([st, c] {
      std::lock_guard<std::mutex> lock(st->mu);
      st->ended.push_back(c);
      st->cv.notify_all();
    });
  });
  const bool stats = absl::GetFlag(FLAGS_stats);
  uint64_t served = 0;
  std::unique_lock<std::mutex> lock(st->mu);
  while (!g_stop.load()) {
    // The timeout only notices g_stop (a signal handler cannot notify).
    st->cv.wait_for(lock, std::chrono::milliseconds(200), [st] { return !st->ended.empty(); });
    if (st->ended.empty()) continue;
    std::vector<std::unique_ptr<Conn>> gone;
    for (Conn* c : st->ended) {
      for (auto& p : st->live) {
        if (p.get() == c) {
          gone.push_back(std::move(p));
          p = std::move(st->live.back());
          st->live.pop_back();
          break;
        }
      }
    }
    st->ended.clear();
    served += gone.size();
    // No callback of an ended session runs again: free it outside the lock
    // (GetInfo and the handle's destructor talk to the loop).
    lock.unlock();
    for (auto& c : gone) {
      if (stats) PrintStats(c->session());
      c.reset();
    }
    lock.lock();
  }
  const size_t still = st->live.size();
  lock.unlock();
  const kcpp::transport::ListenerStats ls = listener.GetStats();
  std::fprintf(stderr,
               "kcpcat: %llu sessions served, %zu live at exit, %llu datagrams dropped at "
               "--max_sessions %d\n",
               static_cast<unsigned long long>(served), still,
               static_cast<unsigned long long>(ls.dropped_session_limit),
               absl::GetFlag(FLAGS_max_sessions));
  return 0;
}

int RunServer(Engine& engine, const std::string& address, const SessionOptions& o) {
  kcpp::transport::ListenerOptions lo;
  lo.session = o;
  lo.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  absl::StatusOr<std::unique_ptr<kcpp::transport::Listener>> l = engine.Listen(address, lo);
  if (!l.ok()) {
    std::fprintf(stderr, "kcpcat: %s\n", l.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "kcpcat: listening on %s\n", (*l)->local_address().ToString().c_str());
  const bool echo = absl::GetFlag(FLAGS_echo), sink = absl::GetFlag(FLAGS_sink);
  if (!echo && !sink) {
    absl::StatusOr<std::unique_ptr<Session>> s;
    while (!g_stop.load()) {
      s = (*l)->Accept(absl::Now() + absl::Milliseconds(200));
      if (s.ok() || !absl::IsDeadlineExceeded(s.status())) break;
    }
    if (!s.ok()) return g_stop.load() ? 0 : 1;
    (*l)->Close();
    std::atomic<bool> read_done{false};
    std::thread reader([&] { CopyToStdout(**s, -1, &read_done); });
    CopyFromStdin(**s);
    reader.join();
    if (absl::GetFlag(FLAGS_stats)) PrintStats(**s);
    return 0;
  }
  return ServeMany(**l, echo);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "netcat for KCP.\n  kcpcat [flags] HOST:PORT\n  kcpcat -l [--echo|--sink] [flags] "
      "ADDR:PORT");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: kcpcat [flags] HOST:PORT | kcpcat -l [flags] ADDR:PORT\n");
    return 2;
  }
  absl::StatusOr<SessionOptions> o = OptionsFromFlags();
  if (!o.ok()) {
    std::fprintf(stderr, "kcpcat: %s\n", o.status().ToString().c_str());
    return 2;
  }
  EnlargePipe(0);
  EnlargePipe(1);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  kcpp::transport::EngineOptions eo;
  eo.loops = absl::GetFlag(FLAGS_loops);
  eo.name = "kcpcat";
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "kcpcat: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  const int rc = absl::GetFlag(FLAGS_l) ? RunServer(**engine, args[1], *o)
                                        : RunClient(**engine, args[1], *o);
  engine->reset();  // no callback runs after this
  g_many.reset();
  return rc;
}
