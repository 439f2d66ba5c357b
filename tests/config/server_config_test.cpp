// Tests for the server config loader: file, environment and flag layers, and its diagnostics.
#include "handover/config/server_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "handover/util/crypto.hpp"

namespace handover::config {
namespace {

using ::testing::HasSubstr;

using Env = std::map<std::string, std::string>;

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

class ServerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("handover_config_test_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The config file of this test, in its own directory.
  std::string path() const { return (dir_ / "server.yaml").string(); }

  // Writes `text` to path() and returns the path.
  std::string write(const std::string& text) {
    std::ofstream(path(), std::ios::binary) << text;
    return path();
  }

  Result<ServerConfig> load(const std::string& text, const Env& env = {},
                            const FlagOverrides& flags = {}) {
    return load_server_config(write(text), env, flags);
  }

  // The error message of a load that must fail.
  std::string errors(const std::string& text, const Env& env = {},
                     const FlagOverrides& flags = {}) {
    Result<ServerConfig> result = load(text, env, flags);
    EXPECT_FALSE(result.is_ok());
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    return result.status().message();
  }

  std::filesystem::path dir_;
};

// ---- The shipped file and defaults ------------------------------------------------------

TEST_F(ServerConfigTest, LoadsShippedConfig) {
  std::string shipped = std::string(HANDOVER_SOURCE_DIR) + "/config/server.yaml";

  Result<ServerConfig> config = load_server_config(shipped, {}, {});

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->source_path, shipped);
  EXPECT_EQ(config->listen, (ListenConfig{"127.0.0.1", 8080}));
  EXPECT_EQ(config->store.path, "data/handover.db");
  EXPECT_EQ(config->cors.allowed_origins,
            (std::vector<std::string>{"http://127.0.0.1:8080", "http://localhost:8080"}));
}

TEST_F(ServerConfigTest, ShippedConfigStatesTheDefaults) {
  std::string shipped = std::string(HANDOVER_SOURCE_DIR) + "/config/server.yaml";
  ServerConfig defaults;

  Result<ServerConfig> config = load_server_config(shipped, {}, {});

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->listen, defaults.listen);
  EXPECT_EQ(config->http, defaults.http);
  EXPECT_EQ(config->store, defaults.store);
  EXPECT_EQ(config->cors.max_age_s, defaults.cors.max_age_s);
  EXPECT_EQ(config->limits, defaults.limits);
  EXPECT_EQ(config->snapshot, defaults.snapshot);
  EXPECT_EQ(config->log, defaults.log);
  EXPECT_EQ(config->web.enabled, defaults.web.enabled);
  EXPECT_EQ(config->web.frame_ancestors, defaults.web.frame_ancestors);
  EXPECT_EQ(config->web.root, std::string(HANDOVER_SOURCE_DIR) + "/web");
}

TEST_F(ServerConfigTest, ShippedDevelopmentKeysMatchTheirDocumentedPlaintext) {
  struct Case {
    std::string name;
    std::string plaintext;
    std::vector<std::string> scopes;
  };
  const std::vector<Case> cases = {
      {"dev-bot", "dev-bot-key-change-me", {"bot", "read"}},
      {"dev-admin", "dev-admin-key-change-me", {"admin", "read"}},
      {"dev-widget", "dev-widget-key-change-me", {"widget"}},
  };

  Result<ServerConfig> config =
      load_server_config(std::string(HANDOVER_SOURCE_DIR) + "/config/server.yaml", {}, {});

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  ASSERT_EQ(config->auth.api_keys.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const ApiKeyConfig& key = config->auth.api_keys[i];
    EXPECT_EQ(key.name, cases[i].name);
    EXPECT_EQ(key.sha256, crypto::sha256_hex(cases[i].plaintext));
    EXPECT_EQ(key.scopes, cases[i].scopes);
  }
}

TEST_F(ServerConfigTest, GivesDefaultsWhenFileHasNoSettings) {
  const std::vector<std::string> texts = {"", "# only a comment\n", "http:\nlog:\n", "---\n"};
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    ServerConfig expected;
    expected.source_path = path();
    expected.web.root = (dir_.parent_path() / "web").string();

    Result<ServerConfig> config = load(text);

    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    EXPECT_EQ(*config, expected);
  }
}

TEST_F(ServerConfigTest, ReadsEveryKindOfValue) {
  const std::string text =
      "listen: {address: '::1', port: 0}\n"
      "http: {threads: 4, body_limit: 1024, idle_timeout_ms: 3600000}\n"
      "store: {path: ':memory:', synchronous: normal}\n"
      "auth:\n"
      "  api_keys:\n"
      "    - {name: ops.team_1, sha256: " + kHashA + ", scopes: [admin]}\n"
      "cors: {allowed_origins: ['*'], max_age_s: 0}\n"
      "limits: {max_actions: 0}\n"
      "log: {level: off, format: json, access_log: false}\n";

  Result<ServerConfig> config = load(text);

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->listen, (ListenConfig{"::1", 0}));
  EXPECT_EQ(config->http.threads, 4);
  EXPECT_EQ(config->http.body_limit, 1024u);
  EXPECT_EQ(config->http.idle_timeout_ms, 3600000);
  EXPECT_EQ(config->store, (StoreConfig{":memory:", "normal", 4, 512}));
  EXPECT_EQ(config->auth.api_keys, (std::vector<ApiKeyConfig>{{"ops.team_1", kHashA, {"admin"}}}));
  EXPECT_EQ(config->cors, (CorsConfig{{"*"}, 0}));
  EXPECT_EQ(config->limits.max_actions, 0u);
  EXPECT_EQ(config->log, (LogConfig{"off", "json", false}));
}

TEST_F(ServerConfigTest, IgnoresAByteOrderMarkAndCountsColumnsWithoutIt) {
  const std::string bom = "\xEF\xBB\xBF";

  Result<ServerConfig> config = load(bom + "http: {threads: 3}\n");
  const std::string problems = errors(bom + "http: {threads: many}\n");

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->http.threads, 3);
  EXPECT_THAT(problems, HasSubstr("server.yaml:1:17:"));
}

TEST_F(ServerConfigTest, ReadsTheSnapshotSectionAndItsEnvironmentVariables) {
  const Env env = {{"HANDOVER_SNAPSHOT_MAX_TURNS", "1000"}};

  Result<ServerConfig> config = load("snapshot:\n  max_bytes: 2048\n  max_turns: 5\n", env);

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->snapshot, (SnapshotConfig{2048, 1000}));
}

TEST_F(ServerConfigTest, ResolvesARelativeWebRootAgainstTheConfigDirectory) {
  const std::string text = "web:\n  root: pages\n  frame_ancestors: [\"https://shop.example\"]\n";

  Result<ServerConfig> from_file = load(text);
  Result<ServerConfig> from_env = load(text, {{"HANDOVER_WEB_ROOT", "/srv/handover-web"}});
  Result<ServerConfig> defaults = load("");

  ASSERT_TRUE(from_file.is_ok()) << from_file.status().to_string();
  EXPECT_EQ(from_file->web.root, (dir_ / "pages").string());
  EXPECT_EQ(from_file->web.frame_ancestors, std::vector<std::string>{"https://shop.example"});
  ASSERT_TRUE(from_env.is_ok()) << from_env.status().to_string();
  EXPECT_EQ(from_env->web.root, "/srv/handover-web");
  ASSERT_TRUE(defaults.is_ok()) << defaults.status().to_string();
  EXPECT_EQ(defaults->web.root, (dir_.parent_path() / "web").string());
  EXPECT_TRUE(defaults->web.enabled);
}

TEST_F(ServerConfigTest, ReportsBadWebValues) {
  EXPECT_EQ(errors("web:\n  frame_ancestors: [\"shop.example\"]\n"),
            path() + ":2:21: expected \"*\" or an origin such as https://example.com:8443, got "
                     "'shop.example': it needs a lower-case scheme such as http:// or https:// "
                     "(key 'web.frame_ancestors[0]')");
  EXPECT_THAT(errors("", {{"HANDOVER_WEB_ENABLED", "yes"}}), HasSubstr("HANDOVER_WEB_ENABLED"));
}

TEST_F(ServerConfigTest, ReportsSnapshotValuesOutOfRange) {
  EXPECT_EQ(errors("snapshot:\n  max_bytes: 1000\n"),
            path() + ":2:14: expected an integer from 1024 to 16777216, got '1000' "
                     "(key 'snapshot.max_bytes')");
  EXPECT_EQ(errors("", {{"HANDOVER_SNAPSHOT_MAX_TURNS", "0"}}),
            "HANDOVER_SNAPSHOT_MAX_TURNS: expected an integer from 1 to 10000, got '0'");
}

TEST_F(ServerConfigTest, ASnapshotMustFitTheAgentSendQueue) {
  const std::string queue = "websocket: {max_queued_bytes: 1048576}\n";
  const std::string over = queue + "snapshot: {max_bytes: 524289}\n";
  const std::string half = queue + "snapshot: {max_bytes: 524288}\n";

  std::string message = errors(over);
  Result<ServerConfig> at_half = load(half);

  EXPECT_EQ(message, path() + ": snapshot.max_bytes (524289) must be at most half of "
                              "websocket.max_queued_bytes (1048576), so that an offer fits an "
                              "agent's send queue");
  EXPECT_TRUE(at_half.is_ok()) << at_half.status().to_string();
}

TEST_F(ServerConfigTest, ReportsMissingFile) {
  std::string missing = (dir_ / "absent.yaml").string();

  Result<ServerConfig> config = load_server_config(missing, {}, {});

  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(), missing + ": config file not found");
}

// ---- File problems, each at its line and column -----------------------------------------

std::string one_key(const std::string& fields) {
  return "auth:\n"
         "  api_keys:\n"
         "    - " + fields;
}

std::string two_keys(const std::string& first_name, const std::string& first_hash,
                     const std::string& second_name, const std::string& second_hash) {
  return "auth:\n"
         "  api_keys:\n"
         "    - name: " + first_name + "\n"
         "      sha256: " + first_hash + "\n"
         "      scopes: [bot]\n"
         "    - name: " + second_name + "\n"
         "      sha256: " + second_hash + "\n"
         "      scopes: [read]\n";
}

TEST_F(ServerConfigTest, ReportsEachFileProblemAtItsLineAndColumn) {
  struct Case {
    std::string what;
    std::string text;
    std::string expected;  // the message after "path:"
  };
  const std::vector<Case> cases = {
      {"unknown key", "http:\n  body_limt: 2048\n",
       "2:3: unknown key, did you mean 'body_limit'? (key 'http.body_limt')"},
      {"unknown section", "listen: {port: 1}\nhtpp: {}\n",
       "2:1: unknown key, did you mean 'http'? (key 'htpp')"},
      {"unknown key, no near match", "log:\n  colour: true\n",
       "2:3: unknown key (key 'log.colour')"},
      {"duplicate key", "http:\n  threads: 2\n  threads: 3\n",
       "3:3: duplicate key, first given at line 2 (key 'http.threads')"},
      {"duplicate section", "log:\n  level: info\nlog:\n  format: json\n",
       "3:1: duplicate key, first given at line 1 (key 'log')"},
      {"string for int", "http:\n  threads: many\n",
       "2:12: expected an integer from 1 to 64, got 'many' (key 'http.threads')"},
      {"quoted int", "listen:\n  port: \"8080\"\n",
       "2:9: expected an integer from 0 to 65535, got a quoted string '8080' (key 'listen.port')"},
      {"fraction for int", "http:\n  threads: 1.5\n",
       "2:12: expected an integer from 1 to 64, got '1.5' (key 'http.threads')"},
      {"hex for int", "http:\n  threads: 0x10\n",
       "2:12: expected an integer from 1 to 64, got '0x10' (key 'http.threads')"},
      {"list for map", "http: [1, 2]\n", "1:7: expected a mapping, got a list (key 'http')"},
      {"scalar for map", "store: here\n", "1:8: expected a mapping, got 'here' (key 'store')"},
      {"map for int", "listen:\n  port: {a: 1}\n",
       "2:9: expected an integer from 0 to 65535, got a mapping (key 'listen.port')"},
      {"list for string", "store:\n  path: [a]\n",
       "2:9: expected a database file path, got a list (key 'store.path')"},
      {"empty value", "http:\n  threads:\n\nlog: {}\n",
       "2:3: expected an integer from 1 to 64, got no value (key 'http.threads')"},
      {"out of range", "http:\n  threads: 65\n",
       "2:12: expected an integer from 1 to 64, got '65' (key 'http.threads')"},
      {"below range", "http:\n  header_limit: 1023\n",
       "2:17: expected an integer from 1024 to 1048576, got '1023' (key 'http.header_limit')"},
      {"port out of range", "listen:\n  port: 65536\n",
       "2:9: expected an integer from 0 to 65535, got '65536' (key 'listen.port')"},
      {"negative size", "http:\n  body_limit: -1\n",
       "2:15: expected an integer from 1024 to 67108864, got '-1' (key 'http.body_limit')"},
      {"overflowing size", "limits:\n  max_page: 18446744073709551617\n",
       "2:13: expected an integer from 1 to 10000, got '18446744073709551617' "
       "(key 'limits.max_page')"},
      {"timeout too short", "http:\n  read_timeout_ms: 99\n",
       "2:20: expected an integer from 100 to 3600000, got '99' (key 'http.read_timeout_ms')"},
      {"bad enum", "store:\n  synchronous: off\n",
       "2:16: expected one of full, normal, got 'off' (key 'store.synchronous')"},
      {"enum is case-sensitive", "log:\n  level: INFO\n",
       "2:10: expected one of trace, debug, info, warn, error, off, got 'INFO' (key 'log.level')"},
      {"yes is not a boolean", "log:\n  access_log: yes\n",
       "2:15: expected true or false, got 'yes' (key 'log.access_log')"},
      {"quoted boolean", "log:\n  access_log: 'true'\n",
       "2:15: expected true or false, got a quoted string 'true' (key 'log.access_log')"},
      {"empty string", "store:\n  path: ''\n",
       "2:9: expected a database file path, got an empty string (key 'store.path')"},
      {"bad listen address", "listen:\n  address: '[::1]'\n",
       "2:12: expected a host name or IP address (IPv6 without brackets), got '[::1]': brackets "
       "belong only around an IPv6 address followed by a port (key 'listen.address')"},
      {"short api key hash", one_key("name: a\n      sha256: abc\n      scopes: [bot]\n"),
       "4:15: expected 64 lower-case hex digits, the SHA-256 of the key (printf %s KEY | "
       "sha256sum), got 3 characters (key 'auth.api_keys[0].sha256')"},
      {"upper-case api key hash",
       one_key("name: a\n      sha256: " + std::string(64, 'A') + "\n      scopes: [bot]\n"),
       "4:15: expected 64 lower-case hex digits, the SHA-256 of the key (printf %s KEY | "
       "sha256sum), got characters other than 0-9 and a-f (key 'auth.api_keys[0].sha256')"},
      {"duplicate api key name", two_keys("bot", kHashA, "bot", kHashB),
       "6:13: duplicate API key name, first used at line 3 (key 'auth.api_keys[1].name')"},
      {"duplicate api key hash", two_keys("bot", kHashA, "reader", kHashA),
       "7:15: duplicate API key hash, first used at line 4 (key 'auth.api_keys[1].sha256')"},
      {"bad api key name", one_key("{name: 'a b', sha256: " + kHashA + ", scopes: [bot]}\n"),
       "3:14: expected a name of at most 64 letters, digits, '.', '_' or '-', got 'a b' "
       "(key 'auth.api_keys[0].name')"},
      {"missing api key hash", one_key("name: a\n      scopes: [bot]\n"),
       "3:7: missing required key (key 'auth.api_keys[0].sha256')"},
      {"misspelt api key field", one_key("{name: a, sha256: " + kHashA + ", scope: [bot]}\n"),
       "3:7: missing required key (key 'auth.api_keys[0].scopes')\n" + path() +
           ":3:91: unknown key, did you mean 'scopes'? (key 'auth.api_keys[0].scope')"},
      {"unknown scope", one_key("{name: a, sha256: " + kHashA + ", scopes: [bot, write]}\n"),
       "3:105: expected one of bot, widget, read, admin, got 'write' "
       "(key 'auth.api_keys[0].scopes[1]')"},
      {"no scopes", one_key("{name: a, sha256: " + kHashA + ", scopes: []}\n"),
       "3:91: expected at least one scope (key 'auth.api_keys[0].scopes')"},
      {"api key not a mapping", one_key("dev-bot-key\n"),
       "3:7: expected a mapping, got 'dev-bot-key' (key 'auth.api_keys[0]')"},
      {"api keys not a list", "auth:\n  api_keys: {name: a}\n",
       "2:13: expected a list, got a mapping (key 'auth.api_keys')"},
      {"origin with path", "cors:\n  allowed_origins: ['http://a.example/']\n",
       "2:21: expected \"*\" or an origin such as https://example.com:8443, got "
       "'http://a.example/': an origin has no path, query or fragment, not even a final '/' "
       "(key 'cors.allowed_origins[0]')"},
      {"top level is a list", "- http\n", "1:1: expected a mapping, got a list"},
      {"syntax error", "http: [1\n", "2:1: YAML syntax error: end of sequence flow not found"},
      {"two documents", "http: {}\n---\nlog: {}\n", "3:1: only one YAML document is allowed"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);

    std::string message = errors(c.text);

    EXPECT_EQ(message, path() + ":" + c.expected);
  }
}

TEST_F(ServerConfigTest, ReportsAllProblemsTogetherInFileOrder) {
  const std::string text =
      "log:\n"
      "  level: loud\n"
      "http:\n"
      "  threads: 0\n"
      "  threads: 1\n"
      "  bogus: 1\n";
  const Env env = {{"HANDOVER_STORE_MAX_BATCH", "0"}};
  FlagOverrides flags;
  flags.log_format = "xml";

  std::string message = errors(text, env, flags);

  EXPECT_EQ(line_count(message), 6u) << message;
  EXPECT_THAT(message, HasSubstr(path() + ":2:10: expected one of trace"));
  EXPECT_LT(message.find(":2:10:"), message.find(":4:12: expected an integer from 1 to 64"));
  EXPECT_LT(message.find(":4:12:"), message.find(":5:3: duplicate key"));
  EXPECT_LT(message.find(":5:3:"), message.find(":6:3: unknown key (key 'http.bogus')"));
  EXPECT_LT(message.find(":6:3:"), message.find("\nHANDOVER_STORE_MAX_BATCH: expected an"));
  EXPECT_LT(message.find("HANDOVER_STORE_MAX_BATCH"), message.find("\n--log-format: expected"));
}

TEST_F(ServerConfigTest, ReportsEveryBadItemOfAList) {
  const std::string text =
      "cors:\n"
      "  allowed_origins:\n"
      "    - example.com\n"
      "    - http://ok.example\n"
      "    - https://example.com:443\n";

  std::string message = errors(text);

  EXPECT_EQ(line_count(message), 2u) << message;
  EXPECT_THAT(message, HasSubstr(":3:7: expected \"*\" or an origin"));
  EXPECT_THAT(message, HasSubstr(":5:7: expected \"*\" or an origin"));
}

TEST_F(ServerConfigTest, ReadsTrustedProxiesFromFileAndEnvironment) {
  const std::string text = "http:\n  trusted_proxies: ['10.0.0.0/8', '::1/128', 127.0.0.1]\n";

  Result<ServerConfig> from_file = load(text);
  Result<ServerConfig> from_env =
      load(text, {{"HANDOVER_HTTP_TRUSTED_PROXIES", " 192.168.0.0/16 ,fd00::/8"}});
  Result<ServerConfig> defaults = load("");

  ASSERT_TRUE(from_file.is_ok()) << from_file.status().to_string();
  EXPECT_EQ(from_file->http.trusted_proxies,
            (std::vector<std::string>{"10.0.0.0/8", "::1/128", "127.0.0.1"}));
  ASSERT_TRUE(from_env.is_ok()) << from_env.status().to_string();
  EXPECT_EQ(from_env->http.trusted_proxies,
            (std::vector<std::string>{"192.168.0.0/16", "fd00::/8"}));
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_TRUE(defaults->http.trusted_proxies.empty());
}

TEST_F(ServerConfigTest, ReportsBadTrustedProxies) {
  struct Case {
    std::string what;
    std::string text;
    Env env;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"host bits set", "http:\n  trusted_proxies: [10.1.0.0/8]\n", {},
       ":2:21: expected an IP network such as 10.0.0.0/8 or ::1/128, or an address, got "
       "'10.1.0.0/8': bits are set past the prefix length (key 'http.trusted_proxies[0]')"},
      {"host name", "http:\n  trusted_proxies: [proxy.local]\n", {},
       "got 'proxy.local': not an IP address (key 'http.trusted_proxies[0]')"},
      {"prefix too long", "", {{"HANDOVER_HTTP_TRUSTED_PROXIES", "10.0.0.0/8,::1/129"}},
       "HANDOVER_HTTP_TRUSTED_PROXIES: expected an IP network such as 10.0.0.0/8 or ::1/128, "
       "or an address, got '::1/129': the prefix length must be 0 to 128"},
      {"empty entry", "", {{"HANDOVER_HTTP_TRUSTED_PROXIES", "10.0.0.0/8,"}},
       "got '': an empty entry"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);

    EXPECT_THAT(errors(c.text, c.env), HasSubstr(c.expected));
  }
}

// ---- Environment and flags ---------------------------------------------------------------

TEST_F(ServerConfigTest, EnvironmentOverridesFile) {
  const std::string text = "http: {threads: 2, body_limit: 4096}\nlog: {format: text}\n";
  const Env env = {
      {"HANDOVER_HTTP_BODY_LIMIT", "1024"},
      {"HANDOVER_LOG_FORMAT", "json"},
      {"HANDOVER_STORE_SYNCHRONOUS", "normal"},
      {"HANDOVER_LOG_ACCESS_LOG", "false"},
      {"HANDOVER_LISTEN", "[::1]:9000"},
      {"HANDOVER_DB", "/var/lib/handover/h.db"},
      {"HANDOVER_CORS_ALLOWED_ORIGINS", "https://a.example, http://b.example:81"},
      {"PATH", "/usr/bin"},  // not ours: ignored
  };

  Result<ServerConfig> config = load(text, env);

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->http.threads, 2);
  EXPECT_EQ(config->http.body_limit, 1024u);
  EXPECT_EQ(config->log, (LogConfig{"info", "json", false}));
  EXPECT_EQ(config->store.synchronous, "normal");
  EXPECT_EQ(config->listen, (ListenConfig{"::1", 9000}));
  EXPECT_EQ(config->store.path, "/var/lib/handover/h.db");
  EXPECT_EQ(config->cors.allowed_origins,
            (std::vector<std::string>{"https://a.example", "http://b.example:81"}));
}

TEST_F(ServerConfigTest, SpecificListenVariablesOverrideFile) {
  const Env env = {{"HANDOVER_LISTEN_ADDRESS", "0.0.0.0"}, {"HANDOVER_LISTEN_PORT", "0"}};

  Result<ServerConfig> config = load("listen: {address: 127.0.0.1, port: 8080}\n", env);

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->listen, (ListenConfig{"0.0.0.0", 0}));
}

TEST_F(ServerConfigTest, FlagsOverrideEnvironment) {
  const Env env = {
      {"HANDOVER_LISTEN", "127.0.0.1:9000"},
      {"HANDOVER_DB", "env.db"},
      {"HANDOVER_LOG_FORMAT", "json"},
      {"HANDOVER_LOG_LEVEL", "debug"},
  };
  FlagOverrides flags;
  flags.listen = "localhost:7000";
  flags.db = "flag.db";
  flags.log_format = "text";
  flags.log_level = "warn";

  Result<ServerConfig> config = load("log: {level: error}\n", env, flags);

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->listen, (ListenConfig{"localhost", 7000}));
  EXPECT_EQ(config->store.path, "flag.db");
  EXPECT_EQ(config->log.format, "text");
  EXPECT_EQ(config->log.level, "warn");
}

TEST_F(ServerConfigTest, ReportsBadEnvironmentValues) {
  struct Case {
    std::string name;
    std::string value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"HANDOVER_HTTP_THREADS", "abc",
       "HANDOVER_HTTP_THREADS: expected an integer from 1 to 64, got 'abc'"},
      {"HANDOVER_HTTP_THREADS", " 4",
       "HANDOVER_HTTP_THREADS: expected an integer from 1 to 64, got ' 4'"},
      {"HANDOVER_HTTP_BODY_LIMIT", "-5",
       "HANDOVER_HTTP_BODY_LIMIT: expected an integer from 1024 to 67108864, got '-5'"},
      {"HANDOVER_LOG_FORMAT", "xml", "HANDOVER_LOG_FORMAT: expected one of text, json, got 'xml'"},
      {"HANDOVER_LOG_ACCESS_LOG", "1", "HANDOVER_LOG_ACCESS_LOG: expected true or false, got '1'"},
      {"HANDOVER_STORE_PATH", "",
       "HANDOVER_STORE_PATH: expected a database file path, got an empty string"},
      {"HANDOVER_LISTEN", "localhost",
       "HANDOVER_LISTEN: expected host:port such as 127.0.0.1:8080 or [::1]:8080, got "
       "'localhost': the port is missing"},
      {"HANDOVER_CORS_ALLOWED_ORIGINS", "http://a.example,",
       "HANDOVER_CORS_ALLOWED_ORIGINS: expected \"*\" or an origin such as "
       "https://example.com:8443, got '': an empty entry"},
      {"HANDOVER_AUTH_API_KEYS", "x",
       "HANDOVER_AUTH_API_KEYS: API keys can be set only in the config file (auth.api_keys)"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + "=" + c.value);

    std::string message = errors("", {{c.name, c.value}});

    EXPECT_EQ(message, c.expected);
  }
}

TEST_F(ServerConfigTest, ReportsUnknownHandoverVariable) {
  const Env env = {{"HANDOVER_HTTP_BODY_LIMT", "1024"}, {"HANDOVER_NOTHING_LIKE_IT", "1"}};

  std::string message = errors("", env);

  EXPECT_EQ(message,
            "HANDOVER_HTTP_BODY_LIMT: unknown variable; every HANDOVER_* variable must name a "
            "setting, did you mean HANDOVER_HTTP_BODY_LIMIT?\n"
            "HANDOVER_NOTHING_LIKE_IT: unknown variable; every HANDOVER_* variable must name a "
            "setting");
}

TEST_F(ServerConfigTest, ReportsShortcutSetTogetherWithItsVariable) {
  const Env env = {{"HANDOVER_DB", "a.db"}, {"HANDOVER_STORE_PATH", "b.db"}};

  std::string message = errors("", env);

  EXPECT_EQ(message, "HANDOVER_DB: conflicts with HANDOVER_STORE_PATH; set only one");
}

TEST_F(ServerConfigTest, ReportsBadFlagValues) {
  FlagOverrides flags;
  flags.listen = "[::1]";
  flags.db = "";
  flags.log_level = "loud";

  std::string message = errors("", {}, flags);

  EXPECT_EQ(message,
            "--listen: expected host:port such as 127.0.0.1:8080 or [::1]:8080, got '[::1]': the "
            "port is missing\n"
            "--db: expected a database file path, got an empty string\n"
            "--log-level: expected one of trace, debug, info, warn, error, off, got 'loud'");
}

TEST_F(ServerConfigTest, ChecksCorsOrigins) {
  struct Case {
    std::string origin;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"*", true},
      {"https://example.com", true},
      {"http://localhost:8080", true},
      {"http://[::1]:8080", true},
      {"chrome-extension://abc", true},
      {"example.com", false},
      {"http://example.com/", false},
      {"http://example.com/chat", false},
      {"http://Example.com", false},
      {"HTTP://example.com", false},
      {"https://example.com:443", false},
      {"http://example.com:80", false},
      {"http://:8080", false},
      {"http://example.com:0", false},
      {"http://example.com:0081", false},
      {"http://example.com:http", false},
      {"http://exa mple.com", false},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.origin);

    Result<ServerConfig> config = load("", {{"HANDOVER_CORS_ALLOWED_ORIGINS", c.origin}});

    EXPECT_EQ(config.is_ok(), c.valid) << config.status().to_string();
  }
}

// ---- parse_listen and the process environment --------------------------------------------

TEST(ParseListen, AcceptsHostAndPort) {
  struct Case {
    std::string text;
    ListenConfig expected;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:8080", {"127.0.0.1", 8080}},
      {"[::1]:8080", {"::1", 8080}},
      {"localhost:80", {"localhost", 80}},
      {"0.0.0.0:0", {"0.0.0.0", 0}},
      {"[::]:65535", {"::", 65535}},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ListenConfig out{"unset", 1};

    Status status = parse_listen(c.text, out);

    EXPECT_TRUE(status.is_ok()) << status.to_string();
    EXPECT_EQ(out, c.expected);
  }
}

TEST(ParseListen, RejectsMalformedText) {
  struct Case {
    std::string text;
    std::string problem;  // the end of the message
  };
  const std::vector<Case> cases = {
      {"127.0.0.1", "the port is missing"},
      {"localhost:", "the port is missing"},
      {":8080", "the host is empty"},
      {"[]:8080", "the host is empty"},
      {"host:65536", "the port must be an integer from 0 to 65535"},
      {"host:-1", "the port must be an integer from 0 to 65535"},
      {"host:http", "the port must be an integer from 0 to 65535"},
      {"::1:8080", "an IPv6 address needs brackets, e.g. [::1]:8080"},
      {"[::1:8080", "the '[' has no matching ']'"},
      {"[::1]8080", "only ':port' may follow ']'"},
      {"[localhost]:80", "brackets are only for IPv6 addresses"},
      {"bad host:80", "not a valid host name or IP address"},
      {"999.1.1.1:80", "not a valid IPv4 address"},
      {"10.0.0:80", "not a valid IPv4 address"},
      {"", "the host is empty"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ListenConfig out{"unset", 1};

    Status status = parse_listen(c.text, out);

    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), ::testing::EndsWith(": " + c.problem));
    EXPECT_EQ(out, (ListenConfig{"unset", 1}));
  }
}

TEST(HandoverEnvironment, ReturnsOnlyHandoverVariables) {
  ASSERT_EQ(::setenv("HANDOVER_CONFIG_TEST_PROBE", "a=b", 1), 0);
  ASSERT_EQ(::setenv("NOT_HANDOVER_CONFIG_TEST_PROBE", "x", 1), 0);

  std::map<std::string, std::string> env = handover_environment();

  ::unsetenv("HANDOVER_CONFIG_TEST_PROBE");
  ::unsetenv("NOT_HANDOVER_CONFIG_TEST_PROBE");
  EXPECT_EQ(env["HANDOVER_CONFIG_TEST_PROBE"], "a=b");
  for (const auto& [name, value] : env) EXPECT_TRUE(name.starts_with("HANDOVER_")) << name;
}

}  // namespace
}  // namespace handover::config
