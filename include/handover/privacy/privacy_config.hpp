// Privacy settings (config/privacy.yaml): what the masker does per destination, how long each
// data class is kept, the privacy notice and who may read what.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::privacy {

// Where a text is going. Each destination has its own policy; kLog always masks everything.
enum class Destination { kStore, kAgent, kWebhook, kLog };

// What happens to one finding.
enum class Action {
  kKeep,     // the raw value stays
  kMask,     // replaced by its kind: "[email]", "[iban]"
  kPartial,  // kind plus a hint: "[card:…4242]" (last 4 characters), "[email:…@example.com]"
};

const char* to_string(Destination destination);
const char* to_string(Action action);

// The built-in kinds; custom patterns add their own names.
inline constexpr std::string_view kKindEmail = "email";
inline constexpr std::string_view kKindPhone = "phone";
inline constexpr std::string_view kKindIban = "iban";
inline constexpr std::string_view kKindCard = "card";

// A pattern operators add: every match of `regex` (ECMAScript syntax) is a finding of `name`.
struct CustomPattern {
  std::string name;  // 1 to 32 characters a-z, 0-9, '_'; not a built-in kind
  std::string regex;

  bool operator==(const CustomPattern&) const = default;
};

// The action per kind for one destination; kinds not listed get `fallback`.
struct Policy {
  std::map<std::string, Action, std::less<>> actions;
  Action fallback = Action::kMask;

  Action action_for(std::string_view kind) const;
  bool operator==(const Policy&) const = default;
};

// Retention periods in seconds; 0 keeps the class forever.
struct RetentionConfig {
  std::int64_t turns_s = 90 * 86400;           // each turn, by its age
  std::int64_t conversations_s = 365 * 86400;  // a conversation idle this long, with everything
  std::int64_t snapshots_s = 30 * 86400;       // the context snapshot kept with an escalation
  std::int64_t feedback_s = 180 * 86400;    // agents' free-text notes (resolve, return, transfer)
  std::int64_t events_s = 365 * 86400;      // events of conversations idle this long
  std::int64_t access_log_s = 365 * 86400;  // audit records of reads, exports and erasures
  std::int64_t interval_s = 3600;           // time between two runs of the job
  int batch_size = 500;                     // rows per transaction
  int max_batches = 200;                    // per class and run; the rest waits for the next
  int vacuum_pages = 2000;                  // free pages returned to the file system per run

  bool operator==(const RetentionConfig&) const = default;
};

struct NoticeConfig {
  // Versions a conversation may declare in privacy_notice_version; empty accepts any.
  std::vector<std::string> versions;
  bool required = false;  // refuse conversations without a version
  // "A person will now read this conversation", by primary language tag ("de", "en").
  std::map<std::string, std::string, std::less<>> handover_text;

  bool operator==(const NoticeConfig&) const = default;
};

struct AccessConfig {
  // Agents may also read conversations they were assigned before (from the event log).
  bool agents_read_handled = false;
  // Reads with a read-scoped key are audited too (admin keys and agents always are).
  bool audit_read_keys = true;

  bool operator==(const AccessConfig&) const = default;
};

struct PrivacyConfig {
  std::vector<CustomPattern> patterns;
  Policy store;    // applied before the write: what the database holds
  Policy agent;    // what agents get (REST reads with an agent token, relayed turns, snapshots)
  Policy webhook;  // what leaves the server in webhooks
  RetentionConfig retention;
  NoticeConfig notice;
  AccessConfig access;
  std::string source_path;  // "" when the built-in defaults are in use

  PrivacyConfig();

  // The policy of `destination`; kLog has a fixed policy that masks every kind.
  const Policy& policy(Destination destination) const;
  // The handover notice for `language` ("de-CH" uses "de"), English when there is none for
  // it, "" when neither is configured.
  const std::string& handover_notice(std::string_view language) const;
  // OK when `version` may be stored with a conversation ("" only when not required).
  Status check_notice_version(std::string_view version) const;

  bool operator==(const PrivacyConfig&) const = default;
};

// Reads and validates the privacy file at `path`. On failure returns InvalidArgument listing
// every problem as "file:line:column: what (key '...')", one per line. An empty file gives
// the defaults. Any thread may call it.
Result<PrivacyConfig> load_privacy_config(const std::string& path);

// Same, from YAML text; `file_name` prefixes the messages.
Result<PrivacyConfig> parse_privacy_config(std::string_view yaml_text,
                                           const std::string& file_name);

// "90d", "12h", "30m", "45s" or "0" (forever) as seconds; InvalidArgument otherwise.
Result<std::int64_t> parse_period(std::string_view text);

}  // namespace handover::privacy
