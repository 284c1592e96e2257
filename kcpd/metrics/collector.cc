#include "kcpd/metrics/collector.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kcpp::kcpd::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<std::pair<std::string, std::string>>;

// The API's page size limit (kcpd.proto: 1..1000).
constexpr int kPageSize = 1000;

// One field of kcpp::v1::Counters, as a Prometheus counter. The same table
// makes the process-wide families (kcpd_<name>) and the per-session ones
// (kcpd_session_<name>).
struct CounterField {
  const char* name;
  const char* help;
  uint64_t (kcpp::v1::Counters::*get)() const;
};

using C = kcpp::v1::Counters;
const CounterField kCounterFields[] = {
    {"payload_sent_bytes_total", "Application payload bytes sent.", &C::bytes_sent},
    {"payload_received_bytes_total", "Application payload bytes received.", &C::bytes_received},
    {"datagrams_sent_total", "UDP datagrams sent.", &C::packets_sent},
    {"datagrams_received_total", "UDP datagrams received.", &C::packets_received},
    {"wire_sent_bytes_total", "UDP payload bytes sent, every kcpp header included.",
     &C::wire_bytes_sent},
    {"wire_received_bytes_total", "UDP payload bytes received, every kcpp header included.",
     &C::wire_bytes_received},
    {"segments_sent_total", "KCP segments sent.", &C::segments_sent},
    {"segments_received_total", "KCP segments received.", &C::segments_received},
    {"retransmitted_segments_total",
     "KCP segments sent again (lost + fast + early retransmissions).",
     &C::retransmitted_segments},
    {"fast_retransmitted_segments_total", "KCP fast retransmissions (out-of-order ACKs).",
     &C::fast_retransmitted_segments},
    {"early_retransmitted_segments_total", "KCP early retransmissions.",
     &C::early_retransmitted_segments},
    {"lost_segments_total", "KCP segments retransmitted after their RTO expired.",
     &C::lost_segments},
    {"late_acknowledged_segments_total",
     "KCP segments sent once that the peer acknowledged after a later one: lost and rebuilt "
     "by its FEC before any retransmission, or reordered.",
     &C::late_acknowledged_segments},
    {"repeat_segments_total", "Duplicate KCP data segments received.", &C::repeat_segments},
    {"fec_recovered_shards_total", "Data shards FEC recovered.", &C::fec_recovered},
    {"fec_errors_total", "FEC decode errors.", &C::fec_errors},
    {"fec_parity_shards_received_total", "FEC parity shards received.", &C::fec_parity_shards},
    {"checksum_errors_total", "Datagrams that failed the CRC-32 or AEAD check.",
     &C::checksum_errors},
    {"input_errors_total", "Datagrams rejected before KCP (malformed, wrong source).",
     &C::input_errors},
};

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void Add(MetricFamily* family, const Labels& labels, double value) {
  ClientMetric metric;
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, label_value});
  switch (family->type) {
    case MetricType::Counter:
      metric.counter.value = value;
      break;
    case MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
  family->metric.push_back(std::move(metric));
}

// One sample, no labels.
MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  Add(&family, {}, value);
  return family;
}

// "listeners/web" -> "web"; "sessions/12" -> "12".
std::string Id(absl::string_view name) {
  const size_t slash = name.rfind('/');
  return std::string(slash == absl::string_view::npos ? name : name.substr(slash + 1));
}

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) * 1e-9;
}

double Seconds(const google::protobuf::Timestamp& t) {
  return static_cast<double>(t.seconds()) + static_cast<double>(t.nanos()) * 1e-9;
}

void AddStats(const kcpp::v1::Stats& s, std::vector<MetricFamily>* out) {
  MetricFamily info = Family("kcpd_build_info", "kcpd's version and backend; always 1.",
                             MetricType::Gauge);
  Add(&info, {{"version", s.version()}, {"backend", s.backend()}}, 1);
  out->push_back(std::move(info));
  for (const CounterField& field : kCounterFields) {
    out->push_back(Single(absl::StrCat("kcpd_", field.name),
                          absl::StrCat(field.help, " Summed over every session, live and gone."),
                          MetricType::Counter, static_cast<double>((s.counters().*field.get)())));
  }
  struct Gauge {
    const char* name;
    const char* help;
    double value;
  };
  const Gauge gauges[] = {
      {"kcpd_active_sessions", "Sessions open now.", static_cast<double>(s.active_sessions())},
      {"kcpd_active_streams", "Streams open now.", static_cast<double>(s.active_streams())},
      {"kcpd_listeners", "Listeners now.", static_cast<double>(s.listeners())},
      {"kcpd_watchers", "WatchSessionEvents calls being served now.",
       static_cast<double>(s.watchers())},
      {"kcpd_event_loops", "Event-loop threads of the transport.",
       static_cast<double>(s.event_loops())},
      {"kcpd_uptime_seconds", "Time since kcpd started.", Seconds(s.uptime())},
      {"kcpd_pool_bytes",
       "Memory of the transport loops' pools (packet buffers, KCP blocks, FEC shards), in use "
       "or kept for reuse.",
       static_cast<double>(s.pool_bytes())},
      {"kcpd_attachments_pending", "Streams waiting for an application to attach now.",
       static_cast<double>(s.attachments_pending())},
      {"kcpd_watch_queued_events",
       "Events queued for watchers now, summed over the watchers.",
       static_cast<double>(s.watch_queued_events())},
      {"kcpd_watch_event_bytes", "Memory of the events kcpd holds for watchers now.",
       static_cast<double>(s.watch_event_bytes())},
  };
  for (const Gauge& g : gauges) out->push_back(Single(g.name, g.help, MetricType::Gauge, g.value));
  struct Counter {
    const char* name;
    const char* help;
    uint64_t value;
  };
  const Counter counters[] = {
      {"kcpd_sessions_dialed_total", "Sessions DialSession created.", s.sessions_dialed()},
      {"kcpd_sessions_accepted_total", "Sessions listeners accepted.", s.sessions_accepted()},
      {"kcpd_sessions_closed_total", "Sessions that ended.", s.sessions_closed()},
      {"kcpd_peers_dead_total", "Sessions that ended because the peer stopped answering.",
       s.peers_dead()},
      {"kcpd_attachments_total", "Data-socket attachments accepted.", s.attachments()},
      {"kcpd_attachments_refused_total",
       "Data-socket attachments refused (wrong, expired or reused token; uid not allowed).",
       s.attachments_refused()},
      {"kcpd_attachments_dropped_total",
       "Streams opened by peers and dropped unannounced: their listener had its share of the "
       "waiting slots.",
       s.attachments_dropped()},
      {"kcpd_control_connections_refused_total",
       "Control connections refused because of their uid.", s.control_connections_refused()},
      {"kcpd_watchers_refused_total", "WatchSessionEvents calls refused over the watcher caps.",
       s.watchers_refused()},
      {"kcpd_watchers_ended_behind_total", "Watches ended because they fell behind.",
       s.watchers_ended_behind()},
      {"kcpd_busy_polls_total", "Busy polls the transport loops made before sleeping.",
       s.busy_polls()},
      {"kcpd_busy_poll_hits_total", "Busy polls that caught the next datagram.",
       s.busy_poll_hits()},
      {"kcpd_pool_allocations_total", "Times the transport loops' pools went to the allocator.",
       s.pool_allocations()},
      {"kcpd_queue_chunk_allocations_total",
       "Times the session queues' chunk pool went to the allocator.",
       s.queue_chunk_allocations()},
      // OOB datagrams through kcpd (AttachOob), summed over every session.
      {"kcpd_oob_datagrams_sent_total", "OOB datagrams sent to peers.",
       s.oob().datagrams_sent()},
      {"kcpd_oob_datagrams_received_total", "OOB datagrams handed to applications.",
       s.oob().datagrams_received()},
      {"kcpd_oob_dropped_unattached_total",
       "OOB datagrams from peers dropped: no application attached.",
       s.oob().dropped_unattached()},
      {"kcpd_oob_dropped_reader_full_total",
       "OOB datagrams from peers dropped: the application's socket was full.",
       s.oob().dropped_reader_full()},
      {"kcpd_oob_dropped_too_large_total",
       "OOB datagrams from applications dropped: larger than the session's maximum.",
       s.oob().dropped_too_large()},
      {"kcpd_oob_dropped_refused_total",
       "OOB datagrams from applications the session refused to send (protocol.md 4.8).",
       s.oob().dropped_refused()},
  };
  for (const Counter& c : counters) {
    out->push_back(Single(c.name, c.help, MetricType::Counter, static_cast<double>(c.value)));
  }
}

void AddListeners(const std::vector<kcpp::v1::Listener>& listeners,
                  std::vector<MetricFamily>* out) {
  MetricFamily info = Family("kcpd_listener_info",
                             "A listener and the UDP address it bound; always 1.",
                             MetricType::Gauge);
  MetricFamily accepted = Family("kcpd_listener_sessions_accepted_total",
                                 "Sessions this listener accepted.", MetricType::Counter);
  MetricFamily active = Family("kcpd_listener_active_sessions",
                               "Sessions of this listener open now.", MetricType::Gauge);
  MetricFamily max = Family("kcpd_listener_max_sessions",
                            "The listener's limit on open sessions.", MetricType::Gauge);
  MetricFamily dropped = Family(
      "kcpd_listener_datagrams_dropped_total",
      "Datagrams dropped before reaching a session (wrong key or corruption, unknown "
      "conversation, over the listener's limits).",
      MetricType::Counter);
  MetricFamily pending = Family("kcpd_listener_attachments_pending",
                                "Streams of this listener's sessions waiting for an application "
                                "to attach now.",
                                MetricType::Gauge);
  MetricFamily attach_dropped = Family(
      "kcpd_listener_attachments_dropped_total",
      "Streams of this listener's sessions dropped unannounced: the listener had its share of "
      "the waiting slots.",
      MetricType::Counter);
  for (const kcpp::v1::Listener& l : listeners) {
    const Labels labels = {{"listener", Id(l.name())}};
    Add(&info, {{"listener", Id(l.name())}, {"address", l.bound_address()}}, 1);
    Add(&accepted, labels, static_cast<double>(l.sessions_accepted()));
    Add(&active, labels, l.active_sessions());
    Add(&max, labels, l.max_sessions());
    Add(&dropped, labels, static_cast<double>(l.datagrams_dropped()));
    Add(&pending, labels, l.attachments_pending());
    Add(&attach_dropped, labels, static_cast<double>(l.attachments_dropped()));
  }
  for (MetricFamily* f : {&info, &accepted, &active, &max, &dropped, &pending, &attach_dropped}) {
    out->push_back(std::move(*f));
  }
}

void AddSessions(const std::vector<kcpp::v1::Session>& sessions, size_t count,
                 std::vector<MetricFamily>* out) {
  constexpr char kWhich[] = " Only for the oldest --metrics_max_session_series live sessions.";
  MetricFamily info = Family(
      "kcpd_session_info",
      absl::StrCat("A session: its listener (empty if dialled), state and addresses; always 1.",
                   kWhich),
      MetricType::Gauge);
  MetricFamily rtt =
      Family("kcpd_session_smoothed_rtt_seconds",
             absl::StrCat("The session's smoothed round-trip time (0 before the first ACK).",
                          kWhich),
             MetricType::Gauge);
  MetricFamily rto = Family("kcpd_session_rto_seconds",
                            absl::StrCat("The session's current retransmission timeout.", kWhich),
                            MetricType::Gauge);
  MetricFamily streams = Family("kcpd_session_streams",
                                absl::StrCat("Streams of the session open now.", kWhich),
                                MetricType::Gauge);
  MetricFamily start = Family(
      "kcpd_session_start_time_seconds",
      absl::StrCat("When the session was created, in seconds since the Unix epoch.", kWhich),
      MetricType::Gauge);
  MetricFamily parity = Family(
      "kcpd_session_fec_parity_sending",
      absl::StrCat("FEC parity shards the session sends per group now: the configured count, "
                   "or with adaptive parity what the measured loss needs.",
                   kWhich),
      MetricType::Gauge);
  // No sample for a session without an estimate (no adaptive parity, or
  // its first window not closed yet): a made-up value would read as a loss.
  MetricFamily loss = Family(
      "kcpd_session_fec_loss_estimate_ratio",
      absl::StrCat("Adaptive parity's estimate of the path's loss: lost segments (retransmitted "
                   "or acknowledged late) per new segment sent. Only sessions with one.",
                   kWhich),
      MetricType::Gauge);
  std::vector<MetricFamily> counters;
  for (const CounterField& field : kCounterFields) {
    counters.push_back(Family(absl::StrCat("kcpd_session_", field.name),
                              absl::StrCat(field.help, kWhich), MetricType::Counter));
  }
  for (size_t i = 0; i < count && i < sessions.size(); ++i) {
    const kcpp::v1::Session& s = sessions[i];
    const Labels labels = {{"session", Id(s.name())}, {"listener", Id(s.listener())}};
    Add(&info,
        {{"session", Id(s.name())},
         {"listener", Id(s.listener())},
         {"state", kcpp::v1::Session::State_Name(s.state())},
         {"local_address", s.local_address()},
         {"remote_address", s.remote_address()}},
        1);
    Add(&rtt, labels, s.rtt_ms() / 1000.0);
    Add(&rto, labels, s.rto_ms() / 1000.0);
    Add(&streams, labels, s.stream_count());
    Add(&start, labels, Seconds(s.create_time()));
    Add(&parity, labels, s.fec_parity_sending());
    if (s.has_fec_loss_estimate()) Add(&loss, labels, s.fec_loss_estimate());
    for (size_t f = 0; f < counters.size(); ++f) {
      Add(&counters[f], labels, static_cast<double>((s.counters().*kCounterFields[f].get)()));
    }
  }
  for (MetricFamily* f : {&info, &rtt, &rto, &streams, &start, &parity, &loss}) {
    out->push_back(std::move(*f));
  }
  for (MetricFamily& f : counters) out->push_back(std::move(f));
}

}  // namespace

std::vector<double> RttBucketBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

KcpdCollector::KcpdCollector(StatsSource source, CollectorOptions options)
    : source_(std::move(source)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : [] { return absl::Now(); }),
      rtt_(RttBucketBounds()) {}

std::optional<std::vector<kcpp::v1::Session>> KcpdCollector::ListSessions(bool all) const {
  std::vector<kcpp::v1::Session> sessions;
  kcpp::v1::ListSessionsRequest request;
  request.set_view(kcpp::v1::SESSION_VIEW_BASIC);
  while (true) {
    const size_t want = all ? kPageSize
                            : std::min<size_t>(kPageSize, options_.max_session_series -
                                                              std::min(options_.max_session_series,
                                                                       sessions.size()));
    if (want == 0) break;
    request.set_page_size(static_cast<int>(want));
    kcpp::v1::ListSessionsResponse response;
    if (!source_.list_sessions(request, &response).ok()) {
      source_errors_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    for (kcpp::v1::Session& s : *response.mutable_sessions()) sessions.push_back(std::move(s));
    // (An unchanged token would loop forever; the API never returns one.)
    if (response.next_page_token().empty() ||
        response.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(response.next_page_token());
  }
  return sessions;
}

std::optional<std::vector<kcpp::v1::Listener>> KcpdCollector::ListListeners() const {
  std::vector<kcpp::v1::Listener> listeners;
  kcpp::v1::ListListenersRequest request;
  request.set_page_size(kPageSize);
  while (true) {
    kcpp::v1::ListListenersResponse response;
    if (!source_.list_listeners(request, &response).ok()) {
      source_errors_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    for (kcpp::v1::Listener& l : *response.mutable_listeners()) listeners.push_back(std::move(l));
    if (response.next_page_token().empty() ||
        response.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(response.next_page_token());
  }
  return listeners;
}

std::vector<MetricFamily> KcpdCollector::Collect() const {
  std::vector<MetricFamily> out;

  kcpp::v1::Stats stats;
  const bool have_stats = source_.get_stats(&stats).ok();
  if (have_stats) {
    AddStats(stats, &out);
  } else {
    source_errors_.fetch_add(1, std::memory_order_relaxed);
  }

  if (std::optional<std::vector<kcpp::v1::Listener>> listeners = ListListeners()) {
    AddListeners(*listeners, &out);
  }

  // The RTT sample needs every live session; between samples only the ones
  // that get per-session series are read.
  bool sample = false;
  {
    std::lock_guard<std::mutex> lock(sample_mu_);
    const absl::Time now = clock_();
    if (!last_rtt_sample_.has_value() || now - *last_rtt_sample_ >= options_.rtt_sample_interval) {
      sample = true;
      last_rtt_sample_ = now;
    }
  }
  if (std::optional<std::vector<kcpp::v1::Session>> sessions = ListSessions(sample)) {
    if (sample) {
      for (const kcpp::v1::Session& s : *sessions) {
        // 0: no ACK measured yet (KCP's smoothed RTT is at least 1 ms after
        // the first), e.g. a session a single forged datagram started.
        if (s.rtt_ms() > 0) rtt_.Observe(s.rtt_ms() / 1000.0);
      }
    }
    const size_t shown = std::min(options_.max_session_series, sessions->size());
    AddSessions(*sessions, shown, &out);
    std::optional<double> omitted;
    if (sample) {
      omitted = static_cast<double>(sessions->size() - shown);
    } else if (have_stats) {
      omitted = static_cast<double>(
          std::max<int64_t>(0, static_cast<int64_t>(stats.active_sessions()) -
                                   static_cast<int64_t>(shown)));
    }
    if (omitted.has_value()) {
      out.push_back(Single("kcpd_metrics_session_series_omitted",
                           "Live sessions without per-session series in this scrape (over "
                           "--metrics_max_session_series); they count in the kcpd_ totals.",
                           MetricType::Gauge, *omitted));
    }
  }

  MetricFamily rtt = Family(
      "kcpd_rtt_seconds",
      absl::StrCat("Smoothed round-trip times of the live sessions that measured one, each "
                   "observed at most once per ",
                   absl::FormatDuration(options_.rtt_sample_interval), ", when scraped."),
      MetricType::Histogram);
  rtt.metric.push_back(rtt_.Collect());
  out.push_back(std::move(rtt));

  out.push_back(Single("kcpd_metrics_source_errors_total",
                       "Reads of kcpd's state a scrape could not make (e.g. while kcpd shuts "
                       "down); that part was left out.",
                       MetricType::Counter,
                       static_cast<double>(source_errors_.load(std::memory_order_relaxed))));
  return out;
}

}  // namespace kcpp::kcpd::metrics
