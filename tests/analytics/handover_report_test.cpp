#include "handover/analytics/handover_report.hpp"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "support/temp_store.hpp"

namespace handover::analytics {
namespace {

using nlohmann::json;

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kDayOne = 1796083200000;  // 2026-12-01T00:00:00Z
constexpr std::int64_t kMorning = kDayOne + 10 * 3'600'000;

template <class T>
T wait_for(const std::function<void(store::Callback<T>)>& submit) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  submit([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  Result<T> result = future.get();
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  return std::move(result).value();
}

// A store on a fake clock, driven through a scripted scenario whose figures are known.
class HandoverReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("analytics");
    ASSERT_FALSE(dir_.empty());
    auto opened = testing::open_store_in(dir_, clock_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    script();
  }
  void TearDown() override {
    store_.reset();
    testing::remove_temp_dir(dir_);
  }

  void at(std::int64_t ms) { clock_.set_ms(ms); }

  void conversation(const std::string& id, std::int64_t created_ms,
                    const std::string& channel = "web") {
    at(created_ms);
    store::ConversationRecord record;
    record.id = id;
    record.channel = channel;
    record.language = "en";
    record.token_hash = "h-" + id;
    wait_for<store::ConversationRecord>(
        [&](auto done) { store_->create_conversation(record, std::move(done)); });
  }

  void suggestion(const std::string& id, std::int64_t ms, const std::string& rule) {
    at(ms);
    store::AppendTurnRequest request;
    request.turn.conversation_id = id;
    request.turn.role = "user";
    request.turn.text = "hm";
    request.turn.content_hash = "c";
    request.turn.evaluation_json =
        json{{"decision", {{"action", "suggest"}, {"rule", rule}, {"queue", "general"}}}}.dump();
    wait_for<store::AppendTurnOutcome>(
        [&](auto done) { store_->append_turn(std::move(request), std::move(done)); });
  }

  void event(const std::string& id, std::int64_t ms, const std::string& type, json data) {
    at(ms);
    store::EventRecord record;
    record.conversation_id = id;
    record.type = type;
    record.data_json = data.dump();
    wait_for<std::vector<store::EventRecord>>(
        [&](auto done) { store_->append_events({record}, std::move(done)); });
  }

  // Escalated by `rule` (reading `fields`) into `queue` at `ms`; "" for a manual handover.
  void escalated(const std::string& id, std::int64_t ms, const std::string& rule,
                 const std::string& queue, const std::vector<std::string>& fields) {
    json checks = json::array();
    json evidence = json::array();
    for (const auto& f : fields) {
      checks.push_back({{"field", f}, {"expression", f}});
      const std::string family = f.substr(0, f.find('.'));
      evidence.push_back({{"cue", family}, {"family", family}, {"text", "words of " + id}});
    }
    json reasons =
        rule.empty()
            ? json{{"source", "api"}, {"reason", "call back " + id}, {"key", "bot"}}
            : json{{"rule", rule},
                   {"fired", {{{"id", rule}, {"checks", checks}, {"evidence", evidence}}}}};
    event(id, ms, "handover.escalated",
          {{"queue", queue}, {"reasons", reasons}, {"snapshot", {{"turns", json::array()}}}});
  }

  void routing(const std::string& id, std::int64_t ms, const std::string& type, json data) {
    event(id, ms, "routing." + type, {{"agent_id", "a1"}, {"at_ms", ms}, {"data", data}});
  }

  void script() {
    const std::int64_t s = 1000;
    conversation("c0-before", kDayOne - kDay / 2);
    escalated("c0-before", kDayOne - kDay / 2 + s, "insult", "complaints", {"anger.insult"});

    conversation("c1", kMorning);
    suggestion("c1", kMorning + 1 * s, "bot-struggling");
    escalated("c1", kMorning + 2 * s, "explicit-request", "general", {"request.human"});
    routing("c1", kMorning + 12 * s, "accepted", {{"waited_ms", 10'000}});
    routing("c1", kMorning + 72 * s, "resolved", {{"justified", "yes"}});

    conversation("c2", kMorning + 60 * s);
    escalated("c2", kMorning + 65 * s, "angry-conversation", "complaints",
              {"sentiment.mean", "turns.user"});
    routing("c2", kMorning + 95 * s, "accepted", {{"waited_ms", 30'000}});
    routing("c2", kMorning + 215 * s, "resolved", {{"justified", "no"}});

    conversation("c3", kMorning + 120 * s);
    escalated("c3", kMorning + 121 * s, "angry-conversation", "complaints", {"sentiment.mean"});
    routing("c3", kMorning + 171 * s, "accepted", {{"waited_ms", 50'000}});
    routing("c3", kMorning + 200 * s, "returned", {{"note", ""}});

    conversation("c4", kMorning + 180 * s);
    escalated("c4", kMorning + 181 * s, "legal-threat", "complaints", {"risk.legal", "turn.role"});
    routing("c4", kMorning + 300 * s, "cancelled", {{"reason", "left"}});

    conversation("c5", kMorning + 240 * s);
    escalated("c5", kMorning + 241 * s, "insult", "complaints", {"anger.insult", "anger.count"});

    conversation("c6", kMorning + 300 * s);
    suggestion("c6", kMorning + 301 * s, "mood-dropped");

    conversation("c7", kMorning + kDay);
    conversation("c9", kMorning + kDay + 60 * s);
    escalated("c9", kMorning + kDay + 61 * s, "", "general", {});
    routing("c9", kMorning + kDay + 81 * s, "accepted", {{"waited_ms", 20'000}});
    routing("c9", kMorning + kDay + 121 * s, "resolved", {{"justified", "too_late"}});

    conversation("c10-after", kDayOne + 2 * kDay);  // exactly at the end: outside
  }

  json report(const std::string& rule = {}, const std::string& queue = {},
              const std::vector<std::string>& channels = {}) {
    ReportQuery query{kDayOne, kDayOne + 2 * kDay, queue, rule, channels};
    auto facts = store_->read_handover_facts({query.from_ms, query.to_ms, channels});
    EXPECT_TRUE(facts.is_ok()) << facts.status().to_string();
    return handover_report(*facts, query);
  }

  json report_of_day(std::int64_t day_ms, const std::vector<std::string>& channels) {
    ReportQuery query{day_ms, day_ms + kDay, "", "", channels};
    auto facts = store_->read_handover_facts({query.from_ms, query.to_ms, channels});
    EXPECT_TRUE(facts.is_ok()) << facts.status().to_string();
    return handover_report(*facts, query);
  }

  FakeClock clock_{kDayOne - kDay};
  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

json rule_row(const json& report, const std::string& rule) {
  for (const json& row : report["rules"]) {
    if (row["rule"] == rule) return row;
  }
  return nullptr;
}

TEST_F(HandoverReportTest, CountsConversationsHandoversAndOutcomes) {
  const json r = report();

  EXPECT_EQ(r["conversations"], 8);
  EXPECT_EQ(r["escalated_conversations"], 6);
  EXPECT_EQ(r["handovers"], 6);
  EXPECT_DOUBLE_EQ(r["handover_rate"].get<double>(), 0.75);
  EXPECT_EQ(r["outcomes"],
            (json{{"resolved", 3},
                  {"returned_to_bot", 1},
                  {"abandoned", 1},
                  {"ended_by_admin", 0},
                  {"no_agent", 0},
                  {"open", 1}}));
  EXPECT_EQ(r["escalations_by_rule"], (json{{"explicit-request", 1},
                                            {"angry-conversation", 2},
                                            {"legal-threat", 1},
                                            {"insult", 1},
                                            {"(manual)", 1}}));
}

TEST_F(HandoverReportTest, OutcomesFollowTheLastStepAndRatingsAreCounted) {
  const std::int64_t s = 1000;
  const std::int64_t day2 = kMorning + kDay;
  // Accepted, transferred, and then the user left the queue.
  conversation("c11", day2 + 200 * s);
  escalated("c11", day2 + 201 * s, "insult", "complaints", {"anger.insult"});
  routing("c11", day2 + 210 * s, "accepted", {{"waited_ms", 9'000}});
  routing("c11", day2 + 220 * s, "transferred", {{"queue", "sales"}});
  routing("c11", day2 + 230 * s, "cancelled", {{"reason", "back_to_bot"}});
  // Outside business hours: it stayed with the bot.
  conversation("c12", day2 + 300 * s);
  escalated("c12", day2 + 301 * s, "explicit-request", "general", {"request.human"});
  routing("c12", day2 + 301 * s, "no_agent", {{"queued", false}, {"path", "offline_message"}});
  // Inside hours with nobody online it waits: still open.
  conversation("c13", day2 + 400 * s);
  escalated("c13", day2 + 401 * s, "explicit-request", "general", {"request.human"});
  routing("c13", day2 + 401 * s, "no_agent", {{"queued", true}});
  // Nobody answered and the team ended the wait: not the user's leaving.
  conversation("c14", day2 + 500 * s);
  escalated("c14", day2 + 501 * s, "explicit-request", "general", {"request.human"});
  routing("c14", day2 + 900 * s, "cancelled", {{"reason", "ended_by_admin"}});
  // Ratings of resolved handovers; a second rating and one of an open handover do not count.
  event("c1", kMorning + 80 * s, "handover.rated", {{"rating", 5}});
  event("c9", kMorning + kDay + 130 * s, "handover.rated", {{"rating", 2}});
  event("c9", kMorning + kDay + 131 * s, "handover.rated", {{"rating", 1}});
  event("c5", kMorning + 300 * s, "handover.rated", {{"rating", 3}});

  const json r = report();

  EXPECT_EQ(r["outcomes"], (json{{"resolved", 3},
                                 {"returned_to_bot", 1},
                                 {"abandoned", 2},
                                 {"ended_by_admin", 1},
                                 {"no_agent", 1},
                                 {"open", 2}}));
  EXPECT_EQ(r["ratings"]["count"], 2);
  EXPECT_DOUBLE_EQ(r["ratings"]["mean"].get<double>(), 3.5);
  EXPECT_EQ(r["ratings"]["by_score"],
            (json{{"1", 0}, {"2", 1}, {"3", 0}, {"4", 0}, {"5", 1}}));
}

TEST_F(HandoverReportTest, MeasuresWaitsAndTimesToResolve) {
  const json r = report();

  // Waits 10, 20, 30, 50 s; resolutions 40, 60, 120 s after the accept.
  EXPECT_EQ(r["wait_to_accept_s"],
            (json{{"count", 4}, {"p50", 20.0}, {"p90", 50.0}, {"p99", 50.0}}));
  EXPECT_EQ(r["time_to_resolve_s"],
            (json{{"count", 3}, {"p50", 60.0}, {"p90", 120.0}, {"p99", 120.0}}));
}

TEST_F(HandoverReportTest, CountsSuggestionsFamiliesAndFeedbackPerRule) {
  const json r = report();

  EXPECT_EQ(r["suggestions"]["offered"], 2);
  EXPECT_EQ(r["suggestions"]["accepted"], 1);
  EXPECT_EQ(r["suggestions"]["acceptance_rate"], 0.5);
  EXPECT_EQ(r["escalations_by_family"]["sentiment"], 2);
  EXPECT_EQ(r["escalations_by_family"]["request"], 1);
  EXPECT_EQ(r["escalations_by_family"]["risk"], 1);
  EXPECT_EQ(r["escalations_by_family"]["anger"], 1);
  EXPECT_EQ(r["escalations_by_family"]["value"], 0);
  const json angry = rule_row(r, "angry-conversation");
  EXPECT_EQ(angry["handovers"], 2);
  EXPECT_EQ(angry["feedback"], 1);
  EXPECT_DOUBLE_EQ(angry["unjustified_share"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rule_row(r, "explicit-request")["unjustified_share"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(rule_row(r, "(manual)")["too_late_share"].get<double>(), 1.0);
  EXPECT_TRUE(rule_row(r, "insult")["unjustified_share"].is_null());
}

TEST_F(HandoverReportTest, GivesADailySeriesOverTheWholeWindow) {
  const json daily = report()["daily"];

  ASSERT_EQ(daily.size(), 2U);
  EXPECT_EQ(daily[0]["date"], "2026-12-01");
  EXPECT_EQ(daily[0]["conversations"], 6);
  EXPECT_EQ(daily[0]["escalated"], 5);
  EXPECT_EQ(daily[0]["suggestions_offered"], 2);
  EXPECT_EQ(daily[0]["suggestions_accepted"], 1);
  EXPECT_DOUBLE_EQ(daily[0]["wait_p50_s"].get<double>(), 30.0);
  EXPECT_EQ(daily[1]["date"], "2026-12-02");
  EXPECT_EQ(daily[1]["conversations"], 2);
  EXPECT_EQ(daily[1]["escalated"], 1);
}

TEST_F(HandoverReportTest, FiltersHandoversByRuleAndQueue) {
  const json by_rule = report("angry-conversation");
  const json by_queue = report("", "complaints");

  EXPECT_EQ(by_rule["conversations"], 8);
  EXPECT_EQ(by_rule["handovers"], 2);
  EXPECT_DOUBLE_EQ(by_rule["handover_rate"].get<double>(), 0.25);
  EXPECT_EQ(by_rule["suggestions"]["offered"], 0);
  EXPECT_EQ(by_rule["filters"], (json{{"rule", "angry-conversation"}}));
  EXPECT_EQ(by_queue["handovers"], 4);
  EXPECT_EQ(by_queue["outcomes"]["abandoned"], 1);
}

TEST_F(HandoverReportTest, FiltersConversationsByChannel) {
  // The day after the scripted window, which starts with c10-after on channel web.
  const std::int64_t day3 = kDayOne + 2 * kDay;
  const std::int64_t s = 1000;
  conversation("r1", day3 + 100 * s, "replay");
  suggestion("r1", day3 + 101 * s, "bot-struggling");
  escalated("r1", day3 + 102 * s, "explicit-request", "general", {"request.human"});
  routing("r1", day3 + 110 * s, "accepted", {{"waited_ms", 8'000}});
  conversation("a1", day3 + 200 * s, "api");

  const json all = report_of_day(day3, {});
  const json web = report_of_day(day3, {"web"});
  const json replay = report_of_day(day3, {"replay"});
  const json web_and_api = report_of_day(day3, {"web", "api"});

  EXPECT_EQ(all["conversations"], 3);
  EXPECT_EQ(all["handovers"], 1);
  EXPECT_EQ(web["conversations"], 1);
  EXPECT_EQ(web["handovers"], 0);
  EXPECT_EQ(web["suggestions"]["offered"], 0);
  EXPECT_EQ(web["filters"], (json{{"channel", {"web"}}}));
  EXPECT_EQ(replay["conversations"], 1);
  EXPECT_EQ(replay["handovers"], 1);
  EXPECT_EQ(replay["suggestions"]["offered"], 1);
  EXPECT_EQ(replay["wait_to_accept_s"]["count"], 1);
  EXPECT_EQ(replay["daily"][0]["conversations"], 1);
  EXPECT_EQ(web_and_api["conversations"], 2);
  EXPECT_EQ(web_and_api["handovers"], 0);
  EXPECT_EQ(report("", "", {"web"})["handovers"], 6);
}

TEST_F(HandoverReportTest, AYesToASuggestionCountsForTheSuggestingRule) {
  const std::int64_t s = 1000;
  conversation("c11", kMorning + 400 * s);
  suggestion("c11", kMorning + 401 * s, "churn");
  const json reasons = {
      {"rule", "explicit-request"}, {"suggested_by", "churn"}, {"fired", json::array()}};
  event("c11", kMorning + 402 * s, "handover.escalated",
        {{"queue", "retention"}, {"reasons", reasons}, {"snapshot", {{"turns", json::array()}}}});
  routing("c11", kMorning + 410 * s, "accepted", {{"waited_ms", 8'000}});
  routing("c11", kMorning + 470 * s, "resolved", {{"justified", "no"}});

  const json churn = report("churn");
  const json all = report();

  EXPECT_EQ(churn["handovers"], 1);
  EXPECT_EQ(churn["suggestions"]["offered"], 1);
  EXPECT_EQ(churn["suggestions"]["accepted"], 1);
  EXPECT_EQ(rule_row(churn, "churn")["unjustified"], 1);
  EXPECT_EQ(all["escalations_by_rule"]["churn"], 1);
  EXPECT_EQ(all["escalations_by_rule"]["explicit-request"], 1);  // c1's, asked outright
}

// Retention strips the words the escalations quote, and a manual handover's reason, by the
// turns' period; the report reads rule ids, queues and the fields the checks read, so it stays
// the same.
TEST_F(HandoverReportTest, IsTheSameOnceRetentionStripsTheTextsEscalationsQuote) {
  const json before = report();

  store::RetentionBatch batch;
  batch.data_class = store::RetentionClass::kEventTexts;
  batch.cutoff_ms = kDayOne + 3 * kDay;
  const store::RetentionOutcome stripped = wait_for<store::RetentionOutcome>(
      [&](auto done) { store_->run_retention(batch, std::move(done)); });
  const json after = report();

  EXPECT_EQ(stripped.rows, 7);
  auto events = store_->list_events(store::EventQuery{});
  ASSERT_TRUE(events.is_ok()) << events.status().to_string();
  for (const store::EventRecord& e : *events) {
    EXPECT_EQ(e.data_json.find("words of"), std::string::npos) << e.data_json;
    EXPECT_EQ(e.data_json.find("call back"), std::string::npos) << e.data_json;
  }
  EXPECT_EQ(after, before);
  EXPECT_EQ(after["escalations_by_family"]["sentiment"], 2);
}

TEST_F(HandoverReportTest, AnEmptyWindowHasNoFigures) {
  ReportQuery query{kDayOne + 10 * kDay, kDayOne + 11 * kDay, "", "", {}};

  auto facts = store_->read_handover_facts({query.from_ms, query.to_ms, {}});
  ASSERT_TRUE(facts.is_ok());
  const json r = handover_report(*facts, query);

  EXPECT_EQ(r["conversations"], 0);
  EXPECT_EQ(r["handover_rate"], 0.0);
  EXPECT_TRUE(r["wait_to_accept_s"]["p50"].is_null());
  // No suggestion was made: there is no rate to tell, not a rate of 0.
  EXPECT_TRUE(r["suggestions"]["acceptance_rate"].is_null()) << r["suggestions"];
  EXPECT_EQ(r["daily"].size(), 1U);
  EXPECT_FALSE(store_->read_handover_facts({5, 5, {}}).is_ok());
}

}  // namespace
}  // namespace handover::analytics
