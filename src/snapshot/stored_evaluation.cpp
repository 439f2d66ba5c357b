// A stored evaluation is about 1 KB of JSON of which a snapshot reads a tenth. Parsing all of
// it into a DOM for each of 200 turns was most of a snapshot's cost, so members that are not
// read are skipped by matching brackets and quotes, and only kept members are parsed.
#include "stored_evaluation.hpp"

#include <array>
#include <cstddef>
#include <optional>

namespace handover::snapshot {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 4> kSignalFamilies = {"sentiment", "anger", "uncertainty",
                                                             "value"};

class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }

  bool at_end() {
    skip_space();
    return pos_ == s_.size();
  }

  // A member name as written between its quotes (escapes are left as they are: no name the
  // reader looks for has any).
  std::optional<std::string_view> key() {
    skip_space();
    const std::size_t start = pos_;
    if (!skip_string()) return std::nullopt;
    return s_.substr(start + 1, pos_ - start - 2);
  }

  // The raw text of the next value, which is skipped; nullopt when it is malformed. Only
  // quotes and brackets are checked here; a kept value is validated when it is parsed.
  std::optional<std::string_view> value() {
    skip_space();
    const std::size_t start = pos_;
    if (pos_ >= s_.size()) return std::nullopt;
    const char c = s_[pos_];
    if (c == '"') {
      if (!skip_string()) return std::nullopt;
    } else if (c == '{' || c == '[') {
      if (!skip_nested()) return std::nullopt;
    } else {
      while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '}' && s_[pos_] != ']' &&
             s_[pos_] != ' ' && s_[pos_] != '\n' && s_[pos_] != '\r' && s_[pos_] != '\t') {
        ++pos_;
      }
      if (pos_ == start) return std::nullopt;
    }
    return s_.substr(start, pos_ - start);
  }

 private:
  // At an opening quote: moves past the closing one.
  bool skip_string() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    for (++pos_; pos_ < s_.size(); ++pos_) {
      if (s_[pos_] == '\\') {
        ++pos_;
      } else if (s_[pos_] == '"') {
        ++pos_;
        return true;
      }
    }
    return false;
  }

  // At '{' or '[': moves past the bracket that closes it.
  bool skip_nested() {
    std::size_t depth = 0;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '"') {
        if (!skip_string()) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) return false;
        if (--depth == 0) {
          ++pos_;
          return true;
        }
      }
      ++pos_;
    }
    return false;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<json> parse(std::string_view raw) {
  json parsed = json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

bool wanted_family(std::string_view name) {
  for (std::string_view family : kSignalFamilies) {
    if (name == family) return true;
  }
  return false;
}

// Calls `member(name, scanner)` for each member of the object the scanner is at; `member`
// must consume the value. False when the object is malformed or `member` fails.
template <typename OnMember>
bool for_each_member(Scanner& scanner, OnMember member) {
  if (!scanner.consume('{')) return false;
  if (scanner.consume('}')) return true;
  do {
    const std::optional<std::string_view> name = scanner.key();
    if (!name || !scanner.consume(':') || !member(*name)) return false;
  } while (scanner.consume(','));
  return scanner.consume('}');
}

std::optional<json> read_signals(Scanner& scanner) {
  if (!scanner.peek('{')) {
    const auto raw = scanner.value();
    return raw ? parse(*raw) : std::nullopt;
  }
  json signals = json::object();
  const bool ok = for_each_member(scanner, [&](std::string_view name) {
    const auto raw = scanner.value();
    if (!raw) return false;
    if (!wanted_family(name)) return true;
    std::optional<json> family = parse(*raw);
    if (!family) return false;
    signals[std::string(name)] = std::move(*family);
    return true;
  });
  if (!ok) return std::nullopt;
  return signals;
}

}  // namespace

json read_stored_evaluation(std::string_view text) {
  if (text.empty()) return nullptr;
  Scanner scanner(text);
  json out = json::object();
  const bool ok = for_each_member(scanner, [&](std::string_view name) {
    if (name == "signals") {
      std::optional<json> signals = read_signals(scanner);
      if (!signals) return false;
      out["signals"] = std::move(*signals);
      return true;
    }
    const auto raw = scanner.value();
    if (!raw) return false;
    if (name != "evidence") return true;
    std::optional<json> evidence = parse(*raw);
    if (!evidence) return false;
    out["evidence"] = std::move(*evidence);
    return true;
  });
  if (!ok || !scanner.at_end()) return nullptr;
  return out;
}

}  // namespace handover::snapshot
