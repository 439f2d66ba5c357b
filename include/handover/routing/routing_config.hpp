// Routing configuration: the queues of config/routing.yaml and the global routing settings,
// as typed values with defaults, plus the business-hours check the router runs on each escalation.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::routing {

// A resolved IANA time zone, read from the system tzdata. Defined in src/routing; immutable and
// safe to share between threads.
class TimeZone;

// Resolves an IANA name such as "Europe/Berlin". NotFound "unknown time zone '...'" otherwise.
Result<std::shared_ptr<const TimeZone>> find_time_zone(std::string_view name);

enum class OfferMode {
  kSingle,     // one agent at a time
  kBroadcast,  // up to `broadcast_size` agents at once; the first accept wins, others are revoked
};

// What the user is offered when nobody can take the conversation (outside business hours).
enum class NoAgentPath { kOfflineMessage, kAskContact, kStayWithBot };

const char* to_string(OfferMode mode);
const char* to_string(NoAgentPath path);

// One opening range of a day, in minutes after local midnight. `end_minute <= start_minute`
// is an overnight range: it runs from start on this day to end on the next day.
struct TimeRange {
  int start_minute = 0;  // 0..1439
  int end_minute = 0;    // 1..1440 (1440 = midnight at the end of the day)
};

struct BusinessHours {
  bool always_open = true;  // no business_hours section: the queue never closes
  std::string time_zone;    // IANA name, for messages and views
  std::shared_ptr<const TimeZone> zone;
  std::array<std::vector<TimeRange>, 7> days;  // index 0 = Monday ... 6 = Sunday

  // True if `epoch_ms` falls inside an opening range in the queue's local time (an overnight
  // range of the previous day counts). Pure: pass a fake clock's time in tests.
  bool is_open(std::int64_t epoch_ms) const;
};

struct OverflowStep {
  enum class Action {
    kWidenSkills,   // drop `skills` (all required skills when empty) from the requirement
    kDropLanguage,  // any language is accepted from now on
    kMoveToQueue,   // the conversation moves to `to_queue` (its own steps then apply)
  };
  std::int64_t after_s = 0;  // seconds after the conversation entered this queue
  Action action = Action::kWidenSkills;
  std::vector<std::string> skills;  // kWidenSkills only
  std::string to_queue;             // kMoveToQueue only
};

const char* to_string(OverflowStep::Action action);

struct QueueConfig {
  std::string name;
  std::vector<std::string> skills;     // every one is required of an agent
  std::vector<std::string> languages;  // served languages; the first is the default
  int priority = 0;                    // added to each conversation's own priority
  std::int64_t sla_target_s = 60;      // target time to accept; also the first wait estimate
  std::int64_t offer_timeout_s = 30;
  OfferMode offer_mode = OfferMode::kSingle;
  int broadcast_size = 3;  // agents offered at once in broadcast mode
  bool self_pick = false;  // agents may claim waiting conversations themselves
  BusinessHours hours;
  NoAgentPath no_agent_path = NoAgentPath::kOfflineMessage;
  std::int64_t max_wait_s = 0;  // 0: no limit
  std::vector<OverflowStep> overflow;  // ordered by after_s, strictly increasing
};

struct RoutingConfig {
  std::int64_t decline_cooldown_s = 300;   // no re-offer of one conversation to a decliner
  std::int64_t reconnect_grace_s = 60;     // assignments kept for a disconnected agent
  int requeue_priority_boost = 10;         // added when a conversation returns to the queue
  std::int64_t position_update_interval_ms = 2000;  // 0: publish positions at once
  std::vector<QueueConfig> queues;

  // The queue called `name`, or nullptr. The pointer lives as long as this config.
  const QueueConfig* find_queue(std::string_view name) const;
};

// Reads and validates the routing file at `path`. On failure returns InvalidArgument listing
// every problem as "file:line:column: what", one per line.
Result<RoutingConfig> load_routing_config(const std::string& path);

// Same, from YAML text; `file_name` prefixes the messages.
Result<RoutingConfig> parse_routing_config(std::string_view yaml_text,
                                           const std::string& file_name);

}  // namespace handover::routing
