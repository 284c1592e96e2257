#include "tunnel/kcptun_config.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::service::tunnel {
namespace {

using Args = std::vector<std::string>;

absl::StatusOr<KcptunConfig> Load(TunnelRole role, const Args& args,
                                  std::optional<std::string> env_key = std::nullopt,
                                  std::vector<std::string>* warnings = nullptr,
                                  std::map<std::string, std::string> files = {}) {
  return LoadKcptunConfig(role, args, std::move(env_key), warnings,
                          [files](const std::string& path) -> absl::StatusOr<std::string> {
                            auto it = files.find(path);
                            if (it == files.end()) return absl::NotFoundError(path);
                            return it->second;
                          });
}

// docs/protocol.md §6.3, "kcptun defaults and modes" (client and server 2021).
TEST(KcptunConfig, DefaultsAreKcptunsPerRole) {
  const KcptunConfig c = DefaultKcptunConfig(TunnelRole::kClient);
  EXPECT_EQ(c.localaddr, ":12948");
  EXPECT_EQ(c.remoteaddr, "vps:29900");
  EXPECT_EQ(c.key, "it's a secrect");
  EXPECT_EQ(c.crypt, "aes");
  EXPECT_EQ(c.mode, "fast");
  EXPECT_EQ(c.mtu, 1350);
  EXPECT_EQ(c.sndwnd, 128);
  EXPECT_EQ(c.rcvwnd, 512);
  EXPECT_EQ(c.datashard, 10);
  EXPECT_EQ(c.parityshard, 3);
  EXPECT_EQ(c.sockbuf, 4194304);
  EXPECT_EQ(c.smuxver, 1);
  EXPECT_EQ(c.smuxbuf, 4194304);
  EXPECT_EQ(c.streambuf, 2097152);
  EXPECT_EQ(c.keepalive, 10);
  EXPECT_EQ(c.conn, 1);
  EXPECT_EQ(c.autoexpire, 0);
  EXPECT_EQ(c.scavengettl, 600);
  EXPECT_EQ(c.closewait, 0);
  EXPECT_FALSE(c.nocomp);
  const KcptunConfig s = DefaultKcptunConfig(TunnelRole::kServer);
  EXPECT_EQ(s.listen, ":29900");
  EXPECT_EQ(s.target, "127.0.0.1:12948");
  EXPECT_EQ(s.sndwnd, 1024);
  EXPECT_EQ(s.rcvwnd, 1024);
}

TEST(KcptunConfig, ModePresetsReplaceTheManualValues) {
  struct Case {
    const char* mode;
    int nodelay, interval, resend, nc;
  };
  for (const Case& k : {Case{"normal", 0, 40, 2, 1}, Case{"fast", 0, 30, 2, 1},
                        Case{"fast2", 1, 20, 2, 1}, Case{"fast3", 1, 10, 2, 1}}) {
    absl::StatusOr<KcptunConfig> c = Load(
        TunnelRole::kClient, {"-mode", k.mode, "-nodelay", "2", "-interval", "99", "-nc", "0"});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->nodelay, k.nodelay) << k.mode;
    EXPECT_EQ(c->interval, k.interval) << k.mode;
    EXPECT_EQ(c->resend, k.resend) << k.mode;
    EXPECT_EQ(c->nc, k.nc) << k.mode;
  }
  absl::StatusOr<KcptunConfig> manual = Load(
      TunnelRole::kServer, {"-mode", "manual", "-nodelay", "1", "-interval", "15", "-resend", "3"});
  ASSERT_TRUE(manual.ok()) << manual.status();
  EXPECT_EQ(manual->nodelay, 1);
  EXPECT_EQ(manual->interval, 15);
  EXPECT_EQ(manual->resend, 3);
  EXPECT_EQ(manual->nc, 0);
  // Manual defaults of the hidden flags: 0, 50, 0, 0.
  manual = Load(TunnelRole::kServer, {"-mode", "manual"});
  ASSERT_TRUE(manual.ok());
  EXPECT_EQ(manual->interval, 50);
}

TEST(KcptunConfig, FlagSyntaxOfGosFlagPackage) {
  absl::StatusOr<KcptunConfig> c =
      Load(TunnelRole::kClient, {"-l", "127.0.0.1:1000", "--remoteaddr=10.0.0.1:29900", "-nocomp",
                                 "-acknodelay=false", "--ds", "5", "-ps=2", "-mtu", "0x400",
                                 "-sndwnd", "0o20", "-rcvwnd", "1_024", "--crypt", "salsa20"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->localaddr, "127.0.0.1:1000");
  EXPECT_EQ(c->remoteaddr, "10.0.0.1:29900");
  EXPECT_TRUE(c->nocomp);
  EXPECT_FALSE(c->acknodelay);
  EXPECT_EQ(c->datashard, 5);
  EXPECT_EQ(c->parityshard, 2);
  EXPECT_EQ(c->mtu, 1024);
  EXPECT_EQ(c->sndwnd, 16);
  EXPECT_EQ(c->rcvwnd, 1024);
  EXPECT_EQ(c->crypt, "salsa20");
  // A value may begin with '-': non-bool flags always take the next argument.
  c = Load(TunnelRole::kClient, {"-key", "-secret-"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->key, "-secret-");
  // Server aliases.
  c = Load(TunnelRole::kServer, {"-l", ":4000", "-t", "/run/app.sock"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen, ":4000");
  EXPECT_EQ(c->target, "/run/app.sock");
}

TEST(KcptunConfig, FlagErrorsUseKcptunsWording) {
  auto message = [](TunnelRole role, const Args& args) {
    absl::StatusOr<KcptunConfig> c = Load(role, args);
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_EQ(message(TunnelRole::kClient, {"-target", "x"})
                .rfind("flag provided but not defined: -target", 0),
            0u);
  EXPECT_EQ(
      message(TunnelRole::kServer, {"-conn", "2"}).rfind("flag provided but not defined: -conn", 0),
      0u);
  EXPECT_EQ(message(TunnelRole::kClient, {"-mtu"}), "flag needs an argument: -mtu");
  EXPECT_EQ(message(TunnelRole::kClient, {"-mtu", "big"}),
            "invalid value \"big\" for flag -mtu: parse error");
  EXPECT_EQ(message(TunnelRole::kClient, {"-nocomp=maybe"}),
            "invalid boolean value \"maybe\" for -nocomp: parse error");
  EXPECT_EQ(message(TunnelRole::kClient, {"---x"}), "bad flag syntax: ---x");
  EXPECT_EQ(message(TunnelRole::kClient, {"-mtu", "99999999999"}),
            "invalid value \"99999999999\" for flag -mtu: value out of range");
}

TEST(KcptunConfig, PositionalArgumentsEndTheFlagsAndAreIgnored) {
  std::vector<std::string> warnings;
  absl::StatusOr<KcptunConfig> c =
      Load(TunnelRole::kClient, {"-mtu", "1200", "extra", "-mtu", "1300"}, std::nullopt, &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mtu, 1200);  // Go's flag package stops at "extra"
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_NE(warnings[0].find("\"extra\""), std::string::npos);
  c = Load(TunnelRole::kClient, {"--", "-mtu", "1300"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->mtu, 1350);
}

TEST(KcptunConfig, FlagsSayWhereTheJsonFlagIs) {
  KcptunConfig c = DefaultKcptunConfig(TunnelRole::kClient);
  absl::StatusOr<KcptunFlags> f =
      ApplyKcptunFlags({"-key", "-c", "-c", "/etc/k.json", "-nocomp"}, std::nullopt, &c);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(c.key, "-c");  // a flag's value, not the -c flag
  EXPECT_EQ(f->json_path, "/etc/k.json");
  EXPECT_EQ(f->json_flag_index, 2);
  EXPECT_EQ(f->json_flag_count, 2);
  f = ApplyKcptunFlags({"--c=/x.json"}, std::nullopt, &c);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->json_flag_index, 0);
  EXPECT_EQ(f->json_flag_count, 1);
}

TEST(KcptunConfig, KeyFromTheEnvironmentUnlessGivenAsAFlag) {
  absl::StatusOr<KcptunConfig> c = Load(TunnelRole::kClient, {}, "from-env");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->key, "from-env");
  c = Load(TunnelRole::kClient, {"-key", "from-flag"}, "from-env");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->key, "from-flag");
}

TEST(KcptunConfig, JsonFileOverridesFlagsThenModeApplies) {
  const std::string json = R"({
    "localaddr": ":2000", "remoteaddr": "11.22.33.44:2000", "key": "PASSWORD",
    "crypt": "aes-128", "mode": "fast3", "mtu": 1400, "sndwnd": 128, "rcvwnd": 1024,
    "datashard": 10, "parityshard": 3, "dscp": 46, "nocomp": true, "acknodelay": false,
    "nodelay": 1, "interval": 40, "resend": 2, "nc": 1, "sockbuf": 16777217,
    "smuxver": 1, "smuxbuf": 16777217, "streambuf": 2097152, "keepalive": 10,
    "autoexpire": 1800, "quiet": false, "tcp": false
  })";
  absl::StatusOr<KcptunConfig> c =
      Load(TunnelRole::kClient, {"-c", "/etc/local.json", "-mtu", "1200", "-conn", "3"},
           std::nullopt, nullptr, {{"/etc/local.json", json}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mtu, 1400);  // the file wins over the flag
  EXPECT_EQ(c->conn, 3);    // not in the file: the flag stays
  EXPECT_EQ(c->localaddr, ":2000");
  EXPECT_EQ(c->crypt, "aes-128");
  EXPECT_EQ(c->dscp, 46);
  EXPECT_TRUE(c->nocomp);
  EXPECT_EQ(c->autoexpire, 1800);
  EXPECT_EQ(c->interval, 10);  // fast3 after the file's "interval": 40
}

TEST(KcptunConfig, JsonKeysMatchCaseInsensitivelyUnknownAndNullIgnored) {
  KcptunConfig c = DefaultKcptunConfig(TunnelRole::kServer);
  ASSERT_TRUE(ApplyKcptunJson(R"({"MTU": 1200, "Target": "127.0.0.1:9", "localaddr": ":1",
      "nocomp": null, "future": {"a": [1, 2]}, "QPP-Count": 7})",
                              &c)
                  .ok());
  EXPECT_EQ(c.mtu, 1200);
  EXPECT_EQ(c.target, "127.0.0.1:9");
  EXPECT_EQ(c.localaddr, ":12948");  // not a server key: ignored
  EXPECT_FALSE(c.nocomp);
  EXPECT_EQ(c.qppcount, 7);
  // The exact spelling wins over a folded match, whatever the order.
  ASSERT_TRUE(ApplyKcptunJson(R"({"mtu": 1000, "Mtu": 1100})", &c).ok());
  EXPECT_EQ(c.mtu, 1100);  // later keys overwrite (Go assigns in order)
  ASSERT_TRUE(ApplyKcptunJson("null", &c).ok());
}

TEST(KcptunConfig, JsonTypeMismatchesAreErrorsAsInGo) {
  KcptunConfig c = DefaultKcptunConfig(TunnelRole::kClient);
  for (const char* bad :
       {R"({"mtu": "1400"})", R"({"mtu": 1400.0})", R"({"mtu": 1e3})", R"({"nocomp": 1})",
        R"({"key": 5})", R"({"mtu": 4294967296})", R"([1])", R"({"mtu": 1400,})"}) {
    EXPECT_FALSE(ApplyKcptunJson(bad, &c).ok()) << bad;
  }
  absl::Status s = ApplyKcptunJson("{\n\"nocomp\": \"yes\"}", &c);
  EXPECT_EQ(s.message(), "line 2, column 11: cannot unmarshal string into \"nocomp\" of type bool");
}

TEST(KcptunConfig, UnknownCryptFallsBackToAesWithAWarning) {
  std::vector<std::string> warnings;
  absl::StatusOr<KcptunConfig> c =
      Load(TunnelRole::kClient, {"-crypt", "aes-256"}, std::nullopt, &warnings);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->crypt, "aes");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("aes-256"), std::string::npos);
}

TEST(KcptunConfig, UnsupportedFeaturesAreRefusedNotIgnored) {
  EXPECT_EQ(Load(TunnelRole::kClient, {"-tcp"}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Load(TunnelRole::kServer, {"-QPP"}).status().code(), absl::StatusCode::kUnimplemented);
  std::vector<std::string> warnings;
  ASSERT_TRUE(Load(TunnelRole::kServer, {"-log", "/var/log/k.log", "-snmplog", "s", "-pprof"},
                   std::nullopt, &warnings)
                  .ok());
  EXPECT_EQ(warnings.size(), 3u);
}

TEST(KcptunConfig, ValuesKcpdCannotUseAreErrorsNamingTheSetting) {
  auto message = [](const Args& args) {
    absl::StatusOr<KcptunConfig> c = Load(TunnelRole::kClient, args);
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_EQ(message({"-smuxver", "3"}), "unsupported smux version: 3 (smuxver must be 1 or 2)");
  EXPECT_EQ(message({"-mtu", "1600"}), "mtu must be 50..1500, got 1600");
  EXPECT_EQ(message({"-conn", "0"}), "conn must be 1..256, got 0");
  EXPECT_EQ(message({"-sndwnd", "0"}), "sndwnd must be 1..65535, got 0");
  EXPECT_EQ(message({"-keepalive", "0"}), "keepalive must be 1..86400, got 0");
  // smux's own rule: the keepalive interval must not exceed its 30 s timeout.
  EXPECT_NE(message({"-keepalive", "31"}).find("smux: "), std::string::npos);
  EXPECT_NE(message({"-framesize", "70000"}).find("smux: "), std::string::npos);
}

TEST(KcptunConfig, SessionOptionsAreKcptunsPerSessionSettings) {
  absl::StatusOr<KcptunConfig> c =
      Load(TunnelRole::kServer,
           {"-mode", "manual", "-interval", "5", "-nc", "1", "-ds", "0", "-crypt", "salsa20",
            "-key", "k", "-dscp", "46", "-sockbuf", "65536", "-acknodelay"});
  ASSERT_TRUE(c.ok()) << c.status();
  const transport::SessionOptions o = ToSessionOptions(*c);
  EXPECT_TRUE(o.stream_mode);
  EXPECT_FALSE(o.write_delay);
  EXPECT_TRUE(o.ack_nodelay);
  EXPECT_EQ(o.crypt, "salsa20");
  EXPECT_EQ(o.key, "k");
  EXPECT_EQ(o.nodelay.interval_ms, 10);  // kcp-go clamps to 10..5000
  EXPECT_TRUE(o.nodelay.no_congestion_window);
  EXPECT_EQ(o.data_shards, 0);  // FEC needs both counts > 0 (kcp-go)
  EXPECT_EQ(o.parity_shards, 0);
  EXPECT_EQ(o.send_window, 1024);
  EXPECT_EQ(o.mtu, 1350);
  EXPECT_EQ(o.dscp, 46);
  EXPECT_EQ(o.socket_buffer_bytes, 65536);
  EXPECT_EQ(o.congestion, "bbr");  // kcpd's default; --tunnel_congestion changes it
  EXPECT_TRUE(o.Validate().ok());
  KcptunConfig kcpgo = *c;
  kcpgo.congestion = "kcp-go";  // kcpd --tunnel_congestion=kcp-go
  EXPECT_EQ(ToSessionOptions(kcpgo).congestion, "kcp-go");
}

TEST(KcptunConfig, SmuxConfigFollowsKcptun) {
  absl::StatusOr<KcptunConfig> c =
      Load(TunnelRole::kClient, {"-smuxver", "2", "-smuxbuf", "8388608", "-streambuf", "131072",
                                 "-keepalive", "5", "-framesize", "8192"});
  ASSERT_TRUE(c.ok()) << c.status();
  const smux::Config s = ToSmuxConfig(*c);
  EXPECT_EQ(s.version, 2);
  EXPECT_EQ(s.max_receive_buffer, 8388608);
  EXPECT_EQ(s.max_stream_buffer, 131072);
  EXPECT_EQ(s.max_frame_size, 8192);
  EXPECT_EQ(s.keep_alive_interval_ms, 5000);
  EXPECT_EQ(s.keep_alive_timeout_ms, 30000);  // kcptun leaves smux's default
}

// Debian's kcptun package ships these two example files; they must load as
// they are.
TEST(KcptunConfig, DebiansExampleConfigsLoadUnchanged) {
  for (auto [role, path] :
       {std::pair{TunnelRole::kClient, "/usr/share/doc/kcptun/examples/local.json"},
        std::pair{TunnelRole::kServer, "/usr/share/doc/kcptun/examples/server.json"}}) {
    std::vector<std::string> warnings;
    absl::StatusOr<KcptunConfig> c = LoadKcptunConfig(role, {"-c", path}, std::nullopt, &warnings);
    ASSERT_TRUE(c.ok()) << path << ": " << c.status();
    EXPECT_EQ(c->crypt, "aes-128");
    EXPECT_EQ(c->mtu, 1400);
    EXPECT_EQ(c->dscp, 46);
    EXPECT_EQ(c->interval, 10);  // fast3
    EXPECT_TRUE(warnings.empty()) << warnings[0];
  }
}

TEST(KcptunConfig, DescribeMasksTheKeyAndListsTheRolesSettings) {
  const auto d = DescribeKcptunConfig(DefaultKcptunConfig(TunnelRole::kServer));
  std::map<std::string, std::string> m(d.begin(), d.end());
  EXPECT_EQ(m.at("key"), "***");
  EXPECT_EQ(m.at("target"), "127.0.0.1:12948");
  EXPECT_EQ(m.count("conn"), 0u);
  EXPECT_NE(KcptunUsage(TunnelRole::kClient).find("--remoteaddr, -r"), std::string::npos);
}

}  // namespace
}  // namespace kcpp::service::tunnel
