// Command-line behaviour: --check-config, config errors, precedence, first start, log format.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace handover::testing {
namespace {

std::string shipped_config() { return std::string(HANDOVER_SOURCE_DIR) + "/config/server.yaml"; }

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(Cli, CheckConfigAcceptsTheShippedConfig) {
  auto r = run_server_binary({"--check-config", "--config", shipped_config()});

  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Cli, CheckConfigRejectsABadFileWithItsPosition) {
  const std::string path = write_temp("handover-bad.yaml", "http:\n  threads: 2\n  bodylimit: 5\n");

  auto r = run_server_binary({"--check-config", "--config", path});

  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(path + ":3:3"), std::string::npos) << r.output;
}

TEST(Cli, CheckConfigRejectsABrokenMessagesFileWithItsPosition) {
  std::ifstream shipped(std::string(HANDOVER_SOURCE_DIR) + "/config/messages.yaml");
  std::stringstream text;
  text << shipped.rdbuf();
  std::string broken = text.str();
  const std::string good = "{agent} ist jetzt";
  ASSERT_NE(broken.find(good), std::string::npos);
  broken.replace(broken.find(good), good.size(), "{agnet} ist jetzt");
  const std::string path = write_temp("handover-messages.yaml", broken);

  auto r = run_server_binary({"--check-config", "--config", shipped_config(), "--messages", path});

  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(path + ":"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unknown placeholder {agnet}"), std::string::npos) << r.output;
}

TEST(Cli, StartUpStopsOnABadConfigValue) {
  const std::string path = write_temp("handover-bad2.yaml", "http:\n  threads: many\n");

  auto r = run_server_binary({"--config", path});

  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(path + ":2:"), std::string::npos) << r.output;
}

TEST(Cli, UnknownFlagIsAUsageError) {
  auto r = run_server_binary({"--frobnicate"});

  EXPECT_EQ(r.exit_code, 2);
}

// 2 is a configuration or usage error wherever it is found, and whether the server starts or
// only checks: a supervisor should not restart on it.
TEST(Cli, ABadEnvironmentVariableOrRulesFileExitsWithTwoInBothModes) {
  const std::vector<std::string> bad_env = {"HANDOVER_HTTP_THREADS=many"};
  const std::vector<std::string> missing_rules = {"--config", shipped_config(), "--rules",
                                                  "/nonexistent/triggers.yaml"};

  auto check_env = run_server_binary({"--check-config", "--config", shipped_config()}, bad_env);
  auto start_env = run_server_binary({"--config", shipped_config()}, bad_env);
  auto check_rules = run_server_binary(
      {"--check-config", "--config", shipped_config(), "--rules", "/nonexistent/triggers.yaml"});
  auto start_rules = run_server_binary(missing_rules);

  EXPECT_EQ(check_env.exit_code, 2) << check_env.output;
  EXPECT_NE(check_env.output.find("HANDOVER_HTTP_THREADS"), std::string::npos);
  EXPECT_EQ(start_env.exit_code, 2) << start_env.output;
  EXPECT_EQ(check_rules.exit_code, 2) << check_rules.output;
  EXPECT_EQ(start_rules.exit_code, 2) << start_rules.output;
}

TEST(Cli, AStoreThatCannotBeOpenedIsARuntimeFailure) {
  const std::string not_a_dir = write_temp("handover-not-a-dir", "x");

  auto r = run_server_binary({"--config", shipped_config(), "--listen", "127.0.0.1:0", "--db",
                              not_a_dir + "/handover.db"});

  EXPECT_EQ(r.exit_code, 1) << r.output;
}

TEST(Cli, HelpNamesTheExitStatuses) {
  auto r = run_server_binary({"--help"});

  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("exit status"), std::string::npos) << r.output;
}

TEST(Cli, EnvironmentOverridesFileAndFlagOverridesEnvironment) {
  // The file allows 64 KiB bodies; the environment lowers it to 2 KiB.
  ServerProcess server(ServerSettings::with(
      {"HANDOVER_HTTP_BODY_LIMIT=2048", "HANDOVER_LISTEN=127.0.0.1:1"},
      {"--listen", "127.0.0.1:0"}));
  ASSERT_TRUE(server.start()) << server.log();
  HttpClient client(server.port());

  auto r = client.raw("POST /v1/conversations HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n"
                      "Content-Type: application/json\r\n\r\n");

  EXPECT_NE(server.port(), 1);
  EXPECT_EQ(r.status, 413);
}

TEST(Cli, FirstStartCreatesTheDatabaseDirectory) {
  ServerProcess server;
  const std::string db = server.dir() + "/nested/data/handover.db";
  ServerProcess with_db(ServerSettings::with({}, {"--db", db}));

  ASSERT_TRUE(with_db.start()) << with_db.log();
  EXPECT_EQ(with_db.stop(), 0);
  EXPECT_TRUE(std::filesystem::exists(db));
}

TEST(Cli, ListensOnAHostName) {
  ServerProcess server(ServerSettings::with({}, {"--listen", "localhost:0"}));

  ASSERT_TRUE(server.start()) << server.log();
  EXPECT_EQ(HttpClient(server.port()).request("GET", "/livez").status, 200);
}

TEST(Cli, AnAddressInUseStopsTheStartBeforeTheDatabaseIsCreated) {
  ServerProcess running;
  ASSERT_TRUE(running.start()) << running.log();
  const std::string db = running.dir() + "/second/handover.db";

  auto r = run_server_binary({"--config", shipped_config(), "--db", db, "--listen",
                              "127.0.0.1:" + std::to_string(running.port())});

  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot bind"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(db));
}

// The database lock is the file's, not its name's: another server is refused through a
// symbolic or a hard link to the database a running server uses.
TEST(Cli, ASecondServerOnALinkToTheDatabaseIsRefused) {
  ServerProcess running;
  ASSERT_TRUE(running.start()) << running.log();
  const std::string symlink = running.dir() + "/symlink.db";
  const std::string hardlink = running.dir() + "/hardlink.db";
  std::filesystem::create_symlink(running.db_path(), symlink);
  std::filesystem::create_hard_link(running.db_path(), hardlink);

  for (const std::string& link : {symlink, hardlink}) {
    SCOPED_TRACE(link);
    ServerProcess second(ServerSettings::with({}, {"--db", link}));

    EXPECT_FALSE(second.start());
    EXPECT_NE(second.log().find("another handover server"), std::string::npos) << second.log();
  }
  EXPECT_EQ(HttpClient(running.port()).request("GET", "/livez").status, 200);
}

TEST(Cli, JsonLogFormatWritesOneObjectPerLine) {
  ServerProcess server(ServerSettings::with({}, {"--log-format", "json"}));
  ASSERT_TRUE(server.start()) << server.log();
  HttpClient(server.port()).request("GET", "/livez");
  ASSERT_EQ(server.stop(), 0);

  std::istringstream lines(server.log());
  int parsed = 0;
  nlohmann::json access;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg"));
    if (j["msg"] == "access") access = j;
    ++parsed;
  }
  EXPECT_GE(parsed, 3);
  // The access line's fields are keys a collector can filter on.
  ASSERT_TRUE(access.is_object()) << server.log();
  EXPECT_EQ(access["method"], "GET");
  EXPECT_EQ(access["route"], "/livez");
  EXPECT_EQ(access["status"], 200);
  EXPECT_TRUE(access["duration_ms"].is_number());
  EXPECT_TRUE(access["remote"].is_string());
  EXPECT_TRUE(access["request_id"].is_string());
}

}  // namespace
}  // namespace handover::testing
