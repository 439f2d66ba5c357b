// Parsing of JSON request bodies and field validation that reports JSON pointers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "handover/http/message.hpp"

namespace handover::api {

using nlohmann::json;

struct FieldError {
  std::string pointer;  // RFC 6901, e.g. "/bot/confidence"
  std::string detail;
};

// Parses the body as a JSON object. On failure returns the problem response to send:
// 415 for a non-JSON content type, 400 for invalid UTF-8, lone surrogates, malformed
// JSON, duplicate member names, or a top-level value that is not an object.
std::optional<http::Response> parse_json_object(const http::Request& request, json& out);

// Collects field errors; each accessor returns nullopt when the field is absent or bad.
class Validator {
 public:
  bool ok() const { return errors_.empty(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  void fail(std::string pointer, std::string detail);

  // Members of `object` (at `pointer`) not in `allowed` are errors.
  void allow_only(const json& object, const std::string& pointer,
                  std::initializer_list<std::string_view> allowed);

  std::optional<std::string> string(const json& object, const std::string& pointer,
                                    const char* key, bool required, std::size_t max_bytes,
                                    bool allow_empty = false);
  std::optional<double> number(const json& object, const std::string& pointer, const char* key,
                               bool required, double min, double max);
  std::optional<bool> boolean(const json& object, const std::string& pointer, const char* key);
  // An object member that must itself be an object (or absent); returns it or nullptr.
  const json* object(const json& object, const std::string& pointer, const char* key,
                     bool required = false);
  const json* array(const json& object, const std::string& pointer, const char* key);
  // Checks the serialised size of a free-form value against `max_bytes`.
  void max_size(const json& value, const std::string& pointer, std::size_t max_bytes);

 private:
  std::vector<FieldError> errors_;
};

// 422 problem listing every field error ("errors": [{pointer, detail}], first as "pointer").
http::Response validation_problem(const std::vector<FieldError>& errors);

// RFC 6901 escaping of one reference token ("a/b" -> "a~1b").
std::string pointer_token(std::string_view key);

// True when `s` holds only letters, digits, '-', '_', '.' and ':' (channels, languages,
// client turn ids); also for "", which callers check on their own.
bool valid_token_chars(std::string_view s);

// Strict decimal integer in [min, max]; nullopt for anything else (sign, spaces, overflow).
std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min,
                                          std::int64_t max);

}  // namespace handover::api
