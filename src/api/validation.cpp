// JSON body parsing and field validation with JSON-pointer error reports.
#include "validation.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "handover/util/json.hpp"
#include "handover/util/utf8.hpp"

namespace handover::api {
namespace {

bool is_json_content_type(const std::string* value) {
  if (!value) return false;
  std::string v;
  for (char c : *value) {
    if (c == ';') break;
    if (c != ' ' && c != '\t') v.push_back(static_cast<char>(std::tolower(c)));
  }
  return v == "application/json" || (v.size() > 5 && v.ends_with("+json"));
}

const char* type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

http::Response bad_body(std::string_view slug, std::string_view title, std::string detail) {
  return http::problem(400, slug, title, detail);
}

// The code point of the control character utf8::find_control found at s[at]: an ASCII
// byte, or U+0080..U+009F, written as 0xC2 and the code point's own byte.
unsigned control_code(std::string_view s, std::size_t at) {
  const auto first = static_cast<unsigned char>(s[at]);
  return first < 0x80 ? first : static_cast<unsigned char>(s[at + 1]);
}

}  // namespace

std::optional<http::Response> parse_json_object(const http::Request& request, json& out) {
  if (!is_json_content_type(request.header("content-type"))) {
    return http::problem(415, "unsupported-media-type", "Unsupported media type",
                         "send the body as application/json");
  }
  if (!utf8::is_valid(request.body)) {
    return bad_body("invalid-utf8", "Invalid UTF-8", "the request body is not valid UTF-8");
  }
  std::string detail;
  switch (json_util::parse_strict(request.body, out, detail)) {
    case json_util::ParseError::kNone: break;
    case json_util::ParseError::kLoneSurrogate:
      return bad_body("invalid-unicode", "Invalid Unicode escape", detail);
    case json_util::ParseError::kDuplicateMember:
      return bad_body("duplicate-member", "Duplicate member name", detail);
    case json_util::ParseError::kSyntax:
      return bad_body("malformed-json", "Malformed JSON", detail);
  }
  if (!out.is_object()) {
    return bad_body("malformed-json", "Malformed JSON",
                    std::string("the body is a JSON ") + type_name(out) + ", not an object");
  }
  return std::nullopt;
}

void Validator::fail(std::string pointer, std::string detail) {
  errors_.push_back({std::move(pointer), std::move(detail)});
}

void Validator::allow_only(const json& object, const std::string& pointer,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == key;
    if (!known) fail(pointer + "/" + pointer_token(key), "unknown field '" + key + "'");
  }
}

std::optional<std::string> Validator::string(const json& object, const std::string& pointer,
                                             const char* key, bool required,
                                             std::size_t max_bytes, bool allow_empty) {
  const std::string where = pointer + "/" + key;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) fail(where, std::string("'") + key + "' is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    fail(where, std::string("expected a string, got ") + type_name(*it));
    return std::nullopt;
  }
  const auto& s = it->get_ref<const std::string&>();
  // The parser has checked the UTF-8; escapes such as \u0000 still reach here.
  if (const std::size_t at = utf8::find_control(s); at != std::string::npos) {
    char code[8];
    std::snprintf(code, sizeof code, "%04X", control_code(s, at));
    fail(where, std::string("contains the control character U+") + code + " at byte " +
                    std::to_string(at) + "; only tab, line feed and carriage return are allowed");
    return std::nullopt;
  }
  if (!allow_empty && utf8::is_blank(s)) {
    fail(where, s.empty() ? "must not be empty" : "must not be empty (only blank characters)");
    return std::nullopt;
  }
  if (s.size() > max_bytes) {
    fail(where, "longer than " + std::to_string(max_bytes) + " bytes (" +
                    std::to_string(s.size()) + ")");
    return std::nullopt;
  }
  return s;
}

std::optional<double> Validator::number(const json& object, const std::string& pointer,
                                        const char* key, bool required, double min, double max) {
  const std::string where = pointer + "/" + key;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) fail(where, std::string("'") + key + "' is required");
    return std::nullopt;
  }
  if (!it->is_number()) {
    fail(where, std::string("expected a number, got ") + type_name(*it));
    return std::nullopt;
  }
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    char range[96];
    std::snprintf(range, sizeof range, "must be between %g and %g", min, max);
    fail(where, range);
    return std::nullopt;
  }
  return v + 0.0;  // -0 becomes 0, so it is stored and echoed as 0
}

std::optional<bool> Validator::boolean(const json& object, const std::string& pointer,
                                       const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    fail(pointer + "/" + key, std::string("expected a boolean, got ") + type_name(*it));
    return std::nullopt;
  }
  return it->get<bool>();
}

const json* Validator::object(const json& object, const std::string& pointer, const char* key,
                              bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) fail(pointer + "/" + key, std::string("'") + key + "' is required");
    return nullptr;
  }
  if (!it->is_object()) {
    fail(pointer + "/" + key, std::string("expected an object, got ") + type_name(*it));
    return nullptr;
  }
  return &*it;
}

const json* Validator::array(const json& object, const std::string& pointer, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!it->is_array()) {
    fail(pointer + "/" + key, std::string("expected an array, got ") + type_name(*it));
    return nullptr;
  }
  return &*it;
}

void Validator::max_size(const json& value, const std::string& pointer, std::size_t max_bytes) {
  const std::size_t size = value.dump().size();
  if (size > max_bytes) {
    fail(pointer, "serialised size " + std::to_string(size) + " exceeds " +
                      std::to_string(max_bytes) + " bytes");
  }
}

http::Response validation_problem(const std::vector<FieldError>& errors) {
  json list = json::array();
  for (const auto& e : errors) list.push_back({{"pointer", e.pointer}, {"detail", e.detail}});
  json body = {
      {"type", "/problems/validation-error"},
      {"title", "Invalid request"},
      {"status", 422},
      {"detail", errors.empty() ? std::string("invalid request")
                                : errors.front().pointer + ": " + errors.front().detail},
      {"pointer", errors.empty() ? std::string() : errors.front().pointer},
      {"errors", std::move(list)},
  };
  http::Response r;
  r.status = 422;
  r.content_type = "application/problem+json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

bool valid_token_chars(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min,
                                          std::int64_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

}  // namespace handover::api
