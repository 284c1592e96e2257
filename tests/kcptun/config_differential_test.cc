// kcpd reads kcptun's command lines and JSON files exactly as Debian's
// kcptun does: both kcptun binaries print their effective configuration at
// start-up (after the -c file and the -mode preset); the same arguments go
// through LoadKcptunConfig and every printed value must match.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/kcptun/harness.h"
#include "tunnel/kcptun_config.h"

namespace kcpp::test {
namespace {

using service::tunnel::KcptunConfig;
using service::tunnel::TunnelRole;

// "2026/11/25 08:51:46 main.go:312: encryption: aes" -> {"encryption", "aes"}.
std::map<std::string, std::string> ParseKcptunLog(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> m;
  for (const std::string& line : lines) {
    const size_t go = line.find(".go:");
    if (go == std::string::npos) continue;
    const size_t start = line.find(": ", go);
    if (start == std::string::npos) continue;
    const std::string rest = line.substr(start + 2);
    const size_t colon = rest.find(':');
    if (colon == std::string::npos) continue;
    std::string value = rest.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    m[rest.substr(0, colon)] = value;
  }
  return m;
}

// What kcptun would print for `c`, in its own words.
std::map<std::string, std::string> AsKcptunPrintsIt(const KcptunConfig& c) {
  auto b = [](bool v) { return v ? std::string("true") : std::string("false"); };
  std::map<std::string, std::string> m = {
      {"smux version", absl::StrCat(c.smuxver)},
      {"encryption", c.crypt},
      {"nodelay parameters", absl::StrCat(c.nodelay, " ", c.interval, " ", c.resend, " ", c.nc)},
      {"sndwnd", absl::StrCat(c.sndwnd, " rcvwnd: ", c.rcvwnd)},
      {"compression", b(!c.nocomp)},
      {"mtu", absl::StrCat(c.mtu)},
      {"datashard", absl::StrCat(c.datashard, " parityshard: ", c.parityshard)},
      {"acknodelay", b(c.acknodelay)},
      {"dscp", absl::StrCat(c.dscp)},
      {"sockbuf", absl::StrCat(c.sockbuf)},
      {"smuxbuf", absl::StrCat(c.smuxbuf)},
      {"streambuf", absl::StrCat(c.streambuf)},
      {"keepalive", absl::StrCat(c.keepalive)},
      {"snmplog", c.snmplog},
      {"snmpperiod", absl::StrCat(c.snmpperiod)},
      {"quiet", b(c.quiet)},
      {"tcp", b(c.tcp)},
  };
  if (c.role == TunnelRole::kClient) {
    m["remote address"] = c.remoteaddr;
    m["conn"] = absl::StrCat(c.conn);
    m["autoexpire"] = absl::StrCat(c.autoexpire);
    m["scavengettl"] = absl::StrCat(c.scavengettl);
  } else {
    m["listening on"] = c.listen;
    m["target"] = c.target;
    m["pprof"] = b(c.pprof);
  }
  return m;
}

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/kcpp-kcptun-XXXXXX.json";
  const int fd = mkstemps(path, 5);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void ExpectSameAsKcptun(TunnelRole role, std::vector<std::string> args) {
  SCOPED_TRACE(absl::StrJoin(args, " "));
  // The client binds its TCP address before printing: keep it on a free port.
  if (role == TunnelRole::kClient) args.insert(args.begin(), {"-l", "127.0.0.1:0"});
  absl::StatusOr<std::vector<std::string>> log =
      KcptunStartupLog(role == TunnelRole::kClient ? kKcptunClient : kKcptunServer, args);
  ASSERT_TRUE(log.ok()) << log.status();
  std::map<std::string, std::string> theirs = ParseKcptunLog(*log);
  absl::StatusOr<KcptunConfig> ours =
      service::tunnel::LoadKcptunConfig(role, args, std::nullopt, nullptr);
  ASSERT_TRUE(ours.ok()) << ours.status();
  for (const auto& [name, value] : AsKcptunPrintsIt(*ours)) {
    ASSERT_EQ(theirs.count(name), 1u) << "kcptun did not print \"" << name << "\"";
    EXPECT_EQ(theirs[name], value) << name;
  }
}

class ConfigDifferential : public ::testing::TestWithParam<TunnelRole> {};

TEST_P(ConfigDifferential, Defaults) { ExpectSameAsKcptun(GetParam(), {}); }

TEST_P(ConfigDifferential, ModesAndHiddenManualFlags) {
  for (const char* mode : {"normal", "fast", "fast2", "fast3", "manual", "custom"}) {
    ExpectSameAsKcptun(GetParam(), {"-mode", mode, "-nodelay", "1", "-interval", "25", "-resend",
                                    "3", "-nc", "1"});
  }
}

TEST_P(ConfigDifferential, GoFlagSyntax) {
  ExpectSameAsKcptun(GetParam(), {"--mtu=1200",
                                  "-nocomp",
                                  "-ds",
                                  "5",
                                  "-ps=2",
                                  "-sndwnd",
                                  "0x100",
                                  "-rcvwnd",
                                  "0o1000",
                                  "--keepalive",
                                  "07",
                                  "-acknodelay=true",
                                  "-dscp",
                                  "1_0",
                                  "-smuxver",
                                  "2",
                                  "-streambuf=65536",
                                  "--crypt",
                                  "salsa20",
                                  "-quiet=false"});
}

TEST_P(ConfigDifferential, JsonOverridesFlagsKeysFoldCaseUnknownAndNullIgnored) {
  const std::string path = WriteTemp(R"({
    "MTU": 1300, "Crypt": "twofish", "mode": "manual", "nodelay": 1, "interval": 15,
    "NC": 1, "nocomp": null, "sndwnd": 64, "unknown": {"nested": [1, 2, 3]},
    "smuxbuf": 8388608, "KeepAlive": 5, "autoexpire": 60, "scavengettl": 30,
    "conn": 2, "target": "127.0.0.1:7", "snmpperiod": 30
  })");
  ExpectSameAsKcptun(GetParam(), {"-mtu", "1000", "-nocomp", "-rcvwnd", "256", "-c", path});
  unlink(path.c_str());
}

TEST_P(ConfigDifferential, DebiansExampleFiles) {
  std::string text;
  if (GetParam() == TunnelRole::kClient) {
    text = ReadFile("/usr/share/doc/kcptun/examples/local.json");
    // Its "localaddr": ":2000" would be bound by kcptun-client; keep the rest.
    text = absl::StrReplaceAll(text, {{"\":2000\"", "\"127.0.0.1:0\""}});
  } else {
    text = ReadFile("/usr/share/doc/kcptun/examples/server.json");
  }
  ASSERT_FALSE(text.empty());
  const std::string path = WriteTemp(text);
  ExpectSameAsKcptun(GetParam(), {"-c", path});
  unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Roles, ConfigDifferential,
                         ::testing::Values(TunnelRole::kClient, TunnelRole::kServer),
                         [](const auto& info) {
                           return info.param == TunnelRole::kClient ? "client" : "server";
                         });

}  // namespace
}  // namespace kcpp::test
