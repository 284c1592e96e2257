#include "kcpd/metrics/testing/fake_source.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kcpp::kcpd::metrics {
namespace {

// Pages [token, token + page_size) of `items` into `out`.
template <typename T, typename Out>
absl::Status Page(const std::vector<T>& items, int page_size, const std::string& token, Out* out,
                  std::string* next_token) {
  size_t start = 0;
  if (!token.empty() && !absl::SimpleAtoi(token, &start)) {
    return absl::InvalidArgumentError("bad page_token");
  }
  const size_t size = page_size <= 0 ? 100 : static_cast<size_t>(page_size);
  if (size > 1000) return absl::InvalidArgumentError("page_size over 1000");
  const size_t end = std::min(items.size(), start + size);
  for (size_t i = start; i < end; ++i) *out->Add() = items[i];
  next_token->clear();
  if (end < items.size()) *next_token = absl::StrCat(end);
  return absl::OkStatus();
}

// Sets field i of a message of uint64 fields to base + i.
void FillCounters(google::protobuf::Message* c, uint64_t base) {
  const google::protobuf::Descriptor* d = c->GetDescriptor();
  const google::protobuf::Reflection* r = c->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) r->SetUInt64(c, d->field(i), base + i);
}

}  // namespace

kcpp::v1::Stats FakeSource::FullStats() {
  kcpp::v1::Stats s;
  FillCounters(s.mutable_counters(), 1000);
  FillCounters(s.mutable_oob(), 2000);
  s.set_active_sessions(3);
  s.set_active_streams(4);
  s.set_listeners(2);
  s.set_sessions_dialed(5);
  s.set_sessions_accepted(6);
  s.set_sessions_closed(7);
  s.set_peers_dead(8);
  s.set_attachments(9);
  s.set_attachments_refused(10);
  s.set_control_connections_refused(11);
  s.set_watchers(12);
  s.set_event_loops(2);
  s.mutable_uptime()->set_seconds(12);
  s.mutable_uptime()->set_nanos(500000000);
  s.set_version("kcpd 0.1.0");
  s.set_backend("transport");
  s.set_busy_polls(17);
  s.set_busy_poll_hits(18);
  s.set_pool_bytes(19);
  s.set_pool_allocations(20);
  s.set_queue_chunk_allocations(21);
  s.set_watchers_refused(22);
  s.set_watchers_ended_behind(23);
  s.set_watch_queued_events(24);
  s.set_watch_event_bytes(25);
  s.set_attachments_pending(26);
  s.set_attachments_dropped(27);
  return s;
}

kcpp::v1::Listener FakeSource::MakeListener(const std::string& id, const std::string& address) {
  kcpp::v1::Listener l;
  l.set_name(absl::StrCat("listeners/", id));
  l.set_address(address);
  l.set_bound_address(address);
  l.set_max_sessions(16384);
  l.set_sessions_accepted(31);
  l.set_active_sessions(2);
  l.set_datagrams_dropped(33);
  l.set_attachments_pending(1);
  l.set_attachments_dropped(35);
  return l;
}

kcpp::v1::Session FakeSource::MakeSession(int id, const std::string& listener, uint32_t rtt_ms) {
  kcpp::v1::Session s;
  s.set_name(absl::StrCat("sessions/", id));
  if (!listener.empty()) s.set_listener(absl::StrCat("listeners/", listener));
  s.set_local_address("127.0.0.1:29900");
  s.set_remote_address(absl::StrCat("127.0.0.1:", 40000 + id));
  s.set_conv(static_cast<uint32_t>(id));
  s.set_state(kcpp::v1::Session::ACTIVE);
  FillCounters(s.mutable_counters(), static_cast<uint64_t>(id) * 100);
  s.set_rtt_ms(rtt_ms);
  s.set_rto_ms(200);
  s.mutable_create_time()->set_seconds(1700000000 + id);
  s.set_stream_count(1);
  s.set_fec_parity_sending(2);
  s.set_fec_loss_estimate(id / 1000.0);
  return s;
}

void FakeSource::SetStats(const kcpp::v1::Stats& stats) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = stats;
}

void FakeSource::SetListeners(std::vector<kcpp::v1::Listener> listeners) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_ = std::move(listeners);
}

void FakeSource::SetSessions(std::vector<kcpp::v1::Session> sessions) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_ = std::move(sessions);
}

StatsSource FakeSource::source() {
  StatsSource s;
  s.get_stats = [this](kcpp::v1::Stats* out) {
    if (failing_) return absl::UnavailableError("kcpd is shutting down");
    std::lock_guard<std::mutex> lock(mu_);
    *out = stats_;
    return absl::OkStatus();
  };
  s.list_listeners = [this](const kcpp::v1::ListListenersRequest& request,
                            kcpp::v1::ListListenersResponse* response) {
    if (failing_) return absl::UnavailableError("kcpd is shutting down");
    std::lock_guard<std::mutex> lock(mu_);
    return Page(listeners_, request.page_size(), request.page_token(),
                response->mutable_listeners(), response->mutable_next_page_token());
  };
  s.list_sessions = [this](const kcpp::v1::ListSessionsRequest& request,
                           kcpp::v1::ListSessionsResponse* response) {
    if (failing_) return absl::UnavailableError("kcpd is shutting down");
    std::lock_guard<std::mutex> lock(mu_);
    absl::Status status = Page(sessions_, request.page_size(), request.page_token(),
                               response->mutable_sessions(), response->mutable_next_page_token());
    sessions_read_ += static_cast<size_t>(response->sessions_size());
    return status;
  };
  return s;
}

}  // namespace kcpp::kcpd::metrics
