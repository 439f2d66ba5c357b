// Shared helpers of the snapshot tests: stored turns whose evaluations come from the real
// trigger engine with the shipped rules, and the snapshot schema from docs/.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "handover/snapshot/snapshot.hpp"
#include "handover/store/store.hpp"
#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"
#include "support/json_schema.hpp"

namespace handover::snapshot::testing {

inline constexpr std::int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// docs/snapshot.schema.json, loaded once.
inline const handover::testing::JsonSchema& snapshot_schema() {
  static const handover::testing::JsonSchema schema(nlohmann::json::parse(
      read_file(std::filesystem::path(HANDOVER_SOURCE_DIR) / "docs" / "snapshot.schema.json")));
  return schema;
}

// config/triggers.yaml, loaded once.
inline std::shared_ptr<const triggers::RuleSet> product_rules() {
  static const std::shared_ptr<const triggers::RuleSet> rules = [] {
    auto loaded = triggers::load_rule_set(
        std::filesystem::path(HANDOVER_SOURCE_DIR) / "config" / "triggers.yaml", kStartMs);
    if (!loaded.is_ok()) ADD_FAILURE() << loaded.status().to_string();
    return loaded.is_ok() ? loaded.value() : nullptr;
  }();
  return rules;
}

// Builds a conversation turn by turn as the server stores it: seq, timestamps, bot and
// action JSON, and the evaluation the engine gives each user and bot turn.
class ConversationBuilder {
 public:
  explicit ConversationBuilder(std::string language = "en", std::string customer = "{}")
      : engine_(product_rules()), language_(std::move(language)) {
    conversation_.id = "c_test";
    conversation_.channel = "web";
    conversation_.language = language_;
    conversation_.state = "bot";
    conversation_.customer_json = std::move(customer);
    conversation_.metadata_json = R"({"page":"/orders"})";
    conversation_.created_at_ms = kStartMs;
    const auto profile = nlohmann::json::parse(conversation_.customer_json);
    if (profile.contains("tier")) tier_ = profile["tier"].get<std::string>();
    if (profile.contains("lifetime_value")) lifetime_ = profile["lifetime_value"].get<double>();
  }

  // Returns the evaluation of the turn as stored.
  nlohmann::json user(const std::string& text) { return add("user", text, nullptr, nullptr); }
  nlohmann::json bot(const std::string& text, nlohmann::json bot = nullptr,
                     nlohmann::json actions = nullptr) {
    return add("bot", text, std::move(bot), std::move(actions));
  }
  void agent(const std::string& text, const std::string& agent_id) {
    add("agent", text, nullptr, nullptr);
    turns_.back().metadata_json = nlohmann::json{{"agent_id", agent_id}}.dump();
  }
  void system(const std::string& text) { add("system", text, nullptr, nullptr); }

  const store::ConversationRecord& conversation() const { return conversation_; }
  std::vector<store::TurnRecord>& turns() { return turns_; }

  // Input with every turn in the window and a trigger trace from the newest evaluation.
  SnapshotInput input() const {
    SnapshotInput in;
    in.conversation = conversation_;
    in.window.turns = turns_;
    in.frozen_at_ms = conversation_.updated_at_ms + 5;
    const auto evaluation = nlohmann::json::parse(
        turns_.empty() || turns_.back().evaluation_json.empty() ? "{}"
                                                                : turns_.back().evaluation_json);
    if (evaluation.contains("decision") && evaluation["decision"].contains("rule")) {
      in.trigger.rule = evaluation["decision"]["rule"];
    }
    if (evaluation.contains("fired")) in.trigger.fired = evaluation["fired"];
    return in;
  }

 private:
  nlohmann::json add(const std::string& role, const std::string& text, nlohmann::json bot,
                     nlohmann::json actions) {
    store::TurnRecord turn;
    turn.conversation_id = conversation_.id;
    turn.seq = static_cast<std::int64_t>(turns_.size()) + 1;
    turn.role = role;
    turn.text = text;
    turn.created_at_ms = kStartMs + turn.seq * 1000;
    if (!bot.is_null()) turn.bot_json = bot.dump();
    if (!actions.is_null()) turn.actions_json = actions.dump();
    nlohmann::json stored;
    if (role == "user" || role == "bot") {
      stored = evaluate(turn, bot);
      turn.evaluation_json = stored.dump();
    }
    conversation_.last_seq = turn.seq;
    conversation_.updated_at_ms = turn.created_at_ms;
    turns_.push_back(std::move(turn));
    return stored;
  }

  nlohmann::json evaluate(const store::TurnRecord& turn, const nlohmann::json& bot) {
    triggers::ConversationInfo info;
    info.language = language_;
    info.customer_tier = tier_;
    info.lifetime_value = lifetime_;
    triggers::TurnInput in;
    in.role = turn.role;
    in.text = turn.text;
    std::string intent;
    if (bot.is_object()) {
      if (bot.contains("confidence")) in.bot_confidence = bot["confidence"].get<double>();
      in.bot_fallback = bot.value("fallback", false);
      intent = bot.value("intent", "");
      in.bot_intent = intent;
      if (bot.contains("handover")) in.bot_handover_reason = bot["handover"].value("reason", "");
    }
    return triggers::to_json(engine_.evaluate(info, state_, in, turn.created_at_ms));
  }

  triggers::Engine engine_;
  triggers::ConversationState state_;
  std::string language_;
  std::string tier_;
  std::optional<double> lifetime_;
  store::ConversationRecord conversation_;
  std::vector<store::TurnRecord> turns_;
};

// The schema's complaints about `snapshot`, one per line, for test messages.
inline std::string schema_errors(const nlohmann::json& snapshot) {
  std::string out;
  for (const auto& error : snapshot_schema().validate(snapshot)) out += error + "\n";
  return out;
}

}  // namespace handover::snapshot::testing
