// Trigger evaluation through POST /turns: one escalation per signal family, the stored
// evaluation, shadow rules, and rule administration (reload, rollback, hot reload).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

// One escalate rule per signal family, with plain thresholds, plus a shadow rule.
std::string family_rules(const std::string& extra = {}) {
  return "version: 1\n"
         "lexicons:\n"
         "  directory: " + std::string(HANDOVER_SOURCE_DIR) + "/config/lexicons\n"
         "  languages: [en, de]\n"
         "  emoji: emoji_utf8_lexicon.txt\n"
         "  emoji_language: en\n"
         "rules:\n"
         "  - {id: request, when: request.human, action: escalate, priority: 100, queue: general}\n"
         "  - {id: risk, when: risk.legal, action: escalate, priority: 95, queue: general}\n"
         "  - {id: anger, when: anger.insult, action: escalate, priority: 90, queue: general}\n"
         "  - {id: uncertainty, when: uncertainty.low_streak >= 2, action: escalate,"
         " priority: 80, queue: general}\n"
         "  - {id: sentiment, when: 'sentiment.mean <= -0.5 and turns.user >= 2',"
         " action: escalate, priority: 70, queue: general}\n"
         "  - {id: complexity, when: complexity.questions >= 3, action: escalate,"
         " priority: 60, queue: general}\n"
         "  - {id: value, when: 'value.order >= 1000', action: escalate, priority: 50,"
         " queue: general}\n"
         "  - {id: ambiguity, when: 'not language.supported and turns.user >= 2',"
         " action: escalate, priority: 40, queue: general}\n"
         "  - {id: tier, when: 'customer.tier == \"enterprise-customer-tier-xyz\"',"
         " action: escalate, priority: 30, queue: general}\n"
         "  - {id: watch-all, when: turns.user >= 1, action: escalate, priority: 200,"
         " mode: shadow, queue: general}\n" +
         extra;
}

class TriggersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_path_ = server_.dir() + "/triggers.yaml";
    std::ofstream(rules_path_) << family_rules();
    server_.settings().args = {"--rules", rules_path_};
    ASSERT_TRUE(server_.start()) << server_.log();
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = {}, const std::string& key = kBotKey) {
    HttpClient client(server_.port());
    std::string headers = ServerProcess::bearer(key);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }

  std::string create(const std::string& language = "en") {
    auto r = call("POST", "/v1/conversations", json{{"language", language}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("id", "");
  }

  json post(const std::string& id, const json& turn) {
    auto r = call("POST", "/v1/conversations/" + id + "/turns", turn.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  json user(const std::string& id, const std::string& text) {
    return post(id, {{"role", "user"}, {"text", text}});
  }

  std::string rules_hash() {
    return call("GET", "/v1/admin/rules", {}, kAdminKey).json()["active"].value("hash", "");
  }

  ServerProcess server_;
  std::string rules_path_;
};

struct FamilyCase {
  const char* family;
  const char* language;
  std::vector<json> turns;  // all but the last stay with the bot
};

TEST_F(TriggersTest, EachSignalFamilyEscalatesThroughPostTurns) {
  const FamilyCase cases[] = {
      {"request", "en", {{{"role", "user"}, {"text", "I want to talk to a human agent"}}}},
      {"risk", "de", {{{"role", "user"}, {"text", "Dann schalte ich meinen Anwalt ein."}}}},
      {"anger", "en", {{{"role", "user"}, {"text", "you are a stupid useless bot"}}}},
      {"uncertainty", "en",
       {{{"role", "bot"}, {"text", "Hmm."}, {"bot", {{"confidence", 0.2}}}},
        {{"role", "bot"}, {"text", "I am not sure."}, {"bot", {{"fallback", true}}}}}},
      {"sentiment", "en",
       {{{"role", "user"}, {"text", "This is terrible, I hate this awful service."}},
        {{"role", "user"}, {"text", "Horrible. Worst experience ever, really bad."}}}},
      {"complexity", "en",
       {{{"role", "user"},
         {"text", "Where is my order? Why was I charged twice? Can I change the address?"}}}},
      {"value", "en",
       {{{"role", "user"}, {"text", "About my order."}, {"metadata", {{"order_value", 1500}}}}}},
      {"ambiguity", "und",
       {{{"role", "user"}, {"text", "Bonjour, je voudrais annuler ma commande"}},
        {{"role", "user"}, {"text", "Pourquoi personne ne me répond aujourd'hui"}}}},
  };

  for (const auto& c : cases) {
    SCOPED_TRACE(c.family);
    const std::string id = create(c.language);

    json last;
    for (std::size_t i = 0; i < c.turns.size(); ++i) {
      last = post(id, c.turns[i]);
      if (i + 1 < c.turns.size()) {
        EXPECT_EQ(last.value("state", ""), "bot") << last.dump();
      }
    }

    ASSERT_TRUE(last.contains("decision")) << last.dump();
    EXPECT_EQ(last["decision"]["action"], "escalate");
    EXPECT_EQ(last["decision"]["rule"], c.family);
    EXPECT_EQ(last["state"], "queued");
    EXPECT_EQ(call("GET", "/v1/conversations/" + id).json()["state"], "queued");
  }
}

TEST_F(TriggersTest, RegionalAndUpperCaseLanguageTagsAreTheirPrimaryLanguage) {
  for (const char* tag : {"de-CH", "DE", "de_AT", "en-US"}) {
    const std::string id = create(tag);
    const json stored = call("GET", "/v1/conversations/" + id).json();
    std::string expected = tag;
    for (char& c : expected) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
    EXPECT_EQ(stored["language"], expected);
    user(id, "Wie lange dauert der Versand?");
    const json second = user(id, "Was kostet der Versand?");
    EXPECT_EQ(second["turn"]["evaluation"]["signals"]["language_supported"], true) << tag;
    EXPECT_FALSE(second.contains("decision")) << tag << ": " << second.dump();
  }
}

TEST_F(TriggersTest, EvaluationIsStoredWithTheTurnAndShadowRulesNeverAct) {
  const std::string id = create();

  const json posted = user(id, "ok");
  const json listed = call("GET", "/v1/conversations/" + id + "/turns").json();

  ASSERT_TRUE(posted["turn"].contains("evaluation")) << posted.dump();
  const json& evaluation = listed["turns"][0]["evaluation"];
  EXPECT_EQ(evaluation, posted["turn"]["evaluation"]);
  EXPECT_TRUE(evaluation["signals"].contains("sentiment"));
  EXPECT_EQ(evaluation["rule_set"]["hash"], rules_hash());
  ASSERT_EQ(evaluation["fired"].size(), 1u) << evaluation.dump();
  EXPECT_EQ(evaluation["fired"][0]["id"], "watch-all");
  EXPECT_EQ(evaluation["fired"][0]["suppressed"], "shadow");
  EXPECT_EQ(posted["state"], "bot");
  EXPECT_FALSE(posted.contains("decision"));
  // Monitoring counts what a shadow rule would have done, to tune it before it acts.
  user(id, "still ok");
  const std::string metrics = call("GET", "/metrics", {}, "").body;
  EXPECT_NE(metrics.find("handover_rules_fired_total{rule=\"watch-all\",suppressed=\"shadow\"} 2"),
            std::string::npos)
      << metrics;
}

TEST_F(TriggersTest, CustomerProfileFieldsReachTheRules) {
  auto created = call("POST", "/v1/conversations",
                      R"({"language":"en","customer":{"tier":"enterprise-customer-tier-xyz",)"
                      R"("lifetime_value":2000}})");
  const std::string id = created.json().value("id", "");

  const json turn = user(id, "hello there");

  ASSERT_TRUE(turn.contains("decision")) << turn.dump();
  EXPECT_EQ(turn["decision"]["rule"], "tier");
  EXPECT_DOUBLE_EQ(turn["turn"]["evaluation"]["signals"]["value"]["lifetime"].get<double>(), 2000);
}

// A bot that lost the first answer learns from the retry's what the first said, the
// decision included: for a suggestion nothing else (the state stays "bot") would tell it.
TEST_F(TriggersTest, ARetryAnswersWithTheFirstAnswersDecisionAndStoredEvaluation) {
  std::ofstream(rules_path_) << family_rules(
      "  - {id: churn, when: 'risk.churn and turn.role == \"user\"', action: suggest,"
      " priority: 55, queue: general}\n");
  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);
  ASSERT_EQ(reload.status, 200) << reload.body;
  struct Case {
    const char* name;
    const char* language;
    const char* text;
    const char* action;  // nullptr: the first answer names no decision
    const char* state;   // after the turn, in both answers
  };
  const Case cases[] = {
      {"escalate", "en", "I want a human", "escalate", "queued"},
      {"suggest", "de", "Ich kündige meinen Vertrag", "suggest", "bot"},
      {"none", "en", "Where is my parcel", nullptr, "bot"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string id = create(c.language);
    const json body = {{"id", "u-9"}, {"role", "user"}, {"text", c.text}};

    const json first = post(id, body);
    auto retry = call("POST", "/v1/conversations/" + id + "/turns", body.dump());

    ASSERT_EQ(retry.status, 200) << retry.body;
    EXPECT_EQ(retry.json(), first);
    EXPECT_EQ(retry.json().value("state", ""), c.state);
    if (c.action == nullptr) {
      EXPECT_FALSE(retry.json().contains("decision")) << retry.body;
    } else {
      EXPECT_EQ(retry.json()["decision"]["action"], c.action) << retry.body;
    }
  }
}

TEST_F(TriggersTest, TheEndUsersTokenSeesTheStateButNotTheTriggerInternals) {
  auto created = call("POST", "/v1/conversations", R"({"language":"en"})", kWidgetKey);
  const std::string id = created.json().value("id", "");
  const std::string token = created.json().value("token", "");
  const std::string turns = "/v1/conversations/" + id + "/turns";

  auto as_user = call("POST", turns, R"({"role":"user","text":"I want a human"})", token);
  auto listed_by_user = call("GET", turns, {}, token);
  auto listed_by_bot = call("GET", turns, {}, kBotKey);

  ASSERT_EQ(as_user.status, 201) << as_user.body;
  EXPECT_EQ(as_user.json()["state"], "queued");
  EXPECT_FALSE(as_user.json().contains("decision"));
  EXPECT_FALSE(as_user.json()["turn"].contains("evaluation"));
  EXPECT_FALSE(listed_by_user.json()["turns"][0].contains("evaluation"));
  EXPECT_TRUE(listed_by_bot.json()["turns"][0].contains("evaluation"));
}

TEST_F(TriggersTest, AConversationWithAPersonIsNotEscalatedAgain) {
  const std::string id = create();
  ASSERT_EQ(user(id, "I want a human")["state"], "queued");

  const json again = user(id, "please, a human agent now");

  EXPECT_EQ(again["state"], "queued");
  EXPECT_FALSE(again.contains("decision")) << again.dump();
}

TEST_F(TriggersTest, InvalidReloadKeepsTheActiveRulesAndReportsTheError) {
  const std::string before = rules_hash();
  std::ofstream(rules_path_) << family_rules("  - {id: broken, when: 'sentiment.mean <=', "
                                            "action: escalate, queue: general}\n");

  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);
  auto status = call("GET", "/v1/admin/rules", {}, kAdminKey).json();
  const std::string failing = call("GET", "/metrics", {}, "").body;

  EXPECT_EQ(reload.status, 422);
  EXPECT_NE(reload.json().value("detail", "").find("triggers.yaml:"), std::string::npos);
  EXPECT_EQ(status["active"]["hash"], before);
  EXPECT_TRUE(status["last_error"].is_string());
  const std::string id = create();
  EXPECT_EQ(user(id, "I want a human")["decision"]["rule"], "request");
  // Monitoring sees that the file on disk would not load at the next start.
  EXPECT_NE(failing.find("\nhandover_rules_reload_failing 1\n"), std::string::npos) << failing;
  // The file watcher may have tried the same file too.
  EXPECT_NE(failing.find("\nhandover_rules_reload_failures_total "), std::string::npos) << failing;
  EXPECT_EQ(failing.find("\nhandover_rules_reload_failures_total 0\n"), std::string::npos)
      << failing;

  std::ofstream(rules_path_) << family_rules();
  ASSERT_EQ(call("POST", "/v1/admin/reload", {}, kAdminKey).status, 200);
  const std::string fixed = call("GET", "/metrics", {}, "").body;
  EXPECT_NE(fixed.find("\nhandover_rules_reload_failing 0\n"), std::string::npos) << fixed;
  EXPECT_NE(fixed.find("\nhandover_rules_reloads_total "), std::string::npos) << fixed;
  EXPECT_EQ(fixed.find("\nhandover_rules_reloads_total 0\n"), std::string::npos) << fixed;
}

// A log collector reads lines: every error of a failed reload is a line with time and level.
TEST_F(TriggersTest, EachErrorOfAFailedReloadIsALogLineOfItsOwn) {
  std::ofstream(rules_path_) << family_rules(
      "  - {id: one, when: 'turns.user >', action: escalate, queue: general}\n"
      "  - {id: two, when: 'turns.bot >', action: escalate, queue: general}\n");

  ASSERT_EQ(call("POST", "/v1/admin/reload", {}, kAdminKey).status, 422);
  const std::string log = server_.wait_for_log("rule 'two'");

  int error_lines = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("rule 'one'") == std::string::npos &&
        line.find("rule 'two'") == std::string::npos) {
      continue;
    }
    EXPECT_NE(line.find("error"), std::string::npos) << line;
    EXPECT_NE(line.find("trigger rules: "), std::string::npos) << line;
    ++error_lines;
  }
  // Two a reload; the file watcher may have tried the file as well.
  EXPECT_GE(error_lines, 2) << log;
  EXPECT_EQ(error_lines % 2, 0) << log;
  EXPECT_NE(log.find("previous rules stay active: 2 errors"), std::string::npos) << log;
}

TEST_F(TriggersTest, AReloadTakesNoParameters) {
  auto with_member = call("POST", "/v1/admin/reload", R"({"path":"/etc/passwd"})", kAdminKey);
  auto not_json = call("POST", "/v1/admin/reload", "reload please", kAdminKey);
  auto empty_object = call("POST", "/v1/admin/reload", "{}", kAdminKey);

  EXPECT_EQ(with_member.status, 422) << with_member.body;
  EXPECT_EQ(with_member.header("content-type"), "application/problem+json");
  EXPECT_NE(with_member.body.find("/path"), std::string::npos) << with_member.body;
  EXPECT_EQ(not_json.status, 400) << not_json.body;
  EXPECT_EQ(empty_object.status, 200) << empty_object.body;
}

// Start-up warns about such a rule and --check-config fails on it; a reload refuses it, as
// its escalations would go to the default queue while the answers named the other one.
TEST_F(TriggersTest, AReloadedRuleWithAnUndefinedQueueIsRefused) {
  const std::string before = rules_hash();
  std::ofstream(rules_path_) << family_rules(
      "  - {id: lost, when: value.purchase, action: escalate, queue: nosuchqueue}\n");

  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);

  EXPECT_EQ(reload.status, 422) << reload.body;
  EXPECT_NE(reload.json().value("detail", "").find("queue 'nosuchqueue' is not defined"),
            std::string::npos)
      << reload.body;
  // A queue may have been added to routing.yaml meanwhile: the operator learns why it is not
  // known yet.
  EXPECT_NE(reload.json().value("detail", "").find("needs a restart"), std::string::npos)
      << reload.body;
  // At the queue, not at the rule's first key.
  EXPECT_NE(reload.json().value("detail", "").find("triggers.yaml:18:63: rule 'lost'"),
            std::string::npos)
      << reload.body;
  EXPECT_EQ(rules_hash(), before);
}

// Such a skill used to load and then fail every escalation of its rule at routing.
TEST_F(TriggersTest, AReloadedRuleWithAnInvalidSkillIsRefused) {
  const std::string before = rules_hash();
  std::ofstream(rules_path_) << family_rules(
      "  - {id: tiered, when: value.purchase, action: escalate, queue: general, "
      "skills: [Tier2]}\n");

  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);

  EXPECT_EQ(reload.status, 422) << reload.body;
  EXPECT_NE(reload.json().value("detail", "").find("expected a skill name"), std::string::npos)
      << reload.body;
  EXPECT_EQ(rules_hash(), before);
}

TEST_F(TriggersTest, AFifoAtTheRulesPathFailsTheReloadInsteadOfHangingTheServer) {
  const std::string before = rules_hash();
  std::filesystem::remove(rules_path_);
  ASSERT_EQ(mkfifo(rules_path_.c_str(), 0600), 0);

  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);
  auto status = call("GET", "/v1/admin/rules", {}, kAdminKey);

  EXPECT_EQ(reload.status, 422) << reload.body;
  EXPECT_NE(reload.json().value("detail", "").find("is a FIFO, not a file"), std::string::npos)
      << reload.body;
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.json()["active"]["hash"], before);
}

// A file saved as Latin-1 is quoted in the error; the status must still be JSON.
TEST_F(TriggersTest, TheStatusAnswersAfterAReloadErrorQuotingLatin1Bytes) {
  std::ofstream(rules_path_) << "versi\xf6n: 1\n" << family_rules().substr(11);

  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);
  auto status = call("GET", "/v1/admin/rules", {}, kAdminKey);

  EXPECT_EQ(reload.status, 422) << reload.body;
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_NE(status.json().value("last_error", "").find("unknown key 'versi\\xf6n'"),
            std::string::npos)
      << status.body;
  EXPECT_TRUE(status.json()["warnings"].empty());
}

TEST_F(TriggersTest, ReloadThenRollbackSwitchesVersions) {
  const std::string first = rules_hash();
  std::ofstream(rules_path_) << family_rules(
      "  - {id: extra, when: value.purchase, action: suggest, queue: general}\n");

  auto reload = call("POST", "/v1/admin/reload", {}, kAdminKey);
  const std::string second = rules_hash();
  // An empty hash goes back to the previous version, as no body does.
  auto previous = call("POST", "/v1/admin/rules/rollback", R"({"hash":""})", kAdminKey);
  const std::string after_previous = rules_hash();
  ASSERT_EQ(call("POST", "/v1/admin/reload", {}, kAdminKey).status, 200);
  auto rollback = call("POST", "/v1/admin/rules/rollback", json{{"hash", first}}.dump(), kAdminKey);
  auto unknown = call("POST", "/v1/admin/rules/rollback", R"({"hash":"0000"})", kAdminKey);
  auto not_admin = call("POST", "/v1/admin/reload", {}, kBotKey);

  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_NE(second, first);
  EXPECT_EQ(previous.status, 200) << previous.body;
  EXPECT_EQ(after_previous, first);
  EXPECT_EQ(rollback.status, 200) << rollback.body;
  EXPECT_EQ(rules_hash(), first);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(not_admin.status, 403);
  // A rollback changes the rules as a reload does: the log says so.
  EXPECT_NE(server_.wait_for_log("trigger rules rolled back version=" + first)
                .find("trigger rules rolled back version=" + first),
            std::string::npos);
}

TEST_F(TriggersTest, EditingTheRulesFileReloadsThemWithoutARestart) {
  const std::string before = rules_hash();
  const std::string tmp = rules_path_ + ".new";
  std::ofstream(tmp) << family_rules(
      "  - {id: renamed-in, when: value.upgrade, action: suggest, queue: general}\n");

  // Editors often save by writing a new file and renaming it over the old one.
  std::filesystem::rename(tmp, rules_path_);
  std::string after = before;
  for (int i = 0; i < 500 && after == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = rules_hash();
  }

  EXPECT_NE(after, before);
  EXPECT_EQ(call("GET", "/livez", {}, "").status, 200);
}

// The shipped rules, whose explicit-request rule has a two-minute cooldown.
class CooldownTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.log(); }

  HttpResponse call(const std::string& method, const std::string& target,
                    const json& body = nullptr) {
    HttpClient client(server_.port());
    std::string headers = ServerProcess::bearer(kBotKey);
    if (!body.is_null()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body.is_null() ? "" : body.dump(), headers);
  }

  // A conversation handed over on an explicit request, then taken back to the bot by the
  // waiting user, all well within the rule's cooldown.
  std::string returned_to_bot() {
    auto created = call("POST", "/v1/conversations", {{"language", "en"}});
    EXPECT_EQ(created.status, 201) << created.body;
    const std::string id = created.json().value("id", "");
    EXPECT_EQ(user(id, "I want to talk to a human").value("state", ""), "queued");
    auto back = call("POST", "/v1/conversations/" + id + "/choice", {{"choice", "back_to_bot"}});
    EXPECT_EQ(back.status, 200) << back.body;
    return id;
  }

  json user(const std::string& id, const std::string& text) {
    auto r = call("POST", "/v1/conversations/" + id + "/turns", {{"role", "user"}, {"text", text}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  ServerProcess server_;
};

TEST_F(CooldownTest, AFreshRequestAfterGoingBackToTheBotEscalatesAgain) {
  const std::string id = returned_to_bot();

  const json again = user(id, "please let me speak to a human agent");

  EXPECT_EQ(again.value("state", ""), "queued") << again.dump();
  EXPECT_EQ(again.value("decision", json::object()).value("rule", ""), "explicit-request")
      << again.dump();
}

// Insults while the user waits for a person are the person's to answer; back with the bot,
// the next turn does not send the conversation to the complaints queue for them.
TEST_F(CooldownTest, InsultsWhileWaitingDoNotHandTheConversationOverAgainOnItsReturn) {
  auto created = call("POST", "/v1/conversations", {{"language", "en"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.json().value("id", "");
  ASSERT_EQ(user(id, "I want to talk to a human").value("state", ""), "queued");
  user(id, "You idiots, this is useless!");
  const json waiting = user(id, "You idiots, this is useless!");
  EXPECT_EQ(waiting.value("state", ""), "queued") << waiting.dump();
  auto back = call("POST", "/v1/conversations/" + id + "/choice", {{"choice", "back_to_bot"}});
  ASSERT_EQ(back.status, 200) << back.body;

  const json next = user(id, "ok, where is my parcel?");

  EXPECT_EQ(next.value("state", ""), "bot") << next.dump();
  EXPECT_FALSE(next.contains("decision")) << next.dump();
}

TEST_F(CooldownTest, ARestartDoesNotBringBackACooldownTheReturnEnded) {
  const std::string id = returned_to_bot();
  ASSERT_EQ(server_.stop(), 0) << server_.log();
  ASSERT_TRUE(server_.start()) << server_.log();

  // The rules' state is rebuilt from the stored turns, the first request included.
  const json again = user(id, "please let me speak to a human agent");

  EXPECT_EQ(again.value("state", ""), "queued") << again.dump();
}

}  // namespace
}  // namespace handover::testing
