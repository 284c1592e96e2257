// StreamPump: moves bytes both ways between one non-blocking stream socket
// (TCP or Unix) and one stream of a MuxLink — kcpd's attached applications
// and kcptun tunnels' connections alike.
//
// It owns no thread, no event loop and no descriptor: its owner watches the
// socket however it likes, reports readiness (OnSocketReadable /
// OnSocketWritable) and the link's events for the stream (OnStreamData,
// OnStreamFin, OnStreamWritable), and is asked to change what it watches
// through Owner::SetSocketInterest. Everything runs on the link's loop
// thread.
//
//   class Conn : public StreamPump::Owner, public transport::EventLoop::FdHandler {
//     // Owner: WatchFd / SetInterest / UnwatchFd as asked.
//     absl::Status SetSocketInterest(SocketInterest interest) override;
//     void OnPumpEnded(PumpEnd end, const absl::Status& why) override;  // forget it
//     // FdHandler:
//     void OnReadable() override { pump.OnSocketReadable(); }
//     void OnWritable() override { pump.OnSocketWritable(); }
//   };
//   // MuxLink::Handler: OnStreamData, OnStreamFin and OnStreamWritable of the
//   // stream go to the pump's methods of the same names.
//   pump.Start(fd);  // once the socket is connected
//
// Per direction:
//   socket -> stream  reads only as much as the stream takes now
//                     (MuxLink::WritableBytes), so nothing waits in the pump;
//                     at 0 it stops reading until OnStreamWritable. This
//                     leans on MuxLink's rule that WritableBytes() == 0
//                     arms that announcement just as a short Write does.
//                     smux alone announces room only to a writer it turned
//                     away (smux/session_test.cc "WritableAnnouncement"), so
//                     over a bare smux session this pump would stall
//                     (stream_pump_test.cc "AStreamFoundFull..." does,
//                     against a MuxLink without that arming). End-of-file
//                     -> CloseWrite (FIN after every byte read).
//   stream -> socket  offered straight to the socket; what it does not take
//                     stays in the link (unconsumed as far as smux is
//                     concerned, so the peer is slowed by the v2 window, the
//                     v1 receive buffer and KCP's window) until the socket is
//                     writable. The peer's FIN -> shutdown(SHUT_WR) after the
//                     last byte.
// The socket closed completely (a hang-up, seen at end-of-file or while
// not reading it) ends the stream; so do a failed read or write and a link
// that refuses what it said it had room for. Each ends with CloseStream on
// the link (FIN to the peer if not sent, the stream forgotten) and then
// Owner::OnPumpEnded. Once the pump has shut down the socket's writing side
// (the peer's FIN), the application's half-close shows as a hang-up too; it
// is taken as the half-close it is. Otherwise the stream ends the link's
// way: FIN both ways, then MuxLink::Handler::OnStreamClosed, which the owner
// handles.
//
// Memory: none of its own; reads go through the owner's scratch buffer.
#ifndef KCPP_MUX_STREAM_PUMP_H_
#define KCPP_MUX_STREAM_PUMP_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "mux/mux_link.h"

namespace kcpp::service {

// What the owner should watch the socket for (level-triggered).
struct SocketInterest {
  // False: do not watch it at all (a socket that hung up while the pump
  // reads it only as room appears, or one whose both directions are done).
  bool watch = false;
  // With `watch` and neither of these, only a hang-up or an error is to be
  // reported (through OnSocketReadable), as transport::EventLoop::SetInterest
  // does with both false.
  bool read = false;
  bool write = false;

  friend bool operator==(const SocketInterest& a, const SocketInterest& b) {
    return a.watch == b.watch && a.read == b.read && a.write == b.write;
  }
  friend bool operator!=(const SocketInterest& a, const SocketInterest& b) { return !(a == b); }
};

// Why a pump ended its stream itself.
enum class PumpEnd {
  // The socket's peer closed it completely (not just its writing side).
  kSocketClosed,
  // A read, write or watch of the socket failed; `why` says which and why.
  kSocketFailed,
  // The link refused bytes it had room for, or failed the stream.
  kStreamFailed,
};

class StreamPump {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    // Watch the socket as `interest` says from now on. Called only when it
    // changes; the first call comes from Start. An error ends the pump
    // (kSocketFailed).
    virtual absl::Status SetSocketInterest(SocketInterest interest) = 0;
    // Bytes moved from the socket into the stream, and from the stream into
    // the socket (for counters).
    virtual void OnBytesMoved(size_t to_stream, size_t to_socket) {}
    // A direction finished: the socket's end-of-file went out as FIN, or the
    // peer's FIN was passed on to the socket (see socket_eof() and
    // fin_delivered()).
    virtual void OnHalfClosed() {}
    // The pump ended the stream (see the header comment); `why` is a
    // message for logs and events. The pump's last act: it touches nothing
    // afterwards and reports nothing more, so the owner may destroy it here.
    virtual void OnPumpEnded(PumpEnd end, const absl::Status& why) = 0;
  };

  // Pumps stream `id` of `link`. `scratch` (the loop thread's buffer, 64
  // KiB is plenty) bounds one read of the socket. Nothing moves before
  // Start.
  StreamPump(MuxLink* link, MuxLink::StreamId id, Owner* owner, absl::Span<uint8_t> scratch);
  StreamPump(const StreamPump&) = delete;
  StreamPump& operator=(const StreamPump&) = delete;

  // Starts pumping `fd` (connected, non-blocking; the owner keeps owning
  // it): delivers what the link held meanwhile and a FIN that came, then
  // reads as the stream takes bytes.
  void Start(int fd);
  // No more I/O and no more callbacks (the owner closes the stream or the
  // link itself); asks the owner to stop watching. Idempotent.
  void Stop();

  // Socket readiness.
  void OnSocketReadable();
  void OnSocketWritable();

  // MuxLink::Handler events of the stream. OnStreamData returns how many
  // bytes the socket took (the link keeps the rest): 0 before Start.
  size_t OnStreamData(absl::Span<const uint8_t> data);
  void OnStreamFin();
  void OnStreamWritable();

  // Stops reading the socket and sends FIN after what was read (shutting
  // down: the other direction keeps flowing).
  void StopReading();
  // Writes what the link holds for the socket, as far as it takes it now
  // (before the owner closes the stream).
  void FlushToSocket();

  MuxLink::StreamId id() const { return id_; }
  bool started() const { return fd_ >= 0; }
  bool ended() const { return ended_; }
  bool socket_eof() const { return read_done_; }         // FIN queued on the stream
  bool fin_received() const { return fin_received_; }    // the peer's FIN came
  bool fin_delivered() const { return fin_delivered_; }  // ... and reached the socket
  // The stream had no room: not reading the socket until OnStreamWritable.
  bool waiting_for_room() const { return read_blocked_; }
  uint64_t bytes_to_stream() const { return bytes_to_stream_; }
  uint64_t bytes_to_socket() const { return bytes_to_socket_; }

 private:
  // Socket -> stream while the stream takes bytes.
  void ReadSocket();
  // Stream -> socket: what the link holds, then a pending FIN.
  void DrainHeld();
  void UpdateInterest();
  void End(PumpEnd end, absl::Status why);

  MuxLink* const link_;
  const MuxLink::StreamId id_;
  Owner* const owner_;
  const absl::Span<uint8_t> scratch_;
  int fd_ = -1;
  SocketInterest interest_;     // as last set by the owner
  bool read_done_ = false;      // end-of-file read (or StopReading): FIN queued
  bool read_blocked_ = false;   // the stream had no room: wait for OnStreamWritable
  bool write_blocked_ = false;  // the socket was full: the link holds bytes for it
  bool hung_up_ = false;        // hung up while not read: read the rest as room appears
  bool fin_received_ = false;
  bool fin_delivered_ = false;
  bool ended_ = false;
  uint64_t bytes_to_stream_ = 0;
  uint64_t bytes_to_socket_ = 0;
};

}  // namespace kcpp::service

#endif  // KCPP_MUX_STREAM_PUMP_H_
