// Fuzz target: a Session fed hostile bytes, v1 or v2, client or server.
// Input byte 0 chooses version (bit 0), role (bit 1), how the rest is split
// across Feed calls (bits 2-3) and the application's behaviour (bits 4-7:
// hold data or consume it, echo it back, close streams on data or on FIN,
// open streams, run timers). Invariants checked after every step:
//   * Feed takes at most what it was given, and takes everything unless the
//     session died or receive_blocked();
//   * the receive budget equals max_receive_buffer minus the unconsumed bytes
//     of all streams, and a blocked session holds at most one frame more than
//     the budget;
//   * a dead session takes no more input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "smux/internal/session_peer.h"
#include "smux/session.h"

namespace {

using kcpp::smux::Session;
using kcpp::smux::StreamId;

class Handler : public kcpp::smux::SessionHandler {
 public:
  explicit Handler(uint8_t behaviour) : behaviour_(behaviour) {}
  Session* session = nullptr;
  std::vector<StreamId> ids;  // every id ever seen, once (ids may be reused)

  void Track(StreamId id) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }

  void OnStreamOpened(StreamId id) override {
    Track(id);
    if (behaviour_ & 1) session->AcceptStream(id).IgnoreError();
  }
  void OnStreamData(StreamId id, absl::Span<const uint8_t> data) override {
    if (data.empty()) std::abort();
    if (behaviour_ & 2) session->Consume(id, data.size()).IgnoreError();
    if (behaviour_ & 4) session->Write(id, data).IgnoreError();
    if ((behaviour_ & 8) && data[0] == 0x42) session->CloseStream(id).IgnoreError();
  }
  void OnStreamFin(StreamId id) override {
    if (behaviour_ & 8) session->CloseWrite(id).IgnoreError();
  }
  void OnStreamWritable(StreamId id) override {}
  void OnStreamClosed(StreamId id) override {}
  void OnSessionClosed(const absl::Status& status) override {
    if (status.ok()) std::abort();
  }

 private:
  const uint8_t behaviour_;
};

void CheckBudget(const Session& s, const std::vector<StreamId>& ids) {
  if (s.is_closed()) return;
  uint64_t unconsumed = 0;
  for (StreamId id : ids) {
    if (auto info = s.GetStreamInfo(id)) unconsumed += info->unconsumed;
  }
  const int64_t budget = kcpp::smux::internal::SessionPeer::ReceiveBudget(s);
  if (budget != s.config().max_receive_buffer - static_cast<int64_t>(unconsumed)) std::abort();
  if (budget < -static_cast<int64_t>(kcpp::smux::kMaxFramePayload)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  kcpp::smux::Config config;
  config.version = (mode & 1) ? 2 : 1;
  config.max_receive_buffer = 4096;  // small, so blocking happens
  config.max_stream_buffer = 1024;
  config.max_frame_size = 512;
  config.accept_backlog = 8;
  config.keep_alive_interval_ms = 10;
  config.keep_alive_timeout_ms = 30;
  Handler h(mode >> 4);
  auto created = Session::Create((mode & 2) ? kcpp::smux::Role::kServer : kcpp::smux::Role::kClient,
                                 config, &h, 0);
  if (!created.ok()) std::abort();
  Session& s = **created;
  h.session = &s;
  static const size_t kPieces[] = {1, 7, 100, SIZE_MAX};
  const size_t piece = kPieces[(mode >> 2) & 3];
  // Also track streams we open ourselves.
  if (mode & 0x80) {
    for (int i = 0; i < 3; ++i) {
      if (auto id = s.OpenStream(); id.ok()) h.Track(*id);
    }
  }
  std::vector<uint8_t> buf;
  size_t pos = 1;
  int64_t now = 0;
  while (pos < size) {
    const size_t n = std::min(piece, size - pos);
    buf.assign(data + pos, data + pos + n);  // exactly sized copy for ASan
    const size_t used = s.Feed(buf);
    if (used > n) std::abort();
    if (used < n && !s.is_closed() && !s.receive_blocked()) std::abort();
    CheckBudget(s, h.ids);
    pos += used;
    if (used < n) {
      if (s.is_closed()) {
        if (s.Feed(buf) != 0) std::abort();
        break;
      }
      // Blocked: the application catches up, as it eventually would.
      for (StreamId id : h.ids) {
        s.AcceptStream(id).IgnoreError();
        if (auto info = s.GetStreamInfo(id)) s.Consume(id, info->unconsumed).IgnoreError();
      }
      if (s.receive_blocked()) std::abort();
    }
    s.ConsumeOutput(s.output().size() / 2);
    now += 7;
    s.OnTimer(now);
    CheckBudget(s, h.ids);
  }
  return 0;
}
