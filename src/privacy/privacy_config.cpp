// Loads config/privacy.yaml into PrivacyConfig; every problem is reported with its position.
#include "handover/privacy/privacy_config.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <utility>

#include "yaml_util.hpp"

namespace handover::privacy {
namespace {

using config::Diagnostics;
using config::MapReader;

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kMaxPeriod = 100 * 365 * kDay;
constexpr std::size_t kMaxNameLength = 32;
constexpr std::size_t kMaxVersionLength = 64;
constexpr std::size_t kMaxNoticeBytes = 1000;

constexpr char kPeriodExpectation[] = "a period such as 90d, 12h, 30m, 45s, or 0 for forever";
constexpr char kNameExpectation[] = "a name of 1 to 32 characters a-z, 0-9 or '_'";
constexpr char kVersionExpectation[] = "a version of 1 to 64 letters, digits, '.', '_' or '-'";

const std::vector<std::string>& built_in_kinds() {
  static const std::vector<std::string> kKinds = {std::string(kKindEmail), std::string(kKindPhone),
                                                  std::string(kKindIban), std::string(kKindCard)};
  return kKinds;
}

bool is_version(std::string_view text) {
  return !text.empty() && text.size() <= kMaxVersionLength &&
         text.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string_view::npos;
}

Status check_version(std::string_view text) {
  return is_version(text)
             ? Status::ok()
             : config::expected_got(kVersionExpectation, config::quote_for_message(text));
}

Status check_pattern_name(std::string_view text) {
  const bool shaped =
      !text.empty() && text.size() <= kMaxNameLength &&
      text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
  if (!shaped) return config::expected_got(kNameExpectation, config::quote_for_message(text));
  const auto& kinds = built_in_kinds();
  if (std::find(kinds.begin(), kinds.end(), text) != kinds.end() || text == "default") {
    return Status::invalid_argument("'" + std::string(text) + "' is reserved");
  }
  return Status::ok();
}

// A quantified group that itself repeats or alternates, such as (a+)+ or (a|aa)*, can take
// exponential time in a backtracking engine; character classes say the same safely.
bool has_nested_quantifier(std::string_view text) {
  std::vector<bool> inner;  // per open group: holds a quantifier or '|'
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '[') {
      while (i < text.size() && text[i] != ']') i += text[i] == '\\' ? 2 : 1;
      continue;
    }
    const bool quantifier =
        c == '*' || c == '+' || c == '{' || (c == '?' && i > 0 && text[i - 1] != '(');
    if (c == '(') {
      inner.push_back(false);
    } else if (c == ')' && !inner.empty()) {
      const bool risky = inner.back();
      inner.pop_back();
      const char next = i + 1 < text.size() ? text[i + 1] : '\0';
      if (risky && (next == '*' || next == '+' || next == '{')) return true;
      if (risky && !inner.empty()) inner.back() = true;
    } else if ((quantifier || c == '|') && !inner.empty()) {
      inner.back() = true;
    }
  }
  return false;
}

Status check_regex(std::string_view text) {
  if (has_nested_quantifier(text)) {
    return Status::invalid_argument(
        "a repeated group must not repeat or alternate inside (e.g. (a+)+ or (a|b)*): it can "
        "take exponential time; use a character class");
  }
  try {
    std::regex compiled{std::string(text), std::regex::ECMAScript};
  } catch (const std::regex_error& e) {
    return Status::invalid_argument(std::string("the regex does not compile: ") + e.what());
  }
  if (std::regex_match("", std::regex(std::string(text), std::regex::ECMAScript))) {
    return Status::invalid_argument("the regex matches the empty text");
  }
  return Status::ok();
}

Status check_notice_text(std::string_view text) {
  if (text.size() <= kMaxNoticeBytes) return Status::ok();
  return Status::invalid_argument("a notice is at most " + std::to_string(kMaxNoticeBytes) +
                                  " bytes");
}

config::ScalarBinding period_binding(std::int64_t& target, std::int64_t min_s) {
  config::ScalarBinding binding;
  binding.kind = config::ScalarKind::kString;
  binding.expected = kPeriodExpectation;
  binding.assign = [&target, min_s](std::string_view text) -> Status {
    Result<std::int64_t> seconds = parse_period(text);
    if (!seconds) return seconds.status();
    if (*seconds < min_s) {
      return config::expected_got("a period of at least " + std::to_string(min_s) + "s",
                                  config::quote_for_message(text));
    }
    target = *seconds;
    return Status::ok();
  };
  return binding;
}

config::ScalarBinding action_binding(Action& target) {
  config::ScalarBinding binding;
  binding.kind = config::ScalarKind::kString;
  binding.expected = "one of keep, mask, partial";
  binding.assign = [&target, expected = binding.expected](std::string_view text) -> Status {
    if (text == "keep")
      target = Action::kKeep;
    else if (text == "mask")
      target = Action::kMask;
    else if (text == "partial")
      target = Action::kPartial;
    else
      return config::expected_got(expected, config::quote_for_message(text));
    return Status::ok();
  };
  return binding;
}

// ---- Sections -------------------------------------------------------------------------------

void read_patterns(MapReader& detect, PrivacyConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = detect.take("patterns");
  if (!node) return;
  std::set<std::string> names;
  auto read_item = [&](const YAML::Node& item, const std::string& path) {
    MapReader reader(item, item.Mark(), path, diag);
    CustomPattern pattern;
    const bool named = reader.read_required(
        "name", config::string_binding(pattern.name, kNameExpectation, check_pattern_name));
    const bool compiled = reader.read_required(
        "regex", config::string_binding(pattern.regex, "an ECMAScript regex", check_regex));
    if (named && !names.insert(pattern.name).second) {
      diag.add_at(reader.key_mark("name"), "duplicate pattern name", reader.path_of("name"));
    } else if (named && compiled) {
      out.patterns.push_back(std::move(pattern));
    }
    reader.finish();
  };
  config::for_each_item(*node, detect.path_of("patterns"), diag, read_item);
}

void read_policy(MapReader& policies, std::string_view name, const PrivacyConfig& known,
                 Policy& policy, Diagnostics& diag) {
  std::optional<YAML::Node> node = policies.take(name);
  if (!node) return;
  MapReader reader(*node, policies.key_mark(name), policies.path_of(name), diag);
  std::vector<std::string> kinds = built_in_kinds();
  for (const CustomPattern& pattern : known.patterns) kinds.push_back(pattern.name);
  for (const std::string& kind : kinds) {
    Action action = policy.action_for(kind);
    if (reader.read(kind, action_binding(action))) policy.actions[kind] = action;
  }
  reader.read("default", action_binding(policy.fallback));
  reader.finish();
}

void read_policies(MapReader& top, PrivacyConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take("policies");
  if (!node) return;
  MapReader reader(*node, top.key_mark("policies"), "policies", diag);
  read_policy(reader, "store", out, out.store, diag);
  read_policy(reader, "agent", out, out.agent, diag);
  read_policy(reader, "webhook", out, out.webhook, diag);
  reader.finish();
}

// A period as the file would spell it: the largest unit that divides it, "0" for forever.
std::string period_text(std::int64_t seconds) {
  if (seconds == 0) return "0";
  for (const auto& [unit, suffix] : {std::pair{kDay, 'd'}, {kHour, 'h'}, {kMinute, 'm'}}) {
    if (seconds % unit == 0) return std::to_string(seconds / unit) + suffix;
  }
  return std::to_string(seconds) + "s";
}

// The snapshot kept with each escalation copies the conversation's turns; kept longer than
// the turns, the copies would outlive the texts that retention.turns promises to delete.
// (The other copies, in events, are stripped by the turns' period itself.) Reported only when
// nothing else is wrong, so a bad value does not also show up as a conflict of its default.
void check_copies_of_turns(const MapReader& reader, const RetentionConfig& out,
                           bool snapshots_given, Diagnostics& diag) {
  if (!diag.empty() || out.turns_s == 0) return;
  if (out.snapshots_s != 0 && out.snapshots_s <= out.turns_s) return;
  const std::string snapshots = out.snapshots_s == 0 ? "0, forever" : period_text(out.snapshots_s);
  const std::string turns = period_text(out.turns_s);
  const std::string what =
      "retention.snapshots (" + snapshots + (snapshots_given ? "" : ", the default") +
      ") is longer than retention.turns (" + turns +
      "): each escalation's snapshot copies the turns and would keep their texts after the "
      "turns are deleted; set retention.snapshots to " +
      turns + " or less";
  const YAML::Mark mark = reader.key_mark(snapshots_given ? "snapshots" : "turns");
  diag.add_at(mark, what, "retention.snapshots");
}

void read_retention(MapReader& top, RetentionConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take("retention");
  if (!node) return;
  MapReader reader(*node, top.key_mark("retention"), "retention", diag);
  reader.read("turns", period_binding(out.turns_s, 0));
  reader.read("conversations", period_binding(out.conversations_s, 0));
  const bool snapshots_given = reader.read("snapshots", period_binding(out.snapshots_s, 0));
  reader.read("feedback", period_binding(out.feedback_s, 0));
  reader.read("events", period_binding(out.events_s, 0));
  reader.read("access_log", period_binding(out.access_log_s, 0));
  reader.read("interval", period_binding(out.interval_s, 1));
  reader.read("batch_size", config::integer_binding(out.batch_size, 1, 10'000));
  reader.read("max_batches", config::integer_binding(out.max_batches, 1, 100'000));
  reader.read("vacuum_pages", config::integer_binding(out.vacuum_pages, 0, 1'000'000));
  reader.finish();
  check_copies_of_turns(reader, out, snapshots_given, diag);
}

void read_notice(MapReader& top, NoticeConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take("notice");
  if (!node) return;
  MapReader reader(*node, top.key_mark("notice"), "notice", diag);
  if (std::optional<YAML::Node> versions = reader.take("versions")) {
    auto read = config::read_string_list(*versions, reader.path_of("versions"), kVersionExpectation,
                                         check_version, diag);
    if (read) out.versions = std::move(*read);
  }
  reader.read("required", config::boolean_binding(out.required));
  if (std::optional<YAML::Node> texts = reader.take("handover_text")) {
    MapReader text_reader(*texts, reader.key_mark("handover_text"), reader.path_of("handover_text"),
                          diag);
    for (const char* language : {"de", "en"}) {
      std::string text;
      if (text_reader.read(language, config::string_binding(text, "a text of at most 1000 bytes",
                                                            check_notice_text))) {
        out.handover_text[language] = std::move(text);
      }
    }
    text_reader.finish();
  }
  reader.finish();
  if (out.required && out.versions.empty()) {
    diag.add_at(reader.key_mark("required"), "a required notice needs at least one version",
                "notice.required");
  }
}

void read_access(MapReader& top, AccessConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take("access");
  if (!node) return;
  MapReader reader(*node, top.key_mark("access"), "access", diag);
  reader.read("agents_read_handled", config::boolean_binding(out.agents_read_handled));
  reader.read("audit_read_keys", config::boolean_binding(out.audit_read_keys));
  reader.finish();
}

void read_root(const YAML::Node& root, PrivacyConfig& out, Diagnostics& diag) {
  try {
    MapReader top(root, root.Mark(), "", diag);
    if (std::optional<YAML::Node> detect = top.take("detect")) {
      MapReader reader(*detect, top.key_mark("detect"), "detect", diag);
      read_patterns(reader, out, diag);
      reader.finish();
    }
    read_policies(top, out, diag);
    read_retention(top, out.retention, diag);
    read_notice(top, out.notice, diag);
    read_access(top, out.access, diag);
    top.finish();
  } catch (const YAML::Exception& e) {
    diag.add_at(e.mark, "cannot read the YAML: " + e.msg, "");
  }
}

Result<PrivacyConfig> finish(const std::optional<YAML::Node>& root, Diagnostics& diag) {
  PrivacyConfig out;
  out.source_path = diag.file();
  if (root) read_root(*root, out, diag);
  if (!diag.empty()) return diag.to_status();
  return out;
}

Policy default_policy(Action partial_kinds) {
  Policy policy;
  policy.actions = {{std::string(kKindEmail), Action::kMask},
                    {std::string(kKindPhone), Action::kMask},
                    {std::string(kKindIban), partial_kinds},
                    {std::string(kKindCard), partial_kinds}};
  policy.fallback = Action::kMask;
  return policy;
}

}  // namespace

const char* to_string(Destination destination) {
  switch (destination) {
    case Destination::kStore:
      return "store";
    case Destination::kAgent:
      return "agent";
    case Destination::kWebhook:
      return "webhook";
    case Destination::kLog:
      return "log";
  }
  return "log";
}

const char* to_string(Action action) {
  switch (action) {
    case Action::kKeep:
      return "keep";
    case Action::kMask:
      return "mask";
    case Action::kPartial:
      return "partial";
  }
  return "mask";
}

Action Policy::action_for(std::string_view kind) const {
  auto it = actions.find(kind);
  return it == actions.end() ? fallback : it->second;
}

PrivacyConfig::PrivacyConfig()
    : store(default_policy(Action::kPartial)),
      agent(default_policy(Action::kPartial)),
      webhook(default_policy(Action::kMask)) {
  notice.handover_text = {
      {"de", "Ab jetzt liest eine Person aus unserem Team dieses Gespräch mit."},
      {"en", "A person from our team will now read this conversation."}};
}

const Policy& PrivacyConfig::policy(Destination destination) const {
  static const Policy kEverythingMasked;
  switch (destination) {
    case Destination::kStore:
      return store;
    case Destination::kAgent:
      return agent;
    case Destination::kWebhook:
      return webhook;
    case Destination::kLog:
      return kEverythingMasked;
  }
  return kEverythingMasked;
}

const std::string& PrivacyConfig::handover_notice(std::string_view language) const {
  static const std::string kNone;
  const std::string_view primary = language.substr(0, language.find('-'));
  if (auto it = notice.handover_text.find(primary); it != notice.handover_text.end()) {
    return it->second;
  }
  if (auto it = notice.handover_text.find("en"); it != notice.handover_text.end()) {
    return it->second;
  }
  return kNone;
}

Status PrivacyConfig::check_notice_version(std::string_view version) const {
  if (version.empty()) {
    if (!notice.required) return Status::ok();
    return Status::invalid_argument("a privacy_notice_version is required");
  }
  if (!is_version(version)) return Status::invalid_argument(kVersionExpectation);
  const auto& known = notice.versions;
  if (known.empty() || std::find(known.begin(), known.end(), version) != known.end()) {
    return Status::ok();
  }
  std::string list;
  for (const std::string& v : known) list += (list.empty() ? "" : ", ") + v;
  return Status::invalid_argument("unknown privacy notice version; known: " + list);
}

Result<std::int64_t> parse_period(std::string_view text) {
  if (text == "0") return std::int64_t{0};
  const auto bad = [&] {
    return config::expected_got(kPeriodExpectation, config::quote_for_message(text));
  };
  if (text.size() < 2) return bad();
  std::int64_t unit = 0;
  switch (text.back()) {
    case 'd':
      unit = kDay;
      break;
    case 'h':
      unit = kHour;
      break;
    case 'm':
      unit = kMinute;
      break;
    case 's':
      unit = 1;
      break;
    default:
      return bad();
  }
  Result<std::int64_t> count =
      config::parse_integer(text.substr(0, text.size() - 1), 1, kMaxPeriod);
  if (!count || *count > kMaxPeriod / unit) return bad();
  return *count * unit;
}

Result<PrivacyConfig> load_privacy_config(const std::string& path) {
  Diagnostics diag(path);
  std::optional<YAML::Node> root = config::load_yaml_file(path, diag);
  return finish(root, diag);
}

Result<PrivacyConfig> parse_privacy_config(std::string_view yaml_text,
                                           const std::string& file_name) {
  Diagnostics diag(file_name);
  std::optional<YAML::Node> root = config::parse_yaml_text(yaml_text, diag);
  return finish(root, diag);
}

}  // namespace handover::privacy
