#include "mux/testing/link_endpoint.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "transport/testing/transfer.h"

namespace kcpp::service::internal {

using transport::testing::FillPattern;
using transport::testing::PatternByte;

LinkEndpoint::LinkEndpoint(std::string name) : name_(std::move(name)) {
  loop_ = *transport::EventLoop::Create(name_ + "-link");
  loop_->Start();
  transport::EngineOptions eo;
  eo.loops = 1;
  eo.name = name_;
  engine_ = *transport::Engine::Create(eo);
}

LinkEndpoint::~LinkEndpoint() {
  if (listener_ != nullptr) listener_->Close();
  Run([this] {
    link_.reset();
    old_links_.clear();
    session_.reset();
  });
  loop_->Stop();
  engine_.reset();
}

void LinkEndpoint::Run(absl::AnyInvocable<void()> fn) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  loop_->Post([&] {
    fn();
    std::lock_guard<std::mutex> l(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> l(m);
  cv.wait(l, [&] { return done; });
}

bool LinkEndpoint::WaitFor(const std::function<bool()>& done) {
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  std::unique_lock<std::mutex> l(mu_);
  while (!done()) {
    if (absl::Now() > limit) return false;
    cv_.wait_for(l, std::chrono::milliseconds(10));
  }
  return true;
}

bool LinkEndpoint::WaitUnlocked(const std::function<bool()>& done) {
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (!done()) {
    if (absl::Now() > limit) return false;
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(10));
  }
  return true;
}

void LinkEndpoint::Notify() { cv_.notify_all(); }

void LinkEndpoint::Listen(const transport::SessionOptions& options,
                          const MuxLinkOptions& link_options) {
  link_options_ = link_options;
  transport::ListenerOptions lo;
  lo.session = options;
  listener_ = *engine_->Listen("127.0.0.1:0", lo);
  listener_->SetAcceptCallback([this](std::unique_ptr<transport::Session> s) {
    std::shared_ptr<transport::Session> shared(std::move(s));
    loop_->Post([this, shared] { Adopt(shared, smux::Role::kServer); });
  });
}

std::string LinkEndpoint::address() const { return listener_->local_address().ToString(); }

void LinkEndpoint::Dial(const std::string& address, const transport::SessionOptions& options,
                        const MuxLinkOptions& link_options) {
  link_options_ = link_options;
  dialled_ = true;
  absl::StatusOr<std::unique_ptr<transport::Session>> s = engine_->Dial(address, options);
  ASSERT_TRUE(s.ok()) << s.status();
  std::shared_ptr<transport::Session> shared(*std::move(s));
  Run([this, shared] { Adopt(shared, smux::Role::kClient); });
}

void LinkEndpoint::Adopt(std::shared_ptr<transport::Session> session, smux::Role role) {
  absl::StatusOr<std::unique_ptr<MuxLink>> link =
      MuxLink::Create(loop_.get(), session, role, link_options_, this);
  ASSERT_TRUE(link.ok()) << link.status();
  if (link_ != nullptr) old_links_.push_back(std::move(link_));
  link_ = *std::move(link);
  session_ = std::move(session);
}

uint64_t LinkEndpoint::Seed(uint32_t id, bool reading) const {
  // The dialling side writes the base pattern, the accepting side the reply.
  const bool reply = dialled_ == reading;
  return uint64_t{id} * kSeedStride + (reply ? kReplySeed : 0);
}

uint32_t LinkEndpoint::OpenStream() {
  uint32_t id = 0;
  Run([&] {
    absl::StatusOr<uint32_t> s = link_->OpenStream();
    ASSERT_TRUE(s.ok()) << s.status();
    id = *s;
    std::lock_guard<std::mutex> l(mu_);
    streams_[id];
  });
  return id;
}

void LinkEndpoint::Write(uint32_t id, uint64_t bytes, bool close_after) {
  Run([&] {
    {
      std::lock_guard<std::mutex> l(mu_);
      StreamRecord& r = streams_[id];
      r.to_write += bytes;
      r.close_after_write = close_after;
    }
    PumpWrite(id);
  });
}

void LinkEndpoint::PumpWrite(uint32_t id) {
  if (link_ == nullptr) return;
  if (scratch_.size() < 65536) scratch_.resize(65536);
  while (true) {
    uint64_t left, written;
    bool close_after, write_closed, by_room;
    {
      std::lock_guard<std::mutex> l(mu_);
      by_room = write_by_room_;
      StreamRecord& r = streams_[id];
      left = r.to_write - r.written;
      written = r.written;
      close_after = r.close_after_write;
      write_closed = r.write_closed;
    }
    if (left == 0) {
      if (close_after && !write_closed && link_->CloseWrite(id).ok()) {
        std::lock_guard<std::mutex> l(mu_);
        streams_[id].write_closed = true;
        Notify();
      }
      return;
    }
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, scratch_.size()));
    if (by_room) {
      chunk = std::min(chunk, link_->WritableBytes(id));
      if (chunk == 0) return;  // OnStreamWritable continues
    }
    FillPattern(absl::MakeSpan(scratch_.data(), chunk), Seed(id, /*reading=*/false) + written);
    absl::StatusOr<size_t> n = link_->Write(id, absl::MakeConstSpan(scratch_.data(), chunk));
    std::lock_guard<std::mutex> l(mu_);
    StreamRecord& r = streams_[id];
    if (!n.ok()) return;  // the stream or link is gone
    r.written += *n;
    Notify();
    if (*n < chunk) {
      ++r.short_writes;
      return;  // OnStreamWritable continues
    }
  }
}

size_t LinkEndpoint::Take(uint32_t id, absl::Span<const uint8_t> data) {
  StreamRecord& r = streams_[id];
  const uint64_t seed = Seed(id, /*reading=*/true);
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != PatternByte(seed + r.received + i)) ++r.mismatches;
  }
  r.received += data.size();
  return data.size();
}

void LinkEndpoint::Drain(uint32_t id) {
  while (true) {
    const absl::Span<const uint8_t> front = link_->Peek(id);
    if (front.empty()) return;
    size_t n;
    {
      std::lock_guard<std::mutex> l(mu_);
      n = std::min(front.size(), take_limit_);
      if (n == 0) return;
      Take(id, front.subspan(0, n));
      Notify();
    }
    ASSERT_TRUE(link_->Consume(id, n).ok());
  }
}

void LinkEndpoint::SetTakeLimit(size_t limit) {
  Run([&] {
    std::vector<uint32_t> ids;
    {
      std::lock_guard<std::mutex> l(mu_);
      take_limit_ = limit;
      for (const auto& [id, r] : streams_) ids.push_back(id);
    }
    for (uint32_t id : ids) Drain(id);
  });
}

void LinkEndpoint::SetAccept(bool accept) {
  std::lock_guard<std::mutex> l(mu_);
  accept_ = accept;
}

void LinkEndpoint::SetReply(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  reply_ = bytes;
}

void LinkEndpoint::SetWriteByRoom(bool by_room) {
  std::lock_guard<std::mutex> l(mu_);
  write_by_room_ = by_room;
}

void LinkEndpoint::Close() {
  Run([this] { link_->Close(); });
}

void LinkEndpoint::DestroyEngine() {
  if (listener_ != nullptr) listener_->Close();
  engine_.reset();
}

MuxLinkStats LinkEndpoint::LinkStats() {
  MuxLinkStats s;
  Run([&] {
    if (link_ != nullptr) s = link_->stats();
  });
  return s;
}

size_t LinkEndpoint::Held(uint32_t id) {
  size_t n = 0;
  Run([&] {
    if (link_ != nullptr) n = link_->buffered(id);
  });
  return n;
}

const LinkEndpoint::StreamRecord* LinkEndpoint::StreamOrNull(uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

// ---- MuxLink::Handler (link loop) -----------------------------------------

bool LinkEndpoint::OnStreamOpened(uint32_t id) {
  uint64_t reply;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!accept_) {
      ++refused_;
      Notify();
      return false;
    }
    StreamRecord& r = streams_[id];
    r.accepted = true;
    reply = reply_;
    if (reply > 0) {
      r.to_write += reply;
      r.close_after_write = true;
    }
    Notify();
  }
  if (reply > 0) {
    loop_->Post([this, id] { PumpWrite(id); });
  }
  return true;
}

size_t LinkEndpoint::OnStreamData(uint32_t id, absl::Span<const uint8_t> data) {
  std::lock_guard<std::mutex> l(mu_);
  const size_t n = std::min(data.size(), take_limit_);
  Take(id, data.subspan(0, n));
  Notify();
  return n;
}

void LinkEndpoint::OnStreamFin(uint32_t id) {
  std::lock_guard<std::mutex> l(mu_);
  StreamRecord& r = streams_[id];
  r.fin = true;
  r.received_at_fin = r.received;
  Notify();
}

void LinkEndpoint::OnStreamWritable(uint32_t id) { PumpWrite(id); }

void LinkEndpoint::OnStreamClosed(uint32_t id) {
  std::lock_guard<std::mutex> l(mu_);
  streams_[id].closed = true;
  Notify();
}

void LinkEndpoint::OnPeerClosed() {
  std::lock_guard<std::mutex> l(mu_);
  ++peer_closed_;
  Notify();
}

void LinkEndpoint::OnLinkClosed(const absl::Status& why) {
  std::lock_guard<std::mutex> l(mu_);
  link_closed_ = true;
  link_status_ = why;
  Notify();
}

}  // namespace kcpp::service::internal
