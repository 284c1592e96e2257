// The harness tests/sidecar's tests drive real kcpd processes with: it
// starts kcpd (transport backend, its own control socket) on loopback, calls
// its gRPC API, records its session events, plays an application on its
// data sockets (the attach handshake), and starts the real kcp-go as a peer.
// A step that fails is a gtest failure of the calling test, and what it
// returns then is empty (an invalid descriptor, an empty address or
// message), for the test to stop at with an ASSERT where it cannot go on.
//
// One harness for every test here, so that what "a kcpd under test" is (its
// flags, where its log goes, how an application attaches) is said once.
#ifndef KCPP_TESTS_SIDECAR_KCPD_HARNESS_H_
#define KCPP_TESTS_SIDECAR_KCPD_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "kcpd/testing/test_util.h"
#include "proto/kcpp/v1/kcpd.grpc.pb.h"
#include "testing/subprocess.h"

namespace kcpp::sidecar {

// For main(), after ::testing::InitGoogleTest: the remaining arguments must
// be the binaries named in `names` (Bazel's $(location)s), in that order.
// Records their absolute paths for Binary() and ignores SIGPIPE (the tests
// write to sockets whose far end may close first). False, after printing
// the usage, if the arguments do not match.
bool InitBinaries(int argc, char** argv, const std::vector<std::string>& names);
// The path of a binary InitBinaries recorded ("kcpd", "kcpctl", ...).
// Kcpd starts Binary("kcpd").
const std::string& Binary(const std::string& name);

// The key every session and peer of these tests shares.
inline constexpr char kKey[] = "sidecar test key";

// aes with kKey, fast3, FEC 10+3: the settings tests/interop's kcpgo_peer
// server (StartKcpgoServer) uses too. OOB needs the FEC.
v1::SessionOptions FecOptions();

// n bytes of a pattern. Two seeds less than 256 apart differ at every
// offset (the seed counts seed * 7 mod 256, and 7 is odd).
std::string Pattern(size_t n, int seed);

using service::testing::ReadFile;
using service::testing::WriteFile;

// The session a stream belongs to: "sessions/3" for "sessions/3/streams/1".
std::string SessionOf(const v1::Stream& stream);

// Every event of one kcpd, collected by a watch running on its own thread
// from before the constructor returns, so no event after it is missed.
class EventLog {
 public:
  explicit EventLog(v1::Kcpd::Stub* stub);
  ~EventLog();
  // The first event of `type` about `name` (a session or stream name; ""
  // for any), once it arrived; nullopt if the watch ended first (kcpd
  // exited, or after 50 s, which bounds a failing test).
  std::optional<v1::SessionEvent> WaitFor(v1::SessionEvent::Type type,
                                          const std::string& name = "");

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::SessionEvent>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<v1::SessionEvent> events_;  // guarded by mu_
  bool ended_ = false;                    // guarded by mu_
};

// One kcpd process with the transport backend, ready (its control socket
// listening, its event watch registered) once constructed. The destructor
// SIGKILLs it if it still runs.
class Kcpd {
 public:
  Kcpd();
  ~Kcpd();

  // kcpd's stderr so far.
  std::string log() const;
  std::string control() const { return dir_.path() + "/control.sock"; }
  v1::Kcpd::Stub* stub() { return stub_.get(); }
  EventLog& events() { return *events_; }
  service::testing::Process& process() { return *process_; }

  // A listener "in" on 127.0.0.1 (any port) with `o`; its bound address.
  std::string Listen(const v1::SessionOptions& o);
  v1::DialSessionResponse Dial(const std::string& address, const v1::SessionOptions& o);
  v1::Stream OpenStream(const std::string& session);
  // GetSession (SESSION_VIEW_FULL); nullopt if the call failed (no such
  // session).
  std::optional<v1::Session> GetSession(const std::string& name);
  // The same for a session that must exist: a test failure if it does not.
  v1::Session Session(const std::string& name);
  // Re-reads session `name` until `done` holds for it (its counters change
  // on kcpd's loop, outside any call); a test failure after 20 s.
  v1::Session AwaitSession(const std::string& name,
                           const std::function<bool(const v1::Session&)>& done);
  std::vector<v1::Session> Sessions();
  v1::Stats Stats();
  // The stream the peer opened, as its STREAM_ACCEPTED event announced it
  // (the first one about `session_or_stream`, or the first of all).
  v1::Stream Accepted(const std::string& session_or_stream = "");
  grpc::Status AttachOob(const std::string& session, v1::DataAttachment* attachment);
  // AttachOob, then the handshake on its data socket: the application's
  // end, attached (every datagram from now on reaches it).
  UniqueFd AttachOobApp(const std::string& session);

 private:
  service::testing::ShortTempDir dir_;   // the control socket
  service::testing::ShortTempDir logs_;  // kcpd.log
  std::unique_ptr<service::testing::Process> process_;
  std::unique_ptr<v1::Kcpd::Stub> stub_;
  std::unique_ptr<EventLog> events_;
};

// The application side of a data attachment: connects to its socket and
// presents its token; the connection once kcpd answered "OK\n" (on a stream
// socket nothing after the answer is read), an invalid one (and a test
// failure) otherwise.
UniqueFd Attach(const v1::DataAttachment& attachment);
inline UniqueFd Attach(const v1::Stream& stream) { return Attach(stream.attachment()); }

// `dialler` dials a listener of `listener` (Listen) with `o`; the dialled
// session and its first stream, and the listener's end of that stream.
struct Link {
  v1::DialSessionResponse dialled;
  v1::Stream accepted;
};
Link ListenAndDial(Kcpd& dialler, Kcpd& listener, const v1::SessionOptions& o);

// ---- The real kcp-go ---------------------------------------------------------

// Starts a kcp-go peer (`argv`) that prints "LISTENING <address>" once it
// listens; that address, or "" (and a test failure) if it did not.
std::string StartPeer(const std::vector<std::string>& argv,
                      std::unique_ptr<test::Subprocess>* peer);
// tests/interop's kcpgo_peer (Binary("kcpgo_peer")) as a server with
// FecOptions()'s settings: it reads an EchoHeader, then echoes that many
// bytes.
std::string StartKcpgoServer(std::unique_ptr<test::Subprocess>* peer);
// kcpgo_peer's request: n as 8 bytes, little-endian.
std::string EchoHeader(size_t n);

}  // namespace kcpp::sidecar

#endif  // KCPP_TESTS_SIDECAR_KCPD_HARNESS_H_
