// Writes JSON text straight into a string, for answers built on every request where a
// nlohmann::json tree (a node allocation per member, then a dump) costs more than the work.
// The output is what nlohmann's dump() writes for the same values: no spaces, numbers in
// its shortest round-trip form, and the same string escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace handover::json_util {

// Members are written in the order given; callers that must match a dump() of a tree
// write them in sorted order. The writer does not check the structure (a key outside an
// object, an unclosed array): that is the caller's job, as with any builder.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  // A key written in the source, which must need no escape (a plain ASCII name): copied as it
  // is, without the scan for bytes to escape. Answers write dozens of them per request.
  template <std::size_t N>
  JsonWriter& key(const char (&name)[N]) {
    return plain_key(std::string_view(name, N - 1));
  }

  JsonWriter& string(std::string_view value);
  JsonWriter& number(double value);  // NaN and infinities are written as null, as dump() does
  JsonWriter& number(std::int64_t value);
  JsonWriter& number(int value) { return number(static_cast<std::int64_t>(value)); }
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  // A value that is already JSON text, written as it is.
  JsonWriter& raw(std::string_view json_text);

 private:
  void before_value();
  JsonWriter& plain_key(std::string_view name);

  std::string& out_;
  bool need_comma_ = false;
};

// Appends `value` as a quoted JSON string. Bytes that are not well-formed UTF-8 become
// U+FFFD, so the output is always valid JSON.
void append_quoted(std::string& out, std::string_view value);

}  // namespace handover::json_util
