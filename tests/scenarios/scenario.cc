#include "tests/scenarios/scenario.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "transport/engine.h"
#include "transport/testing/transfer.h"

namespace kcpp::scenarios {
namespace {

using transport::Session;

std::string DescribeCounters(const transport::SessionInfo& i) {
  const transport::Counters& c = i.counters;
  return absl::StrCat("conv=", i.conv, " remote=", i.remote_address.ToString(),
                      " state=", static_cast<int>(i.state), " bytes_sent=", c.bytes_sent,
                      " bytes_received=", c.bytes_received, " pkts_sent=", c.packets_sent,
                      " pkts_received=", c.packets_received, " retrans=", c.retransmitted_segments,
                      " lost=", c.lost_segments, " fast_retrans=", c.fast_retransmitted_segments,
                      " repeat=", c.repeat_segments, " fec_recovered=", c.fec_recovered,
                      " csum_err=", c.checksum_errors, " input_err=", c.input_errors,
                      " kcp_input_err=", c.kcp_input_errors,
                      " segments_waiting=", i.segments_waiting, " srtt=", i.srtt_ms,
                      " rto=", i.rto_ms);
}

// Accepts every session of a listener and echoes each on its own thread.
class EchoAll {
 public:
  EchoAll(transport::Listener& listener, absl::Time deadline)
      : listener_(listener), deadline_(deadline) {
    acceptor_ = std::thread([this] {
      while (true) {
        absl::StatusOr<std::unique_ptr<Session>> s = listener_.Accept(deadline_);
        if (!s.ok()) return;
        std::lock_guard<std::mutex> lock(mu_);
        Session* raw = s->get();
        sessions_.push_back(*std::move(s));
        workers_.emplace_back([raw, deadline = deadline_] {
          std::vector<uint8_t> buf(64 * 1024);
          while (true) {
            absl::StatusOr<size_t> n = raw->Read(absl::MakeSpan(buf), deadline);
            if (!n.ok()) return;
            if (!raw->Write(absl::MakeConstSpan(buf.data(), *n), deadline).ok()) return;
          }
        });
      }
    });
  }

  int accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(sessions_.size());
  }

  std::optional<transport::SessionInfo> FirstInfo() {
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.empty()) return std::nullopt;
    absl::StatusOr<transport::SessionInfo> i = sessions_.front()->GetInfo();
    if (!i.ok()) return std::nullopt;
    return *i;
  }

  // Closes the listener and every session, joins every thread.
  void Stop() {
    listener_.Close();
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : sessions_) s->Close();  // unblocks the workers
    for (std::thread& t : workers_) t.join();
    sessions_.clear();
  }

 private:
  transport::Listener& listener_;
  const absl::Time deadline_;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::thread> workers_;
};

// Writes `chunk` bytes of the pattern, reads their echo and checks it, until
// `bytes` went both ways.
absl::Status PingPong(Session& s, uint64_t bytes, size_t chunk, absl::Time deadline) {
  std::vector<uint8_t> out(chunk), in(chunk);
  for (uint64_t done = 0; done < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, bytes - done));
    transport::testing::FillPattern(absl::MakeSpan(out.data(), n), done);
    absl::StatusOr<size_t> w = s.Write(absl::MakeConstSpan(out.data(), n), deadline);
    if (!w.ok()) return w.status();
    for (size_t got = 0; got < n;) {
      absl::StatusOr<size_t> r = s.Read(absl::MakeSpan(in.data() + got, n - got), deadline);
      if (!r.ok()) {
        return absl::Status(r.status().code(), absl::StrCat("after ", done + got, " of ", bytes,
                                                            " bytes: ", r.status().message()));
      }
      got += *r;
    }
    for (size_t i = 0; i < n; ++i) {
      if (in[i] != out[i]) {
        return absl::DataLossError(
            absl::StrCat("byte ", done + i, " is ", int{in[i]}, ", expected ", int{out[i]}));
      }
    }
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace

Scenario Scenario::Base(std::string name) {
  Scenario s;
  s.name = std::move(name);
  transport::SessionOptions o;
  o.crypt = "aes";
  o.key = "kcpp scenario key";
  o.nodelay = transport::NoDelay::Fast3();
  o.stream_mode = true;
  o.send_window = o.receive_window = 512;
  o.socket_buffer_bytes = 4 << 20;
  s.client = o;
  s.server.session = o;
  return s;
}

std::string Outcome::Describe() const {
  std::string out =
      absl::StrCat("transfer: ", transfer.ToString(), "\nacknowledged: ", acknowledged.ToString(),
                   "\naccepted sessions: ", accepted);
  absl::StrAppend(&out, "\nlistener: created=", listener.sessions_created,
                  " accepted=", listener.sessions_accepted,
                  " replaced=", listener.sessions_replaced, " live=", listener.live_sessions,
                  " pending=", listener.pending_accept, " drop_csum=", listener.dropped_checksum,
                  " drop_no_conv=", listener.dropped_no_conv,
                  " drop_conv_mismatch=", listener.dropped_conv_mismatch,
                  " drop_backlog=", listener.dropped_backlog_full,
                  " drop_limit=", listener.dropped_session_limit,
                  " drop_truncated=", listener.dropped_truncated);
  absl::StrAppend(&out, "\nrelay: received=", relay.received, " forwarded=", relay.forwarded,
                  " dropped=", relay.dropped, " duplicated=", relay.duplicated,
                  " reordered=", relay.reordered, " corrupted=", relay.corrupted,
                  " rebinds=", relay.rebinds);
  if (client_info) absl::StrAppend(&out, "\nclient: ", DescribeCounters(*client_info));
  if (server_info) absl::StrAppend(&out, "\nserver: ", DescribeCounters(*server_info));
  return out;
}

double DropFraction(const tools::LossyRelay::Stats& s) {
  return s.received == 0 ? 0.0 : static_cast<double>(s.dropped) / static_cast<double>(s.received);
}

Outcome RunEcho(const Scenario& scenario) {
  Outcome out;
  const absl::Time deadline = absl::Now() + scenario.guard;
  transport::EngineOptions eo;
  eo.loops = scenario.engine_loops;
  eo.name = "scn";
  absl::StatusOr<std::unique_ptr<transport::Engine>> engine = transport::Engine::Create(eo);
  if (!engine.ok()) {
    out.transfer = engine.status();
    return out;
  }
  absl::StatusOr<std::unique_ptr<transport::Listener>> listener =
      (*engine)->Listen("127.0.0.1:0", scenario.server);
  if (!listener.ok()) {
    out.transfer = listener.status();
    return out;
  }
  tools::LossyRelay::Options ro = scenario.relay;
  ro.target = (*listener)->local_address();
  absl::StatusOr<std::unique_ptr<tools::LossyRelay>> relay = tools::LossyRelay::Start(ro);
  if (!relay.ok()) {
    out.transfer = relay.status();
    return out;
  }
  EchoAll server(**listener, deadline);
  absl::StatusOr<std::unique_ptr<Session>> client =
      (*engine)->Dial((*relay)->address().ToString(), scenario.client);
  if (!client.ok()) {
    out.transfer = client.status();
  } else {
    out.transfer = scenario.ping_pong_bytes > 0
                       ? PingPong(**client, scenario.bytes, scenario.ping_pong_bytes, deadline)
                       : transport::testing::Transfer(**client, **client, scenario.bytes, deadline);
    out.acknowledged = out.transfer.ok()
                           ? (*client)->WaitAcknowledged(deadline)
                           : absl::CancelledError("not waited for: the transfer failed");
    absl::StatusOr<transport::SessionInfo> info = (*client)->GetInfo();
    if (info.ok()) out.client_info = *info;
  }
  out.server_info = server.FirstInfo();
  out.accepted = server.accepted();
  out.listener = (*listener)->GetStats();
  out.relay = (*relay)->stats();
  // Every run leaves its numbers in the test log, passed or not.
  std::printf("scenario %s:\n%s\n", scenario.name.c_str(), out.Describe().c_str());
  server.Stop();
  if (client.ok()) client->reset();
  (*relay)->Stop();
  engine->reset();
  return out;
}

}  // namespace kcpp::scenarios
