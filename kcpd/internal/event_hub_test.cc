#include "kcpd/internal/event_hub.h"

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

// SESSION_CLOSED_BY_PEER refines SESSION_CLOSED: asking for the latter (as
// clients written before it do) gets both; asking for it alone, only it.
TEST(WatchFilterFromRequest, SessionClosedIncludesClosedByPeer) {
  EXPECT_TRUE(AllLifecycle().Wants(SessionEvent::SESSION_CLOSED_BY_PEER));
  kcpp::v1::WatchSessionEventsRequest r;
  r.add_types(SessionEvent::SESSION_CLOSED);
  WatchFilter f = *WatchFilterFromRequest(r);
  EXPECT_TRUE(f.Wants(SessionEvent::SESSION_CLOSED));
  EXPECT_TRUE(f.Wants(SessionEvent::SESSION_CLOSED_BY_PEER));
  EXPECT_FALSE(f.Wants(SessionEvent::SESSION_PEER_DEAD));
  r = kcpp::v1::WatchSessionEventsRequest();
  r.add_types(SessionEvent::SESSION_CLOSED_BY_PEER);
  f = *WatchFilterFromRequest(r);
  EXPECT_TRUE(f.Wants(SessionEvent::SESSION_CLOSED_BY_PEER));
  EXPECT_FALSE(f.Wants(SessionEvent::SESSION_CLOSED));
}

TEST(EventHub, DeliversMatchingEventsInOrderAndWakes) {
  EventHub hub({}, NoSessions());
  std::atomic<int> wakes_all{0}, wakes_l{0};
  auto all = *hub.Subscribe(AllLifecycle(), std::nullopt, [&] { ++wakes_all; });
  WatchFilter only_l = AllLifecycle();
  only_l.listener = "listeners/l";
  auto l = *hub.Subscribe(only_l, std::nullopt, [&] { ++wakes_l; });
  WatchFilter only_closed;
  only_closed.types = 1u << SessionEvent::SESSION_CLOSED;
  auto closed = *hub.Subscribe(only_closed, std::nullopt, [] {});
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

TEST(EventHub, SlowWatcherIsEndedAtOnceAndItsQueueReleased) {
  EventHub hub({.max_queued_events = 3}, NoSessions());
  auto sub = *hub.Subscribe(AllLifecycle(), std::nullopt, [] {});
  for (int i = 1; i <= 3; ++i) {
    hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/" + std::to_string(i)));
  }
  EXPECT_EQ(hub.counters().queued_events, 3u);
  EXPECT_GT(hub.counters().event_bytes, 0);
  EXPECT_FALSE(sub->Finished().has_value());
  // The fourth is one too many: the watch ends and nothing stays queued.
  hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/4"));
  EXPECT_FALSE(sub->Pop().has_value());
  ASSERT_TRUE(sub->Finished().has_value());
  EXPECT_EQ(sub->Finished()->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(sub->Finished()->message().find("fell 3 events"), absl::string_view::npos)
      << sub->Finished()->message();
  EXPECT_NE(sub->Finished()->message().find("watch again"), absl::string_view::npos);
  const EventHub::Counters c = hub.counters();
  EXPECT_EQ(c.ended_behind, 1u);
  EXPECT_EQ(c.queued_events, 0u);
  EXPECT_EQ(c.event_bytes, 0);
  // Later events are not queued for it.
  hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/5"));
  EXPECT_EQ(hub.counters().queued_events, 0u);
}

TEST(EventHub, QueueBytesAreBoundedToo) {
  SessionEvent big = Event(SessionEvent::SESSION_CLOSED, "sessions/1");
  big.set_reason(std::string(1000, 'x'));
  EventHub hub({.max_queued_bytes = 4000}, NoSessions());
  auto sub = *hub.Subscribe(AllLifecycle(), std::nullopt, [] {});
  int published = 0;
  while (!sub->Finished().has_value() && published < 100) {
    hub.Publish(big);
    ++published;
  }
  EXPECT_LE(published, 5);
  EXPECT_EQ(sub->Finished()->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(sub->Finished()->message().find("--max_watch_queue_bytes"), absl::string_view::npos);
}

TEST(EventHub, WatchersShareOneCopyOfEachEvent) {
  EventHub hub({}, NoSessions());
  std::vector<std::shared_ptr<EventHub::Subscription>> subs;
  for (int i = 0; i < 10; ++i) subs.push_back(*hub.Subscribe(AllLifecycle(), i, [] {}));
  hub.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/1"));
  const int64_t one_watcher = [] {
    EventHub alone({}, NoSessions());
    auto s = *alone.Subscribe(AllLifecycle(), std::nullopt, [] {});
    alone.Publish(Event(SessionEvent::SESSION_DIALED, "sessions/1"));
    return alone.counters().event_bytes;
  }();
  EXPECT_EQ(hub.counters().event_bytes, one_watcher);
  EXPECT_EQ(hub.counters().queued_events, 10u);
  EventPtr a = subs[0]->PopShared();
  EventPtr b = subs[1]->PopShared();
  EXPECT_EQ(a.get(), b.get());
  // The bytes stay accounted while anyone (a gRPC write) holds the event.
  for (auto& s : subs) s->PopShared();
  EXPECT_EQ(hub.counters().event_bytes, one_watcher);
  a.reset();
  b.reset();
  EXPECT_EQ(hub.counters().event_bytes, 0);
}

TEST(EventHub, WatchersAreCappedOverallAndPerUid) {
  EventHub hub({.max_watchers = 5, .max_watchers_per_uid = 2}, NoSessions());
  auto a1 = hub.Subscribe(AllLifecycle(), 1000, [] {});
  auto a2 = hub.Subscribe(AllLifecycle(), 1000, [] {});
  ASSERT_TRUE(a1.ok() && a2.ok());
  absl::StatusOr<std::shared_ptr<EventHub::Subscription>> a3 =
      hub.Subscribe(AllLifecycle(), 1000, [] {});
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(a3.status().message().find("uid 1000"), absl::string_view::npos);
  EXPECT_NE(a3.status().message().find("--max_watchers_per_uid"), absl::string_view::npos);
  ASSERT_TRUE(hub.Subscribe(AllLifecycle(), 1001, [] {}).ok());
  ASSERT_TRUE(hub.Subscribe(AllLifecycle(), 1002, [] {}).ok());
  ASSERT_TRUE(hub.Subscribe(AllLifecycle(), 1003, [] {}).ok());
  absl::StatusOr<std::shared_ptr<EventHub::Subscription>> over =
      hub.Subscribe(AllLifecycle(), 1004, [] {});
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("--max_watchers"), absl::string_view::npos);
  EXPECT_EQ(hub.counters().refused, 2u);
  EXPECT_EQ(hub.watchers(), 5u);
  // A watcher gone frees its place, for its uid too.
  hub.Unsubscribe(*a1);
  EXPECT_TRUE(hub.Subscribe(AllLifecycle(), 1000, [] {}).ok());
}

TEST(EventHub, CloseEndsEveryWatchAndLaterOnes) {
  EventHub hub({}, NoSessions());
  Latch woken;
  auto sub = *hub.Subscribe(AllLifecycle(), std::nullopt, [&] { woken.CountDown(); });
  hub.Close(absl::UnavailableError("kcpd is shutting down"));
  EXPECT_TRUE(woken.IsDone());
  ASSERT_TRUE(sub->Finished().has_value());
  EXPECT_EQ(sub->Finished()->code(), absl::StatusCode::kUnavailable);
  auto late = *hub.Subscribe(AllLifecycle(), std::nullopt, [] {});
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
  r.mutable_stats_interval()->set_seconds(1);
  r.set_listener("listeners/l");
  Latch woken;
  auto sub = *hub.Subscribe(*WatchFilterFromRequest(r), std::nullopt, [&] { woken.CountDown(); });
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
