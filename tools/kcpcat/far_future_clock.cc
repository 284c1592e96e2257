// An LD_PRELOAD library for kcpcat_test: CLOCK_REALTIME (clock_gettime,
// hence absl::Now and std::chrono::system_clock) reads 100 years ahead of
// the kernel's, so every wait until "now + d" a program computes from it
// (absl deadlines and condition variables with system_clock time points
// are absolute CLOCK_REALTIME waits in the kernel) lasts a century. A
// program that needs such a deadline to pass, in order to do something,
// never does it; CLOCK_MONOTONIC (KCP's timers, epoll timeouts) is
// untouched, so the transport runs as usual.
#include <dlfcn.h>
#include <time.h>

extern "C" int clock_gettime(clockid_t id, struct timespec* ts) {
  using Fn = int (*)(clockid_t, struct timespec*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "clock_gettime"));
  const int r = real(id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    ts->tv_sec += time_t{100} * 365 * 24 * 3600;
  }
  return r;
}
