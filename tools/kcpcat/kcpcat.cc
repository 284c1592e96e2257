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
// A client exits as soon as stdin has ended, everything it sent is
// acknowledged and, with --expect N, N bytes have arrived and been written
// out (or at once when the session fails or stdout goes away; exit status 1
// unless all of that happened). KCP has no close, so a server in the
// one-session mode exits when --idle_timeout passes with nothing from the
// peer, when stdout goes away, or on SIGINT/SIGTERM. --stats prints the
// session's counters to stderr at exit.
//
// One session moves stdin -> session -> stdout on the session's own loop
// thread (StdioPump): pipes are grown to 1 MiB and read and written a MiB at
// a time, and nothing waits on a clock — every end above is an event the
// main thread is woken by.
//
// --oob: each line of stdin (without its newline) goes as one OOB datagram
// (kcp-go's unreliable datagrams, docs/protocol.md §4.8; FEC must be on, as
// kcp-go sends and accepts them only with FEC), and each OOB datagram that
// arrives is written to stdout as a line. The stream carries nothing from
// stdin: a client opens the session with one newline on it (a kcpp listener
// makes sessions only from KCP segments) and waits for its acknowledgement
// before the first datagram; what arrives on the stream is dropped. --expect
// counts datagrams. Nothing acknowledges a datagram: a line can be lost.
// A line kcp-go 5.6.1's listener would take for a new session (12 bytes or
// more starting with four zero bytes) is not sent: Session::SendOob refuses
// it, and kcpcat prints why.
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
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
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
ABSL_FLAG(bool, oob, false,
          "each line of stdin goes as one unreliable OOB datagram (kcp-go's, needs FEC on) and "
          "each OOB datagram received is printed as a line; the stream carries nothing else "
          "(a client opens it with one newline) and --expect counts datagrams");
ABSL_FLAG(int, max_sessions, 128,
          "server with --echo or --sink: sessions served at once; datagrams that would start "
          "another are dropped and counted (each session may hold a few MiB)");

namespace {

using kcpp::transport::Engine;
using kcpp::transport::Session;
using kcpp::transport::SessionCallbacks;
using kcpp::transport::SessionOptions;

std::atomic<bool> g_stop{false};

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
  // Adaptive parity's loss estimate: "none" without one (no adaptive
  // parity, or its first window not closed yet).
  char loss[32] = "none";
  if (info->fec_loss_estimate >= 0) {
    std::snprintf(loss, sizeof(loss), "%.2f%%", info->fec_loss_estimate * 100);
  }
  std::fprintf(stderr,
               "kcpcat: conv %08x %s <-> %s\n"
               "  bytes sent %llu received %llu | datagrams out %llu in %llu | segments out %llu "
               "in %llu\n"
               "  retransmitted %llu (lost %llu fast %llu early %llu) acked late %llu repeat %llu\n"
               "  fec recovered %llu errors %llu parity %llu | checksum errors %llu input errors "
               "%llu | oob out %llu in %llu\n"
               "  fec parity sending %d per group, loss estimate %s\n"
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
               static_cast<unsigned long long>(c.late_acknowledged_segments),
               static_cast<unsigned long long>(c.repeat_segments),
               static_cast<unsigned long long>(c.fec_recovered),
               static_cast<unsigned long long>(c.fec_errors),
               static_cast<unsigned long long>(c.fec_parity_shards),
               static_cast<unsigned long long>(c.checksum_errors),
               static_cast<unsigned long long>(c.input_errors),
               static_cast<unsigned long long>(c.oob_packets_sent),
               static_cast<unsigned long long>(c.oob_packets_received), info->fec_parity_sending,
               loss, info->srtt_ms, info->rto_ms,
               info->send_window, info->receive_window, info->remote_window);
}

// ---- one session <-> stdin/stdout (the client, and -l without --echo/--sink)

// What the main thread waits for, as the loop reports it. No deadline: every
// way a run can end (stdin ended, --expect met, stdout gone, the session
// over, a signal) sets a flag here and notifies.
struct RunState {
  std::mutex mu;
  std::condition_variable cv;
  bool input_done = false;            // stdin ended and all of it was handed to the session
  bool expect_met = false;            // --expect reached and written to stdout
  bool output_failed = false;         // stdout refused a write (its reader went away)
  bool ended = false;                 // the session is over (its last bytes written out)
  absl::Status why;                   // ... and why
  std::unique_ptr<Session> accepted;  // -l: the session the accept callback got
  Session* session = nullptr;         // closed by a signal
};
RunState g_run;

// SIGINT/SIGTERM: the handler writes a byte into this pipe; loop 0 watches
// it and wakes whoever waits (a handler can write(2) but not notify).
int g_signal_pipe[2] = {-1, -1};
void OnSignal(int) {
  g_stop.store(true);
  const char c = 0;
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &c, 1);
}

void WakeForSignal();  // below, with the --echo/--sink server it also wakes

class SignalWatcher : public kcpp::transport::EventLoop::FdHandler {
 public:
  void OnReadable() override {
    char buf[64];
    while (read(g_signal_pipe[0], buf, sizeof buf) > 0) {
    }
    WakeForSignal();
  }
};
SignalWatcher g_signal_watcher;

// Moves stdin into the session and the session into stdout on the
// session's own loop thread, from its callbacks and epoll: no thread
// hand-off per chunk (a reader thread woken per delivered segment cost a
// context switch per datagram, the main bottleneck kcpcat had), and nothing
// waits on a clock.
//
// stdin: watched by epoll when it can be (pipes, sockets, terminals; one
// read per readiness, so a blocking descriptor never blocks); a regular file
// or /dev/null cannot be watched and is always ready: read a chunk per loop
// task. stdout: pipes and sockets are made non-blocking (their flags are
// restored at exit) and watched for room when full; other kinds (a file, a
// terminal) take blocking writes.
//
// --oob: each line of stdin (without its '\n') goes as one OOB datagram, and
// each OOB datagram that arrives is written as a line; the stream carries
// nothing from stdin, and what arrives on it is read and dropped.
class StdioPump;
std::unique_ptr<StdioPump> g_pump;  // freed after the engine: callbacks reach it until then

class StdioPump {
 public:
  StdioPump(Session& s, kcpp::transport::EventLoop& loop, bool oob, int64_t expect)
      : s_(s), loop_(loop), oob_(oob), expect_(expect), in_buf_(kChunk) {}

  // Any thread but the loop's: installs the session's callbacks (received
  // bytes and datagrams go to stdout from now on) and, with `input`, starts
  // reading stdin; returns once they are in place.
  void Start(bool input) {
    OnLoopAndWait([this, input] { StartOnLoop(input); });
    // SetCallbacks posted the installation: it has run once a later task has.
    OnLoopAndWait([] {});
  }
  // The same on the session's loop thread (an accept callback): the
  // callbacks are installed by a task that runs before the loop reads its
  // next datagrams, so that no OOB datagram finds the session without
  // on_oob (it would be dropped).
  void StartOnLoop(bool input) {
    PrepareStdout();
    kcpp::transport::SessionCallbacks cb;
    cb.on_readable = [this] { SchedulePumpOut(); };
    cb.on_writable = [this] { ResumeIn(); };
    if (oob_) cb.on_oob = [this](absl::Span<const uint8_t> d) { OnOob(d); };
    // TryRead reports the end once the inbound queue is drained.
    cb.on_closed = [this](absl::Status) { PumpOut(); };
    s_.SetCallbacks(std::move(cb));
    if (oob_) oob_max_ = s_.oob_max_size();
    CheckExpect();
    if (input) StartInLoop();
  }
  // Any thread but the loop's: starts reading stdin (after Start(false)).
  void StartInput() {
    OnLoopAndWait([this] { StartInLoop(); });
  }

  // Any thread but the loop's: stops pumping and waits until it has.
  void Stop() {
    OnLoopAndWait([this] {
      stopped_ = true;
      UnwatchIn();
      if (out_watched_) loop_.UnwatchFd(1);
      out_watched_ = false;
      s_.SetCallbacks({});
    });
    if (out_flags_ >= 0) fcntl(1, F_SETFL, out_flags_);
  }

 private:
  static constexpr size_t kChunk = 1 << 20;        // a full pipe
  static constexpr size_t kOobPending = 4u << 20;  // OOB lines waiting for stdout

  class Handler : public kcpp::transport::EventLoop::FdHandler {
   public:
    explicit Handler(absl::AnyInvocable<void()> f) : f_(std::move(f)) {}
    void OnReadable() override { f_(); }
    void OnWritable() override { f_(); }

   private:
    absl::AnyInvocable<void()> f_;
  };

  void OnLoopAndWait(absl::AnyInvocable<void()> task) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    loop_.Post([&] {
      task();
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }

  void StartInLoop() {
    if (loop_.WatchFd(0, &in_handler_).ok()) {
      in_watched_ = in_pollable_ = true;
    } else {
      loop_.Post([this] { PumpIn(); });  // a file or /dev/null: always ready
    }
  }

  void PrepareStdout() {
    struct stat st;
    if (fstat(1, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return;
    const int flags = fcntl(1, F_GETFL);
    if (flags < 0 || fcntl(1, F_SETFL, flags | O_NONBLOCK) != 0) return;
    out_flags_ = flags;
  }

  void Report(absl::AnyInvocable<void(RunState&)> f) {
    {
      std::lock_guard<std::mutex> lock(g_run.mu);
      f(g_run);
    }
    g_run.cv.notify_all();
  }

  // ---- stdin -> session

  // From stdin's readiness, a loop task (stdin always ready) or on_writable
  // (the outbound queue has room again).
  void PumpIn() {
    if (stopped_ || in_done_ || paused_) return;
    if (in_off_ == in_len_) {
      const ssize_t n = read(0, in_buf_.data(), in_buf_.size());
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (!in_pollable_) loop_.Post([this] { PumpIn(); });  // no readiness will come
        return;
      }
      if (n <= 0) {
        if (n < 0) std::fprintf(stderr, "kcpcat: stdin: %s\n", strerror(errno));
        FinishIn();
        return;
      }
      in_off_ = 0;
      in_len_ = static_cast<size_t>(n);
    }
    if (oob_) {
      SendLines();
    } else {
      absl::StatusOr<size_t> w =
          s_.TryWrite(absl::MakeConstSpan(in_buf_.data() + in_off_, in_len_ - in_off_));
      if (w.ok()) in_off_ += *w;
      if (!w.ok() && !absl::IsDeadlineExceeded(w.status())) {
        in_done_ = true;  // the session is over: PumpOut reports why
        UnwatchIn();
        return;
      }
      if (in_off_ < in_len_) {
        // The outbound queue is full: stop reading until on_writable.
        paused_ = true;
        UnwatchIn();
        return;
      }
    }
    // A watched stdin is read once per readiness (level-triggered epoll
    // calls again, and a blocking descriptor never blocks); an always-ready
    // one a chunk per loop task, so that the loop serves the session
    // between chunks.
    if (!in_pollable_) loop_.Post([this] { PumpIn(); });
  }

  void ResumeIn() {
    if (stopped_ || in_done_ || !paused_) return;
    paused_ = false;
    if (in_pollable_) in_watched_ = loop_.WatchFd(0, &in_handler_).ok();
    PumpIn();
  }

  void UnwatchIn() {
    if (in_watched_) loop_.UnwatchFd(0);
    in_watched_ = false;
  }

  void SendLines() {
    while (in_off_ < in_len_) {
      const uint8_t* p = in_buf_.data() + in_off_;
      const uint8_t* nl = static_cast<const uint8_t*>(memchr(p, '\n', in_len_ - in_off_));
      const size_t n = nl == nullptr ? in_len_ - in_off_ : static_cast<size_t>(nl - p);
      AppendToLine(p, n);
      in_off_ += n;
      if (nl == nullptr) break;
      ++in_off_;
      SendLine();
    }
  }

  // A line longer than a datagram cannot be sent: it is not kept either
  // (stdin without newlines would otherwise grow it without bound).
  void AppendToLine(const uint8_t* p, size_t n) {
    if (line_too_long_) return;
    if (line_.size() + n > oob_max_) {
      line_too_long_ = true;
      line_.clear();
      return;
    }
    line_.append(reinterpret_cast<const char*>(p), n);
  }

  void SendLine() {
    if (line_too_long_) {
      std::fprintf(stderr,
                   "kcpcat: a line longer than %zu bytes (the largest OOB datagram) was "
                   "not sent\n",
                   oob_max_);
    } else if (absl::Status s = s_.SendOob(absl::MakeConstSpan(
                   reinterpret_cast<const uint8_t*>(line_.data()), line_.size()));
               !s.ok()) {
      std::fprintf(stderr, "kcpcat: line not sent: %s\n", s.ToString().c_str());
    }
    line_.clear();
    line_too_long_ = false;
  }

  void FinishIn() {
    in_done_ = true;
    UnwatchIn();
    if (oob_ && (!line_.empty() || line_too_long_)) SendLine();  // the last line had no '\n'
    Report([](RunState& r) { r.input_done = true; });
  }

  // ---- session -> stdout

  void OnOob(absl::Span<const uint8_t> d) {
    if (stopped_) return;
    if (oob_out_.size() - oob_off_ + d.size() + 1 > kOobPending) return;  // unreliable: drop
    oob_out_.append(reinterpret_cast<const char*>(d.data()), d.size());
    oob_out_.push_back('\n');
    ++received_;
    PumpOut();
  }

  // Writes what is pending; false if stdout is full (watched now) or gone.
  bool Flush(const uint8_t* data, size_t len, size_t* off) {
    while (*off < len) {
      const ssize_t w = write(1, data + *off, len - *off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!out_watched_) out_watched_ = loop_.WatchFd(1, &out_handler_, true).ok();
        return false;
      }
      if (w <= 0) {
        out_failed_ = true;
        if (out_watched_) loop_.UnwatchFd(1);
        out_watched_ = false;
        Report([](RunState& r) { r.output_failed = true; });
        return false;
      }
      *off += static_cast<size_t>(w);
    }
    if (out_watched_) loop_.UnwatchFd(1);
    out_watched_ = false;
    return true;
  }

  // on_readable comes per delivered segment, many times in one pass over a
  // batch of datagrams: read them out (and write stdout) once, in a task
  // that runs after the batch, not once per 1.3 KiB segment.
  void SchedulePumpOut() {
    if (pump_out_posted_) return;
    pump_out_posted_ = true;
    loop_.Post([this] {
      pump_out_posted_ = false;
      PumpOut();
    });
  }

  void PumpOut() {
    if (stopped_ || out_failed_ || reported_end_) return;
    if (oob_) {
      if (!Flush(reinterpret_cast<const uint8_t*>(oob_out_.data()), oob_out_.size(), &oob_off_)) {
        return;
      }
      oob_out_.clear();
      oob_off_ = 0;
      CheckExpect();
    }
    while (true) {
      if (!oob_ && out_off_ < out_len_) {
        if (!Flush(out_buf_.data(), out_len_, &out_off_)) return;
        CheckExpect();
      }
      if (out_buf_.empty()) out_buf_.resize(kChunk);
      absl::StatusOr<size_t> r = s_.TryRead(absl::MakeSpan(out_buf_));
      if (!r.ok()) {
        if (absl::IsDeadlineExceeded(r.status())) return;  // on_readable calls again
        // Everything the session delivered is out: report its end.
        reported_end_ = true;
        absl::Status why = r.status();
        Report([why](RunState& st) {
          st.ended = true;
          st.why = why;
        });
        return;
      }
      if (oob_) continue;  // the stream carries nothing for stdout
      out_off_ = 0;
      out_len_ = *r;
      received_ += static_cast<int64_t>(*r);
    }
  }

  void CheckExpect() {
    if (expect_ >= 0 && received_ >= expect_ && !expect_reported_) {
      expect_reported_ = true;
      Report([](RunState& r) { r.expect_met = true; });
    }
  }

  Session& s_;
  kcpp::transport::EventLoop& loop_;
  const bool oob_;
  const int64_t expect_;  // bytes (--oob: datagrams) to see written out; -1: none
  int out_flags_ = -1;    // stdout's flags before O_NONBLOCK, to restore

  // Loop thread only.
  Handler in_handler_{[this] { PumpIn(); }};
  Handler out_handler_{[this] { PumpOut(); }};
  bool stopped_ = false;
  bool in_pollable_ = false, in_watched_ = false, in_done_ = false, paused_ = false;
  std::vector<uint8_t> in_buf_;
  size_t in_off_ = 0, in_len_ = 0;
  size_t oob_max_ = 0;  // --oob: the largest datagram's payload
  std::string line_;    // --oob: the line being read
  bool line_too_long_ = false;
  bool out_watched_ = false, out_failed_ = false, reported_end_ = false;
  bool expect_reported_ = false;
  bool pump_out_posted_ = false;
  std::vector<uint8_t> out_buf_;  // what TryRead got, for stdout
  size_t out_off_ = 0, out_len_ = 0;
  std::string oob_out_;  // --oob: lines for stdout
  size_t oob_off_ = 0;
  int64_t received_ = 0;
};

// Waits, without a deadline, until `done` holds for g_run or a signal came.
template <typename Pred>
void WaitRun(Pred done) {
  std::unique_lock<std::mutex> lock(g_run.mu);
  g_run.cv.wait(lock, [&] { return g_stop.load() || done(g_run); });
}

void ReportEnd(const absl::Status& why) {
  // FailedPrecondition: this side closed (a signal); not worth a line.
  if (!why.ok() && !absl::IsFailedPrecondition(why)) {
    std::fprintf(stderr, "kcpcat: %s\n", why.ToString().c_str());
  }
}

int RunClient(Engine& engine, const std::string& address, const SessionOptions& o) {
  absl::StatusOr<std::unique_ptr<Session>> dialled = engine.Dial(address, o);
  if (!dialled.ok()) {
    std::fprintf(stderr, "kcpcat: %s\n", dialled.status().ToString().c_str());
    return 1;
  }
  Session& s = **dialled;
  {
    std::lock_guard<std::mutex> lock(g_run.mu);
    g_run.session = &s;
  }
  if (g_stop.load()) s.Close();  // a signal before the line above
  const bool oob = absl::GetFlag(FLAGS_oob);
  const int64_t expect = absl::GetFlag(FLAGS_expect);
  g_pump = std::make_unique<StdioPump>(s, engine.event_loop(s.loop_index()), oob, expect);
  bool ok = true;
  if (oob) {
    // A kcpp listener makes a session only from a KCP segment, never from
    // an OOB datagram (docs/protocol.md §4.8): open it with one newline on
    // the stream (acknowledged) before the first datagram. Received
    // datagrams reach stdout from the start.
    g_pump->Start(/*input=*/false);
    const uint8_t newline = '\n';
    absl::StatusOr<size_t> w = s.Write(absl::MakeConstSpan(&newline, 1));
    absl::Status opened = w.ok() ? s.WaitAcknowledged() : w.status();
    if (!opened.ok()) {
      ReportEnd(opened);
      ok = false;
    } else {
      g_pump->StartInput();
    }
  } else {
    g_pump->Start(/*input=*/true);
  }
  if (ok) {
    WaitRun([](RunState& r) { return r.input_done || r.ended || r.output_failed; });
    std::unique_lock<std::mutex> lock(g_run.mu);
    const bool input_done = g_run.input_done && !g_stop.load();
    lock.unlock();
    if (input_done) {
      // Everything read from stdin is in the session: done once the peer
      // has acknowledged it (WaitAcknowledged wakes on the ACK, a failure
      // or the Close a signal makes).
      absl::Status acked = s.WaitAcknowledged();
      if (!acked.ok()) {
        ReportEnd(acked);
        ok = false;
      } else if (expect >= 0) {
        WaitRun([](RunState& r) { return r.expect_met || r.ended || r.output_failed; });
      }
    }
    lock.lock();
    if (!g_run.expect_met && expect >= 0) ok = false;
    if (!input_done) ok = false;
    if (g_run.ended && !ok) ReportEnd(g_run.why);
    if (g_run.output_failed) ok = false;
  }
  g_pump->Stop();
  if (absl::GetFlag(FLAGS_stats)) PrintStats(s);
  {
    std::lock_guard<std::mutex> lock(g_run.mu);
    g_run.session = nullptr;
  }
  s.Close();
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

void WakeForSignal() {
  {
    // Under the lock: the main thread clears g_run.session before the
    // session goes. Close never blocks; it wakes WaitAcknowledged.
    std::lock_guard<std::mutex> lock(g_run.mu);
    if (g_run.session != nullptr) g_run.session->Close();
    g_run.cv.notify_all();
  }
  if (ManyState* st = g_many.get()) {
    std::lock_guard<std::mutex> lock(st->mu);
    st->cv.notify_all();
  }
}

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
    // A signal wakes this through WakeForSignal.
    st->cv.wait(lock, [st] { return g_stop.load() || !st->ended.empty(); });
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
    // The session is pumped from the accept callback on (its loop thread),
    // before the loop reads the datagrams that follow its first.
    // (A Stop from the main thread is a task on this same loop: it runs
    // after this callback.)
    (*l)->SetAcceptCallback([&engine](std::unique_ptr<Session> s) {
      std::unique_lock<std::mutex> lock(g_run.mu);
      if (g_run.accepted != nullptr) return;  // one session: later ones are closed
      g_run.accepted = std::move(s);
      Session* session = g_run.accepted.get();
      g_run.session = session;
      if (g_stop.load()) session->Close();
      g_pump = std::make_unique<StdioPump>(*session, engine.event_loop(session->loop_index()),
                                           absl::GetFlag(FLAGS_oob), -1);
      StdioPump* pump = g_pump.get();
      lock.unlock();  // the pump reports to g_run
      pump->StartOnLoop(/*input=*/true);
      g_run.cv.notify_all();
    });
    WaitRun([](RunState& r) { return r.accepted != nullptr; });
    (*l)->Close();
    std::unique_lock<std::mutex> lock(g_run.mu);
    Session* s = g_run.accepted.get();
    lock.unlock();
    if (s == nullptr) return 0;  // a signal before any session
    // Until the session ends (idle timeout, failure), stdout goes away or a
    // signal; KCP has no close.
    WaitRun([](RunState& r) { return r.ended || r.output_failed; });
    lock.lock();
    if (g_run.ended) ReportEnd(g_run.why);
    lock.unlock();
    g_pump->Stop();
    if (absl::GetFlag(FLAGS_stats)) PrintStats(*s);
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
  if (pipe2(g_signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    std::fprintf(stderr, "kcpcat: pipe: %s\n", strerror(errno));
    return 1;
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  if (absl::GetFlag(FLAGS_oob) && o->data_shards == 0) {
    std::fprintf(stderr,
                 "kcpcat: --oob needs FEC on (--datashard and --parityshard above 0): kcp-go "
                 "sends and accepts OOB datagrams only with FEC\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  kcpp::transport::EngineOptions eo;
  eo.loops = absl::GetFlag(FLAGS_loops);
  eo.name = "kcpcat";
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "kcpcat: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  kcpp::transport::EventLoop& loop0 = (*engine)->event_loop(0);
  loop0.Post([&loop0] {
    if (!loop0.WatchFd(g_signal_pipe[0], &g_signal_watcher).ok()) {
      std::fprintf(stderr, "kcpcat: cannot watch for signals\n");
    }
  });
  const int rc =
      absl::GetFlag(FLAGS_l) ? RunServer(**engine, args[1], *o) : RunClient(**engine, args[1], *o);
  engine->reset();  // no callback runs after this
  g_many.reset();
  g_pump.reset();
  g_run.accepted.reset();
  return rc;
}
