// RunOnLoop: runs a function on an EventLoop's thread from a test and waits
// for it, for tests of what a loop does with file descriptors.
#ifndef KCPP_TRANSPORT_TESTING_RUN_ON_LOOP_H_
#define KCPP_TRANSPORT_TESTING_RUN_ON_LOOP_H_

#include "base/latch.h"
#include "transport/event_loop.h"

namespace kcpp::transport::testing {

// Runs `fn` on the loop and waits for it; two rounds, so any readiness that
// existed before the call has been through at least one full epoll_wait.
template <typename Fn>
void RunOnLoop(EventLoop& loop, Fn fn) {
  for (int round = 0; round < 2; ++round) {
    Latch done(1);
    loop.Post([&] {
      if (round == 0) fn();
      done.CountDown();
    });
    done.Wait();
  }
}

}  // namespace kcpp::transport::testing

#endif  // KCPP_TRANSPORT_TESTING_RUN_ON_LOOP_H_
