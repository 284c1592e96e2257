// The sidecar's cost: app -> kcpd -> kcpd -> app versus the in-process
// library on the same path, in one run (bench/README.md "sidecar").
//
//   sidecar   two real kcpd processes (transport backend, --loops=1) on
//             loopback; the benchmark is both applications, on the data
//             sockets; smux v2 framing with kcpd's defaults
//   sidecar_io_threads_1  the same with --io_threads=1 (smux and the pumps
//             on a thread of kcpd's own, not the session's loop)
//   inprocess two transport::Engine (loops=1 each) in this process, a
//             transport::Session each side, raw KCP stream mode
// Both use the same kcpp.v1.SessionOptions (aes, fast3, windows 1024, no
// FEC: loopback loses nothing), turned into transport options by kcpd's own
// SessionConfigFromProto.
//
//   Throughput  32 MiB one way per iteration, timed until the far
//               application has read the last byte (bytes_per_second)
//   RoundTrip   1 KiB from one application, echoed by the other; p50/p99
//               (microseconds) over the iterations as counters
//
//   bazel run --config=opt //kcpd:sidecar_benchmark
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/unix_socket.h"
#include "benchmark/benchmark.h"
#include "grpcpp/grpcpp.h"
#include "kcpd/internal/attach_protocol.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "transport/engine.h"

namespace kcpp::service {
namespace {

constexpr size_t kBulk = 32 << 20;
constexpr size_t kPing = 1024;

kcpp::v1::SessionOptions Options(kcpp::v1::Framing framing) {
  kcpp::v1::SessionOptions o;
  o.set_crypt("aes");
  o.set_key("sidecar benchmark");
  o.set_mode(kcpp::v1::MODE_FAST3);
  o.set_send_window(1024);
  o.set_receive_window(1024);
  o.set_framing(framing);
  o.set_stream_mode(true);
  return o;
}

// A byte pipe between two applications: `a` writes/reads one end, `b` the
// other. Send/Recv move exactly n bytes.
class Path {
 public:
  virtual ~Path() = default;
  virtual void Send(bool from_a, const char* data, size_t n) = 0;
  virtual void Recv(bool at_a, char* data, size_t n) = 0;
};

// ---- Through two kcpd --------------------------------------------------------

UniqueFd Attach(const kcpp::v1::Stream& stream) {
  absl::StatusOr<UniqueFd> fd =
      ConnectUnix(stream.attachment().socket_path(), SOCK_STREAM);
  if (!fd.ok()) std::abort();
  const std::string request = internal::FormatAttachRequest(stream.attachment().token());
  (void)!::send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  internal::AttachResponseParse parse;
  while (parse.status == internal::AttachResponseParse::Status::kNeedMore) {
    char c;
    if (::read(fd->get(), &c, 1) != 1) break;
    answer.push_back(c);
    parse = internal::ParseAttachResponse(answer);
  }
  if (parse.status != internal::AttachResponseParse::Status::kOk) std::abort();
  return *std::move(fd);
}

// kIoThreads: kcpd's --io_threads (0, the default: the data plane runs on
// the transport loop of its session).
template <int kIoThreads>
class SidecarPath final : public Path {
 public:
  SidecarPath() {
    a_ = Start(dir_a_);
    b_ = Start(dir_b_);
    auto stub_a = Stub(dir_a_), stub_b = Stub(dir_b_);
    // Watch B before dialling: its STREAM_ACCEPTED carries the token.
    grpc::ClientContext watch_context;
    kcpp::v1::WatchSessionEventsRequest watch;
    watch.add_types(kcpp::v1::SessionEvent::STREAM_ACCEPTED);
    auto events = stub_b->WatchSessionEvents(&watch_context, watch);
    events->WaitForInitialMetadata();
    kcpp::v1::CreateListenerRequest l;
    l.set_listener_id("bench");
    l.mutable_listener()->set_address("127.0.0.1:0");
    *l.mutable_listener()->mutable_session_options() = Options(kcpp::v1::FRAMING_SMUX);
    kcpp::v1::Listener listener;
    {
      grpc::ClientContext c;
      if (!stub_b->CreateListener(&c, l, &listener).ok()) std::abort();
    }
    kcpp::v1::DialSessionRequest d;
    d.set_remote_address(listener.bound_address());
    *d.mutable_options() = Options(kcpp::v1::FRAMING_SMUX);
    kcpp::v1::DialSessionResponse dialled;
    {
      grpc::ClientContext c;
      if (!stub_a->DialSession(&c, d, &dialled).ok()) std::abort();
    }
    fd_a_ = Attach(dialled.stream());
    kcpp::v1::SessionEvent e;
    if (!events->Read(&e)) std::abort();
    watch_context.TryCancel();
    fd_b_ = Attach(e.stream());
  }

  void Send(bool from_a, const char* data, size_t n) override {
    const int fd = from_a ? fd_a_.get() : fd_b_.get();
    for (size_t done = 0; done < n;) {
      const ssize_t w = ::send(fd, data + done, n - done, MSG_NOSIGNAL);
      if (w <= 0) std::abort();
      done += static_cast<size_t>(w);
    }
  }
  void Recv(bool at_a, char* data, size_t n) override {
    const int fd = at_a ? fd_a_.get() : fd_b_.get();
    for (size_t done = 0; done < n;) {
      const ssize_t r = ::recv(fd, data + done, n - done, 0);
      if (r <= 0) std::abort();
      done += static_cast<size_t>(r);
    }
  }

 private:
  static std::unique_ptr<testing::Process> Start(const testing::ShortTempDir& dir) {
    testing::Process::Options o;
    o.argv = {"kcpd/kcpd", "--control_socket=" + dir.path() + "/control.sock",
              "--loops=1",    absl::StrCat("--io_threads=", kIoThreads),
              "--ready_fd=3", "--v=-1"};
    o.ready_fd = 3;
    auto p = testing::Process::Start(o);
    if (p->WaitReady() != "ready") std::abort();
    return p;
  }
  static std::unique_ptr<kcpp::v1::Kcpd::Stub> Stub(const testing::ShortTempDir& dir) {
    return kcpp::v1::Kcpd::NewStub(grpc::CreateChannel("unix:" + dir.path() + "/control.sock",
                                                       grpc::InsecureChannelCredentials()));
  }
  testing::ShortTempDir dir_a_, dir_b_;
  std::unique_ptr<testing::Process> a_, b_;
  UniqueFd fd_a_, fd_b_;
};

// ---- In process ------------------------------------------------------------------

class InProcessPath final : public Path {
 public:
  InProcessPath() {
    const SessionConfig config =
        *internal::SessionConfigFromProto(Options(kcpp::v1::FRAMING_RAW), "options");
    transport::EngineOptions eo;
    eo.loops = 1;
    engine_a_ = *transport::Engine::Create(eo);
    engine_b_ = *transport::Engine::Create(eo);
    transport::ListenerOptions lo;
    lo.session = config.transport;
    listener_ = *engine_b_->Listen("127.0.0.1:0", lo);
    a_ = *engine_a_->Dial(listener_->local_address().ToString(), config.transport);
    // The listener sees the session with its first datagram.
    const char hello = 'h';
    Send(true, &hello, 1);
    b_ = *listener_->Accept();
    char got;
    Recv(false, &got, 1);
  }
  ~InProcessPath() override {
    a_.reset();
    b_.reset();
    listener_.reset();
  }
  void Send(bool from_a, const char* data, size_t n) override {
    transport::Session& s = from_a ? *a_ : *b_;
    for (size_t done = 0; done < n;) {
      absl::StatusOr<size_t> w =
          s.Write(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data) + done, n - done));
      if (!w.ok()) std::abort();
      done += *w;
    }
  }
  void Recv(bool at_a, char* data, size_t n) override {
    transport::Session& s = at_a ? *a_ : *b_;
    for (size_t done = 0; done < n;) {
      absl::StatusOr<size_t> r =
          s.Read(absl::MakeSpan(reinterpret_cast<uint8_t*>(data) + done, n - done));
      if (!r.ok()) std::abort();
      done += *r;
    }
  }

 private:
  std::unique_ptr<transport::Engine> engine_a_, engine_b_;
  std::unique_ptr<transport::Listener> listener_;
  std::unique_ptr<transport::Session> a_, b_;
};

// One path per kind for the whole run, destroyed at exit: the kcpd
// processes are killed then (a path that was never destroyed left its two
// kcpd running after the benchmark).
template <typename P>
Path& Shared() {
  static const std::unique_ptr<P> path = std::make_unique<P>();
  return *path;
}

template <typename P>
void BM_Throughput(benchmark::State& state) {
  Path& path = Shared<P>();
  std::string out(kBulk, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 7 + (i >> 8));
  std::string in(kBulk, '\0');
  for (auto _ : state) {
    std::thread writer([&] { path.Send(true, out.data(), out.size()); });
    path.Recv(false, in.data(), in.size());
    writer.join();
  }
  if (in != out) state.SkipWithError("the bytes differ");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBulk));
}

template <typename P>
void BM_RoundTrip(benchmark::State& state) {
  Path& path = Shared<P>();
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<size_t>(state.max_iterations));
  std::string ping(kPing, 'p'), pong(kPing, '\0'), echo(kPing, '\0');
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    path.Send(true, ping.data(), ping.size());
    path.Recv(false, echo.data(), echo.size());
    path.Send(false, echo.data(), echo.size());
    path.Recv(true, pong.data(), pong.size());
    rtt_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::sort(rtt_us.begin(), rtt_us.end());
  state.counters["p50_us"] = rtt_us[rtt_us.size() / 2];
  state.counters["p99_us"] = rtt_us[rtt_us.size() * 99 / 100];
}

BENCHMARK_TEMPLATE(BM_Throughput, InProcessPath)
    ->Name("Throughput/inprocess")
    ->UseRealTime()
    ->Iterations(8);
BENCHMARK_TEMPLATE(BM_Throughput, SidecarPath<0>)
    ->Name("Throughput/sidecar")
    ->UseRealTime()
    ->Iterations(8);
BENCHMARK_TEMPLATE(BM_Throughput, SidecarPath<1>)
    ->Name("Throughput/sidecar_io_threads_1")
    ->UseRealTime()
    ->Iterations(8);
BENCHMARK_TEMPLATE(BM_RoundTrip, InProcessPath)
    ->Name("RoundTrip/inprocess")
    ->UseRealTime()
    ->Iterations(2000);
BENCHMARK_TEMPLATE(BM_RoundTrip, SidecarPath<0>)
    ->Name("RoundTrip/sidecar")
    ->UseRealTime()
    ->Iterations(2000);
BENCHMARK_TEMPLATE(BM_RoundTrip, SidecarPath<1>)
    ->Name("RoundTrip/sidecar_io_threads_1")
    ->UseRealTime()
    ->Iterations(2000);

}  // namespace
}  // namespace kcpp::service
