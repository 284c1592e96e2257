#include "kcpd/control_plane.h"

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kcpd/testing/fake_backend.h"
#include "kcpd/testing/test_util.h"

namespace kcpp::service {
namespace {

using internal::AttachSocketKind;
using kcpp::v1::SessionEvent;

// A clock the test moves by hand.
class FakeClock {
 public:
  absl::Time Now() {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1000000);
};

class ControlPlaneTest : public ::testing::Test {
 protected:
  ControlPlaneTest()
      : plane_(&backend_, {.stream_socket_path = "/run/kcpd/data.sock",
                           .seqpacket_socket_path = "/run/kcpd/data-seqpacket.sock",
                           .attach_timeout = absl::Seconds(30),
                           .version = "kcpd test",
                           .monotonic_clock = [this] { return clock_.Now(); },
                           .run_janitor = false}) {}

  kcpp::v1::Listener MakeListener(const std::string& id, const std::string& address,
                                  kcpp::v1::Framing framing = kcpp::v1::FRAMING_SMUX) {
    kcpp::v1::CreateListenerRequest r;
    r.set_listener_id(id);
    r.mutable_listener()->set_address(address);
    r.mutable_listener()->mutable_session_options()->set_framing(framing);
    kcpp::v1::Listener l;
    const absl::Status s = plane_.CreateListener(r, &l);
    EXPECT_TRUE(s.ok()) << s;
    return l;
  }

  kcpp::v1::DialSessionResponse Dial(const std::string& address,
                                     kcpp::v1::Framing framing = kcpp::v1::FRAMING_SMUX) {
    kcpp::v1::DialSessionRequest r;
    r.set_remote_address(address);
    r.mutable_options()->set_framing(framing);
    kcpp::v1::DialSessionResponse d;
    const absl::Status s = plane_.DialSession(r, &d);
    EXPECT_TRUE(s.ok()) << s;
    return d;
  }

  FakeClock clock_;
  FakeBackend backend_;
  ControlPlane plane_;
};

TEST_F(ControlPlaneTest, ListenerRoundTrip) {
  kcpp::v1::Listener l = MakeListener("tunnel", "127.0.0.1:4000");
  EXPECT_EQ(l.name(), "listeners/tunnel");
  EXPECT_EQ(l.bound_address(), "127.0.0.1:4000");
  EXPECT_EQ(l.session_options().framing(), kcpp::v1::FRAMING_SMUX);
  EXPECT_GT(l.create_time().seconds(), 0);

  kcpp::v1::GetListenerRequest get;
  get.set_name("listeners/tunnel");
  kcpp::v1::Listener got;
  ASSERT_TRUE(plane_.GetListener(get, &got).ok());
  EXPECT_EQ(got.bound_address(), "127.0.0.1:4000");

  // kcpd picks ids when none is given.
  kcpp::v1::CreateListenerRequest auto_id;
  auto_id.mutable_listener()->set_address("127.0.0.1:0");
  kcpp::v1::Listener picked;
  ASSERT_TRUE(plane_.CreateListener(auto_id, &picked).ok());
  EXPECT_EQ(picked.name(), "listeners/listener-1");

  kcpp::v1::ListListenersRequest list;
  list.set_page_size(1);
  kcpp::v1::ListListenersResponse page;
  ASSERT_TRUE(plane_.ListListeners(list, &page).ok());
  ASSERT_EQ(page.listeners_size(), 1);
  EXPECT_EQ(page.listeners(0).name(), "listeners/listener-1");
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  page.Clear();
  ASSERT_TRUE(plane_.ListListeners(list, &page).ok());
  ASSERT_EQ(page.listeners_size(), 1);
  EXPECT_EQ(page.listeners(0).name(), "listeners/tunnel");
  EXPECT_TRUE(page.next_page_token().empty());

  kcpp::v1::DeleteListenerRequest del;
  del.set_name("listeners/tunnel");
  ASSERT_TRUE(plane_.DeleteListener(del).ok());
  EXPECT_EQ(plane_.GetListener(get, &got).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(plane_.DeleteListener(del).code(), absl::StatusCode::kNotFound);
}

TEST_F(ControlPlaneTest, MalformedListenerRequestsAreInvalidArgument) {
  kcpp::v1::CreateListenerRequest r;
  r.set_listener_id("Bad_Id");
  r.mutable_listener()->set_address("127.0.0.1:4000");
  kcpp::v1::Listener l;
  absl::Status s = plane_.CreateListener(r, &l);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("listener_id"), absl::string_view::npos) << s;
  r.set_listener_id("ok");
  r.mutable_listener()->set_address("not an address");
  EXPECT_EQ(plane_.CreateListener(r, &l).code(), absl::StatusCode::kInvalidArgument);
  r.mutable_listener()->set_address("127.0.0.1:4000");
  r.mutable_listener()->mutable_session_options()->set_receive_window(1u << 30);
  s = plane_.CreateListener(r, &l);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("listener.session_options: receive_window"), absl::string_view::npos)
      << s;
  kcpp::v1::GetListenerRequest get;
  get.set_name("tunnel");  // missing the collection
  EXPECT_EQ(plane_.GetListener(get, &l).code(), absl::StatusCode::kInvalidArgument);
  kcpp::v1::ListListenersRequest list;
  list.set_page_size(-1);
  kcpp::v1::ListListenersResponse page;
  EXPECT_EQ(plane_.ListListeners(list, &page).code(), absl::StatusCode::kInvalidArgument);
  list.set_page_size(0);
  list.set_page_token("garbage!");
  EXPECT_EQ(plane_.ListListeners(list, &page).code(), absl::StatusCode::kInvalidArgument);
  // Nothing was created by any of these.
  EXPECT_TRUE(backend_.ListListeners().empty());
}

// AIP-158: a page_size above the maximum (1000) is served at the maximum,
// with a token for the rest; a negative one is refused.
TEST_F(ControlPlaneTest, PageSizeAboveTheMaximumIsClamped) {
  for (int i = 0; i < 1001; ++i) {
    MakeListener(absl::StrCat("l", i), absl::StrCat("127.0.0.1:", 20000 + i));
  }
  kcpp::v1::ListListenersRequest request;
  request.set_page_size(5000);
  kcpp::v1::ListListenersResponse page;
  ASSERT_TRUE(plane_.ListListeners(request, &page).ok());
  EXPECT_EQ(page.listeners_size(), 1000);
  ASSERT_FALSE(page.next_page_token().empty());
  request.set_page_token(page.next_page_token());
  kcpp::v1::ListListenersResponse rest;
  ASSERT_TRUE(plane_.ListListeners(request, &rest).ok());
  EXPECT_EQ(rest.listeners_size(), 1);
  EXPECT_TRUE(rest.next_page_token().empty());

  request.clear_page_token();
  request.set_page_size(-1);
  EXPECT_EQ(plane_.ListListeners(request, &page).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlPlaneTest, DialReturnsTheFirstStreamWithAnAttachment) {
  const kcpp::v1::DialSessionResponse d = Dial("10.0.0.2:4000");
  EXPECT_EQ(d.session().name(), "sessions/1");
  EXPECT_EQ(d.session().remote_address(), "10.0.0.2:4000");
  EXPECT_TRUE(d.session().options().key().empty());
  EXPECT_EQ(d.stream().name(), "sessions/1/streams/3");
  const kcpp::v1::DataAttachment& a = d.stream().attachment();
  EXPECT_EQ(a.socket_type(), kcpp::v1::DataAttachment::SOCKET_TYPE_STREAM);
  EXPECT_EQ(a.socket_path(), "/run/kcpd/data.sock");
  EXPECT_EQ(a.token().size(), 64u);
  const int64_t in = a.expire_time().seconds() - absl::ToUnixSeconds(absl::Now());
  EXPECT_GE(in, 28);
  EXPECT_LE(in, 31);

  // A raw message-mode session attaches over SOCK_SEQPACKET.
  const kcpp::v1::DialSessionResponse raw = Dial("10.0.0.2:4001", kcpp::v1::FRAMING_RAW);
  EXPECT_EQ(raw.stream().name(), "sessions/2/streams/0");
  EXPECT_EQ(raw.stream().attachment().socket_type(),
            kcpp::v1::DataAttachment::SOCKET_TYPE_SEQPACKET);
  EXPECT_EQ(raw.stream().attachment().socket_path(), "/run/kcpd/data-seqpacket.sock");
}

TEST_F(ControlPlaneTest, MalformedDialsAreInvalidArgumentAndCreateNothing) {
  const auto dial = [&](const std::string& address, const kcpp::v1::SessionOptions& o) {
    kcpp::v1::DialSessionRequest r;
    r.set_remote_address(address);
    *r.mutable_options() = o;
    kcpp::v1::DialSessionResponse d;
    return plane_.DialSession(r, &d);
  };
  kcpp::v1::SessionOptions o;
  EXPECT_EQ(dial("", o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dial("kcp.example.com:4000", o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dial("10.0.0.1:99999", o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dial("10.0.0.1:0", o).code(), absl::StatusCode::kInvalidArgument);
  o.set_send_window(4000000000u);
  EXPECT_EQ(dial("10.0.0.1:4000", o).code(), absl::StatusCode::kInvalidArgument);
  o.Clear();
  o.set_crypt("rot13");
  const absl::Status s = dial("10.0.0.1:4000", o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("options: crypt must be one of"), absl::string_view::npos) << s;
  EXPECT_EQ(backend_.GetStats().sessions_dialed(), 0u);
}

TEST_F(ControlPlaneTest, AttachTokensAreOneTimeAndRefusalsSayWhy) {
  const kcpp::v1::DialSessionResponse d = Dial("10.0.0.2:4000");
  const std::string token = d.stream().attachment().token();
  std::string wrong = token;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  EXPECT_EQ(plane_.RedeemAttachToken(wrong, AttachSocketKind::kStream).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(plane_.RedeemAttachToken(token, AttachSocketKind::kSeqpacket).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<StreamRef> ref = plane_.RedeemAttachToken(token, AttachSocketKind::kStream);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->session_id, 1u);
  EXPECT_EQ(ref->stream_id, 3u);
  const auto reused = plane_.RedeemAttachToken(token, AttachSocketKind::kStream);
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(reused.status().message().find("already used"), absl::string_view::npos);

  auto [app, kcpd] = testing::SocketPair(SOCK_STREAM);
  plane_.CompleteAttach(*ref, std::move(kcpd));
  kcpp::v1::Stats stats;
  ASSERT_TRUE(plane_.GetStats(&stats).ok());
  EXPECT_EQ(stats.attachments(), 1u);
  EXPECT_EQ(stats.attachments_refused(), 3u);
  kcpp::v1::GetSessionRequest get;
  get.set_name("sessions/1");
  kcpp::v1::Session s;
  ASSERT_TRUE(plane_.GetSession(get, &s).ok());
  ASSERT_EQ(s.streams_size(), 1);
  EXPECT_EQ(s.streams(0).state(), kcpp::v1::Stream::ATTACHED);
  EXPECT_FALSE(s.streams(0).has_attachment());  // tokens appear only once
}

TEST_F(ControlPlaneTest, UnattachedStreamsCloseWhenTheirTokenExpires) {
  testing::RecordingSink watcher_events;
  const kcpp::v1::DialSessionResponse d = Dial("10.0.0.2:4000");
  kcpp::v1::WatchSessionEventsRequest w;
  auto sub = plane_.Watch(w, [] {});
  ASSERT_TRUE(sub.ok());

  clock_.Advance(absl::Seconds(29));
  plane_.CollectExpiredAttachments();
  EXPECT_FALSE((*sub)->Pop().has_value());  // not yet

  clock_.Advance(absl::Seconds(1));
  plane_.CollectExpiredAttachments();
  std::optional<SessionEvent> e = (*sub)->Pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type(), SessionEvent::STREAM_CLOSED);
  EXPECT_EQ(e->stream().name(), "sessions/1/streams/3");
  EXPECT_EQ(e->reason(), "no application attached within 30s");

  const auto late =
      plane_.RedeemAttachToken(d.stream().attachment().token(), AttachSocketKind::kStream);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(late.status().message().find("expired"), absl::string_view::npos);
}

TEST_F(ControlPlaneTest, AcceptedStreamsAreAnnouncedWithTheirAttachment) {
  MakeListener("in", "127.0.0.1:5000");
  kcpp::v1::WatchSessionEventsRequest w;
  w.add_types(SessionEvent::STREAM_ACCEPTED);
  w.set_listener("listeners/in");
  auto sub = plane_.Watch(w, [] {});
  ASSERT_TRUE(sub.ok());
  Dial("127.0.0.1:5000");
  std::optional<SessionEvent> e = (*sub)->Pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type(), SessionEvent::STREAM_ACCEPTED);
  EXPECT_EQ(e->session().listener(), "listeners/in");
  EXPECT_EQ(e->stream().name(), "sessions/2/streams/3");
  ASSERT_EQ(e->stream().attachment().token().size(), 64u);
  EXPECT_FALSE((*sub)->Pop().has_value());  // only the type asked for

  absl::StatusOr<StreamRef> ref =
      plane_.RedeemAttachToken(e->stream().attachment().token(), AttachSocketKind::kStream);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->session_id, 2u);
}

TEST_F(ControlPlaneTest, TokenOfAStreamClosedBeforeAttachmentIsRevoked) {
  const kcpp::v1::DialSessionResponse d = Dial("10.0.0.2:4000");
  kcpp::v1::CloseStreamRequest close;
  close.set_name(d.stream().name());
  ASSERT_TRUE(plane_.CloseStream(close).ok());
  const auto r =
      plane_.RedeemAttachToken(d.stream().attachment().token(), AttachSocketKind::kStream);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("closed before"), absl::string_view::npos);
  EXPECT_EQ(plane_.CloseStream(close).code(), absl::StatusCode::kNotFound);
}

TEST_F(ControlPlaneTest, SessionsListUpdateOpenClose) {
  MakeListener("in", "127.0.0.1:5000");
  Dial("127.0.0.1:5000");  // sessions 1 (dialled) and 2 (accepted)
  Dial("127.0.0.1:5000");  // 3 and 4
  Dial("10.9.9.9:1");      // 5

  kcpp::v1::ListSessionsRequest list;
  list.set_page_size(2);
  kcpp::v1::ListSessionsResponse page;
  ASSERT_TRUE(plane_.ListSessions(list, &page).ok());
  ASSERT_EQ(page.sessions_size(), 2);
  EXPECT_EQ(page.sessions(1).name(), "sessions/2");
  EXPECT_EQ(page.sessions(0).streams_size(), 0);  // basic view
  list.set_page_token(page.next_page_token());
  list.set_listener("listeners/in");  // a token is bound to its filter
  EXPECT_EQ(plane_.ListSessions(list, &page).code(), absl::StatusCode::kInvalidArgument);
  list.clear_page_token();
  page.Clear();
  list.set_view(kcpp::v1::SESSION_VIEW_FULL);
  ASSERT_TRUE(plane_.ListSessions(list, &page).ok());
  ASSERT_EQ(page.sessions_size(), 2);
  EXPECT_EQ(page.sessions(0).name(), "sessions/2");
  EXPECT_EQ(page.sessions(1).name(), "sessions/4");
  EXPECT_EQ(page.sessions(1).streams_size(), 1);
  EXPECT_TRUE(page.next_page_token().empty());

  kcpp::v1::UpdateSessionRequest update;
  update.mutable_session()->set_name("sessions/1");
  update.mutable_session()->mutable_options()->set_send_window(1024);
  update.mutable_session()->mutable_options()->set_mode(kcpp::v1::MODE_FAST3);
  update.mutable_update_mask()->add_paths("options.send_window");
  update.mutable_update_mask()->add_paths("options.mode");
  kcpp::v1::Session updated;
  ASSERT_TRUE(plane_.UpdateSession(update, &updated).ok());
  EXPECT_EQ(updated.options().send_window(), 1024u);
  EXPECT_EQ(updated.options().mode(), kcpp::v1::MODE_FAST3);
  update.mutable_session()->mutable_options()->set_send_window(70000);
  EXPECT_EQ(plane_.UpdateSession(update, &updated).code(), absl::StatusCode::kInvalidArgument);
  update.mutable_session()->mutable_options()->set_send_window(1024);
  update.mutable_session()->set_name("sessions/99");
  EXPECT_EQ(plane_.UpdateSession(update, &updated).code(), absl::StatusCode::kNotFound);

  kcpp::v1::OpenStreamRequest open;
  open.set_parent("sessions/1");
  kcpp::v1::Stream st;
  ASSERT_TRUE(plane_.OpenStream(open, &st).ok());
  EXPECT_EQ(st.name(), "sessions/1/streams/5");
  EXPECT_EQ(st.attachment().token().size(), 64u);

  kcpp::v1::CloseSessionRequest close;
  close.set_name("sessions/1");
  ASSERT_TRUE(plane_.CloseSession(close).ok());
  kcpp::v1::GetSessionRequest get;
  get.set_name("sessions/1");
  kcpp::v1::Session s;
  EXPECT_EQ(plane_.GetSession(get, &s).code(), absl::StatusCode::kNotFound);
  get.set_name("sessions/2");  // its peer went with it (SESSION_CLOSED_BY_PEER)
  EXPECT_EQ(plane_.GetSession(get, &s).code(), absl::StatusCode::kNotFound);
  get.set_name("session/3");
  EXPECT_EQ(plane_.GetSession(get, &s).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlPlaneTest, OpenStreamOnRawSessionIsFailedPrecondition) {
  Dial("10.0.0.2:4000", kcpp::v1::FRAMING_RAW);
  kcpp::v1::OpenStreamRequest open;
  open.set_parent("sessions/1");
  kcpp::v1::Stream st;
  const absl::Status s = plane_.OpenStream(open, &st);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("FRAMING_RAW"), absl::string_view::npos);
}

TEST_F(ControlPlaneTest, StatsAndShutdown) {
  Dial("10.0.0.2:4000");
  kcpp::v1::Stats stats;
  ASSERT_TRUE(plane_.GetStats(&stats).ok());
  EXPECT_EQ(stats.backend(), "fake");
  EXPECT_EQ(stats.version(), "kcpd test");
  EXPECT_EQ(stats.sessions_dialed(), 1u);
  EXPECT_EQ(stats.active_sessions(), 1u);
  EXPECT_EQ(stats.active_streams(), 1u);

  kcpp::v1::WatchSessionEventsRequest w;
  auto sub = plane_.Watch(w, [] {});
  ASSERT_TRUE(sub.ok());
  plane_.BeginShutdown();
  ASSERT_TRUE((*sub)->Finished().has_value());
  EXPECT_EQ((*sub)->Finished()->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(plane_.GetStats(&stats).code(), absl::StatusCode::kUnavailable);
  kcpp::v1::DialSessionRequest r;
  r.set_remote_address("10.0.0.2:4000");
  kcpp::v1::DialSessionResponse d;
  const absl::Status s = plane_.DialSession(r, &d);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "kcpd is shutting down");
}

}  // namespace
}  // namespace kcpp::service
