#include "transport/internal/udp_endpoint.h"

#include <utility>

#include "transport/internal/worker.h"

namespace kcpp::transport::internal {
namespace {

// Receive batches handled per readiness event before other sockets get a
// turn (fairness between a busy listener and everything else on the loop).
constexpr int kMaxBatchesPerWakeup = 16;

}  // namespace

absl::StatusOr<std::unique_ptr<UdpEndpoint>> UdpEndpoint::Create(Worker* loop,
                                                                 std::unique_ptr<UdpSocket> socket,
                                                                 Receiver* receiver,
                                                                 size_t max_queued) {
  std::unique_ptr<UdpEndpoint> e(new UdpEndpoint(loop, std::move(socket), receiver, max_queued));
  absl::Status s = loop->event_loop().WatchFd(e->socket_->fd(), e.get());
  if (!s.ok()) return s;
  return e;
}

UdpEndpoint::UdpEndpoint(Worker* loop, std::unique_ptr<UdpSocket> socket, Receiver* receiver,
                         size_t max_queued)
    : loop_(loop), socket_(std::move(socket)), receiver_(receiver), max_queued_(max_queued) {}

UdpEndpoint::~UdpEndpoint() {
  loop_->event_loop().UnwatchFd(socket_->fd());
  loop_->ForgetEndpoint(this);
  for (size_t i = head_; i < queue_.size(); ++i) loop_->pool().Put(queue_[i].buffer);
}

void UdpEndpoint::Enqueue(uint8_t* buffer, size_t length, const SocketAddress& to) {
  if (queued() >= max_queued_) {
    loop_->pool().Put(buffer);
    ++stats_.queue_drops;
    loop_->AddSendQueueDrops(1);
    return;
  }
  queue_.push_back(Pending{buffer, length, to});
  if (!dirty_ && !waiting_writable_) loop_->MarkDirty(this);
}

void UdpEndpoint::Flush() {
  // Per thread, not per endpoint: thousands of dialled sessions each have one.
  thread_local std::vector<OutgoingDatagram> batch_;
  while (has_queued()) {
    batch_.clear();
    const size_t n = std::min(queued(), UdpSocket::kMaxBatch);
    for (size_t i = 0; i < n; ++i) {
      const Pending& p = queue_[head_ + i];
      batch_.push_back(OutgoingDatagram{absl::MakeConstSpan(p.buffer, p.length), &p.to});
    }
    absl::StatusOr<size_t> sent = socket_->SendBatch(batch_);
    // A hard socket error drops the batch (KCP retransmits; the error is
    // visible in the socket's stats).
    const size_t done = sent.ok() ? *sent : n;
    for (size_t i = 0; i < done; ++i) loop_->pool().Put(queue_[head_ + i].buffer);
    head_ += done;
    if (done < n) {
      // Socket buffer full: continue when writable.
      if (!waiting_writable_) {
        waiting_writable_ = loop_->event_loop().SetWritable(socket_->fd(), this, true).ok();
      }
      break;
    }
  }
  if (head_ == queue_.size()) {
    queue_.clear();
    head_ = 0;
  } else if (head_ > 1024 && head_ * 2 > queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void UdpEndpoint::OnWritable() {
  if (waiting_writable_) {
    (void)loop_->event_loop().SetWritable(socket_->fd(), this, false);
    waiting_writable_ = false;
  }
  Flush();
}

void UdpEndpoint::OnReadable() {
  const absl::Span<ReceiveSlot> slots = loop_->receive_slots(socket_->gro_enabled());
  for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
    absl::StatusOr<size_t> got = socket_->ReceiveBatch(slots);
    if (!got.ok() || *got == 0) return;
    const int64_t now = loop_->now_ms();
    for (size_t i = 0; i < *got; ++i) {
      ReceiveSlot& slot = slots[i];
      if (slot.truncated) {
        ++stats_.oversized;
        receiver_->OnOversizedDatagram(slot.from);
        continue;
      }
      const size_t step = slot.segment_size ? slot.segment_size : slot.length;
      uint8_t* p = slot.buffer.data();
      size_t left = slot.length;
      while (left > 0) {
        const size_t n = left < step ? left : step;
        if (n > kMaxDatagram) {
          ++stats_.oversized;
          receiver_->OnOversizedDatagram(slot.from);
        } else {
          receiver_->OnDatagram(absl::MakeSpan(p, n), slot.from, now);
        }
        p += n;
        left -= n;
      }
    }
    if (*got < slots.size()) return;
  }
}

}  // namespace kcpp::transport::internal
