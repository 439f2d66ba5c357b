// JSON text written without building a tree; see json_writer.hpp.
#include "handover/util/json_writer.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "handover/util/utf8.hpp"

namespace handover::json_util {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The escape dump() writes for an ASCII byte, or "" when the byte stands for itself.
std::string_view escape_of(unsigned char c, std::array<char, 6>& buffer) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\t':
      return "\\t";
    case '\n':
      return "\\n";
    case '\f':
      return "\\f";
    case '\r':
      return "\\r";
    default:
      break;
  }
  if (c >= 0x20) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  buffer = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
  return {buffer.data(), buffer.size()};
}

// Bytes written as they are: printable ASCII but the quote and the backslash.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return plain;
}();

// Whether any of the 8 bytes in `word` needs a closer look: 0x80 and above, below 0x20, the
// quote or the backslash. Exact as a yes or no (the usual bit tricks for a zero byte and a
// byte below n), so a "no" lets all eight be copied as they are.
bool any_special(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
  const std::uint64_t quote = word ^ (kOnes * '"');
  const std::uint64_t backslash = word ^ (kOnes * '\\');
  const std::uint64_t quote_found = (quote - kOnes) & ~quote & kHigh;
  const std::uint64_t backslash_found = (backslash - kOnes) & ~backslash & kHigh;
  return ((word & kHigh) | below_space | quote_found | backslash_found) != 0;
}

}  // namespace

void append_quoted(std::string& out, std::string_view value) {
  out.reserve(out.size() + value.size() + 2);
  out += '"';
  std::array<char, 6> buffer{};
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < value.size();) {
    // Most text is plain ASCII: skip over it, eight bytes at a time while it lasts, before
    // looking at a byte more closely.
    for (std::uint64_t word = 0; i + 8 <= value.size(); i += 8) {
      std::memcpy(&word, value.data() + i, 8);
      if (any_special(word)) break;
    }
    while (i < value.size() && kPlain[static_cast<unsigned char>(value[i])]) ++i;
    if (i == value.size()) break;
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8::sequence_length(value, i);
      if (n != 0) {
        i += n;
        continue;
      }
      out.append(value.substr(run, i - run));
      out.append(kReplacement);
      run = ++i;
      continue;
    }
    const std::string_view escape = escape_of(c, buffer);
    if (!escape.empty()) {
      out.append(value.substr(run, i - run));
      out.append(escape);
      run = i + 1;
    }
    ++i;
  }
  out.append(value.substr(run));
  out += '"';
}

void JsonWriter::before_value() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_ += '[';
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  before_value();
  append_quoted(out_, name);
  out_ += ':';
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::plain_key(std::string_view name) {
  assert(std::all_of(name.begin(), name.end(),
                     [](char c) { return kPlain[static_cast<unsigned char>(c)]; }));
  before_value();
  out_ += '"';
  out_.append(name);
  out_ += "\":";
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view value) {
  before_value();
  append_quoted(out_, value);
  return *this;
}

JsonWriter& JsonWriter::number(double value) {
  before_value();
  if (!std::isfinite(value)) {
    out_ += "null";
    return *this;
  }
  // Whole numbers, which most scores and counts are, need no Grisu2: dump() writes them in
  // full with ".0" up to 15 digits (and 0.0 with its sign).
  constexpr double kWholeLimit = 1e15;
  if (value == std::trunc(value) && std::fabs(value) < kWholeLimit) {
    if (value == 0) {
      out_ += std::signbit(value) ? "-0.0" : "0.0";
    } else {
      out_ += std::to_string(static_cast<std::int64_t>(value));
      out_ += ".0";
    }
    return *this;
  }
  // The same shortest round-trip form as dump() (Grisu2).
  std::array<char, 64> buffer{};
  char* end = nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out_.append(buffer.data(), end);
  return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) {
  before_value();
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json_text) {
  before_value();
  out_.append(json_text);
  return *this;
}

}  // namespace handover::json_util
