// Shared helpers of the trigger tests: the product rule set, a conversation driver, temp dirs.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"

namespace handover::triggers::testing {

inline std::filesystem::path source_dir() { return HANDOVER_SOURCE_DIR; }
inline std::filesystem::path lexicon_dir() { return source_dir() / "config" / "lexicons"; }

// config/triggers.yaml, loaded once for the whole test binary.
inline std::shared_ptr<const RuleSet> product_rules() {
  static const std::shared_ptr<const RuleSet> rules = [] {
    auto loaded = load_rule_set(source_dir() / "config" / "triggers.yaml", 1'700'000'000'000);
    if (!loaded.is_ok()) ADD_FAILURE() << loaded.status().to_string();
    return loaded.is_ok() ? loaded.value() : nullptr;
  }();
  return rules;
}

// Feeds turns of one conversation through an Engine, with a clock advanced by hand.
class Conversation {
 public:
  explicit Conversation(std::shared_ptr<const RuleSet> rules = product_rules())
      : engine_(std::move(rules)) {}

  Evaluation user(std::string_view text, const nlohmann::json* metadata = nullptr) {
    TurnInput turn;
    turn.role = "user";
    turn.text = keep(text);
    turn.metadata = metadata;
    return engine_.evaluate(info, state, turn, now_ms);
  }

  Evaluation bot(std::string_view text, std::optional<double> confidence = std::nullopt,
                 bool fallback = false, std::optional<std::string> handover = std::nullopt,
                 const nlohmann::json* metadata = nullptr) {
    TurnInput turn;
    turn.role = "bot";
    turn.text = keep(text);
    turn.bot_confidence = confidence;
    turn.bot_fallback = fallback;
    turn.bot_handover_reason = std::move(handover);
    turn.metadata = metadata;
    return engine_.evaluate(info, state, turn, now_ms);
  }

  const Engine& engine() const { return engine_; }

  ConversationInfo info;
  ConversationState state;
  std::int64_t now_ms = 1'700'000'000'000;

 private:
  // Evaluations hold views of the text, so the texts live as long as the conversation.
  std::string_view keep(std::string_view text) {
    texts_.push_back(std::make_unique<std::string>(text));
    return *texts_.back();
  }
  Engine engine_;
  std::vector<std::unique_ptr<std::string>> texts_;
};

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "handover-triggers-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

  void write(const std::string& name, std::string_view content) const {
    std::ofstream out(path_ / name, std::ios::binary | std::ios::trunc);
    out << content;
  }

 private:
  std::filesystem::path path_;
};

// A small rules file using the product lexicons; `rules` is the YAML of the rules list.
inline std::string rules_file(std::string_view rules) {
  return "version: 1\nlexicons:\n  directory: " + lexicon_dir().string() +
         "\n  languages: [en, de]\n  emoji: emoji_utf8_lexicon.txt\nrules:\n" + std::string(rules);
}

inline constexpr std::string_view kOneRule =
    "  - id: request\n"
    "    description: asks for a person\n"
    "    when: request.human\n"
    "    action: escalate\n"
    "    priority: 10\n"
    "    queue: general\n";

}  // namespace handover::triggers::testing
