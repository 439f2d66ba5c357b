// History trimming: whole turns, newest first, within a byte budget; one overlong turn is
// cut at a code point boundary.
#include "history.hpp"

#include <algorithm>
#include <string_view>

#include "handover/util/clock.hpp"
#include "handover/util/utf8.hpp"

namespace handover::snapshot {
namespace {

using nlohmann::json;

std::size_t serialised_size(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace).size();
}

// The entry with the longest prefix of the turn's text that keeps it within `budget` bytes.
json truncated_entry(const store::TurnRecord& turn, std::size_t budget) {
  json entry = history_entry(turn);
  entry["text_truncated"] = true;
  entry["text_bytes"] = turn.text.size();
  const std::string_view text = turn.text;
  const auto fits = [&](std::size_t length) {
    entry["text"] = std::string(text.substr(0, utf8::safe_prefix_length(text, length)));
    return serialised_size(entry) <= budget;
  };
  // Escaping makes the size grow with the prefix, never shrink: a binary search finds it.
  std::size_t low = 0;
  std::size_t high = text.size();
  while (low < high) {
    const std::size_t mid = low + (high - low + 1) / 2;
    if (fits(mid)) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  fits(low);
  return entry;
}

}  // namespace

json history_entry(const store::TurnRecord& turn) {
  json entry = {
      {"seq", turn.seq},
      {"id", turn.client_turn_id.empty() ? json(nullptr) : json(turn.client_turn_id)},
      {"role", turn.role},
      {"text", turn.text},
      {"created_at", format_rfc3339_ms(turn.created_at_ms)},
  };
  if (turn.role == "agent" && !turn.metadata_json.empty()) {
    const json metadata = json::parse(turn.metadata_json, nullptr, false);
    if (metadata.is_object() && metadata.contains("agent_id") && metadata["agent_id"].is_string()) {
      entry["agent_id"] = metadata["agent_id"];
    }
  }
  return entry;
}

TrimmedHistory trim_history(const std::vector<const store::TurnRecord*>& candidates,
                            const store::TurnRecord* first_user, std::size_t max_bytes) {
  TrimmedHistory out;
  const std::size_t budget = max_bytes > 2 ? max_bytes - 2 : 0;  // the array's brackets
  std::vector<std::pair<std::int64_t, json>> kept;

  const store::TurnRecord& newest = *candidates.back();
  json entry = history_entry(newest);
  std::size_t used = serialised_size(entry);
  if (used > budget) {
    entry = truncated_entry(newest, budget);
    used = serialised_size(entry);
    out.truncated = 1;
  }
  kept.emplace_back(newest.seq, std::move(entry));

  // Each further entry costs its size plus a comma.
  const auto try_keep = [&](const store::TurnRecord& turn) {
    json e = history_entry(turn);
    const std::size_t cost = serialised_size(e) + 1;
    if (used + cost > budget) return false;
    used += cost;
    kept.emplace_back(turn.seq, std::move(e));
    return true;
  };
  if (first_user != nullptr && first_user != &newest)
    out.first_user_turn_kept = try_keep(*first_user);
  if (first_user == &newest) out.first_user_turn_kept = true;
  for (std::size_t i = candidates.size() - 1; i-- > 0;) {
    if (candidates[i] == first_user) continue;
    if (!try_keep(*candidates[i])) break;
  }

  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [seq, e] : kept) out.turns.push_back(std::move(e));
  out.omitted = candidates.size() - kept.size();
  return out;
}

}  // namespace handover::snapshot
