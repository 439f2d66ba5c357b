// Loading, checking and rendering the message catalog.
#include "handover/messages/catalog.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>

#include "builtin_messages.hpp"
#include "yaml_util.hpp"

namespace handover::messages {
namespace {

using config::Diagnostics;
using config::MapReader;

constexpr std::string_view kPlaceholders[] = {"position", "wait", "minutes", "agent", "notice"};

bool is_key(std::string_view key) {
  return std::any_of(std::begin(kKeys), std::end(kKeys),
                     [&](const char* known) { return key == known; });
}

// Reports every {name} in `text` that is not a known placeholder, and unbalanced braces.
void check_placeholders(std::string_view text, const YAML::Mark& mark, const std::string& path,
                        Diagnostics& diag) {
  for (std::size_t open = text.find('{'); open != std::string_view::npos;
       open = text.find('{', open + 1)) {
    const std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) {
      diag.add_at(mark, "a '{' without its '}'", path);
      return;
    }
    const std::string_view name = text.substr(open + 1, close - open - 1);
    if (std::find(std::begin(kPlaceholders), std::end(kPlaceholders), name) ==
        std::end(kPlaceholders)) {
      diag.add_at(mark,
                  "unknown placeholder {" + std::string(name) +
                      "}: expected {position}, {wait}, {minutes}, {agent} or {notice}",
                  path);
    }
  }
}

std::string primary(std::string_view language) {
  std::string out(language.substr(0, language.find('-')));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<Catalog> catalog_from(const YAML::Node& root, config::Diagnostics& diag);

Result<Catalog> parse_catalog(std::string_view yaml_text, const std::string& file) {
  Diagnostics diag(file);
  std::optional<YAML::Node> parsed = config::parse_yaml_text(yaml_text, diag);
  if (!parsed) return diag.to_status();
  return catalog_from(*parsed, diag);
}

Result<Catalog> catalog_from(const YAML::Node& root, config::Diagnostics& diag) {
  Catalog catalog;
  MapReader top(root, YAML::Mark::null_mark(), "", diag);
  top.read("default_language",
           config::string_binding(catalog.default_language_, "a language tag such as 'en'"));
  if (auto languages = top.take_required("languages")) {
    if (auto list = config::read_string_list(*languages, "languages", "a language tag", {}, diag)) {
      catalog.languages_ = *list;
    }
  }
  const YAML::Mark texts_mark = top.key_mark("messages");
  std::optional<YAML::Node> texts = top.take_required("messages");
  top.finish();
  if (std::find(catalog.languages_.begin(), catalog.languages_.end(),
                catalog.default_language_) == catalog.languages_.end()) {
    diag.add_at(top.key_mark("default_language"),
                "default_language '" + catalog.default_language_ + "' is not among languages",
                "default_language");
  }
  if (texts && texts->IsMap()) {
    for (const auto& entry : *texts) {
      const std::string key = entry.first.Scalar();
      if (!is_key(key)) {
        diag.add_at(entry.first.Mark(), "unknown message key '" + key + "'", "messages");
        continue;
      }
      MapReader langs(entry.second, entry.first.Mark(), "messages." + key, diag);
      for (const auto& language : catalog.languages_) {
        std::string text;
        if (!langs.read_required(language, config::string_binding(text, "the message text"))) {
          continue;
        }
        check_placeholders(text, langs.key_mark(language), langs.path_of(language), diag);
        catalog.texts_[key][language] = std::move(text);
      }
      langs.finish();
    }
  } else if (texts) {
    diag.add_at(texts_mark, "expected a mapping of message keys", "messages");
  }
  for (const char* key : kKeys) {
    if (texts && texts->IsMap() && !catalog.texts_.contains(key)) {
      diag.add_at(texts_mark, std::string("message '") + key + "' is missing", "messages");
    }
  }
  if (Status status = diag.to_status(); !status.is_ok()) return status;
  return catalog;
}

Result<Catalog> Catalog::load(const std::string& path) {
  Diagnostics diag(path);
  std::optional<YAML::Node> root = config::load_yaml_file(path, diag);
  if (!root) return diag.to_status();
  return catalog_from(*root, diag);
}

const Catalog& Catalog::built_in() {
  static const Catalog catalog = [] {
    auto parsed = parse_catalog(kBuiltInMessages, "built-in messages");
    // The shipped file is checked by a test; failing here is a build defect.
    if (!parsed) std::abort();
    return std::move(parsed).value();
  }();
  return catalog;
}

const std::string& Catalog::pick_language(std::string_view language) const {
  const std::string wanted = primary(language);
  for (const auto& known : languages_) {
    if (known == wanted) return known;
  }
  return default_language_;
}

std::string Catalog::render(std::string_view key, std::string_view language,
                            const Params& params) const {
  auto texts = texts_.find(key);
  if (texts == texts_.end()) return std::string(key);
  auto text = texts->second.find(pick_language(language));
  if (text == texts->second.end()) return std::string(key);
  std::string out = text->second;
  for (const auto& [name, value] : params) {
    const std::string placeholder = "{" + name + "}";
    for (std::size_t at = out.find(placeholder); at != std::string::npos;
         at = out.find(placeholder, at + value.size())) {
      out.replace(at, placeholder.size(), value);
    }
  }
  // An empty {notice} leaves a trailing space behind.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string Catalog::wait_text(std::int64_t estimated_wait_s, std::string_view language) const {
  if (estimated_wait_s < 0) return render("wait.unknown", language);
  if (estimated_wait_s < 60) return render("wait.under_minute", language);
  const std::int64_t minutes = (estimated_wait_s + 30) / 60;
  if (minutes == 1) return render("wait.one_minute", language);
  return render("wait.minutes", language, {{"minutes", std::to_string(minutes)}});
}

}  // namespace handover::messages
