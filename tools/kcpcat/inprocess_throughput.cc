// inprocess_throughput: the transport kcpcat runs on, without kcpcat's pipes
// — the yardstick of kcpcat_benchmark.py (bench/README.md "kcpcat").
//
// Two transport::Engine in this process (one per side, as kcpcat's client
// and server are two processes), one session dialled from one to a listener
// on the other, raw KCP stream mode; an application thread writes --bytes
// of zeros with the blocking Write in kcpcat's 256 KiB chunks, another reads
// them with the blocking Read. Session flags are kcpcat's, with kcpcat's
// defaults. Prints "OK <bytes> <seconds> <MB/s>", timed from the first Write
// until the reader has the last byte.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "transport/engine.h"
#include "transport/listener.h"

ABSL_FLAG(std::string, crypt, "aes", "cipher (kcpcat's --crypt)");
ABSL_FLAG(std::string, key, "it's a secrect", "pre-shared passphrase");
ABSL_FLAG(std::string, mode, "fast", "normal, fast, fast2 or fast3");
ABSL_FLAG(int, mtu, 1350, "largest UDP payload");
ABSL_FLAG(int, sndwnd, 128, "send window (segments)");
ABSL_FLAG(int, rcvwnd, 512, "receive window (segments)");
ABSL_FLAG(int, datashard, 10, "FEC data shards (0 with --parityshard 0: FEC off)");
ABSL_FLAG(int, parityshard, 3, "FEC parity shards");
ABSL_FLAG(int, sockbuf, 4194304, "socket buffer bytes");
ABSL_FLAG(int, loops, 0, "event-loop threads per engine (0: one per core, as kcpcat)");
ABSL_FLAG(int64_t, bytes, int64_t{1} << 30, "bytes to move");

namespace {

using kcpp::transport::Engine;
using kcpp::transport::Session;
using kcpp::transport::SessionOptions;

int Run() {
  SessionOptions o;
  o.crypt = absl::GetFlag(FLAGS_crypt);
  o.key = absl::GetFlag(FLAGS_key);
  absl::StatusOr<kcpp::transport::NoDelay> nd =
      kcpp::transport::NoDelay::FromMode(absl::GetFlag(FLAGS_mode));
  if (!nd.ok()) {
    std::fprintf(stderr, "inprocess_throughput: %s\n", nd.status().ToString().c_str());
    return 2;
  }
  o.nodelay = *nd;
  o.mtu = absl::GetFlag(FLAGS_mtu);
  o.send_window = absl::GetFlag(FLAGS_sndwnd);
  o.receive_window = absl::GetFlag(FLAGS_rcvwnd);
  o.data_shards = absl::GetFlag(FLAGS_datashard);
  o.parity_shards = absl::GetFlag(FLAGS_parityshard);
  if (o.data_shards == 0 || o.parity_shards == 0) o.data_shards = o.parity_shards = 0;
  o.socket_buffer_bytes = absl::GetFlag(FLAGS_sockbuf);
  o.stream_mode = true;
  if (absl::Status s = o.Validate(); !s.ok()) {
    std::fprintf(stderr, "inprocess_throughput: %s\n", s.ToString().c_str());
    return 2;
  }
  kcpp::transport::EngineOptions eo;
  eo.loops = absl::GetFlag(FLAGS_loops);
  absl::StatusOr<std::unique_ptr<Engine>> server = Engine::Create(eo);
  absl::StatusOr<std::unique_ptr<Engine>> client = Engine::Create(eo);
  if (!server.ok() || !client.ok()) {
    std::fprintf(stderr, "inprocess_throughput: no engine\n");
    return 1;
  }
  kcpp::transport::ListenerOptions lo;
  lo.session = o;
  absl::StatusOr<std::unique_ptr<kcpp::transport::Listener>> l =
      (*server)->Listen("127.0.0.1:0", lo);
  if (!l.ok()) {
    std::fprintf(stderr, "inprocess_throughput: %s\n", l.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Session>> dialled =
      (*client)->Dial((*l)->local_address().ToString(), o);
  if (!dialled.ok()) {
    std::fprintf(stderr, "inprocess_throughput: %s\n", dialled.status().ToString().c_str());
    return 1;
  }
  const int64_t total = absl::GetFlag(FLAGS_bytes);
  const absl::Time start = absl::Now();
  std::thread writer([&] {
    std::vector<uint8_t> buf(256 * 1024);
    for (int64_t sent = 0; sent < total;) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(buf.size(), total - sent));
      absl::StatusOr<size_t> w = (*dialled)->Write(absl::MakeConstSpan(buf.data(), n));
      if (!w.ok()) return;
      sent += static_cast<int64_t>(*w);
    }
  });
  // The session is accepted when its first datagram arrives.
  absl::StatusOr<std::unique_ptr<Session>> accepted = (*l)->Accept(absl::Now() + absl::Seconds(10));
  int64_t got = 0;
  if (accepted.ok()) {
    std::vector<uint8_t> buf(256 * 1024);
    while (got < total) {
      absl::StatusOr<size_t> r = (*accepted)->Read(absl::MakeSpan(buf));
      if (!r.ok()) break;
      got += static_cast<int64_t>(*r);
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  (*dialled)->Close();
  writer.join();
  if (got != total) {
    std::fprintf(stderr, "inprocess_throughput: %lld of %lld bytes arrived\n",
                 static_cast<long long>(got), static_cast<long long>(total));
    return 1;
  }
  std::printf("OK %lld %.6f %.1f\n", static_cast<long long>(total), seconds,
              static_cast<double>(total) / seconds / 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return Run();
}
