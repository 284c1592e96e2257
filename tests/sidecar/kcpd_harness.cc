#include "tests/sidecar/kcpd_harness.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/unix_socket.h"
#include "gtest/gtest.h"
#include "kcpd/internal/attach_protocol.h"

namespace kcpp::sidecar {
namespace {

using service::testing::Process;
using v1::SessionEvent;

// A unary method of kcpd's API, such as &v1::Kcpd::Stub::GetStats.
template <typename Request, typename Response>
using Method = grpc::Status (v1::Kcpd::Stub::*)(grpc::ClientContext*, const Request&, Response*);

// Calls `method`: its status, the response in `*response`.
template <typename Request, typename Response>
grpc::Status TryCall(v1::Kcpd::Stub* stub, Method<Request, Response> method, const Request& request,
                     Response* response) {
  grpc::ClientContext c;
  return (stub->*method)(&c, request, response);
}

// The same for a call that must succeed: a test failure (with kcpd's
// message) if it does not; the response (empty then).
template <typename Request, typename Response>
Response Call(v1::Kcpd::Stub* stub, Method<Request, Response> method, const Request& request) {
  Response response;
  const grpc::Status s = TryCall(stub, method, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response;
}

v1::GetSessionRequest FullView(const std::string& name) {
  v1::GetSessionRequest r;
  r.set_name(name);
  r.set_view(v1::SESSION_VIEW_FULL);
  return r;
}

std::map<std::string, std::string>& Binaries() {
  static auto* binaries = new std::map<std::string, std::string>();
  return *binaries;
}

}  // namespace

bool InitBinaries(int argc, char** argv, const std::vector<std::string>& names) {
  if (static_cast<size_t>(argc) != names.size() + 1) {
    std::string usage = absl::StrCat("usage: ", argv[0]);
    for (const std::string& name : names) absl::StrAppend(&usage, " <", name, ">");
    std::fprintf(stderr, "%s\n", usage.c_str());
    return false;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    Binaries()[names[i]] = std::filesystem::absolute(argv[i + 1]);
  }
  signal(SIGPIPE, SIG_IGN);
  return true;
}

const std::string& Binary(const std::string& name) {
  const auto it = Binaries().find(name);
  if (it == Binaries().end()) {
    // A test asking for a binary its BUILD rule does not pass: a mistake in
    // the test, not a failure of what it tests.
    std::fprintf(stderr, "no binary \"%s\" on the command line (InitBinaries)\n", name.c_str());
    std::abort();
  }
  return it->second;
}

v1::SessionOptions FecOptions() {
  v1::SessionOptions o;
  o.set_crypt("aes");
  o.set_key(kKey);
  o.set_mode(v1::MODE_FAST3);
  o.set_data_shards(10);
  o.set_parity_shards(3);
  return o;
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + seed * 7 + (i >> 9)) & 0xff);
  return s;
}

std::string SessionOf(const v1::Stream& stream) {
  return stream.name().substr(0, stream.name().find("/streams/"));
}

// ---- EventLog -----------------------------------------------------------------

EventLog::EventLog(v1::Kcpd::Stub* stub) {
  // Bounds a failing test; a passing one ends the watch itself.
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(50));
  reader_ = stub->WatchSessionEvents(&context_, v1::WatchSessionEventsRequest());
  reader_->WaitForInitialMetadata();  // registered: nothing later is missed
  thread_ = std::thread([this] {
    SessionEvent e;
    while (reader_->Read(&e)) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
      changed_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    changed_.notify_all();
  });
}

EventLog::~EventLog() {
  context_.TryCancel();
  thread_.join();
}

std::optional<SessionEvent> EventLog::WaitFor(SessionEvent::Type type, const std::string& name) {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<SessionEvent> found;
  changed_.wait(lock, [&] {
    for (const SessionEvent& e : events_) {
      if (e.type() == type &&
          (name.empty() || e.session().name() == name || e.stream().name() == name)) {
        found = e;
        return true;
      }
    }
    return ended_;
  });
  return found;
}

// ---- Kcpd ---------------------------------------------------------------------

Kcpd::Kcpd() {
  Process::Options o;
  // Twice the default shutdown timeout: a SIGTERM in the middle of a
  // transfer must drain what kcpd took, even on a loaded machine.
  o.argv = {Binary("kcpd"), "--control_socket=" + control(), "--ready_fd=3", "--loops=1",
            "--shutdown_timeout=20s"};
  o.stderr_path = logs_.path() + "/kcpd.log";
  o.ready_fd = 3;
  process_ = Process::Start(o);
  EXPECT_EQ(process_->WaitReady(), "ready") << "kcpd did not start:\n" << log();
  stub_ = v1::Kcpd::NewStub(
      grpc::CreateChannel("unix:" + control(), grpc::InsecureChannelCredentials()));
  events_ = std::make_unique<EventLog>(stub_.get());
}

// The watch ends before the process does.
Kcpd::~Kcpd() { events_.reset(); }

std::string Kcpd::log() const { return ReadFile(logs_.path() + "/kcpd.log"); }

std::string Kcpd::Listen(const v1::SessionOptions& o) {
  v1::CreateListenerRequest r;
  r.set_listener_id("in");
  r.mutable_listener()->set_address("127.0.0.1:0");
  *r.mutable_listener()->mutable_session_options() = o;
  return Call(stub_.get(), &v1::Kcpd::Stub::CreateListener, r).bound_address();
}

v1::DialSessionResponse Kcpd::Dial(const std::string& address, const v1::SessionOptions& o) {
  v1::DialSessionRequest r;
  r.set_remote_address(address);
  *r.mutable_options() = o;
  return Call(stub_.get(), &v1::Kcpd::Stub::DialSession, r);
}

v1::Stream Kcpd::OpenStream(const std::string& session) {
  v1::OpenStreamRequest r;
  r.set_parent(session);
  return Call(stub_.get(), &v1::Kcpd::Stub::OpenStream, r);
}

std::optional<v1::Session> Kcpd::GetSession(const std::string& name) {
  v1::Session session;
  if (!TryCall(stub_.get(), &v1::Kcpd::Stub::GetSession, FullView(name), &session).ok()) {
    return std::nullopt;
  }
  return session;
}

v1::Session Kcpd::Session(const std::string& name) {
  return Call(stub_.get(), &v1::Kcpd::Stub::GetSession, FullView(name));
}

v1::Session Kcpd::AwaitSession(const std::string& name,
                               const std::function<bool(const v1::Session&)>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  v1::Session s = Session(name);
  while (!done(s) && absl::Now() < deadline) s = Session(name);
  EXPECT_TRUE(done(s)) << s.DebugString();
  return s;
}

std::vector<v1::Session> Kcpd::Sessions() {
  v1::ListSessionsRequest r;
  r.set_page_size(1000);
  const v1::ListSessionsResponse response = Call(stub_.get(), &v1::Kcpd::Stub::ListSessions, r);
  return {response.sessions().begin(), response.sessions().end()};
}

v1::Stats Kcpd::Stats() {
  return Call(stub_.get(), &v1::Kcpd::Stub::GetStats, v1::GetStatsRequest());
}

v1::Stream Kcpd::Accepted(const std::string& session_or_stream) {
  std::optional<SessionEvent> e =
      events_->WaitFor(SessionEvent::STREAM_ACCEPTED, session_or_stream);
  EXPECT_TRUE(e.has_value()) << "no STREAM_ACCEPTED; kcpd's log:\n" << log();
  return e.has_value() ? e->stream() : v1::Stream();
}

grpc::Status Kcpd::AttachOob(const std::string& session, v1::DataAttachment* attachment) {
  v1::AttachOobRequest r;
  r.set_session(session);
  return TryCall(stub_.get(), &v1::Kcpd::Stub::AttachOob, r, attachment);
}

UniqueFd Kcpd::AttachOobApp(const std::string& session) {
  v1::DataAttachment a;
  const grpc::Status s = AttachOob(session, &a);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!s.ok()) return UniqueFd();
  EXPECT_EQ(a.socket_type(), v1::DataAttachment::SOCKET_TYPE_SEQPACKET);
  return Attach(a);
}

// ---- Applications ---------------------------------------------------------------

UniqueFd Attach(const v1::DataAttachment& a) {
  const bool seqpacket = a.socket_type() == v1::DataAttachment::SOCKET_TYPE_SEQPACKET;
  absl::StatusOr<UniqueFd> fd =
      kcpp::ConnectUnix(a.socket_path(), seqpacket ? SOCK_SEQPACKET : SOCK_STREAM);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return UniqueFd();
  const std::string request = service::internal::FormatAttachRequest(a.token());
  EXPECT_EQ(::send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string answer;
  service::internal::AttachResponseParse parse;
  while (parse.status == service::internal::AttachResponseParse::Status::kNeedMore) {
    char buf[service::internal::kMaxAttachResponseSize];
    // One byte at a time on a stream socket: nothing after the answer is
    // taken. A packet socket's answer is one packet.
    const ssize_t n =
        seqpacket ? ::recv(fd->get(), buf, sizeof(buf), 0) : ::read(fd->get(), buf, 1);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
    parse = service::internal::ParseAttachResponse(answer);
  }
  // Exactly "OK\n": on a packet socket, nothing else in the answer's packet.
  if (answer != service::internal::FormatAttachOk()) {
    ADD_FAILURE() << "the attach handshake did not end in \"OK\\n\": \"" << answer << "\"";
    return UniqueFd();
  }
  return *std::move(fd);
}

Link ListenAndDial(Kcpd& dialler, Kcpd& listener, const v1::SessionOptions& o) {
  Link link;
  link.dialled = dialler.Dial(listener.Listen(o), o);
  link.accepted = listener.Accepted();
  return link;
}

// ---- The real kcp-go -------------------------------------------------------------

std::string StartPeer(const std::vector<std::string>& argv,
                      std::unique_ptr<test::Subprocess>* peer) {
  absl::StatusOr<std::unique_ptr<test::Subprocess>> p = test::Subprocess::Start(argv);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return "";
  *peer = *std::move(p);
  constexpr absl::string_view kListening = "LISTENING ";
  std::optional<std::string> line = (*peer)->ReadLine();
  if (!line.has_value() || !absl::StartsWith(*line, kListening)) {
    ADD_FAILURE() << argv[0] << " did not listen: " << line.value_or("(no output)");
    return "";
  }
  return line->substr(kListening.size());
}

std::string StartKcpgoServer(std::unique_ptr<test::Subprocess>* peer) {
  return StartPeer({Binary("kcpgo_peer"), "-role", "server", "-addr", "127.0.0.1:0", "-crypt",
                    "aes", "-key", kKey, "-mode", "fast3", "-ds", "10", "-ps", "3"},
                   peer);
}

std::string EchoHeader(size_t n) {
  std::string header(8, '\0');
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((uint64_t{n} >> (8 * i)) & 0xff);
  return header;
}

}  // namespace kcpp::sidecar
