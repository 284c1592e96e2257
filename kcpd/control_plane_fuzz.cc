// Fuzz target: any request a client can send, decoded as gRPC would decode
// it, through the control plane (fake backend). Requests must be answered
// with a status, never crash or hang; the state stays bounded.
//
// Input: byte 0 picks the method, the rest is the serialized request.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "base/log.h"
#include "kcpd/control_plane.h"
#include "kcpd/testing/fake_backend.h"

namespace {

using kcpp::service::ControlPlane;
using kcpp::service::FakeBackend;

struct World {
  World()
      : plane(&backend, {.stream_socket_path = "/tmp/fuzz-data.sock",
                         .seqpacket_socket_path = "/tmp/fuzz-seq.sock",
                         .run_janitor = false}) {
    kcpp::SetLogLevel(kcpp::LogLevel::kError);
    // Invalid UTF-8 in string fields is the parser refusing input, as gRPC
    // would; no need to log each one.
    google::protobuf::SetLogHandler(nullptr);
  }
  FakeBackend backend;
  ControlPlane plane;
};

template <typename Request>
bool Parse(const uint8_t* data, size_t size, Request* request) {
  return request->ParseFromArray(data, static_cast<int>(size));
}

void CheckCode(const absl::Status& s) {
  // Internal errors or unknown codes would mean an unhandled case.
  if (s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kUnknown ||
      s.code() == absl::StatusCode::kDataLoss) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  ControlPlane& plane = world->plane;
  if (size == 0) return 0;
  const uint8_t method = data[0] % 13;
  ++data;
  --size;
  switch (method) {
    case 0: {
      kcpp::v1::CreateListenerRequest r;
      kcpp::v1::Listener out;
      if (Parse(data, size, &r)) CheckCode(plane.CreateListener(r, &out));
      break;
    }
    case 1: {
      kcpp::v1::GetListenerRequest r;
      kcpp::v1::Listener out;
      if (Parse(data, size, &r)) CheckCode(plane.GetListener(r, &out));
      break;
    }
    case 2: {
      kcpp::v1::ListListenersRequest r;
      kcpp::v1::ListListenersResponse out;
      if (Parse(data, size, &r)) CheckCode(plane.ListListeners(r, &out));
      break;
    }
    case 3: {
      kcpp::v1::DeleteListenerRequest r;
      if (Parse(data, size, &r)) CheckCode(plane.DeleteListener(r));
      break;
    }
    case 4: {
      kcpp::v1::DialSessionRequest r;
      kcpp::v1::DialSessionResponse out;
      if (Parse(data, size, &r)) CheckCode(plane.DialSession(r, &out));
      break;
    }
    case 5: {
      kcpp::v1::GetSessionRequest r;
      kcpp::v1::Session out;
      if (Parse(data, size, &r)) CheckCode(plane.GetSession(r, &out));
      break;
    }
    case 6: {
      kcpp::v1::ListSessionsRequest r;
      kcpp::v1::ListSessionsResponse out;
      if (Parse(data, size, &r)) CheckCode(plane.ListSessions(r, &out));
      break;
    }
    case 7: {
      kcpp::v1::UpdateSessionRequest r;
      kcpp::v1::Session out;
      if (Parse(data, size, &r)) CheckCode(plane.UpdateSession(r, &out));
      break;
    }
    case 8: {
      kcpp::v1::CloseSessionRequest r;
      if (Parse(data, size, &r)) CheckCode(plane.CloseSession(r));
      break;
    }
    case 9: {
      kcpp::v1::OpenStreamRequest r;
      kcpp::v1::Stream out;
      if (Parse(data, size, &r)) CheckCode(plane.OpenStream(r, &out));
      break;
    }
    case 10: {
      kcpp::v1::CloseStreamRequest r;
      if (Parse(data, size, &r)) CheckCode(plane.CloseStream(r));
      break;
    }
    case 11: {
      kcpp::v1::WatchSessionEventsRequest r;
      if (Parse(data, size, &r)) {
        auto sub = plane.Watch(r, [] {});
        if (sub.ok()) {
          plane.Unwatch(*sub);
        } else {
          CheckCode(sub.status());
        }
      }
      break;
    }
    case 12: {
      kcpp::v1::Stats out;
      CheckCode(plane.GetStats(&out));
      // Attach tokens are bytes from applications too.
      (void)plane.RedeemAttachToken(absl::string_view(reinterpret_cast<const char*>(data), size),
                                    size % 2
                                        ? kcpp::service::internal::AttachSocketKind::kStream
                                        : kcpp::service::internal::AttachSocketKind::kSeqpacket);
      break;
    }
  }
  // Keep the world small: forget everything now and then.
  kcpp::v1::Stats stats;
  if (plane.GetStats(&stats).ok() && (stats.active_sessions() > 64 || stats.listeners() > 64)) {
    for (const kcpp::v1::Listener& l : world->backend.ListListeners()) {
      kcpp::v1::DeleteListenerRequest d;
      d.set_name(l.name());
      d.set_close_sessions(true);
      (void)plane.DeleteListener(d);
    }
    while (true) {
      kcpp::service::SessionPage page = world->backend.ListSessions(0, 100, "", false);
      if (page.sessions.empty()) break;
      for (const kcpp::v1::Session& s : page.sessions) {
        kcpp::v1::CloseSessionRequest c;
        c.set_name(s.name());
        (void)plane.CloseSession(c);
      }
    }
  }
  return 0;
}
