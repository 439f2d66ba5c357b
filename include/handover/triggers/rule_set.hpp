// Loading, type-checking and versioning of the trigger rules file and its lexicons.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::triggers {

struct RuleSetImpl;  // compiled rules, lexicons and settings; private to the engine

enum class Action : std::uint8_t { kSuggest, kEscalate };
enum class RuleMode : std::uint8_t { kActive, kShadow };

const char* action_name(Action action);
const char* rule_mode_name(RuleMode mode);

// One rule as written in the file. The compiled `when` expression lives in RuleSetImpl.
struct Rule {
  std::string id;
  std::string description;
  std::string when;  // expression source text
  Action action = Action::kSuggest;
  RuleMode mode = RuleMode::kActive;
  int priority = 0;  // higher wins
  std::string queue;                // routing queue of its handovers; never empty
  std::string queue_location;       // "file:line:column" of the queue value
  std::vector<std::string> skills;  // skill names: a-z, 0-9, '_', '-', '.'
  std::int64_t cooldown_ms = 0;  // after acting, the rule does not act again for this long
  std::string location;          // "file:line:column" of the rule in the file
};

// Identifies a loaded rule set: a hash of the rules file and every lexicon file it read.
struct RuleSetVersion {
  std::string hash;  // first 16 hex digits of SHA-256
  std::int64_t loaded_at_ms = 0;
  std::string path;
};

// The largest rules file read; a larger one fails to load.
inline constexpr std::size_t kMaxRulesFileBytes = 4 * 1024 * 1024;

// An immutable, compiled rule set. Shared by every thread that evaluates turns.
class RuleSet {
 public:
  RuleSet(std::vector<Rule> rules, RuleSetVersion version, std::unique_ptr<const RuleSetImpl> impl,
          std::vector<std::string> warnings = {});
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  const std::vector<Rule>& rules() const { return rules_; }
  const RuleSetVersion& version() const { return version_; }
  // The version as every evaluation writes it: {"hash":...,"loaded_at":RFC 3339}.
  const std::string& version_json() const { return version_json_; }
  const RuleSetImpl& impl() const { return *impl_; }
  // What loads but is probably a mistake ("file:line:column: no active rules ..."), for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<Rule> rules_;
  RuleSetVersion version_;
  std::string version_json_;
  std::unique_ptr<const RuleSetImpl> impl_;
  std::vector<std::string> warnings_;
};

// Reads the rules file at `path` and the lexicons it names, checks every rule and compiles
// the expressions. On failure returns kInvalidArgument (or kNotFound for a missing file)
// whose message lists every error found, one per line, as "file:line:column: rule 'id': ...",
// in valid UTF-8 whatever the file's encoding. Anything but a regular file of at most
// kMaxRulesFileBytes is refused without waiting on it. A leading UTF-8 byte order mark is
// ignored.
// `now_ms` becomes the version's load time. Thread-safe.
Result<std::shared_ptr<const RuleSet>> load_rule_set(const std::filesystem::path& path,
                                                     std::int64_t now_ms);

// As load_rule_set, for rules whose text is already in memory (an edited copy of a file, as
// the replay tool's threshold sweep makes). `path` names the file in errors and the version,
// and lexicon directories are resolved relative to it; it is not read.
Result<std::shared_ptr<const RuleSet>> load_rule_set_text(const std::filesystem::path& path,
                                                          std::string content, std::int64_t now_ms);

// The `--check-config` entry point: OK when load_rule_set would succeed, else its error.
Status check_rules_file(const std::filesystem::path& path);

}  // namespace handover::triggers
