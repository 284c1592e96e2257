#include "transport/testing/transfer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::transport::testing {

void FillPattern(absl::Span<uint8_t> out, uint64_t offset) {
  for (size_t i = 0; i < out.size(); ++i) out[i] = PatternByte(offset + i);
}

absl::Status WritePattern(Session& s, uint64_t bytes, size_t chunk, absl::Time deadline) {
  std::vector<uint8_t> buf(chunk);
  uint64_t done = 0;
  while (done < bytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, bytes - done));
    FillPattern(absl::MakeSpan(buf.data(), n), done);
    absl::StatusOr<size_t> w = s.Write(absl::MakeConstSpan(buf.data(), n), deadline);
    if (!w.ok()) return w.status();
    if (*w != n) return absl::InternalError(absl::StrCat("short write at ", done));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status ReadPattern(Session& s, uint64_t bytes, absl::Time deadline) {
  std::vector<uint8_t> buf(256 * 1024);
  uint64_t done = 0;
  while (done < bytes) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - done));
    absl::StatusOr<size_t> r = s.Read(absl::MakeSpan(buf.data(), want), deadline);
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat("after ", done, " of ", bytes,
                                                          " bytes: ", r.status().message()));
    }
    for (size_t i = 0; i < *r; ++i) {
      if (buf[i] != PatternByte(done + i)) {
        return absl::DataLossError(absl::StrCat("byte ", done + i, " is ", int{buf[i]},
                                                ", expected ", int{PatternByte(done + i)}));
      }
    }
    done += *r;
  }
  return absl::OkStatus();
}

absl::Status Transfer(Session& from, Session& to, uint64_t bytes, absl::Time deadline) {
  absl::Status write_status;
  std::thread writer([&] { write_status = WritePattern(from, bytes, 64 * 1024, deadline); });
  absl::Status read_status = ReadPattern(to, bytes, deadline);
  if (!read_status.ok()) from.Close();  // unblocks the writer
  writer.join();
  if (!read_status.ok()) return read_status;
  return write_status;
}

std::string Describe(const SessionInfo& i) {
  const Counters& c = i.counters;
  return absl::StrCat("conv ", i.conv, " srtt ", i.srtt_ms, " rto ", i.rto_ms,
                      " wnd snd/rcv/rmt/cwnd ", i.send_window, "/", i.receive_window, "/",
                      i.remote_window, "/", i.congestion_window, " waiting ", i.segments_waiting,
                      " queued out/in ", i.outbound_queued_bytes, "/", i.inbound_queued_bytes,
                      " bytes out/in ", c.bytes_sent, "/", c.bytes_received, " datagrams out/in ",
                      c.packets_sent, "/", c.packets_received, " retransmitted ",
                      c.retransmitted_segments, " (lost ", c.lost_segments, " fast ",
                      c.fast_retransmitted_segments, " early ", c.early_retransmitted_segments,
                      ") acked late ", c.late_acknowledged_segments, " fec recovered ",
                      c.fec_recovered, " parity sent/withheld ", c.fec_parity_sent, "/",
                      c.fec_parity_withheld, " sending ", i.fec_parity_sending, " loss estimate ",
                      i.fec_loss_estimate, " checksum errors ", c.checksum_errors, " | ",
                      i.congestion, " pacing ", i.pacing_rate, " B/s");
}

absl::Status PeerProtocolClient(Session& s, uint64_t bytes, absl::Time deadline) {
  uint8_t header[8];
  for (int i = 0; i < 8; ++i) header[i] = static_cast<uint8_t>(bytes >> (8 * i));
  absl::StatusOr<size_t> w = s.Write(header, deadline);
  if (!w.ok()) return w.status();
  return Transfer(s, s, bytes, deadline);
}

absl::Status PeerProtocolServe(Session& s, absl::Time deadline) {
  uint8_t header[8];
  size_t got = 0;
  while (got < 8) {
    absl::StatusOr<size_t> n = s.Read(absl::MakeSpan(header + got, 8 - got), deadline);
    if (!n.ok()) return n.status();
    got += *n;
  }
  uint64_t left = 0;
  for (int i = 0; i < 8; ++i) left |= uint64_t{header[i]} << (8 * i);
  std::vector<uint8_t> buf(64 * 1024);
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
    absl::StatusOr<size_t> n = s.Read(absl::MakeSpan(buf.data(), want), deadline);
    if (!n.ok()) return n.status();
    absl::StatusOr<size_t> w = s.Write(absl::MakeConstSpan(buf.data(), *n), deadline);
    if (!w.ok()) return w.status();
    left -= *n;
  }
  return absl::OkStatus();
}

struct AsyncEchoServer::Conn {
  std::unique_ptr<Session> session;
  // Bytes read but not yet written back (the outbound queue was full).
  std::vector<uint8_t> pending;
  void Pump() {
    uint8_t buf[8192];
    while (true) {
      if (!pending.empty()) {
        absl::StatusOr<size_t> w = session->TryWrite(pending);
        if (!w.ok()) return;  // full: on_writable resumes
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(*w));
        if (!pending.empty()) return;
      }
      absl::StatusOr<size_t> n = session->TryRead(absl::MakeSpan(buf));
      if (!n.ok()) return;
      pending.assign(buf, buf + *n);
    }
  }
};

AsyncEchoServer::AsyncEchoServer(Listener& listener) : listener_(listener) {
  listener_.SetAcceptCallback([this](std::unique_ptr<Session> s) {
    // The callbacks own the connection state: it lives as long as the
    // session's loop side does.
    auto c = std::make_shared<Conn>();
    c->session = std::move(s);
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns_.push_back(c);
    }
    SessionCallbacks cb;
    cb.on_readable = [c] { c->Pump(); };
    cb.on_writable = [c] { c->Pump(); };
    c->session->SetCallbacks(std::move(cb));
  });
}

AsyncEchoServer::~AsyncEchoServer() {
  listener_.SetAcceptCallback([](std::unique_ptr<Session>) {});  // later ones are dropped
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : conns_) c->session->Close();
  conns_.clear();
}

int AsyncEchoServer::sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(conns_.size());
}

EchoServer::EchoServer(Listener& listener) : listener_(listener) {
  acceptor_ = std::thread([this] {
    while (true) {
      absl::StatusOr<std::unique_ptr<Session>> s = listener_.Accept();
      if (!s.ok()) return;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mu_);
      Session* raw = s->release();
      live_.push_back(raw);
      workers_.emplace_back([raw] {
        std::vector<uint8_t> buf(64 * 1024);
        while (true) {
          absl::StatusOr<size_t> n = raw->Read(absl::MakeSpan(buf));
          if (!n.ok()) return;
          if (!raw->Write(absl::MakeConstSpan(buf.data(), *n)).ok()) return;
        }
      });
    }
  });
}

EchoServer::~EchoServer() { Stop(); }

void EchoServer::Stop() {
  if (stopping_.exchange(true)) return;
  listener_.Close();
  acceptor_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (Session* s : live_) s->Close();  // unblocks the workers
  for (std::thread& t : workers_) t.join();
  for (Session* s : live_) delete s;
}

}  // namespace kcpp::transport::testing
