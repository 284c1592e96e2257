// Test-only: a MuxLink endpoint for tests over loopback — an Engine, a link
// loop, a link, and a handler that writes and checks pattern bytes per
// stream and records everything that happens, for the test thread to wait on.
//
//   LinkEndpoint server("server"), client("client");
//   server.Listen(options, link_options);
//   client.Dial(server.address(), options, link_options);
//   uint32_t id = client.OpenStream();
//   client.Write(id, 1 << 20, /*close_after=*/true);
//   server.WaitFor([&] { return server.StreamOrNull(id) && server.Stream(id).fin; });
//
// Bytes of stream `id` written by the dialling side are
// PatternByte(offset + id * kSeedStride); by the accepting side
// PatternByte(offset + id * kSeedStride + kReplySeed). Each reader checks
// every byte it takes.
#ifndef KCPP_MUX_TESTING_LINK_ENDPOINT_H_
#define KCPP_MUX_TESTING_LINK_ENDPOINT_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "mux/mux_link.h"
#include "transport/engine.h"
#include "transport/event_loop.h"

namespace kcpp::service::internal {

inline constexpr uint64_t kSeedStride = 1000003;
inline constexpr uint64_t kReplySeed = 0x5555;

class LinkEndpoint final : public MuxLink::Handler {
 public:
  struct StreamRecord {
    bool accepted = false;         // opened by the peer
    uint64_t received = 0;         // bytes taken and checked
    uint64_t mismatches = 0;       // bytes that differed from the pattern
    bool fin = false;              // OnStreamFin
    uint64_t received_at_fin = 0;  // `received` when the FIN came
    bool closed = false;           // OnStreamClosed
    uint64_t to_write = 0;
    uint64_t written = 0;
    bool close_after_write = false;
    bool write_closed = false;  // CloseWrite done
    uint64_t short_writes = 0;
  };

  explicit LinkEndpoint(std::string name);
  ~LinkEndpoint() override;

  // Accepts sessions on 127.0.0.1 (one link per accepted session; the
  // latest is `link()`).
  void Listen(const transport::SessionOptions& options, const MuxLinkOptions& link_options);
  std::string address() const;
  void Dial(const std::string& address, const transport::SessionOptions& options,
            const MuxLinkOptions& link_options);

  // Runs `fn` on the link loop and waits for it.
  void Run(absl::AnyInvocable<void()> fn);
  // Blocks until `done()` (checked under the record lock after every event
  // and every 10 ms, for predicates over other state), or 60 s. Returns
  // done()'s last value.
  bool WaitFor(const std::function<bool()>& done);
  // The same without the record lock (`done` may call Run, LinkStats...).
  bool WaitUnlocked(const std::function<bool()>& done);

  // On the link loop: opens a stream and returns its id.
  uint32_t OpenStream();
  // Writes `bytes` more of the stream's pattern, as the link takes them;
  // CloseWrite afterwards if `close_after`.
  void Write(uint32_t id, uint64_t bytes, bool close_after);
  // How many bytes OnStreamData takes at most per call (SIZE_MAX: all).
  // Raising it also drains what the link holds.
  void SetTakeLimit(size_t limit);
  // The accepting side: refuse (false) or accept new streams; answer each
  // accepted stream with `bytes` of its reply pattern, then CloseWrite.
  void SetAccept(bool accept);
  void SetReply(uint64_t bytes);
  // Size each write by MuxLink::WritableBytes (never a short write), as
  // kcpd's pumps do, instead of writing 64 KiB and taking a short write.
  void SetWriteByRoom(bool by_room);
  void Close();          // MuxLink::Close on the loop
  void DestroyEngine();  // the peer vanishes without a word
  MuxLinkStats LinkStats();
  size_t Held(uint32_t id);

  // Under the record lock (use inside WaitFor predicates or after Lock()).
  std::unique_lock<std::mutex> Lock() { return std::unique_lock<std::mutex>(mu_); }
  const StreamRecord* StreamOrNull(uint32_t id) const;
  std::map<uint32_t, StreamRecord> streams() const { return streams_; }
  bool link_closed() const { return link_closed_; }
  int peer_closed() const { return peer_closed_; }  // OnPeerClosed calls
  absl::Status link_status() const { return link_status_; }
  uint64_t opened_refused() const { return refused_; }

  transport::EventLoop& loop() { return *loop_; }
  MuxLink* link() { return link_.get(); }
  transport::Engine& engine() { return *engine_; }
  const std::shared_ptr<transport::Session>& session() const { return session_; }

  // MuxLink::Handler.
  bool OnStreamOpened(uint32_t id) override;
  size_t OnStreamData(uint32_t id, absl::Span<const uint8_t> data) override;
  void OnStreamFin(uint32_t id) override;
  void OnStreamWritable(uint32_t id) override;
  void OnStreamClosed(uint32_t id) override;
  void OnPeerClosed() override;
  void OnLinkClosed(const absl::Status& why) override;

 private:
  void Adopt(std::shared_ptr<transport::Session> session, smux::Role role);
  uint64_t Seed(uint32_t id, bool reading) const;
  // Loop thread.
  size_t Take(uint32_t id, absl::Span<const uint8_t> data);
  void Drain(uint32_t id);
  void PumpWrite(uint32_t id);
  void Notify();

  const std::string name_;
  std::unique_ptr<transport::EventLoop> loop_;
  std::unique_ptr<transport::Engine> engine_;
  std::unique_ptr<transport::Listener> listener_;
  MuxLinkOptions link_options_;
  bool dialled_ = false;

  // Loop thread.
  std::unique_ptr<MuxLink> link_;
  std::vector<std::unique_ptr<MuxLink>> old_links_;
  std::shared_ptr<transport::Session> session_;
  std::vector<uint8_t> scratch_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, StreamRecord> streams_;  // guarded by mu_
  size_t take_limit_ = SIZE_MAX;              // guarded by mu_
  bool accept_ = true;                        // guarded by mu_
  uint64_t reply_ = 0;                        // guarded by mu_
  bool write_by_room_ = false;                // guarded by mu_
  bool link_closed_ = false;                  // guarded by mu_
  int peer_closed_ = 0;                       // guarded by mu_
  absl::Status link_status_;                  // guarded by mu_
  uint64_t refused_ = 0;                      // guarded by mu_
};

}  // namespace kcpp::service::internal

#endif  // KCPP_MUX_TESTING_LINK_ENDPOINT_H_
