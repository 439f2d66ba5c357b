// The JSONL corpus reader: one conversation a line, bad lines reported with their number.
#include "handover/replay/corpus.hpp"

#include <algorithm>
#include <array>

#include "handover/util/clock.hpp"

namespace handover::replay {
namespace {

using nlohmann::json;

constexpr std::size_t kReadChunk = 1 << 16;

// Collects the first problem found while reading one line.
class LineParser {
 public:
  explicit LineParser(const CorpusOptions& options) : options_(options) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  void fail(const std::string& pointer, const std::string& message) {
    if (error_.empty()) error_ = pointer + ": " + message;
  }

  const json* member(const json& object, const std::string& pointer, const char* key,
                     json::value_t type, const char* type_name) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    const bool numeric = type == json::value_t::number_float && it->is_number();
    if (it->type() != type && !numeric) {
      fail(pointer + "/" + key, std::string("expected ") + type_name);
      return nullptr;
    }
    return &*it;
  }

  const json* string_member(const json& o, const std::string& p, const char* key) {
    return member(o, p, key, json::value_t::string, "a string");
  }
  const json* object_member(const json& o, const std::string& p, const char* key) {
    return member(o, p, key, json::value_t::object, "an object");
  }
  const json* number_member(const json& o, const std::string& p, const char* key) {
    return member(o, p, key, json::value_t::number_float, "a number");
  }
  const json* bool_member(const json& o, const std::string& p, const char* key) {
    return member(o, p, key, json::value_t::boolean, "true or false");
  }

  void read_bot(const json& bot, const std::string& pointer, ReplayTurn& turn);
  void read_turn(const json& item, const std::string& pointer, ReplayTurn& turn);
  void read_labels(const json& labels, ReplayConversation& conversation);
  void read_customer(const json& object, ReplayConversation& conversation);
  void apply_turn_labels(ReplayConversation& conversation) const;

 private:
  const CorpusOptions& options_;
  std::string error_;
};

void LineParser::read_bot(const json& bot, const std::string& pointer, ReplayTurn& turn) {
  if (const json* c = number_member(bot, pointer, "confidence")) {
    const double value = c->get<double>();
    if (value < 0 || value > 1) fail(pointer + "/confidence", "expected a number from 0 to 1");
    turn.bot_confidence = value;
  }
  if (const json* f = bool_member(bot, pointer, "fallback")) turn.bot_fallback = f->get<bool>();
  if (const json* i = string_member(bot, pointer, "intent"))
    turn.bot_intent = i->get<std::string>();
  if (const json* h = object_member(bot, pointer, "handover")) {
    const json* reason = string_member(*h, pointer + "/handover", "reason");
    turn.bot_handover_reason = reason ? reason->get<std::string>() : std::string();
  }
}

void LineParser::read_turn(const json& item, const std::string& pointer, ReplayTurn& turn) {
  if (!item.is_object()) return fail(pointer, "expected a turn object");
  const json* role = string_member(item, pointer, "role");
  if (!role) return fail(pointer + "/role", "missing: expected user, bot, agent or system");
  turn.role = role->get<std::string>();
  if (turn.role != "user" && turn.role != "bot" && turn.role != "agent" && turn.role != "system") {
    return fail(pointer + "/role",
                "unknown role '" + turn.role + "' (expected user, bot, agent or system)");
  }
  const json* text = string_member(item, pointer, "text");
  if (text) turn.text = text->get<std::string>();
  if (!text && !failed()) fail(pointer + "/text", "missing: expected a string");

  const json* action = bool_member(item, pointer, "action");
  if (action && action->get<bool>()) turn.role = "system";  // a tool action, not a message
  if (options_.agent_as_bot && turn.role == "agent") turn.role = "bot";
  if (const json* bot = object_member(item, pointer, "bot")) read_bot(*bot, pointer + "/bot", turn);
  if (const json* m = object_member(item, pointer, "metadata")) turn.metadata = *m;
  if (const json* at = string_member(item, pointer, "at")) {
    turn.at_ms = parse_rfc3339_ms(at->get_ref<const std::string&>());
    if (!turn.at_ms) fail(pointer + "/at", "expected an RFC 3339 timestamp");
  }
  if (const json* n = bool_member(item, pointer, "needs_human")) turn.needs_human = n->get<bool>();
  if (options_.label_act.empty()) return;
  if (const auto acts = item.find("acts"); acts != item.end() && acts->is_array()) {
    for (const json& act : *acts) {
      if (act.is_string() && act.get_ref<const std::string&>() == options_.label_act) {
        turn.needs_human = true;
      }
    }
  }
}

void LineParser::read_labels(const json& labels, ReplayConversation& conversation) {
  if (!options_.tier_label.empty()) {
    if (const auto t = labels.find(options_.tier_label); t != labels.end() && t->is_string()) {
      conversation.customer_tier = t->get<std::string>();
    }
  }
  const json* needs = bool_member(labels, "/labels", "needs_human");
  const json* turn = member(labels, "/labels", "needs_human_turn", json::value_t::number_unsigned,
                            "a positive integer");
  if (!needs && !turn) return;
  Label label;
  label.needs_human = needs ? needs->get<bool>() : true;
  if (turn) {
    label.turn = static_cast<int>(std::min<std::uint64_t>(turn->get<std::uint64_t>(), 1 << 30));
    if (label.turn < 1 || static_cast<std::size_t>(label.turn) > conversation.turns.size()) {
      fail("/labels/needs_human_turn", "expected a turn number from 1 to the number of turns");
    }
  }
  conversation.label = label;
}

void LineParser::read_customer(const json& object, ReplayConversation& conversation) {
  const json* customer = object_member(object, "", "customer");
  if (!customer) return;
  if (const json* t = string_member(*customer, "/customer", "tier")) {
    conversation.customer_tier = t->get<std::string>();
  }
  if (const json* v = number_member(*customer, "/customer", "lifetime_value")) {
    conversation.lifetime_value = v->get<double>();
  }
}

// Turn-level marks (and --label-act) label the conversation when its labels did not.
void LineParser::apply_turn_labels(ReplayConversation& conversation) const {
  int first = 0;
  for (std::size_t i = 0; i < conversation.turns.size() && first == 0; ++i) {
    if (conversation.turns[i].needs_human) first = static_cast<int>(i) + 1;
  }
  if (first > 0 && (!conversation.label || conversation.label->turn == 0)) {
    conversation.label = Label{true, first};
  } else if (!conversation.label && !options_.label_act.empty()) {
    conversation.label = Label{false, 0};
  }
}

}  // namespace

Result<ReplayConversation> parse_conversation(std::string_view text, std::size_t line,
                                              const CorpusOptions& options) {
  const json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return Status::invalid_argument("not valid JSON");
  if (!object.is_object()) return Status::invalid_argument("expected a JSON object");

  LineParser parser(options);
  ReplayConversation conversation;
  conversation.line = line;
  const json* id = parser.string_member(object, "", "id");
  conversation.id = id ? id->get<std::string>() : "line-" + std::to_string(line);
  conversation.language = options.language;
  if (const json* l = parser.string_member(object, "", "language")) {
    conversation.language = l->get<std::string>();
  }
  parser.read_customer(object, conversation);
  const json* turns = parser.member(object, "", "turns", json::value_t::array, "an array");
  if (!turns && !parser.failed()) parser.fail("/turns", "missing: expected an array of turns");
  if (turns) {
    conversation.turns.resize(turns->size());
    for (std::size_t i = 0; i < turns->size() && !parser.failed(); ++i) {
      parser.read_turn((*turns)[i], "/turns/" + std::to_string(i), conversation.turns[i]);
    }
  }
  if (const json* labels = parser.object_member(object, "", "labels"); labels && !parser.failed()) {
    parser.read_labels(*labels, conversation);
  }
  if (parser.failed()) return Status::invalid_argument(parser.error());
  parser.apply_turn_labels(conversation);
  return conversation;
}

namespace {

// Splits a stream into lines without ever holding more than `max_bytes` of one line.
class LineSplitter {
 public:
  LineSplitter(std::istream& in, std::size_t max_bytes) : in_(in), max_bytes_(max_bytes) {}

  // The next line; false at the end. `too_long` is set for a line cut at max_bytes.
  bool next(std::string& line, bool& too_long) {
    line.clear();
    too_long = false;
    bool any = false;
    for (;;) {
      if (pos_ == size_ && !refill()) return any;
      any = true;
      const char* begin = buffer_.data() + pos_;
      const char* end = buffer_.data() + size_;
      const char* newline = std::find(begin, end, '\n');
      const auto n = static_cast<std::size_t>(newline - begin);
      if (!too_long && line.size() + n <= max_bytes_) {
        line.append(begin, n);
      } else if (!too_long) {
        too_long = true;
        line.clear();
      }
      pos_ += n;
      if (newline != end) {
        ++pos_;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
    }
  }

  std::uint64_t consumed() const { return consumed_ - (size_ - pos_); }

 private:
  bool refill() {
    if (!in_) return false;
    in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    size_ = static_cast<std::size_t>(in_.gcount());
    pos_ = 0;
    consumed_ += size_;
    return size_ > 0;
  }

  std::istream& in_;
  std::size_t max_bytes_;
  std::array<char, kReadChunk> buffer_{};
  std::size_t pos_ = 0;
  std::size_t size_ = 0;
  std::uint64_t consumed_ = 0;
};

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

void read_corpus(std::istream& in, const CorpusOptions& options,
                 const std::function<void(ReplayConversation&&)>& on_conversation,
                 const std::function<void(const LineError&)>& on_error,
                 const std::function<void(std::uint64_t)>& on_bytes) {
  LineSplitter lines(in, options.max_line_bytes);
  std::string line;
  bool too_long = false;
  for (std::size_t number = 1; lines.next(line, too_long); ++number) {
    if (on_bytes) on_bytes(lines.consumed());
    if (too_long) {
      on_error({number,
                "line longer than " + std::to_string(options.max_line_bytes) + " bytes, skipped"});
      continue;
    }
    if (blank(line)) continue;
    auto parsed = parse_conversation(line, number, options);
    if (!parsed) {
      on_error({number, parsed.status().message()});
      continue;
    }
    on_conversation(std::move(parsed).value());
  }
}

std::unordered_map<std::string, Label> read_labels(
    std::istream& in, const std::function<void(const LineError&)>& on_error) {
  std::unordered_map<std::string, Label> labels;
  LineSplitter lines(in, 1 << 16);
  std::string line;
  bool too_long = false;
  for (std::size_t number = 1; lines.next(line, too_long); ++number) {
    if (too_long) {
      on_error({number, "line too long, skipped"});
      continue;
    }
    if (blank(line)) continue;
    const json object = json::parse(line, nullptr, false);
    const auto id = object.is_object() ? object.find("id") : object.end();
    const auto needs = object.is_object() ? object.find("needs_human") : object.end();
    if (id == object.end() || !id->is_string() || needs == object.end() || !needs->is_boolean()) {
      on_error({number, "expected {\"id\": string, \"needs_human\": bool, \"turn\"?: integer}"});
      continue;
    }
    Label label{needs->get<bool>(), 0};
    if (const auto turn = object.find("turn"); turn != object.end()) {
      if (!turn->is_number_unsigned() || turn->get<std::uint64_t>() > (1U << 30)) {
        on_error({number, "/turn: expected a positive integer"});
        continue;
      }
      label.turn = static_cast<int>(turn->get<std::uint64_t>());
    }
    labels[id->get<std::string>()] = label;
  }
  return labels;
}

}  // namespace handover::replay
