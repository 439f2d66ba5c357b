// Reads config/triggers.yaml: structure checks with file:line:column, then compilation.
#include "handover/triggers/rule_set.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <initializer_list>
#include <sstream>
#include <type_traits>
#include <unordered_map>

#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"
#include "handover/util/file.hpp"
#include "handover/util/json_writer.hpp"
#include "handover/util/utf8.hpp"
#include "rule_set_impl.hpp"

namespace handover::triggers {
namespace {

constexpr std::size_t kHashDigits = 16;
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
// As routing and POST /v1/conversations/{id}/handover accept them.
constexpr std::size_t kMaxSkills = 64;
constexpr std::size_t kMaxSkillBytes = 64;

bool is_skill_name(std::string_view s) {
  return !s.empty() && s.size() <= kMaxSkillBytes &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") == std::string_view::npos;
}

struct RuleContext {
  std::string id;  // "" outside a rule, or before the id is known
};

class RuleFileLoader {
 public:
  // A byte order mark some editors write is dropped, so line 1 reads as it looks.
  RuleFileLoader(std::filesystem::path path, std::string content)
      : path_(std::move(path)), content_(std::move(content)) {
    if (content_.starts_with(kByteOrderMark)) content_.erase(0, kByteOrderMark.size());
  }

  Result<std::shared_ptr<const RuleSet>> load(std::int64_t now_ms);

 private:
  void error(const YAML::Mark& mark, const RuleContext& rule, const std::string& message);
  void error(const YAML::Node& node, const RuleContext& rule, const std::string& message) {
    error(node.Mark(), rule, message);
  }
  bool check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                  const RuleContext& rule);
  bool get_string(const YAML::Node& node, const RuleContext& rule, std::string_view what,
                  std::string& out);
  template <class T>
  bool get_number(const YAML::Node& node, const RuleContext& rule, std::string_view what, T& out);
  // get_number() for a setting that must lie in [low, high] (and be finite).
  template <typename T>
  void get_bounded(const YAML::Node& node, std::string_view what, T& out, double low,
                   double high);
  bool get_strings(const YAML::Node& node, const RuleContext& rule, std::string_view what,
                   std::vector<std::string>& out);
  bool get_duration(const YAML::Node& node, const RuleContext& rule, std::int64_t& out_ms);
  bool get_skills(const YAML::Node& node, const RuleContext& rule, std::vector<std::string>& out);
  bool get_queue(const YAML::Node& rule_node, const RuleContext& rule, Rule& out);

  bool parse_root(const YAML::Node& root, LexiconOptions& lexicons, SignalSettings& settings,
                  YAML::Node& rules);
  void parse_lexicons(const YAML::Node& node, LexiconOptions& out);
  void check_languages(const YAML::Node& node, const LexiconOptions& options);
  void parse_settings(const YAML::Node& node, SignalSettings& out);
  void parse_rules(const YAML::Node& node, std::vector<Rule>& rules,
                   std::vector<CompiledRule>& compiled);
  bool parse_rule(const YAML::Node& node, Rule& rule, CompiledRule& compiled);
  bool parse_rule_fields(const YAML::Node& node, RuleContext& context, Rule& rule);
  void compile_when(const YAML::Node& rule_node, const RuleContext& context, Rule& rule,
                    CompiledRule& compiled);
  bool expression_mark(const YAML::Node& node, std::string_view text, std::size_t offset,
                       YAML::Mark& out) const;
  YAML::Mark advance(YAML::Mark mark, std::size_t from, std::size_t bytes) const;
  bool literal_block_mark(const YAML::Mark& mark, std::string_view text, std::size_t offset,
                          YAML::Mark& out) const;
  std::string location(const YAML::Mark& mark) const;
  std::size_t value_column(const YAML::Mark& mark) const;
  std::vector<std::string> warnings(const YAML::Node& rules_node,
                                    const std::vector<Rule>& rules) const;
  Status failure() const;

  std::filesystem::path path_;
  std::string content_;
  std::vector<std::string> errors_;
};

std::string RuleFileLoader::location(const YAML::Mark& mark) const {
  if (mark.is_null()) return path_.string();
  return path_.string() + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

void RuleFileLoader::error(const YAML::Mark& mark, const RuleContext& rule,
                           const std::string& message) {
  std::string line = location(mark) + ": ";
  if (!rule.id.empty()) line += "rule '" + rule.id + "': ";
  errors_.push_back(line + message);
}

// Reports duplicate and unknown keys; yaml-cpp itself accepts both silently.
bool RuleFileLoader::check_keys(const YAML::Node& map,
                                std::initializer_list<std::string_view> allowed,
                                const RuleContext& rule) {
  bool ok = true;
  std::unordered_map<std::string, YAML::Mark> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
    if (!seen.emplace(key, it->first.Mark()).second) {
      error(it->first, rule, "duplicate key '" + key + "' (first at " + location(seen[key]) + ")");
      ok = false;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (std::string_view name : allowed)
        names += (names.empty() ? "" : ", ") + std::string(name);
      error(it->first, rule, "unknown key '" + key + "' (expected one of: " + names + ")");
      ok = false;
    }
  }
  return ok;
}

bool RuleFileLoader::get_string(const YAML::Node& node, const RuleContext& rule,
                                std::string_view what, std::string& out) {
  if (!node.IsScalar()) {
    error(node, rule, std::string(what) + " must be a string");
    return false;
  }
  if (!utf8::is_valid(node.Scalar())) {
    error(node, rule, std::string(what) + " is not valid UTF-8");
    return false;
  }
  out = node.Scalar();
  return true;
}

template <class T>
bool RuleFileLoader::get_number(const YAML::Node& node, const RuleContext& rule,
                                std::string_view what, T& out) {
  try {
    if (node.IsScalar()) {
      out = node.as<T>();
      return true;
    }
  } catch (const YAML::Exception&) {
  }
  if constexpr (std::is_integral_v<T>) {
    // A whole number too large for the field is told as such, not as "not a whole number".
    double value = 0;
    if (node.IsScalar() && YAML::convert<double>::decode(node, value) && std::isfinite(value) &&
        value == std::floor(value)) {
      std::ostringstream message;
      message << what << " must be a whole number from " << std::numeric_limits<T>::min()
              << " to " << std::numeric_limits<T>::max();
      error(node, rule, message.str());
      return false;
    }
  }
  error(node, rule, std::string(what) + (std::is_integral_v<T> ? " must be a whole number"
                                                                  : " must be a number"));
  return false;
}

template <typename T>
void RuleFileLoader::get_bounded(const YAML::Node& node, std::string_view what, T& out,
                                 double low, double high) {
  T value = out;
  if (!get_number(node, RuleContext(), what, value)) return;
  const auto v = static_cast<double>(value);
  if (!std::isfinite(v) || v < low || v > high) {
    std::ostringstream message;
    message << what << " must be from " << low << " to " << high;
    error(node, RuleContext(), message.str());
    return;
  }
  out = value;
}

bool RuleFileLoader::get_strings(const YAML::Node& node, const RuleContext& rule,
                                 std::string_view what, std::vector<std::string>& out) {
  if (!node.IsSequence()) {
    error(node, rule, std::string(what) + " must be a list of strings");
    return false;
  }
  for (const YAML::Node& item : node) {
    std::string value;
    if (!get_string(item, rule, what, value)) return false;
    out.push_back(std::move(value));
  }
  return true;
}

// A number of seconds, or a string like "250ms", "30s", "10m", "2h".
bool RuleFileLoader::get_duration(const YAML::Node& node, const RuleContext& rule,
                                  std::int64_t& out_ms) {
  static constexpr std::pair<std::string_view, std::int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  // A year is longer than any conversation; beyond it a cooldown would not fit its type.
  constexpr double kMaxMs = 366.0 * 86'400'000.0;
  const auto too_long = [&](double ms) {
    if (ms <= kMaxMs) return false;
    error(node, rule, "cooldown must be at most 366 days");
    return true;
  };
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  for (const auto& [unit, scale] : kUnits) {
    if (text.size() <= unit.size() ||
        text.compare(text.size() - unit.size(), unit.size(), unit) != 0)
      continue;
    if (unit == "s" && text.size() >= 2 && text[text.size() - 2] == 'm') continue;
    try {
      const double value = YAML::Node(text.substr(0, text.size() - unit.size())).as<double>();
      if (value >= 0) {
        const double ms = value * static_cast<double>(scale);
        if (too_long(ms)) return false;
        out_ms = static_cast<std::int64_t>(ms);
        return true;
      }
    } catch (const YAML::Exception&) {
    }
  }
  double seconds = 0;
  try {
    if (node.IsScalar()) seconds = node.as<double>();
    if (node.IsScalar() && seconds >= 0) {
      if (too_long(seconds * 1000.0)) return false;
      out_ms = static_cast<std::int64_t>(seconds * 1000.0);
      return true;
    }
  } catch (const YAML::Exception&) {
  }
  error(node, rule, "cooldown must be seconds or a duration like \"30s\", \"10m\", \"2h\"");
  return false;
}

// A handover with a skill routing cannot hold fails only when it happens: refuse it here.
bool RuleFileLoader::get_skills(const YAML::Node& node, const RuleContext& rule,
                                std::vector<std::string>& out) {
  if (!get_strings(node, rule, "skills", out)) return false;
  bool ok = true;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (is_skill_name(out[i])) continue;
    error(node[i], rule,
          "expected a skill name: a-z, 0-9, '_', '-', '.' (at most 64), not '" + out[i] + "'");
    ok = false;
  }
  if (out.size() > kMaxSkills) {
    error(node, rule, "at most " + std::to_string(kMaxSkills) + " skills");
    ok = false;
  }
  return ok;
}

// Both actions hand over (a suggestion once the user accepts), so each needs a queue.
bool RuleFileLoader::get_queue(const YAML::Node& rule_node, const RuleContext& rule, Rule& out) {
  const YAML::Node node = rule_node["queue"];
  if (!node) {
    error(rule_node, rule, "queue is required (the routing queue of its handovers)");
    return false;
  }
  if (!get_string(node, rule, "queue", out.queue)) return false;
  out.queue_location = location(node.Mark());
  if (!out.queue.empty()) return true;
  error(node, rule, "queue must not be empty");
  return false;
}

void RuleFileLoader::parse_lexicons(const YAML::Node& node, LexiconOptions& out) {
  const RuleContext none;
  if (!node.IsMap()) {
    error(node, none, "lexicons must be a map");
    return;
  }
  check_keys(node, {"directory", "languages", "emoji", "emoji_language"}, none);
  std::string directory = "lexicons";
  if (node["directory"]) get_string(node["directory"], none, "lexicons.directory", directory);
  out.directory = path_.parent_path() / directory;
  if (!node["languages"])
    error(node, none, "lexicons.languages is required");
  else if (get_strings(node["languages"], none, "lexicons.languages", out.languages))
    check_languages(node, out);
  if (node["emoji"]) get_string(node["emoji"], none, "lexicons.emoji", out.emoji_file);
  if (node["emoji_language"])
    get_string(node["emoji_language"], none, "lexicons.emoji_language", out.emoji_language);
  else if (!out.languages.empty())
    out.emoji_language = out.languages.front();
}

// A language is a directory of lexicons: one that is missing is reported at its name here,
// rather than later at the path of a file inside it.
void RuleFileLoader::check_languages(const YAML::Node& node, const LexiconOptions& options) {
  const RuleContext none;
  std::error_code ignored;
  if (!std::filesystem::is_directory(options.directory, ignored)) {
    error(node["directory"] ? node["directory"] : node, none,
          "lexicons.directory: " + options.directory.string() + " is not a directory");
    return;
  }
  for (std::size_t i = 0; i < options.languages.size(); ++i) {
    const std::filesystem::path dir = options.directory / options.languages[i];
    if (options.languages[i].empty() || options.languages[i].find('/') != std::string::npos ||
        !std::filesystem::is_directory(dir, ignored)) {
      error(node["languages"][i], none,
            "unknown language '" + options.languages[i] + "': no lexicon directory " +
                dir.string());
    }
  }
}

void RuleFileLoader::parse_settings(const YAML::Node& node, SignalSettings& out) {
  const RuleContext none;
  if (!node.IsMap()) {
    error(node, none, "settings must be a map");
    return;
  }
  check_keys(node,
             {"low_confidence", "near_duplicate", "short_words", "answer_words",
              "lifetime_value_scale", "order_value_scale", "order_value_paths"},
             none);
  if (node["low_confidence"])
    get_bounded(node["low_confidence"], "settings.low_confidence", out.low_confidence, 0, 1);
  if (node["near_duplicate"])
    get_bounded(node["near_duplicate"], "settings.near_duplicate", out.near_duplicate, 0, 1);
  if (node["short_words"])
    get_bounded(node["short_words"], "settings.short_words", out.short_words, 0, 1000);
  if (node["answer_words"])
    get_bounded(node["answer_words"], "settings.answer_words", out.answer_words, 0, 1000);
  if (node["lifetime_value_scale"])
    get_number(node["lifetime_value_scale"], none, "settings.lifetime_value_scale",
               out.lifetime_value_scale);
  if (node["order_value_scale"])
    get_number(node["order_value_scale"], none, "settings.order_value_scale",
               out.order_value_scale);
  if (!(out.lifetime_value_scale > 0) || !(out.order_value_scale > 0) ||
      !std::isfinite(out.lifetime_value_scale) || !std::isfinite(out.order_value_scale)) {
    error(node, none, "settings: value scales must be positive");
  }
  std::vector<std::string> paths;
  if (!node["order_value_paths"] ||
      !get_strings(node["order_value_paths"], none, "settings.order_value_paths", paths))
    return;
  out.order_value_paths.clear();
  for (const std::string& dotted : paths) {
    std::vector<std::string> keys;
    std::istringstream in(dotted);
    for (std::string key; std::getline(in, key, '.');) keys.push_back(key);
    out.order_value_paths.push_back(std::move(keys));
  }
}

bool RuleFileLoader::parse_rule_fields(const YAML::Node& node, RuleContext& context, Rule& rule) {
  bool ok = check_keys(
      node,
      {"id", "description", "when", "action", "priority", "queue", "skills", "cooldown", "mode"},
      context);
  if (node["description"])
    ok &= get_string(node["description"], context, "description", rule.description);
  if (node["priority"]) ok &= get_number(node["priority"], context, "priority", rule.priority);
  ok &= get_queue(node, context, rule);
  if (node["skills"]) ok &= get_skills(node["skills"], context, rule.skills);
  if (node["cooldown"]) ok &= get_duration(node["cooldown"], context, rule.cooldown_ms);
  std::string action;
  if (!node["action"]) {
    error(node, context, "action is required (escalate or suggest)");
    ok = false;
  } else if (get_string(node["action"], context, "action", action)) {
    if (action == "escalate")
      rule.action = Action::kEscalate;
    else if (action == "suggest")
      rule.action = Action::kSuggest;
    else {
      error(node["action"], context, "action must be escalate or suggest, not '" + action + "'");
      ok = false;
    }
  }
  std::string mode = "active";
  if (node["mode"] && get_string(node["mode"], context, "mode", mode) && mode != "active" &&
      mode != "shadow") {
    error(node["mode"], context, "mode must be active or shadow, not '" + mode + "'");
    ok = false;
  }
  rule.mode = mode == "shadow" ? RuleMode::kShadow : RuleMode::kActive;
  return ok;
}

// Column of a scalar's first character, past an opening quote.
std::size_t RuleFileLoader::value_column(const YAML::Mark& mark) const {
  if (mark.is_null() || static_cast<std::size_t>(mark.pos) >= content_.size()) return 0;
  const char c = content_[static_cast<std::size_t>(mark.pos)];
  return c == '"' || c == '\'' ? 1 : 0;
}

// `mark` moved on by the `bytes` of content_ that start at `from`.
YAML::Mark RuleFileLoader::advance(YAML::Mark mark, std::size_t from, std::size_t bytes) const {
  for (std::size_t i = from; i < from + bytes && i < content_.size(); ++i) {
    ++mark.pos;
    if (content_[i] == '\n') {
      ++mark.line;
      mark.column = 0;
    } else {
      ++mark.column;
    }
  }
  return mark;
}

// In a literal block ('|') each line of the text is the end of one line of the file.
bool RuleFileLoader::literal_block_mark(const YAML::Mark& mark, std::string_view text,
                                        std::size_t offset, YAML::Mark& out) const {
  // The end of a text that ends its last line is shown at that line's end.
  if (offset > 0 && offset == text.size() && text.back() == '\n') --offset;
  const std::size_t line_begin = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  const std::size_t text_begin = offset == 0 || line_begin == std::string_view::npos
                                     ? 0
                                     : line_begin + 1;
  const std::size_t text_end = std::min(text.find('\n', text_begin), text.size());
  const std::string_view text_line = text.substr(text_begin, text_end - text_begin);
  const auto lines_before = static_cast<std::size_t>(
      std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(text_begin), '\n'));
  std::size_t at = static_cast<std::size_t>(mark.pos);
  for (std::size_t n = 0; n <= lines_before; ++n) {
    at = content_.find('\n', at);
    if (at == std::string::npos) return false;
    ++at;
  }
  const std::size_t file_end = std::min(content_.find('\n', at), content_.size());
  const std::string_view file_line = std::string_view(content_).substr(at, file_end - at);
  if (!file_line.ends_with(text_line)) return false;
  out = mark;
  out.line = mark.line + 1 + static_cast<int>(lines_before);
  out.column = static_cast<int>(file_line.size() - text_line.size() + (offset - text_begin));
  return true;
}

// Where byte `offset` of the expression `text`, the value of `node`, is in the file: found
// when the value is written as it reads (plain, or quoted without escapes) or as a literal
// block.
bool RuleFileLoader::expression_mark(const YAML::Node& node, std::string_view text,
                                     std::size_t offset, YAML::Mark& out) const {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= content_.size())
    return false;
  const std::size_t start = static_cast<std::size_t>(mark.pos) + value_column(mark);
  if (std::string_view(content_).substr(start, text.size()) == text) {
    YAML::Mark value = mark;
    value.column += static_cast<int>(value_column(mark));
    out = advance(value, start, offset);
    return true;
  }
  return content_[static_cast<std::size_t>(mark.pos)] == '|' &&
         literal_block_mark(mark, text, offset, out);
}

void RuleFileLoader::compile_when(const YAML::Node& rule_node, const RuleContext& context,
                                  Rule& rule, CompiledRule& compiled) {
  const YAML::Node node = rule_node["when"];
  if (!node) {
    error(rule_node, context, "when is required (an expression over the signal fields)");
    return;
  }
  if (!get_string(node, context, "when", rule.when)) return;
  ExpressionError failure;
  if (Expression::compile(rule.when, compiled.when, failure)) return;
  YAML::Mark mark;
  if (expression_mark(node, rule.when, failure.offset, mark)) {
    error(mark, context, failure.message);
    return;
  }
  error(node, context,
        failure.message + " (at byte " + std::to_string(failure.offset) + " of the expression)");
}

bool RuleFileLoader::parse_rule(const YAML::Node& node, Rule& rule, CompiledRule& compiled) {
  RuleContext context;
  if (!node.IsMap()) {
    error(node, context, "a rule must be a map");
    return false;
  }
  if (node["id"] && node["id"].IsScalar()) context.id = node["id"].Scalar();
  if (context.id.empty()) error(node, context, "id is required");
  // Decisions and analytics carry the id: it must read the same there as in the file.
  if (!utf8::is_valid(context.id)) {
    error(node["id"], RuleContext(), "a rule id must be valid UTF-8");
    context.id.clear();
  }
  rule.id = context.id;
  rule.location = location(node.Mark());
  const std::size_t before = errors_.size();
  parse_rule_fields(node, context, rule);
  compile_when(node, context, rule, compiled);
  compiled.id_hash = static_cast<std::uint32_t>(fnv1a(rule.id)) | 1U;
  for (int field : compiled.when.fields()) {
    const auto family = field_defs()[static_cast<std::size_t>(field)].family;
    if (family) compiled.families |= 1U << static_cast<unsigned>(*family);
  }
  return errors_.size() == before && !context.id.empty();
}

void RuleFileLoader::parse_rules(const YAML::Node& node, std::vector<Rule>& rules,
                                 std::vector<CompiledRule>& compiled) {
  if (!node.IsSequence()) {
    error(node, {}, "rules must be a list");
    return;
  }
  std::unordered_map<std::string, std::string> first_seen;
  for (const YAML::Node& item : node) {
    Rule rule;
    CompiledRule compiled_rule;
    const bool ok = parse_rule(item, rule, compiled_rule);
    if (!rule.id.empty() && !first_seen.emplace(rule.id, rule.location).second) {
      error(item, {rule.id}, "duplicate rule id (first defined at " + first_seen[rule.id] + ")");
      continue;
    }
    if (!ok) continue;
    rules.push_back(std::move(rule));
    compiled.push_back(std::move(compiled_rule));
  }
}

// Errors quote the file, which may not be UTF-8 (a Latin-1 key): they are repaired so that
// JSON answers and logs can carry them.
Status RuleFileLoader::failure() const {
  std::string message;
  for (const std::string& line : errors_) message += (message.empty() ? "" : "\n") + line;
  return Status::invalid_argument(utf8::repair(message));
}

// A file without a rule that can act loads, but turns every handover off.
std::vector<std::string> RuleFileLoader::warnings(const YAML::Node& rules_node,
                                                  const std::vector<Rule>& rules) const {
  const bool any_active = std::any_of(rules.begin(), rules.end(), [](const Rule& rule) {
    return rule.mode == RuleMode::kActive;
  });
  if (any_active) return {};
  return {location(rules_node.Mark()) +
          ": no active rules: no conversation will be handed over by the triggers"};
}

// Returns whether `rules` was found.
bool RuleFileLoader::parse_root(const YAML::Node& root, LexiconOptions& lexicons,
                                SignalSettings& settings, YAML::Node& rules) {
  const RuleContext none;
  if (!root.IsMap()) {
    error(root, none, "the rules file must be a map with version, lexicons, settings and rules");
    return false;
  }
  check_keys(root, {"version", "lexicons", "settings", "rules"}, none);
  int version = 0;
  if (!root["version"])
    error(root, none, "version is required (version: 1)");
  else if (get_number(root["version"], none, "version", version) && version != 1) {
    error(root["version"], none,
          "unsupported version " + std::to_string(version) + " (expected 1)");
  }
  if (!root["lexicons"])
    error(root, none, "lexicons is required");
  else
    parse_lexicons(root["lexicons"], lexicons);
  if (root["settings"]) parse_settings(root["settings"], settings);
  if (!root["rules"]) {
    error(root, none, "rules is required");
    return false;
  }
  rules = root["rules"];
  return true;
}

Result<std::shared_ptr<const RuleSet>> RuleFileLoader::load(std::int64_t now_ms) {
  YAML::Node root;
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(content_);
    if (documents.size() > 1) {
      // Rules after a `---` would be silently ignored.
      error(documents[1].Mark(), {}, "only one YAML document is allowed");
      return failure();
    }
    if (!documents.empty()) root = documents.front();
  } catch (const YAML::Exception& e) {
    error(e.mark, {}, "invalid YAML: " + e.msg);
    return failure();
  }
  auto impl = std::make_unique<RuleSetImpl>();
  LexiconOptions lexicon_options;
  YAML::Node rules_node;
  const bool has_rules = parse_root(root, lexicon_options, impl->settings, rules_node);
  std::vector<Rule> rules;
  if (has_rules) parse_rules(rules_node, rules, impl->rules);
  std::string digest;
  if (errors_.empty()) impl->lexicon = Lexicon::load(lexicon_options, digest, errors_);
  if (!errors_.empty()) return failure();

  impl->masks = CategoryMasks::resolve(*impl->lexicon);
  impl->extractor = std::make_unique<SignalExtractor>(*impl->lexicon, impl->masks, impl->settings);
  for (const CompiledRule& rule : impl->rules) {
    impl->fields.insert(impl->fields.end(), rule.when.fields().begin(), rule.when.fields().end());
  }
  std::sort(impl->fields.begin(), impl->fields.end());
  impl->fields.erase(std::unique(impl->fields.begin(), impl->fields.end()), impl->fields.end());
  RuleSetVersion version{crypto::sha256_hex(content_ + digest).substr(0, kHashDigits), now_ms,
                         path_.string()};
  std::vector<std::string> found = warnings(rules_node, rules);
  return std::shared_ptr<const RuleSet>(std::make_shared<RuleSet>(
      std::move(rules), std::move(version), std::move(impl), std::move(found)));
}

}  // namespace

const char* action_name(Action action) {
  return action == Action::kEscalate ? "escalate" : "suggest";
}
const char* rule_mode_name(RuleMode mode) {
  return mode == RuleMode::kShadow ? "shadow" : "active";
}

RuleSet::RuleSet(std::vector<Rule> rules, RuleSetVersion version,
                 std::unique_ptr<const RuleSetImpl> impl, std::vector<std::string> warnings)
    : rules_(std::move(rules)),
      version_(std::move(version)),
      impl_(std::move(impl)),
      warnings_(std::move(warnings)) {
  json_util::JsonWriter w(version_json_);
  w.begin_object();
  w.key("hash").string(version_.hash);
  w.key("loaded_at").string(format_rfc3339_ms(version_.loaded_at_ms));
  w.end_object();
}

RuleSet::~RuleSet() = default;

Result<std::shared_ptr<const RuleSet>> load_rule_set(const std::filesystem::path& path,
                                                     std::int64_t now_ms) {
  auto content = files::read_regular_file(path, kMaxRulesFileBytes);
  if (!content) {
    const Status& failed = content.status();
    return Status(failed.code(), path.string() + ": cannot read the rules file: " +
                                     utf8::repair(failed.message()));
  }
  return RuleFileLoader(path, std::move(content).value()).load(now_ms);
}

Result<std::shared_ptr<const RuleSet>> load_rule_set_text(const std::filesystem::path& path,
                                                          std::string content,
                                                          std::int64_t now_ms) {
  return RuleFileLoader(path, std::move(content)).load(now_ms);
}

Status check_rules_file(const std::filesystem::path& path) {
  auto result = load_rule_set(path, 0);
  return result.is_ok() ? Status::ok() : result.status();
}

}  // namespace handover::triggers
