// wakeup_cost: what one sleep-and-wake of an event loop costs on this
// machine, the floor under any server that answers each datagram as it
// comes (bench/README.md "transport", the many-sessions CPU figure).
//
// Two threads play ping-pong with one 64-byte UDP datagram over loopback,
// each the way a kcpp loop waits: epoll_wait until its socket is readable,
// recvmmsg, then sendmmsg of the answer, which wakes the other thread. The
// thread CPU time per exchange (CLOCK_THREAD_CPUTIME_ID) is what a server
// pays for one datagram in and one out when every datagram finds it asleep:
// the wake-up itself, the kernel's UDP path, and waking the peer (on
// loopback the sender runs the receiver's softirq and sends the wake-up
// interrupt). Printed for the threads left where the scheduler puts them,
// pinned to one CPU, and pinned to two; and once with the answering thread
// polling instead of sleeping, which shows the wake-up's share.
//
//   bazel run --config=opt //bench:wakeup_cost -- [--exchanges N]
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

ABSL_FLAG(int, exchanges, 50000, "round trips per case");

namespace {

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double WallSeconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "wakeup_cost: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int BoundSocket(sockaddr_in* address) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  *address = {};
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(address), sizeof(*address)) != 0) Die("bind");
  socklen_t len = sizeof(*address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(address), &len) != 0) Die("getsockname");
  return fd;
}

void Pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    std::fprintf(stderr, "wakeup_cost: cannot pin to CPU %d\n", cpu);
    std::exit(1);
  }
}

struct Side {
  int fd = -1;
  sockaddr_in peer{};
  int cpu = -1;       // -1: wherever the scheduler puts it
  bool poll = false;  // spin on recvmmsg instead of sleeping in epoll_wait
  bool serves_first = false;
  double cpu_seconds = 0;
};

// Answers `exchanges` datagrams (sending the first one if serves_first).
void Play(Side* side, int exchanges) {
  Pin(side->cpu);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Die("epoll_create1");
  epoll_event interest{};
  interest.events = EPOLLIN;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, side->fd, &interest) != 0) Die("epoll_ctl");
  char in[2048], out[64] = {};
  iovec in_iov{in, sizeof(in)}, out_iov{out, sizeof(out)};
  mmsghdr rx{}, tx{};
  rx.msg_hdr.msg_iov = &in_iov;
  rx.msg_hdr.msg_iovlen = 1;
  tx.msg_hdr.msg_iov = &out_iov;
  tx.msg_hdr.msg_iovlen = 1;
  tx.msg_hdr.msg_name = &side->peer;
  tx.msg_hdr.msg_namelen = sizeof(side->peer);
  const double start = ThreadCpuSeconds();
  if (side->serves_first && sendmmsg(side->fd, &tx, 1, 0) != 1) Die("sendmmsg");
  for (int done = 0; done < exchanges;) {
    if (!side->poll) {
      epoll_event ready;
      if (epoll_wait(ep, &ready, 1, -1) <= 0) continue;
    }
    if (recvmmsg(side->fd, &rx, 1, MSG_DONTWAIT, nullptr) != 1) continue;
    ++done;
    // The last datagram of the side that did not start is not answered.
    if (side->serves_first && done == exchanges) break;
    if (sendmmsg(side->fd, &tx, 1, 0) != 1) Die("sendmmsg");
  }
  side->cpu_seconds = ThreadCpuSeconds() - start;
  close(ep);
}

void RunCase(const char* label, int cpu_a, int cpu_b, bool b_polls, int exchanges) {
  Side a, b;
  sockaddr_in addr_a, addr_b;
  a.fd = BoundSocket(&addr_a);
  b.fd = BoundSocket(&addr_b);
  a.peer = addr_b;
  b.peer = addr_a;
  a.cpu = cpu_a;
  b.cpu = cpu_b;
  a.serves_first = true;
  b.poll = b_polls;
  const double start = WallSeconds();
  std::thread tb([&] { Play(&b, exchanges); });
  std::thread ta([&] { Play(&a, exchanges); });
  ta.join();
  tb.join();
  const double wall = WallSeconds() - start;
  close(a.fd);
  close(b.fd);
  std::printf("| %s | %.1f | %.1f | %.1f |\n", label, 1e6 * a.cpu_seconds / exchanges,
              1e6 * b.cpu_seconds / exchanges, 1e6 * wall / exchanges);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("what one event-loop sleep and wake-up costs here");
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_exchanges);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::printf("%d exchanges of a 64-byte datagram per case, %ld CPUs\n\n", n, cpus);
  std::printf(
      "| threads | CPU us per exchange, A | CPU us per exchange, B | wall us per exchange |\n");
  std::printf("|---|---:|---:|---:|\n");
  RunCase("both sleep, placed by the scheduler", -1, -1, false, n);
  RunCase("both sleep, one CPU", 0, 0, false, n);
  if (cpus >= 2) {
    RunCase("both sleep, two CPUs", 0, 1, false, n);
    RunCase("A sleeps, B polls, two CPUs", 0, 1, true, n);
  }
  return 0;
}
