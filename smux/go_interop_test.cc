// Interop with the real xtaci/smux 1.5.16 (Debian, what kcptun links), over
// the child's stdin/stdout, with and without golang/snappy framing under
// smux exactly as kcptun layers them (docs/protocol.md §6.1-§6.2). The C++
// side is a small poll() loop around the sans-IO Session (and
// snappy_framing::FramingEncoder/Decoder); the Go side is go_smux_peer.go.
//
// Proven here, for v1 and v2, client and server roles:
//   * many concurrent streams opened from both sides at once, each moving
//     MiBs byte-exact in both directions (echoed), FIN both ways (EOF seen
//     by Go, OnStreamFin here), streams cleaned up on both ends;
//   * v2 flow control really works: our writer stops at the window of a Go
//     reader that does not read (exactly 262144, smux's initial window), and
//     a Go writer stops at ours while we hold a stream's data, while another
//     stream keeps flowing; v1's session-wide budget blocks the input and
//     bounds what we hold;
//   * NOP keepalives accepted by Go (its keepalive timeout would kill an idle
//     session otherwise) and Go's counted here; a silent peer is declared
//     dead;
//   * a version mismatch with a real peer is a clear protocol error;
//   * kcpp's close notice (a NOP on a reserved stream id) is ignored by Go.
//
// Usage: go_interop_test <path to go_smux_peer>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "smux/session.h"
#include "snappy/framing.h"

namespace kcpp::smux {
namespace {

using Bytes = std::vector<uint8_t>;

const char* g_peer = nullptr;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// Same formula as pattern() in go_smux_peer.go.
uint8_t PatternByte(uint32_t seed, uint64_t i) {
  return static_cast<uint8_t>((static_cast<uint32_t>(i) * 2654435761u + seed * 40503u) >> 13);
}

// Data the C++ side sends on its own streams: half text (so snappy really
// compresses chunks), half pseudo-random.
Bytes SourceData(uint32_t seed, size_t n) {
  static const char kText[] = "smux frames inside snappy chunks inside a KCP stream; ";
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) {
    b[i] = ((i >> 12) & 1) ? PatternByte(seed, i) : kText[(i + seed) % (sizeof(kText) - 1)];
  }
  return b;
}

// The Go peer as a child process; we hold its stdin and stdout.
class GoPeer {
 public:
  ~GoPeer() {
    CloseInput();
    if (from_ >= 0) close(from_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void Start(const std::vector<std::string>& args) {
    int in[2], out[2];
    ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(g_peer));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(g_peer, argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    fcntl(to_, F_SETFL, O_NONBLOCK);
    fcntl(from_, F_SETFL, O_NONBLOCK);
  }

  // EOF on the child's stdin: its smux session dies and it exits.
  void CloseInput() {
    if (to_ >= 0) close(to_);
    to_ = -1;
  }

  // Waits for the exit status (reading and dropping what it still writes).
  int Wait() {
    CloseInput();
    char buf[4096];
    while (from_ >= 0) {
      pollfd p{from_, POLLIN, 0};
      poll(&p, 1, 1000);
      const ssize_t n = read(from_, buf, sizeof(buf));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close(from_);
        from_ = -1;
      }
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  int to() const { return to_; }
  int from() const { return from_; }

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
};

// What the C++ side does with a stream.
enum class Kind {
  kSource,  // ours: send `data`, expect it echoed, then CloseWrite, expect FIN
  kSender,  // ours: send `data`, CloseWrite, collect the reply, expect FIN
  kEcho,    // theirs: 8-byte length L, then echo L bytes, CloseWrite
  kSink,    // theirs: check the pattern; hold data unconsumed while `hold`
};

struct App {
  Kind kind = Kind::kSink;
  Bytes data;         // kSource / kSender: what to send
  uint64_t sent = 0;  // bytes accepted by Session::Write
  uint64_t received = 0;
  bool mismatch = false;
  bool fin = false;
  bool closed = false;
  Bytes reply;   // kSender
  Bytes header;  // kEcho: the length prefix
  uint64_t echo_len = 0;
  Bytes backlog;  // kEcho: received, not yet written back (unconsumed)
  uint64_t echoed = 0;
  bool hold = false;  // kSink
  uint64_t held = 0;  // kSink: delivered while holding, not consumed
  uint64_t max_unconsumed = 0;
};

class Endpoint : public SessionHandler {
 public:
  Endpoint(Role role, const Config& config, bool snappy, GoPeer* peer)
      : snappy_(snappy), peer_(peer) {
    auto s = Session::Create(role, config, this, NowMs());
    EXPECT_TRUE(s.ok()) << s.status();
    session = std::move(*s);
  }

  std::unique_ptr<Session> session;
  std::map<StreamId, App> apps;
  Kind incoming = Kind::kEcho;
  absl::Status died;
  bool peer_eof = false;
  uint64_t blocked_rounds = 0;  // loop rounds that ended with input blocked
  uint64_t max_total_unconsumed = 0;
  // Called after every loop round (e.g. to release held data).
  std::function<void()> on_round;
  // Called after each OnStreamData, to observe state at that exact point.
  std::function<void(StreamId)> on_data;

  StreamId Open(Kind kind, Bytes data) {
    absl::StatusOr<StreamId> id = session->OpenStream();
    EXPECT_TRUE(id.ok()) << id.status();
    App& a = apps[*id];
    a.kind = kind;
    a.data = std::move(data);
    Pump(*id);
    return *id;
  }

  // Runs the I/O loop until `done()` holds; false on timeout (a hang guard
  // only, never a timing assertion) or if the peer went away first.
  bool RunUntil(const std::function<bool()>& done, int64_t timeout_ms = 120000) {
    const int64_t give_up = NowMs() + timeout_ms;
    while (!done()) {
      const int64_t now = NowMs();
      if (now >= give_up || (peer_eof && in_pending_.empty() && decoded_empty())) return false;
      for (auto& [id, a] : apps) Pump(id);
      FlushOutput();
      pollfd fds[2];
      int n = 0;
      const bool want_read = !peer_eof && in_pending_.size() < 65536;
      if (want_read) fds[n++] = {peer_->from(), POLLIN, 0};
      if (!wire_empty() && peer_->to() >= 0) fds[n++] = {peer_->to(), POLLOUT, 0};
      // Sleep in poll only when nothing can move without the peer.
      int64_t wait = HasWork() ? 0 : std::min<int64_t>(give_up - now, 50);
      const int64_t deadline = session->NextDeadline();
      if (deadline != kNoDeadline) wait = std::max<int64_t>(0, std::min(wait, deadline - now));
      poll(fds, n, static_cast<int>(wait));
      if (want_read) ReadInput();
      ProcessInput();
      session->OnTimer(NowMs());
      if (on_round) on_round();
      ProcessInput();
      if (session->receive_blocked()) ++blocked_rounds;
    }
    FlushOutput();
    return true;
  }

  // --- SessionHandler
  void OnStreamOpened(StreamId id) override {
    EXPECT_TRUE(session->AcceptStream(id).ok());
    apps[id].kind = incoming;
  }

  void OnStreamData(StreamId id, absl::Span<const uint8_t> d) override {
    App& a = apps[id];
    switch (a.kind) {
      case Kind::kSource:
        for (size_t i = 0; i < d.size(); ++i) {
          if (a.received + i >= a.data.size() || d[i] != a.data[a.received + i]) a.mismatch = true;
        }
        a.received += d.size();
        EXPECT_TRUE(session->Consume(id, d.size()).ok());
        break;
      case Kind::kSender:
        a.reply.insert(a.reply.end(), d.begin(), d.end());
        EXPECT_TRUE(session->Consume(id, d.size()).ok());
        break;
      case Kind::kEcho: {
        size_t i = 0;
        while (a.header.size() < 8 && i < d.size()) a.header.push_back(d[i++]);
        if (i > 0) {
          EXPECT_TRUE(session->Consume(id, i).ok());
          if (a.header.size() == 8) {
            for (int k = 7; k >= 0; --k) a.echo_len = a.echo_len << 8 | a.header[k];
          }
        }
        a.backlog.insert(a.backlog.end(), d.begin() + i, d.end());  // consumed when echoed
        a.received += d.size() - i;
        break;
      }
      case Kind::kSink:
        for (size_t i = 0; i < d.size(); ++i) {
          if (d[i] != PatternByte(id, a.received + i)) a.mismatch = true;
        }
        a.received += d.size();
        if (a.hold) {
          a.held += d.size();
        } else {
          EXPECT_TRUE(session->Consume(id, d.size()).ok());
        }
        break;
    }
    if (auto info = session->GetStreamInfo(id)) {
      a.max_unconsumed = std::max(a.max_unconsumed, info->unconsumed);
    }
    uint64_t total = 0;
    for (auto& [sid, app] : apps) {
      if (auto info = session->GetStreamInfo(sid)) total += info->unconsumed;
    }
    max_total_unconsumed = std::max(max_total_unconsumed, total);
    if (on_data) on_data(id);
  }

  void OnStreamFin(StreamId id) override { apps[id].fin = true; }
  void OnStreamWritable(StreamId id) override { Pump(id); }
  void OnStreamClosed(StreamId id) override { apps[id].closed = true; }
  void OnSessionClosed(const absl::Status& status) override { died = status; }

  // Releases data a kSink stream held.
  void Release(StreamId id) {
    App& a = apps[id];
    a.hold = false;
    if (a.held > 0) {
      EXPECT_TRUE(session->Consume(id, a.held).ok());
    }
    a.held = 0;
  }

  const snappy_framing::FramingEncoder& encoder() const { return enc_; }

 private:
  // Moves data the stream wants to send into the session.
  void Pump(StreamId id) {
    if (session->is_closed()) return;
    App& a = apps[id];
    auto info = session->GetStreamInfo(id);
    if (!info || info->fin_sent) return;
    if (a.kind == Kind::kSource || a.kind == Kind::kSender) {
      if (a.sent < a.data.size()) {
        absl::StatusOr<size_t> n = session->Write(id, absl::MakeConstSpan(a.data).subspan(a.sent));
        ASSERT_TRUE(n.ok()) << n.status();
        a.sent += *n;
      }
      const bool all_back = a.kind == Kind::kSender || a.received == a.data.size();
      if (a.sent == a.data.size() && all_back) {
        EXPECT_TRUE(session->CloseWrite(id).ok());
      }
    } else if (a.kind == Kind::kEcho && a.header.size() == 8) {
      if (!a.backlog.empty()) {
        absl::StatusOr<size_t> n = session->Write(id, a.backlog);
        ASSERT_TRUE(n.ok()) << n.status();
        a.backlog.erase(a.backlog.begin(), a.backlog.begin() + *n);
        a.echoed += *n;
        if (*n > 0) {
          EXPECT_TRUE(session->Consume(id, *n).ok());
        }
      }
      if (a.echoed == a.echo_len) {
        EXPECT_TRUE(session->CloseWrite(id).ok());
      }
    }
  }

  // Whether some stream has bytes to send and room to send them, or output
  // is waiting to move into the snappy encoder.
  bool HasWork() const {
    if (session->is_closed()) return false;
    if (snappy_ && enc_.output().empty() && !session->output().empty()) return true;
    for (const auto& [id, a] : apps) {
      const bool wants =
          ((a.kind == Kind::kSource || a.kind == Kind::kSender) && a.sent < a.data.size()) ||
          (a.kind == Kind::kEcho && !a.backlog.empty());
      if (wants && session->WritableBytes(id) > 0) return true;
    }
    return false;
  }

  bool decoded_empty() const { return !snappy_ || dec_.decoded().empty(); }
  bool wire_empty() const { return snappy_ ? enc_.output().empty() : session->output().empty(); }

  void ReadInput() {
    uint8_t buf[65536];
    const ssize_t n = read(peer_->from(), buf, sizeof(buf));
    if (n > 0) in_pending_.insert(in_pending_.end(), buf, buf + n);
    if (n == 0) peer_eof = true;
  }

  void ProcessInput() {
    if (!snappy_) {
      const size_t used = session->Feed(in_pending_);
      in_pending_.erase(in_pending_.begin(), in_pending_.begin() + used);
      return;
    }
    while (true) {
      if (!dec_.decoded().empty()) {
        dec_.ConsumeDecoded(session->Feed(dec_.decoded()));
        if (!dec_.decoded().empty()) return;  // session blocked or dead
      }
      if (in_pending_.empty()) return;
      absl::StatusOr<size_t> used = dec_.Feed(in_pending_);
      ASSERT_TRUE(used.ok()) << used.status();
      in_pending_.erase(in_pending_.begin(), in_pending_.begin() + *used);
      if (*used == 0 && dec_.decoded().empty()) return;
    }
  }

  void FlushOutput() {
    if (peer_->to() < 0) return;
    if (snappy_) {
      if (enc_.output().empty() && !session->output().empty()) {
        enc_.Write(session->output());  // kcptun: Flush after every write
        enc_.Flush();
        session->ConsumeOutput(session->output().size());
      }
      enc_.ConsumeOutput(WriteSome(enc_.output()));
    } else {
      session->ConsumeOutput(WriteSome(session->output()));
    }
  }

  size_t WriteSome(absl::Span<const uint8_t> bytes) {
    if (bytes.empty()) return 0;
    const ssize_t n = write(peer_->to(), bytes.data(), bytes.size());
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

  const bool snappy_;
  GoPeer* const peer_;
  Bytes in_pending_;
  snappy_framing::FramingDecoder dec_;
  snappy_framing::FramingEncoder enc_;
};

struct Params {
  int version;
  bool snappy;
  Role role;  // ours
};

std::string Name(const testing::TestParamInfo<Params>& p) {
  return absl::StrCat("v", p.param.version, p.param.snappy ? "_snappy" : "_plain",
                      p.param.role == Role::kClient ? "_client" : "_server");
}

std::vector<std::string> PeerArgs(const Params& p, const std::string& mode,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      absl::StrCat("-role=", p.role == Role::kClient ? "server" : "client"),
      absl::StrCat("-version=", p.version), absl::StrCat("-snappy=", p.snappy ? "true" : "false"),
      absl::StrCat("-mode=", mode)};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

class GoSmuxInterop : public testing::TestWithParam<Params> {};

// Both sides open 4 streams at once; every stream carries 2 MiB each way.
TEST_P(GoSmuxInterop, ConcurrentStreamsFromBothSidesEchoedByteExact) {
  ASSERT_NE(g_peer, nullptr) << "pass the go_smux_peer path as argv[1]";
  const Params p = GetParam();
  constexpr int kStreams = 4;
  constexpr size_t kSize = 2 << 20;
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(go.Start(
      PeerArgs(p, "echo", {absl::StrCat("-open=", kStreams), absl::StrCat("-size=", kSize)})));
  Config c;
  c.version = p.version;
  // Room for everything Go's echo clients may send before we have echoed it
  // (4 x 2 MiB): our echo app consumes only what it has written back, and
  // two echo peers with full buffers on both sides could otherwise wait on
  // each other forever (in v1, which has no per-stream window).
  c.max_receive_buffer = 16 << 20;
  Endpoint ep(p.role, c, p.snappy, &go);
  std::vector<StreamId> ours;
  for (int i = 0; i < kStreams; ++i) ours.push_back(ep.Open(Kind::kSource, SourceData(i, kSize)));
  auto all_closed = [&] {
    int closed = 0;
    for (auto& [id, a] : ep.apps) closed += a.closed;
    return closed == 2 * kStreams;
  };
  ASSERT_TRUE(ep.RunUntil(all_closed)) << "streams did not finish; " << ep.died;
  for (StreamId id : ours) {
    const App& a = ep.apps[id];
    EXPECT_EQ(id % 2, p.role == Role::kClient ? 1u : 0u);
    EXPECT_EQ(a.received, kSize) << id;
    EXPECT_FALSE(a.mismatch) << id;
    EXPECT_TRUE(a.fin) << id;
  }
  int echoed = 0;
  for (auto& [id, a] : ep.apps) {
    if (a.kind != Kind::kEcho) continue;
    ++echoed;
    EXPECT_EQ(a.echo_len, kSize);
    EXPECT_EQ(a.echoed, kSize);
    EXPECT_TRUE(a.fin);
  }
  EXPECT_EQ(echoed, kStreams);
  EXPECT_EQ(ep.session->num_streams(), 0u);
  EXPECT_TRUE(ep.died.ok()) << ep.died;
  const SessionStats& st = ep.session->stats();
  EXPECT_EQ(st.frames_received[kCmdSyn], static_cast<uint64_t>(kStreams));
  EXPECT_EQ(st.frames_received[kCmdFin], 2u * kStreams);
  EXPECT_EQ(st.bytes_discarded, 0u);
  if (p.version == 2) {
    EXPECT_GT(st.frames_received[kCmdUpd], 0u);
    EXPECT_GT(st.frames_sent[kCmdUpd], 0u);
  }
  if (p.snappy) {
    EXPECT_GT(ep.encoder().compressed_chunks(), 0u);
  }
  // The Go side checked its own 4 streams (echo + EOF) and exits 0 only if
  // all were byte-exact.
  EXPECT_EQ(go.Wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    All, GoSmuxInterop,
    testing::Values(Params{1, false, Role::kClient}, Params{2, false, Role::kClient},
                    Params{1, true, Role::kClient}, Params{2, true, Role::kClient},
                    Params{1, false, Role::kServer}, Params{2, true, Role::kServer}),
    Name);

class GoSmuxFlowControl : public testing::TestWithParam<bool> {};  // snappy

// A Go reader that reads stream B to the end before touching A: our writer
// on A must stop at exactly smux's initial window, 262144 bytes.
TEST_P(GoSmuxFlowControl, OurWriterStopsAtGoReadersWindow) {
  const bool snappy = GetParam();
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(go.Start(PeerArgs({2, snappy, Role::kClient}, "window-reader")));
  Config c;
  c.version = 2;
  Endpoint ep(Role::kClient, c, snappy, &go);
  constexpr size_t kSize = 1 << 20;
  Bytes pa(kSize), pb(kSize);
  const StreamId a = 3, b = 5;
  for (size_t i = 0; i < kSize; ++i) {
    pa[i] = PatternByte(a, i);
    pb[i] = PatternByte(b, i);
  }
  ASSERT_EQ(ep.Open(Kind::kSender, pa), a);
  ASSERT_EQ(ep.Open(Kind::kSender, pb), b);
  // Observed the moment B's reply is parsed: Go wrote it before it started
  // reading A, so no UPD for A can precede it in the byte stream.
  uint64_t a_sent = 0, a_writable = 1, a_written = 0;
  ep.on_data = [&](StreamId id) {
    if (id != b || ep.apps[b].reply.size() != 9 || a_written != 0) return;
    a_sent = ep.apps[a].sent;
    a_writable = ep.session->WritableBytes(a);
    a_written = ep.session->GetStreamInfo(a)->bytes_written;
  };
  ASSERT_TRUE(ep.RunUntil([&] { return ep.apps[b].reply.size() == 9; })) << ep.died;
  // Go has read all of B and none of A.
  EXPECT_EQ(a_sent, kInitialPeerWindow);
  EXPECT_EQ(a_writable, 0u);
  EXPECT_EQ(a_written, kInitialPeerWindow);
  ASSERT_TRUE(ep.RunUntil([&] { return ep.apps[a].closed && ep.apps[b].closed; })) << ep.died;
  for (StreamId id : {a, b}) {
    const Bytes& r = ep.apps[id].reply;
    ASSERT_EQ(r.size(), 9u);
    uint64_t count = 0;
    for (int k = 7; k >= 0; --k) count = count << 8 | r[k];
    EXPECT_EQ(count, kSize) << id;
    EXPECT_EQ(r[8], 1) << "Go saw a pattern mismatch on stream " << id;
  }
  EXPECT_EQ(go.Wait(), 0);
}

// A Go writer on two streams while we hold everything of the first: the
// first stays within the window (we never consumed, so Go still assumes
// 262144), the second completes.
TEST_P(GoSmuxFlowControl, GoWriterStopsAtOurWindowWhileAnotherStreamFlows) {
  const bool snappy = GetParam();
  constexpr size_t kSize = 2 << 20;
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(go.Start(
      PeerArgs({2, snappy, Role::kServer}, "writer", {"-open=2", absl::StrCat("-size=", kSize)})));
  Config c;
  c.version = 2;
  Endpoint ep(Role::kServer, c, snappy, &go);
  ep.incoming = Kind::kSink;
  const StreamId a = 3, b = 5;
  ep.apps[a].hold = true;
  ASSERT_TRUE(ep.RunUntil([&] { return ep.apps[b].fin; })) << ep.died;
  EXPECT_EQ(ep.apps[b].received, kSize);
  EXPECT_LE(ep.apps[a].max_unconsumed, kInitialPeerWindow);
  EXPECT_EQ(ep.apps[a].held, ep.apps[a].received);
  ep.Release(a);
  ASSERT_TRUE(ep.RunUntil([&] { return ep.apps[a].fin; })) << ep.died;
  for (StreamId id : {a, b}) {
    EXPECT_EQ(ep.apps[id].received, kSize);
    EXPECT_FALSE(ep.apps[id].mismatch);
  }
  EXPECT_EQ(go.Wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(All, GoSmuxFlowControl, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? "snappy" : "plain";
                         });

// v1: a 256 KiB session budget with a consumer that only catches up when
// the session has stopped taking input: the input blocks again and again
// and we never hold more than the budget plus one Go frame (32768).
TEST(GoSmuxV1, SessionBudgetBlocksInputAndBoundsMemory) {
  constexpr size_t kSize = 4 << 20;
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(go.Start(
      PeerArgs({1, false, Role::kServer}, "writer", {"-open=1", absl::StrCat("-size=", kSize)})));
  Config c;
  c.max_receive_buffer = 256 * 1024;
  c.max_stream_buffer = 65536;
  Endpoint ep(Role::kServer, c, false, &go);
  ep.incoming = Kind::kSink;
  const StreamId a = 3;
  ep.apps[a].hold = true;
  uint64_t releases = 0;
  ep.on_round = [&] {
    if (ep.session->receive_blocked()) {
      ++releases;
      ep.Release(a);
      ep.apps[a].hold = true;
    }
  };
  ASSERT_TRUE(ep.RunUntil([&] { return ep.apps[a].fin; })) << ep.died;
  ep.Release(a);
  EXPECT_EQ(ep.apps[a].received, kSize);
  EXPECT_FALSE(ep.apps[a].mismatch);
  EXPECT_GE(releases, kSize / (256 * 1024 + 32768));
  EXPECT_GE(ep.max_total_unconsumed, 256u * 1024);
  EXPECT_LE(ep.max_total_unconsumed, 256u * 1024 + 32768);
  EXPECT_EQ(go.Wait(), 0);
}

// NOPs both ways keep an idle session alive against Go's keepalive timeout
// (1 s here: a session from which Go received nothing for a whole period is
// closed at its next check); afterwards the session still carries data.
TEST(GoSmuxKeepalive, NopsAcceptedBothWays) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    GoPeer go;
    ASSERT_NO_FATAL_FAILURE(go.Start(PeerArgs({version, version == 2, Role::kClient}, "echo",
                                              {"-ka-interval-ms=10", "-ka-timeout-ms=1000"})));
    Config c;
    c.version = version;
    c.keep_alive_interval_ms = 50;
    c.keep_alive_timeout_ms = 1000;
    Endpoint ep(Role::kClient, c, version == 2, &go);
    // 150 Go intervals: more than one of Go's timeout periods with no data.
    ASSERT_TRUE(ep.RunUntil([&] { return ep.session->stats().frames_received[kCmdNop] >= 150; }))
        << ep.died;
    EXPECT_GT(ep.session->stats().frames_sent[kCmdNop], 0u);
    EXPECT_EQ(ep.session->stats().frames_received[kCmdPsh], 0u);
    const StreamId id = ep.Open(Kind::kSource, SourceData(9, 1000));
    ASSERT_TRUE(ep.RunUntil([&] { return ep.apps[id].closed; })) << ep.died;
    EXPECT_FALSE(ep.apps[id].mismatch);
    EXPECT_TRUE(ep.died.ok());
    EXPECT_EQ(go.Wait(), 0);
  }
}

// kcpp's close notice (a NOP on stream id kCloseNoticeStreamId) means
// nothing to smux: Go's recvLoop ignores every NOP whatever its id, in v1
// and v2, plain and inside snappy. Sent here on a live session (not, as
// kcpd does, as its last frame), so that Go's session is seen to carry on:
// an echoed stream opened after it, then Go's own checks (exit status 0).
TEST_P(GoSmuxInterop, CloseNoticeIsIgnoredByGo) {
  const Params p = GetParam();
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(go.Start(PeerArgs(p, "echo", {"-open=1", "-size=65536"})));
  Config c;
  c.version = p.version;
  Endpoint ep(p.role, c, p.snappy, &go);
  ASSERT_TRUE(ep.session->SendCloseNotice().ok());
  const StreamId id = ep.Open(Kind::kSource, SourceData(7, 100000));
  auto all_closed = [&] {
    int closed = 0;
    for (auto& [sid, a] : ep.apps) closed += a.closed;
    return closed == 2;
  };
  ASSERT_TRUE(ep.RunUntil(all_closed)) << "streams did not finish; " << ep.died;
  EXPECT_EQ(ep.apps[id].received, 100000u);
  EXPECT_FALSE(ep.apps[id].mismatch);
  EXPECT_TRUE(ep.died.ok()) << ep.died;
  EXPECT_TRUE(ep.session->stats().close_notice_sent);
  EXPECT_FALSE(ep.session->stats().close_notice_received);  // Go sends none
  EXPECT_EQ(go.Wait(), 0);
}

// A peer that sends nothing (keepalive off on the Go side) is declared dead
// after our timeout.
TEST(GoSmuxKeepalive, SilentPeerIsDead) {
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(go.Start(PeerArgs({1, false, Role::kClient}, "echo", {"-ka-off"})));
  Config c;
  c.keep_alive_interval_ms = 20;
  c.keep_alive_timeout_ms = 200;
  Endpoint ep(Role::kClient, c, false, &go);
  ASSERT_TRUE(ep.RunUntil([&] { return ep.session->is_closed(); }));
  EXPECT_EQ(ep.died.code(), absl::StatusCode::kDeadlineExceeded) << ep.died;
  EXPECT_EQ(ep.session->stats().frames_received[kCmdNop], 0u);
  EXPECT_EQ(go.Wait(), 0);
}

// smux has no version negotiation: a v1 Go peer's SYN kills our v2 session
// with a message that says so.
TEST(GoSmuxProtocol, VersionMismatchIsAClearError) {
  GoPeer go;
  ASSERT_NO_FATAL_FAILURE(
      go.Start(PeerArgs({1, false, Role::kServer}, "writer", {"-open=1", "-size=10"})));
  Config c;
  c.version = 2;
  Endpoint ep(Role::kServer, c, false, &go);
  ASSERT_TRUE(ep.RunUntil([&] { return ep.session->is_closed(); }));
  EXPECT_EQ(ep.died.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ep.died.message().find("frame version 1 in a version 2 session"),
            absl::string_view::npos)
      << ep.died;
  go.Wait();  // its write may fail; only our verdict matters here
}

}  // namespace
}  // namespace kcpp::smux

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1) kcpp::smux::g_peer = argv[1];
  return RUN_ALL_TESTS();
}
