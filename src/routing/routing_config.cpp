// Loads config/routing.yaml into RoutingConfig; every problem is reported with its position.
#include "handover/routing/routing_config.hpp"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "time_zone.hpp"
#include "yaml_util.hpp"

namespace handover::routing {
namespace {

using config::Diagnostics;
using config::MapReader;

constexpr int kMinutesPerDay = 24 * 60;
constexpr std::int64_t kDay = 24 * 60 * 60;
constexpr std::array<std::string_view, 7> kDayKeys = {"mon", "tue", "wed", "thu",
                                                      "fri", "sat", "sun"};

constexpr char kNameExpectation[] = "a name of 1 to 64 characters a-z, 0-9, '_', '-' or '.'";
constexpr char kLanguageExpectation[] = "a language tag such as de, en or de-CH";
constexpr char kRangeExpectation[] = "a time range HH:MM-HH:MM such as 08:00-18:00";

bool is_name(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") ==
             std::string_view::npos;
}

Status check_name(std::string_view text) {
  return is_name(text) ? Status::ok()
                       : config::expected_got(kNameExpectation, config::quote_for_message(text));
}

Status check_language(std::string_view text) {
  bool ok = text.size() >= 2 && text.size() <= 16 &&
            text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") ==
                std::string_view::npos &&
            text.front() != '-';
  return ok ? Status::ok()
            : config::expected_got(kLanguageExpectation, config::quote_for_message(text));
}

// "HH:MM" -> minutes, accepting 24:00 only when `allow_end_of_day`; -1 when malformed.
int parse_clock(std::string_view text, bool allow_end_of_day) {
  if (text.size() != 5 || text[2] != ':') return -1;
  Result<std::int64_t> hours = config::parse_integer(text.substr(0, 2), 0, 24);
  Result<std::int64_t> minutes = config::parse_integer(text.substr(3, 2), 0, 59);
  if (!hours || !minutes) return -1;
  int total = static_cast<int>(*hours * 60 + *minutes);
  if (total > kMinutesPerDay || (total == kMinutesPerDay && !allow_end_of_day)) return -1;
  return total;
}

std::optional<TimeRange> parse_range(std::string_view text) {
  if (text.size() != 11 || text[5] != '-') return std::nullopt;
  int start = parse_clock(text.substr(0, 5), false);
  int end = parse_clock(text.substr(6, 5), true);
  if (start < 0 || end < 0 || start == end) return std::nullopt;
  return TimeRange{start, end};
}

Status check_range(std::string_view text) {
  if (parse_range(text)) return Status::ok();
  return config::expected_got(kRangeExpectation, config::quote_for_message(text));
}

Status check_time_zone(std::string_view text) {
  Result<std::shared_ptr<const TimeZone>> zone = find_time_zone(text);
  return zone ? Status::ok() : Status::invalid_argument(zone.status().message());
}

// ---- Business hours -------------------------------------------------------------------------

void read_day(MapReader& reader, std::size_t day, BusinessHours& hours, Diagnostics& diag) {
  std::optional<YAML::Node> node = reader.take(kDayKeys[day]);
  if (!node) return;
  std::optional<std::vector<std::string>> ranges = config::read_string_list(
      *node, reader.path_of(kDayKeys[day]), kRangeExpectation, check_range, diag);
  if (!ranges) return;
  for (const std::string& text : *ranges) hours.days[day].push_back(*parse_range(text));
}

void read_hours(MapReader& queue, BusinessHours& hours, Diagnostics& diag) {
  std::optional<YAML::Node> node = queue.take("business_hours");
  if (!node) return;
  MapReader reader(*node, queue.key_mark("business_hours"), queue.path_of("business_hours"),
                   diag);
  hours.always_open = false;
  if (reader.read_required("time_zone", config::string_binding(hours.time_zone,
                                                                "an IANA time zone such as "
                                                                "Europe/Berlin",
                                                                check_time_zone))) {
    hours.zone = *find_time_zone(hours.time_zone);
  }
  for (std::size_t day = 0; day < kDayKeys.size(); ++day) read_day(reader, day, hours, diag);
  reader.finish();
}

// ---- Overflow steps --------------------------------------------------------------------------

struct PendingMove {
  YAML::Mark mark;
  std::string path;
  std::string to_queue;
};

// Exactly one action key per step; the first one present wins and extra ones are reported.
void read_step_action(MapReader& reader, OverflowStep& step, PendingMove& move,
                      Diagnostics& diag) {
  int actions = 0;
  if (std::optional<YAML::Node> node = reader.take("widen_skills")) {
    ++actions;
    step.action = OverflowStep::Action::kWidenSkills;
    auto skills = config::read_string_list(*node, reader.path_of("widen_skills"),
                                           kNameExpectation, check_name, diag);
    if (skills) step.skills = std::move(*skills);
  }
  bool drop = false;
  if (reader.read("drop_language", config::boolean_binding(drop))) {
    ++actions;
    step.action = OverflowStep::Action::kDropLanguage;
    if (!drop) diag.add_at(reader.key_mark("drop_language"), "only 'true' makes sense here",
                           reader.path_of("drop_language"));
  }
  if (reader.read("move_to", config::string_binding(step.to_queue, kNameExpectation,
                                                     check_name))) {
    ++actions;
    step.action = OverflowStep::Action::kMoveToQueue;
    move = {reader.key_mark("move_to"), reader.path_of("move_to"), step.to_queue};
  }
  if (actions != 1) {
    diag.add_at(reader.key_mark("after_s"),
                "a step needs exactly one of widen_skills, drop_language, move_to", "");
  }
}

void read_overflow(MapReader& queue, QueueConfig& out, std::vector<PendingMove>& moves,
                   Diagnostics& diag) {
  std::optional<YAML::Node> node = queue.take("overflow");
  if (!node) return;
  auto read_step = [&](const YAML::Node& item, const std::string& path) {
    MapReader reader(item, item.Mark(), path, diag);
    OverflowStep step;
    PendingMove move;
    reader.read_required("after_s", config::integer_binding(step.after_s, 1, kDay));
    read_step_action(reader, step, move, diag);
    if (!out.overflow.empty() && step.after_s <= out.overflow.back().after_s) {
      diag.add_at(reader.key_mark("after_s"), "after_s must grow from one step to the next",
                  reader.path_of("after_s"));
    }
    if (!move.to_queue.empty()) moves.push_back(std::move(move));
    out.overflow.push_back(std::move(step));
    reader.finish();
  };
  config::for_each_item(*node, queue.path_of("overflow"), diag, read_step);
}

// ---- Queues ----------------------------------------------------------------------------------

void read_queue_scalars(MapReader& reader, QueueConfig& queue) {
  reader.read_required("name", config::string_binding(queue.name, kNameExpectation, check_name));
  reader.read("priority", config::integer_binding(queue.priority, 0, 100));
  reader.read("sla_target_s", config::integer_binding(queue.sla_target_s, 1, kDay));
  reader.read("offer_timeout_s", config::integer_binding(queue.offer_timeout_s, 5, 3600));
  reader.read("broadcast_size", config::integer_binding(queue.broadcast_size, 2, 20));
  reader.read("self_pick", config::boolean_binding(queue.self_pick));
  reader.read("max_wait_s", config::integer_binding(queue.max_wait_s, 0, kDay));

  std::string mode = "single";
  reader.read("offer_mode", config::enum_binding(mode, {"single", "broadcast"}));
  queue.offer_mode = mode == "broadcast" ? OfferMode::kBroadcast : OfferMode::kSingle;

  std::string path = "offline_message";
  reader.read("no_agent_path",
              config::enum_binding(path, {"offline_message", "ask_contact", "stay_with_bot"}));
  queue.no_agent_path = path == "ask_contact"     ? NoAgentPath::kAskContact
                        : path == "stay_with_bot" ? NoAgentPath::kStayWithBot
                                                  : NoAgentPath::kOfflineMessage;
}

void read_queue_lists(MapReader& reader, QueueConfig& queue, Diagnostics& diag) {
  if (std::optional<YAML::Node> node = reader.take("skills")) {
    auto skills = config::read_string_list(*node, reader.path_of("skills"), kNameExpectation,
                                           check_name, diag);
    if (skills) queue.skills = std::move(*skills);
  }
  if (std::optional<YAML::Node> node = reader.take("languages")) {
    auto languages = config::read_string_list(*node, reader.path_of("languages"),
                                              kLanguageExpectation, check_language, diag);
    if (languages) queue.languages = std::move(*languages);
  }
}

void read_queues(MapReader& top, RoutingConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take_required("queues");
  if (!node) return;
  std::vector<PendingMove> moves;
  std::set<std::string> names;
  auto read_queue = [&](const YAML::Node& item, const std::string& path) {
    MapReader reader(item, item.Mark(), path, diag);
    QueueConfig queue;
    read_queue_scalars(reader, queue);
    read_queue_lists(reader, queue, diag);
    read_hours(reader, queue.hours, diag);
    read_overflow(reader, queue, moves, diag);
    if (!queue.name.empty() && !names.insert(queue.name).second) {
      diag.add_at(reader.key_mark("name"), "duplicate queue name", reader.path_of("name"));
    }
    reader.finish();
    out.queues.push_back(std::move(queue));
  };
  config::for_each_item(*node, "queues", diag, read_queue);

  // Steps may point forward to queues defined later, so they are checked once all are known.
  for (const PendingMove& move : moves) {
    if (names.count(move.to_queue) == 0) {
      diag.add_at(move.mark, "unknown queue " + config::quote_for_message(move.to_queue),
                  move.path);
    }
  }
  if (node->IsSequence() && node->size() == 0) {
    diag.add_at(top.key_mark("queues"), "at least one queue is required", "queues");
  }
}

void read_settings(MapReader& top, RoutingConfig& out, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take("settings");
  if (!node) return;
  MapReader reader(*node, top.key_mark("settings"), "settings", diag);
  reader.read("decline_cooldown_s", config::integer_binding(out.decline_cooldown_s, 0, kDay));
  reader.read("reconnect_grace_s", config::integer_binding(out.reconnect_grace_s, 0, 3600));
  reader.read("requeue_priority_boost",
              config::integer_binding(out.requeue_priority_boost, 0, 100));
  reader.read("position_update_interval_ms",
              config::integer_binding(out.position_update_interval_ms, 0, 60'000));
  reader.finish();
}

void read_root(const YAML::Node& root, RoutingConfig& out, Diagnostics& diag) {
  try {
    MapReader top(root, root.Mark(), "", diag);
    read_settings(top, out, diag);
    read_queues(top, out, diag);
    top.finish();
  } catch (const YAML::Exception& e) {
    diag.add_at(e.mark, "cannot read the YAML: " + e.msg, "");
  }
}

Result<RoutingConfig> finish(const std::optional<YAML::Node>& root, Diagnostics& diag) {
  RoutingConfig out;
  if (root) read_root(*root, out, diag);
  if (!diag.empty()) return diag.to_status();
  return out;
}

bool in_range(const TimeRange& range, int minute) {
  if (range.end_minute > range.start_minute) {
    return minute >= range.start_minute && minute < range.end_minute;
  }
  return minute >= range.start_minute;  // the part of an overnight range before midnight
}

}  // namespace

Result<std::shared_ptr<const TimeZone>> find_time_zone(std::string_view name) {
  try {
    const date::time_zone* zone = date::locate_zone(name);
    return std::make_shared<const TimeZone>(TimeZone{zone});
  } catch (const std::exception&) {
    // The tz library reports an unknown name (or unreadable tzdata) with runtime_error.
    return Status::not_found("unknown time zone " + config::quote_for_message(name));
  }
}

bool BusinessHours::is_open(std::int64_t epoch_ms) const {
  if (always_open) return true;
  if (!zone) return false;
  auto utc = date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(epoch_ms));
  auto local = zone->zone->to_local(utc);
  auto local_day = date::floor<date::days>(local);
  int minute = static_cast<int>(
      std::chrono::duration_cast<std::chrono::minutes>(local - local_day).count());
  unsigned weekday = date::weekday(local_day).iso_encoding() - 1;  // Monday = 0

  for (const TimeRange& range : days[weekday]) {
    if (in_range(range, minute)) return true;
  }
  for (const TimeRange& range : days[(weekday + 6) % 7]) {
    if (range.end_minute <= range.start_minute && minute < range.end_minute) return true;
  }
  return false;
}

const QueueConfig* RoutingConfig::find_queue(std::string_view name) const {
  for (const QueueConfig& queue : queues) {
    if (queue.name == name) return &queue;
  }
  return nullptr;
}

const char* to_string(OfferMode mode) {
  return mode == OfferMode::kBroadcast ? "broadcast" : "single";
}

const char* to_string(NoAgentPath path) {
  switch (path) {
    case NoAgentPath::kOfflineMessage: return "offline_message";
    case NoAgentPath::kAskContact: return "ask_contact";
    case NoAgentPath::kStayWithBot: return "stay_with_bot";
  }
  return "offline_message";
}

const char* to_string(OverflowStep::Action action) {
  switch (action) {
    case OverflowStep::Action::kWidenSkills: return "widen_skills";
    case OverflowStep::Action::kDropLanguage: return "drop_language";
    case OverflowStep::Action::kMoveToQueue: return "move_to_queue";
  }
  return "widen_skills";
}

Result<RoutingConfig> load_routing_config(const std::string& path) {
  Diagnostics diag(path);
  std::optional<YAML::Node> root = config::load_yaml_file(path, diag);
  return finish(root, diag);
}

Result<RoutingConfig> parse_routing_config(std::string_view yaml_text,
                                           const std::string& file_name) {
  Diagnostics diag(file_name);
  std::optional<YAML::Node> root = config::parse_yaml_text(yaml_text, diag);
  return finish(root, diag);
}

}  // namespace handover::routing
