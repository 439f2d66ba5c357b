// The extractive summary: sentences of the user's own turns scored by content words and the
// trigger engine's evidence, the bot's intents and actions, and unanswered questions.
#include "summary.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>

#include "sentences.hpp"

namespace handover::snapshot {
namespace {

using nlohmann::json;

constexpr std::size_t kConcernBytes = 280;    // one sentence of the main concern, at most
constexpr std::size_t kQuestionBytes = 200;   // one open question, at most
constexpr std::size_t kMaxConcerns = 3;       // the opening sentence and the two best others
constexpr std::size_t kMaxOpenQuestions = 3;  // the most recent ones
constexpr std::size_t kMaxListed = 10;        // intents and actions named in bot_tried
constexpr std::size_t kMaxContentWords = 10;  // longer sentences score no higher for length
constexpr int kMinConcernScore = 4;
constexpr int kEvidenceBonus = 3;  // a risk, topic or value cue of the engine
constexpr int kNegativeBonus = 2;  // a negative sentiment word
constexpr int kMaxEvidenceBonus = 9;
constexpr double kUpsetScore = -0.3;     // a turn this negative says something went wrong
constexpr double kDuplicateShare = 0.5;  // content-word overlap that makes two sentences one

struct Labels {
  const char* concern;
  const char* tried;
  const char* questions;
  const char* nothing;
  const char* none;
  const char* intents;
  const char* actions;
  const char* fallbacks;
  const char* unsure;
};

constexpr Labels kEnglish = {"Main concern",     "The bot tried", "Open questions",
                             "nothing recorded", "none",          "intents",
                             "actions",          "fallbacks",     "unsure answers"};
constexpr Labels kGerman = {"Anliegen",
                            "Der Bot hat versucht",
                            "Offene Fragen",
                            "nichts erfasst",
                            "keine",
                            "Intents",
                            "Aktionen",
                            "Fallbacks",
                            "unsichere Antworten"};

// One sentence of a user turn, scored.
struct Candidate {
  std::int64_t seq = 0;
  std::size_t order = 0;  // position among all user sentences
  std::string_view text;
  std::set<std::string> words;  // folded content words
  int score = 0;
  bool substantive = false;  // more than a greeting or a courtesy
};

bool all_digits(const std::string& word) {
  return std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::size_t digit_count(const std::string& word) {
  return static_cast<std::size_t>(
      std::count_if(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; }));
}

// Points for the engine's evidence found in the sentence: risk, topic and value cues say
// what the matter is; negative words say what went wrong.
int evidence_score(const json& evaluation, const std::string& folded_sentence) {
  const auto list = evaluation.find("evidence");
  if (list == evaluation.end() || !list->is_array()) return 0;
  int score = 0;
  for (const auto& item : *list) {
    if (!item.is_object()) continue;
    const std::string family = string_member(item, "family");
    const std::string cue = string_member(item, "cue");
    const std::string text = folded_text(string_member(item, "text"));
    if (text.empty() || folded_sentence.find(text) == std::string::npos) continue;
    if (family == "risk" || family == "complexity" || family == "value") score += kEvidenceBonus;
    if (family == "sentiment" && cue == "negative") score += kNegativeBonus;
  }
  return std::min(score, kMaxEvidenceBonus);
}

bool upset(const json& evaluation) {
  const json* sentiment = find_path(evaluation, {"signals", "sentiment"});
  if (sentiment == nullptr) return false;
  const auto score = sentiment->find("score");
  return score != sentiment->end() && score->is_number() && score->get<double>() <= kUpsetScore;
}

Candidate score_sentence(const TurnFacts& facts, std::string_view sentence, std::size_t order) {
  Candidate c;
  c.seq = facts.turn->seq;
  c.order = order;
  c.text = sentence;
  const auto words = folded_words(sentence);
  bool identifier = false;  // an order or ticket number
  for (const auto& word : words) {
    identifier = identifier || digit_count(word) >= 3;
    if (word.size() >= 3 && !all_digits(word) && !is_stop_word(word)) c.words.insert(word);
  }
  c.substantive = words.size() >= 3 && !c.words.empty();
  if (!c.substantive) return c;
  c.score = static_cast<int>(std::min(c.words.size(), kMaxContentWords)) + (identifier ? 2 : 0) +
            (is_question(sentence) ? 1 : 0) + (upset(facts.evaluation) ? 1 : 0) +
            evidence_score(facts.evaluation, folded_text(sentence));
  return c;
}

std::vector<Candidate> user_sentences(const std::vector<TurnFacts>& turns) {
  std::vector<Candidate> out;
  for (const auto& facts : turns) {
    if (facts.turn->role != "user") continue;
    for (std::string_view sentence : split_sentences(facts.turn->text)) {
      out.push_back(score_sentence(facts, sentence, out.size()));
    }
  }
  return out;
}

bool near_duplicate(const Candidate& a, const Candidate& b) {
  std::size_t shared = 0;
  for (const auto& word : a.words) shared += b.words.count(word);
  const std::size_t all = a.words.size() + b.words.size() - shared;
  return all > 0 && static_cast<double>(shared) / static_cast<double>(all) >= kDuplicateShare;
}

// The first substantive user sentence, then the best-scoring others that say something new.
std::vector<const Candidate*> pick_concern(const std::vector<Candidate>& all) {
  auto opening = std::find_if(all.begin(), all.end(), [](const auto& c) { return c.substantive; });
  if (opening == all.end()) return {};
  std::vector<const Candidate*> ranked;
  for (const auto& c : all) ranked.push_back(&c);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Candidate* a, const Candidate* b) { return a->score > b->score; });

  std::vector<const Candidate*> picked = {&*opening};
  for (const Candidate* c : ranked) {
    if (picked.size() >= kMaxConcerns || c->score < kMinConcernScore) break;
    const bool repeats = std::any_of(picked.begin(), picked.end(),
                                     [&](const Candidate* p) { return near_duplicate(*p, *c); });
    if (!repeats) picked.push_back(c);
  }
  std::sort(picked.begin(), picked.end(),
            [](const Candidate* a, const Candidate* b) { return a->order < b->order; });
  return picked;
}

json excerpt(std::int64_t seq, std::string_view text, std::size_t max_bytes) {
  return {{"seq", seq}, {"text", clip(text, max_bytes)}};
}

json main_concern(const std::vector<TurnFacts>& turns) {
  const std::vector<Candidate> all = user_sentences(turns);
  json out = json::array();
  for (const Candidate* c : pick_concern(all))
    out.push_back(excerpt(c->seq, c->text, kConcernBytes));
  return out;
}

// The item named `name` in `list` (added in order of first appearance), or nullptr once
// kMaxListed names are there.
json* item_named(json& list, const char* key, const std::string& name) {
  for (auto& item : list) {
    if (item[key] == name) return &item;
  }
  if (list.size() >= kMaxListed) return nullptr;
  list.push_back({{key, name}});
  return &list.back();
}

json bot_tried(const std::vector<TurnFacts>& turns) {
  json intents = json::array();
  json actions = json::array();
  int fallbacks = 0;
  int unsure = 0;
  for (const auto& facts : turns) {
    if (facts.turn->role != "bot") continue;
    unsure += facts.unsure ? 1 : 0;
    if (facts.bot.is_object() && facts.bot.value("fallback", false)) ++fallbacks;
    if (const std::string intent = string_member(facts.bot, "intent"); !intent.empty()) {
      if (json* item = item_named(intents, "intent", intent)) {
        (*item)["turns"] = item->value("turns", 0) + 1;
      }
    }
    if (!facts.actions.is_array()) continue;
    for (const auto& action : facts.actions) {
      const std::string name = string_member(action, "name");
      if (name.empty()) continue;
      json* item = item_named(actions, "name", name);
      if (item == nullptr) continue;
      (*item)["count"] = item->value("count", 0) + 1;
      const std::string status = string_member(action, "status");
      (*item)["status"] = status.empty() ? json(nullptr) : json(status);  // the latest one
    }
  }
  return {{"intents", std::move(intents)},
          {"actions", std::move(actions)},
          {"fallbacks", fallbacks},
          {"unsure_answers", unsure}};
}

// True when a person or a sure bot turn came after turns[i] before the user spoke again.
bool answered(const std::vector<TurnFacts>& turns, std::size_t i) {
  for (std::size_t j = i + 1; j < turns.size(); ++j) {
    const std::string& role = turns[j].turn->role;
    if (role == "user") return false;
    if (role == "agent") return true;
    const bool proposes_handover = turns[j].bot.is_object() && turns[j].bot.contains("handover");
    if (role == "bot" && !turns[j].unsure && !proposes_handover) return true;
  }
  return false;
}

json open_questions(const std::vector<TurnFacts>& turns) {
  std::vector<std::pair<std::int64_t, std::string_view>> open;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].turn->role != "user" || !turns[i].contiguous || answered(turns, i)) continue;
    for (std::string_view sentence : split_sentences(turns[i].turn->text)) {
      if (is_question(sentence) && seen.insert(folded_text(sentence)).second) {
        open.emplace_back(turns[i].turn->seq, sentence);
      }
    }
  }
  const std::size_t skip = open.size() > kMaxOpenQuestions ? open.size() - kMaxOpenQuestions : 0;
  json out = json::array();
  for (std::size_t i = skip; i < open.size(); ++i) {
    out.push_back(excerpt(open[i].first, open[i].second, kQuestionBytes));
  }
  return out;
}

std::string joined_texts(const json& items, const Labels& labels) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += " | ";
    out += item["text"].get<std::string>();
  }
  return out.empty() ? labels.none : out;
}

// "name (3)" or "name (failed)" items joined by ", ".
std::string listed(const json& items, const char* key, const char* detail) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item[key].get<std::string>();
    const json& d = item[detail];
    if (d.is_string()) out += " (" + d.get<std::string>() + ")";
    if (d.is_number_integer() && d.get<int>() > 1) out += " (" + std::to_string(d.get<int>()) + ")";
  }
  return out;
}

std::string tried_text(const json& tried, const Labels& labels) {
  std::vector<std::string> parts;
  if (!tried["intents"].empty()) {
    parts.push_back(std::string(labels.intents) + " " +
                    listed(tried["intents"], "intent", "turns"));
  }
  if (!tried["actions"].empty()) {
    parts.push_back(std::string(labels.actions) + " " + listed(tried["actions"], "name", "status"));
  }
  if (int n = tried["fallbacks"].get<int>(); n > 0) {
    parts.push_back(std::to_string(n) + " " + labels.fallbacks);
  }
  if (int n = tried["unsure_answers"].get<int>(); n > 0) {
    parts.push_back(std::to_string(n) + " " + labels.unsure);
  }
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out.empty() ? labels.nothing : out;
}

}  // namespace

std::string summary_language(const std::string& conversation_language) {
  const std::string primary = conversation_language.substr(0, conversation_language.find('-'));
  return primary == "de" || primary == "DE" ? "de" : "en";
}

json build_summary(const std::vector<TurnFacts>& turns, const std::string& language) {
  const Labels& labels = language == "de" ? kGerman : kEnglish;
  json concern = main_concern(turns);
  json tried = bot_tried(turns);
  json questions = open_questions(turns);
  std::string text = std::string(labels.concern) + ": " + joined_texts(concern, labels) + "\n" +
                     labels.tried + ": " + tried_text(tried, labels) + "\n" + labels.questions +
                     ": " + joined_texts(questions, labels);
  return {{"language", language},
          {"main_concern", std::move(concern)},
          {"bot_tried", std::move(tried)},
          {"open_questions", std::move(questions)},
          {"text", std::move(text)}};
}

}  // namespace handover::snapshot
