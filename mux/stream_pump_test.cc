// StreamPump over real MuxLinks (two Engines over loopback UDP, smux v1 and
// v2) and Unix socketpairs: the test thread plays the applications on the
// far ends of the socketpairs with blocking I/O (bounded by SO_RCVTIMEO /
// SO_SNDTIMEO, so a stall fails instead of hanging).
#include "mux/stream_pump.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "transport/engine.h"
#include "transport/event_loop.h"

namespace kcpp::service {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(30);

uint8_t PatternByte(uint64_t offset, uint64_t seed) {
  const uint64_t x = (offset + seed) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>(x >> 56);
}

// The test's end of a socketpair: blocking, with a bound on every call.
UniqueFd AppEnd(int fd) {
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(kPatience)), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return UniqueFd(fd);
}

// Writes `n` pattern bytes; false on an error or timeout.
bool WritePattern(int fd, uint64_t n, uint64_t seed) {
  std::vector<uint8_t> buf(65536);
  uint64_t off = 0;
  while (off < n) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
    for (size_t i = 0; i < len; ++i) buf[i] = PatternByte(off + i, seed);
    size_t done = 0;
    while (done < len) {
      const ssize_t w = ::send(fd, buf.data() + done, len - done, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    off += len;
  }
  return true;
}

struct ReadResult {
  uint64_t bytes = 0;
  uint64_t mismatches = 0;
  bool eof = false;  // false: an error or the timeout ended the read
};

// Reads until end-of-file, checking the pattern.
ReadResult ReadPattern(int fd, uint64_t seed) {
  ReadResult r;
  std::vector<uint8_t> buf(65536);
  while (true) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return r;
    if (n == 0) {
      r.eof = true;
      return r;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != PatternByte(r.bytes + i, seed)) ++r.mismatches;
    }
    r.bytes += static_cast<uint64_t>(n);
  }
}

transport::SessionOptions Fast() {
  transport::SessionOptions o;
  o.nodelay = transport::NoDelay::Fast3();
  o.send_window = o.receive_window = 256;
  o.stream_mode = true;
  return o;
}

// One end: an engine, a link loop, a MuxLink, and per stream a StreamPump on
// one end of a socketpair; the test gets the other end.
class Side final : public MuxLink::Handler {
 public:
  struct Record {
    bool waited_for_room = false;  // the pump found the stream full at least once
    bool half_closed = false;
    bool ended = false;
    PumpEnd end = PumpEnd::kSocketClosed;
    std::string why;
    bool closed = false;  // MuxLink::Handler::OnStreamClosed
    uint64_t to_stream = 0, to_socket = 0;
  };

  explicit Side(std::string name) {
    loop_ = *transport::EventLoop::Create(name + "-link");
    loop_->Start();
    transport::EngineOptions eo;
    eo.loops = 1;
    eo.name = name;
    engine_ = *transport::Engine::Create(eo);
  }
  ~Side() override {
    if (listener_ != nullptr) listener_->Close();
    Run([this] {
      conns_.clear();
      link_.reset();
    });
    loop_->Stop();
    engine_.reset();
  }

  void Listen(const MuxLinkOptions& lo) {
    options_ = lo;
    transport::ListenerOptions o;
    o.session = Fast();
    listener_ = *engine_->Listen("127.0.0.1:0", o);
    listener_->SetAcceptCallback([this](std::unique_ptr<transport::Session> s) {
      std::shared_ptr<transport::Session> shared(std::move(s));
      loop_->Post([this, shared] { Adopt(shared, smux::Role::kServer); });
    });
  }
  std::string address() const { return listener_->local_address().ToString(); }
  void Dial(const std::string& address, const MuxLinkOptions& lo) {
    options_ = lo;
    std::shared_ptr<transport::Session> shared(*engine_->Dial(address, Fast()));
    Run([this, shared] { Adopt(shared, smux::Role::kClient); });
  }

  // Accepted streams get a pump started at once, or only on StartPump.
  void set_start_on_open(bool start) { start_on_open_ = start; }

  // Opens a stream with a started pump; returns its id.
  uint32_t Open() {
    uint32_t id = 0;
    Run([&] {
      id = *link_->OpenStream();
      AddConn(id, /*start=*/true);
    });
    return id;
  }
  void StartPump(uint32_t id) {
    Run([&] {
      Conn& c = *conns_.at(id);
      c.pump.Start(c.fd.get());
    });
  }
  void StopReading(uint32_t id) {
    Run([&] { conns_.at(id)->pump.StopReading(); });
  }
  // The test's end of stream `id`'s socketpair (once the stream exists).
  UniqueFd TakeApp(uint32_t id) {
    EXPECT_TRUE(WaitFor([&] { return apps_.count(id) > 0; }));
    std::lock_guard<std::mutex> l(mu_);
    UniqueFd fd = std::move(apps_[id]);
    apps_.erase(id);
    return fd;
  }
  size_t LinkHeld() {
    size_t held = 0;
    Run([&] { held = link_->stats().buffered_bytes; });
    return held;
  }

  // Waits (bounded) until `done()`, which runs under the record lock.
  bool WaitFor(const std::function<bool()>& done) {
    const absl::Time limit = absl::Now() + kPatience;
    std::unique_lock<std::mutex> l(mu_);
    while (!done()) {
      if (absl::Now() > limit) return false;
      cv_.wait_for(l, std::chrono::milliseconds(10));
    }
    return true;
  }
  // Under the record lock (inside WaitFor, or after Lock()).
  std::unique_lock<std::mutex> Lock() { return std::unique_lock<std::mutex>(mu_); }
  Record& record(uint32_t id) { return records_[id]; }

  // MuxLink::Handler.
  bool OnStreamOpened(uint32_t id) override {
    AddConn(id, start_on_open_);
    return true;
  }
  size_t OnStreamData(uint32_t id, absl::Span<const uint8_t> data) override {
    Conn* c = Find(id);
    return c == nullptr ? data.size() : c->pump.OnStreamData(data);
  }
  void OnStreamFin(uint32_t id) override {
    if (Conn* c = Find(id)) c->pump.OnStreamFin();
  }
  void OnStreamWritable(uint32_t id) override {
    if (Conn* c = Find(id)) c->pump.OnStreamWritable();
  }
  void OnStreamClosed(uint32_t id) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      records_[id].closed = true;
    }
    cv_.notify_all();
    Forget(id);
  }
  void OnLinkClosed(const absl::Status&) override {}

 private:
  struct Conn final : StreamPump::Owner, transport::EventLoop::FdHandler {
    Conn(Side* s, uint32_t i, int fd_)
        : side(s), id(i), fd(fd_), pump(s->link_.get(), i, this, absl::MakeSpan(s->scratch_)) {}
    ~Conn() override {
      if (watching) side->loop_->UnwatchFd(fd.get());
    }
    absl::Status SetSocketInterest(SocketInterest i) override {
      if (pump.waiting_for_room()) side->Update(id, [](Record& r) { r.waited_for_room = true; });
      transport::EventLoop& loop = *side->loop_;
      if (!i.watch) {
        if (watching) loop.UnwatchFd(fd.get());
        watching = false;
        return absl::OkStatus();
      }
      if (!watching) {
        if (absl::Status s = loop.WatchFd(fd.get(), this, i.write); !s.ok()) return s;
        watching = true;
        if (i.read) return absl::OkStatus();
      }
      return loop.SetInterest(fd.get(), this, i.read, i.write);
    }
    void OnBytesMoved(size_t to_stream, size_t to_socket) override {
      side->Update(id, [&](Record& r) {
        r.to_stream += to_stream;
        r.to_socket += to_socket;
      });
    }
    void OnHalfClosed() override {
      side->Update(id, [](Record& r) { r.half_closed = true; });
    }
    void OnPumpEnded(PumpEnd end, const absl::Status& why) override {
      side->Update(id, [&](Record& r) {
        r.ended = true;
        r.end = end;
        r.why = std::string(why.message());
      });
      side->Forget(id);  // destroyed later: we are on its stack
    }
    void OnReadable() override { pump.OnSocketReadable(); }
    void OnWritable() override { pump.OnSocketWritable(); }

    Side* const side;
    const uint32_t id;
    UniqueFd fd;
    StreamPump pump;
    bool watching = false;
  };

  void Adopt(std::shared_ptr<transport::Session> session, smux::Role role) {
    link_ = *MuxLink::Create(loop_.get(), std::move(session), role, options_, this);
  }
  void AddConn(uint32_t id, bool start) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ::fcntl(sv[1], F_SETFL, ::fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);  // the test's end blocks
    auto conn = std::make_unique<Conn>(this, id, sv[0]);
    Conn* c = conn.get();
    conns_[id] = std::move(conn);
    {
      std::lock_guard<std::mutex> l(mu_);
      apps_[id] = AppEnd(sv[1]);
      records_[id];
    }
    cv_.notify_all();
    if (start) c->pump.Start(c->fd.get());
  }
  Conn* Find(uint32_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
  }
  void Forget(uint32_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    std::shared_ptr<Conn> keep(std::move(it->second));
    conns_.erase(it);
    keep->pump.Stop();
    loop_->Post([keep] {});  // after this iteration's events
  }
  void Update(uint32_t id, const std::function<void(Record&)>& f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      f(records_[id]);
    }
    cv_.notify_all();
  }
  void Run(absl::AnyInvocable<void()> fn) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    loop_->Post([&] {
      fn();
      std::lock_guard<std::mutex> l(m);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> l(m);
    cv.wait(l, [&] { return done; });
  }

  std::unique_ptr<transport::EventLoop> loop_;
  std::unique_ptr<transport::Engine> engine_;
  std::unique_ptr<transport::Listener> listener_;
  MuxLinkOptions options_;
  bool start_on_open_ = true;  // before any stream
  // Loop thread.
  std::unique_ptr<MuxLink> link_;
  std::map<uint32_t, std::unique_ptr<Conn>> conns_;
  std::vector<uint8_t> scratch_ = std::vector<uint8_t>(65536);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, Record> records_;  // guarded by mu_
  std::map<uint32_t, UniqueFd> apps_;   // guarded by mu_
};

class StreamPumpTest : public ::testing::TestWithParam<int> {
 protected:
  void Connect(MuxLinkOptions o = MuxLinkOptions()) {
    o.smux.version = GetParam();
    server_.Listen(o);
    client_.Dial(server_.address(), o);
  }
  Side server_{"server"};
  Side client_{"client"};
};

INSTANTIATE_TEST_SUITE_P(SmuxVersions, StreamPumpTest, ::testing::Values(1, 2),
                         [](const auto& info) { return absl::StrCat("v", info.param); });

// The announcement rule. The pump sizes its reads by WritableBytes() and,
// at 0, stops reading until OnStreamWritable, with no short Write to arm
// it: smux alone would never send that announcement (smux/session_test.cc
// "WritableAnnouncement") and this transfer would stop at the first full
// window or output buffer. MuxLink arms it for WritableBytes() == 0.
TEST_P(StreamPumpTest, AStreamFoundFullIsResumedWhenTheFarReaderCatchesUp) {
  MuxLinkOptions o;
  o.smux.max_receive_buffer = 65536;  // v1: a small session budget
  o.smux.max_stream_buffer = 16384;   // v2: a small window
  o.smux.max_output_buffer = 16384;
  Connect(o);
  const uint32_t id = client_.Open();
  UniqueFd sender = client_.TakeApp(id);
  UniqueFd receiver = server_.TakeApp(id);
  constexpr uint64_t kBytes = 4 << 20;
  bool wrote = false;
  std::thread writer([&] {
    wrote = WritePattern(sender.get(), kBytes, 7);
    ::shutdown(sender.get(), SHUT_WR);
  });
  // Nobody reads yet: the stream fills and the client's pump waits for room.
  EXPECT_TRUE(client_.WaitFor([&] { return client_.record(id).waited_for_room; }));
  const ReadResult r = ReadPattern(receiver.get(), 7);
  writer.join();
  EXPECT_TRUE(wrote);
  EXPECT_TRUE(r.eof) << "stalled after " << r.bytes << " bytes";
  EXPECT_EQ(r.bytes, kBytes);
  EXPECT_EQ(r.mismatches, 0u);
  auto lock = client_.Lock();
  EXPECT_EQ(client_.record(id).to_stream, kBytes);
  EXPECT_FALSE(client_.record(id).ended) << client_.record(id).why;
}

TEST_P(StreamPumpTest, BothDirectionsAtOnceThenFinBothWaysClosesTheStream) {
  Connect();
  const uint32_t id = client_.Open();
  UniqueFd a = client_.TakeApp(id);
  UniqueFd b = server_.TakeApp(id);
  constexpr uint64_t kUp = 3 << 20, kDown = 2 << 20;
  bool up_ok = false, down_ok = false;
  ReadResult at_a, at_b;
  std::thread up([&] {
    up_ok = WritePattern(a.get(), kUp, 1);
    ::shutdown(a.get(), SHUT_WR);
  });
  std::thread down([&] {
    down_ok = WritePattern(b.get(), kDown, 2);
    ::shutdown(b.get(), SHUT_WR);
  });
  std::thread read_b([&] { at_b = ReadPattern(b.get(), 1); });
  at_a = ReadPattern(a.get(), 2);
  up.join();
  down.join();
  read_b.join();
  EXPECT_TRUE(up_ok && down_ok);
  EXPECT_TRUE(at_a.eof && at_b.eof);
  EXPECT_EQ(at_b.bytes, kUp);
  EXPECT_EQ(at_a.bytes, kDown);
  EXPECT_EQ(at_a.mismatches + at_b.mismatches, 0u);
  // FIN went both ways and everything was taken: the link ends the stream.
  for (Side* s : {&client_, &server_}) {
    ASSERT_TRUE(s->WaitFor([&] { return s->record(id).closed; }));
    auto lock = s->Lock();
    EXPECT_FALSE(s->record(id).ended) << s->record(id).why;
    EXPECT_TRUE(s->record(id).half_closed);
  }
}

TEST_P(StreamPumpTest, HalfCloseKeepsTheOtherDirectionFlowing) {
  Connect();
  const uint32_t id = client_.Open();
  UniqueFd a = client_.TakeApp(id);
  UniqueFd b = server_.TakeApp(id);
  // a says everything at once and ends its side; b answers afterwards.
  ASSERT_TRUE(WritePattern(a.get(), 100000, 3));
  ::shutdown(a.get(), SHUT_WR);
  const ReadResult at_b = ReadPattern(b.get(), 3);
  EXPECT_TRUE(at_b.eof);
  EXPECT_EQ(at_b.bytes, 100000u);
  ASSERT_TRUE(WritePattern(b.get(), 200000, 4));
  ::shutdown(b.get(), SHUT_WR);
  const ReadResult at_a = ReadPattern(a.get(), 4);
  EXPECT_TRUE(at_a.eof);
  EXPECT_EQ(at_a.bytes, 200000u);
  EXPECT_EQ(at_a.mismatches + at_b.mismatches, 0u);
  // b's half-close came after the pump had shut down its writing side, which
  // makes the socket report a hang-up: still a half-close, and the stream
  // ends the link's way (FIN both ways), not as a closed connection.
  ASSERT_TRUE(server_.WaitFor([&] { return server_.record(id).closed; }));
  auto lock = server_.Lock();
  EXPECT_FALSE(server_.record(id).ended) << server_.record(id).why;
}

TEST_P(StreamPumpTest, ASlowApplicationHoldsBoundedBytesAndStopsTheSender) {
  MuxLinkOptions o;
  o.smux.max_stream_buffer = 65536;
  o.smux.max_receive_buffer = 262144;
  Connect(o);
  const uint32_t id = client_.Open();
  UniqueFd sender = client_.TakeApp(id);
  UniqueFd receiver = server_.TakeApp(id);
  constexpr uint64_t kBytes = 8 << 20;
  bool wrote = false;
  std::thread writer([&] {
    wrote = WritePattern(sender.get(), kBytes, 5);
    ::shutdown(sender.get(), SHUT_WR);
  });
  EXPECT_TRUE(client_.WaitFor([&] { return client_.record(id).waited_for_room; }));
  // The receiving side holds at most what smux lets the peer send unread:
  // the v2 window (the 262144 bytes a v2 peer assumes before the first
  // update) or the v1 session budget, plus one frame.
  EXPECT_LE(server_.LinkHeld(), 262144u + 65536u);
  {
    auto lock = client_.Lock();
    EXPECT_LT(client_.record(id).to_stream, kBytes);
  }
  const ReadResult r = ReadPattern(receiver.get(), 5);
  writer.join();
  EXPECT_TRUE(wrote);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.bytes, kBytes);
  EXPECT_EQ(r.mismatches, 0u);
}

TEST_P(StreamPumpTest, BytesAndFinThatCameBeforeStartAreDeliveredByStart) {
  Connect();
  server_.set_start_on_open(false);
  const uint32_t id = client_.Open();
  UniqueFd a = client_.TakeApp(id);
  UniqueFd b = server_.TakeApp(id);
  ASSERT_TRUE(WritePattern(a.get(), 50000, 6));
  ::shutdown(a.get(), SHUT_WR);
  // The client pump forwarded all of it, and its FIN.
  ASSERT_TRUE(client_.WaitFor([&] { return client_.record(id).half_closed; }));
  server_.StartPump(id);
  const ReadResult r = ReadPattern(b.get(), 6);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.bytes, 50000u);
  EXPECT_EQ(r.mismatches, 0u);
}

TEST_P(StreamPumpTest, StopReadingSendsFinAfterWhatWasRead) {
  Connect();
  const uint32_t id = client_.Open();
  UniqueFd a = client_.TakeApp(id);
  UniqueFd b = server_.TakeApp(id);
  ASSERT_TRUE(WritePattern(a.get(), 1000, 8));
  // Wait until the pump moved those bytes, then stop reading: b gets them
  // and end-of-file although a never ended its side.
  ASSERT_TRUE(client_.WaitFor([&] { return client_.record(id).to_stream == 1000; }));
  client_.StopReading(id);
  const ReadResult r = ReadPattern(b.get(), 8);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.bytes, 1000u);
  // The other direction still flows.
  ASSERT_TRUE(WritePattern(b.get(), 2000, 9));
  ::shutdown(b.get(), SHUT_WR);
  const ReadResult back = ReadPattern(a.get(), 9);
  EXPECT_TRUE(back.eof);
  EXPECT_EQ(back.bytes, 2000u);
}

TEST_P(StreamPumpTest, AnApplicationThatClosesItsSocketEndsTheStream) {
  Connect();
  const uint32_t id = client_.Open();
  UniqueFd a = client_.TakeApp(id);
  UniqueFd b = server_.TakeApp(id);
  ASSERT_TRUE(WritePattern(a.get(), 3000, 10));
  a.reset();  // not a half-close: the whole connection
  ASSERT_TRUE(client_.WaitFor([&] { return client_.record(id).ended; }));
  {
    auto lock = client_.Lock();
    EXPECT_EQ(client_.record(id).end, PumpEnd::kSocketClosed);
  }
  // The peer's application gets what was written, then end-of-file (the
  // pump closed the stream: FIN).
  const ReadResult r = ReadPattern(b.get(), 10);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.bytes, 3000u);
}

TEST_P(StreamPumpTest, AWriteTheSocketRefusesEndsTheStreamWithTheError) {
  Connect();
  const uint32_t id = client_.Open();
  UniqueFd a = client_.TakeApp(id);
  UniqueFd b = server_.TakeApp(id);
  // b will read no more (its pump's writes fail with EPIPE) but has not
  // ended its own side: no hang-up, no end-of-file.
  ASSERT_EQ(::shutdown(b.get(), SHUT_RD), 0);
  ASSERT_TRUE(WritePattern(a.get(), 1000, 11));
  ASSERT_TRUE(server_.WaitFor([&] { return server_.record(id).ended; }));
  {
    auto lock = server_.Lock();
    EXPECT_EQ(server_.record(id).end, PumpEnd::kSocketFailed);
    EXPECT_EQ(server_.record(id).why, "write: Broken pipe (EPIPE)");
  }
  // The pump closed the stream: a gets end-of-file.
  const ReadResult r = ReadPattern(a.get(), 0);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.bytes, 0u);
}

}  // namespace
}  // namespace kcpp::service
