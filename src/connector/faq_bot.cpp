// The built-in FAQ bot: TF-IDF cosine similarity between the user's text and the known
// questions, over normalised tokens without stop words.
#include "handover/connector/faq_bot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "yaml_util.hpp"

namespace handover::connector {

namespace {

constexpr std::array<const char*, 2> kLanguages = {"de", "en"};
constexpr std::size_t kMaxIntentLength = 64;

struct Question {
  std::size_t entry = 0;
  std::size_t language = 0;  // index into kLanguages
  std::unordered_map<std::string, double> weights;  // token -> tf * idf
  double norm = 0.0;
};

struct Entry {
  std::string intent;
  std::array<std::vector<std::string>, 2> questions;  // by language
  std::array<std::string, 2> answers;                 // by language
  nlohmann::json actions = nullptr;
};

std::size_t language_index(std::string_view language) {
  return language == "de" ? 0 : 1;
}

// Appends the spelled-out form of one UTF-8 letter starting at `text[i]`, if it is one we
// fold; returns the bytes it took (0 when it is not).
std::size_t fold_letter(std::string_view text, std::size_t i, std::string& out) {
  if (i + 1 >= text.size() || static_cast<unsigned char>(text[i]) != 0xC3) return 0;
  switch (static_cast<unsigned char>(text[i + 1])) {
    case 0xA4:  // ä
    case 0x84:  // Ä
      out += "ae";
      return 2;
    case 0xB6:  // ö
    case 0x96:  // Ö
      out += "oe";
      return 2;
    case 0xBC:  // ü
    case 0x9C:  // Ü
      out += "ue";
      return 2;
    case 0x9F:  // ß
      out += "ss";
      return 2;
    default:
      return 0;
  }
}

// Strips one common inflection so singular and plural, or verb forms, meet.
std::string stem(std::string word) {
  auto strip = [&word](std::string_view suffix, std::size_t min_length, std::string_view with) {
    if (word.size() < min_length || !word.ends_with(suffix)) return false;
    word.resize(word.size() - suffix.size());
    word += with;
    return true;
  };
  if (strip("ungen", 7, "ung") || strip("ing", 6, "") || strip("en", 5, "") || strip("ed", 5, "") ||
      strip("es", 5, "") || strip("e", 5, "")) {
    return word;
  }
  if (!word.ends_with("ss")) strip("s", 4, "");
  return word;
}

struct Scored {
  double score = 0.0;
  const Question* question = nullptr;
};

}  // namespace

std::vector<std::string> faq_tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(stem(std::move(word)));
    word.clear();
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (std::size_t taken = fold_letter(text, i, word)) {
      i += taken;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      word.push_back(static_cast<char>(c));
      ++i;
    } else if (c >= 'A' && c <= 'Z') {
      word.push_back(static_cast<char>(c - 'A' + 'a'));
      ++i;
    } else if (c >= 0x80) {
      word.push_back(static_cast<char>(c));  // other letters of other scripts stay as they are
      ++i;
    } else {
      flush();
      ++i;
    }
  }
  flush();
  return tokens;
}

struct FaqBot::Data {
  double threshold = 0.4;
  std::array<std::string, 2> fallback;
  std::array<std::unordered_set<std::string>, 2> stop_words;  // stemmed, by language
  std::vector<Entry> entries;
  std::vector<Question> questions;
  std::unordered_map<std::string, double> idf;
  double unknown_idf = 1.0;  // weight of a word no question has: as rare as can be

  bool is_stop_word(const std::string& token) const {
    return stop_words[0].contains(token) || stop_words[1].contains(token);
  }

  std::vector<std::string> content_tokens(std::string_view text) const {
    std::vector<std::string> out;
    for (std::string& token : faq_tokens(text)) {
      if (!is_stop_word(token)) out.push_back(std::move(token));
    }
    return out;
  }

  void index();
  Scored best_match(const std::vector<std::string>& tokens) const;
  std::size_t guess_language(std::string_view text, const Scored& match) const;
};

// Weighs every question's tokens once the entries are read.
void FaqBot::Data::index() {
  std::vector<std::vector<std::string>> documents;
  for (std::size_t e = 0; e < entries.size(); ++e) {
    for (std::size_t l = 0; l < kLanguages.size(); ++l) {
      for (const std::string& text : entries[e].questions[l]) {
        questions.push_back({e, l, {}, 0.0});
        documents.push_back(content_tokens(text));
      }
    }
  }
  std::unordered_map<std::string, int> df;
  for (const auto& tokens : documents) {
    for (const auto& token : std::set<std::string>(tokens.begin(), tokens.end())) ++df[token];
  }
  const double n = static_cast<double>(documents.size());
  for (const auto& [token, count] : df) idf[token] = std::log(1.0 + n / count);
  unknown_idf = std::log(1.0 + n);
  for (std::size_t i = 0; i < questions.size(); ++i) {
    for (const auto& token : documents[i]) questions[i].weights[token] += idf[token];
    double sum = 0.0;
    for (const auto& [token, weight] : questions[i].weights) sum += weight * weight;
    questions[i].norm = std::sqrt(sum);
  }
}

Scored FaqBot::Data::best_match(const std::vector<std::string>& tokens) const {
  std::unordered_map<std::string, double> query;
  for (const auto& token : tokens) {
    const auto it = idf.find(token);
    query[token] += it == idf.end() ? unknown_idf : it->second;
  }
  double sum = 0.0;
  for (const auto& [token, weight] : query) sum += weight * weight;
  const double norm = std::sqrt(sum);
  Scored best;
  if (norm == 0.0) return best;
  for (const Question& question : questions) {
    if (question.norm == 0.0) continue;
    double dot = 0.0;
    for (const auto& [token, weight] : query) {
      if (auto it = question.weights.find(token); it != question.weights.end()) {
        dot += weight * it->second;
      }
    }
    const double score = dot / (norm * question.norm);
    if (score > best.score) best = {score, &question};
  }
  return best;
}

// Counts the stop words of each language in the text (they are what tells languages apart);
// a tie goes to the language of the matched question, else English.
std::size_t FaqBot::Data::guess_language(std::string_view text, const Scored& match) const {
  std::array<int, 2> votes{};
  for (const auto& token : faq_tokens(text)) {
    for (std::size_t l = 0; l < votes.size(); ++l) votes[l] += stop_words[l].contains(token);
  }
  if (votes[0] != votes[1]) return votes[0] > votes[1] ? 0 : 1;
  return match.question != nullptr ? match.question->language : 1;
}

namespace {

using config::Diagnostics;
using config::MapReader;

constexpr char kIntentExpectation[] =
    "an intent of at most 64 lower-case letters, digits, '_' or '.'";

Status check_intent(std::string_view intent) {
  const bool ok = intent.size() <= kMaxIntentLength &&
                  std::all_of(intent.begin(), intent.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '.';
                  });
  return ok ? Status::ok() : config::expected_got(kIntentExpectation,
                                                  config::quote_for_message(intent));
}

// Reads {de: <text>, en: <text>}, both required.
void read_texts(MapReader& parent, std::string_view key, std::array<std::string, 2>& out,
                Diagnostics& diag) {
  std::optional<YAML::Node> node = parent.take_required(key);
  if (!node) return;
  MapReader reader(*node, parent.key_mark(key), parent.path_of(key), diag);
  for (std::size_t l = 0; l < kLanguages.size(); ++l) {
    reader.read_required(kLanguages[l], config::string_binding(out[l], "a text"));
  }
  reader.finish();
}

// Reads {de: [<question>...], en: [...]}: at least one question in all.
void read_questions(MapReader& parent, Entry& entry, Diagnostics& diag) {
  std::optional<YAML::Node> node = parent.take_required("questions");
  if (!node) return;
  MapReader reader(*node, parent.key_mark("questions"), parent.path_of("questions"), diag);
  for (std::size_t l = 0; l < kLanguages.size(); ++l) {
    std::optional<YAML::Node> list = reader.take(kLanguages[l]);
    if (!list) continue;
    auto read = config::read_string_list(*list, reader.path_of(kLanguages[l]), "a question", {},
                                         diag);
    if (read) entry.questions[l] = std::move(*read);
  }
  reader.finish();
  if (entry.questions[0].empty() && entry.questions[1].empty()) {
    diag.add_at(parent.key_mark("questions"), "expected at least one question",
                parent.path_of("questions"));
  }
}

// Actions are passed on to the bot turn as they are: [{name, status?, data?}].
void read_actions(MapReader& parent, Entry& entry, Diagnostics& diag) {
  std::optional<YAML::Node> node = parent.take("actions");
  if (!node) return;
  nlohmann::json actions = nlohmann::json::array();
  config::for_each_item(*node, parent.path_of("actions"), diag,
                        [&](const YAML::Node& item, const std::string& path) {
                          nlohmann::json action = nlohmann::json::object();
                          std::string name;
                          std::string status;
                          MapReader reader(item, item.Mark(), path, diag);
                          reader.read_required("name", config::string_binding(name, "a name"));
                          reader.read("status", config::string_binding(status, "a status"));
                          reader.finish();
                          action["name"] = name;
                          if (!status.empty()) action["status"] = status;
                          actions.push_back(std::move(action));
                        });
  entry.actions = std::move(actions);
}

void read_entries(MapReader& top, FaqBot::Data& data, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take_required("entries");
  if (!node) return;
  std::map<std::string, int> intents;  // intent -> line of first use
  config::for_each_item(
      *node, "entries", diag, [&](const YAML::Node& item, const std::string& path) {
        Entry entry;
        MapReader reader(item, item.Mark(), path, diag);
        const bool named = reader.read_required(
            "intent", config::string_binding(entry.intent, kIntentExpectation, check_intent));
        read_questions(reader, entry, diag);
        read_texts(reader, "answer", entry.answers, diag);
        read_actions(reader, entry, diag);
        if (named) {
          auto [first, is_new] = intents.emplace(entry.intent, reader.key_mark("intent").line + 1);
          if (!is_new) {
            diag.add_at(reader.key_mark("intent"),
                        "duplicate intent, first used at line " + std::to_string(first->second),
                        reader.path_of("intent"));
          }
        }
        reader.finish();
        data.entries.push_back(std::move(entry));
      });
}

void read_stop_words(MapReader& top, FaqBot::Data& data, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take("stop_words");
  if (!node) return;
  MapReader reader(*node, top.key_mark("stop_words"), "stop_words", diag);
  for (std::size_t l = 0; l < kLanguages.size(); ++l) {
    std::optional<YAML::Node> list = reader.take(kLanguages[l]);
    if (!list) continue;
    auto words = config::read_string_list(*list, reader.path_of(kLanguages[l]), "a word", {}, diag);
    if (!words) continue;
    for (const auto& word : *words) {
      for (auto& token : faq_tokens(word)) data.stop_words[l].insert(std::move(token));
    }
  }
  reader.finish();
}

void read_faq(const YAML::Node& root, FaqBot::Data& data, Diagnostics& diag) {
  MapReader top(root, root.Mark(), "", diag);
  int version = 0;
  top.read_required("version", config::integer_binding(version, 1, 1));
  int threshold_percent = 40;
  top.read("threshold_percent", config::integer_binding(threshold_percent, 1, 100));
  data.threshold = threshold_percent / 100.0;
  read_texts(top, "fallback", data.fallback, diag);
  read_stop_words(top, data, diag);
  read_entries(top, data, diag);
  top.finish();
}

}  // namespace

Result<std::unique_ptr<FaqBot>> FaqBot::load(const std::string& path) {
  Diagnostics diag(path);
  auto data = std::make_unique<Data>();
  if (std::optional<YAML::Node> root = config::load_yaml_file(path, diag)) {
    try {
      read_faq(*root, *data, diag);
    } catch (const YAML::Exception& e) {
      diag.add_at(e.mark, "cannot read the YAML: " + e.msg, "");
    }
  }
  if (!diag.empty()) return diag.to_status();
  data->index();
  return std::unique_ptr<FaqBot>(new FaqBot(std::move(data)));
}

FaqBot::FaqBot(std::unique_ptr<Data> data) : data_(std::move(data)) {}

FaqBot::~FaqBot() = default;

BotReply FaqBot::answer(std::string_view text, std::string_view language) const {
  const Scored match = data_->best_match(data_->content_tokens(text));
  // "de-AT" answers in German: only the primary subtag counts.
  const std::string_view primary = language.substr(0, language.find('-'));
  const bool known = primary == "de" || primary == "en";
  const std::size_t l = known ? language_index(primary) : data_->guess_language(text, match);
  BotReply reply;
  reply.confidence = std::round(match.score * 1000.0) / 1000.0;
  if (match.question == nullptr || match.score < data_->threshold) {
    reply.text = data_->fallback[l];
    reply.fallback = true;
    return reply;
  }
  const Entry& entry = data_->entries[match.question->entry];
  reply.text = entry.answers[l];
  reply.intent = entry.intent;
  reply.actions = entry.actions;
  return reply;
}

void FaqBot::ask(BotQuestion question, BotCallback done) {
  std::vector<BotReply> replies{answer(question.text, question.language)};
  if (question.suggest_handover) replies.push_back(handover_offer(question.language));
  done(std::move(replies));
}

BotReply FaqBot::handover_offer(std::string_view language) {
  // Worded with the [handover_offer] cues, so that a "yes" to it escalates.
  BotReply offer;
  offer.intent = "offer_handover";
  offer.confidence = 1.0;
  offer.text = language.substr(0, language.find('-')) == "de"
                   ? "Soll ich Sie mit einem Mitarbeiter verbinden? Antworten Sie einfach mit Ja."
                   : "Would you like me to connect you with one of our agents? Just say yes.";
  return offer;
}

std::size_t FaqBot::entry_count() const { return data_->entries.size(); }

double FaqBot::threshold() const { return data_->threshold; }

}  // namespace handover::connector
