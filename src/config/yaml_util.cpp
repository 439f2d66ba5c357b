// Strict typed reading of yaml-cpp nodes, with every problem reported as file:line:column.
#include "yaml_util.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "handover/util/text.hpp"

namespace handover::config {
namespace {

constexpr std::size_t kMaxQuotedBytes = 64;
constexpr std::size_t kMaxSuggestionDistance = 2;

// How a node that is not the expected scalar reads in a message: "a list", "no value", ...
std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "no value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
  }
  return quote_for_message(node.Scalar());
}

// Why `value` cannot hold a scalar of `kind`, or nullopt if its node type is right.
std::optional<std::string> wrong_scalar_type(const YAML::Node& value, ScalarKind kind) {
  if (!value.IsScalar()) return describe_node(value);
  // yaml-cpp tags plain scalars "?" and quoted ones "!"; anything else was tagged explicitly.
  if (kind == ScalarKind::kString || value.Tag() == "?") return std::nullopt;
  if (value.Tag() == "!") return "a quoted string " + quote_for_message(value.Scalar());
  return "a value tagged " + quote_for_message(value.Tag());
}

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

// The whole file, or nullopt after reporting why it cannot be read.
std::optional<std::string> read_whole_file(const std::string& path, Diagnostics& diag) {
  std::error_code error;
  std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    diag.add_at(YAML::Mark::null_mark(), "config file not found", "");
    return std::nullopt;
  }
  if (error) {
    diag.add_at(YAML::Mark::null_mark(), "config file cannot be read: " + error.message(), "");
    return std::nullopt;
  }
  if (std::filesystem::is_directory(status)) {
    diag.add_at(YAML::Mark::null_mark(), "is a directory, not a config file", "");
    return std::nullopt;
  }

  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in.is_open()) text << in.rdbuf();
  if (!in.is_open() || in.bad()) {
    diag.add_at(YAML::Mark::null_mark(), "config file cannot be read (check its permissions)", "");
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

Diagnostics::Diagnostics(std::string file) : file_(std::move(file)) {}

void Diagnostics::add_at(const YAML::Mark& mark, std::string_view what, std::string_view key_path) {
  Problem problem{true, 0, 0, file_};
  if (!mark.is_null()) {
    problem.line = mark.line + 1;
    problem.column = mark.column + 1;
    problem.text += ":" + std::to_string(problem.line) + ":" + std::to_string(problem.column);
  }
  problem.text += ": " + std::string(what);
  if (!key_path.empty()) problem.text += " (key '" + std::string(key_path) + "')";
  problems_.push_back(std::move(problem));
}

void Diagnostics::add(std::string message) {
  problems_.push_back({false, 0, 0, std::move(message)});
}

Status Diagnostics::to_status() const {
  if (problems_.empty()) return Status::ok();

  std::vector<Problem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
    if (a.positioned != b.positioned) return a.positioned;
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });

  std::string message;
  for (const Problem& problem : sorted) {
    if (!message.empty()) message += '\n';
    message += problem.text;
  }
  return Status::invalid_argument(std::move(message));
}

std::optional<YAML::Node> load_yaml_file(const std::string& path, Diagnostics& diag) {
  std::optional<std::string> text = read_whole_file(path, diag);
  if (!text) return std::nullopt;
  return parse_yaml_text(*text, diag);
}

std::optional<YAML::Node> parse_yaml_text(std::string_view text, Diagnostics& diag) {
  // Some editors start UTF-8 files with a byte order mark; yaml-cpp would read it as part of
  // the first key.
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (text.starts_with(kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    if (documents.empty()) return YAML::Node();
    if (documents.size() > 1) {
      diag.add_at(documents[1].Mark(), "only one YAML document is allowed", "");
      return std::nullopt;
    }
    return documents.front();
  } catch (const YAML::Exception& e) {
    diag.add_at(e.mark, "YAML syntax error: " + e.msg, "");
    return std::nullopt;
  }
}

Status expected_got(std::string_view expected, std::string_view got) {
  return Status::invalid_argument("expected " + std::string(expected) + ", got " +
                                  std::string(got));
}

std::string quote_for_message(std::string_view text) {
  std::string shown(text.substr(0, kMaxQuotedBytes));
  // Do not cut a UTF-8 sequence in half: drop trailing continuation and lead bytes.
  if (shown.size() < text.size()) {
    while (!shown.empty() && (static_cast<unsigned char>(shown.back()) & 0x80) != 0) {
      bool lead = (static_cast<unsigned char>(shown.back()) & 0xC0) == 0xC0;
      shown.pop_back();
      if (lead) break;
    }
    shown += "...";
  }
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return "'" + shown + "'";
}

std::string integer_expectation(std::int64_t min, std::int64_t max) {
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

Result<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end || value < min || value > max) {
    return expected_got(integer_expectation(min, max), quote_for_message(text));
  }
  return value;
}

ScalarBinding boolean_binding(bool& target) {
  ScalarBinding binding;
  binding.kind = ScalarKind::kBoolean;
  binding.expected = "true or false";
  binding.assign = [&target](std::string_view text) -> Status {
    if (text != "true" && text != "false") {
      return expected_got("true or false", quote_for_message(text));
    }
    target = text == "true";
    return Status::ok();
  };
  return binding;
}

ScalarBinding enum_binding(std::string& target, std::vector<std::string> allowed) {
  ScalarBinding binding;
  binding.expected = "one of " + join(allowed, ", ");
  binding.assign = [&target, allowed = std::move(allowed),
                    expected = binding.expected](std::string_view text) -> Status {
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      return expected_got(expected, quote_for_message(text));
    }
    target = std::string(text);
    return Status::ok();
  };
  return binding;
}

ScalarBinding string_binding(std::string& target, std::string expected, StringCheck check) {
  ScalarBinding binding;
  binding.expected = std::move(expected);
  binding.assign = [&target, check = std::move(check),
                    expected = binding.expected](std::string_view text) -> Status {
    if (text.empty()) return expected_got(expected, "an empty string");
    if (check) {
      Status status = check(text);
      if (!status.is_ok()) return status;
    }
    target = std::string(text);
    return Status::ok();
  };
  return binding;
}

bool read_scalar(const YAML::Node& value, const YAML::Mark& key_mark, std::string_view key_path,
                 const ScalarBinding& binding, Diagnostics& diag) {
  // yaml-cpp marks an empty value at the next token, often lines later: point at the key.
  const YAML::Mark& mark = value.IsNull() ? key_mark : value.Mark();
  if (std::optional<std::string> wrong = wrong_scalar_type(value, binding.kind)) {
    diag.add_at(mark, expected_got(binding.expected, *wrong).message(), key_path);
    return false;
  }

  Status status = binding.assign(value.Scalar());
  if (!status.is_ok()) {
    diag.add_at(mark, status.message(), key_path);
    return false;
  }
  return true;
}

bool for_each_item(const YAML::Node& node, std::string_view key_path, Diagnostics& diag,
                   const std::function<void(const YAML::Node&, const std::string&)>& fn) {
  if (node.IsNull()) return true;
  if (!node.IsSequence()) {
    diag.add_at(node.Mark(), "expected a list, got " + describe_node(node), key_path);
    return false;
  }

  std::size_t index = 0;
  for (const YAML::Node& item : node) {
    fn(item, std::string(key_path) + "[" + std::to_string(index++) + "]");
  }
  return true;
}

std::optional<std::vector<std::string>> read_string_list(const YAML::Node& node,
                                                         std::string_view key_path,
                                                         const std::string& expected,
                                                         const StringCheck& check,
                                                         Diagnostics& diag) {
  std::vector<std::string> out;
  bool all_valid = true;
  auto read_item = [&](const YAML::Node& item, const std::string& item_path) {
    std::string value;
    if (read_scalar(item, item.Mark(), item_path, string_binding(value, expected, check), diag)) {
      out.push_back(std::move(value));
    } else {
      all_valid = false;
    }
  };
  if (!for_each_item(node, key_path, diag, read_item) || !all_valid) return std::nullopt;
  return out;
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::min(kMaxSuggestionDistance, word.size() / 2) + 1;
  for (const std::string& candidate : candidates) {
    std::size_t distance = text::edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

MapReader::MapReader(const YAML::Node& node, const YAML::Mark& mark, std::string key_prefix,
                     Diagnostics& diag)
    : mark_(node.IsNull() ? mark : node.Mark()), prefix_(std::move(key_prefix)), diag_(diag) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    diag_.add_at(node.Mark(), "expected a mapping, got " + describe_node(node), prefix_);
    is_mapping_ = false;
    return;
  }
  collect_entries(node);
}

MapReader::~MapReader() {
  assert((finished_ || std::uncaught_exceptions() > 0) && "MapReader::finish() was not called");
}

// yaml-cpp 0.7 keeps every pair of a mapping, repeated keys included, and reports none of them;
// a lookup would silently return the first. So repeats are found here, by comparing keys.
void MapReader::collect_entries(const YAML::Node& node) {
  for (const auto& pair : node) {
    // Copies: yaml-cpp's iterator hands out proxies that die with the iterator step.
    YAML::Node key = pair.first;
    if (!key.IsScalar()) {
      diag_.add_at(key.Mark(), "expected a plain key, got " + describe_node(key), prefix_);
      continue;
    }
    if (const Entry* first = find(key.Scalar())) {
      std::string first_line = std::to_string(first->key_node.Mark().line + 1);
      diag_.add_at(key.Mark(), "duplicate key, first given at line " + first_line,
                   path_of(key.Scalar()));
      continue;
    }
    entries_.push_back({key.Scalar(), key, pair.second});
  }
}

MapReader::Entry* MapReader::find(std::string_view key) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [key](const Entry& entry) { return entry.key == key; });
  return it == entries_.end() ? nullptr : &*it;
}

const MapReader::Entry* MapReader::find(std::string_view key) const {
  return const_cast<MapReader*>(this)->find(key);
}

bool MapReader::read(std::string_view key, const ScalarBinding& binding) {
  std::optional<YAML::Node> value = take(key);
  if (!value) return false;
  return read_scalar(*value, key_mark(key), path_of(key), binding, diag_);
}

bool MapReader::read_required(std::string_view key, const ScalarBinding& binding) {
  if (!take_required(key)) return false;
  return read(key, binding);
}

std::optional<YAML::Node> MapReader::take(std::string_view key) {
  asked_.emplace_back(key);
  Entry* entry = find(key);
  if (entry == nullptr) return std::nullopt;
  entry->known = true;
  return entry->value;
}

std::optional<YAML::Node> MapReader::take_required(std::string_view key) {
  std::optional<YAML::Node> value = take(key);
  // A node that is not a mapping was reported already; its keys are not missing too.
  if (!value && is_mapping_) diag_.add_at(mark_, "missing required key", path_of(key));
  return value;
}

YAML::Mark MapReader::key_mark(std::string_view key) const {
  const Entry* entry = find(key);
  return entry == nullptr ? mark_ : entry->key_node.Mark();
}

std::string MapReader::path_of(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

void MapReader::finish() {
  assert(!finished_ && "MapReader::finish() called twice");
  finished_ = true;
  for (const Entry& entry : entries_) {
    if (entry.known) continue;
    std::optional<std::string> suggestion = closest_match(entry.key, asked_);
    std::string what = "unknown key";
    if (suggestion) what += ", did you mean '" + *suggestion + "'?";
    diag_.add_at(entry.key_node.Mark(), what, path_of(entry.key));
  }
}

}  // namespace handover::config
