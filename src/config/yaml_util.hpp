// Typed, strict reading of yaml-cpp nodes with "file:line:column" diagnostics. Private to the
// config loaders: the server config uses it now, the trigger rules loader will use it too.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cassert>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::config {

// Every problem found while loading one configuration. Problems tied to a file position are
// listed first, ordered by position; the others (environment, flags) follow in the order added.
class Diagnostics {
 public:
  // `file` prefixes every positioned problem.
  explicit Diagnostics(std::string file);

  // Adds "file:line:column: what (key 'key_path')". An empty `key_path` drops the "(key ...)"
  // part; a null mark drops the position and gives "file: what".
  void add_at(const YAML::Mark& mark, std::string_view what, std::string_view key_path);

  // Adds a problem that carries its own prefix, e.g. "HANDOVER_HTTP_THREADS: ...".
  void add(std::string message);

  bool empty() const { return problems_.empty(); }
  const std::string& file() const { return file_; }

  // OK when nothing was added; otherwise InvalidArgument listing every problem, one per line.
  Status to_status() const;

 private:
  struct Problem {
    bool positioned;
    int line;    // 1-based; 0 for a file-level problem such as "cannot read"
    int column;  // 1-based
    std::string text;
  };
  std::string file_;
  std::vector<Problem> problems_;
};

// Reads and parses the YAML file at `path`. Returns the single document, or a Null node for a
// file holding no document (empty, or only comments). On an unreadable file, a syntax error
// or more than one document, adds the problem to `diag` and returns nullopt.
std::optional<YAML::Node> load_yaml_file(const std::string& path, Diagnostics& diag);

// The same for YAML text already in memory (tests, built-in defaults). Both ignore a leading
// UTF-8 byte order mark.
std::optional<YAML::Node> parse_yaml_text(std::string_view text, Diagnostics& diag);

// What a scalar must look like. Integers and booleans must be plain (unquoted, untagged) YAML
// scalars, so `port: "80"` is a type error; any scalar is accepted where a string is expected.
enum class ScalarKind { kInteger, kBoolean, kString };

// Parses, validates and stores one scalar setting from its text. YAML values and environment
// variables go through the same binding, so both accept exactly the same spellings.
struct ScalarBinding {
  ScalarKind kind = ScalarKind::kString;
  std::string expected;  // e.g. "an integer from 1 to 64"; used for type errors
  // On success stores the value and returns OK. Otherwise leaves the target untouched and
  // returns InvalidArgument "expected <expected>, got '<text>'".
  std::function<Status(std::string_view text)> assign;
};

// InvalidArgument "expected <expected>, got <got>", the shape of every value message.
Status expected_got(std::string_view expected, std::string_view got);

// `text` quoted for a message: control characters replaced, long values shortened.
std::string quote_for_message(std::string_view text);

// Parses a decimal integer (optional leading '-', digits only) within [min, max].
// InvalidArgument "expected an integer from <min> to <max>, got '<text>'" otherwise,
// including on overflow: nothing wraps or truncates.
Result<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max);

// "an integer from <min> to <max>", the expectation quoted in integer messages.
std::string integer_expectation(std::int64_t min, std::int64_t max);

// Binds an integer setting stored in `target`, which must outlive the binding.
// [min, max] must fit in T.
template <class T>
ScalarBinding integer_binding(T& target, std::int64_t min, std::int64_t max) {
  assert(min <= max && std::in_range<T>(min) && std::in_range<T>(max));
  ScalarBinding binding;
  binding.kind = ScalarKind::kInteger;
  binding.expected = integer_expectation(min, max);
  binding.assign = [&target, min, max](std::string_view text) -> Status {
    Result<std::int64_t> parsed = parse_integer(text, min, max);
    if (!parsed) return parsed.status();
    target = static_cast<T>(*parsed);
    return Status::ok();
  };
  return binding;
}

// Binds a boolean setting, exactly "true" or "false". The bindings below, like this one,
// store into a target that must outlive them.
ScalarBinding boolean_binding(bool& target);

// Binds a string setting that must be one of `allowed` (case-sensitive).
ScalarBinding enum_binding(std::string& target, std::vector<std::string> allowed);

// Checks a string value; returns InvalidArgument with the whole "expected ..., got ..." text.
using StringCheck = std::function<Status(std::string_view text)>;

// Binds a non-empty string setting; `check`, when set, validates it further.
ScalarBinding string_binding(std::string& target, std::string expected, StringCheck check = {});

// Reads the scalar `value` through `binding`, reporting a wrong node type or a rejected value
// at the value's position (at `key_mark` when the value is empty). Returns true when stored.
bool read_scalar(const YAML::Node& value, const YAML::Mark& key_mark, std::string_view key_path,
                 const ScalarBinding& binding, Diagnostics& diag);

// Calls `fn(item, "key_path[i]")` for each item of the sequence `node`. A Null node is an empty
// sequence; any other node type is reported and no item is visited. Returns false if reported.
bool for_each_item(const YAML::Node& node, std::string_view key_path, Diagnostics& diag,
                   const std::function<void(const YAML::Node&, const std::string&)>& fn);

// Reads a sequence of strings (Null: empty), each non-empty and passing `check` when set.
// Reports every bad item; returns the strings only if there was none.
std::optional<std::vector<std::string>> read_string_list(const YAML::Node& node,
                                                         std::string_view key_path,
                                                         const std::string& expected,
                                                         const StringCheck& check,
                                                         Diagnostics& diag);

// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// Walks one mapping. Keys must be plain scalars and appear once. Each key the caller asks for
// is marked known; finish() then reports every key nobody asked for, with a suggestion when
// it looks like a typo of a known one. Not thread-safe; use it on one thread, then drop it.
class MapReader {
 public:
  // `node` may be a mapping or Null (read as empty); any other type is reported. `mark` stands
  // for the mapping in messages when `node` is Null (usually the mark of its parent key).
  // `key_prefix` is the dotted path of this mapping ("" at the top level, "http", ...).
  MapReader(const YAML::Node& node, const YAML::Mark& mark, std::string key_prefix,
            Diagnostics& diag);
  ~MapReader();

  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  // Reads `key` through `binding` if present. Returns true if present and stored.
  bool read(std::string_view key, const ScalarBinding& binding);

  // Like read(), but a missing key is reported at this mapping's position.
  bool read_required(std::string_view key, const ScalarBinding& binding);

  // The value of `key` (marked known), or nullopt if absent.
  std::optional<YAML::Node> take(std::string_view key);

  // Like take(), but a missing key is reported at this mapping's position (unless the node
  // was not a mapping at all: that was reported once already).
  std::optional<YAML::Node> take_required(std::string_view key);

  // Position of `key` itself (or of the mapping when absent), for messages about its value.
  YAML::Mark key_mark(std::string_view key) const;

  // Dotted path of `key` inside this mapping, e.g. "http.body_limit".
  std::string path_of(std::string_view key) const;

  // Reports unknown keys. Call exactly once, after every read() and take().
  void finish();

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool known = false;
  };

  void collect_entries(const YAML::Node& node);
  Entry* find(std::string_view key);
  const Entry* find(std::string_view key) const;

  std::vector<Entry> entries_;
  std::vector<std::string> asked_;  // every key asked for, the source of typo suggestions
  YAML::Mark mark_;
  std::string prefix_;
  Diagnostics& diag_;
  bool is_mapping_ = true;  // false if the node was reported as not a mapping
  bool finished_ = false;
};

}  // namespace handover::config
