// Issue 16, defect 3: datagrams anyone can forge (crypt none here; replays
// of captured datagrams from new source addresses do the same with any
// cipher) must not exhaust the streams waiting for an application to attach
// that local callers need. kcpd's control plane over its real transport
// backend: a raw listener flooded with forged sessions, each of which brings
// a stream, takes at most its share of the waiting slots and drops (and
// counts) the rest; DialSession still gets a stream and its token.
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "kcpd/control_plane.h"
#include "kcpd/transport_backend.h"
#include "tests/flood/flooder.h"

namespace kcpp::service {
namespace {

constexpr int kForgedSessions = 256;

TEST(AttachShareTest, FloodedListenerDropsOverItsShareAndLocalDialsStillGetAStream) {
  absl::StatusOr<std::unique_ptr<TransportBackend>> backend =
      TransportBackend::Create({.loops = 2});
  ASSERT_TRUE(backend.ok()) << backend.status();
  ControlPlaneOptions options;
  // Small numbers, same shape as kcpd's defaults (16384 / 4096 / 1024).
  options.max_pending_attachments = 64;
  options.max_pending_attachments_per_listener = 16;
  options.local_attachment_reserve = 8;
  ControlPlane plane(backend->get(), options);

  kcpp::v1::CreateListenerRequest create;
  create.set_listener_id("flooded");
  create.mutable_listener()->set_address("127.0.0.1:0");
  create.mutable_listener()->mutable_session_options()->set_framing(kcpp::v1::FRAMING_RAW);
  create.mutable_listener()->mutable_session_options()->set_crypt("none");
  kcpp::v1::Listener listener;
  ASSERT_TRUE(plane.CreateListener(create, &listener).ok());

  // One forged session (a KCP PUSH with sn 0 and a random conv) from each of
  // kForgedSessions source ports: four times the whole waiting limit.
  flood::FloodOptions flood;
  flood.target = *transport::SocketAddress::Parse(listener.bound_address());
  flood.source_ports = kForgedSessions;
  flood.crypt = "none";
  flood.mix.forged = 1;
  flood.sn0_share = 1;
  flood.max_payload = 16;
  flood.max_datagrams = kForgedSessions;
  absl::StatusOr<std::unique_ptr<flood::Flooder>> flooder = flood::Flooder::Start(flood);
  ASSERT_TRUE(flooder.ok()) << flooder.status();
  (*flooder)->WaitSent(kForgedSessions);

  // Wait (a guard deadline, not a timing assertion) until the listener has
  // dropped streams over its share.
  kcpp::v1::GetListenerRequest get;
  get.set_name(listener.name());
  const absl::Time guard = absl::Now() + absl::Seconds(60);
  while (listener.attachments_dropped() == 0 && absl::Now() < guard) {
    absl::SleepFor(absl::Milliseconds(10));
    ASSERT_TRUE(plane.GetListener(get, &listener).ok());
  }
  EXPECT_GT(listener.attachments_dropped(), 0u);
  EXPECT_GT(listener.sessions_accepted(), 16u);

  // A local application still gets its stream and token.
  kcpp::v1::DialSessionRequest dial;
  dial.set_remote_address("127.0.0.1:9");
  dial.mutable_options()->set_framing(kcpp::v1::FRAMING_RAW);
  dial.mutable_options()->set_crypt("none");
  kcpp::v1::DialSessionResponse dialled;
  const absl::Status s = plane.DialSession(dial, &dialled);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(dialled.stream().attachment().token().size(), 64u);

  kcpp::v1::Stats stats;
  ASSERT_TRUE(plane.GetStats(&stats).ok());
  EXPECT_GT(stats.attachments_dropped(), 0u);
  // The listener never held more than its share; the dial is on top.
  EXPECT_LE(stats.attachments_pending(), 16u + 1u);

  plane.BeginShutdown();
  (*backend)->Shutdown(absl::Now());
}

}  // namespace
}  // namespace kcpp::service
