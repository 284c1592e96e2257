#include "smux/session.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "smux/internal/session_peer.h"

namespace kcpp::smux {
namespace {

using internal::SessionPeer;
using testing::ElementsAre;
using testing::HasSubstr;
using Bytes = std::vector<uint8_t>;

// Records every event as a line; optionally accepts and consumes at once.
class Recorder : public SessionHandler {
 public:
  Session* session = nullptr;
  bool auto_accept = true;
  bool auto_consume = true;
  std::vector<std::string> events;
  std::map<StreamId, Bytes> data;
  std::vector<StreamId> opened, fins, closed, writable;
  absl::Status died;
  int deaths = 0;

  void OnStreamOpened(StreamId id) override {
    events.push_back(absl::StrCat("open ", id));
    opened.push_back(id);
    if (auto_accept) {
      EXPECT_TRUE(session->AcceptStream(id).ok());
    }
  }
  void OnStreamData(StreamId id, absl::Span<const uint8_t> d) override {
    events.push_back(absl::StrCat("data ", id, " ", d.size()));
    data[id].insert(data[id].end(), d.begin(), d.end());
    if (auto_consume) {
      EXPECT_TRUE(session->Consume(id, d.size()).ok());
    }
  }
  void OnStreamFin(StreamId id) override {
    events.push_back(absl::StrCat("fin ", id));
    fins.push_back(id);
  }
  void OnStreamWritable(StreamId id) override {
    events.push_back(absl::StrCat("writable ", id));
    writable.push_back(id);
  }
  void OnStreamClosed(StreamId id) override {
    events.push_back(absl::StrCat("closed ", id));
    closed.push_back(id);
  }
  void OnSessionClosed(const absl::Status& status) override {
    events.push_back("dead");
    died = status;
    ++deaths;
  }
  void OnPeerClosing() override { events.push_back("peer closing"); }
};

std::unique_ptr<Session> Make(Role role, const Config& c, Recorder* r, int64_t now = 0) {
  auto s = Session::Create(role, c, r, now);
  EXPECT_TRUE(s.ok()) << s.status();
  r->session = s->get();
  return std::move(*s);
}

Bytes Frame(uint8_t ver, uint8_t cmd, uint32_t sid, const Bytes& payload = {}) {
  Bytes b(kFrameHeaderSize);
  EncodeFrameHeader({ver, cmd, static_cast<uint16_t>(payload.size()), sid}, b.data());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes Upd(uint8_t ver, uint32_t sid, uint32_t consumed, uint32_t window) {
  Bytes p(kWindowUpdateSize);
  EncodeWindowUpdate({consumed, window}, p.data());
  return Frame(ver, kCmdUpd, sid, p);
}

Bytes Pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

Bytes Drain(Session& s) {
  Bytes out(s.output().begin(), s.output().end());
  s.ConsumeOutput(out.size());
  return out;
}

std::vector<FrameHeader> Headers(const Bytes& wire) {
  std::vector<FrameHeader> out;
  size_t i = 0;
  while (i + kFrameHeaderSize <= wire.size()) {
    FrameHeader h = DecodeFrameHeader(wire.data() + i);
    out.push_back(h);
    i += kFrameHeaderSize + h.length;
  }
  EXPECT_EQ(i, wire.size());
  return out;
}

// Two sessions connected back to back; Pump moves bytes until quiet.
struct Pair {
  Recorder cr, sr;
  std::unique_ptr<Session> client, server;
  Bytes to_server, to_client;  // bytes taken from output, not yet fed

  explicit Pair(const Config& c) : Pair(c, c) {}
  Pair(const Config& cc, const Config& sc) {
    client = Make(Role::kClient, cc, &cr);
    server = Make(Role::kServer, sc, &sr);
  }
  // Moves bytes in pieces of at most `piece`; returns when neither side
  // makes progress.
  void Pump(size_t piece = SIZE_MAX) {
    for (bool progress = true; progress;) {
      progress = false;
      progress |= Move(*client, *server, to_server, piece);
      progress |= Move(*server, *client, to_client, piece);
    }
  }
  static bool Move(Session& from, Session& to, Bytes& pending, size_t piece) {
    Bytes out = Drain(from);
    pending.insert(pending.end(), out.begin(), out.end());
    bool progress = !out.empty();
    while (!pending.empty()) {
      const size_t n = std::min(piece, pending.size());
      const size_t used = to.Feed(absl::MakeConstSpan(pending.data(), n));
      pending.erase(pending.begin(), pending.begin() + used);
      if (used == 0) break;
      progress = true;
    }
    return progress;
  }
};

// ------------------------------------------------------------------ config

TEST(Config, DefaultsAreSmuxDefaultConfig) {
  const Config c = DefaultConfig();
  EXPECT_EQ(c.version, 1);
  EXPECT_FALSE(c.keep_alive_disabled);
  EXPECT_EQ(c.keep_alive_interval_ms, 10000);
  EXPECT_EQ(c.keep_alive_timeout_ms, 30000);
  EXPECT_EQ(c.max_frame_size, 32768);
  EXPECT_EQ(c.max_receive_buffer, 4194304);
  EXPECT_EQ(c.max_stream_buffer, 65536);
  EXPECT_EQ(c.accept_backlog, 1024);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(Config, KcptunDefaults) {
  const Config c = KcptunConfig();
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.max_receive_buffer, 4194304);
  EXPECT_EQ(c.max_stream_buffer, 2097152);
  EXPECT_EQ(c.keep_alive_interval_ms, 10000);
  EXPECT_EQ(c.keep_alive_timeout_ms, 30000);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(Config, ValidationNamesTheField) {
  struct Case {
    void (*mutate)(Config&);
    const char* message;
  };
  const Case cases[] = {
      {[](Config& c) { c.version = 3; }, "version must be 1 or 2, got 3"},
      {[](Config& c) { c.keep_alive_interval_ms = 0; }, "keep_alive_interval_ms must be positive"},
      {[](Config& c) { c.keep_alive_timeout_ms = 5000; },
       "keep_alive_timeout_ms (5000) must be at least keep_alive_interval_ms (10000)"},
      {[](Config& c) { c.max_frame_size = 0; }, "max_frame_size must be in [1, 65535], got 0"},
      {[](Config& c) { c.max_frame_size = 65536; }, "max_frame_size must be in [1, 65535]"},
      {[](Config& c) { c.max_receive_buffer = 0; }, "max_receive_buffer must be positive"},
      {[](Config& c) { c.max_stream_buffer = -1; }, "max_stream_buffer must be positive"},
      {[](Config& c) { c.max_stream_buffer = 8 << 20; },
       "max_stream_buffer (8388608) must not exceed max_receive_buffer (4194304)"},
      {[](Config& c) { c.accept_backlog = 0; }, "accept_backlog must be positive"},
      {[](Config& c) { c.max_output_buffer = 0; }, "max_output_buffer must be positive"},
  };
  for (const Case& k : cases) {
    Config c;
    k.mutate(c);
    absl::Status s = ValidateConfig(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr(k.message));
    Recorder r;
    EXPECT_FALSE(Session::Create(Role::kClient, c, &r, 0).ok());
  }
  Config c;
  c.keep_alive_disabled = true;
  c.keep_alive_interval_ms = 0;  // not checked when keepalive is off (as smux)
  EXPECT_TRUE(ValidateConfig(c).ok());
}

// -------------------------------------------------------------- stream ids

TEST(Session, StreamIdsFollowSmux) {
  Recorder cr, sr;
  auto client = Make(Role::kClient, Config(), &cr);
  auto server = Make(Role::kServer, Config(), &sr);
  EXPECT_EQ(*client->OpenStream(), 3u);
  EXPECT_EQ(*client->OpenStream(), 5u);
  EXPECT_EQ(*server->OpenStream(), 2u);
  EXPECT_EQ(*server->OpenStream(), 4u);
  const Bytes wire = Drain(*client);
  // SYN frames: ver 1, cmd 0, length 0, sid LE.
  EXPECT_EQ(wire, Bytes({1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0}));
}

TEST(Session, GoAwayWhenIdsAreExhausted) {
  Recorder cr, sr;
  auto client = Make(Role::kClient, Config(), &cr);
  SessionPeer::SetNextStreamId(*client, 0xfffffffb);
  EXPECT_EQ(*client->OpenStream(), 0xfffffffdu);
  EXPECT_EQ(*client->OpenStream(), 0xffffffffu);
  absl::StatusOr<StreamId> next = client->OpenStream();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("go away"));
  EXPECT_FALSE(client->OpenStream().ok());  // stays exhausted
  EXPECT_FALSE(client->is_closed());        // existing streams keep working
  EXPECT_TRUE(client->Write(0xffffffff, Bytes{1}).ok());

  auto server = Make(Role::kServer, Config(), &sr);
  SessionPeer::SetNextStreamId(*server, 0xfffffffc);
  EXPECT_EQ(*server->OpenStream(), 0xfffffffeu);
  EXPECT_EQ(server->OpenStream().status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Session, OpenSkipsIdsThePeerTook) {
  Recorder cr;
  auto client = Make(Role::kClient, Config(), &cr);
  ASSERT_EQ(client->Feed(Frame(1, kCmdSyn, 3)), 8u);  // peer misuses our parity
  EXPECT_EQ(*client->OpenStream(), 5u);
}

// ---------------------------------------------------------- data and FIN

TEST(Session, DataFinAndCleanupBothWays) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    Config c;
    c.version = version;
    c.max_output_buffer = 1 << 20;
    Pair p(c);
    const StreamId id = *p.client->OpenStream();
    const Bytes hello = Pattern(1000, 1), reply = Pattern(70000, 2);
    ASSERT_EQ(*p.client->Write(id, hello), hello.size());
    p.Pump();
    EXPECT_THAT(p.sr.opened, ElementsAre(id));
    EXPECT_EQ(p.sr.data[id], hello);
    // Half-close from the client: the server sees EOF and can still reply.
    ASSERT_TRUE(p.client->CloseWrite(id).ok());
    p.Pump();
    EXPECT_THAT(p.sr.fins, ElementsAre(id));
    EXPECT_TRUE(p.client->Write(id, hello).status().code() ==
                absl::StatusCode::kFailedPrecondition);
    ASSERT_EQ(*p.server->Write(id, reply), reply.size());
    p.Pump();
    EXPECT_EQ(p.cr.data[id], reply);
    EXPECT_TRUE(p.cr.closed.empty());
    EXPECT_EQ(p.client->num_streams(), 1u);
    // The server closes its side: both have now sent and received FIN.
    ASSERT_TRUE(p.server->CloseWrite(id).ok());
    EXPECT_THAT(p.sr.closed, ElementsAre(id));  // server: FIN both ways, all consumed
    p.Pump();
    EXPECT_THAT(p.cr.fins, ElementsAre(id));
    EXPECT_THAT(p.cr.closed, ElementsAre(id));
    EXPECT_EQ(p.client->num_streams(), 0u);
    EXPECT_EQ(p.server->num_streams(), 0u);
    // Events in order: data before FIN before cleanup.
    EXPECT_EQ(p.cr.events.back(), absl::StrCat("closed ", id));
    EXPECT_EQ(p.cr.events[p.cr.events.size() - 2], absl::StrCat("fin ", id));
  }
}

TEST(Session, CleanupWaitsUntilEverythingIsConsumed) {
  Config c;
  Pair p(c);
  p.sr.auto_consume = false;
  const StreamId id = *p.client->OpenStream();
  ASSERT_EQ(*p.client->Write(id, Pattern(500, 3)), 500u);
  ASSERT_TRUE(p.client->CloseWrite(id).ok());
  p.Pump();
  ASSERT_TRUE(p.server->CloseWrite(id).ok());
  EXPECT_TRUE(p.sr.closed.empty());  // 500 bytes still unconsumed
  EXPECT_EQ(p.server->GetStreamInfo(id)->unconsumed, 500u);
  ASSERT_TRUE(p.server->Consume(id, 499).ok());
  EXPECT_TRUE(p.sr.closed.empty());
  ASSERT_TRUE(p.server->Consume(id, 1).ok());
  EXPECT_THAT(p.sr.closed, ElementsAre(id));
  EXPECT_FALSE(p.server->GetStreamInfo(id).has_value());
}

TEST(Session, FramesAreSplitAtMaxFrameSize) {
  Recorder r;
  Config c;
  c.max_frame_size = 32768;
  c.max_output_buffer = 1 << 20;
  auto s = Make(Role::kClient, c, &r);
  const StreamId id = *s->OpenStream();
  Drain(*s);
  const Bytes data = Pattern(100000, 4);
  ASSERT_EQ(*s->Write(id, data), data.size());
  const Bytes wire = Drain(*s);
  std::vector<FrameHeader> h = Headers(wire);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0], (FrameHeader{1, kCmdPsh, 32768, id}));
  EXPECT_EQ(h[1].length, 32768);
  EXPECT_EQ(h[2].length, 32768);
  EXPECT_EQ(h[3].length, 100000 - 3 * 32768);
  EXPECT_EQ(Bytes(wire.begin() + 8, wire.begin() + 8 + 32768),
            Bytes(data.begin(), data.begin() + 32768));
  EXPECT_EQ(s->stats().frames_sent[kCmdPsh], 4u);
  EXPECT_EQ(s->stats().bytes_sent, data.size());
}

TEST(Session, AnySplitOfTheInputGivesTheSameEvents) {
  for (int version : {1, 2}) {
    Config c;
    c.version = version;
    c.max_frame_size = 1000;
    Recorder wr;
    auto writer = Make(Role::kClient, c, &wr);
    Bytes wire;
    std::vector<StreamId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(*writer->OpenStream());
    for (int round = 0; round < 3; ++round) {
      for (StreamId id : ids) {
        ASSERT_TRUE(writer->Write(id, Pattern(2500 + id, id)).ok());
      }
    }
    ASSERT_TRUE(writer->CloseWrite(ids[2]).ok());
    wire = Drain(*writer);
    std::vector<std::string> reference;
    for (size_t piece : {size_t{100000}, size_t{1}, size_t{3}, size_t{7}, size_t{999}}) {
      Recorder rr;
      auto reader = Make(Role::kServer, c, &rr);
      for (size_t i = 0; i < wire.size(); i += piece) {
        const size_t n = std::min(piece, wire.size() - i);
        ASSERT_EQ(reader->Feed(absl::MakeConstSpan(wire.data() + i, n)), n);
      }
      // Join data events per stream so frame pieces compare equal.
      std::vector<std::string> summary;
      for (auto& [id, bytes] : rr.data) summary.push_back(absl::StrCat(id, ":", bytes.size()));
      summary.push_back(absl::StrCat("fins ", rr.fins.size(), " opened ", rr.opened.size()));
      for (auto& [id, bytes] : rr.data) {
        EXPECT_EQ(bytes.size(), 3 * (2500 + id));
      }
      if (reference.empty()) reference = summary;
      EXPECT_EQ(summary, reference) << "piece " << piece;
      EXPECT_THAT(rr.fins, ElementsAre(ids[2]));
    }
  }
}

// ----------------------------------------------------------- flow control

TEST(Session, ReceiveBudgetStopsInputAtFrameBoundary) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    Config c;
    c.version = version;
    c.max_receive_buffer = 100000;
    c.max_stream_buffer = 50000;
    c.max_frame_size = 30000;
    c.max_output_buffer = 1 << 20;
    Recorder wr, rr;
    rr.auto_consume = false;
    auto writer = Make(Role::kClient, c, &wr);
    auto reader = Make(Role::kServer, c, &rr);
    const StreamId a = *writer->OpenStream(), b = *writer->OpenStream();
    // v2 windows start at 262144 per stream: 2 x 150000 fits.
    ASSERT_EQ(*writer->Write(a, Pattern(150000, 5)), 150000u);
    ASSERT_EQ(*writer->Write(b, Pattern(150000, 6)), 150000u);
    Bytes wire = Drain(*writer);
    size_t used = reader->Feed(wire);
    EXPECT_LT(used, wire.size());
    EXPECT_TRUE(reader->receive_blocked());
    const uint64_t held =
        reader->GetStreamInfo(a)->unconsumed + reader->GetStreamInfo(b)->unconsumed;
    EXPECT_GE(held, 100000u);
    EXPECT_LE(held, 100000u + 30000u);  // at most one frame over
    // Nothing more is taken while blocked.
    EXPECT_EQ(reader->Feed(absl::MakeConstSpan(wire).subspan(used)), 0u);
    // Consuming frees the budget; the rest flows.
    ASSERT_TRUE(reader->Consume(a, reader->GetStreamInfo(a)->unconsumed).ok());
    ASSERT_TRUE(reader->Consume(b, reader->GetStreamInfo(b)->unconsumed).ok());
    EXPECT_FALSE(reader->receive_blocked());
    while (used < wire.size()) {
      const size_t n = reader->Feed(absl::MakeConstSpan(wire).subspan(used));
      ASSERT_GT(n, 0u);
      used += n;
      ASSERT_TRUE(reader->Consume(a, reader->GetStreamInfo(a)->unconsumed).ok());
      ASSERT_TRUE(reader->Consume(b, reader->GetStreamInfo(b)->unconsumed).ok());
    }
    EXPECT_EQ(rr.data[a], Pattern(150000, 5));
    EXPECT_EQ(rr.data[b], Pattern(150000, 6));
  }
}

TEST(Session, CloseStreamReturnsItsBudget) {
  Config c;
  c.max_receive_buffer = 1000;
  c.max_stream_buffer = 1000;
  Recorder r;
  r.auto_consume = false;
  auto s = Make(Role::kServer, c, &r);
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes psh = Frame(1, kCmdPsh, 3, Pattern(1500, 7));
  in.insert(in.end(), psh.begin(), psh.end());
  in.insert(in.end(), psh.begin(), psh.end());
  const size_t used = s->Feed(in);
  EXPECT_EQ(used, 8u + psh.size());  // one frame over the budget, then stop
  EXPECT_TRUE(s->receive_blocked());
  ASSERT_TRUE(s->CloseStream(3).ok());
  EXPECT_FALSE(s->receive_blocked());
  EXPECT_EQ(SessionPeer::ReceiveBudget(*s), 1000);
  // Data for the closed stream is now discarded without using budget.
  EXPECT_EQ(s->Feed(absl::MakeConstSpan(in).subspan(used)), psh.size());
  EXPECT_EQ(s->stats().bytes_discarded, 1500u);
  EXPECT_EQ(SessionPeer::ReceiveBudget(*s), 1000);
  EXPECT_EQ(Headers(Drain(*s)), std::vector<FrameHeader>({{1, kCmdFin, 0, 3}}));
}

TEST(Session, V2SendsUpdAfterFirstReadAndEveryHalfBuffer) {
  Config c;
  c.version = 2;
  c.max_stream_buffer = 10000;
  Recorder r;
  r.auto_consume = false;
  auto s = Make(Role::kServer, c, &r);
  Bytes in = Frame(2, kCmdSyn, 3);
  const Bytes psh = Frame(2, kCmdPsh, 3, Pattern(20000, 8));
  in.insert(in.end(), psh.begin(), psh.end());
  ASSERT_EQ(s->Feed(in), in.size());
  ASSERT_TRUE(s->Consume(3, 100).ok());  // first read: UPD(100, 10000)
  EXPECT_EQ(Drain(*s), Upd(2, 3, 100, 10000));
  ASSERT_TRUE(s->Consume(3, 4899).ok());  // 4899 since: below half
  EXPECT_TRUE(s->output().empty());
  ASSERT_TRUE(s->Consume(3, 1).ok());  // 4900... still below 5000
  EXPECT_TRUE(s->output().empty());
  ASSERT_TRUE(s->Consume(3, 100).ok());  // 5000 since the last UPD
  EXPECT_EQ(Drain(*s), Upd(2, 3, 5100, 10000));
  ASSERT_TRUE(s->Consume(3, 14900).ok());
  EXPECT_EQ(Drain(*s), Upd(2, 3, 20000, 10000));
  EXPECT_EQ(s->stats().frames_sent[kCmdUpd], 3u);
}

TEST(Session, V1SendsNoUpd) {
  Recorder r;
  auto s = Make(Role::kServer, Config(), &r);
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes psh = Frame(1, kCmdPsh, 3, Pattern(60000, 9));
  in.insert(in.end(), psh.begin(), psh.end());
  ASSERT_EQ(s->Feed(in), in.size());
  EXPECT_TRUE(s->output().empty());
  EXPECT_EQ(s->stats().frames_sent[kCmdUpd], 0u);
}

TEST(Session, V2WriterStopsAtThePeerWindow) {
  Config c;
  c.version = 2;
  c.max_output_buffer = 1 << 22;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId id = *s->OpenStream();
  Drain(*s);
  const Bytes data = Pattern(300000, 10);
  // Before any UPD the peer window is smux's initialPeerWindow.
  EXPECT_EQ(s->WritableBytes(id), kInitialPeerWindow);
  ASSERT_EQ(*s->Write(id, data), kInitialPeerWindow);
  EXPECT_EQ(s->WritableBytes(id), 0u);
  EXPECT_EQ(*s->Write(id, data), 0u);
  EXPECT_TRUE(r.writable.empty());
  // The peer read 1000 bytes and announces a 65536-byte window: inflight is
  // 261144 > 65536, still closed.
  ASSERT_EQ(s->Feed(Upd(2, id, 1000, 65536)), 16u);
  EXPECT_EQ(s->WritableBytes(id), 0u);
  EXPECT_TRUE(r.writable.empty());
  // It read everything: 65536 may be in flight.
  ASSERT_EQ(s->Feed(Upd(2, id, kInitialPeerWindow, 65536)), 16u);
  EXPECT_THAT(r.writable, ElementsAre(id));
  EXPECT_EQ(s->WritableBytes(id), 65536u);
  ASSERT_EQ(*s->Write(id, data), 65536u);
  const StreamInfo info = *s->GetStreamInfo(id);
  EXPECT_EQ(info.bytes_written, kInitialPeerWindow + 65536);
  EXPECT_EQ(info.peer_consumed, kInitialPeerWindow);
  EXPECT_EQ(info.peer_window, 65536u);
}

TEST(Session, V2PeerConsumingMoreThanSentIsAnError) {
  Config c;
  c.version = 2;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId id = *s->OpenStream();
  ASSERT_EQ(*s->Write(id, Pattern(100, 11)), 100u);
  ASSERT_EQ(s->Feed(Upd(2, id, 101, 65536)), 16u);
  absl::StatusOr<size_t> w = s->Write(id, Pattern(10, 12));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(w.status().message()), HasSubstr("ErrConsumed"));
  EXPECT_EQ(s->WritableBytes(id), 0u);
  EXPECT_FALSE(s->is_closed());
}

TEST(Session, OutputBufferLimitsWritesAndDrainingAnnouncesRoom) {
  Config c;
  c.max_output_buffer = 10000;
  c.max_frame_size = 4000;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId a = *s->OpenStream(), b = *s->OpenStream();
  const size_t syns = s->output().size();
  ASSERT_EQ(*s->Write(a, Pattern(20000, 13)), 10000 - syns);
  EXPECT_EQ(*s->Write(b, Pattern(20000, 14)), 0u);
  EXPECT_EQ(s->WritableBytes(b), 0u);
  s->ConsumeOutput(100);
  EXPECT_THAT(r.writable, ElementsAre(a, b));
  EXPECT_EQ(s->output().size(), 10000u + 24 - 100);  // 3 PSH headers over the limit
  EXPECT_EQ(s->WritableBytes(b), 76u);
}

// ----------------------------------------------- the writable announcement
//
// OnStreamWritable is owed only to a writer smux turned away, i.e. whose
// last Write(id, data) with non-empty data took less than all of it. Asking
// WritableBytes() and getting 0, or writing exactly what it allowed, arms
// nothing. MuxLink adds the WritableBytes() == 0 case on top
// (mux/mux_link.h), which mux/stream_pump.h relies on; smux itself does not.

TEST(WritableAnnouncement, OutputRoomIsAnnouncedOnlyToTurnedAwayWriters) {
  Config c;
  c.max_output_buffer = 10000;
  c.max_frame_size = 4000;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId turned_away = *s->OpenStream();
  const StreamId asked = *s->OpenStream();
  const StreamId empty_write = *s->OpenStream();
  const StreamId exact = *s->OpenStream();
  Drain(*s);
  // `exact` writes precisely what WritableBytes allows: all of it is taken,
  // so it was not turned away, although no room is left.
  const size_t room = s->WritableBytes(exact);
  ASSERT_EQ(room, 10000u);
  ASSERT_EQ(*s->Write(exact, Pattern(room, 20)), room);
  EXPECT_EQ(s->WritableBytes(exact), 0u);
  EXPECT_EQ(s->WritableBytes(asked), 0u);                  // asked only
  EXPECT_EQ(*s->Write(empty_write, Bytes()), 0u);          // nothing offered
  EXPECT_EQ(*s->Write(turned_away, Pattern(10, 21)), 0u);  // offered, refused
  Drain(*s);
  EXPECT_THAT(r.writable, ElementsAre(turned_away));
  // Every stream has room now; the others were simply not told.
  EXPECT_GT(s->WritableBytes(asked), 0u);
  EXPECT_GT(s->WritableBytes(exact), 0u);
  EXPECT_GT(s->WritableBytes(empty_write), 0u);
}

TEST(WritableAnnouncement, WindowUpdateIsAnnouncedOnlyToTurnedAwayWriters) {
  // v2: the window case, where kcpd's first transfer stopped at 262144 bytes
  // (a writer sizing its reads by WritableBytes never makes a short Write).
  Config c;
  c.version = 2;
  c.max_output_buffer = 1 << 22;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId sized = *s->OpenStream();
  const StreamId turned_away = *s->OpenStream();
  Drain(*s);
  ASSERT_EQ(*s->Write(sized, Pattern(kInitialPeerWindow, 22)), kInitialPeerWindow);
  ASSERT_EQ(*s->Write(turned_away, Pattern(kInitialPeerWindow + 1, 23)), kInitialPeerWindow);
  EXPECT_EQ(s->WritableBytes(sized), 0u);
  EXPECT_EQ(s->WritableBytes(turned_away), 0u);
  ASSERT_EQ(s->Feed(Upd(2, sized, kInitialPeerWindow, 65536)), 16u);
  ASSERT_EQ(s->Feed(Upd(2, turned_away, kInitialPeerWindow, 65536)), 16u);
  EXPECT_THAT(r.writable, ElementsAre(turned_away));
  EXPECT_EQ(s->WritableBytes(sized), 65536u);  // room, and no announcement
}

TEST(WritableAnnouncement, IsOneShotAndRearmedByTheNextShortWrite) {
  Config c;
  c.max_output_buffer = 1000;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId id = *s->OpenStream();
  Drain(*s);
  ASSERT_LT(*s->Write(id, Pattern(5000, 24)), 5000u);
  Drain(*s);
  EXPECT_THAT(r.writable, ElementsAre(id));
  // Filled again by an exact write, then drained: not announced again.
  ASSERT_EQ(*s->Write(id, Pattern(s->WritableBytes(id), 25)), 1000u);
  Drain(*s);
  EXPECT_THAT(r.writable, ElementsAre(id));
  // Turned away again: announced again.
  ASSERT_EQ(*s->Write(id, Pattern(1001, 26)), 1000u);
  Drain(*s);
  EXPECT_THAT(r.writable, ElementsAre(id, id));
}

TEST(WritableAnnouncement, WaitsForOutputRoomWhenTheWindowOpensFirst) {
  // Turned away by the v2 window; the UPD opens the window while the output
  // is full: the announcement waits until the output drains.
  Config c;
  c.version = 2;
  c.max_output_buffer = kInitialPeerWindow;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId id = *s->OpenStream();
  Drain(*s);
  ASSERT_EQ(*s->Write(id, Pattern(kInitialPeerWindow + 1, 27)), kInitialPeerWindow);
  ASSERT_EQ(s->Feed(Upd(2, id, kInitialPeerWindow, 65536)), 16u);
  EXPECT_TRUE(r.writable.empty());  // window open, output still full
  s->ConsumeOutput(100);
  EXPECT_THAT(r.writable, ElementsAre(id));
}

TEST(WritableAnnouncement, NoneAfterCloseWrite) {
  Config c;
  c.max_output_buffer = 1000;
  Recorder r;
  auto s = Make(Role::kClient, c, &r);
  const StreamId id = *s->OpenStream();
  Drain(*s);
  ASSERT_LT(*s->Write(id, Pattern(5000, 28)), 5000u);
  ASSERT_TRUE(s->CloseWrite(id).ok());
  Drain(*s);
  EXPECT_TRUE(r.writable.empty());
}

// --------------------------------------------------------------- keepalive

TEST(Session, KeepaliveSendsNopsAndDetectsSilence) {
  Config c;
  c.keep_alive_interval_ms = 100;
  c.keep_alive_timeout_ms = 300;
  Recorder r;
  auto s = Make(Role::kClient, c, &r, /*now=*/1000);
  EXPECT_EQ(s->NextDeadline(), 1100);
  s->OnTimer(1099);
  EXPECT_TRUE(s->output().empty());
  s->OnTimer(1100);
  EXPECT_EQ(Drain(*s), Bytes({1, 3, 0, 0, 0, 0, 0, 0}));  // NOP, sid 0
  EXPECT_EQ(s->NextDeadline(), 1200);
  s->OnTimer(1250);  // one NOP even when late; next tick stays on the grid
  EXPECT_EQ(Drain(*s).size(), 8u);
  EXPECT_EQ(s->NextDeadline(), 1300);
  // A frame arrived in the first period: alive at 1300.
  ASSERT_EQ(s->Feed(Frame(1, kCmdNop, 0)), 8u);
  s->OnTimer(1300);
  EXPECT_FALSE(s->is_closed());
  // Nothing in the second period: dead at 1600.
  s->OnTimer(1599);
  EXPECT_FALSE(s->is_closed());
  s->OnTimer(1600);
  EXPECT_TRUE(s->is_closed());
  EXPECT_EQ(r.deaths, 1);
  EXPECT_EQ(r.died.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(r.died.message()), HasSubstr("no frame from the peer in 300 ms"));
  EXPECT_EQ(s->NextDeadline(), kNoDeadline);
  EXPECT_EQ(s->OpenStream().status().code(), absl::StatusCode::kFailedPrecondition);
}

// A server that never heard a frame (its KCP session came from one forged
// datagram) sends no NOP, so keepalive buys the forger nothing; it still
// dies at the timeout. Once the peer speaks, the server pings as smux does.
TEST(Session, ServerSendsNoNopBeforeThePeerSpeaks) {
  Config c;
  c.keep_alive_interval_ms = 100;
  c.keep_alive_timeout_ms = 300;
  Recorder r;
  auto silent = Make(Role::kServer, c, &r, /*now=*/0);
  for (int64_t t = 100; t < 300; t += 100) silent->OnTimer(t);
  EXPECT_TRUE(silent->output().empty());
  silent->OnTimer(300);
  EXPECT_TRUE(silent->output().empty());
  EXPECT_TRUE(silent->is_closed());
  EXPECT_EQ(r.died.code(), absl::StatusCode::kDeadlineExceeded);

  Recorder r2;
  auto spoken = Make(Role::kServer, c, &r2, /*now=*/0);
  ASSERT_EQ(spoken->Feed(Frame(1, kCmdNop, 0)), 8u);
  spoken->OnTimer(100);
  EXPECT_EQ(Drain(*spoken), Bytes({1, 3, 0, 0, 0, 0, 0, 0}));
  EXPECT_FALSE(spoken->is_closed());
}

TEST(Session, SilenceIsForgivenWhileWeBlockTheInput) {
  Config c;
  c.keep_alive_interval_ms = 100;
  c.keep_alive_timeout_ms = 100;
  c.max_receive_buffer = 10;
  c.max_stream_buffer = 10;
  Recorder r;
  r.auto_consume = false;
  auto s = Make(Role::kServer, c, &r, 0);
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes psh = Frame(1, kCmdPsh, 3, Pattern(20, 15));
  in.insert(in.end(), psh.begin(), psh.end());
  ASSERT_EQ(s->Feed(in), in.size());
  ASSERT_TRUE(s->receive_blocked());
  for (int64_t t = 100; t <= 1000; t += 100) s->OnTimer(t);
  EXPECT_FALSE(s->is_closed());
  ASSERT_TRUE(s->Consume(3, 20).ok());
  s->OnTimer(1100);
  EXPECT_TRUE(s->is_closed());
}

TEST(Session, KeepaliveDisabled) {
  Config c;
  c.keep_alive_disabled = true;
  Recorder r;
  auto s = Make(Role::kClient, c, &r, 0);
  EXPECT_EQ(s->NextDeadline(), kNoDeadline);
  s->OnTimer(1000000000);
  EXPECT_TRUE(s->output().empty());
  EXPECT_FALSE(s->is_closed());
}

// ----------------------------------------------------------- hostile input

void ExpectDeath(int version, const Bytes& input, const std::string& fragment) {
  Config c;
  c.version = version;
  Recorder r;
  auto s = Make(Role::kServer, c, &r);
  s->Feed(input);
  ASSERT_TRUE(s->is_closed()) << fragment;
  EXPECT_EQ(r.deaths, 1);
  EXPECT_EQ(r.died.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.died.message()), HasSubstr(fragment));
  EXPECT_EQ(s->status(), r.died);
  EXPECT_EQ(s->num_streams(), 0u);
  EXPECT_EQ(s->Feed(Frame(version, kCmdNop, 0)), 0u);
  EXPECT_EQ(s->Write(3, Bytes{1}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Session, ProtocolErrorsKillTheSession) {
  ExpectDeath(1, Frame(2, kCmdNop, 0), "frame version 2 in a version 1 session");
  ExpectDeath(2, Frame(1, kCmdNop, 0), "frame version 1 in a version 2 session");
  ExpectDeath(1, Upd(1, 3, 0, 0), "UPD frame (stream 3) in a version 1 session");
  ExpectDeath(2, Frame(2, kCmdUpd, 3, Bytes(4)), "with length 4, must be 8");
  ExpectDeath(1, Frame(1, 7, 3), "unknown command 7");
  ExpectDeath(1, Frame(1, kCmdSyn, 3, Bytes(2)), "SYN frame (stream 3) with length 2");
  ExpectDeath(1, Frame(1, kCmdFin, 3, Bytes(1)), "FIN frame");
  ExpectDeath(2, Frame(2, kCmdNop, 0, Bytes(9)), "NOP frame");
  // After good frames too, with an open stream.
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes bad = Frame(9, kCmdPsh, 3, Bytes(5));
  in.insert(in.end(), bad.begin(), bad.end());
  ExpectDeath(1, in, "frame version 9");
}

// kcpp's close notice: the streams' FINs, then a NOP on the reserved id;
// the far side hears OnPeerClosing once, after the FINs, and stays open.
TEST(CloseNotice, FollowsTheStreamsFinsAndReachesTheHandlerOnce) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    Config c;
    c.version = version;
    Pair p(c);
    const StreamId id = *p.client->OpenStream();
    p.Pump();
    ASSERT_TRUE(p.client->CloseStream(id).ok());
    ASSERT_TRUE(p.client->SendCloseNotice().ok());
    ASSERT_TRUE(p.client->SendCloseNotice().ok());  // once per session
    const Bytes wire(p.client->output().begin(), p.client->output().end());
    const std::vector<FrameHeader> frames = Headers(wire);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].command, kCmdFin);
    EXPECT_EQ(frames[1], (FrameHeader{static_cast<uint8_t>(version), kCmdNop, 0,
                                      kCloseNoticeStreamId}));
    // On the wire: NOP, length 0, stream id "bye!" (docs/protocol.md A.6).
    EXPECT_EQ(Bytes(wire.end() - 8, wire.end()),
              Bytes({static_cast<uint8_t>(version), 3, 0, 0, 'b', 'y', 'e', '!'}));
    p.client->Close();
    p.Pump();
    EXPECT_THAT(p.sr.events, ElementsAre(absl::StrCat("open ", id), absl::StrCat("fin ", id),
                                         "peer closing"));
    EXPECT_TRUE(p.client->stats().close_notice_sent);
    EXPECT_TRUE(p.server->stats().close_notice_received);
    EXPECT_FALSE(p.server->is_closed());
    EXPECT_EQ(p.server->stats().frames_received[kCmdNop], 1u);
    // A second notice (a misbehaving peer) is counted as a NOP, no event.
    ASSERT_EQ(p.server->Feed(Frame(version, kCmdNop, kCloseNoticeStreamId)), 8u);
    EXPECT_EQ(p.sr.events.back(), "peer closing");
    EXPECT_EQ(p.sr.events.size(), 3u);
    EXPECT_FALSE(p.server->is_closed());
  }
}

// A stream the closing peer never finished — here one the server opened
// whose SYN crossed the close — ends as if its FIN came, before the notice
// is reported; one that did get its FIN is not reported twice.
TEST(CloseNotice, StreamsThePeerNeverFinishedGetTheirFin) {
  Config c;
  Pair p(c);
  const StreamId finished = *p.client->OpenStream();
  p.Pump();
  ASSERT_TRUE(p.client->CloseStream(finished).ok());
  ASSERT_TRUE(p.client->SendCloseNotice().ok());
  p.client->Close();
  const StreamId crossed = *p.server->OpenStream();  // its SYN will meet a closed client
  ASSERT_TRUE(p.server->CloseWrite(crossed).ok());
  p.Pump();
  EXPECT_THAT(p.sr.events,
              ElementsAre(absl::StrCat("open ", finished), absl::StrCat("fin ", finished),
                          absl::StrCat("fin ", crossed), absl::StrCat("closed ", crossed),
                          "peer closing"));
  EXPECT_FALSE(p.server->is_closed());
}

// Every other NOP is a keepalive, whatever its stream id (smux never looks
// at it): no event; and a notice with a payload breaks the NOP rule as any
// NOP would.
TEST(CloseNotice, OtherNopsAreKeepalivesAndANoticeWithPayloadIsAnError) {
  Recorder r;
  auto s = Make(Role::kServer, Config(), &r);
  Bytes in;
  for (uint32_t sid : {0u, 3u, kCloseNoticeStreamId - 1, kCloseNoticeStreamId + 1, 0xFFFFFFFFu}) {
    const Bytes f = Frame(1, kCmdNop, sid);
    in.insert(in.end(), f.begin(), f.end());
  }
  ASSERT_EQ(s->Feed(in), in.size());
  EXPECT_TRUE(r.events.empty());
  EXPECT_FALSE(s->stats().close_notice_received);
  ExpectDeath(1, Frame(1, kCmdNop, kCloseNoticeStreamId, Bytes(1)), "NOP frame");
  Recorder r2;
  auto closed = Make(Role::kClient, Config(), &r2);
  closed->Close();
  EXPECT_EQ(closed->SendCloseNotice().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Session, TruncatedFramesJustWait) {
  Recorder r;
  r.auto_consume = false;
  auto s = Make(Role::kServer, Config(), &r);
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes psh = Frame(1, kCmdPsh, 3, Pattern(1000, 16));
  in.insert(in.end(), psh.begin(), psh.end() - 500);
  EXPECT_EQ(s->Feed(in), in.size());
  EXPECT_EQ(r.data[3].size(), 500u);  // delivered as it arrives
  EXPECT_EQ(s->Feed(Bytes(psh.end() - 500, psh.end() - 1)), 499u);
  EXPECT_EQ(s->Feed(Bytes{psh.back()}), 1u);
  EXPECT_EQ(r.data[3], Pattern(1000, 16));
  EXPECT_EQ(s->Feed(Bytes{1, 2, 0}), 3u);  // partial header: held, no error
  EXPECT_FALSE(s->is_closed());
}

TEST(Session, UnknownAndFinishedStreamsAreDiscarded) {
  Recorder r;
  auto s = Make(Role::kServer, Config(), &r);
  Bytes in = Frame(1, kCmdPsh, 77, Pattern(300, 17));  // never opened
  const Bytes more[] = {Frame(1, kCmdSyn, 3),
                        Frame(1, kCmdSyn, 3),  // duplicate SYN ignored
                        Frame(1, kCmdPsh, 3, Pattern(10, 18)),
                        Frame(1, kCmdFin, 3),
                        Frame(1, kCmdPsh, 3, Pattern(20, 19)),  // after FIN
                        Frame(1, kCmdFin, 3),                   // duplicate FIN ignored
                        Frame(1, kCmdFin, 99),                  // unknown
                        Frame(1, kCmdPsh, 3, {})};              // empty PSH ignored
  for (const Bytes& f : more) in.insert(in.end(), f.begin(), f.end());
  ASSERT_EQ(s->Feed(in), in.size());
  EXPECT_FALSE(s->is_closed());
  EXPECT_THAT(r.events, ElementsAre("open 3", "data 3 10", "fin 3"));
  EXPECT_EQ(s->stats().bytes_discarded, 320u);
  EXPECT_EQ(s->stats().frames_received[kCmdSyn], 2u);
  EXPECT_EQ(s->stats().streams_accepted, 1u);
}

// An id may be used again once its stream is gone (smux keeps no history);
// found by the fuzzer with stream id 0.
TEST(Session, FinishedStreamIdsCanBeReopened) {
  Recorder r;
  r.auto_consume = false;
  auto s = Make(Role::kServer, Config(), &r);
  Bytes in;
  for (const Bytes& f : {Frame(1, kCmdSyn, 0), Frame(1, kCmdFin, 0)})
    in.insert(in.end(), f.begin(), f.end());
  ASSERT_EQ(s->Feed(in), in.size());
  ASSERT_TRUE(s->CloseWrite(0).ok());
  EXPECT_THAT(r.closed, ElementsAre(0u));
  in.clear();
  for (const Bytes& f : {Frame(1, kCmdSyn, 0), Frame(1, kCmdPsh, 0, Pattern(256, 24))}) {
    in.insert(in.end(), f.begin(), f.end());
  }
  ASSERT_EQ(s->Feed(in), in.size());
  EXPECT_THAT(r.opened, ElementsAre(0u, 0u));
  const StreamInfo info = *s->GetStreamInfo(0);
  EXPECT_EQ(info.unconsumed, 256u);
  EXPECT_FALSE(info.fin_sent);
  EXPECT_FALSE(info.fin_received);
  EXPECT_EQ(SessionPeer::ReceiveBudget(*s), Config().max_receive_buffer - 256);
}

TEST(Session, SynFloodStopsAtTheAcceptBacklog) {
  Config c;
  c.accept_backlog = 1024;
  Recorder r;
  r.auto_accept = false;
  auto s = Make(Role::kServer, c, &r);
  Bytes flood;
  for (uint32_t i = 0; i < 5000; ++i) {
    const Bytes f = Frame(1, kCmdSyn, 1 + 2 * i);
    flood.insert(flood.end(), f.begin(), f.end());
  }
  size_t used = s->Feed(flood);
  EXPECT_EQ(used, 1024u * 8);
  EXPECT_EQ(s->num_streams(), 1024u);
  EXPECT_TRUE(s->receive_blocked());
  EXPECT_EQ(s->Feed(absl::MakeConstSpan(flood).subspan(used)), 0u);
  // Accepting (or refusing with CloseStream) makes room, one for one.
  ASSERT_TRUE(s->AcceptStream(1).ok());
  ASSERT_TRUE(s->CloseStream(3).ok());
  ASSERT_TRUE(s->AcceptStream(1).ok());  // idempotent
  used += s->Feed(absl::MakeConstSpan(flood).subspan(used));
  EXPECT_EQ(used, 1026u * 8);
  EXPECT_EQ(s->num_streams(), 1025u);
  EXPECT_EQ(s->AcceptStream(12345).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(s->is_closed());
}

// ------------------------------------------------------------ API misuse

TEST(Session, ApiErrors) {
  Recorder r;
  r.auto_consume = false;
  auto s = Make(Role::kServer, Config(), &r);
  EXPECT_EQ(s->Write(3, Bytes{1}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->Consume(3, 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->CloseWrite(3).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->CloseStream(3).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->WritableBytes(3), 0u);
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes psh = Frame(1, kCmdPsh, 3, Pattern(10, 20));
  in.insert(in.end(), psh.begin(), psh.end());
  ASSERT_EQ(s->Feed(in), in.size());
  absl::Status over = s->Consume(3, 11);
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(over.message()), HasSubstr("only 10 bytes are unconsumed"));
  ASSERT_TRUE(s->CloseWrite(3).ok());
  EXPECT_EQ(s->CloseWrite(3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->Write(3, Bytes{1}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->Write(3, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  s->Close();
  EXPECT_EQ(s->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(r.deaths, 0);  // no callback for our own Close
  EXPECT_EQ(s->num_streams(), 0u);
  EXPECT_EQ(s->OpenStream().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->Feed(in), 0u);
}

// Callbacks may call back into the session.
class ReentrantHandler : public Recorder {
 public:
  void OnStreamData(StreamId id, absl::Span<const uint8_t> d) override {
    Recorder::OnStreamData(id, d);
    EXPECT_EQ(session->Feed(d), 0u);  // Feed is not re-entrant
    if (close_on_data) {
      EXPECT_TRUE(session->CloseStream(id).ok());
    }
    if (kill_on_data) session->Close();
  }
  bool close_on_data = false;
  bool kill_on_data = false;
};

TEST(Session, CallbacksMayCloseStreamsAndTheSession) {
  Bytes in = Frame(1, kCmdSyn, 3);
  const Bytes frames[] = {Frame(1, kCmdPsh, 3, Pattern(10, 21)),
                          Frame(1, kCmdPsh, 3, Pattern(10, 22)), Frame(1, kCmdSyn, 5),
                          Frame(1, kCmdPsh, 5, Pattern(10, 23))};
  for (const Bytes& f : frames) in.insert(in.end(), f.begin(), f.end());
  {
    ReentrantHandler h;
    h.auto_consume = false;
    h.close_on_data = true;
    auto s = Make(Role::kServer, Config(), &h);
    EXPECT_EQ(s->Feed(in), in.size());
    EXPECT_THAT(h.events, ElementsAre("open 3", "data 3 10", "open 5", "data 5 10"));
    EXPECT_EQ(s->num_streams(), 0u);
    EXPECT_EQ(SessionPeer::ReceiveBudget(*s), Config().max_receive_buffer);
  }
  {
    ReentrantHandler h;
    h.kill_on_data = true;
    auto s = Make(Role::kServer, Config(), &h);
    EXPECT_EQ(s->Feed(in), 8u + 18u);  // stopped right after the first PSH
    EXPECT_TRUE(s->is_closed());
  }
}

// Two sessions moving many streams of data in both directions through
// pieces of random size, v1 and v2, with a slow consumer on one side.
TEST(Session, ManyStreamsBothDirections) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    Config c;
    c.version = version;
    c.max_receive_buffer = 1 << 20;
    c.max_stream_buffer = 65536;
    c.max_frame_size = 8192;
    Pair p(c);
    std::map<StreamId, Bytes> sent_by_client, sent_by_server;
    std::map<StreamId, size_t> client_off, server_off;
    for (int i = 0; i < 8; ++i) {
      const StreamId a = *p.client->OpenStream();
      sent_by_client[a] = Pattern(300000 + i * 1000, a);
      const StreamId b = *p.server->OpenStream();
      sent_by_server[b] = Pattern(200000 + i * 1000, b + 1000);
    }
    std::mt19937 rng(version);
    auto pump_writes = [&](Session& s, std::map<StreamId, Bytes>& sent,
                           std::map<StreamId, size_t>& off) {
      for (auto& [id, bytes] : sent) {
        size_t& o = off[id];
        if (o == bytes.size()) continue;
        const size_t chunk = std::min<size_t>(bytes.size() - o, 1 + rng() % 20000);
        absl::StatusOr<size_t> n = s.Write(id, absl::MakeConstSpan(bytes).subspan(o, chunk));
        ASSERT_TRUE(n.ok()) << n.status();
        o += *n;
        if (o == bytes.size()) {
          ASSERT_TRUE(s.CloseWrite(id).ok());
        }
      }
    };
    for (int iter = 0; iter < 100000; ++iter) {
      pump_writes(*p.client, sent_by_client, client_off);
      pump_writes(*p.server, sent_by_server, server_off);
      p.Pump(1 + rng() % 5000);
      // Streams finish when both directions are done: the other side's
      // stream only sends FIN when it has written everything.
      if (p.client->num_streams() == 0 && p.server->num_streams() == 0) break;
      // The other side of every stream closes its write half once it has
      // received everything, as an echo server would.
      for (auto& [id, bytes] : sent_by_client) {
        auto info = p.server->GetStreamInfo(id);
        if (info && info->fin_received && !info->fin_sent) {
          ASSERT_TRUE(p.server->CloseWrite(id).ok());
        }
      }
      for (auto& [id, bytes] : sent_by_server) {
        auto info = p.client->GetStreamInfo(id);
        if (info && info->fin_received && !info->fin_sent) {
          ASSERT_TRUE(p.client->CloseWrite(id).ok());
        }
      }
    }
    for (auto& [id, bytes] : sent_by_client) {
      EXPECT_TRUE(p.sr.data[id] == bytes) << id;
    }
    for (auto& [id, bytes] : sent_by_server) {
      EXPECT_TRUE(p.cr.data[id] == bytes) << id;
    }
    EXPECT_EQ(p.cr.closed.size(), 16u);
    EXPECT_EQ(p.sr.closed.size(), 16u);
    EXPECT_EQ(p.cr.deaths + p.sr.deaths, 0);
  }
}

}  // namespace
}  // namespace kcpp::smux
