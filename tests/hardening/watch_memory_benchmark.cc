// What stalled watchers cost kcpd (bench/README.md "hardening II"): starts
// kcpd (fake backend) with room for N watchers of this uid, opens N
// WatchSessionEvents calls that never read, makes events by dialling and
// closing sessions, and prints kcpd's RSS and what it accounts for watchers.
//
//   bazel run --config=opt //tests/hardening:watch_memory_benchmark -- [watchers=128] [events=10500]
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"

namespace {

using kcpp::service::testing::Process;

long RssKiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

kcpp::v1::Stats Stats(kcpp::v1::Kcpd::Stub* stub) {
  grpc::ClientContext context;
  kcpp::v1::Stats stats;
  stub->GetStats(&context, kcpp::v1::GetStatsRequest(), &stats);
  return stats;
}

void Report(const char* when, pid_t pid, const kcpp::v1::Stats& s) {
  std::printf(
      "%-26s rss %7.1f MiB  watchers %3u  refused %3lu  ended_behind %3lu  queued_events %6lu  "
      "event_bytes %8lu\n",
      when, RssKiB(pid) / 1024.0, s.watchers(), static_cast<unsigned long>(s.watchers_refused()),
      static_cast<unsigned long>(s.watchers_ended_behind()),
      static_cast<unsigned long>(s.watch_queued_events()),
      static_cast<unsigned long>(s.watch_event_bytes()));
}

}  // namespace

int main(int argc, char** argv) {
  // bazel run: the kcpd binary next to this one's runfiles.
  const std::string kcpd = std::string(argv[0]) + ".runfiles/kcpp/kcpd/kcpd_fake_backend_for_test";
  int watchers = 128;
  int events = 10500;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &watchers)) return 2;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &events)) return 2;

  kcpp::service::testing::ShortTempDir dir;
  const std::string control = dir.path() + "/control.sock";
  Process::Options o;
  o.argv = {kcpd,          "--backend=fake", "--control_socket=" + control, "--ready_fd=3",
            "--v=-1",      absl::StrCat("--max_watchers_per_uid=", watchers)};
  o.ready_fd = 3;
  o.stderr_path = dir.path() + "/kcpd.log";
  std::unique_ptr<Process> p = Process::Start(o);
  if (p->WaitReady() != "ready") {
    std::fprintf(stderr, "kcpd did not start (%s)\n", kcpd.c_str());
    return 1;
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);  // a client that never reads keeps 64 KiB windows
  auto stub = kcpp::v1::Kcpd::NewStub(
      grpc::CreateCustomChannel("unix:" + control, grpc::InsecureChannelCredentials(), args));
  Report("started", p->pid(), Stats(stub.get()));

  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<kcpp::v1::SessionEvent>> reader;
  };
  std::vector<std::unique_ptr<Watch>> stalled;
  for (int i = 0; i < watchers + 1; ++i) {  // the last one is over the cap
    auto w = std::make_unique<Watch>();
    w->reader = stub->WatchSessionEvents(&w->context, kcpp::v1::WatchSessionEventsRequest());
    w->reader->WaitForInitialMetadata();
    stalled.push_back(std::move(w));
  }
  Report(absl::StrCat(watchers, " stalled watchers").c_str(), p->pid(), Stats(stub.get()));

  // Each dial and close: SESSION_DIALED, STREAM_CLOSED, SESSION_CLOSED.
  for (int made = 0; made < events; made += 3) {
    grpc::ClientContext dial_context;
    kcpp::v1::DialSessionRequest dial;
    dial.set_remote_address("10.9.9.9:4000");
    kcpp::v1::DialSessionResponse dialled;
    if (!stub->DialSession(&dial_context, dial, &dialled).ok()) return 1;
    grpc::ClientContext close_context;
    kcpp::v1::CloseSessionRequest close;
    close.set_name(dialled.session().name());
    google::protobuf::Empty empty;
    stub->CloseSession(&close_context, close, &empty);
  }
  Report(absl::StrCat(events, " events later").c_str(), p->pid(), Stats(stub.get()));
  for (auto& w : stalled) w->context.TryCancel();
  stalled.clear();
  p->Signal(SIGTERM);
  p->Wait();
  return 0;
}
