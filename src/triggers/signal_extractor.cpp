// The signal families, computed from one turn's tokens and the conversation state.
#include "signal_extractor.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

namespace handover::triggers {
namespace {

// A float of the conversation state as the double of the decimal it was made from: the state
// keeps floats to stay small, and a bot's confidence of 0.9 is 0.899999976 as a float, which
// rules would compare and answers show. Confidences carry at most 6 decimals (`scale` 1e6),
// amounts of money 2 (`scale` 100).
double decimal_of(float value, double scale) {
  return std::round(static_cast<double>(value) * scale) / scale;
}

constexpr std::size_t kNegationWindow = 3;
constexpr std::size_t kScopeWindow = 5;  // [negation_scope] words a negation reaches across
constexpr double kHedgeUncertainty = 0.6;
constexpr int kVagueMaxWords = 8;          // longer turns describe their problem, however vaguely
constexpr std::size_t kAddressWindow = 4;  // words after "you are" that can insult
constexpr float kInsultValence = -1.5F;    // valence at which such a word insults
constexpr int kMinRepeatTokens = 3;        // distinct tokens a message needs to count as a repeat

double clamp01(double v) { return std::clamp(v, 0.0, 1.0); }

bool is_user(std::string_view role) { return role == "user"; }
bool is_bot(std::string_view role) { return role == "bot"; }

std::uint16_t saturating_add(std::uint16_t a, unsigned b) {
  return static_cast<std::uint16_t>(std::min<unsigned>(0xFFFF, a + b));
}

using TokenSet = std::array<std::uint64_t, 2>;

TokenSet token_set(const NormalizedText& text) {
  TokenSet set{};
  for (const Token& token : text.tokens) {
    if (token.kind == TokenKind::kPunct || token.kind == TokenKind::kReference) continue;
    const std::uint64_t bit = fnv1a(text.text(token)) & 127U;
    set[bit >> 6] |= std::uint64_t{1} << (bit & 63U);
  }
  return set;
}

double jaccard(const TokenSet& a, const TokenSet& b) {
  const int both = std::popcount(a[0] & b[0]) + std::popcount(a[1] & b[1]);
  const int any = std::popcount(a[0] | b[0]) + std::popcount(a[1] | b[1]);
  return any == 0 ? 0.0 : static_cast<double>(both) / any;
}

std::uint32_t hash32(std::string_view s) {
  const std::uint64_t h = fnv1a(s);
  return static_cast<std::uint32_t>(h ^ (h >> 32)) | 1U;  // never 0: 0 marks an empty slot
}

// A string that is a plain number ("600", "599.90"), as some shop systems write amounts, or
// nullopt. Anything more ("600 EUR", "1.234,50") is no amount we can read safely.
std::optional<double> numeric_string(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end) return std::nullopt;
  return value;
}

// The number at `path` inside `metadata` (a JSON number or a numeric string), or a negative
// value when there is none.
double metadata_number(const nlohmann::json& metadata, const std::vector<std::string>& path) {
  const nlohmann::json* node = &metadata;
  for (const std::string& key : path) {
    if (!node->is_object()) return -1.0;
    const auto it = node->find(key);
    if (it == node->end()) return -1.0;
    node = &*it;
  }
  if (node->is_number()) return node->get<double>();
  if (!node->is_string()) return -1.0;
  return numeric_string(node->get_ref<const std::string&>()).value_or(-1.0);
}

}  // namespace

struct SignalExtractor::TurnCues {
  std::uint64_t hit = 0;             // categories matched and not negated
  std::uint64_t human_segments = 0;  // bit per segment: a clause part between conjunctions
  std::uint64_t verb_segments = 0;
  unsigned segment = 0;
  unsigned sentence = 0;
  int request_match = -1;         // index of the first match that makes a request
  bool answer_affirm = false;     // the turn opens with "yes"
  bool answer_decline = false;    // the turn opens with "no thanks"
  bool answer_defer = false;      // the turn puts an answer off: "yes, but not now"
  std::size_t first_content = 0;  // index of the first non-punctuation token
};

void SignalExtractor::extract(const ConversationInfo& info, ConversationState& state,
                              const TurnInput& turn, Scratch& scratch, Signals& out) const {
  out = Signals{};
  out.role = turn.role;
  const bool user = is_user(turn.role);
  const bool bot = is_bot(turn.role);
  ++state.turns_total;
  if (user) ++state.turns_user;
  if (bot) ++state.turns_bot;

  scratch.text.clear();
  scratch.matches.clear();
  if (user || bot) {
    lexicon_.normalizer().normalize(turn.text, scratch.text);
    lexicon_.assign_ids(scratch.text);
    lexicon_.match_phrases(scratch.text, scratch.matches);
  }
  bool mixed = true;
  const std::size_t language = pick_language(info, state, scratch, user, mixed, out);
  const TurnCues cues = collect_cues(scratch, out);

  if (user) {
    user_sentiment(state, scratch, language, mixed, out);
    user_anger(state, scratch, language, cues, out);
    user_request(state, scratch, cues, out);
    user_complexity(state, scratch, cues, out);
    user_value(cues, out);
    user_ambiguity(scratch, cues, out);
  } else if (bot) {
    bot_turn(state, turn, cues, out);
  }
  // The bot's own order lookup is as good a source as the user's turn: both come from the
  // bot's key, and the largest value stays for the rest of the conversation.
  if (user || bot) note_order_value(state, turn);
  // The connector reports an unreachable bot in a system turn, so this is read for any role.
  out.uncertainty.bot_unreachable = turn.bot_unreachable;
  fill_from_state(info, state, out);
}

// Votes of this turn's function words per language, and how many words no lexicon knows.
SignalExtractor::LanguageVotes SignalExtractor::count_votes(const Scratch& scratch) const {
  LanguageVotes result;
  for (const Token& token : scratch.text.tokens) {
    if (token.kind != TokenKind::kWord) continue;
    if (!lexicon_.known_anywhere(token.word)) ++result.unknown;
    for (std::size_t l = 0; l < lexicon_.language_count(); ++l) {
      if ((lexicon_.info(token.word, l).categories & masks_.stopword) != 0) ++result.votes[l];
    }
  }
  return result;
}

std::size_t SignalExtractor::pick_language(const ConversationInfo& info, ConversationState& state,
                                           const Scratch& scratch, bool user, bool& mixed,
                                           Signals& out) const {
  const std::size_t count = lexicon_.language_count();
  const LanguageVotes turn = count_votes(scratch);
  const auto first = turn.votes.begin();
  const auto last = first + static_cast<std::ptrdiff_t>(count);
  const auto turn_best = static_cast<std::size_t>(std::max_element(first, last) - first);
  // A turn is in one language when only that language's function words occur, at least two.
  mixed =
      turn.votes[turn_best] < 2 || std::count_if(first, last, [](unsigned v) { return v > 0; }) > 1;
  if (!info.language.empty()) {
    const int index = lexicon_.language_index(info.language);
    out.language = index >= 0 ? std::string_view(lexicon_.language(static_cast<std::size_t>(index)))
                              : info.language;
    out.language_supported = index >= 0;
    // With the conversation's language given, only a turn clearly in another language mixes.
    mixed =
        index >= 0 && static_cast<std::size_t>(index) != turn_best && turn.votes[turn_best] >= 2;
    return index >= 0 ? static_cast<std::size_t>(index) : 0;
  }
  if (user) {
    for (std::size_t l = 0; l < count; ++l)
      state.language_votes[l] = saturating_add(state.language_votes[l], turn.votes[l]);
  }
  const auto conv_first = state.language_votes.begin();
  const auto conv_best = static_cast<std::size_t>(
      std::max_element(conv_first, conv_first + static_cast<std::ptrdiff_t>(count)) - conv_first);
  const std::size_t best = turn.votes[turn_best] >= 2 ? turn_best : conv_best;
  // Few function words of any language and many unknown words: not a language we read.
  const int words = scratch.text.words;
  const bool foreign = user && words >= 3 && static_cast<int>(turn.votes[turn_best]) * 4 < words &&
                       turn.unknown * 2 >= words;
  out.language = foreign ? std::string_view() : std::string_view(lexicon_.language(best));
  out.language_supported = !foreign;
  return best;
}

// A request is negated by a negator in its clause that stands right before the person
// ("keinen Mitarbeiter") or right before a request verb ("don't need an agent"), but not by
// one that negates something else ("I don't know how to reach an agent").
bool SignalExtractor::request_negated(const Scratch& scratch, std::size_t index) const {
  const auto& tokens = scratch.text.tokens;
  const auto& matches = scratch.matches;
  const PhraseMatch& match = matches[index];
  for (std::size_t j = index; j-- > 0;) {
    const PhraseMatch& negator = matches[j];
    if (tokens[negator.begin].clause != tokens[match.begin].clause) break;
    if (negator.end > match.begin || (negator.categories & masks_.request_negation) == 0) continue;
    if (match.begin - negator.end < kNegationWindow) return true;
    for (std::size_t k = j + 1; k < index; ++k) {
      if (matches[k].begin > negator.end + 1) break;
      if (matches[k].begin >= negator.end && (matches[k].categories & masks_.request_verb) != 0)
        return true;
    }
  }
  return false;
}

// True when a [request_negation] in its clause refuses the bot of match `index`, with only
// a short verb phrase between: "I don't want to talk to a bot", "nicht mehr mit dem Bot".
bool SignalExtractor::machine_refused(const Scratch& scratch, std::size_t index) const {
  const auto& tokens = scratch.text.tokens;
  const PhraseMatch& match = scratch.matches[index];
  const std::uint64_t between = masks_.negation_scope | masks_.article | masks_.request_verb;
  for (std::size_t j = index; j-- > 0;) {
    const PhraseMatch& negator = scratch.matches[j];
    if (tokens[negator.begin].clause != tokens[match.begin].clause) break;
    if (negator.end > match.begin || (negator.categories & masks_.request_negation) == 0) continue;
    if (match.begin - negator.end > kScopeWindow) return false;
    for (std::size_t t = negator.end; t < match.begin; ++t) {
      if (!listed(tokens[t], between)) return false;
    }
    return true;
  }
  return false;
}

// True when `token` is listed in one of `categories` by any language: "an" is an English
// article, and German too, but not as an article.
bool SignalExtractor::listed(const Token& token, std::uint64_t categories) const {
  if (token.kind != TokenKind::kWord) return false;
  for (std::size_t l = 0; l < lexicon_.language_count(); ++l) {
    if ((lexicon_.info(token.word, l).categories & categories) != 0) return true;
  }
  return false;
}

// True when tokens [begin, end) are all words of a short verb phrase ("going to contact
// my", "meinen"), which a negation before them reaches across.
bool SignalExtractor::scope_only(const Scratch& scratch, std::size_t begin, std::size_t end) const {
  if (end - begin > kScopeWindow) return false;
  for (std::size_t t = begin; t < end; ++t) {
    if (!listed(scratch.text.tokens[t], masks_.negation_scope | masks_.article)) return false;
  }
  return true;
}

// True when a negator entry (one word or a phrase like "no need") ends before match `index`
// in its clause: anywhere before it with `whole_clause`, else within a few words or across
// a short verb phrase ("not going to contact my lawyer"). A negation of another verb
// leaves the cue standing ("won't hesitate to contact my lawyer").
bool SignalExtractor::negated(const Scratch& scratch, std::size_t index, std::uint64_t negators,
                              bool whole_clause) const {
  const auto& tokens = scratch.text.tokens;
  const PhraseMatch& match = scratch.matches[index];
  const std::uint16_t clause = tokens[match.begin].clause;
  for (std::size_t j = index; j-- > 0;) {
    const PhraseMatch& before = scratch.matches[j];
    if (tokens[before.begin].clause != clause) break;
    if (before.end > match.begin || (before.categories & negators) == 0) continue;
    if (whole_clause || match.begin - before.end < kNegationWindow) return true;
    if (scope_only(scratch, before.end, match.begin)) return true;
  }
  return negated_after(scratch, index);
}

// German puts the negation after the object: "ich werde meinen Anwalt nicht einschalten".
// A [negation_after] word right after the cue (or after verb phrase words) negates it when
// only verb phrase words follow it to the end of the clause; "... Anwalt, wenn ihr nicht
// zahlt" and "zum Anwalt wenn ihr nicht zahlt" keep the cue.
bool SignalExtractor::negated_after(const Scratch& scratch, std::size_t index) const {
  if (masks_.negation_after == 0) return false;
  const auto& tokens = scratch.text.tokens;
  const PhraseMatch& match = scratch.matches[index];
  const std::uint16_t clause = tokens[match.begin].clause;
  const std::uint64_t scope = masks_.negation_scope | masks_.article;
  const auto in_clause = [&](std::size_t t) {
    return t < tokens.size() && tokens[t].clause == clause;
  };
  std::size_t t = match.end;
  for (; in_clause(t) && !listed(tokens[t], masks_.negation_after); ++t) {
    if (!listed(tokens[t], scope) || t - match.end >= kScopeWindow) return false;
  }
  if (!in_clause(t)) return false;
  for (++t; in_clause(t); ++t) {
    if (tokens[t].kind != TokenKind::kPunct && !listed(tokens[t], scope)) return false;
  }
  return true;
}

// An insult or anger cue right after a negation, or after a negation and articles only
// ("I'm not angry", "not an idiot", "Sie sind kein Idiot"), insults nobody and, for an anger
// cue, shows no anger. Any other word between leaves it standing: the negation is that
// word's ("it does not work you idiots", "not only an idiot", "nicht guter Arsch", "never
// been so angry"). So do expletives and boosters ("I don't give a f...") and questions
// ("isn't that stupid?", which asserts it).
bool SignalExtractor::rudeness_negated(const Scratch& scratch, std::size_t index) const {
  const PhraseMatch& match = scratch.matches[index];
  if ((match.categories & (masks_.expletive | masks_.booster)) != 0) return false;
  const auto& tokens = scratch.text.tokens;
  const std::uint16_t clause = tokens[match.begin].clause;
  const auto article = [&](const Token& token) { return listed(token, masks_.article); };
  // The first word before the cue that is no article must end a negation of its clause.
  std::uint32_t end = match.begin;
  while (end > 0 && tokens[end - 1].clause == clause && article(tokens[end - 1])) --end;
  bool negated = false;
  for (std::size_t j = index; j-- > 0;) {
    const PhraseMatch& before = scratch.matches[j];
    if (tokens[before.begin].clause != clause) break;
    // "not", "kein", and "no" before a noun ("you are no idiot").
    if (before.end == end && (before.categories & (masks_.negation | masks_.negation_next)) != 0)
      negated = true;
  }
  if (!negated) return false;
  const std::uint16_t sentence = tokens[match.begin].sentence;
  for (std::size_t t = match.end; t < tokens.size() && tokens[t].sentence == sentence; ++t) {
    if (tokens[t].kind == TokenKind::kPunct && tokens[t].punct == '?') return false;
  }
  return true;
}

void SignalExtractor::add_evidence(const Scratch& scratch, const PhraseMatch& match,
                                   SignalFamily family, std::uint64_t category,
                                   Signals& out) const {
  const auto& tokens = scratch.text.tokens;
  const std::size_t begin = tokens[match.begin].begin;
  const std::size_t end = tokens[match.end - 1].end;
  const int id = std::countr_zero(category);
  out.evidence.push_back(
      {family, lexicon_.category_name(id), scratch.text.folded.substr(begin, end - begin)});
}

// Sentences about a complaint or feedback mention staff without asking for them.
std::uint64_t SignalExtractor::blocked_sentences(const Scratch& scratch) const {
  std::uint64_t blocked = 0;
  for (const PhraseMatch& m : scratch.matches) {
    if ((m.categories & masks_.request_blocker) != 0) {
      blocked |= std::uint64_t{1} << (scratch.text.tokens[m.begin].sentence & 63U);
    }
  }
  return blocked;
}

SignalExtractor::TurnCues SignalExtractor::collect_cues(const Scratch& scratch,
                                                        Signals& out) const {
  TurnCues cues;
  const auto& tokens = scratch.text.tokens;
  while (cues.first_content < tokens.size() &&
         (tokens[cues.first_content].kind == TokenKind::kPunct ||
          tokens[cues.first_content].kind == TokenKind::kReference)) {
    ++cues.first_content;
  }
  const std::uint64_t blocked = blocked_sentences(scratch);
  for (std::size_t i = 0; i < scratch.matches.size(); ++i)
    note_match(scratch, i, blocked, cues, out);
  return cues;
}

void SignalExtractor::note_match(const Scratch& scratch, std::size_t index, std::uint64_t blocked,
                                 TurnCues& cues, Signals& out) const {
  const std::uint64_t risk = masks_.legal | masks_.public_complaint | masks_.churn;
  const std::uint64_t intent = masks_.purchase | masks_.upgrade | masks_.cancel;
  const std::uint64_t plain = masks_.topics | masks_.vague | masks_.progress |
                              masks_.no_progress | masks_.hedge | masks_.handover_offer;
  const PhraseMatch& m = scratch.matches[index];
  const unsigned sentence = scratch.text.tokens[m.begin].sentence;
  const std::uint64_t sentence_bit = std::uint64_t{1} << (sentence & 63U);
  // "I work as an adviser and need an invoice": the person and the verb are in different parts.
  if (sentence != cues.sentence || (m.categories & masks_.conjunction) != 0) ++cues.segment;
  cues.sentence = sentence;
  const std::uint64_t segment_bit = std::uint64_t{1} << (cues.segment & 63U);
  cues.hit |= m.categories & plain;
  std::uint64_t rude = m.categories & (masks_.insult | masks_.anger);
  // A negated insult insults nobody, but is rarely said calmly ("I'm not an idiot!", "sei
  // kein Idiot"): it counts as a word of anger. A negated word of anger counts as nothing.
  if (rude != 0 && rudeness_negated(scratch, index))
    rude = (rude & masks_.insult) != 0 ? masks_.anger : 0;
  cues.hit |= rude;
  if ((rude & masks_.insult) != 0)
    add_evidence(scratch, m, SignalFamily::kAnger, masks_.insult, out);
  if ((rude & masks_.anger) != 0)
    add_evidence(scratch, m, SignalFamily::kAnger, masks_.anger, out);
  if ((m.categories & (risk | intent)) != 0 && !negated(scratch, index, masks_.negation, false)) {
    cues.hit |= m.categories & (risk | intent);
    if ((m.categories & risk) != 0)
      add_evidence(scratch, m, SignalFamily::kRisk, m.categories & risk, out);
    if ((m.categories & intent) != 0)
      add_evidence(scratch, m, SignalFamily::kValue, m.categories & intent, out);
  }
  const bool requestish = (m.categories & (masks_.human | masks_.request_phrase)) != 0;
  const bool refused_machine = (m.categories & masks_.machine) != 0 &&
                               (blocked & sentence_bit) == 0 && machine_refused(scratch, index);
  // A refused bot stands for the person wanted instead: it still needs a request verb in its
  // part of the sentence ("I don't want to talk to a bot"), or a turn of at most 3 words.
  if (refused_machine) {
    cues.human_segments |= segment_bit;
    if (cues.request_match < 0) cues.request_match = static_cast<int>(index);
  }
  if (requestish && (blocked & sentence_bit) == 0 && !request_negated(scratch, index)) {
    if ((m.categories & masks_.human) != 0) cues.human_segments |= segment_bit;
    if ((m.categories & masks_.request_phrase) != 0) cues.hit |= masks_.request_phrase;
    if (cues.request_match < 0) cues.request_match = static_cast<int>(index);
  }
  if ((m.categories & masks_.request_verb) != 0) cues.verb_segments |= segment_bit;
  cues.answer_defer |= (m.categories & masks_.defer) != 0;
  if (m.begin == cues.first_content) {
    cues.answer_affirm |= (m.categories & masks_.affirm) != 0;
    cues.answer_decline |= (m.categories & masks_.decline) != 0;
  }
}

void SignalExtractor::user_sentiment(ConversationState& state, Scratch& scratch,
                                     std::size_t language, bool mixed, Signals& out) const {
  if (scratch.text.tokens.empty()) return;
  scratch.strongest.clear();
  const double score = sentiment_.score(scratch.text, language, mixed, &scratch.strongest);
  for (const SentimentWord& word : scratch.strongest) {
    const auto& tokens = scratch.text.tokens;
    const std::size_t begin = tokens[word.begin].begin;
    out.evidence.push_back({SignalFamily::kSentiment, word.valence < 0 ? "negative" : "positive",
                            scratch.text.folded.substr(begin, tokens[word.end - 1].end - begin)});
  }
  out.sentiment.scored = true;
  out.sentiment.score = score;
  state.sentiment[state.sentiment_count % ConversationState::kSentimentWindow] =
      static_cast<float>(score);
  if (state.sentiment_count < ConversationState::kStartTurns)
    state.start_sum += static_cast<float>(score);
  ++state.sentiment_count;
}

// "du bist so langsam", "you are pathetic": a strongly negative word right after addressing
// the bot or the agent insults them, even when the word is no insult on its own.
bool SignalExtractor::addressed_insult(const Scratch& scratch, std::size_t language,
                                       Signals& out) const {
  const auto& tokens = scratch.text.tokens;
  for (const PhraseMatch& m : scratch.matches) {
    if ((m.categories & masks_.address) == 0) continue;
    std::size_t seen = 0;
    for (std::size_t j = m.end; j < tokens.size() && seen < kAddressWindow; ++j) {
      if (tokens[j].clause != tokens[m.begin].clause) break;
      if (tokens[j].kind == TokenKind::kPunct) continue;
      ++seen;
      const WordInfo& word = lexicon_.resolve(tokens[j].word, language);
      const std::uint64_t negators = masks_.negation | masks_.negation_after | masks_.negation_next;
      if ((word.categories & negators) != 0) break;
      if (!word.has_valence || word.valence > kInsultValence) continue;
      const PhraseMatch span{m.begin, static_cast<std::uint32_t>(j + 1), 0, m.language,
                             masks_.address};
      add_evidence(scratch, span, SignalFamily::kAnger, masks_.address, out);
      return true;
    }
  }
  return false;
}

void SignalExtractor::user_anger(ConversationState& state, const Scratch& scratch,
                                 std::size_t language, const TurnCues& cues, Signals& out) const {
  const NormalizedText& text = scratch.text;
  out.anger.insult = (cues.hit & masks_.insult) != 0 || addressed_insult(scratch, language, out);
  out.anger.cue = (cues.hit & masks_.anger) != 0;
  out.anger.shouting = text.words >= 3 && text.caps_words * 2 >= text.words;
  if (out.anger.insult) state.insults = saturating_add(state.insults, 1);
  out.risk.legal = (cues.hit & masks_.legal) != 0;
  out.risk.public_complaint = (cues.hit & masks_.public_complaint) != 0;
  out.risk.churn = (cues.hit & masks_.churn) != 0;
  const unsigned risks = (out.risk.legal ? 1U : 0U) + (out.risk.public_complaint ? 1U : 0U) +
                         (out.risk.churn ? 1U : 0U);
  state.risk_cues = saturating_add(state.risk_cues, risks);
  out.anger.score =
      clamp01((out.anger.insult ? 0.6 : 0.0) + (out.anger.cue ? 0.45 : 0.0) +
              (out.anger.shouting ? 0.15 : 0.0) + 0.1 * std::min(text.exclamations, 3) / 3.0 +
              0.3 * std::max(0.0, -out.sentiment.score));
}

void SignalExtractor::user_request(ConversationState& state, const Scratch& scratch,
                                   const TurnCues& cues, Signals& out) const {
  const int words = scratch.text.words;
  const bool pair = (cues.human_segments & cues.verb_segments) != 0;
  const bool bare_noun = cues.human_segments != 0 && words <= 3;
  bool request = (cues.hit & masks_.request_phrase) != 0 || pair || bare_noun;
  // An ask for a person in the answer itself wins over its opening "no" ("No, I want a real
  // person"): the user refuses the question, not the person. A deferral ("yes, but not now",
  // "ja, aber erst morgen") accepts nothing now, so it declines the offer.
  const bool refused = (cues.answer_decline || cues.answer_defer) && !request;
  if (state.offer_pending && words <= settings_.answer_words) {
    if (refused) {
      out.request.declined = true;
    } else if (cues.answer_affirm) {
      request = true;
      out.request.accepted = true;
      out.evidence.push_back({SignalFamily::kRequest, "affirm", std::string(scratch.text.folded)});
    }
  }
  state.offer_pending = false;
  out.request.human = request;
  if (request && cues.request_match >= 0) {
    const PhraseMatch& m = scratch.matches[static_cast<std::size_t>(cues.request_match)];
    add_evidence(scratch, m, SignalFamily::kRequest,
                 m.categories & (masks_.human | masks_.request_phrase | masks_.machine), out);
  }
  if (request) state.requests = saturating_add(state.requests, 1);
}

void SignalExtractor::user_complexity(ConversationState& state, const Scratch& scratch,
                                      const TurnCues& cues, Signals& out) const {
  state.topic_mask |= cues.hit & masks_.topics;
  out.complexity.questions = scratch.text.questions;
  out.complexity.words = scratch.text.words;

  // Replies of one or two words ("yes", "ok thanks") repeat by nature; they are not the bot loop.
  const TokenSet set = token_set(scratch.text);
  const bool comparable = std::popcount(set[0]) + std::popcount(set[1]) >= kMinRepeatTokens;
  const auto recent =
      std::min<std::uint32_t>(state.recent_count, ConversationState::kRecentMessages);
  for (std::uint32_t i = 0; comparable && i < recent; ++i) {
    if (jaccard(set, state.recent_messages[i]) >= settings_.near_duplicate)
      ++out.complexity.repeats;
  }
  out.complexity.repeated = out.complexity.repeats > 0;
  if (comparable) {
    state.recent_messages[state.recent_count % ConversationState::kRecentMessages] = set;
    ++state.recent_count;
  }

  const bool bot_struggled =
      state.last_fallback || state.last_hedge || state.last_confidence < settings_.low_confidence;
  if ((cues.hit & masks_.progress) != 0) {
    state.no_progress = 0;
  } else if (out.complexity.repeated || bot_struggled || (cues.hit & masks_.no_progress) != 0) {
    state.no_progress = saturating_add(state.no_progress, 1);
  } else if (state.turns_bot > 0) {
    state.no_progress = 0;
  }
}

void SignalExtractor::user_value(const TurnCues& cues, Signals& out) const {
  out.value.purchase = (cues.hit & masks_.purchase) != 0;
  out.value.upgrade = (cues.hit & masks_.upgrade) != 0;
  out.value.cancel = (cues.hit & masks_.cancel) != 0;
}

void SignalExtractor::note_order_value(ConversationState& state, const TurnInput& turn) const {
  if (turn.metadata == nullptr) return;
  for (const auto& path : settings_.order_value_paths) {
    const double value = metadata_number(*turn.metadata, path);
    // The state keeps a float; larger values are capped so they stay finite (a float
    // holds up to about 3.4e38, far beyond any real order).
    constexpr double kMaxOrderValue = 1e15;
    if (std::isfinite(value)) {
      const float capped = static_cast<float>(std::clamp(value, 0.0, kMaxOrderValue));
      state.max_order_value = std::max(state.max_order_value, capped);
    }
  }
}

void SignalExtractor::user_ambiguity(const Scratch& scratch, const TurnCues& cues,
                                     Signals& out) const {
  const NormalizedText& text = scratch.text;
  int unknown = 0;
  for (const Token& token : text.tokens) {
    if (token.kind == TokenKind::kWord && !lexicon_.known_anywhere(token.word)) ++unknown;
  }
  out.ambiguity.unknown_share = text.words == 0 ? 0.0 : static_cast<double>(unknown) / text.words;
  const bool answered = out.request.human || out.request.declined || cues.answer_affirm;
  out.ambiguity.short_text = text.words <= settings_.short_words && !answered &&
                             (cues.hit & (masks_.insult | masks_.topics)) == 0;
  out.ambiguity.vague = (cues.hit & masks_.vague) != 0 && text.words <= kVagueMaxWords;
  double score = out.ambiguity.short_text ? 0.5 : 0.0;
  if (out.ambiguity.vague) score = std::max(score, 0.6);
  if (out.ambiguity.unknown_share >= 0.5) score = std::max(score, out.ambiguity.unknown_share);
  if (!out.language_supported) score = 1.0;
  out.ambiguity.score = score;
}

void SignalExtractor::bot_turn(ConversationState& state, const TurnInput& turn,
                               const TurnCues& cues, Signals& out) const {
  const double confidence = turn.bot_confidence.value_or(1.0);
  state.last_confidence = static_cast<float>(std::clamp(confidence, 0.0, 1.0));
  state.last_fallback = turn.bot_fallback;
  state.last_hedge = (cues.hit & masks_.hedge) != 0;
  const bool low = turn.bot_fallback || state.last_hedge || confidence < settings_.low_confidence;
  state.low_streak = low ? saturating_add(state.low_streak, 1) : std::uint16_t{0};
  if (turn.bot_fallback) state.fallbacks = saturating_add(state.fallbacks, 1);
  out.uncertainty.bot_handover = turn.bot_handover_reason.has_value();
  if (out.uncertainty.bot_handover || (cues.hit & masks_.handover_offer) != 0)
    state.offer_pending = true;
  if (state.last_hedge)
    out.evidence.push_back(
        {SignalFamily::kUncertainty, "hedge", std::string(turn.text.substr(0, 120))});

  if (turn.bot_intent.empty()) return;
  const std::uint32_t h = hash32(turn.bot_intent);
  const auto known = std::min<std::uint32_t>(state.intent_count, ConversationState::kRecentIntents);
  if (std::find(state.intents.begin(), state.intents.begin() + known, h) !=
      state.intents.begin() + known)
    return;
  state.intents[state.intent_count % ConversationState::kRecentIntents] = h;
  ++state.intent_count;
}

void SignalExtractor::fill_from_state(const ConversationInfo& info, const ConversationState& state,
                                      Signals& out) const {
  out.turns_user = static_cast<int>(state.turns_user);
  out.turns_bot = static_cast<int>(state.turns_bot);
  out.turns_total = static_cast<int>(state.turns_total);
  out.anger.count = state.insults;
  out.risk.count = state.risk_cues;
  out.request.count = state.requests;
  out.request.offer_pending = state.offer_pending;
  fill_sentiment(state, out);
  fill_uncertainty(state, out);
  fill_complexity(state, out);

  out.value.lifetime = info.lifetime_value.value_or(0.0);
  out.value.order = decimal_of(state.max_order_value, 100);
  const bool intent = out.value.purchase || out.value.upgrade || out.value.cancel;
  out.value.score =
      clamp01(0.5 * clamp01(out.value.lifetime / settings_.lifetime_value_scale) +
              0.3 * clamp01(out.value.order / settings_.order_value_scale) + (intent ? 0.2 : 0.0));
}

void SignalExtractor::fill_sentiment(const ConversationState& state, Signals& out) const {
  const auto window =
      std::min<std::uint32_t>(state.sentiment_count, ConversationState::kSentimentWindow);
  if (window > 0) {
    double sum = 0.0;
    double lowest = 1.0;
    for (std::uint32_t i = 0; i < window; ++i) {
      sum += state.sentiment[i];
      lowest = std::min<double>(lowest, state.sentiment[i]);
    }
    out.sentiment.mean = sum / window;
    out.sentiment.min = lowest;
    out.sentiment.start = state.start_sum / std::min<std::uint32_t>(state.sentiment_count,
                                                                    ConversationState::kStartTurns);
    out.sentiment.drop = out.sentiment.start - out.sentiment.mean;
  }
}

void SignalExtractor::fill_uncertainty(const ConversationState& state, Signals& out) const {
  out.uncertainty.confidence = decimal_of(state.last_confidence, 1e6);
  out.uncertainty.fallback = state.last_fallback;
  out.uncertainty.hedge = state.last_hedge;
  out.uncertainty.low_streak = state.low_streak;
  out.uncertainty.fallbacks = state.fallbacks;
  out.uncertainty.score =
      clamp01(std::max({1.0 - out.uncertainty.confidence, state.last_fallback ? 1.0 : 0.0,
                        state.last_hedge ? kHedgeUncertainty : 0.0}));
}

void SignalExtractor::fill_complexity(const ConversationState& state, Signals& out) const {
  const int intents = static_cast<int>(
      std::min<std::uint32_t>(state.intent_count, ConversationState::kRecentIntents));
  out.complexity.topics = std::max(std::popcount(state.topic_mask), intents);
  out.complexity.no_progress = state.no_progress;
  out.complexity.score = clamp01(0.25 * clamp01((out.complexity.topics - 1) / 2.0) +
                                 0.2 * clamp01((out.complexity.questions - 1) / 2.0) +
                                 0.15 * clamp01(out.complexity.words / 60.0) +
                                 0.25 * clamp01(out.complexity.no_progress / 3.0) +
                                 0.15 * clamp01(out.complexity.repeats / 2.0));
}

}  // namespace handover::triggers
