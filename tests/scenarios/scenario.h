// Named fault scenarios, in the manner of the QUIC interop runner: a kcpp
// client and a kcpp server talk through a LossyRelay that impairs the link
// in one named way, and the client's bytes must come back byte-exact — or
// the session must end with a clear Status. Never silent corruption, never a
// hang: every blocking call carries the scenario's guard deadline, which only
// a broken stack reaches.
//
//   Scenario s = Scenario::Base("transfer_loss_2pct");
//   s.relay.to_target.loss = s.relay.to_client.loss = 0.02;
//   Outcome o = RunEcho(s);
//   EXPECT_TRUE(o.transfer.ok()) << o.Describe();
//
// The server accepts every session its listener creates and echoes each one
// (a thread per session), so a scenario that makes the listener create a
// second session for one client (NAT rebinding) shows up in the listener's
// stats and in `accepted`, not as a hidden stall.
//
// Test-only (//tests/scenarios:scenario).
#ifndef KCPP_TESTS_SCENARIOS_SCENARIO_H_
#define KCPP_TESTS_SCENARIOS_SCENARIO_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/lossy_relay/lossy_relay.h"
#include "transport/listener.h"
#include "transport/options.h"
#include "transport/session.h"

namespace kcpp::scenarios {

struct Scenario {
  std::string name;
  // The dialled session, and the listener (whose `session` the accepted
  // sessions use).
  transport::SessionOptions client;
  transport::ListenerOptions server;
  // The impaired link; `target` is filled in with the listener's address.
  tools::LossyRelay::Options relay;
  // Bytes the client writes and reads back (echoed by the server).
  uint64_t bytes = 4 << 20;
  // 0: stream them (a writer thread and a reader, the window full). Else
  // ping-pong: write this many bytes, read their echo, repeat — little in
  // flight, so the RTT estimate stays at the path's own.
  size_t ping_pong_bytes = 0;
  // Deadline of every blocking call, from the start of the run. A hang
  // detector only: no assertion depends on how long a run takes.
  absl::Duration guard = absl::Seconds(120);
  int engine_loops = 2;

  // kcptun-like defaults on both sides: AES (CFB + CRC32), fast3, stream
  // mode, windows of 512 segments; no impairment.
  static Scenario Base(std::string name);
};

struct Outcome {
  // The client's echo: OK only if every byte came back in order and equal
  // (a mismatch is DataLoss naming the byte), else the Status that ended it.
  absl::Status transfer;
  // The client's WaitAcknowledged after a successful transfer.
  absl::Status acknowledged;
  // Snapshots at the end of the run (before teardown).
  std::optional<transport::SessionInfo> client_info;
  std::optional<transport::SessionInfo> server_info;  // the first accepted session
  transport::ListenerStats listener;
  tools::LossyRelay::Stats relay;
  int accepted = 0;  // sessions the server accepted

  // Everything above on a few lines, for assertion messages.
  std::string Describe() const;
};

// Runs one echo of `scenario.bytes` through the relay. Never blocks past the
// guard (plus teardown).
Outcome RunEcho(const Scenario& scenario);

// Fraction of the relay's datagrams that it dropped (loss, blackhole, MTU).
double DropFraction(const tools::LossyRelay::Stats& s);

}  // namespace kcpp::scenarios

#endif  // KCPP_TESTS_SCENARIOS_SCENARIO_H_
