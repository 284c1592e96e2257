#include "tests/hardening/sockets/kcpd_process.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace kcpp::hardening {

TempDir::TempDir() {
  char tmpl[] = "/tmp/kcpd-hd-XXXXXX";
  const char* made = ::mkdtemp(tmpl);
  EXPECT_NE(made, nullptr);
  path_ = made != nullptr ? made : "/nonexistent";
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::unique_ptr<KcpdProcess> KcpdProcess::Start(const std::string& kcpd,
                                                const std::string& control_socket,
                                                const std::string& log_path,
                                                const std::vector<std::string>& extra) {
  // sh only redirects stderr to the log file, then becomes kcpd.
  std::vector<std::string> argv = {"/bin/sh", "-c", "log=$1; shift; exec \"$@\" 2>>\"$log\"",
                                   "sh",      log_path, kcpd,
                                   "--backend=fake", "--control_socket=" + control_socket,
                                   "--ready_fd=1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::unique_ptr<KcpdProcess> p(new KcpdProcess);
  p->control_socket_ = control_socket;
  auto started = kcpp::test::Subprocess::Start(argv);
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return nullptr;
  p->process_ = *std::move(started);
  const std::optional<std::string> line = p->process_->ReadLine();
  p->ready_ = line.has_value() && *line == "ready";
  return p;
}

KcpdProcess::~KcpdProcess() = default;

int KcpdProcess::Stop() {
  process_->Kill(SIGTERM);
  return process_->Wait().exit_code;
}

int KcpdProcess::Wait() { return process_->Wait().exit_code; }

std::unique_ptr<kcpp::v1::Kcpd::Stub> KcpdStub(const std::string& control_socket) {
  return kcpp::v1::Kcpd::NewStub(
      grpc::CreateChannel("unix:" + control_socket, grpc::InsecureChannelCredentials()));
}

grpc::Status GetStats(const std::string& control_socket, absl::Duration deadline,
                      kcpp::v1::Stats* stats) {
  auto stub = KcpdStub(control_socket);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline)));
  // Wait for the connection (a refused or dropped one is retried) until the deadline.
  context.set_wait_for_ready(true);
  return stub->GetStats(&context, kcpp::v1::GetStatsRequest(), stats);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t CountLines(const std::string& path) {
  const std::string text = ReadFile(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

int OpenDescriptors(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace kcpp::hardening
