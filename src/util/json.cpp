// Strict JSON parsing: duplicate member names refused, errors in plain words.
#include "handover/util/json.hpp"

#include <set>
#include <vector>

namespace handover::json_util {

ParseError parse_strict(std::string_view text, nlohmann::json& out, std::string& detail) {
  using nlohmann::json;
  // Member names seen per open object.
  std::vector<std::set<std::string>> seen;
  std::string duplicate;
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) seen.emplace_back();
    if (event == json::parse_event_t::object_end && !seen.empty()) seen.pop_back();
    if (event == json::parse_event_t::key && !seen.empty() &&
        !seen.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  try {
    out = json::parse(text, callback);
  } catch (const json::parse_error& e) {
    if (std::string(e.what()).find("surrogate") != std::string::npos) {
      detail = "the text contains a lone UTF-16 surrogate escape";
      return ParseError::kLoneSurrogate;
    }
    detail = "the text is not valid JSON (at byte " + std::to_string(e.byte) + ")";
    return ParseError::kSyntax;
  } catch (const json::exception&) {
    detail = "a number in the text is too large to represent";
    return ParseError::kSyntax;
  }
  if (!duplicate.empty()) {
    detail = "the member '" + duplicate + "' appears more than once in one object";
    return ParseError::kDuplicateMember;
  }
  return ParseError::kNone;
}

}  // namespace handover::json_util
