// Tunnel throughput, CPU and latency: kcpd <-> kcpd versus Debian's
// kcptun <-> kcptun, on the same loopback path with the same settings, in
// one run (bench/README.md "## tunnel").
//
//   bazel run --config=opt //tunnel:tunnel_benchmark
//
// Each benchmark starts a client and a server tunnel as separate processes
// (the real kcpd binary in tunnel mode, or kcptun-client / kcptun-server),
// with a TCP sink or echo target inside this process:
//
//   source ─TCP─▶ client tunnel ═KCP/UDP═▶ server tunnel ─TCP─▶ sink / echo
//
// Settings for both: crypt aes, FEC 10/3, mode fast3, windows 1024/1024,
// MTU 1350, smux v1, snappy on ("snappy") or off ("nocomp"), data random
// (incompressible); BM_TunnelThroughputKcptunDefaults runs kcptun's defaults
// instead (mode fast, windows 128/512 and 1024/1024). Reported per benchmark:
//   bytes_per_second   payload through the tunnel (one TCP connection, or
//                      four at once for the /4 variants)
//   tunnel_cpu         CPU seconds of both tunnel processes per wall second
//                      (2.0 = both cores busy)
//   MB_per_cpu_s       payload megabytes per tunnel CPU second
//   p50_us, p99_us     round trip of a 64-byte message (echo target), idle
//                      tunnel
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "tests/kcptun/harness.h"

namespace kcpp::test {
namespace {

const char* g_kcpd = nullptr;

// CPU time (user + system) of a process, seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(f)), {});
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(text.substr(close + 2), ' ');
  // After "pid (comm) ": state is field 3; utime 14 and stime 15 (1-based).
  if (fields.size() < 13) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

// A TCP target that swallows everything and counts it.
class TcpSink {
 public:
  TcpSink() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(listen_fd_, 64);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Accept(); });
  }
  ~TcpSink() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (std::thread& t : readers_) t.join();
    ::close(listen_fd_);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  uint64_t received() const { return received_.load(); }
  void WaitFor(uint64_t total) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return received_.load() >= total; });
  }

 private:
  void Accept() {
    while (!stop_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> l(mu_);
      fds_.push_back(fd);
      readers_.emplace_back([this, fd] {
        std::vector<char> buf(1 << 18);
        while (true) {
          const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
          if (n <= 0) break;
          received_ += static_cast<uint64_t>(n);
          std::lock_guard<std::mutex> l2(mu_);
          cv_.notify_all();
        }
        ::shutdown(fd, SHUT_WR);  // answers the writer's end-of-file
      });
    }
  }
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> fds_;
  std::vector<std::thread> readers_;
  std::thread thread_;
};

// A client and a server tunnel, as processes.
struct TunnelPair {
  std::unique_ptr<Subprocess> client, server;
  int client_port = 0;
  std::string dir;

  ~TunnelPair() {
    client.reset();
    server.reset();
    if (!dir.empty()) (void)!system(("rm -rf " + dir).c_str());
  }
  double Cpu() const { return CpuSeconds(client->pid()) + CpuSeconds(server->pid()); }
};

// kcptun's defaults for everything but the key (mode fast, client windows
// 128/512, server 1024/1024, snappy on): what an untuned deployment runs.
bool g_defaults = false;

std::vector<std::string> Settings(bool snappy) {
  if (g_defaults) return {"-key", "benchmark", "-quiet"};
  std::vector<std::string> a = {
      "-crypt", "aes", "-key", "benchmark", "-mode", "fast3", "-sndwnd",  "1024", "-rcvwnd", "1024",
      "-ds",    "10",  "-ps",  "3",         "-mtu",  "1350",  "-smuxver", "1",    "-quiet"};
  if (!snappy) a.push_back("-nocomp");
  return a;
}

std::unique_ptr<TunnelPair> StartKcptun(const std::string& target, bool snappy) {
  auto p = std::make_unique<TunnelPair>();
  std::vector<std::string> s = Settings(snappy);
  s.insert(s.end(), {"-t", target});
  absl::StatusOr<KcptunProcess> server = StartKcptunServer(s);
  if (!server.ok()) return nullptr;
  std::vector<std::string> c = Settings(snappy);
  c.insert(c.end(), {"-r", server->address});
  absl::StatusOr<KcptunProcess> client = StartKcptunClient(c);
  if (!client.ok()) return nullptr;
  p->server = std::move(server->process);
  p->client = std::move(client->process);
  p->client_port = std::stoi(client->address.substr(client->address.rfind(':') + 1));
  return p;
}

std::unique_ptr<Subprocess> StartKcpd(const std::string& dir, const std::string& role,
                                      std::vector<std::string> args) {
  std::vector<std::string> argv = {g_kcpd,
                                   "--backend=fake",
                                   "--control_socket=" + dir + "/" + role + ".sock",
                                   "--data_socket_dir=" + dir + "/" + role,
                                   "--ready_fd=1",
                                   "--v=-1",
                                   "tunnel",
                                   role};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(argv);
  if (!p.ok()) return nullptr;
  if ((*p)->ReadLine().value_or("") != "ready") {
    fprintf(stderr, "kcpd %s did not start: %s\n", role.c_str(), (*p)->Wait().err.c_str());
    return nullptr;
  }
  return *std::move(p);
}

std::unique_ptr<TunnelPair> StartKcpd(const std::string& target, bool snappy) {
  auto p = std::make_unique<TunnelPair>();
  char dir[] = "/tmp/kcpd-bench-XXXXXX";
  p->dir = mkdtemp(dir);
  absl::StatusOr<int> udp = FreeUdpPort();
  absl::StatusOr<int> tcp = FreeTcpPort();
  if (!udp.ok() || !tcp.ok()) return nullptr;
  const std::string udp_address = absl::StrCat("127.0.0.1:", *udp);
  std::vector<std::string> s = Settings(snappy);
  s.insert(s.end(), {"-l", udp_address, "-t", target});
  p->server = StartKcpd(p->dir, "server", s);
  std::vector<std::string> c = Settings(snappy);
  c.insert(c.end(), {"-l", absl::StrCat("127.0.0.1:", *tcp), "-r", udp_address});
  p->client = StartKcpd(p->dir, "client", c);
  if (p->server == nullptr || p->client == nullptr) return nullptr;
  p->client_port = *tcp;
  return p;
}

std::unique_ptr<TunnelPair> Start(bool kcpd, const std::string& target, bool snappy) {
  return kcpd ? StartKcpd(target, snappy) : StartKcptun(target, snappy);
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

constexpr uint64_t kBytesPerStream = 64 << 20;

// state.range(0): 1 = kcpd, 0 = kcptun; range(1): snappy; range(2): streams.
void BM_TunnelThroughput(benchmark::State& state) {
  const bool kcpd = state.range(0) != 0;
  const bool snappy = state.range(1) != 0;
  const int streams = static_cast<int>(state.range(2));
  TcpSink sink;
  std::unique_ptr<TunnelPair> pair = Start(kcpd, sink.address(), snappy);
  if (pair == nullptr) {
    state.SkipWithError("tunnel did not start");
    return;
  }
  std::vector<char> data(1 << 20);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < data.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  // Warm up: one small transfer opens the session.
  {
    const int fd = ConnectTcp(pair->client_port);
    WriteAll(fd, data.data(), data.size());
    sink.WaitFor(data.size());
    ::close(fd);
  }
  double cpu = 0, wall = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const uint64_t start_bytes = sink.received();
    const double cpu0 = pair->Cpu();
    const absl::Time t0 = absl::Now();
    std::vector<std::thread> writers;
    for (int s = 0; s < streams; ++s) {
      writers.emplace_back([&] {
        const int fd = ConnectTcp(pair->client_port);
        for (uint64_t sent = 0; sent < kBytesPerStream; sent += data.size()) {
          if (!WriteAll(fd, data.data(), data.size())) break;
        }
        ::shutdown(fd, SHUT_WR);
        char b;
        (void)::recv(fd, &b, 1, 0);  // the tunnel's FIN after the target's close
        ::close(fd);
      });
    }
    sink.WaitFor(start_bytes + streams * kBytesPerStream);
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - t0);
    state.SetIterationTime(elapsed);
    cpu += pair->Cpu() - cpu0;
    wall += elapsed;
    bytes += streams * kBytesPerStream;
    for (std::thread& t : writers) t.join();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["tunnel_cpu"] = cpu / wall;
  state.counters["MB_per_cpu_s"] = cpu > 0 ? bytes / 1e6 / cpu : 0;
}

void BM_TunnelThroughputKcptunDefaults(benchmark::State& state) {
  g_defaults = true;
  BM_TunnelThroughput(state);
  g_defaults = false;
}

void BM_TunnelLatency(benchmark::State& state) {
  const bool kcpd = state.range(0) != 0;
  TcpEchoServer echo;
  std::unique_ptr<TunnelPair> pair = Start(kcpd, echo.address(), /*snappy=*/true);
  if (pair == nullptr) {
    state.SkipWithError("tunnel did not start");
    return;
  }
  const int fd = ConnectTcp(pair->client_port);
  char msg[64] = {1, 2, 3};
  char back[64];
  std::vector<double> rtts;
  for (auto _ : state) {
    const absl::Time t0 = absl::Now();
    WriteAll(fd, msg, sizeof(msg));
    size_t got = 0;
    while (got < sizeof(back)) {
      const ssize_t n = ::recv(fd, back + got, sizeof(back) - got, 0);
      if (n <= 0) {
        state.SkipWithError("echo failed");
        break;
      }
      got += static_cast<size_t>(n);
    }
    const double rtt = absl::ToDoubleMicroseconds(absl::Now() - t0);
    state.SetIterationTime(rtt / 1e6);
    rtts.push_back(rtt);
  }
  ::close(fd);
  std::sort(rtts.begin(), rtts.end());
  if (!rtts.empty()) {
    state.counters["p50_us"] = rtts[rtts.size() / 2];
    state.counters["p99_us"] = rtts[rtts.size() * 99 / 100];
  }
}

void ThroughputArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"kcpd", "snappy", "streams"});
  for (int streams : {1, 4}) {
    for (int snappy : {0, 1}) {
      for (int kcpd : {0, 1}) b->Args({kcpd, snappy, streams});
    }
  }
  b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
}

BENCHMARK(BM_TunnelThroughput)->Apply(ThroughputArgs);
BENCHMARK(BM_TunnelThroughputKcptunDefaults)
    ->ArgNames({"kcpd", "snappy", "streams"})
    ->Args({0, 1, 1})
    ->Args({1, 1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK(BM_TunnelLatency)
    ->ArgName("kcpd")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(2000);

}  // namespace
}  // namespace kcpp::test

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  benchmark::Initialize(&argc, argv);
  if (argc != 2) {
    fprintf(stderr, "usage: %s KCPD [benchmark flags]\n", argv[0]);
    return 2;
  }
  kcpp::test::g_kcpd = argv[1];
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
