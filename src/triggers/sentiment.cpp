// Sentiment scoring over folded tokens.
#include "sentiment.hpp"

#include <algorithm>
#include <cmath>

namespace handover::triggers {
namespace {

constexpr double kCapsIncrement = 0.733;
constexpr double kBoost = 0.293;
constexpr double kNegation = -0.74;
constexpr double kBeforeContrast = 0.5;
constexpr double kAfterContrast = 1.5;
constexpr double kExclamation = 0.292;
constexpr int kMaxExclamations = 4;
constexpr double kQuestion = 0.18;
constexpr int kMaxQuestions = 3;
// More than kMaxQuestions question marks add this, a little more than three of them.
constexpr double kManyQuestions = 0.96;
constexpr double kAlpha = 15.0;
constexpr std::size_t kWindow = 3;
constexpr double kDistanceScale[kWindow] = {1.0, 0.95, 0.9};

double sign(double v) { return v < 0 ? -1.0 : 1.0; }

// Emphasis of "!" (each up to kMaxExclamations) and of two or more "?" in the turn.
double punctuation_emphasis(const NormalizedText& text) {
  const double exclamations = std::min(text.exclamations, kMaxExclamations) * kExclamation;
  if (text.question_marks < 2) return exclamations;
  const double questions =
      text.question_marks > kMaxQuestions ? kManyQuestions : text.question_marks * kQuestion;
  return exclamations + questions;
}

// Keeps the kStrongestWords entries of largest magnitude, strongest first.
void keep_strongest(const SentimentWord& word, std::vector<SentimentWord>& strongest) {
  const auto weaker = [&word](const SentimentWord& kept) {
    return std::abs(kept.valence) < std::abs(word.valence);
  };
  const auto at = std::find_if(strongest.begin(), strongest.end(), weaker);
  if (at == strongest.end() && strongest.size() >= kStrongestWords) return;
  strongest.insert(at, word);
  if (strongest.size() > kStrongestWords) strongest.pop_back();
}

}  // namespace

CategoryMasks CategoryMasks::resolve(const Lexicon& lexicon) {
  // Each name here must be in kCueCategories, or no cue list can fill it.
  const auto bit = [&lexicon](const char* name) {
    const int id = lexicon.category(name);
    return id < 0 ? std::uint64_t{0} : std::uint64_t{1} << id;
  };
  CategoryMasks m;
  m.negation = bit("negation");
  m.negation_after = bit("negation_after");
  m.negation_next = bit("negation_next");
  m.negation_scope = bit("negation_scope");
  m.booster = bit("booster");
  m.dampener = bit("dampener");
  m.contrast = bit("contrast");
  m.stopword = bit("stopword");
  m.common = bit("common");
  m.laughter = bit("laughter");
  m.insult = bit("insult");
  m.anger = bit("anger");
  m.expletive = bit("expletive");
  m.article = bit("article");
  m.address = bit("address");
  m.legal = bit("legal");
  m.public_complaint = bit("public_complaint");
  m.churn = bit("churn");
  m.human = bit("human");
  m.machine = bit("machine");
  m.request_verb = bit("request_verb");
  m.request_phrase = bit("request_phrase");
  m.request_negation = bit("request_negation");
  m.request_blocker = bit("request_blocker");
  m.conjunction = bit("conjunction");
  m.affirm = bit("affirm");
  m.decline = bit("decline");
  m.defer = bit("defer");
  m.handover_offer = bit("handover_offer");
  m.hedge = bit("hedge");
  m.purchase = bit("purchase");
  m.upgrade = bit("upgrade");
  m.cancel = bit("cancel");
  m.vague = bit("vague");
  m.progress = bit("progress");
  m.no_progress = bit("no_progress");
  for (std::size_t i = 0; i < lexicon.category_count(); ++i) {
    if (lexicon.category_name(static_cast<int>(i)).rfind("topic.", 0) == 0)
      m.topics |= std::uint64_t{1} << i;
  }
  return m;
}

// End of a multi-word booster or dampener starting at `index` ("kind of"), or `index`.
std::size_t SentimentScorer::modifier_phrase_end(const NormalizedText& text, std::size_t index,
                                                 std::size_t language) const {
  std::size_t end = index;
  const std::uint32_t node =
      lexicon_.longest_phrase(text, index, language, masks_.booster | masks_.dampener, end);
  return node != 0 ? end : index;
}

// Whether a sentiment word follows within the window, in the same clause: "freaking gob, okay"
// does not boost "okay".
bool SentimentScorer::modifies_next(const NormalizedText& text, std::size_t index,
                                    std::size_t language, std::size_t window) const {
  const auto& tokens = text.tokens;
  for (std::size_t j = index + 1; j < tokens.size() && j <= index + window; ++j) {
    if (tokens[j].clause != tokens[index].clause) return false;
    if (tokens[j].kind != TokenKind::kPunct &&
        lexicon_.resolve(tokens[j].word, language).has_valence)
      return true;
  }
  return false;
}

// A modifier ("very", "furchtbar", "no") with a sentiment word after it modifies that word;
// standing alone it keeps its own valence ("das war furchtbar").
bool SentimentScorer::is_modifier(const WordInfo& word, const NormalizedText& text,
                                  std::size_t index, std::size_t language) const {
  const std::uint64_t modifiers = masks_.booster | masks_.dampener | masks_.negation;
  if ((word.categories & modifiers) != 0) return modifies_next(text, index, language, kWindow);
  // "no" reaches only the word right after it: "no problem", but "No, this is terrible".
  return (word.categories & masks_.negation_next) != 0 && modifies_next(text, index, language, 1);
}

// Boosters, dampeners and negations among the few words before `index` in its clause: neither
// reaches past a comma ("I don't think so, sadly" stays sad).
double SentimentScorer::modify(const NormalizedText& text, std::size_t index, std::size_t language,
                               double v, bool mixed_caps) const {
  const auto& tokens = text.tokens;
  std::size_t distance = 0;
  bool negated = false;
  for (std::size_t j = index; j-- > 0 && distance < kWindow;) {
    if (tokens[j].clause != tokens[index].clause) break;
    // Punctuation and one-letter words ("a", "I") do not count towards the window.
    if (tokens[j].kind == TokenKind::kPunct || tokens[j].end - tokens[j].begin == 1) continue;
    const WordInfo& word = lexicon_.resolve(tokens[j].word, language);
    if ((word.categories & (masks_.booster | masks_.dampener)) != 0) {
      double s = word.weight != 0.0F ? word.weight : kBoost;
      if ((word.categories & masks_.dampener) != 0) s = -std::abs(s);
      if (tokens[j].caps && mixed_caps) s += sign(s) * kCapsIncrement;
      v += sign(v) * s * kDistanceScale[distance];
    }
    if ((word.categories & masks_.negation) != 0) negated = true;
    if (distance == 0 && (word.categories & masks_.negation_next) != 0) negated = true;
    ++distance;
  }
  // Emoticons, emoji and laughter keep their meaning ("nope :-)" is friendly, "not the latter
  // lol" still laughs), and a negator after a negator repeats it ("no no no") rather than
  // cancelling it.
  const bool word =
      tokens[index].kind == TokenKind::kWord || tokens[index].kind == TokenKind::kNumber;
  const std::uint64_t categories = lexicon_.resolve(tokens[index].word, language).categories;
  const bool kept = (categories & (masks_.negation | masks_.negation_next | masks_.laughter)) != 0;
  return negated && word && !kept ? v * kNegation : v;
}

// Negators that follow their word ("das hilft nicht"), within the clause, unless another
// sentiment word comes first, which the negator then belongs to.
double SentimentScorer::negate_after(const NormalizedText& text, std::size_t index,
                                     std::size_t language, double v) const {
  if (masks_.negation_after == 0) return v;
  const auto& tokens = text.tokens;
  const std::size_t last = std::min(tokens.size(), index + 1 + kWindow + 1);
  for (std::size_t j = index + 1; j < last; ++j) {
    if (tokens[j].clause != tokens[index].clause || tokens[j].kind == TokenKind::kPunct) break;
    const WordInfo& word = lexicon_.resolve(tokens[j].word, language);
    if ((word.categories & masks_.negation_after) != 0) {
      const bool next_is_sentiment = j + 1 < tokens.size() &&
                                     tokens[j + 1].clause == tokens[j].clause &&
                                     lexicon_.resolve(tokens[j + 1].word, language).has_valence;
      return next_is_sentiment ? v : v * kNegation;
    }
    if (word.has_valence) break;
  }
  return v;
}

double SentimentScorer::score(const NormalizedText& text, std::size_t language, bool cross_language,
                              std::vector<SentimentWord>* strongest) const {
  const auto& tokens = text.tokens;
  const bool mixed_caps = text.caps_words > 0 && text.caps_words < text.words;
  std::size_t contrast = tokens.size();
  for (std::size_t i = 0; i < tokens.size() && contrast == tokens.size(); ++i) {
    if ((lexicon_.resolve(tokens[i].word, language).categories & masks_.contrast) != 0)
      contrast = i;
  }

  double sum = 0.0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].word == kUnknownWord && tokens[i].affix == kUnknownWord) continue;
    std::size_t end = i + 1;
    if (const std::size_t skip = modifier_phrase_end(text, i, language); skip > i) {
      i = skip - 1;  // "kind of": a dampener phrase, not the word "kind"
      continue;
    }
    const std::uint32_t phrase = lexicon_.longest_valence_phrase(text, i, language, end);
    // Emoticons and emoji mean the same in every language. Words are read in other languages
    // when the turn mixes languages, or when the other language lists them as ordinary words
    // (in a cue list), since many German words spell some rare English one.
    const bool any_language = cross_language || tokens[i].kind == TokenKind::kEmoticon ||
                              tokens[i].kind == TokenKind::kEmoji;
    const auto lookup = [&](std::uint32_t node) -> const WordInfo& {
      return any_language ? lexicon_.resolve(node, language)
                          : lexicon_.resolve_common(node, language);
    };
    const WordInfo* word = &lookup(phrase != 0 ? phrase : tokens[i].word);
    if (!word->has_valence && tokens[i].affix != kUnknownWord) word = &lookup(tokens[i].affix);
    if (!word->has_valence || (phrase == 0 && is_modifier(*word, text, i, language))) continue;
    double v = word->valence;
    if (tokens[i].caps && mixed_caps) v += sign(v) * kCapsIncrement;
    v = modify(text, i, language, v, mixed_caps);
    v = negate_after(text, end - 1, language, v);
    if (contrast < tokens.size())
      v *= i < contrast ? kBeforeContrast : i > contrast ? kAfterContrast : 1.0;
    sum += v;
    if (strongest != nullptr)
      keep_strongest({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(end), v},
                     *strongest);
    i = end - 1;
  }

  if (sum != 0.0) sum += sign(sum) * punctuation_emphasis(text);
  return std::clamp(sum / std::sqrt(sum * sum + kAlpha), -1.0, 1.0);
}

}  // namespace handover::triggers
