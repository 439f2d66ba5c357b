// The compact running state the trigger engine keeps per open conversation.
#pragma once

#include <array>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "handover/util/status.hpp"

namespace handover::triggers {

// Per-conversation memory of the engine: fixed-size rings and counters, no heap, well under
// 2 KiB. It is plain data so the server can store it, or rebuild it after a restart by
// replaying the turns through Engine::evaluate. One thread at a time may touch an instance.
struct ConversationState {
  static constexpr int kSentimentWindow = 8;  // user turns in the sentiment mean
  static constexpr int kStartTurns = 2;       // user turns that define the starting mood
  static constexpr int kRecentMessages = 6;   // user messages kept for near-duplicate checks
  static constexpr int kRecentIntents = 8;    // distinct bot intents remembered
  static constexpr int kCooldownSlots = 16;   // rules whose last action time is remembered

  // When a rule last acted, in 8 bytes: milliseconds after cooldown_base_ms. Read and write
  // it with acted_ms() and set_cooldown().
  struct Cooldown {
    std::uint32_t rule_hash = 0;  // hash of the rule id; 0 marks a free slot
    std::uint32_t since_base_ms = 0;
  };

  std::uint32_t turns_user = 0;
  std::uint32_t turns_bot = 0;
  std::uint32_t turns_total = 0;

  std::array<float, kSentimentWindow> sentiment{};  // ring of recent user scores
  std::uint32_t sentiment_count = 0;                // scored user turns so far
  float start_sum = 0.0F;                           // sum of the first kStartTurns scores

  // 128-bit sets of token hashes of recent user messages, for Jaccard near-duplicates.
  std::array<std::array<std::uint64_t, 2>, kRecentMessages> recent_messages{};
  std::uint32_t recent_count = 0;

  std::uint64_t topic_mask = 0;                         // lexicon topics seen
  std::array<std::uint32_t, kRecentIntents> intents{};  // hashes of distinct bot intents
  std::uint32_t intent_count = 0;

  float last_confidence = 1.0F;
  std::uint16_t low_streak = 0;
  std::uint16_t fallbacks = 0;
  bool last_fallback = false;
  bool last_hedge = false;
  bool offer_pending = false;  // the bot offered a person; the next user turn answers
  // Hash of the rule id whose suggestion is the newest decision (0: none). A "yes" to the
  // bot's offer that follows it is routed by that rule's queue and skills.
  std::uint32_t suggested_by = 0;
  std::uint16_t no_progress = 0;
  std::uint16_t insults = 0;
  std::uint16_t risk_cues = 0;
  std::uint16_t requests = 0;
  float max_order_value = 0.0F;

  // Language votes of earlier user turns, indexed like RuleSet languages.
  std::array<std::uint16_t, 4> language_votes{};

  std::int64_t cooldown_base_ms = 0;  // the time cooldown slots count from
  std::array<Cooldown, kCooldownSlots> cooldowns{};

  // When the rule in `slot` (one of `cooldowns`) last acted.
  std::int64_t acted_ms(const Cooldown& slot) const {
    return cooldown_base_ms + static_cast<std::int64_t>(slot.since_base_ms);
  }
  // Fills `slot` (one of `cooldowns`). A time the slots cannot hold is moved later, never
  // earlier, so a cooldown may end late but never early: a time before the base (a clock
  // gone back) counts as the base, and once a conversation spans more than 49 days, actions
  // more than 24 days old count as 24 days old.
  void set_cooldown(Cooldown& slot, std::uint32_t rule_hash, std::int64_t acted_ms);
};

static_assert(sizeof(ConversationState) <= 2048, "per-conversation state must stay small");

// Serialises every field, cooldowns as [rule hash, acted at ms] pairs; from_json accepts what
// to_json wrote (and states with 8 cooldown slots, as written before there were 16) and
// fails with kInvalidArgument on anything else (missing keys, wrong types, wrong array sizes).
nlohmann::json to_json(const ConversationState& state);
Result<ConversationState> conversation_state_from_json(const nlohmann::json& json);

}  // namespace handover::triggers
