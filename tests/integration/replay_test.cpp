// The analytics endpoint and handover-replay against a real server: a scripted handover with
// agent feedback, read back as figures, exported from the database and replayed with labels.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "handover/util/clock.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs build/handover-replay with `args` (no shell quoting needed: paths without spaces).
ToolResult run_replay(const std::string& dir, const std::string& args) {
  const std::string out = dir + "/tool.out";
  const std::string err = dir + "/tool.err";
  const std::string command = std::string(HANDOVER_BINARY_DIR) + "/handover-replay " + args + " >" +
                              out + " 2>" + err + " </dev/null";
  const int status = std::system(command.c_str());
  ToolResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

class ReplayServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>();
    ASSERT_TRUE(server_->start()) << server_->log();
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "server log:\n%s\n", server_->log().c_str());
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = {}, const std::string& key = kBotKey) {
    HttpClient client(server_->port());
    std::string headers = key.empty() ? "" : ServerProcess::bearer(key);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }

  std::unique_ptr<WsClient> agent(const std::string& id) {
    const json body = {{"id", id}, {"name", id}, {"capacity", 5}};
    auto created = call("POST", "/v1/admin/agents", body.dump(), kAdminKey);
    EXPECT_EQ(created.status, 201) << created.body;
    auto client = std::make_unique<WsClient>();
    EXPECT_TRUE(
        client->connect(server_->port(), "/v1/agents/ws", created.json().value("token", "")));
    EXPECT_TRUE(client->read_type("welcome").has_value());
    client->send_json({{"type", "hello"}});
    return client;
  }

  // A conversation whose third turn asks for a person; returns its id.
  std::string conversation_asking_for_a_person() {
    auto created = call("POST", "/v1/conversations", R"({"language":"en"})");
    EXPECT_EQ(created.status, 201) << created.body;
    const std::string id = created.json().value("id", "");
    const std::string turns = "/v1/conversations/" + id + "/turns";
    EXPECT_EQ(call("POST", turns, R"({"role":"user","text":"My parcel is late."})").status, 201);
    EXPECT_EQ(call("POST", turns, R"({"role":"bot","text":"It arrives tomorrow."})").status, 201);
    auto asked = call("POST", turns, R"({"role":"user","text":"I want to talk to a real person"})");
    EXPECT_EQ(asked.json().value("state", ""), "queued") << asked.body;
    return id;
  }

  // Accepts the next offer and resolves it with `justified`.
  static void accept_and_resolve(WsClient& ws, const std::string& justified) {
    auto offer = ws.read_type("offer");
    ASSERT_TRUE(offer.has_value());
    ws.send_json({{"type", "accept"},
                  {"conversation_id", (*offer)["conversation_id"]},
                  {"offer_id", (*offer)["offer_id"]}});
    ASSERT_TRUE(ws.read_type("assigned").has_value());
    ws.send_json({{"type", "resolve"},
                  {"conversation_id", (*offer)["conversation_id"]},
                  {"feedback", {{"justified", justified}, {"reason", "asked_twice"}}}});
    ASSERT_TRUE(ws.read_type("unassigned").has_value());
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ReplayServerTest, AnalyticsNeedAReadOrAdminKey) {
  EXPECT_EQ(call("GET", "/v1/analytics/handovers", {}, "").status, 401);
  EXPECT_EQ(call("GET", "/v1/analytics/handovers", {}, kWidgetKey).status, 403);
  EXPECT_EQ(call("GET", "/v1/analytics/handovers", {}, "c_x.y").status, 401);
  EXPECT_EQ(call("GET", "/v1/analytics/handovers", {}, kReadKey).status, 200);
  EXPECT_EQ(call("GET", "/v1/analytics/handovers", {}, kAdminKey).status, 200);
}

TEST_F(ReplayServerTest, AnalyticsRefuseBadQueriesWithPointers) {
  struct Case {
    const char* query;
    const char* pointer;
  };
  const Case cases[] = {
      {"?colour=red", "/query/colour"},
      {"?from=yesterday", "/query/from"},
      {"?to=2026-13-01", "/query/to"},
      {"?from=2026-12-04&to=2026-12-01", "/query/to"},
      {"?from=2024-01-01&to=2026-01-01", "/query/from"},
      {"?rule=", "/query/rule"},
      {"?queue=a&queue=b", "/query/queue"},
      {"?from=1969-12-31T12:00:00Z&to=1970-01-02", "/query/from"},
      {"?from=9999-12-01&to=9999-12-31T23:59:59.999-00:01", "/query/to"},
      {"?queue=nosuch", "/query/queue"},
      {"?channel=", "/query/channel"},
      {"?channel=web,,api", "/query/channel"},
      {"?channel=web%20chat", "/query/channel"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);

    auto r = call("GET", std::string("/v1/analytics/handovers") + c.query, {}, kReadKey);

    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.json().value("pointer", ""), c.pointer) << r.body;
  }
}

TEST_F(ReplayServerTest, AnalyticsNameAQueueThatIsNotConfigured) {
  auto unknown = call("GET", "/v1/analytics/handovers?queue=nosuch", {}, kReadKey);
  auto known = call("GET", "/v1/analytics/handovers?queue=general", {}, kReadKey);
  // Rules come and go with reloads; one no longer loaded may still have figures.
  auto retired = call("GET", "/v1/analytics/handovers?rule=retired-rule", {}, kReadKey);

  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.header("content-type"), "application/problem+json");
  EXPECT_NE(unknown.json().value("detail", "").find("unknown queue 'nosuch'"), std::string::npos)
      << unknown.body;
  EXPECT_EQ(known.status, 200) << known.body;
  EXPECT_EQ(known.json()["filters"], (json{{"queue", "general"}}));
  EXPECT_EQ(retired.status, 200) << retired.body;
}

TEST_F(ReplayServerTest, AnalyticsShowAResolvedHandoverWithItsFeedback) {
  auto ws = agent("ana");
  conversation_asking_for_a_person();
  accept_and_resolve(*ws, "no");
  ASSERT_EQ(call("POST", "/v1/conversations", "{}").status, 201);  // one without a handover

  // A bare date includes its whole day, so a conversation created this millisecond counts.
  const std::string today = format_rfc3339_ms(SystemClock::instance().now_ms()).substr(0, 10);
  auto r = call("GET", "/v1/analytics/handovers?rule=explicit-request&to=" + today, {}, kReadKey);

  ASSERT_EQ(r.status, 200) << r.body;
  const json figures = r.json();
  EXPECT_EQ(figures["conversations"], 2);
  EXPECT_EQ(figures["escalated_conversations"], 1);
  EXPECT_DOUBLE_EQ(figures["handover_rate"].get<double>(), 0.5);
  EXPECT_EQ(figures["outcomes"]["resolved"], 1);
  EXPECT_EQ(figures["wait_to_accept_s"]["count"], 1);
  EXPECT_EQ(figures["escalations_by_family"]["request"], 1);
  ASSERT_EQ(figures["rules"].size(), 1U);
  EXPECT_EQ(figures["rules"][0]["unjustified"], 1);
  EXPECT_EQ(figures["daily"].size(), 7U);
}

TEST_F(ReplayServerTest, ExportsTheDatabaseAndItsFeedbackForReplay) {
  auto ws = agent("ana");
  const std::string id = conversation_asking_for_a_person();
  accept_and_resolve(*ws, "yes");
  const std::string dir = server_->dir();

  auto corpus =
      run_replay(dir, "--export-db " + server_->db_path() + " --out " + dir + "/db.jsonl");
  auto labels = run_replay(
      dir, "--export-feedback " + server_->db_path() + " --out " + dir + "/labels.jsonl");
  auto replayed = run_replay(dir, dir + "/db.jsonl --labels " + dir + "/labels.jsonl --rules " +
                                      HANDOVER_SOURCE_DIR + "/config/triggers.yaml --list 5");

  ASSERT_EQ(corpus.exit_code, 0) << corpus.err;
  const json line = json::parse(slurp(dir + "/db.jsonl"));
  EXPECT_EQ(line["id"], id);
  EXPECT_EQ(line["language"], "en");
  ASSERT_GE(line["turns"].size(), 3U);
  EXPECT_EQ(line["turns"][2]["text"], "I want to talk to a real person");
  ASSERT_EQ(labels.exit_code, 0) << labels.err;
  const json label = json::parse(slurp(dir + "/labels.jsonl"));
  EXPECT_EQ(label["id"], id);
  EXPECT_EQ(label["needs_human"], true);
  EXPECT_EQ(label["turn"], 3);
  EXPECT_EQ(label["rule"], "explicit-request");
  EXPECT_EQ(label["reason"], "asked_twice");
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_NE(replayed.out.find("precision 1.000  recall 1.000"), std::string::npos) << replayed.out;
  EXPECT_NE(replayed.out.find("1 on the turn"), std::string::npos) << replayed.out;
}

TEST_F(ReplayServerTest, ServerModeLeavesRealCustomersWaitingConversationsAlone) {
  const std::string waiting = conversation_asking_for_a_person();
  const std::string dir = server_->dir();
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());

  auto r = run_replay(dir, std::string(HANDOVER_SOURCE_DIR) + "/examples/conversations.jsonl" +
                               " --rules " + HANDOVER_SOURCE_DIR + "/config/triggers.yaml" +
                               " --server " + url + " --api-key " + kBotKey + " --admin-key " +
                               kAdminKey + " --agents 2 --concurrency 2 --resolve-feedback no" +
                               " --agent-skills billing,support,vip");
  auto after = call("GET", "/v1/conversations/" + waiting);

  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Offers of conversations this run did not create, declined: "),
            std::string::npos)
      << r.out;
  EXPECT_EQ(after.json().value("state", ""), "queued") << after.body;
}

TEST_F(ReplayServerTest, ServerModeReplaysThroughRestWithSimulatedAgents) {
  const std::string dir = server_->dir();
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());

  auto r = run_replay(dir, std::string(HANDOVER_SOURCE_DIR) + "/examples/conversations.jsonl" +
                               " --rules " + HANDOVER_SOURCE_DIR + "/config/triggers.yaml" +
                               " --server " + url + " --api-key " + kBotKey + " --admin-key " +
                               kAdminKey + " --agents 3 --concurrency 3 --resolve-feedback no" +
                               " --agent-skills billing,support,vip");
  const std::string today = format_rfc3339_ms(SystemClock::instance().now_ms()).substr(0, 10);
  auto figures = call("GET", "/v1/analytics/handovers?to=" + today, {}, kReadKey);
  auto production =
      call("GET", "/v1/analytics/handovers?channel=web,api&to=" + today, {}, kReadKey);
  auto replayed = call("GET", "/v1/analytics/handovers?channel=replay&to=" + today, {}, kReadKey);
  auto bad_url = run_replay(dir, std::string(HANDOVER_SOURCE_DIR) +
                                     "/examples/conversations.jsonl --server ftp://x --api-key a"
                                     " --admin-key b");

  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Replayed 41 conversations through the server"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("same escalation turn and rule as offline in 41 of 41"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Errors 0"), std::string::npos) << r.out;
  ASSERT_EQ(figures.status, 200);
  const json f = figures.json();
  EXPECT_EQ(f["conversations"], 41);
  EXPECT_EQ(f["outcomes"]["resolved"], f["handovers"]);
  EXPECT_GT(f["handovers"].get<int>(), 10);
  EXPECT_EQ(f["wait_to_accept_s"]["count"], f["handovers"]);
  EXPECT_EQ(production.json()["conversations"], 0) << production.body;
  EXPECT_EQ(production.json()["handovers"], 0) << production.body;
  EXPECT_EQ(replayed.json()["conversations"], 41) << replayed.body;
  EXPECT_EQ(replayed.json()["handovers"], f["handovers"]) << replayed.body;
  EXPECT_EQ(bad_url.exit_code, 1);
  EXPECT_NE(bad_url.err.find("http://HOST:PORT"), std::string::npos);
}

TEST(ReplayTool, ReportsBadLinesWithTheirNumberAndReplaysTheRest) {
  std::string pattern = (std::filesystem::temp_directory_path() / "replay-cli-XXXXXX").string();
  const std::string dir = mkdtemp(pattern.data());
  {
    std::ofstream corpus(dir + "/corpus.jsonl");
    corpus << R"({"id":"a","turns":[{"role":"user","text":"I want a real person"}]})"
           << "\n"
           << R"({"id":"b","turns":[{"role":"user","text":"broken)"
           << "\n"
           << R"({"id":"c","turns":[{"role":"robot","text":"hi"}]})"
           << "\n"
           << R"({"id":"d","turns":[{"role":"user","text":")" << std::string(5000, 'y') << R"("}]})"
           << "\n"
           << R"({"id":"e","turns":[{"role":"user","text":"What time is it?"}]})"
           << "\n";
    std::ofstream labels(dir + "/labels.jsonl");
    labels << R"({"id":"a","needs_human":true})" << "\n"
           << "not json\n"
           << R"({"needs_human":false})" << "\n";
  }

  auto r = run_replay(dir, dir + "/corpus.jsonl --max-line-bytes 4096 --labels " + dir +
                               "/labels.jsonl --rules " + std::string(HANDOVER_SOURCE_DIR) +
                               "/config/triggers.yaml");
  auto missing = run_replay(dir, dir + "/none.jsonl");
  auto usage = run_replay(dir, "--sweep nonsense " + dir + "/corpus.jsonl");

  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("corpus.jsonl:2: not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corpus.jsonl:3: /turns/0/role: unknown role 'robot'"), std::string::npos);
  EXPECT_NE(r.err.find("corpus.jsonl:4: line longer than 4096 bytes"), std::string::npos);
  EXPECT_NE(r.out.find("Replayed 2 conversations"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 bad lines skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Labels: 2 bad lines skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("labels.jsonl:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("Handover rate 50.0% (1 of 2 escalated"), std::string::npos) << r.out;
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(usage.exit_code, 2);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(ReplayTool, ReadsTheRulesAboveItsOwnDirectoryFromAnyWorkingDirectory) {
  // A tree of its own: bin/handover-replay beside config/, run from a third directory.
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "replay-tree-XXXXXX").string();
  const std::string dir = mkdtemp(pattern.data());
  for (const char* sub : {"/bin", "/config", "/elsewhere"}) fs::create_directories(dir + sub);
  fs::copy_file(std::string(HANDOVER_BINARY_DIR) + "/handover-replay",
                dir + "/bin/handover-replay");
  std::ofstream(dir + "/config/triggers.yaml")
      << "version: 1\nlexicons:\n  directory: " << HANDOVER_SOURCE_DIR
      << "/config/lexicons\n  languages: [en, de]\n  emoji: emoji_utf8_lexicon.txt\nrules:\n"
         "  - {id: request, when: request.human, action: escalate, queue: general}\n";
  std::ofstream(dir + "/corpus.jsonl")
      << R"({"id":"a","turns":[{"role":"user","text":"I want a real person"}]})" << "\n";
  const auto run = [&] {
    const std::string command = "cd " + dir + "/elsewhere && " + dir +
                                "/bin/handover-replay ../corpus.jsonl >" + dir + "/out 2>" + dir +
                                "/err </dev/null";
    const int status = std::system(command.c_str());
    return ToolResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir + "/out"),
                      slurp(dir + "/err")};
  };

  const ToolResult found = run();
  fs::remove(dir + "/config/triggers.yaml");
  const ToolResult missing = run();

  EXPECT_EQ(found.exit_code, 0) << found.err;
  EXPECT_NE(found.out.find("Rules " + dir + "/config/triggers.yaml"), std::string::npos)
      << found.out;
  EXPECT_NE(found.out.find("1 of 1 escalated"), std::string::npos) << found.out;
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(dir + "/config/triggers.yaml"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("--rules"), std::string::npos) << missing.err;
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace handover::testing
