// Strict JSON parsing for what clients send: nlohmann::json plus the checks it lacks.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace handover::json_util {

enum class ParseError {
  kNone,
  kSyntax,           // not JSON, or a number too large to represent
  kLoneSurrogate,    // a \uD800-style escape without its partner
  kDuplicateMember,  // the same member name twice in one object
};

// Parses `text` into `out`. Unlike plain nlohmann parsing, a member name repeated in one
// object is an error rather than "last one wins". On failure `detail` says what is wrong
// in words fit for a client (no library internals).
ParseError parse_strict(std::string_view text, nlohmann::json& out, std::string& detail);

}  // namespace handover::json_util
