// Conversations for offline replay: the JSONL corpus format (docs/replay.md) and its reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::replay {

// One turn as the trigger engine will see it, owning its text.
struct ReplayTurn {
  std::string role;  // "user", "bot", "agent" or "system" (after --agent-as-bot mapping)
  std::string text;
  std::optional<double> bot_confidence;
  bool bot_fallback = false;
  std::string bot_intent;
  std::optional<std::string> bot_handover_reason;
  nlohmann::json metadata;            // null, or the turn's metadata object
  std::optional<std::int64_t> at_ms;  // when the turn was sent, if the corpus says
  bool needs_human = false;           // this turn is labelled as needing a person
};

// A labelled answer for one conversation: did it need a person, and from which turn on.
struct Label {
  bool needs_human = false;
  int turn = 0;  // 1-based turn from which a person was needed; 0 when unknown
};

struct ReplayConversation {
  std::string id;
  std::size_t line = 0;  // line of the corpus it came from (1-based), 0 when not from a file
  std::string language;  // "" lets the engine detect it per turn
  std::string customer_tier;
  std::optional<double> lifetime_value;
  std::vector<ReplayTurn> turns;
  std::optional<Label> label;  // nullopt: unlabelled, left out of precision and recall
};

// How corpus lines are read. Defaults read the documented format as it is.
struct CorpusOptions {
  std::string label_act;      // when set, a turn whose "acts" hold it needs a person, and
                              // every conversation is labelled (SGD: NOTIFY_FAILURE)
  bool agent_as_bot = false;  // score "agent" turns as bot turns (human-only corpora)
  std::string tier_label;     // when set, the customer tier comes from labels.<tier_label>
  std::string language;       // language of conversations that name none ("" detects it)
  std::size_t max_line_bytes = 4 << 20;  // longer lines are reported and skipped
};

// A line that could not be used; the reader carries on with the next one.
struct LineError {
  std::size_t line = 0;  // 1-based
  std::string message;
};

// Parses one corpus line (without its newline). kInvalidArgument with a message naming the
// JSON pointer of the problem ("/turns/3/role: unknown role 'cust' ...") when the line is not
// a conversation of the documented format. `line` is recorded in the result and used for a
// missing id ("line-<n>").
Result<ReplayConversation> parse_conversation(std::string_view text, std::size_t line,
                                              const CorpusOptions& options);

// Reads `in` line by line, calling `on_conversation` for every good line in order and
// `on_error` for every bad one (broken JSON, unknown role, too long, ...). Blank lines are
// skipped. Lines longer than options.max_line_bytes are never held in memory whole.
// `on_bytes` (optional) is told the bytes consumed so far, for a progress display.
void read_corpus(std::istream& in, const CorpusOptions& options,
                 const std::function<void(ReplayConversation&&)>& on_conversation,
                 const std::function<void(const LineError&)>& on_error,
                 const std::function<void(std::uint64_t)>& on_bytes = {});

// Labels keyed by conversation id, one JSON object a line:
// {"id": "c_...", "needs_human": true, "turn": 4}. Bad lines go to `on_error`; a later line
// for the same id replaces an earlier one.
std::unordered_map<std::string, Label> read_labels(
    std::istream& in, const std::function<void(const LineError&)>& on_error);

}  // namespace handover::replay
