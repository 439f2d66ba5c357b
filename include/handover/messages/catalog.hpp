// What the server tells the user, in German and English: the texts of config/messages.yaml
// with {placeholders}, chosen by the conversation's language.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handover/util/status.hpp"

namespace YAML {
class Node;
}
namespace handover::config {
class Diagnostics;
}

namespace handover::messages {

// Every key the server sends; the catalog must give each a text in every language it lists.
inline constexpr const char* kKeys[] = {
    "handover.announce",    "handover.waiting",       "agent.joined",
    "handover.transferred", "handover.requeued",      "handover.returned",
    "handover.resolved",    "handover.cancelled",     "no_agent.offline",
    "no_agent.ask_contact", "no_agent.stay_with_bot", "no_agent.online_none",
    "no_agent.none_eligible", "wait_limit",           "contact.thanks",
    "rating.thanks",        "bot_unavailable",        "wait.under_minute",
    "wait.one_minute",      "wait.minutes",           "wait.unknown",
};

using Params = std::vector<std::pair<std::string, std::string>>;

class Catalog {
 public:
  // Loads and checks `path`: every key of kKeys in every language, no unknown key, only known
  // placeholders. InvalidArgument lists each problem as "file:line:column: ...".
  static Result<Catalog> load(const std::string& path);
  // The texts shipped in the binary (the same as config/messages.yaml), for tests and for
  // servers started without a messages file.
  static const Catalog& built_in();

  // The text of `key` for `language` ("de-CH" uses "de"; an unknown language the default one),
  // with each {name} of `params` replaced. An unknown key gives the key itself.
  std::string render(std::string_view key, std::string_view language,
                     const Params& params = {}) const;

  // The language render() uses for `language`.
  const std::string& pick_language(std::string_view language) const;
  const std::string& default_language() const { return default_language_; }

  // "about 4 minutes" / "weniger als eine Minute" for an estimate in seconds (< 0: unknown).
  std::string wait_text(std::int64_t estimated_wait_s, std::string_view language) const;

 private:
  std::string default_language_ = "en";
  std::vector<std::string> languages_;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> texts_;  // key -> lang

  // Reads a parsed document, adding problems to `diag` (catalog.cpp).
  friend Result<Catalog> catalog_from(const YAML::Node& root, config::Diagnostics& diag);
};

// Parses catalog YAML text; `file` names it in messages. Used by load() and built_in().
Result<Catalog> parse_catalog(std::string_view yaml_text, const std::string& file);

}  // namespace handover::messages
