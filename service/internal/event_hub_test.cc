#include "service/internal/event_hub.h"

#include <atomic>

#include "base/latch.h"
#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

using kcpp::v1::SessionEvent;

SessionEvent Event(SessionEvent::Type type, const std::string& session,
                   const std::string& listener = "") {
  SessionEvent e;
  e.set_type(type);
  e.mutable_session()->set_name(session);
  e.mutable_session()->set_listener(listener);
  return e;
}

WatchFilter AllLifecycle() {
  return *WatchFilterFromRequest(kcpp::v1::WatchSessionEventsRequest());
}

EventHub::StatsSource NoSessions() {
  return [](const WatchFilter&) { return std::vector<kcpp::v1::Session>(); };
}

TEST(WatchFilterFromRequest, DefaultsAndValidation) {
  WatchFilter f = AllLifecycle();
  EXPECT_TRUE(f.Wants(SessionEvent::SESSION_ACCEPTED));
  EXPECT_TRUE(f.Wants(SessionEvent::STREAM_CLOSED));
  EXPECT_FALSE(f.Wants(SessionEvent::STATS));

  kcpp::v1::WatchSessionEventsRequest r;
  r.mutable_stats_interval()->set_seconds(1);
  f = *WatchFilterFromRequest(r);
  EXPECT_TRUE(f.Wants(SessionEvent::STATS));
  EXPECT_EQ(f.stats_interval, absl::Seconds(1));

  r = kcpp::v1::WatchSessionEventsRequest();
  r.add_types(SessionEvent::STATS);
  EXPECT_EQ(WatchFilterFromRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.mutable_stats_interval()->set_nanos(1000);  // 1 us: absurd
  EXPECT_EQ(WatchFilterFromRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r = kcpp::v1::WatchSessionEventsRequest();
  r.add_types(static_cast<SessionEvent::Type>(42));
  EXPECT_EQ(WatchFilterFromRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r = kcpp::v1::WatchSessionEventsRequest();
  r.set_listener("web");
  EXPECT_EQ(WatchFilterFromRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_listener("listeners/web");
  r.set_session("sessions/x");
  EXPECT_EQ(WatchFilterFromRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_session("sessions/3");
  r.add_types(SessionEvent::STREAM_ACCEPTED);
  f = *WatchFilterFromRequest(r);
  EXPECT_TRUE(f.Wants(SessionEvent::STREAM_ACCEPTED));
  EXPECT_FALSE(f.Wants(SessionEvent::SESSION_CLOSED));
}

TEST(EventHub, DeliversMatchingEventsInOrderAndWakes) {
  EventHub hub({}, NoSessions());
  std::atomic<int> wakes_all{0}, wakes_l{0};
  auto all = hub.Subscribe(AllLifecycle(), [&] { ++wakes_all; });
  WatchFilter only_l = AllLifecycle();
  only_l.listener = "listeners/l";
  auto l = hub.Subscribe(only_l, [&] { ++wakes_l; });
  WatchFilter only_closed;
  only_closed.types = 1u << SessionEvent::SESSION_CLOSED;
  auto closed = hub.Subscribe(only_closed, [] {});
  EXPECT_EQ(hub.watchers(), 3u);

  hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/1"));
  hub.Publish(Event(SessionEvent::SESSION_ACCEPTED, "sessions/2", "listeners/l"));
  hub.Publish(Event(SessionEvent::SESSION_CLOSED, "sessions/1"));
  EXPECT_EQ(wakes_all.load(), 3);
  EXPECT_EQ(wakes_l.load(), 1);

  EXPECT_EQ(all->Pop()->session().name(), "sessions/1");
  EXPECT_EQ(all->Pop()->session().name(), "sessions/2");
  EXPECT_EQ(all->Pop()->type(), SessionEvent::SESSION_CLOSED);
  EXPECT_FALSE(all->Pop().has_value());
  EXPECT_FALSE(all->Finished().has_value());

  EXPECT_EQ(l->Pop()->session().name(), "sessions/2");
  EXPECT_FALSE(l->Pop().has_value());
  EXPECT_EQ(closed->Pop()->type(), SessionEvent::SESSION_CLOSED);
  EXPECT_FALSE(closed->Pop().has_value());

  hub.Unsubscribe(all);
  hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/3"));
  EXPECT_FALSE(all->Pop().has_value());
  EXPECT_EQ(hub.watchers(), 2u);
}

TEST(EventHub, SlowWatcherIsEndedAfterItsQueueDrains) {
  EventHub hub({.max_queued_events = 3}, NoSessions());
  auto sub = hub.Subscribe(AllLifecycle(), [] {});
  for (int i = 1; i <= 10; ++i) {
    hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/" + std::to_string(i)));
  }
  for (int i = 1; i <= 3; ++i) {
    EXPECT_FALSE(sub->Finished().has_value());
    EXPECT_EQ(sub->Pop()->session().name(), "sessions/" + std::to_string(i));
  }
  EXPECT_FALSE(sub->Pop().has_value());
  ASSERT_TRUE(sub->Finished().has_value());
  EXPECT_EQ(sub->Finished()->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(sub->Finished()->message().find("watch again"), absl::string_view::npos);
}

TEST(EventHub, CloseEndsEveryWatchAndLaterOnes) {
  EventHub hub({}, NoSessions());
  Latch woken;
  auto sub = hub.Subscribe(AllLifecycle(), [&] { woken.CountDown(); });
  hub.Close(absl::UnavailableError("kcpd is shutting down"));
  EXPECT_TRUE(woken.IsDone());
  ASSERT_TRUE(sub->Finished().has_value());
  EXPECT_EQ(sub->Finished()->code(), absl::StatusCode::kUnavailable);
  auto late = hub.Subscribe(AllLifecycle(), [] {});
  ASSERT_TRUE(late->Finished().has_value());
  EXPECT_EQ(late->Finished()->code(), absl::StatusCode::kUnavailable);
}

TEST(EventHub, PeriodicStatsSamplesMatchingSessions) {
  std::atomic<int> sampled{0};
  EventHub hub({}, [&](const WatchFilter& f) {
    ++sampled;
    std::vector<kcpp::v1::Session> out;
    kcpp::v1::Session s;
    s.set_name("sessions/5");
    s.set_listener(f.listener);
    s.mutable_counters()->set_bytes_sent(1234);
    out.push_back(s);
    return out;
  });
  kcpp::v1::WatchSessionEventsRequest r;
  r.mutable_stats_interval()->set_nanos(100 * 1000 * 1000);
  r.set_listener("listeners/l");
  Latch woken;
  auto sub = hub.Subscribe(*WatchFilterFromRequest(r), [&] { woken.CountDown(); });
  woken.Wait();
  std::optional<SessionEvent> e = sub->Pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type(), SessionEvent::STATS);
  EXPECT_EQ(e->session().name(), "sessions/5");
  EXPECT_EQ(e->session().listener(), "listeners/l");
  EXPECT_EQ(e->session().counters().bytes_sent(), 1234u);
  EXPECT_GT(e->time().seconds(), 0);
  EXPECT_GE(sampled.load(), 1);
}

}  // namespace
}  // namespace kcpp::service::internal
