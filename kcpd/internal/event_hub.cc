#include "kcpd/internal/event_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kcpd/internal/proto_time.h"
#include "kcpd/internal/resource_names.h"

namespace kcpp::service::internal {

using kcpp::v1::SessionEvent;

bool WatchFilter::Matches(const kcpp::v1::Session& s) const {
  if (!listener.empty() && s.listener() != listener) return false;
  if (!session.empty() && s.name() != session) return false;
  return true;
}

absl::StatusOr<WatchFilter> WatchFilterFromRequest(
    const kcpp::v1::WatchSessionEventsRequest& request) {
  WatchFilter f;
  if (!request.listener().empty()) {
    KCPP_RETURN_IF_ERROR(ParseListenerName(request.listener(), "listener").status());
    f.listener = request.listener();
  }
  if (!request.session().empty()) {
    KCPP_RETURN_IF_ERROR(ParseSessionName(request.session(), "session").status());
    f.session = request.session();
  }
  if (request.has_stats_interval()) {
    KCPP_ASSIGN_OR_RETURN(f.stats_interval,
                          DurationFromProto(request.stats_interval(), "stats_interval"));
    if (f.stats_interval != absl::ZeroDuration() &&
        (f.stats_interval < absl::Milliseconds(100) || f.stats_interval > absl::Hours(1))) {
      return absl::InvalidArgumentError(
          absl::StrCat("stats_interval must be 100ms..1h (or unset for no STATS events), got ",
                       absl::FormatDuration(f.stats_interval)));
    }
  }
  for (int type : request.types()) {
    if (!SessionEvent::Type_IsValid(type) || type == SessionEvent::TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("types has an unknown event type ", type));
    }
    f.types |= 1u << type;
    // SESSION_CLOSED_BY_PEER refines SESSION_CLOSED: a client written
    // before it asks for SESSION_CLOSED and must still see every end.
    if (type == SessionEvent::SESSION_CLOSED) f.types |= 1u << SessionEvent::SESSION_CLOSED_BY_PEER;
  }
  if (f.types == 0) {
    for (int type = SessionEvent::Type_MIN; type <= SessionEvent::Type_MAX; ++type) {
      if (type != SessionEvent::TYPE_UNSPECIFIED && type != SessionEvent::STATS) {
        f.types |= 1u << type;
      }
    }
    if (f.stats_interval > absl::ZeroDuration()) f.types |= 1u << SessionEvent::STATS;
  }
  if (f.Wants(SessionEvent::STATS) && f.stats_interval == absl::ZeroDuration()) {
    return absl::InvalidArgumentError("types lists STATS: set stats_interval too");
  }
  if (!f.Wants(SessionEvent::STATS)) f.stats_interval = absl::ZeroDuration();
  return f;
}

namespace {

// Unknown uids (in-process channels) share this count.
constexpr uint64_t kUnknownUid = uint64_t{1} << 32;

// One heap copy of `event`, immutable and shared; its memory is accounted
// while it lives (its deleter may run after the hub is gone).
EventPtr Share(SessionEvent event, const std::shared_ptr<EventHub::Accounting>& accounting,
               size_t* bytes) {
  auto* e = new SessionEvent(std::move(event));
  const size_t size = e->SpaceUsedLong();
  accounting->bytes += static_cast<int64_t>(size);
  *bytes = size;
  return EventPtr(e, [accounting, size](const SessionEvent* p) {
    accounting->bytes -= static_cast<int64_t>(size);
    delete p;
  });
}

}  // namespace

EventHub::Subscription::~Subscription() {
  std::lock_guard<std::mutex> lock(mu_);
  accounting_->queued_events -= static_cast<int64_t>(events_.size());
  ClearSamplesLocked();
}

std::optional<SessionEvent> EventHub::Subscription::Pop() {
  EventPtr e = PopShared();
  if (e == nullptr) return std::nullopt;
  return *e;
}

EventPtr EventHub::Subscription::PopShared() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!events_.empty()) {
    EventPtr e = std::move(events_.front().event);
    queued_bytes_ -= events_.front().bytes;
    events_.pop_front();
    --accounting_->queued_events;
    return e;
  }
  if (!samples_.empty() && !end_.has_value()) {
    const int64_t bytes = static_cast<int64_t>(samples_.front().SpaceUsedLong());
    SessionEvent e;
    e.set_type(SessionEvent::STATS);
    *e.mutable_session() = std::move(samples_.front());
    TimeToProto(sample_time_, e.mutable_time());
    samples_.pop_front();
    sample_bytes_ -= bytes;
    accounting_->bytes -= bytes;
    sample_touched_ = true;
    size_t unused;
    return Share(std::move(e), accounting_, &unused);
  }
  return nullptr;
}

std::optional<absl::Status> EventHub::Subscription::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!events_.empty()) return std::nullopt;
  return end_;
}

void EventHub::Subscription::ClearSamplesLocked() {
  accounting_->bytes -= sample_bytes_;
  sample_bytes_ = 0;
  samples_.clear();
}

void EventHub::Subscription::EndLocked(absl::Status why) {
  end_ = std::move(why);
  // Nothing queued is worth keeping for a watcher that must re-list anyway:
  // a watcher that never reads holds nothing from here on.
  accounting_->queued_events -= static_cast<int64_t>(events_.size());
  events_.clear();
  queued_bytes_ = 0;
  ClearSamplesLocked();
}

bool EventHub::Subscription::Push(const EventPtr& event, size_t bytes, bool* fell_behind) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_.has_value()) return false;
  if (events_.size() >= options_.max_queued_events ||
      (!events_.empty() && queued_bytes_ + bytes > options_.max_queued_bytes)) {
    EndLocked(absl::ResourceExhaustedError(absl::StrCat(
        "this watch fell ", events_.size(), " events (", queued_bytes_,
        " bytes) behind and was ended (kcpd --max_watch_queue=", options_.max_queued_events,
        ", --max_watch_queue_bytes=", options_.max_queued_bytes,
        "); WatchSessionEvents has no resume point: list sessions again, then watch again, "
        "and read as events come")));
    *fell_behind = true;
    return true;
  }
  events_.push_back({event, bytes});
  queued_bytes_ += bytes;
  ++accounting_->queued_events;
  return true;
}

bool EventHub::Subscription::SetSamples(std::vector<kcpp::v1::Session> sessions, absl::Time time,
                                        bool* fell_behind) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_.has_value()) return false;
  // Not one session of the last two samples read, each in a whole
  // stats_interval: the watcher is not reading.
  untouched_samples_ = !sample_touched_ && !samples_.empty() ? untouched_samples_ + 1 : 0;
  if (untouched_samples_ >= 2) {
    EndLocked(absl::ResourceExhaustedError(absl::StrCat(
        "this watch read none of two STATS samples, each within its stats_interval (",
        absl::FormatDuration(filter_.stats_interval),
        ") and was ended; watch again with a longer stats_interval, and read as events come")));
    *fell_behind = true;
    return true;
  }
  ClearSamplesLocked();
  int64_t bytes = 0;
  for (const kcpp::v1::Session& s : sessions) bytes += static_cast<int64_t>(s.SpaceUsedLong());
  samples_.assign(std::make_move_iterator(sessions.begin()),
                  std::make_move_iterator(sessions.end()));
  sample_bytes_ = bytes;
  accounting_->bytes += bytes;
  sample_time_ = time;
  sample_touched_ = samples_.empty();
  return !samples_.empty();
}

bool EventHub::Subscription::End(absl::Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_.has_value()) return false;
  // What was queued is still delivered before the end (kcpd shutting down:
  // bounded by the queue limits).
  end_ = std::move(why);
  ClearSamplesLocked();
  return true;
}

EventHub::EventHub(Options options, StatsSource stats_source)
    : options_(options), stats_source_(std::move(stats_source)) {
  sampler_ = std::thread([this] { SampleLoop(); });
}

EventHub::~EventHub() {
  Close(absl::UnavailableError("kcpd is shutting down"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    ++generation_;
  }
  changed_.notify_all();
  sampler_.join();
}

absl::StatusOr<std::shared_ptr<EventHub::Subscription>> EventHub::Subscribe(
    WatchFilter filter, std::optional<uint32_t> uid, std::function<void()> wake) {
  const absl::Duration interval = filter.stats_interval;
  const uint64_t uid_key = uid.has_value() ? *uid : kUnknownUid;
  std::shared_ptr<Subscription> sub(
      new Subscription(std::move(filter), std::move(wake), uid_key, options_, accounting_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_.has_value()) {
      sub->End(*closed_);  // the caller sees Finished() right away
      return sub;
    }
    if (subscriptions_.size() >= options_.max_watchers) {
      ++refused_;
      return absl::ResourceExhaustedError(absl::StrCat(
          "kcpd already serves ", subscriptions_.size(),
          " watches, its limit (kcpd --max_watchers); end one, or start kcpd with a higher "
          "--max_watchers"));
    }
    size_t& mine = per_uid_[uid_key];
    if (mine >= options_.max_watchers_per_uid) {
      ++refused_;
      return absl::ResourceExhaustedError(absl::StrCat(
          uid.has_value() ? absl::StrCat("uid ", *uid) : std::string("this caller"),
          " already has ", mine,
          " watches, the limit per uid (kcpd --max_watchers_per_uid); end one (each "
          "WatchSessionEvents call is one), or start kcpd with a higher --max_watchers_per_uid"));
    }
    ++mine;
    subscriptions_.push_back(sub);
    if (interval <= absl::ZeroDuration()) return sub;
    sub->next_sample_ = absl::Now() + interval;
    ++generation_;  // the sampler may have to wake earlier
  }
  changed_.notify_all();
  return sub;
}

void EventHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find(subscriptions_.begin(), subscriptions_.end(), subscription);
  if (it == subscriptions_.end()) return;
  subscriptions_.erase(it);
  auto n = per_uid_.find(subscription->uid_key_);
  if (n != per_uid_.end() && --n->second == 0) per_uid_.erase(n);
}

void EventHub::Publish(const SessionEvent& event) {
  std::vector<std::shared_ptr<Subscription>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EventPtr shared;  // made for the first watcher that wants it
    size_t bytes = 0;
    for (const auto& sub : subscriptions_) {
      if (!sub->filter_.Wants(event.type()) || !sub->filter_.Matches(event.session())) continue;
      if (shared == nullptr) shared = Share(event, accounting_, &bytes);
      bool fell_behind = false;
      if (sub->Push(shared, bytes, &fell_behind)) wake.push_back(sub);
      if (fell_behind) ++ended_behind_;
    }
  }
  for (const auto& sub : wake) sub->wake_();
}

void EventHub::Close(absl::Status why) {
  std::vector<std::shared_ptr<Subscription>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_.has_value()) closed_ = why;
    for (const auto& sub : subscriptions_) {
      if (sub->End(why)) wake.push_back(sub);
    }
  }
  for (const auto& sub : wake) sub->wake_();
}

size_t EventHub::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscriptions_.size();
}

EventHub::Counters EventHub::counters() const {
  Counters c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c.watchers = subscriptions_.size();
    c.refused = refused_;
  }
  c.ended_behind = ended_behind_.load();
  c.queued_events = static_cast<uint64_t>(std::max<int64_t>(accounting_->queued_events.load(), 0));
  c.event_bytes = accounting_->bytes.load();
  return c;
}

void EventHub::SampleLoop() {
  while (true) {
    std::vector<std::shared_ptr<Subscription>> due;
    {
      std::unique_lock<std::mutex> lock(mu_);
      absl::Time next = absl::InfiniteFuture();
      for (const auto& sub : subscriptions_) next = std::min(next, sub->next_sample_);
      // Wakes early when stopping or when a watcher with an earlier sample
      // time subscribes (Subscribe changes subscriptions_).
      const uint64_t generation = generation_;
      const auto changed = [this, generation]() { return stop_ || generation_ != generation; };
      if (next == absl::InfiniteFuture()) {
        changed_.wait(lock, changed);
      } else {
        changed_.wait_for(lock, absl::ToChronoNanoseconds(next - absl::Now()), changed);
      }
      if (stop_) return;
      const absl::Time now = absl::Now();
      for (const auto& sub : subscriptions_) {
        if (sub->next_sample_ <= now) {
          sub->next_sample_ = now + sub->filter_.stats_interval;
          due.push_back(sub);
        }
      }
    }
    for (const auto& sub : due) {
      const absl::Time now = absl::Now();
      bool fell_behind = false;
      if (sub->SetSamples(stats_source_(sub->filter_), now, &fell_behind)) sub->wake_();
      if (fell_behind) ++ended_behind_;
    }
  }
}

}  // namespace kcpp::service::internal
