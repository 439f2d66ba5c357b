// JSON round trip of ConversationState, for storing it beside the conversation.
#include "handover/triggers/conversation_state.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

namespace handover::triggers {
namespace {

using nlohmann::json;

template <class T, std::size_t N>
bool read_array(const json& in, const char* key, std::array<T, N>& out) {
  const auto it = in.find(key);
  if (it == in.end() || !it->is_array() || it->size() != N) return false;
  for (std::size_t i = 0; i < N; ++i) out[i] = (*it)[i].get<T>();
  return true;
}

template <class T>
void read(const json& in, const char* key, T& out) {
  out = in.at(key).get<T>();
}

constexpr std::int64_t kMaxSinceBase = std::numeric_limits<std::uint32_t>::max();

}  // namespace

void ConversationState::set_cooldown(Cooldown& slot, std::uint32_t rule_hash,
                                     std::int64_t at_ms) {
  const bool alone = std::all_of(cooldowns.begin(), cooldowns.end(), [&](const Cooldown& c) {
    return &c == &slot || c.rule_hash == 0;
  });
  if (alone) cooldown_base_ms = at_ms;
  if (at_ms - cooldown_base_ms > kMaxSinceBase) {
    // Half the range stays free, so the base moves about once in 24 days.
    const std::int64_t base = at_ms - kMaxSinceBase / 2;
    for (Cooldown& other : cooldowns) {
      if (other.rule_hash == 0) continue;
      other.since_base_ms =
          static_cast<std::uint32_t>(std::max<std::int64_t>(acted_ms(other) - base, 0));
    }
    cooldown_base_ms = base;
  }
  slot = {rule_hash,
          static_cast<std::uint32_t>(std::max<std::int64_t>(at_ms - cooldown_base_ms, 0))};
}

json to_json(const ConversationState& s) {
  json recent = json::array();
  for (const auto& set : s.recent_messages) recent.push_back({set[0], set[1]});
  json cooldowns = json::array();
  for (const auto& slot : s.cooldowns) {
    cooldowns.push_back({slot.rule_hash, slot.rule_hash == 0 ? 0 : s.acted_ms(slot)});
  }
  return {{"turns_user", s.turns_user},
          {"turns_bot", s.turns_bot},
          {"turns_total", s.turns_total},
          {"sentiment", s.sentiment},
          {"sentiment_count", s.sentiment_count},
          {"start_sum", s.start_sum},
          {"recent_messages", std::move(recent)},
          {"recent_count", s.recent_count},
          {"topic_mask", s.topic_mask},
          {"intents", s.intents},
          {"intent_count", s.intent_count},
          {"last_confidence", s.last_confidence},
          {"low_streak", s.low_streak},
          {"fallbacks", s.fallbacks},
          {"last_fallback", s.last_fallback},
          {"last_hedge", s.last_hedge},
          {"offer_pending", s.offer_pending},
          {"suggested_by", s.suggested_by},
          {"no_progress", s.no_progress},
          {"insults", s.insults},
          {"risk_cues", s.risk_cues},
          {"requests", s.requests},
          {"max_order_value", s.max_order_value},
          {"language_votes", s.language_votes},
          {"cooldowns", std::move(cooldowns)}};
}

Result<ConversationState> conversation_state_from_json(const json& in) {
  ConversationState s;
  try {
    read(in, "turns_user", s.turns_user);
    read(in, "turns_bot", s.turns_bot);
    read(in, "turns_total", s.turns_total);
    read(in, "sentiment_count", s.sentiment_count);
    read(in, "start_sum", s.start_sum);
    read(in, "recent_count", s.recent_count);
    read(in, "topic_mask", s.topic_mask);
    read(in, "intent_count", s.intent_count);
    read(in, "last_confidence", s.last_confidence);
    read(in, "low_streak", s.low_streak);
    read(in, "fallbacks", s.fallbacks);
    read(in, "last_fallback", s.last_fallback);
    read(in, "last_hedge", s.last_hedge);
    read(in, "offer_pending", s.offer_pending);
    // States written before suggestions were remembered have no such key.
    s.suggested_by = in.value("suggested_by", std::uint32_t{0});
    read(in, "no_progress", s.no_progress);
    read(in, "insults", s.insults);
    read(in, "risk_cues", s.risk_cues);
    read(in, "requests", s.requests);
    read(in, "max_order_value", s.max_order_value);
    const auto& recent = in.at("recent_messages");
    const auto& cooldowns = in.at("cooldowns");
    if (!read_array(in, "sentiment", s.sentiment) || !read_array(in, "intents", s.intents) ||
        !read_array(in, "language_votes", s.language_votes) ||
        recent.size() != s.recent_messages.size() || !cooldowns.is_array() ||
        cooldowns.size() > s.cooldowns.size()) {
      return Status::invalid_argument("conversation state: an array has the wrong size");
    }
    for (std::size_t i = 0; i < s.recent_messages.size(); ++i) {
      s.recent_messages[i] = {recent.at(i).at(0).get<std::uint64_t>(),
                              recent.at(i).at(1).get<std::uint64_t>()};
    }
    // Earliest first, so each later time finds the base already set below it.
    std::vector<std::pair<std::int64_t, std::size_t>> order;
    for (std::size_t i = 0; i < cooldowns.size(); ++i) {
      if (cooldowns.at(i).at(0).get<std::uint32_t>() == 0) continue;
      order.emplace_back(cooldowns.at(i).at(1).get<std::int64_t>(), i);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [acted, i] : order) {
      s.set_cooldown(s.cooldowns[i], cooldowns.at(i).at(0).get<std::uint32_t>(), acted);
    }
  } catch (const json::exception& e) {
    return Status::invalid_argument(std::string("conversation state: ") + e.what());
  }
  return s;
}

}  // namespace handover::triggers
