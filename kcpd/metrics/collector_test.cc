#include "kcpd/metrics/collector.h"

#include <prometheus/metric_family.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kcpd/metrics/testing/fake_source.h"

namespace kcpp::kcpd::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string Label(const ClientMetric& m, const std::string& name) {
  for (const ClientMetric::Label& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

double Value(const MetricFamily& f, const ClientMetric& m) {
  switch (f.type) {
    case MetricType::Counter:
      return m.counter.value;
    case MetricType::Gauge:
      return m.gauge.value;
    default:
      return m.untyped.value;
  }
}

// The single unlabelled sample of `name`; fails the test if there is none.
double Scalar(const std::vector<MetricFamily>& families, const std::string& name) {
  const MetricFamily* f = Find(families, name);
  EXPECT_NE(f, nullptr) << name;
  if (f == nullptr || f->metric.size() != 1) {
    ADD_FAILURE() << name << " has no single sample";
    return -1;
  }
  return Value(*f, f->metric[0]);
}

// session label -> value of `name`.
std::map<std::string, double> BySession(const std::vector<MetricFamily>& families,
                                        const std::string& name) {
  std::map<std::string, double> out;
  const MetricFamily* f = Find(families, name);
  if (f == nullptr) return out;
  for (const ClientMetric& m : f->metric) out[Label(m, "session")] = Value(*f, m);
  return out;
}

class CollectorTest : public ::testing::Test {
 protected:
  CollectorTest() {
    fake_.SetStats(FakeSource::FullStats());
    fake_.SetListeners({FakeSource::MakeListener("web", "0.0.0.0:29900"),
                        FakeSource::MakeListener("api", "127.0.0.1:29901")});
  }

  KcpdCollector Make(size_t max_session_series) {
    CollectorOptions options;
    options.max_session_series = max_session_series;
    options.rtt_sample_interval = absl::Seconds(10);
    options.clock = [this] { return now_; };
    return KcpdCollector(fake_.source(), options);
  }

  FakeSource fake_;
  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST_F(CollectorTest, ProcessWideFamiliesMirrorGetStats) {
  const std::vector<MetricFamily> f = Make(100).Collect();
  // Counters.bytes_sent is field 1: FullStats sets field i to 1000 + i - 1.
  EXPECT_EQ(Scalar(f, "kcpd_payload_sent_bytes_total"), 1000);
  EXPECT_EQ(Scalar(f, "kcpd_late_acknowledged_segments_total"), 1012);
  EXPECT_EQ(Scalar(f, "kcpd_input_errors_total"), 1018);
  EXPECT_EQ(Find(f, "kcpd_payload_sent_bytes_total")->type, MetricType::Counter);
  EXPECT_EQ(Scalar(f, "kcpd_active_sessions"), 3);
  EXPECT_EQ(Find(f, "kcpd_active_sessions")->type, MetricType::Gauge);
  EXPECT_EQ(Scalar(f, "kcpd_uptime_seconds"), 12.5);
  EXPECT_EQ(Scalar(f, "kcpd_sessions_accepted_total"), 6);
  EXPECT_EQ(Scalar(f, "kcpd_attachments_dropped_total"), 27);
  EXPECT_EQ(Scalar(f, "kcpd_watch_event_bytes"), 25);
  const MetricFamily* info = Find(f, "kcpd_build_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 1u);
  EXPECT_EQ(Label(info->metric[0], "version"), "kcpd 0.1.0");
  EXPECT_EQ(Label(info->metric[0], "backend"), "transport");
}

// The values of every counter without labels (the process-wide ones).
std::set<double> ProcessWideCounterValues(const std::vector<MetricFamily>& families) {
  std::set<double> values;
  for (const MetricFamily& family : families) {
    if (family.type == MetricType::Counter && family.metric.size() == 1 &&
        family.metric[0].label.empty()) {
      values.insert(family.metric[0].counter.value);
    }
  }
  return values;
}

// A field added to kcpp::v1::Counters without a metric fails here.
TEST_F(CollectorTest, EveryCountersFieldHasAProcessWideCounter) {
  const std::vector<MetricFamily> f = Make(100).Collect();
  const std::set<double> values = ProcessWideCounterValues(f);
  const int fields = kcpp::v1::Counters::descriptor()->field_count();
  for (int i = 0; i < fields; ++i) {
    EXPECT_TRUE(values.count(1000 + i))
        << "no kcpd_ counter for Counters." << kcpp::v1::Counters::descriptor()->field(i)->name();
  }
}

// A field added to kcpp::v1::OobCounters without a metric fails here.
TEST_F(CollectorTest, EveryOobCountersFieldHasAProcessWideCounter) {
  const std::vector<MetricFamily> f = Make(100).Collect();
  const std::set<double> values = ProcessWideCounterValues(f);
  const int fields = kcpp::v1::OobCounters::descriptor()->field_count();
  for (int i = 0; i < fields; ++i) {
    EXPECT_TRUE(values.count(2000 + i))
        << "no kcpd_ counter for OobCounters." << kcpp::v1::OobCounters::descriptor()->field(i)->name();
  }
  EXPECT_EQ(Scalar(f, "kcpd_oob_dropped_refused_total"), 2005);
}

TEST_F(CollectorTest, ListenersAreLabelledByTheirId) {
  const std::vector<MetricFamily> f = Make(100).Collect();
  const MetricFamily* info = Find(f, "kcpd_listener_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 2u);
  EXPECT_EQ(Label(info->metric[0], "listener"), "web");
  EXPECT_EQ(Label(info->metric[0], "address"), "0.0.0.0:29900");
  EXPECT_EQ(Label(info->metric[1], "listener"), "api");
  const MetricFamily* dropped = Find(f, "kcpd_listener_datagrams_dropped_total");
  ASSERT_NE(dropped, nullptr);
  EXPECT_EQ(dropped->type, MetricType::Counter);
  ASSERT_EQ(dropped->metric.size(), 2u);
  EXPECT_EQ(dropped->metric[1].counter.value, 33);
  EXPECT_EQ(Label(dropped->metric[1], "listener"), "api");
}

TEST_F(CollectorTest, PerSessionSeriesOnlyForTheOldestN) {
  std::vector<kcpp::v1::Session> sessions;
  for (int id = 1; id <= 5; ++id) sessions.push_back(FakeSource::MakeSession(id, "web", 3));
  sessions[1].clear_listener();  // a dialled one
  fake_.SetSessions(sessions);
  const std::vector<MetricFamily> f = Make(2).Collect();

  const std::map<std::string, double> sent = BySession(f, "kcpd_session_payload_sent_bytes_total");
  EXPECT_EQ(sent, (std::map<std::string, double>{{"1", 100}, {"2", 200}}));
  EXPECT_EQ(BySession(f, "kcpd_session_smoothed_rtt_seconds"),
            (std::map<std::string, double>{{"1", 0.003}, {"2", 0.003}}));
  // Counters field 12 (late_acknowledged_segments): id x 100 + 12.
  EXPECT_EQ(BySession(f, "kcpd_session_late_acknowledged_segments_total"),
            (std::map<std::string, double>{{"1", 112}, {"2", 212}}));
  EXPECT_EQ(BySession(f, "kcpd_session_fec_parity_sending"),
            (std::map<std::string, double>{{"1", 2}, {"2", 2}}));
  EXPECT_EQ(BySession(f, "kcpd_session_fec_loss_estimate_ratio"),
            (std::map<std::string, double>{{"1", 0.001}, {"2", 0.002}}));
  const MetricFamily* info = Find(f, "kcpd_session_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 2u);
  EXPECT_EQ(Label(info->metric[0], "listener"), "web");
  EXPECT_EQ(Label(info->metric[1], "listener"), "");
  EXPECT_EQ(Label(info->metric[1], "remote_address"), "127.0.0.1:40002");
  EXPECT_EQ(Label(info->metric[1], "state"), "ACTIVE");
  EXPECT_EQ(Scalar(f, "kcpd_metrics_session_series_omitted"), 3);
  // Every per-session family has exactly the two sessions.
  for (const MetricFamily& family : f) {
    if (family.name.rfind("kcpd_session_", 0) == 0 && family.type != MetricType::Histogram) {
      EXPECT_EQ(family.metric.size(), 2u) << family.name;
    }
  }
}

// Without adaptive parity, or before its first window closed, a session
// has no loss estimate: no sample, rather than a value that reads as a loss
// (or as none).
TEST_F(CollectorTest, LossEstimateOnlyForSessionsWithOne) {
  std::vector<kcpp::v1::Session> sessions;
  for (int id = 1; id <= 3; ++id) sessions.push_back(FakeSource::MakeSession(id, "web", 3));
  sessions[1].clear_fec_loss_estimate();
  sessions[1].set_fec_parity_sending(3);
  sessions[2].set_fec_loss_estimate(0);  // measured: no loss
  fake_.SetSessions(sessions);
  const std::vector<MetricFamily> f = Make(100).Collect();
  const MetricFamily* loss = Find(f, "kcpd_session_fec_loss_estimate_ratio");
  ASSERT_NE(loss, nullptr);
  EXPECT_EQ(loss->type, MetricType::Gauge);
  EXPECT_EQ(BySession(f, "kcpd_session_fec_loss_estimate_ratio"),
            (std::map<std::string, double>{{"1", 0.001}, {"3", 0}}));
  EXPECT_EQ(BySession(f, "kcpd_session_fec_parity_sending"),
            (std::map<std::string, double>{{"1", 2}, {"2", 3}, {"3", 2}}));
}

TEST_F(CollectorTest, ZeroMaxSessionSeriesGivesNone) {
  fake_.SetSessions({FakeSource::MakeSession(1, "web", 3)});
  const std::vector<MetricFamily> f = Make(0).Collect();
  EXPECT_TRUE(BySession(f, "kcpd_session_payload_sent_bytes_total").empty());
  EXPECT_EQ(Scalar(f, "kcpd_metrics_session_series_omitted"), 1);
}

const ClientMetric::Histogram& Rtt(const std::vector<MetricFamily>& f) {
  static const ClientMetric::Histogram kNone;
  const MetricFamily* family = Find(f, "kcpd_rtt_seconds");
  EXPECT_NE(family, nullptr);
  if (family == nullptr || family->metric.size() != 1) return kNone;
  EXPECT_EQ(family->type, MetricType::Histogram);
  return family->metric[0].histogram;
}

TEST_F(CollectorTest, RttHistogramSamplesEverySessionOncePerInterval) {
  std::vector<kcpp::v1::Session> sessions;
  sessions.push_back(FakeSource::MakeSession(1, "web", 3));    // <= 0.005
  sessions.push_back(FakeSource::MakeSession(2, "web", 80));   // <= 0.1
  sessions.push_back(FakeSource::MakeSession(3, "web", 0));    // no RTT yet: not observed
  sessions.push_back(FakeSource::MakeSession(4, "", 2000));    // <= 2.5
  fake_.SetSessions(sessions);
  KcpdCollector collector = Make(1);

  std::vector<MetricFamily> f = collector.Collect();
  EXPECT_EQ(fake_.sessions_read(), 4u);  // all of them, for the sample
  ClientMetric::Histogram h = Rtt(f);
  EXPECT_EQ(h.sample_count, 3u);
  EXPECT_NEAR(h.sample_sum, 2.083, 1e-9);
  const std::vector<double> bounds = RttBucketBounds();
  ASSERT_EQ(h.bucket.size(), bounds.size() + 1);  // + Inf
  for (size_t i = 0; i < bounds.size(); ++i) {
    const uint64_t expected = (bounds[i] >= 0.003) + (bounds[i] >= 0.08) + (bounds[i] >= 2.0);
    EXPECT_EQ(h.bucket[i].cumulative_count, expected) << "le " << bounds[i];
  }

  // Within the interval: no new observations, and only the sessions that get
  // series are read.
  now_ += absl::Seconds(9);
  f = collector.Collect();
  EXPECT_EQ(fake_.sessions_read(), 5u);
  EXPECT_EQ(Rtt(f).sample_count, 3u);
  // Between samples the omitted count comes from GetStats (3 active, 1 shown).
  EXPECT_EQ(Scalar(f, "kcpd_metrics_session_series_omitted"), 2);

  now_ += absl::Seconds(1);
  f = collector.Collect();
  EXPECT_EQ(fake_.sessions_read(), 9u);
  EXPECT_EQ(Rtt(f).sample_count, 6u);
}

TEST_F(CollectorTest, ReadsEveryPageOfSessions) {
  std::vector<kcpp::v1::Session> sessions;
  for (int id = 1; id <= 2500; ++id) sessions.push_back(FakeSource::MakeSession(id, "web", 5));
  fake_.SetSessions(sessions);
  KcpdCollector collector = Make(1200);
  std::vector<MetricFamily> f = collector.Collect();
  EXPECT_EQ(Rtt(f).sample_count, 2500u);
  EXPECT_EQ(BySession(f, "kcpd_session_streams").size(), 1200u);
  EXPECT_EQ(Scalar(f, "kcpd_metrics_session_series_omitted"), 1300);
  // Between samples: 1200 in two pages (1000 + 200).
  now_ += absl::Seconds(1);
  f = collector.Collect();
  EXPECT_EQ(fake_.sessions_read(), 2500u + 1200u);
  const std::map<std::string, double> streams = BySession(f, "kcpd_session_streams");
  EXPECT_EQ(streams.size(), 1200u);
  EXPECT_EQ(streams.count("1200"), 1u);
  EXPECT_EQ(streams.count("1201"), 0u);
}

TEST_F(CollectorTest, SourceErrorsLeaveThatPartOutAndAreCounted) {
  fake_.SetSessions({FakeSource::MakeSession(1, "web", 3)});
  KcpdCollector collector = Make(100);
  fake_.SetFailing(true);
  std::vector<MetricFamily> f = collector.Collect();
  EXPECT_EQ(Find(f, "kcpd_active_sessions"), nullptr);
  EXPECT_EQ(Find(f, "kcpd_listener_info"), nullptr);
  EXPECT_EQ(Find(f, "kcpd_session_info"), nullptr);
  EXPECT_EQ(Scalar(f, "kcpd_metrics_source_errors_total"), 3);  // stats, listeners, sessions
  EXPECT_EQ(Rtt(f).sample_count, 0u);

  fake_.SetFailing(false);
  now_ += absl::Seconds(10);
  f = collector.Collect();
  EXPECT_EQ(Scalar(f, "kcpd_active_sessions"), 3);
  EXPECT_EQ(Scalar(f, "kcpd_metrics_source_errors_total"), 3);
  EXPECT_EQ(BySession(f, "kcpd_session_streams").size(), 1u);
}

// Prometheus' conventions (promtool checks them on real output in
// endpoint_test): counters end in _total, nothing else does.
TEST_F(CollectorTest, OnlyCountersEndInTotal) {
  fake_.SetSessions({FakeSource::MakeSession(1, "web", 3)});
  const std::vector<MetricFamily> f = Make(100).Collect();
  for (const MetricFamily& family : f) {
    const bool total = family.name.size() > 6 &&
                       family.name.compare(family.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, family.type == MetricType::Counter) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    EXPECT_EQ(family.name.rfind("kcpd_", 0), 0u) << family.name;
  }
}

}  // namespace
}  // namespace kcpp::kcpd::metrics
