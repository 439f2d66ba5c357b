// Bots the server talks to on behalf of a channel: what they are asked and what they answer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "handover/util/status.hpp"

namespace handover::connector {

// One user turn put to a bot.
struct BotQuestion {
  std::string conversation_id;
  std::string channel;
  std::string language;  // the conversation's language, "und" when unknown
  std::int64_t seq = 0;  // the user turn's seq
  std::string text;
  nlohmann::json turn = nullptr;  // the turn as the public API shows it
  // The triggers suggest offering the user a person (decision "suggest"): the bot should ask
  // whether they want one. A "yes" to an offer worded as the cue lists know it escalates.
  bool suggest_handover = false;
};

// One message of a bot's answer; it becomes one bot turn.
struct BotReply {
  std::string text;
  std::optional<double> confidence;  // 0..1; absent when the bot does not say
  std::string intent;                // "" when absent
  bool fallback = false;             // the bot did not understand
  nlohmann::json actions = nullptr;  // [{"name", "status", "data"}] or null
};

using BotCallback = std::function<void(Result<std::vector<BotReply>>)>;

class Bot {
 public:
  virtual ~Bot() = default;
  // Answers `question`: `done` runs exactly once, on this thread or another, with the replies
  // (possibly none), or Unavailable when the bot could not be reached or kept failing.
  // Thread-safe.
  virtual void ask(BotQuestion question, BotCallback done) = 0;
};

}  // namespace handover::connector
