// Scenario "NAT rebinding": every 500 ms the relay (standing in for the
// client's NAT) replaces its upstream socket, so the server sees the
// client's datagrams arrive from a new source port mid-session — what a
// home router does after an idle timeout or a mobile client after a network
// change.
//
// What should happen: the conversation continues. The server's session for
// this conv follows the client to its new address (as QUIC's connection
// migration does), the echo comes back byte-exact, and the listener creates
// exactly one session. A second session for the same conv from the new
// address — kcp-go 5.6.1's behaviour, which keys sessions by address
// (docs/protocol.md §5.2) — strands the conversation: the new session holds
// segments it can never deliver in order (their predecessors went to the old
// one) while acknowledging them, so the client believes its data arrived.
#include "gtest/gtest.h"
#include "tests/scenarios/scenario.h"

namespace kcpp::scenarios {
namespace {

TEST(NatRebinding, TheSessionFollowsTheClientsNewPort) {
  Scenario s = Scenario::Base("nat_rebinding_every_500ms");
  s.relay.rebind_every_ms = 500;
  s.client.rate_limit_bytes_per_second = 1 << 20;
  // At the end the client only receives: without keepalives a rebind after
  // its last write leaves the server sending to the old port (options.h,
  // follow_address_changes).
  s.client.keepalive_ms = 100;
  s.bytes = 3 << 20;  // ~3 s at the paced rate: several rebinds mid-transfer
  s.guard = absl::Seconds(60);
  const Outcome o = RunEcho(s);
  SCOPED_TRACE(o.Describe());
  EXPECT_GT(o.relay.rebinds, 0u);
  EXPECT_TRUE(o.transfer.ok());
  EXPECT_TRUE(o.acknowledged.ok());
  // One conversation, one server session, which saw every byte.
  EXPECT_EQ(o.listener.sessions_created, 1u);
  EXPECT_EQ(o.accepted, 1);
  ASSERT_TRUE(o.server_info.has_value());
  EXPECT_EQ(o.server_info->counters.bytes_received, s.bytes);
}

}  // namespace
}  // namespace kcpp::scenarios
